/*
 * Renegotiation (TLS 1.2) and its limit, as Node limits it:
 * CLIENT_RENEG_LIMIT renegotiations started by the client in a window of
 * CLIENT_RENEG_WINDOW seconds (3 in 600 s by default).  Time comes from a
 * test-controlled clock, or from sp_pair_set_time() when there is none.
 */

#include "pump.h"


#define SP_AD_HANDSHAKE_FAILURE  40


typedef struct {
    sp_ctx    *sctx;
    sp_ctx    *cctx;
    sp_pair   *server;
    sp_pair   *client;
} conn_t;


static time_t  now;


static time_t
fake_clock(void *arg)
{
    return *(time_t *) arg;
}


/*
 * A server context (default versions, so TLS 1.3 is possible) and a client
 * context held to `version`.  With `clock` the server reads fake_clock.
 */
static int
conn_ctx(conn_t *c, int version, int clock)
{
    sp_creds  *creds;

    memset(c, 0, sizeof(conn_t));

    c->sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    if (c->sctx == NULL) {
        return 0;
    }

    if (clock) {
        sp_ctx_set_clock(c->sctx, fake_clock, &now);
    }

    creds = creds_for(NULL, "ca.crt");
    if (creds == NULL) {
        return 0;
    }

    sp_creds_set_versions(creds, version, version);
    c->cctx = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    return c->cctx != NULL;
}


/* New pairs on the connection's contexts, handshaken, events drained. */
static int
conn_open(conn_t *c)
{
    c->server = sp_pair_new(c->sctx, NULL, NULL);
    c->client = sp_pair_new(c->cctx, "localhost", NULL);

    if (c->server == NULL || c->client == NULL
        || !handshake(c->client, c->server))
    {
        return 0;
    }

    sp_pair_events(c->client);
    sp_pair_events(c->server);
    return 1;
}


static void
conn_close(conn_t *c)
{
    sp_pair_free(c->client);
    sp_pair_free(c->server);
    c->client = NULL;
    c->server = NULL;
}


static void
conn_free(conn_t *c)
{
    conn_close(c);
    sp_ctx_unref(c->cctx);
    sp_ctx_unref(c->sctx);
}


/* Client says msg, server answers it back: 1 when both arrive intact. */
static int
echo(conn_t *c, const char *msg)
{
    char    buf[256];
    size_t  len = strlen(msg), n;

    if (sp_clear_write(c->client, msg, len) != (ssize_t) len) {
        return 0;
    }

    pump(c->client, c->server);
    n = read_all(c->server, buf, sizeof(buf));

    if (n != len || memcmp(buf, msg, len) != 0
        || sp_clear_write(c->server, buf, n) != (ssize_t) n)
    {
        return 0;
    }

    pump(c->client, c->server);
    n = read_all(c->client, buf, sizeof(buf));

    return n == len && memcmp(buf, msg, len) == 0;
}


/*
 * One renegotiation started by `by` (the client or the server pair),
 * pumped until quiet.  Returns the sp_pair_renegotiate() result; the
 * events of both pairs land in cev and sev.
 */
static int
reneg(conn_t *c, sp_pair *by, unsigned *cev, unsigned *sev)
{
    int  rc;

    rc = sp_pair_renegotiate(by);
    pump(c->client, c->server);

    *cev = sp_pair_events(c->client);
    *sev = sp_pair_events(c->server);
    return rc;
}


/* A renegotiation that must succeed: both sides see it, data flows. */
static void
reneg_ok(conn_t *c, sp_pair *by, const char *name)
{
    unsigned  cev, sev;
    int       rc;

    rc = reneg(c, by, &cev, &sev);

    is_int(rc, SP_OK, tn("%s: sp_pair_renegotiate", name));
    ok((cev & SP_EVENT_RENEGOTIATED) && (sev & SP_EVENT_RENEGOTIATED),
       "%s: renegotiated on both sides", name);
    ok(!((cev | sev) & SP_EVENT_ERROR), "%s: no error event", name);
    is_int(sp_pair_error(c->server), 0, tn("%s: server fine", name));
    is_int(sp_pair_error(c->client), 0, tn("%s: client fine", name));
    ok(echo(c, name), "%s: data flows afterwards", name);
}


/*
 * A client renegotiation the limit refuses: the server pair ends with
 * SP_ERR_RENEG_LIMIT and a fatal handshake_failure alert, which ends the
 * client pair too.
 */
static void
reneg_refused(conn_t *c, const char *name)
{
    unsigned     cev, sev;
    int          rc;
    char         sink[1024];
    const char  *cipher;

    cipher = sp_pair_cipher(c->server);
    rc = reneg(c, c->client, &cev, &sev);

    is_int(rc, SP_OK, tn("%s: client starts it", name));
    is_int(sp_pair_error(c->server), SP_ERR_RENEG_LIMIT,
           tn("%s: server fails with SP_ERR_RENEG_LIMIT", name));
    ok(strstr(sp_pair_error_message(c->server),
              "renegotiation limit exceeded") != NULL,
       "%s: message \"%s\"", name, sp_pair_error_message(c->server));
    ok(sev & SP_EVENT_ERROR, "%s: server error event", name);
    ok(!(sev & SP_EVENT_RENEGOTIATED), "%s: server not renegotiated", name);
    is_int(sp_pair_alert_sent(c->server), SP_AD_HANDSHAKE_FAILURE,
           tn("%s: server sent fatal handshake_failure", name));

    is_int(sp_pair_error(c->client), SP_ERR_PEER_ALERT,
           tn("%s: client fails on the alert", name));
    is_int(sp_pair_alert_received(c->client), SP_AD_HANDSHAKE_FAILURE,
           tn("%s: client received handshake_failure", name));
    ok((cev & SP_EVENT_ERROR) && !(cev & SP_EVENT_RENEGOTIATED),
       "%s: client error event, not renegotiated", name);

    is_int(sp_clear_write(c->server, "x", 1), SP_ERR_RENEG_LIMIT,
           tn("%s: the server error is sticky", name));
    is_int(sp_pair_renegotiate(c->server), SP_ERR_RENEG_LIMIT,
           tn("%s: renegotiate on the failed pair: the same error", name));

    while (sp_enc_out(c->server, sink, sizeof(sink))) { /* the host sends */ }
    while (sp_enc_out(c->client, sink, sizeof(sink))) { /* the host sends */ }

    is_int(sp_pair_state(c->server), SP_STATE_CLOSED,
           tn("%s: server closed once drained", name));
    ok(cipher != NULL && sp_pair_cipher(c->server) != NULL
       && strcmp(sp_pair_cipher(c->server), cipher) == 0,
       "%s: the server still names the cipher in use (%s, was %s)", name,
       sp_pair_cipher(c->server) ? sp_pair_cipher(c->server) : "NULL",
       cipher ? cipher : "NULL");
    is_int(sp_pair_state(c->client), SP_STATE_CLOSED,
           tn("%s: client closed once drained", name));
}


/* Three client renegotiations at t = 0, 1, 2; the fourth at 3 fails. */
static void
test_default_limit(void)
{
    conn_t    c;
    unsigned  i;

    ok(conn_ctx(&c, SP_TLS1_2, 1) && conn_open(&c), "default: handshake");
    is_str(sp_pair_protocol(c.server), "TLSv1.2", "default: TLSv1.2");
    is_int(sp_pair_renegotiations(c.server), 0,
           "default: no renegotiation yet");

    for (i = 0; i < 3; i++) {
        now = (time_t) i;
        reneg_ok(&c, c.client, tn("default: renegotiation #%u at t=%u",
                                  i + 1, i));
        is_int(sp_pair_renegotiations(c.server), i + 1,
               tn("default: server counted %u", i + 1));
    }

    now = 3;
    reneg_refused(&c, "default: #4 at t=3");
    diag("default: after the refusal the server counts %u",
         sp_pair_renegotiations(c.server));

    conn_free(&c);
    ok(error_queue_empty(), "default: error queue empty");
}


/* The window restarts at the first renegotiation after it ended. */
static void
test_window_restart(void)
{
    conn_t    c;
    unsigned  i;

    ok(conn_ctx(&c, SP_TLS1_2, 1) && conn_open(&c), "window: handshake");

    for (i = 0; i < 3; i++) {
        now = (time_t) i;
        reneg_ok(&c, c.client, tn("window: #%u at t=%u", i + 1, i));
    }

    for (i = 0; i < 3; i++) {
        now = 601 + (time_t) i;
        reneg_ok(&c, c.client, tn("window: #%u at t=%u", i + 4, 601 + i));
    }

    is_int(sp_pair_renegotiations(c.server), 6, "window: server counted 6");

    now = 604;
    reneg_refused(&c, "window: #7 at t=604");

    conn_free(&c);
    ok(error_queue_empty(), "window: error queue empty");
}


/* sp_ctx_set_reneg_limit(1, 10): one per ten seconds. */
static void
test_custom_limit(void)
{
    conn_t  c;

    ok(conn_ctx(&c, SP_TLS1_2, 1), "limit 1/10: contexts");
    is_int(sp_ctx_set_reneg_limit(c.sctx, 1, 10), SP_OK,
           "limit 1/10: set");
    is_int(sp_ctx_set_reneg_limit(c.sctx, 1, 0), SP_ERR_INVALID,
           "limit: window 0 is invalid");
    ok(strstr(sp_ctx_error(c.sctx), "window") != NULL,
       "limit: message \"%s\"", sp_ctx_error(c.sctx));

    /* the second within the window: 9 s after the first */
    ok(conn_open(&c), "limit 1/10: handshake");
    now = 100;
    reneg_ok(&c, c.client, "limit 1/10: first at t=100");
    now = 109;
    reneg_refused(&c, "limit 1/10: second at t=109");
    conn_close(&c);

    /* the second once the window has passed, the third within the new */
    ok(conn_open(&c), "limit 1/10: second handshake");
    now = 200;
    reneg_ok(&c, c.client, "limit 1/10: first at t=200");
    now = 210;
    reneg_ok(&c, c.client, "limit 1/10: next at t=210, window passed");
    now = 215;
    reneg_refused(&c, "limit 1/10: another at t=215");

    conn_free(&c);
    ok(error_queue_empty(), "limit 1/10: error queue empty");
}


/*
 * Limit 0.  The pair does not set SSL_OP_ALLOW_CLIENT_RENEGOTIATION, so
 * OpenSSL 3.0 drops the client's hello in its record layer with a
 * no_renegotiation warning alert and never starts a handshake.  The client,
 * which asked for it, takes that warning as fatal (OpenSSL ends it with
 * handshake_failure) and that alert ends the server pair as a peer alert.
 * The renegotiation is refused either way; it is just not our limit that
 * refuses it.
 */
static void
test_limit_zero(void)
{
    conn_t    c;
    unsigned  cev, sev;
    int       rc;

    ok(conn_ctx(&c, SP_TLS1_2, 1), "limit 0: contexts");
    is_int(sp_ctx_set_reneg_limit(c.sctx, 0, 600), SP_OK, "limit 0: set");
    ok(conn_open(&c), "limit 0: handshake");
    ok(echo(&c, "before"), "limit 0: data flows");

    rc = reneg(&c, c.client, &cev, &sev);

    is_int(rc, SP_OK, "limit 0: client starts a renegotiation");
    ok(!(sev & SP_EVENT_RENEGOTIATED), "limit 0: server never renegotiated");
    ok(!(cev & SP_EVENT_RENEGOTIATED), "limit 0: client never renegotiated");
    ok(sp_pair_error(c.server) != SP_ERR_RENEG_LIMIT,
       "limit 0: refused by OpenSSL, not SP_ERR_RENEG_LIMIT");

    diag("limit 0: server error %d \"%s\", alert sent %d received %d, "
         "events 0x%x, renegotiations %u",
         sp_pair_error(c.server), sp_pair_error_message(c.server),
         sp_pair_alert_sent(c.server), sp_pair_alert_received(c.server),
         sev, sp_pair_renegotiations(c.server));
    diag("limit 0: client error %d \"%s\", alert sent %d received %d, "
         "events 0x%x, renegotiations %u",
         sp_pair_error(c.client), sp_pair_error_message(c.client),
         sp_pair_alert_sent(c.client), sp_pair_alert_received(c.client),
         cev, sp_pair_renegotiations(c.client));

    /* what OpenSSL 3.0 does, as described above */
    is_int(sp_pair_error(c.client), SP_ERR_HANDSHAKE,
           "limit 0: client fails: the server said no_renegotiation");
    is_int(sp_pair_alert_sent(c.client), SP_AD_HANDSHAKE_FAILURE,
           "limit 0: client sent fatal handshake_failure");
    ok(cev & SP_EVENT_ERROR, "limit 0: client error event");
    is_int(sp_pair_error(c.server), SP_ERR_PEER_ALERT,
           "limit 0: server ends on the client's alert");
    is_int(sp_pair_alert_received(c.server), SP_AD_HANDSHAKE_FAILURE,
           "limit 0: server received handshake_failure");
    is_int(sp_pair_alert_sent(c.server), -1,
           "limit 0: server sent no fatal alert (only the warning)");
    ok(sev & SP_EVENT_ERROR, "limit 0: server error event");

    conn_close(&c);

    /*
     * The limit is about the client's renegotiations: the server may still
     * ask for one itself (OpenSSL allows a hello it requested even without
     * SSL_OP_ALLOW_CLIENT_RENEGOTIATION).
     */
    ok(conn_open(&c), "limit 0: new pair");
    reneg_ok(&c, c.server, "limit 0: server-initiated");

    conn_free(&c);
    ok(error_queue_empty(), "limit 0: error queue empty");
}


/* No clock: the pair's time is what sp_pair_set_time() said. */
static void
test_set_time(void)
{
    conn_t    c;
    unsigned  i;

    ok(conn_ctx(&c, SP_TLS1_2, 0) && conn_open(&c), "set_time: handshake");

    now = 100000;    /* the fake clock is not installed: ignored */

    for (i = 0; i < 3; i++) {
        sp_pair_set_time(c.server, 5000 + (time_t) i);
        reneg_ok(&c, c.client, tn("set_time: #%u at t=%u", i + 1, 5000 + i));
    }

    sp_pair_set_time(c.server, 5000 + 600);
    reneg_ok(&c, c.client, "set_time: #4 at t=5600, window passed");

    for (i = 0; i < 2; i++) {
        sp_pair_set_time(c.server, 5601 + (time_t) i);
        reneg_ok(&c, c.client, tn("set_time: #%u at t=%u", i + 5, 5601 + i));
    }

    sp_pair_set_time(c.server, 5603);
    reneg_refused(&c, "set_time: #7 at t=5603");
    conn_close(&c);

    /* the time of a new pair starts at 0: three, then a refusal */
    ok(conn_open(&c), "set_time: new pair");

    for (i = 0; i < 3; i++) {
        reneg_ok(&c, c.client, tn("set_time: new pair #%u at t=0", i + 1));
    }

    reneg_refused(&c, "set_time: new pair #4 at t=0");

    conn_free(&c);
    ok(error_queue_empty(), "set_time: error queue empty");
}


/* The server asking (HelloRequest) is not the client's doing. */
static void
test_server_initiated(void)
{
    conn_t    c;
    unsigned  i;

    ok(conn_ctx(&c, SP_TLS1_2, 1) && conn_open(&c), "server: handshake");
    now = 0;

    for (i = 0; i < 5; i++) {
        reneg_ok(&c, c.server, tn("server: renegotiation #%u at t=0", i + 1));
    }

    diag("server: after 5 server renegotiations the server counts %u, "
         "the client %u", sp_pair_renegotiations(c.server),
         sp_pair_renegotiations(c.client));

    /* the client's own allowance is untouched */
    for (i = 0; i < 3; i++) {
        reneg_ok(&c, c.client, tn("server: then client #%u at t=0", i + 1));
    }

    reneg_refused(&c, "server: client #4 at t=0");

    conn_free(&c);
    ok(error_queue_empty(), "server: error queue empty");
}


/* SP_EVENT_RENEGOTIATED means completed, not merely asked for. */
static void
test_event_timing(void)
{
    conn_t    c;
    unsigned  ev;

    ok(conn_ctx(&c, SP_TLS1_2, 1) && conn_open(&c), "timing: handshake");

    is_int(sp_pair_renegotiate(c.server), SP_OK, "timing: server asks");
    ev = sp_pair_events(c.server);
    ok(!(ev & SP_EVENT_RENEGOTIATED),
       "timing: no renegotiated event on the server before the client "
       "answered (events 0x%x)", ev);
    pump(c.client, c.server);
    ok(sp_pair_events(c.server) & SP_EVENT_RENEGOTIATED,
       "timing: server event once done");
    ok(sp_pair_events(c.client) & SP_EVENT_RENEGOTIATED,
       "timing: client event once done");
    is_int(sp_pair_renegotiations(c.server), 1,
           "timing: one server renegotiation counted once");
    is_int(sp_pair_renegotiations(c.client), 1,
           "timing: the client counted it once");

    is_int(sp_pair_renegotiate(c.client), SP_OK, "timing: client asks");
    ok(!(sp_pair_events(c.client) & SP_EVENT_RENEGOTIATED),
       "timing: no client event before the server answered");
    pump(c.client, c.server);
    ok(sp_pair_events(c.client) & SP_EVENT_RENEGOTIATED,
       "timing: client event once done");
    ok(sp_pair_events(c.server) & SP_EVENT_RENEGOTIATED,
       "timing: server event once done");
    is_int(sp_pair_renegotiations(c.client), 2, "timing: client counts 2");
    is_int(sp_pair_renegotiations(c.server), 2, "timing: server counts 2");

    conn_free(&c);
    ok(error_queue_empty(), "timing: error queue empty");
}


/* Misuse: TLS 1.3 has no renegotiation; nothing before the handshake. */
static void
test_invalid(void)
{
    conn_t  c;

    ok(conn_ctx(&c, SP_TLS1_3, 1), "invalid: contexts");

    c.server = sp_pair_new(c.sctx, NULL, NULL);
    c.client = sp_pair_new(c.cctx, "localhost", NULL);
    is_int(sp_pair_renegotiate(c.client), SP_ERR_INVALID,
           "invalid: client before the handshake");
    is_int(sp_pair_renegotiate(c.server), SP_ERR_INVALID,
           "invalid: server before the handshake");
    ok(handshake(c.client, c.server), "invalid: handshake still completes");
    sp_pair_events(c.client);
    sp_pair_events(c.server);

    is_str(sp_pair_protocol(c.client), "TLSv1.3", "invalid: TLSv1.3");
    is_int(sp_pair_renegotiate(c.client), SP_ERR_INVALID,
           "invalid: TLS 1.3 client");
    is_int(sp_pair_renegotiate(c.server), SP_ERR_INVALID,
           "invalid: TLS 1.3 server");
    is_int(sp_pair_error(c.client), 0, "invalid: not sticky (client)");
    is_int(sp_pair_error(c.server), 0, "invalid: not sticky (server)");
    is_int(sp_enc_out_pending(c.client) + sp_enc_out_pending(c.server), 0,
           "invalid: nothing was sent");
    ok(echo(&c, "still here"), "invalid: data flows");
    is_int(sp_pair_renegotiations(c.server), 0,
           "invalid: no renegotiation counted");
    ok(!((sp_pair_events(c.client) | sp_pair_events(c.server))
         & SP_EVENT_RENEGOTIATED),
       "invalid: no renegotiated event (TLS 1.3 key updates and tickets "
       "are not renegotiations)");

    /* after shutdown */
    is_int(sp_pair_shutdown(c.client), SP_OK, "invalid: client shuts down");
    is_int(sp_pair_renegotiate(c.client), SP_ERR_INVALID,
           "invalid: after shutdown");
    conn_free(&c);

    /* TLS 1.2 after shutdown too */
    ok(conn_ctx(&c, SP_TLS1_2, 1) && conn_open(&c), "invalid: TLS 1.2");
    is_int(sp_pair_shutdown(c.server), SP_OK, "invalid: server shuts down");
    is_int(sp_pair_renegotiate(c.server), SP_ERR_INVALID,
           "invalid: TLS 1.2 server after shutdown");
    conn_free(&c);

    ok(error_queue_empty(), "invalid: error queue empty");
}


/* One pair over the limit leaves the context's other pairs alone. */
static void
test_other_pairs(void)
{
    conn_t    a, b;
    unsigned  i;

    ok(conn_ctx(&a, SP_TLS1_2, 1), "others: contexts");
    now = 0;

    /* b shares a's contexts */
    b = a;
    ok(conn_open(&a), "others: first connection");
    ok(conn_open(&b), "others: second connection");

    for (i = 0; i < 3; i++) {
        reneg_ok(&a, a.client, tn("others: first #%u", i + 1));
    }

    reneg_refused(&a, "others: first #4");

    ok(echo(&b, "unaffected"), "others: second still talks");
    is_int(sp_pair_renegotiations(b.server), 0,
           "others: second has no renegotiations");

    for (i = 0; i < 3; i++) {
        reneg_ok(&b, b.client, tn("others: second #%u", i + 1));
    }

    is_int(sp_ctx_connections(a.sctx), 2, "others: two server pairs");

    /* and a new connection after the failure starts from nothing */
    conn_close(&a);
    ok(conn_open(&a), "others: third connection");
    reneg_ok(&a, a.client, "others: third #1");

    conn_close(&b);
    conn_free(&a);
    ok(error_queue_empty(), "others: error queue empty");
}


/*
 * A renegotiation the peer starts and never finishes (the client hangs up
 * after the server's hello): the facts stay those of the handshake that
 * completed.  OpenSSL's current session is then the new, unfinished one,
 * which has no cipher yet.
 */
static void
test_unfinished(void)
{
    conn_t       c;
    const char  *before, *after;

    ok(conn_ctx(&c, SP_TLS1_2, 1), "unfinished: contexts");
    ok(conn_open(&c), "unfinished: handshake");
    before = sp_pair_cipher(c.server);
    ok(before != NULL, "unfinished: cipher %s", before ? before : "NULL");

    is_int(sp_pair_renegotiate(c.client), SP_OK, "unfinished: client asks");
    ok(move_records(c.client, c.server, 0) > 0,
       "unfinished: the server gets the client's hello");
    ok(sp_enc_out_buf(c.server, &(size_t) { 0 }) != NULL,
       "unfinished: the server answers (its hello, not delivered)");
    is_int(sp_pair_renegotiations(c.server), 1,
           "unfinished: the server counts it");

    after = sp_pair_cipher(c.server);
    ok(after != NULL && before != NULL && strcmp(after, before) == 0,
       "unfinished: the server still names %s (got %s)",
       before ? before : "NULL", after ? after : "NULL");
    is_str(sp_pair_protocol(c.server), "TLSv1.2",
           "unfinished: and TLSv1.2");

    conn_free(&c);
    ok(error_queue_empty(), "unfinished: error queue empty");
}


int
main(void)
{
    test_unfinished();
    test_default_limit();
    test_window_restart();
    test_custom_limit();
    test_limit_zero();
    test_set_time();
    test_server_initiated();
    test_event_timing();
    test_invalid();
    test_other_pairs();

    return done_testing();
}
