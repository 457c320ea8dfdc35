/*
 * Renegotiation (TLS 1.2) and its limit, as Node limits it:
 * CLIENT_RENEG_LIMIT renegotiations started by the client in a window of
 * CLIENT_RENEG_WINDOW seconds (3 in 600 s by default).  Time comes from a
 * test-controlled clock, or from sp_pair_set_time() when there is none.
 */

/* TLSv1_2_client_method(): see test_reauth_no_resumption() */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "pump.h"
#include "raw_client.h"
#include "records.h"


#define SP_AD_HANDSHAKE_FAILURE  40
#define SP_AD_NO_RENEGOTIATION   100


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


/*
 * `n` client renegotiations that pass ("<label> #1<when>", ...), then,
 * with `refused`, one more that the limit refuses.
 */
static void
client_renegs(conn_t *c, unsigned n, int refused, const char *label,
    const char *when)
{
    unsigned  i;
    char      name[128];

    /* not tn(): the checks below take its buffers in turn */
    for (i = 0; i < n + !!refused; i++) {
        snprintf(name, sizeof(name), "%s #%u%s", label, i + 1, when);

        if (i < n) {
            reneg_ok(c, c->client, name);

        } else {
            reneg_refused(c, name);
        }
    }
}


/* A client renegotiation at a time, and whether the limit refuses it. */
typedef struct {
    time_t       at;
    int          refused;
    const char  *name;
} step_t;


/*
 * Client renegotiations at the steps' times: the fake clock's, or with
 * `set_time` (no clock) the server pair's own, by sp_pair_set_time().
 */
static void
run_steps(conn_t *c, const step_t *steps, size_t n, int set_time)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (set_time) {
            sp_pair_set_time(c->server, steps[i].at);
        } else {
            now = steps[i].at;
        }

        if (steps[i].refused) {
            reneg_refused(c, steps[i].name);
        } else {
            reneg_ok(c, c->client, steps[i].name);
        }
    }
}


/*
 * A test on one connection of TLS 1.2 contexts, with the fake clock or
 * none: "<label>: handshake", the test, then nothing left in OpenSSL's
 * error queue once the connection is freed.
 */
static void
on_conn(const char *label, int clock, void (*test)(conn_t *c))
{
    conn_t  c;

    ok(conn_ctx(&c, SP_TLS1_2, clock) && conn_open(&c), "%s: handshake",
       label);
    test(&c);
    conn_free(&c);
    ok(error_queue_empty(), "%s: error queue empty", label);
}


/* Three client renegotiations at t = 0, 1, 2; the fourth at 3 fails. */
static void
test_default_limit(conn_t *c)
{
    unsigned  i;

    is_str(sp_pair_protocol(c->server), "TLSv1.2", "default: TLSv1.2");
    is_int(sp_pair_renegotiations(c->server), 0,
           "default: no renegotiation yet");

    for (i = 0; i < 3; i++) {
        now = (time_t) i;
        reneg_ok(c, c->client, tn("default: renegotiation #%u at t=%u",
                                  i + 1, i));
        is_int(sp_pair_renegotiations(c->server), i + 1,
               tn("default: server counted %u", i + 1));
    }

    now = 3;
    reneg_refused(c, "default: #4 at t=3");
    diag("default: after the refusal the server counts %u",
         sp_pair_renegotiations(c->server));
}


/* The window restarts at the first renegotiation after it ended. */
static void
test_window_restart(conn_t *c)
{
    unsigned  i;

    for (i = 0; i < 3; i++) {
        now = (time_t) i;
        reneg_ok(c, c->client, tn("window: #%u at t=%u", i + 1, i));
    }

    for (i = 0; i < 3; i++) {
        now = 601 + (time_t) i;
        reneg_ok(c, c->client, tn("window: #%u at t=%u", i + 4, 601 + i));
    }

    is_int(sp_pair_renegotiations(c->server), 6, "window: server counted 6");

    now = 604;
    reneg_refused(c, "window: #7 at t=604");
}


/* sp_ctx_set_reneg_limit(1, 10): one per ten seconds. */
static void
test_custom_limit(void)
{
    static const step_t  within[] = {
        { 100, 0, "limit 1/10: first at t=100" },
        { 109, 1, "limit 1/10: second at t=109" },
    };

    static const step_t  after[] = {
        { 200, 0, "limit 1/10: first at t=200" },
        { 210, 0, "limit 1/10: next at t=210, window passed" },
        { 215, 1, "limit 1/10: another at t=215" },
    };

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
    run_steps(&c, within, 2, 0);
    conn_close(&c);

    /* the second once the window has passed, the third within the new */
    ok(conn_open(&c), "limit 1/10: second handshake");
    run_steps(&c, after, 3, 0);

    conn_free(&c);
    ok(error_queue_empty(), "limit 1/10: error queue empty");
}


/*
 * Limit 0.  The pair does not set SSL_OP_ALLOW_CLIENT_RENEGOTIATION, so
 * OpenSSL 3.0 drops the client's hello in its record layer with a
 * no_renegotiation warning alert and never starts a handshake, nor calls
 * the hello callback.  The pair counts that refusal all the same, and
 * under limit 0 the first one is past the limit: SP_ERR_RENEG_LIMIT.  The
 * client, which asked for it, takes the warning as fatal.
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

    is_int(sp_pair_error(c.server), SP_ERR_RENEG_LIMIT,
           "limit 0: the refused hello ends the server pair");
    ok(strstr(sp_pair_error_message(c.server),
              "renegotiation limit exceeded: more than 0 in 600 s") != NULL,
       "limit 0: message \"%s\"", sp_pair_error_message(c.server));
    ok(sev & SP_EVENT_ERROR, "limit 0: server error event");
    is_int(sp_pair_alert_sent(c.server), SP_AD_NO_RENEGOTIATION,
           "limit 0: the alert the server sent was no_renegotiation");
    is_int(sp_pair_renegotiations(c.server), 0,
           "limit 0: no renegotiation taken up");

    is_int(sp_pair_error(c.client), SP_ERR_HANDSHAKE,
           "limit 0: client fails: the server said no_renegotiation");
    ok(cev & SP_EVENT_ERROR, "limit 0: client error event");

    conn_close(&c);

    /*
     * The limit is about the client's renegotiations: the server may still
     * ask for one itself (OpenSSL allows a hello it requested even without
     * SSL_OP_ALLOW_CLIENT_RENEGOTIATION).
     */
    ok(conn_open(&c), "limit 0: new pair");
    reneg_ok(&c, c.server, "limit 0: server-initiated");
    is_int(sp_pair_error(c.server), 0,
           "limit 0: a hello the server asked for is not refused");

    conn_free(&c);
    ok(error_queue_empty(), "limit 0: error queue empty");
}


/* `cert`: "<name>" of a key and certificate in the certs, or NULL. */
static int
raw_new_method(raw_t *r, const SSL_METHOD *method, int version,
    const char *cert)
{
    if (!raw_ctx(r, method, cert)) {
        return 0;
    }

    SSL_CTX_set_min_proto_version(r->ctx, version);
    SSL_CTX_set_max_proto_version(r->ctx, version);
    SSL_CTX_set_cipher_list(r->ctx, REC_GCM_CIPHERS);

    return raw_ssl(r);
}


static int
raw_new(raw_t *r, int version, const char *cert)
{
    return raw_new_method(r, TLS_client_method(), version, cert);
}


/*
 * Lets the client act (handshake, or read what came), then moves records
 * both ways, until nothing moves.  Cleartext the client reads goes to
 * `got` when given.
 */
static void
raw_pump(raw_t *r, sp_pair *server, char *got, size_t size)
{
    int      n, moved, rounds = 0;
    char     buf[16384];
    size_t   have = 0;

    do {
        moved = 0;

        if (SSL_in_init(r->ssl)) {
            SSL_do_handshake(r->ssl);
        }

        while (!SSL_in_init(r->ssl)
               && (n = SSL_read(r->ssl, buf, sizeof(buf))) > 0)
        {
            if (got != NULL && have + (size_t) n < size) {
                memcpy(got + have, buf, (size_t) n);
                have += (size_t) n;
                got[have] = '\0';
            }
        }

        while ((n = BIO_read(r->wbio, buf, sizeof(buf))) > 0) {
            sp_enc_in(server, buf, (size_t) n);
            moved = 1;
        }

        while ((n = (int) sp_enc_out(server, buf, sizeof(buf))) > 0) {
            BIO_write(r->rbio, buf, n);
            moved = 1;
        }

    } while (moved && ++rounds < 1000);

    ERR_clear_error();
}


/* A transport that has the bytes of one buffer (sp_enc_read_from). */
typedef struct {
    const uint8_t  *data;
    size_t          len;
} mem_src;


static ssize_t
mem_read(void *arg, void *buf, size_t len)
{
    mem_src  *m = arg;

    if (m->len == 0) {
        return SP_ERR_AGAIN;
    }

    if (len > m->len) {
        len = m->len;
    }

    memcpy(buf, m->data, len);
    m->data += len;
    m->len -= len;
    return (ssize_t) len;
}


/* The bytes into the pair as sp_enc_in() would, or through its reads. */
static ssize_t
enc_in_by(int direct, sp_pair *pair, const uint8_t *data, size_t len)
{
    ssize_t  n;
    mem_src  m = { data, len };

    if (!direct) {
        return sp_enc_in(pair, data, len);
    }

    do {
        n = sp_enc_read_from(pair, mem_read, &m);
    } while (n > 0);

    return len - m.len ? (ssize_t) (len - m.len) : n;
}


/* The raw client's handshake with `server`: 1 when both ends are secure. */
static int
raw_handshake(raw_t *r, sp_pair *server)
{
    raw_pump(r, server, NULL, 0);

    return SSL_is_init_finished(r->ssl)
           && (sp_pair_state(server) & SP_STATE_SECURE);
}


/*
 * A client that sends renegotiation hellos one after another without
 * reading, as a flooding client does: records sealed with its keys.
 * OpenSSL refuses each with a warning and reads on; the pair counts them,
 * fails past the limit and reads no further hello: one alert out, not
 * one per hello.  direct: OpenSSL reads them itself, all at once.
 */
static void
test_refused_flood(int direct)
{
    raw_t       r;
    sp_ctx     *sctx;
    sp_pair    *server;
    rec_keys    k;
    uint8_t     hello[64], *flood, out[65536];
    size_t      hlen, len, n, got;
    unsigned    i, nhellos = 50;
    ssize_t     taken;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    ok(sctx != NULL && sp_ctx_set_reneg_limit(sctx, 0, 600) == SP_OK,
       "flood: server context, limit 0");
    server = sp_pair_new(sctx, NULL, NULL);
    ok(raw_new(&r, TLS1_2_VERSION, NULL) && server != NULL,
       "flood: a raw OpenSSL client and a server pair");

    ok(raw_handshake(&r, server), "flood: handshake");
    is_str(sp_pair_cipher(server), "ECDHE-ECDSA-AES128-GCM-SHA256",
           "flood: AES-128-GCM, whose records the test can seal");
    ok(rec_client_keys(r.ssl, &k), "flood: the client's keys");

    /* a record the server takes as the client's: the keys are right */
    memcpy(out, "hi", 2);
    len = rec_seal(&k, 23, out, 2, out + 2);
    is_int(sp_enc_in(server, out + 2, len), (ssize_t) len,
           "flood: a sealed data record goes in");
    is_int(sp_clear_read(server, out, sizeof(out)), 2,
           "flood: and reads as the client's cleartext");

    hlen = rec_client_hello(hello);
    flood = malloc(nhellos * (hlen + REC_OVERHEAD));
    ok(flood != NULL, "flood: room for %u hellos", nhellos);
    if (flood == NULL) {
        return;
    }

    for (i = 0, len = 0; i < nhellos; i++) {
        len += rec_seal(&k, 22, hello, hlen, flood + len);
    }

    taken = enc_in_by(direct, server, flood, len);
    ok(taken > 0, "flood: the server takes the records (%zd of %zu bytes)",
       taken, len);

    got = 0;
    while (got < sizeof(out)
           && (n = sp_enc_out(server, out + got, sizeof(out) - got)) > 0)
    {
        got += n;
    }

    is_int(sp_pair_error(server), SP_ERR_RENEG_LIMIT,
           "flood: the server pair fails with SP_ERR_RENEG_LIMIT");
    ok(strstr(sp_pair_error_message(server),
              "renegotiation limit exceeded: more than 0") != NULL,
       "flood: message \"%s\"", sp_pair_error_message(server));
    is_int(rec_count_alerts(out, got), 1,
           tn("flood: limit + 1 = 1 refusal answered, then no more read, "
              "not %u", nhellos));
    is_int(sp_pair_renegotiations(server), 0,
           "flood: no renegotiation taken up");
    is_int(sp_pair_state(server), SP_STATE_CLOSED,
           "flood: the server pair is closed once its alert is out");
    is_int(enc_in_by(direct, server, flood, len), SP_ERR_RENEG_LIMIT,
           "flood: and takes no more input");

    free(flood);
    sp_pair_free(server);
    sp_ctx_unref(sctx);
    raw_free(&r);
    ok(error_queue_empty(), "flood: error queue empty");
}


/*
 * TLS 1.3 key updates that request one back, sent without reading: each
 * makes the server write a record.  Once 128 KiB of them wait to be sent
 * the pair offers no room for input, until the host sends them.
 */
static void
test_enc_out_mark(void)
{
    raw_t      r;
    sp_ctx    *sctx;
    sp_pair   *server;
    uint8_t   *in, sink[16384];
    size_t     room, pending, fed = 0;
    unsigned   i, state, stops = 0, nupdates = 12000;
    int        n, stopped = 0;
    char       got[64];

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    server = sctx ? sp_pair_new(sctx, NULL, NULL) : NULL;
    ok(raw_new(&r, TLS1_3_VERSION, NULL) && server != NULL,
       "mark: a raw TLS 1.3 client and a server pair");

    ok(raw_handshake(&r, server), "mark: handshake");

    for (i = 0; i < nupdates; i++) {
        if (SSL_key_update(r.ssl, SSL_KEY_UPDATE_REQUESTED) != 1
            || SSL_do_handshake(r.ssl) != 1)
        {
            break;
        }
    }

    is_int(i, nupdates, tn("mark: the client made %u key updates", i));
    diag("mark: %zu bytes of them", (size_t) BIO_pending(r.wbio));

    /* the host only receives, never sends */
    for ( ;; ) {
        in = sp_enc_in_buf(server, &room);
        if (in == NULL) {
            stopped = 1;
            break;
        }

        n = BIO_read(r.wbio, in, (int) room);
        if (n <= 0) {
            sp_enc_in_commit(server, 0);
            break;
        }

        fed += (size_t) n;
        sp_enc_in_commit(server, (size_t) n);
    }

    pending = sp_enc_out_pending(server);
    state = sp_pair_state(server);

    ok(stopped, "mark: the pair stops offering room (after %zu bytes in, "
       "%zu out waiting)", fed, pending);
    is_int(room, 0, "mark: no room");
    ok(BIO_pending(r.wbio) > 0, "mark: the client's records wait (%d bytes)",
       (int) BIO_pending(r.wbio));
    ok(pending >= 128 * 1024, "mark: at 128 KiB or more of output (%zu)",
       pending);
    ok(pending < (128 + 128 + 64) * 1024,
       "mark: and not far beyond it (%zu)", pending);
    ok(!(state & SP_STATE_RECV_RECORDS) && (state & SP_STATE_SEND_RECORDS),
       "mark: state says send, not receive (0x%x)", state);
    is_int(sp_enc_in(server, "x", 1), 0, "mark: sp_enc_in takes nothing");
    is_int(sp_pair_error(server), 0, "mark: no error");

    /* the host sends: input resumes, and everything gets through */
    while (sp_enc_out_pending(server) > 0) {
        n = (int) sp_enc_out(server, sink, sizeof(sink));
        BIO_write(r.rbio, sink, n);
    }

    ok(sp_pair_state(server) & SP_STATE_RECV_RECORDS,
       "mark: once sent, the pair wants records again");
    in = sp_enc_in_buf(server, &room);
    ok(in != NULL && room > 0, "mark: and offers room (%zu)", room);
    sp_enc_in_commit(server, 0);

    for ( ;; ) {
        in = sp_enc_in_buf(server, &room);

        if (in == NULL) {
            stops++;
            while (sp_enc_out_pending(server) > 0) {
                n = (int) sp_enc_out(server, sink, sizeof(sink));
                BIO_write(r.rbio, sink, n);
            }

            continue;
        }

        n = BIO_read(r.wbio, in, (int) room);
        if (n <= 0) {
            sp_enc_in_commit(server, 0);
            break;
        }

        sp_enc_in_commit(server, (size_t) n);
    }

    diag("mark: stopped %u more times on the way", stops);
    is_int(sp_pair_error(server), 0, "mark: every key update went in");

    ok(SSL_write(r.ssl, "ping", 4) == 4, "mark: the client writes");
    raw_pump(&r, server, NULL, 0);
    ok(read_all(server, got, sizeof(got)) == 4 && memcmp(got, "ping", 4) == 0,
       "mark: the server reads it");
    ok(sp_clear_write(server, "pong", 4) == 4, "mark: and answers");
    got[0] = '\0';
    raw_pump(&r, server, got, sizeof(got));
    is_str(got, "pong", "mark: the client, past all the server's key "
                        "updates, reads the answer");

    sp_pair_free(server);
    sp_ctx_unref(sctx);
    raw_free(&r);
    ok(error_queue_empty(), "mark: error queue empty");
}


/* A server context asking for client certificates of ca.crt. */
static sp_ctx *
auth_ctx(int reject)
{
    sp_ctx  *ctx = ctx_for(SP_SERVER, "server-ec", "ca.crt");

    if (ctx != NULL) {
        sp_ctx_set_request_cert(ctx, 1);
        sp_ctx_set_reject_unauthorized(ctx, reject);
    }

    return ctx;
}


/* The server's view of the client certificate's CN, "" when none. */
static const char *
peer_cn(sp_pair *server)
{
    static char    buf[128];
    sp_peer_cert  *cert = sp_pair_peer_cert(server);
    const char    *cn;

    buf[0] = '\0';

    if (cert != NULL) {
        cn = sp_peer_cert_get(cert->subject, cert->subject_count, "CN");
        snprintf(buf, sizeof(buf), "%s", cn ? cn : "");
        sp_peer_cert_free(cert);
    }

    return buf;
}


/* A client with a good certificate renegotiates: still authorized. */
static void
test_reauth_good(void)
{
    conn_t      c;
    sp_creds   *creds;
    unsigned    i;

    memset(&c, 0, sizeof(c));
    c.sctx = auth_ctx(0);
    creds = creds_for("client", "ca.crt");
    sp_creds_set_versions(creds, SP_TLS1_2, SP_TLS1_2);
    c.cctx = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    ok(c.sctx != NULL && c.cctx != NULL && conn_open(&c),
       "reauth good: handshake");
    is_int(sp_pair_authorized(c.server), 1, "reauth good: authorized");
    is_str(peer_cn(c.server), "client", "reauth good: peer CN");

    for (i = 0; i < 2; i++) {
        reneg_ok(&c, i ? c.server : c.client,
                 i ? "reauth good: server renegotiates"
                   : "reauth good: client renegotiates");
        is_int(sp_pair_authorized(c.server), 1,
               tn("reauth good: still authorized after #%u", i + 1));
        is_str(peer_cn(c.server), "client",
               tn("reauth good: the same peer after #%u", i + 1));
        ok(sp_pair_authorization_error(c.server) == NULL,
           "reauth good: no error after #%u", i + 1);
    }

    conn_free(&c);
    ok(error_queue_empty(), "reauth good: error queue empty");
}


/*
 * A client authorized by its first handshake renegotiates without its
 * certificate: no longer authorized, no peer; under reject_unauthorized
 * the pair fails.
 */
static void
test_reauth_dropped(void)
{
    raw_t       r;
    sp_ctx     *sctx;
    sp_pair    *server;
    unsigned    ev;
    int         reject;
    const char  *name;

    for (reject = 0; reject <= 1; reject++) {
        name = reject ? "reauth dropped, reject" : "reauth dropped";

        sctx = auth_ctx(reject);
        server = sctx ? sp_pair_new(sctx, NULL, NULL) : NULL;
        ok(raw_new(&r, TLS1_2_VERSION, "client") && server != NULL,
           "%s: a raw client with a certificate", name);

        raw_pump(&r, server, NULL, 0);
        ok(sp_pair_state(server) & SP_STATE_SECURE, "%s: handshake", name);
        is_int(sp_pair_authorized(server), 1, tn("%s: authorized", name));
        is_str(peer_cn(server), "client", tn("%s: peer CN", name));
        sp_pair_events(server);

        /* the client forgets its certificate and renegotiates */
        SSL_certs_clear(r.ssl);
        ok(SSL_renegotiate(r.ssl) == 1, "%s: the client renegotiates", name);
        raw_pump(&r, server, NULL, 0);
        ev = sp_pair_events(server);

        if (!reject) {
            ok(ev & SP_EVENT_RENEGOTIATED, "%s: renegotiated", name);
            is_int(sp_pair_error(server), 0, tn("%s: no error", name));
            is_int(sp_pair_authorized(server), 0,
                   tn("%s: no longer authorized", name));
            is_str(sp_pair_authorization_error(server),
                   "UNABLE_TO_GET_ISSUER_CERT", tn("%s: error", name));
            is_str(peer_cn(server), "", tn("%s: no peer certificate", name));

        } else {
            is_int(sp_pair_error(server), SP_ERR_UNAUTHORIZED,
                   tn("%s: the pair fails with SP_ERR_UNAUTHORIZED", name));
            ok(ev & SP_EVENT_ERROR, "%s: error event", name);
            is_int(sp_pair_authorized(server), 0,
                   tn("%s: not authorized", name));
            is_str(peer_cn(server), "",
                   tn("%s: and the first handshake's peer is gone", name));
        }

        sp_pair_free(server);
        sp_ctx_unref(sctx);
        raw_free(&r);
    }

    ok(error_queue_empty(), "reauth dropped: error queue empty");
}


/*
 * A renegotiation offering the session of an earlier connection, whose
 * self-signed client was not authorized, is a full handshake: the
 * facts are those of this client's certificate.
 */
static void
test_reauth_no_resumption(void)
{
    raw_t          a, b;
    sp_ctx        *sctx;
    sp_pair       *first, *second;
    SSL_SESSION   *sess;

    sctx = auth_ctx(0);
    first = sctx ? sp_pair_new(sctx, NULL, NULL) : NULL;
    ok(raw_new(&a, TLS1_2_VERSION, "client-self") && first != NULL,
       "resume: first client, self-signed");
    raw_pump(&a, first, NULL, 0);
    is_int(sp_pair_authorized(first), 0, "resume: first not authorized");
    is_str(peer_cn(first), "self-signed client", "resume: first peer");

    sess = SSL_get1_session(a.ssl);
    ok(sess != NULL && SSL_SESSION_is_resumable(sess),
       "resume: the first client has a resumable session");

    /*
     * SSL_set_session() on a connection of the version-flexible method
     * resets it to that method, and with it the renegotiation binding: a
     * client of one version keeps its connection and offers the session.
     */
    second = sp_pair_new(sctx, NULL, NULL);
    ok(raw_new_method(&b, TLSv1_2_client_method(), TLS1_2_VERSION, "client")
       && second != NULL, "resume: second client, good certificate");
    raw_pump(&b, second, NULL, 0);
    is_int(sp_pair_authorized(second), 1, "resume: second authorized");
    sp_pair_events(second);

    /* it offers the first connection's session in a renegotiation */
    ok(SSL_set_session(b.ssl, sess) == 1
       && SSL_renegotiate_abbreviated(b.ssl) == 1,
       "resume: renegotiation offering the first session");
    raw_pump(&b, second, NULL, 0);

    ok(sp_pair_events(second) & SP_EVENT_RENEGOTIATED,
       "resume: renegotiated");
    is_int(sp_pair_error(second), 0, "resume: no error");
    is_int(SSL_session_reused(b.ssl), 0,
           "resume: the server did not resume the other session");
    is_int(sp_pair_authorized(second), 1, "resume: still authorized");
    is_str(peer_cn(second), "client",
           "resume: the peer is this connection's client");

    SSL_SESSION_free(sess);
    sp_pair_free(first);
    sp_pair_free(second);
    sp_ctx_unref(sctx);
    raw_free(&a);
    raw_free(&b);
    ok(error_queue_empty(), "resume: error queue empty");
}


/* No clock: the pair's time is what sp_pair_set_time() said. */
static void
test_set_time(conn_t *c)
{
    static const step_t  steps[] = {
        { 5000, 0, "set_time: #1 at t=5000" },
        { 5001, 0, "set_time: #2 at t=5001" },
        { 5002, 0, "set_time: #3 at t=5002" },
        { 5600, 0, "set_time: #4 at t=5600, window passed" },
        { 5601, 0, "set_time: #5 at t=5601" },
        { 5602, 0, "set_time: #6 at t=5602" },
        { 5603, 1, "set_time: #7 at t=5603" },
    };

    now = 100000;    /* the fake clock is not installed: ignored */
    run_steps(c, steps, sizeof(steps) / sizeof(steps[0]), 1);
    conn_close(c);

    /* the time of a new pair starts at 0: three, then a refusal */
    ok(conn_open(c), "set_time: new pair");
    client_renegs(c, 3, 1, "set_time: new pair", " at t=0");
}


/* The server asking (HelloRequest) is not the client's doing. */
static void
test_server_initiated(conn_t *c)
{
    unsigned  i;

    now = 0;

    for (i = 0; i < 5; i++) {
        reneg_ok(c, c->server, tn("server: renegotiation #%u at t=0", i + 1));
    }

    diag("server: after 5 server renegotiations the server counts %u, "
         "the client %u", sp_pair_renegotiations(c->server),
         sp_pair_renegotiations(c->client));

    /* the client's own allowance is untouched */
    client_renegs(c, 3, 1, "server: then client", " at t=0");
}


/* SP_EVENT_RENEGOTIATED means completed, not merely asked for. */
static void
test_event_timing(conn_t *c)
{
    unsigned  ev;

    is_int(sp_pair_renegotiate(c->server), SP_OK, "timing: server asks");
    ev = sp_pair_events(c->server);
    ok(!(ev & SP_EVENT_RENEGOTIATED),
       "timing: no renegotiated event on the server before the client "
       "answered (events 0x%x)", ev);
    pump(c->client, c->server);
    ok(sp_pair_events(c->server) & SP_EVENT_RENEGOTIATED,
       "timing: server event once done");
    ok(sp_pair_events(c->client) & SP_EVENT_RENEGOTIATED,
       "timing: client event once done");
    is_int(sp_pair_renegotiations(c->server), 1,
           "timing: one server renegotiation counted once");
    is_int(sp_pair_renegotiations(c->client), 1,
           "timing: the client counted it once");

    is_int(sp_pair_renegotiate(c->client), SP_OK, "timing: client asks");
    ok(!(sp_pair_events(c->client) & SP_EVENT_RENEGOTIATED),
       "timing: no client event before the server answered");
    pump(c->client, c->server);
    ok(sp_pair_events(c->client) & SP_EVENT_RENEGOTIATED,
       "timing: client event once done");
    ok(sp_pair_events(c->server) & SP_EVENT_RENEGOTIATED,
       "timing: server event once done");
    is_int(sp_pair_renegotiations(c->client), 2, "timing: client counts 2");
    is_int(sp_pair_renegotiations(c->server), 2, "timing: server counts 2");
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
    conn_t  a, b;

    ok(conn_ctx(&a, SP_TLS1_2, 1), "others: contexts");
    now = 0;

    /* b shares a's contexts */
    b = a;
    ok(conn_open(&a), "others: first connection");
    ok(conn_open(&b), "others: second connection");

    client_renegs(&a, 3, 1, "others: first", "");

    ok(echo(&b, "unaffected"), "others: second still talks");
    is_int(sp_pair_renegotiations(b.server), 0,
           "others: second has no renegotiations");

    client_renegs(&b, 3, 0, "others: second", "");

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
    on_conn("default", 1, test_default_limit);
    on_conn("window", 1, test_window_restart);
    test_custom_limit();
    test_limit_zero();
    test_refused_flood(0);
    test_refused_flood(1);
    test_enc_out_mark();
    test_reauth_good();
    test_reauth_dropped();
    test_reauth_no_resumption();
    on_conn("set_time", 0, test_set_time);
    on_conn("server", 1, test_server_initiated);
    on_conn("timing", 1, test_event_timing);
    test_invalid();
    test_other_pairs();

    return done_testing();
}
