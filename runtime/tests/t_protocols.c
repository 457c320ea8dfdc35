/*
 * NPN and ALPN: what each side reports for a pair of lists (Node's
 * test-tls-npn and test-tls-alpn-server-client), a refused ALPN offer,
 * the two together, and list validation.
 */

#include "pump.h"


#define SP_AD_NO_APPLICATION_PROTOCOL  120


typedef struct {
    const char *const  *names;      /* NULL: the list is not set */
    size_t              n;
} list_t;

#define LIST(...)                                                            \
    { (const char *const []) { __VA_ARGS__ },                                \
      sizeof((const char *const []) { __VA_ARGS__ }) / sizeof(char *) }

#define NONE  { NULL, 0 }


typedef struct {
    const char  *name;
    int          version;           /* the client's, exactly */
    list_t       server_npn;
    list_t       server_alpn;
    list_t       client_npn;
    list_t       client_alpn;
    int          fails;             /* ALPN refused: no_application_protocol */
    const char  *npn;               /* both sides report it */
    int          npn_no_overlap;    /* the client's sp_pair_npn_no_overlap */
    const char  *alpn;              /* both sides report it */
} proto_case;


/*
 * NPN, Node's test-tls-npn: the server advertises a, b, c.
 *
 * The client chooses, with SSL_select_next_proto(): OpenSSL 3.0 walks the
 * SERVER's list in order and takes the first protocol the client also
 * lists, so the client's own order does not matter: "c", "b", "e" against
 * "a", "b", "c" gives "b" (Node's test expects the same).  With no
 * overlap it falls back to the client's first protocol, which the client
 * then sends to the server: both report it.
 */
static const proto_case  npn_cases[] = {
    { "npn: same list", SP_TLS1_2,
      LIST("a", "b", "c"), NONE, LIST("a", "b", "c"), NONE,
      0, "a", 0, NULL },
    { "npn: server order wins", SP_TLS1_2,
      LIST("a", "b", "c"), NONE, LIST("c", "b", "e"), NONE,
      0, "b", 0, NULL },
    { "npn: no overlap", SP_TLS1_2,
      LIST("a", "b", "c"), NONE,
      LIST("first-priority-unsupported", "x", "y"), NONE,
      0, "first-priority-unsupported", 1, NULL },
    { "npn: client without a list", SP_TLS1_2,
      LIST("a", "b", "c"), NONE, NONE, NONE,
      0, NULL, 0, NULL },
    { "npn: server without a list", SP_TLS1_2,
      NONE, NONE, LIST("a", "b", "c"), NONE,
      0, NULL, 0, NULL },
    { "npn: TLS 1.3 has no NPN", SP_TLS1_3,
      LIST("a", "b", "c"), NONE, LIST("a", "b", "c"), NONE,
      0, NULL, 0, NULL },
};


/*
 * ALPN: the server picks by its own preference (RFC 7301), alike on TLS
 * 1.2 and 1.3: each case runs at both versions (run_alpn_cases).
 */
static const proto_case  alpn_cases[] = {
    { "server preference", 0,
      NONE, LIST("h2", "http/1.1"), NONE, LIST("http/1.1", "h2"),
      0, NULL, 0, "h2" },
    { "server preference, other order", 0,
      NONE, LIST("http/1.1", "h2"), NONE, LIST("h2", "http/1.1"),
      0, NULL, 0, "http/1.1" },
    { "one in common", 0,
      NONE, LIST("h2", "http/1.1"), NONE, LIST("http/1.1"),
      0, NULL, 0, "http/1.1" },
    { "no overlap", 0,
      NONE, LIST("h2", "http/1.1"), NONE, LIST("spdy/3"),
      1, NULL, 0, NULL },
    { "client offers nothing", 0,
      NONE, LIST("h2", "http/1.1"), NONE, NONE,
      0, NULL, 0, NULL },
    { "server has no list", 0,
      NONE, NONE, NONE, LIST("h2", "http/1.1"),
      0, NULL, 0, NULL },
};


/*
 * NPN and ALPN together on TLS 1.2.  Each works on its own when the other
 * is not in play; when ALPN selects a protocol, OpenSSL's server drops NPN
 * ("ALPN takes precedence over NPN", tls_handle_alpn() clears npn_seen),
 * so NPN then reports nothing on both sides -- as Node's
 * test-tls-alpn-server-client expects (ALPN "a", NPN false).
 */
static const proto_case  both_cases[] = {
    { "both: ALPN wins", SP_TLS1_2,
      LIST("a", "b", "c"), LIST("h2", "http/1.1"),
      LIST("b", "c"), LIST("http/1.1"),
      0, NULL, 0, "http/1.1" },
    { "both: client NPN only", SP_TLS1_2,
      LIST("a", "b", "c"), LIST("h2", "http/1.1"),
      LIST("c", "b"), NONE,
      0, "b", 0, NULL },
    { "both: client ALPN only", SP_TLS1_2,
      LIST("a", "b", "c"), LIST("h2", "http/1.1"),
      NONE, LIST("h2"),
      0, NULL, 0, "h2" },
    { "both: server NPN only", SP_TLS1_2,
      LIST("a", "b", "c"), NONE,
      LIST("c", "b"), LIST("h2"),
      0, "b", 0, NULL },
    { "both: server ALPN only", SP_TLS1_2,
      NONE, LIST("h2", "http/1.1"),
      LIST("c", "b"), LIST("h2"),
      0, NULL, 0, "h2" },
    { "both: no ALPN overlap refuses, NPN or not", SP_TLS1_2,
      LIST("a", "b", "c"), LIST("h2"),
      LIST("a"), LIST("spdy/3"),
      1, NULL, 0, NULL },
};


static sp_ctx *
client_ctx(int version)
{
    return client_for(NULL, "ca.crt", version);
}


/* Client says msg, server answers it back: 1 when both arrive intact. */
static int
echo(sp_pair *client, sp_pair *server, const char *msg)
{
    char    buf[256];
    size_t  len = strlen(msg), n;

    if (sp_clear_write(client, msg, len) != (ssize_t) len) {
        return 0;
    }

    pump(client, server);
    n = read_all(server, buf, sizeof(buf));

    if (n != len || memcmp(buf, msg, len) != 0
        || sp_clear_write(server, buf, n) != (ssize_t) n)
    {
        return 0;
    }

    pump(client, server);
    n = read_all(client, buf, sizeof(buf));

    return n == len && memcmp(buf, msg, len) == 0;
}


static int
set_list(sp_ctx *ctx, int (*set)(sp_ctx *, const char *const *, size_t),
    const list_t *list)
{
    if (list->names == NULL) {
        return SP_OK;
    }

    return set(ctx, list->names, list->n);
}


static void
run_case(const proto_case *c)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server, *client;
    unsigned   cev, sev;
    int        hs;
    char       sink[1024];

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_ctx(c->version);

    ok(sctx && cctx
       && set_list(sctx, sp_ctx_set_npn, &c->server_npn) == SP_OK
       && set_list(sctx, sp_ctx_set_alpn, &c->server_alpn) == SP_OK
       && set_list(cctx, sp_ctx_set_npn, &c->client_npn) == SP_OK
       && set_list(cctx, sp_ctx_set_alpn, &c->client_alpn) == SP_OK,
       "%s: lists set", c->name);

    new_ends(sctx, cctx, &client, &server);

    hs = handshake(client, server);
    cev = sp_pair_events(client);
    sev = sp_pair_events(server);

    if (c->fails) {
        ok(!hs, "%s: handshake fails", c->name);
        is_int(sp_pair_error(server), SP_ERR_HANDSHAKE,
               tn("%s: server SP_ERR_HANDSHAKE", c->name));
        is_int(sp_pair_alert_sent(server), SP_AD_NO_APPLICATION_PROTOCOL,
               tn("%s: server sent no_application_protocol", c->name));
        ok(strstr(sp_pair_error_message(server), "application protocol")
           != NULL, "%s: server message \"%s\"", c->name,
           sp_pair_error_message(server));
        is_int(sp_pair_error(client), SP_ERR_PEER_ALERT,
               tn("%s: client SP_ERR_PEER_ALERT", c->name));
        is_int(sp_pair_alert_received(client), SP_AD_NO_APPLICATION_PROTOCOL,
               tn("%s: client received no_application_protocol", c->name));
        ok((sev & SP_EVENT_ERROR) && (cev & SP_EVENT_ERROR)
           && !((sev | cev) & SP_EVENT_SECURE),
           "%s: error events, never secure", c->name);
        is_str(sp_pair_alpn_protocol(server), NULL,
               tn("%s: server has no ALPN protocol", c->name));
        is_str(sp_pair_alpn_protocol(client), NULL,
               tn("%s: client has no ALPN protocol", c->name));

        while (sp_enc_out(server, sink, sizeof(sink))) { /* sent */ }
        while (sp_enc_out(client, sink, sizeof(sink))) { /* sent */ }

        is_int(sp_pair_state(server), SP_STATE_CLOSED,
               tn("%s: server closed", c->name));
        is_int(sp_pair_state(client), SP_STATE_CLOSED,
               tn("%s: client closed", c->name));

    } else {
        ok(hs, "%s: handshake", c->name);
        is_str(sp_pair_protocol(client),
               c->version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2",
               tn("%s: protocol", c->name));
        ok((sev & SP_EVENT_SECURE) && (cev & SP_EVENT_SECURE),
           "%s: secure events", c->name);
        is_str(sp_pair_npn_protocol(client), c->npn,
               tn("%s: client NPN", c->name));
        is_str(sp_pair_npn_protocol(server), c->npn,
               tn("%s: server NPN", c->name));
        is_int(sp_pair_npn_no_overlap(client), c->npn_no_overlap,
               tn("%s: client npn_no_overlap", c->name));

        if (c->npn_no_overlap) {
            /* not documented for a server: shown, not judged */
            diag("%s: server npn_no_overlap %d", c->name,
                 sp_pair_npn_no_overlap(server));
        }

        is_str(sp_pair_alpn_protocol(client), c->alpn,
               tn("%s: client ALPN", c->name));
        is_str(sp_pair_alpn_protocol(server), c->alpn,
               tn("%s: server ALPN", c->name));
        ok(echo(client, server, c->name), "%s: data flows", c->name);
    }

    ok(error_queue_empty(), "%s: error queue empty", c->name);

    free_ends(client, server, cctx, sctx);
}


static void
run_cases(const proto_case *cases, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        run_case(&cases[i]);
    }
}


/* The ALPN cases at TLS 1.2, then at TLS 1.3: "alpn 1.2: no overlap". */
static void
run_alpn_cases(void)
{
    static const struct {
        int          version;
        const char  *label;
    } versions[] = { { SP_TLS1_2, "1.2" }, { SP_TLS1_3, "1.3" } };

    size_t      i, v;
    char        name[80];
    proto_case  c;

    for (v = 0; v < 2; v++) {
        for (i = 0; i < sizeof(alpn_cases) / sizeof(alpn_cases[0]); i++) {
            c = alpn_cases[i];
            snprintf(name, sizeof(name), "alpn %s: %s", versions[v].label,
                     alpn_cases[i].name);
            c.name = name;
            c.version = versions[v].version;
            run_case(&c);
        }
    }
}


/* Names of 1..255 bytes; n == 0 clears; a refused list keeps the old. */
static void
test_invalid_lists(void)
{
    static const struct {
        const char  *what;
        size_t       len;           /* of the second name; 0: "" */
        int          rc;
        const char  *message;       /* in sp_ctx_error() when refused */
    } lens[] = {
        { "empty name", 0, SP_ERR_INVALID, "empty" },
        { "1 byte", 1, SP_OK, NULL },
        { "255 bytes", 255, SP_OK, NULL },
        { "256 bytes", 256, SP_ERR_INVALID, "too long" },
    };

    static int  (*const setters[])(sp_ctx *, const char *const *, size_t) = {
        sp_ctx_set_npn, sp_ctx_set_alpn
    };
    static const char  *const setter_names[] = { "npn", "alpn" };

    sp_ctx      *ctx;
    char         name[300];
    const char  *list[3];
    size_t       i, k;
    int          rc;

    for (k = 0; k < 2; k++) {
        for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            ctx = ctx_for(k ? SP_CLIENT : SP_SERVER,
                          k ? NULL : "server-ec", k ? "ca.crt" : NULL);

            memset(name, 'x', lens[i].len);
            name[lens[i].len] = '\0';
            list[0] = "ok";
            list[1] = name;
            list[2] = "also-ok";

            rc = setters[k](ctx, list, 3);
            is_int(rc, lens[i].rc, tn("%s: %s", setter_names[k],
                                      lens[i].what));

            if (lens[i].message) {
                ok(strstr(sp_ctx_error(ctx), lens[i].message) != NULL
                   && strstr(sp_ctx_error(ctx), "#2") != NULL,
                   "%s: %s: message \"%s\"", setter_names[k], lens[i].what,
                   sp_ctx_error(ctx));
            }

            sp_ctx_unref(ctx);
        }
    }

    /* a NULL name is an empty one */
    ctx = ctx_for(SP_SERVER, "server-ec", NULL);
    list[0] = NULL;
    is_int(sp_ctx_set_alpn(ctx, list, 1), SP_ERR_INVALID,
           "alpn: NULL name refused");
    ok(strstr(sp_ctx_error(ctx), "#1") != NULL, "message \"%s\"",
       sp_ctx_error(ctx));
    sp_ctx_unref(ctx);

    ok(error_queue_empty(), "invalid lists: error queue empty");
}


/*
 * A client without an NPN list, against a server that advertises one,
 * still answers as Node v0.8 did: the server hears "http/1.1", the client
 * reports no protocol.
 */
static void
check_node_answer(sp_pair *client, sp_pair *server, const char *what)
{
    is_str(sp_pair_npn_protocol(server), "http/1.1",
           tn("%s: the server hears Node's http/1.1", what));
    is_str(sp_pair_npn_protocol(client), NULL,
           tn("%s: no NPN on the client", what));

    if (sp_pair_error(client)) {
        diag("%s: client: %s", what, sp_pair_error_message(client));
    }
}


/*
 * A context as test_replace_and_clear starts from: lists set, then a bad
 * list refused on each side.  A context no longer changes once it has
 * made pairs, so each step starts from fresh ones set up the same way.
 */
static void
replace_ctxs(sp_ctx **sctx, sp_ctx **cctx, int *bad_alpn, int *bad_npn)
{
    static const char  *const h2[] = { "h2", "http/1.1" };
    static const char  *const abc[] = { "a", "b", "c" };
    static const char  *const bad[] = { "fine", "" };

    sp_ctx_unref(*cctx);
    sp_ctx_unref(*sctx);

    *sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    *cctx = client_ctx(SP_TLS1_2);

    sp_ctx_set_alpn(*sctx, h2, 2);
    sp_ctx_set_npn(*sctx, abc, 3);
    sp_ctx_set_alpn(*cctx, h2 + 1, 1);
    sp_ctx_set_npn(*cctx, abc + 2, 1);

    *bad_alpn = sp_ctx_set_alpn(*sctx, bad, 2);
    *bad_npn = sp_ctx_set_npn(*cctx, bad, 2);
}


/*
 * A refused list leaves the previous one in force; n == 0 clears a list,
 * after which the pair negotiates nothing and the handshake still works.
 */
static void
test_replace_and_clear(void)
{
    static const char  *const h2[] = { "h2", "http/1.1" };
    static const char  *const abc[] = { "a", "b", "c" };

    int       bad_alpn, bad_npn;
    sp_ctx   *sctx = NULL, *cctx = NULL;
    sp_pair  *server, *client;

    replace_ctxs(&sctx, &cctx, &bad_alpn, &bad_npn);

    is_int(bad_alpn, SP_ERR_INVALID, "replace: bad ALPN list refused");
    is_int(bad_npn, SP_ERR_INVALID, "replace: bad NPN list refused");

    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "replace: handshake");
    is_str(sp_pair_alpn_protocol(server), "http/1.1",
           "replace: old ALPN list still in force");
    sp_pair_free(client);
    sp_pair_free(server);

    /* without ALPN, NPN shows: the client's old list is still in force */
    replace_ctxs(&sctx, &cctx, &bad_alpn, &bad_npn);
    sp_ctx_set_alpn(cctx, NULL, 0);
    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "replace: client ALPN cleared: handshake");
    is_str(sp_pair_alpn_protocol(server), NULL,
           "replace: client ALPN cleared: none");
    is_str(sp_pair_npn_protocol(server), "c",
           "replace: old NPN list still in force");
    sp_pair_free(client);
    sp_pair_free(server);

    /* server lists cleared */
    replace_ctxs(&sctx, &cctx, &bad_alpn, &bad_npn);
    is_int(sp_ctx_set_alpn(sctx, NULL, 0), SP_OK, "clear: server ALPN");
    is_int(sp_ctx_set_npn(sctx, NULL, 0), SP_OK, "clear: server NPN");
    sp_ctx_set_alpn(cctx, h2, 2);
    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "clear: server lists: handshake");
    is_str(sp_pair_alpn_protocol(client), NULL, "clear: server: no ALPN");
    is_str(sp_pair_npn_protocol(client), NULL, "clear: server: no NPN");
    sp_pair_free(client);
    sp_pair_free(server);

    /* client lists cleared, against a server that advertises both */
    replace_ctxs(&sctx, &cctx, &bad_alpn, &bad_npn);
    sp_ctx_set_alpn(sctx, h2, 2);
    sp_ctx_set_npn(sctx, abc, 3);
    is_int(sp_ctx_set_alpn(cctx, NULL, 0), SP_OK, "clear: client ALPN");
    is_int(sp_ctx_set_npn(cctx, NULL, 0), SP_OK, "clear: client NPN");
    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "clear: client lists: handshake");
    is_str(sp_pair_alpn_protocol(server), NULL, "clear: client: no ALPN");
    check_node_answer(client, server, "clear: client");
    sp_pair_free(client);
    sp_pair_free(server);

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    ok(error_queue_empty(), "clear: error queue empty");
}


/*
 * Two client contexts on the same credentials, one with an NPN list and
 * one without: the one without still completes its handshake, answers
 * the server as Node v0.8 did ("http/1.1") and reports no protocol.
 */
static void
test_shared_creds(void)
{
    static const char  *const abc[] = { "a", "b", "c" };

    sp_creds  *creds;
    sp_ctx    *sctx, *with, *without;
    sp_pair   *server, *client;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    sp_ctx_set_npn(sctx, abc, 3);

    creds = creds_for(NULL, "ca.crt");
    sp_creds_set_versions(creds, SP_TLS1_2, SP_TLS1_2);
    with = sp_ctx_new(SP_CLIENT, creds);
    without = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    sp_ctx_set_npn(with, abc + 1, 2);

    server = sp_pair_new(sctx, NULL, NULL);
    client = sp_pair_new(with, "localhost", NULL);
    ok(handshake(client, server), "shared creds: with NPN: handshake");
    is_str(sp_pair_npn_protocol(server), "b", "shared creds: with NPN: b");
    sp_pair_free(client);
    sp_pair_free(server);

    server = sp_pair_new(sctx, NULL, NULL);
    client = sp_pair_new(without, "localhost", NULL);
    ok(handshake(client, server), "shared creds: without NPN: handshake");
    check_node_answer(client, server, "shared creds: without NPN");
    sp_pair_free(client);
    sp_pair_free(server);

    sp_ctx_unref(without);
    sp_ctx_unref(with);
    sp_ctx_unref(sctx);
    ok(error_queue_empty(), "shared creds: error queue empty");
}


/* The longest names travel intact, by ALPN and by NPN. */
static void
test_long_names(void)
{
    static const struct {
        const char   *what;
        int         (*set)(sp_ctx *, const char *const *, size_t);
        const char *(*get)(const sp_pair *);
    } ways[] = {
        { "ALPN", sp_ctx_set_alpn, sp_pair_alpn_protocol },
        { "NPN", sp_ctx_set_npn, sp_pair_npn_protocol },
    };

    size_t       k;
    sp_ctx      *sctx, *cctx;
    sp_pair     *server, *client;
    char         name[256];
    const char  *list[1];

    memset(name, 'p', 255);
    name[255] = '\0';
    list[0] = name;

    for (k = 0; k < 2; k++) {
        /* fresh contexts each way: a context that made pairs is frozen */
        sctx = ctx_for(SP_SERVER, "server-ec", NULL);
        cctx = client_ctx(SP_TLS1_2);
        ways[k].set(sctx, list, 1);
        ways[k].set(cctx, list, 1);

        new_ends(sctx, cctx, &client, &server);
        ok(handshake(client, server), "255-byte %s: handshake", ways[k].what);
        is_str(ways[k].get(server), name,
               tn("255-byte %s: server", ways[k].what));
        is_str(ways[k].get(client), name,
               tn("255-byte %s: client", ways[k].what));
        free_ends(client, server, cctx, sctx);
    }

    ok(error_queue_empty(), "long names: error queue empty");
}


int
main(void)
{
    run_cases(npn_cases, sizeof(npn_cases) / sizeof(npn_cases[0]));
    run_alpn_cases();
    run_cases(both_cases, sizeof(both_cases) / sizeof(both_cases[0]));
    test_invalid_lists();
    test_replace_and_clear();
    test_shared_creds();
    test_long_names();

    return done_testing();
}
