/*
 * SNI through real handshakes (runtime/sni_select.c, runtime/sni.c,
 * runtime/ctx.c): which certificate a server presents for a name, the
 * precedence of exact, wildcard and regex contexts, unknown names, the SNI
 * callback, per-context verification policy, invalid names, and a table of
 * 100,000 contexts sharing one credentials.
 */

#include "pump.h"


#define BIG  100000


/* ---- helpers ----------------------------------------------------------- */

typedef struct {
    const char  *name;
    const char  *base;         /* key/cert of the context */
    const char  *probe;        /* a servername only it matches */
} context_t;


static const context_t  contexts[] = {
    { "a.example.com", "sni-a", "a.example.com" },
    { "*.example.com", "sni-wild", "x.example.com" },
    { "www.example.*", "sni-trail", "www.example.org" },
    { "~^(api|www)\\.example\\.net$", "sni-re", "api.example.net" },
};

#define NCONTEXTS  (sizeof(contexts) / sizeof(contexts[0]))


static const char *
vname(int version)
{
    return version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2";
}


/* Adds `name` with fresh credentials from `base`; the context owns them. */

static int
add_context(sp_ctx *sctx, const char *name, const char *base, const char *ca)
{
    int        rc;
    sp_creds  *creds;

    creds = creds_for(base, ca);
    if (creds == NULL) {
        return SP_ERR_LOAD;
    }

    rc = sp_ctx_add_context(sctx, name, creds);
    if (rc != SP_OK) {
        diag("add_context %s: %s", name, sp_ctx_error(sctx));
    }

    sp_creds_unref(creds);

    return rc;
}


/* The server of the precedence tests: default server-ec, four contexts. */

static sp_ctx *
sni_server(void)
{
    int      bad = 0;
    size_t   i;
    sp_ctx  *sctx;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);

    for (i = 0; i < NCONTEXTS; i++) {
        if (add_context(sctx, contexts[i].name, contexts[i].base, NULL)
            != SP_OK)
        {
            bad++;
        }
    }

    is_int(bad, 0, "SNI server: every context added");

    return sctx;
}


/*
 * A client context trusting ca.crt at one protocol version, with an
 * optional certificate of its own and reject_unauthorized as given.
 */

static sp_ctx *
client_ctx(int version, const char *base, int reject)
{
    sp_ctx  *ctx;

    ctx = client_for(base, "ca.crt", version);
    if (ctx != NULL) {
        sp_ctx_set_reject_unauthorized(ctx, reject);
    }

    return ctx;
}


/*
 * A client with `base` as its identity (NULL: none), which does not check
 * the server, to `servername` on sctx: the server's error is `err` (SP_OK:
 * none), or the test says what it was.  The client's context and the
 * pairs are left for the test to look at, then try_end().
 */
static void
try_client(sp_ctx *sctx, int version, const char *base,
    const char *servername, int err, const char *title, sp_ctx **cctx,
    sp_pair **client, sp_pair **server)
{
    *cctx = client_ctx(version, base, 0);
    sni_connect(sctx, *cctx, servername, client, server);

    if (!ok(sp_pair_error(*server) == err, "%s: server %s", title,
            sp_strerror(err)))
    {
        diag("server: %d %s", sp_pair_error(*server),
             sp_pair_error_message(*server));
    }
}


/* The error queue is empty; the try's pairs and client context go. */
static void
try_end(const char *title, sp_ctx *cctx, sp_pair *client, sp_pair *server)
{
    ok(error_queue_empty(), "%s: error queue empty", title);
    free_ends(client, server, cctx, NULL);
}


static int
str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}


/* ---- lifetime of the selected credentials ------------------------------- */

/*
 * The context owns its SNI credentials once the creator lets go; a pair
 * that selected them borrows them for its life only.  Several pairs in turn
 * (and two at once) must leave them, and the default credentials, exactly
 * as they were: ASan/LSan see any reference too many or too few.
 */

static void
test_creds_lifetime(void)
{
    int        i;
    sp_ctx    *sctx, *cctx;
    sp_pair   *client[2], *server[2];

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    is_int(add_context(sctx, "a.example.com", "sni-a", NULL), SP_OK,
           "lifetime: context added, creator let go");
    cctx = client_ctx(SP_TLS1_3, NULL, 1);

    for (i = 0; i < 3; i++) {
        ok(sni_connect(sctx, cctx, "a.example.com", &client[0], &server[0]),
           "lifetime: handshake %d to the context", i + 1);
        ok(peer_cn_is(client[0], "a.example.com"),
           "lifetime: handshake %d got its certificate", i + 1);
        sp_pair_free(client[0]);
        sp_pair_free(server[0]);
    }

    ok(sp_ctx_find_context(sctx, "a.example.com") != NULL,
       "lifetime: the context's credentials outlive its pairs");

    /* two pairs at once, freed in the other order */
    for (i = 0; i < 2; i++) {
        ok(sni_connect(sctx, cctx, "a.example.com", &client[i], &server[i]),
           "lifetime: concurrent handshake %d", i + 1);
    }

    sp_pair_free(server[0]);
    sp_pair_free(client[0]);

    ok(sp_clear_write(server[1], "still", 5) == 5,
       "lifetime: the other pair still writes");
    pump(client[1], server[1]);
    sp_pair_free(server[1]);
    sp_pair_free(client[1]);

    ok(sni_connect(sctx, cctx, "localhost", &client[0], &server[0]),
       "lifetime: the default credentials still serve");
    is_str(sp_pair_context_name(server[0]), NULL, "lifetime: by default");
    sp_pair_free(client[0]);
    sp_pair_free(server[0]);

    ok(error_queue_empty(), "lifetime: error queue empty");
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* ---- a final dot, and names of empty labels ---------------------------- */

/*
 * A name served is reported without its final dot; a refused one is not
 * reported.
 */
typedef struct {
    const char  *sent;         /* what the client sends */
    int          served;       /* 0: refused */
    const char  *context;      /* the context applied */
} dot_case_t;


static const dot_case_t  dot_cases[] = {
    /* one final dot is the same name: it selects the same context */
    { "a.example.com.", 1, "a.example.com" },
    { "A.EXAMPLE.COM.", 1, "a.example.com" },
    { "x.example.com.", 1, "*.example.com" },
    { "www.example.org.", 1, "www.example.*" },
    { "api.example.net.", 1, "~^(api|www)\\.example\\.net$" },
    { "unknown.org.", 1, NULL },

    /* only dots, or an empty label: refused like any invalid name */
    { ".", 0, NULL },
    { "..", 0, NULL },
    { "a.example.com..", 0, NULL },
    { ".a.example.com", 0, NULL },
    { "a..example.com", 0, NULL },
};


static void
test_trailing_dot(sp_ctx *sctx, int version)
{
    int                secure;
    char               title[128], undotted[128];
    size_t             i;
    sp_ctx            *cctx;
    sp_pair           *client, *server;
    const dot_case_t  *dc;

    cctx = client_ctx(version, NULL, 0);

    for (i = 0; i < sizeof(dot_cases) / sizeof(dot_cases[0]); i++) {
        dc = &dot_cases[i];

        snprintf(title, sizeof(title), "%s \"%s\"", vname(version), dc->sent);

        secure = sni_connect(sctx, cctx, dc->sent, &client, &server);

        if (dc->served) {
            snprintf(undotted, sizeof(undotted), "%.*s",
                     (int) strlen(dc->sent) - 1, dc->sent);

            ok(secure, "%s: handshake", title);
            is_str(sp_pair_servername(server), undotted,
                   "the name without its final dot");
            is_str(sp_pair_context_name(server), dc->context,
                   "the context of the name without its dot");

        } else {
            ok(!secure, "%s: refused", title);
            is_int(sp_pair_error(server), SP_ERR_HANDSHAKE, "handshake error");
            is_int(sp_pair_alert_sent(server), 112 /* unrecognized_name */,
                   "unrecognized_name alert");
            ok(strstr(sp_pair_error_message(server), "empty label") != NULL,
               "says why: %s", sp_pair_error_message(server));
            is_str(sp_pair_servername(server), NULL, "no name reported");
        }

        ok(error_queue_empty(), "%s: error queue empty", title);

        sp_pair_free(client);
        sp_pair_free(server);
    }

    sp_ctx_unref(cctx);
}


/* ---- precedence through handshakes -------------------------------------- */

typedef struct {
    const char  *servername;   /* what the client sends, NULL: no SNI */
    const char  *context;      /* sp_pair_context_name(), NULL: default */
    const char  *cn;           /* the certificate the client gets */
    int          verifies;     /* the certificate matches the name */
} sni_case_t;


static const sni_case_t  sni_cases[] = {
    /* exact */
    { "a.example.com", "a.example.com", "a.example.com", 1 },
    { "A.EXAMPLE.COM", "a.example.com", "a.example.com", 1 },

    /* leading wildcard: one label or more in front */
    { "x.example.com", "*.example.com", "*.example.com", 1 },
    { "deep.x.example.com", "*.example.com", "*.example.com", 0 },
    { "X.Example.COM", "*.example.com", "*.example.com", 1 },

    /* both wildcards match: the leading one wins */
    { "www.example.com", "*.example.com", "*.example.com", 1 },

    /* trailing wildcard */
    { "www.example.org", "www.example.*", "www.example.net", 0 },
    { "www.example.co.uk", "www.example.*", "www.example.net", 0 },

    /* both the trailing wildcard and the regex match: wildcard wins */
    { "www.example.net", "www.example.*", "www.example.net", 1 },

    /* only the regex matches, whatever the case */
    { "api.example.net", "~^(api|www)\\.example\\.net$", "api.example.net",
      1 },
    { "API.Example.NET", "~^(api|www)\\.example\\.net$", "api.example.net",
      1 },

    /* nothing matches: the default credentials */
    { "unknown.org", NULL, "localhost", 0 },
    { "example.com", NULL, "localhost", 0 },
    { "www.example", NULL, "localhost", 0 },
    { "xapi.example.net", NULL, "localhost", 0 },
    { "localhost", NULL, "localhost", 1 },
    { NULL, NULL, "localhost", 1 },
};


static void
test_precedence(sp_ctx *sctx, int version)
{
    char               title[128], buf[16];
    size_t             i;
    sp_ctx            *strict, *lax, *cctx;
    sp_pair           *client, *server;
    const sni_case_t  *sc;

    strict = client_ctx(version, NULL, 1);
    lax = client_ctx(version, NULL, 0);

    for (i = 0; i < sizeof(sni_cases) / sizeof(sni_cases[0]); i++) {
        sc = &sni_cases[i];

        snprintf(title, sizeof(title), "%s %s", vname(version),
                 sc->servername ? sc->servername : "(no SNI)");

        /* a name the certificate matches must pass a strict client */
        cctx = sc->verifies ? strict : lax;

        if (!ok(sni_connect(sctx, cctx, sc->servername, &client, &server),
                "%s: handshake", title))
        {
            diag("client: %s", sp_pair_error_message(client));
            diag("server: %s", sp_pair_error_message(server));
        }

        is_str(sp_pair_protocol(server), vname(version), "protocol");
        ok(peer_cn_is(client, sc->cn), "%s: client gets \"%s\"", title,
           sc->cn);

        if (!ok(str_eq(sp_pair_context_name(server), sc->context),
                "%s: context %s", title, sc->context ? sc->context
                                                     : "default"))
        {
            diag("got %s", sp_pair_context_name(server)
                           ? sp_pair_context_name(server) : "(null)");
        }

        is_str(sp_pair_servername(server), sc->servername,
               "server saw the name as sent");
        is_str(sp_pair_servername(client), sc->servername,
               "client asked for it");
        is_int(sp_pair_authorized(client), sc->verifies,
               sc->verifies ? "client authorized the server"
                            : "name mismatch: client did not authorize");
        /* and the selected credentials carry data */
        ok(sp_clear_write(server, "hello", 5) == 5, "%s: server writes",
           title);
        pump(client, server);
        ok(read_all(client, buf, sizeof(buf)) == 5
           && memcmp(buf, "hello", 5) == 0, "%s: client reads", title);

        ok(error_queue_empty(), "%s: error queue empty", title);

        sp_pair_free(client);
        sp_pair_free(server);
    }

    sp_ctx_unref(strict);
    sp_ctx_unref(lax);
}


/* sp_ctx_find_context agrees with the handshakes, without one. */

static void
test_find_context(void)
{
    size_t             i;
    sp_ctx            *sctx;
    size_t             k;
    sp_creds          *want[NCONTEXTS], *found;
    const sni_case_t  *sc;

    sctx = sni_server();

    for (i = 0; i < NCONTEXTS; i++) {
        want[i] = sp_ctx_find_context(sctx, contexts[i].probe);
        ok(want[i] != NULL, "find_context: %s has credentials",
           contexts[i].name);
    }

    ok(want[0] != want[1] && want[1] != want[2] && want[2] != want[3],
       "find_context: four distinct credentials");

    for (i = 0; i < sizeof(sni_cases) / sizeof(sni_cases[0]); i++) {
        sc = &sni_cases[i];

        if (sc->servername == NULL) {
            continue;
        }

        found = sp_ctx_find_context(sctx, sc->servername);

        if (sc->context == NULL) {
            ok(found == NULL, "find_context(%s): none", sc->servername);

        } else {
            for (k = 0; k < NCONTEXTS; k++) {
                if (strcmp(contexts[k].name, sc->context) == 0) {
                    break;
                }
            }

            ok(k < NCONTEXTS && found == want[k], "find_context(%s): %s",
               sc->servername, sc->context);
        }
    }

    ok(sp_ctx_find_context(sctx, NULL) == NULL, "find_context(NULL): none");
    ok(error_queue_empty(), "find_context: error queue empty");

    sp_ctx_unref(sctx);
}


/* ---- unknown names rejected --------------------------------------------- */

static void
test_reject_unknown(int version)
{
    char          title[128];
    size_t        i, sent;
    sp_ctx       *sctx, *cctx;
    sp_pair      *client, *server;
    const char   *msg, *words;

    /* what the client sends (NULL: no SNI); the message names it */
    static const char  *unknown[] = { "unknown.org", "example.com", NULL };

    sctx = sni_server();
    is_int(sp_ctx_set_reject_unknown_name(sctx, 1), SP_OK,
           "reject unknown names");
    cctx = client_ctx(version, NULL, 0);

    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        snprintf(title, sizeof(title), "reject %s %s", vname(version),
                 unknown[i] ? unknown[i] : "(no SNI)");
        words = unknown[i] ? unknown[i] : "no server name";

        server = sp_pair_new(sctx, NULL, NULL);
        client = sp_pair_new(cctx, unknown[i], NULL);

        /* the ClientHello in, then whatever the server answers */
        move_records(client, server, 0);

        is_int(sp_pair_error(server), SP_ERR_UNKNOWN_NAME,
               "server: unknown name");
        ok(sp_pair_events(server) & SP_EVENT_ERROR, "%s: error event",
           title);
        is_int(sp_pair_alert_sent(server), 112,
               "server sent unrecognized_name");

        msg = sp_pair_error_message(server);
        ok(strstr(msg, words) != NULL, "%s: message says \"%s\"", title,
           words);
        diag("%s", msg);

        sent = move_records(server, client, 0);
        ok(sent > 0 && sent < 100,
           "%s: server sent %zu bytes, an alert and no certificate", title,
           sent);
        is_int(sp_enc_out_pending(server), 0, "nothing more to send");
        ok(sp_pair_state(server) == SP_STATE_CLOSED, "%s: server closed",
           title);

        pump(client, server);
        is_int(sp_pair_error(client), SP_ERR_PEER_ALERT,
               "client: peer alert");
        is_int(sp_pair_alert_received(client), 112,
               "client received unrecognized_name");
        ok(peer_cn_is(client, NULL), "%s: client saw no certificate", title);
        ok(error_queue_empty(), "%s: error queue empty", title);

        sp_pair_free(client);
        sp_pair_free(server);
    }

    /* known names are still served */
    ok(sni_connect(sctx, cctx, "x.example.com", &client, &server),
       "reject %s: a known name is served", vname(version));
    is_str(sp_pair_context_name(server), "*.example.com", "by its context");
    sp_pair_free(client);
    sp_pair_free(server);

    ok(error_queue_empty(), "reject: error queue empty");
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* ---- the SNI callback --------------------------------------------------- */

typedef struct {
    sp_creds    *cb;           /* for cb.example.com */
    sp_creds    *override;     /* for a.example.com, when use_override */
    int          use_override;
    int          calls;
    char         last[256];
    sp_pair     *pair;         /* the pair of the last call */
} sni_cb_t;


static sp_creds *
sni_cb(sp_pair *pair, const char *servername, void *arg)
{
    sni_cb_t  *s = arg;

    s->calls++;
    s->pair = pair;
    snprintf(s->last, sizeof(s->last), "%s", servername);

    if (strcmp(servername, "cb.example.com") == 0) {
        return s->cb;
    }

    if (s->use_override && strcmp(servername, "a.example.com") == 0) {
        return s->override;
    }

    return NULL;
}


typedef struct {
    const char  *servername;
    int          override;
    const char  *cn;
    const char  *table;        /* the table's answer, when it decides */
    int          from_table;
} cb_case_t;


static const cb_case_t  cb_cases[] = {
    /* the callback's own; the table would have said *.example.com */
    { "cb.example.com", 0, "api.example.net", NULL, 0 },

    /* NULL from the callback: the table decides */
    { "a.example.com", 0, "a.example.com", "a.example.com", 1 },
    { "x.example.com", 0, "*.example.com", "*.example.com", 1 },
    { "unknown.org", 0, "localhost", NULL, 1 },

    /* the callback takes precedence even over an exact context */
    { "a.example.com", 1, "www.example.net", NULL, 0 },
};


static void
test_callback(int version)
{
    char              title[128];
    size_t            i;
    sp_ctx           *sctx, *cctx;
    sp_pair          *client, *server;
    sni_cb_t          s;
    const cb_case_t  *cc;

    memset(&s, 0, sizeof(s));
    s.cb = creds_for("sni-re", NULL);
    s.override = creds_for("sni-trail", NULL);

    sctx = sni_server();
    sp_ctx_set_sni_callback(sctx, sni_cb, &s);
    cctx = client_ctx(version, NULL, 0);

    for (i = 0; i < sizeof(cb_cases) / sizeof(cb_cases[0]); i++) {
        cc = &cb_cases[i];

        snprintf(title, sizeof(title), "callback %s %s%s", vname(version),
                 cc->servername, cc->override ? " (overridden)" : "");

        s.use_override = cc->override;
        s.calls = 0;

        ok(sni_connect(sctx, cctx, cc->servername, &client, &server),
           "%s: handshake", title);
        is_int(s.calls, 1, "callback asked once");
        is_str(s.last, cc->servername, "with the name sent");
        ok(s.pair == server, "%s: asked for the server pair", title);
        ok(peer_cn_is(client, cc->cn), "%s: client gets \"%s\"", title,
           cc->cn);

        if (cc->from_table) {
            ok(str_eq(sp_pair_context_name(server), cc->table),
               "%s: context %s", title, cc->table ? cc->table : "default");

        } else {
            /* the header leaves the name of a callback's choice open */
            diag("%s: context name %s", title,
                 sp_pair_context_name(server) ? sp_pair_context_name(server)
                                              : "(null)");
        }

        ok(error_queue_empty(), "%s: error queue empty", title);

        sp_pair_free(client);
        sp_pair_free(server);
    }

    /* without SNI the table and the callback have nothing to decide */
    s.use_override = 0;
    ok(sni_connect(sctx, cctx, NULL, &client, &server),
       "callback %s no SNI: handshake", vname(version));
    ok(peer_cn_is(client, "localhost"), "no SNI: default certificate");
    is_str(sp_pair_context_name(server), NULL, "no SNI: default context");
    sp_pair_free(client);
    sp_pair_free(server);

    /* the callback's answer also satisfies reject_unknown_name */
    sp_ctx_set_reject_unknown_name(sctx, 1);
    ok(sni_connect(sctx, cctx, "cb.example.com", &client, &server),
       "callback %s: its name passes reject_unknown_name", vname(version));
    ok(peer_cn_is(client, "api.example.net"), "with its certificate");
    sp_pair_free(client);
    sp_pair_free(server);

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);

    /* the callback's credentials are borrowed: still ours to release */
    sp_creds_unref(s.cb);
    sp_creds_unref(s.override);

    ok(error_queue_empty(), "callback: error queue empty");
}


/* ---- per-context verification policy ------------------------------------ */

/*
 * secure.example.com  requests and insists, trusts only ca2
 * other.example.com   requests and insists, trusts only ca
 * ask.example.com     requests, does not insist, trusts only ca2
 * anything else       the server's default: does not ask
 */

typedef struct {
    const char  *client;       /* the client's key/cert, NULL: none */
    const char  *servername;
    int          err;          /* the server's error */
    int          authorized;
    const char  *peer_cn;      /* the client certificate the server saw */
} policy_case_t;


static const policy_case_t  policy_cases[] = {
    { "client", "secure.example.com", SP_ERR_UNAUTHORIZED, 0, NULL },
    { "client", "localhost", SP_OK, 0, NULL },
    { "client", "other.example.com", SP_OK, 1, "client" },
    { "client", "ask.example.com", SP_OK, 0, "client" },

    { "client-wrongca", "secure.example.com", SP_OK, 1, "wrong CA client" },
    { "client-wrongca", "other.example.com", SP_ERR_UNAUTHORIZED, 0, NULL },
    { "client-wrongca", "ask.example.com", SP_OK, 1, "wrong CA client" },
    { "client-wrongca", "localhost", SP_OK, 0, NULL },

    /* verified under one context, then judged afresh under the other */
    { "client-wrongca", "secure.example.com", SP_OK, 1, "wrong CA client" },
    { "client-wrongca", "other.example.com", SP_ERR_UNAUTHORIZED, 0, NULL },
    { "client", "other.example.com", SP_OK, 1, "client" },
    { "client", "secure.example.com", SP_ERR_UNAUTHORIZED, 0, NULL },

    { NULL, "secure.example.com", SP_ERR_UNAUTHORIZED, 0, NULL },
    { NULL, "ask.example.com", SP_OK, 0, NULL },
    { NULL, "localhost", SP_OK, 0, NULL },
};


static sp_creds *
policy_creds(const char *base, const char *ca, int reject)
{
    sp_creds  *creds;

    creds = creds_for(base, ca);
    if (creds != NULL) {
        sp_creds_set_request_cert(creds, 1);
        sp_creds_set_reject_unauthorized(creds, reject);
    }

    return creds;
}


static void
test_policy(int version)
{
    char                  title[128], buf[16];
    size_t                i;
    sp_ctx               *sctx, *cctx;
    sp_pair              *client, *server;
    sp_creds             *creds;
    const policy_case_t  *pc;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);

    creds = policy_creds("sni-a", "ca2.crt", 1);
    is_int(sp_ctx_add_context(sctx, "secure.example.com", creds), SP_OK,
           "policy: secure context");
    sp_creds_unref(creds);

    creds = policy_creds("sni-wild", "ca.crt", 1);
    is_int(sp_ctx_add_context(sctx, "other.example.com", creds), SP_OK,
           "policy: other context");
    sp_creds_unref(creds);

    creds = policy_creds("sni-trail", "ca2.crt", 0);
    is_int(sp_ctx_add_context(sctx, "ask.example.com", creds), SP_OK,
           "policy: ask context");
    sp_creds_unref(creds);

    for (i = 0; i < sizeof(policy_cases) / sizeof(policy_cases[0]); i++) {
        pc = &policy_cases[i];

        snprintf(title, sizeof(title), "policy %s %s -> %s", vname(version),
                 pc->client ? pc->client : "(no cert)", pc->servername);

        try_client(sctx, version, pc->client, pc->servername, pc->err, title,
                   &cctx, &client, &server);

        if (pc->err == SP_OK) {
            ok(sp_pair_state(server) & SP_STATE_SECURE, "%s: secure", title);
            is_int(sp_pair_authorized(server), pc->authorized,
                   pc->authorized ? "authorized" : "not authorized");
            ok(peer_cn_is(server, pc->peer_cn), "%s: server saw %s", title,
               pc->peer_cn ? pc->peer_cn : "no certificate");

            if (!pc->authorized && pc->peer_cn != NULL) {
                ok(sp_pair_authorization_error(server) != NULL,
                   "%s: authorization error %s", title,
                   sp_pair_authorization_error(server));

            } else if (!pc->authorized
                       && strcmp(pc->servername, "localhost") == 0)
            {
                is_str(sp_pair_authorization_error(server), NULL,
                       "not asked: no authorization error");
            }

        } else {
            /* not one byte of the client's gets through */
            sp_clear_write(client, "data", 4);
            pump(client, server);
            ok(read_all(server, buf, sizeof(buf)) == 0,
               "%s: no data reaches the server", title);
            is_int(sp_pair_authorized(server), 0, "not authorized");
            ok(sp_pair_authorization_error(server) != NULL,
               "%s: authorization error %s", title,
               sp_pair_authorization_error(server));
            ok(sp_pair_alert_sent(server) >= 0, "%s: server sent alert %d",
               title, sp_pair_alert_sent(server));
            ok(sp_pair_error(client) != SP_OK,
               "%s: the client learns it (%s)", title,
               sp_pair_error_message(client));
        }

        try_end(title, cctx, client, server);
    }

    sp_ctx_unref(sctx);
}


/* ---- per-context ciphers ------------------------------------------------ */

/* The selected context's cipher list and suites are the ones used. */

static void
test_context_ciphers(void)
{
    static const struct {
        int          version;
        const char  *cipher;
        const char  *what;
    } used[] = {
        { SP_TLS1_2, "ECDHE-ECDSA-CHACHA20-POLY1305",
          "the context's cipher list is used" },
        { SP_TLS1_3, "TLS_CHACHA20_POLY1305_SHA256",
          "the context's suites are used" },
    };

    size_t     i;
    sp_ctx    *sctx, *cctx;
    sp_pair   *client, *server;
    sp_creds  *creds;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);

    creds = creds_for("sni-a", NULL);
    sp_creds_set_ciphers(creds, "ECDHE-ECDSA-CHACHA20-POLY1305");
    sp_creds_set_ciphersuites(creds, "TLS_CHACHA20_POLY1305_SHA256");
    is_int(sp_ctx_add_context(sctx, "a.example.com", creds), SP_OK,
           "context with its own ciphers");
    sp_creds_unref(creds);

    /*
     * Also in TLS 1.3, where OpenSSL picks the suite before the servername
     * callback runs: the selection must happen early enough for it.
     */
    for (i = 0; i < 2; i++) {
        cctx = client_ctx(used[i].version, NULL, 1);
        ok(sni_connect(sctx, cctx, "a.example.com", &client, &server),
           "ciphers %s: handshake", vname(used[i].version));
        is_str(sp_pair_cipher(server), used[i].cipher, used[i].what);
        free_ends(client, server, cctx, NULL);
    }

    ok(error_queue_empty(), "context ciphers: error queue empty");
    sp_ctx_unref(sctx);
}


/* ---- contexts from the default's own key and certificate ---------------- */

/*
 * Contexts loaded from the same files as the default share its parsed key
 * and certificate, so choosing them installs only what differs: the CA
 * store (and the names asked for), the policy, ciphers, versions.  Each
 * must apply, and none may stay behind for the next pair.
 *
 * default (localhost)  server-ec, trusts ca, does not ask
 * ca2.example.com      server-ec, trusts only ca2, insists
 * same.example.com     server-ec, trusts ca (the default's CAs), insists
 * system.example.com   server-ec, trusts the system's CAs, asks
 * chacha.example.com   server-ec, its own TLS 1.2 cipher list
 * old.example.com      server-ec, at most TLS 1.2
 */

typedef struct {
    const char  *client;       /* the client's key/cert, NULL: none */
    const char  *servername;
    int          version;      /* the client's; 0: any */
    int          err;          /* the server's error */
    int          authorized;
    const char  *protocol;     /* negotiated, NULL: not checked */
    const char  *cipher;       /* negotiated, NULL: not checked */
} shared_case_t;


static const shared_case_t  shared_cases[] = {
    { "client", "ca2.example.com", 0, SP_ERR_UNAUTHORIZED, 0, NULL, NULL },
    { "client-wrongca", "ca2.example.com", 0, SP_OK, 1, NULL, NULL },
    { "client", "localhost", 0, SP_OK, 0, "TLSv1.3", NULL },
    { "client", "same.example.com", 0, SP_OK, 1, NULL, NULL },
    { "client-wrongca", "same.example.com", 0, SP_ERR_UNAUTHORIZED, 0, NULL,
      NULL },
    /* the test CA is not the system's: asked, seen, not authorized */
    { "client", "system.example.com", 0, SP_OK, 0, NULL, NULL },
    { "client", "ca2.example.com", 0, SP_ERR_UNAUTHORIZED, 0, NULL, NULL },
    { NULL, "chacha.example.com", SP_TLS1_2, SP_OK, 0, "TLSv1.2",
      "ECDHE-ECDSA-CHACHA20-POLY1305" },
    { NULL, "localhost", SP_TLS1_2, SP_OK, 0, "TLSv1.2",
      "ECDHE-ECDSA-AES256-GCM-SHA384" },
    { NULL, "old.example.com", 0, SP_OK, 0, "TLSv1.2", NULL },
    { NULL, "localhost", 0, SP_OK, 0, "TLSv1.3", NULL },
    { "client", "same.example.com", 0, SP_OK, 1, "TLSv1.3", NULL },
};


static void
add_shared(sp_ctx *sctx, const char *name, const char *ca, int request,
    int reject)
{
    sp_creds  *creds;

    creds = creds_for("server-ec", ca);
    if (creds == NULL) {
        return;
    }

    sp_creds_set_request_cert(creds, request);
    sp_creds_set_reject_unauthorized(creds, reject);

    if (strcmp(name, "chacha.example.com") == 0) {
        sp_creds_set_ciphers(creds, "ECDHE-ECDSA-CHACHA20-POLY1305");
    }

    if (strcmp(name, "old.example.com") == 0) {
        sp_creds_set_versions(creds, 0, SP_TLS1_2);
    }

    ok(sp_ctx_add_context(sctx, name, creds) == SP_OK, "shared: add %s",
       name);
    sp_creds_unref(creds);
}


static void
test_shared_default(void)
{
    char                  title[128];
    size_t                i;
    sp_ctx               *sctx, *cctx;
    sp_pair              *client, *server;
    sp_creds             *creds;
    const shared_case_t  *sc;

    creds = creds_for("server-ec", "ca.crt");
    sp_creds_set_ciphers(creds, "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305");
    sctx = sp_ctx_new(SP_SERVER, creds);
    sp_creds_unref(creds);

    add_shared(sctx, "ca2.example.com", "ca2.crt", 1, 1);
    add_shared(sctx, "same.example.com", "ca.crt", 1, 1);
    add_shared(sctx, "system.example.com", NULL, 1, 0);
    add_shared(sctx, "chacha.example.com", "ca.crt", -1, -1);
    add_shared(sctx, "old.example.com", "ca.crt", -1, -1);

    for (i = 0; i < sizeof(shared_cases) / sizeof(shared_cases[0]); i++) {
        sc = &shared_cases[i];

        snprintf(title, sizeof(title), "shared %s -> %s",
                 sc->client ? sc->client : "(no cert)", sc->servername);

        try_client(sctx, sc->version, sc->client, sc->servername, sc->err,
                   title, &cctx, &client, &server);

        if (sc->err == SP_OK) {
            ok(peer_cn_is(client, "localhost"), "%s: the default's "
               "certificate", title);
            is_int(sp_pair_authorized(server), sc->authorized,
                   sc->authorized ? "authorized" : "not authorized");

            if (strcmp(sc->servername, "system.example.com") == 0) {
                ok(peer_cn_is(server, "client"), "%s: asked and got it",
                   title);
                ok(sp_pair_authorization_error(server) != NULL,
                   "%s: judged by other CAs: %s", title,
                   sp_pair_authorization_error(server));
            }

            if (sc->protocol) {
                ok(str_eq(sp_pair_protocol(server), sc->protocol),
                   "%s: %s", title, sp_pair_protocol(server));
            }

            if (sc->cipher) {
                ok(str_eq(sp_pair_cipher(server), sc->cipher), "%s: %s",
                   title, sp_pair_cipher(server));
            }
        }

        try_end(title, cctx, client, server);
    }

    sp_ctx_unref(sctx);
}


/* ---- invalid names ------------------------------------------------------ */

typedef struct {
    const char  *name;
    const char  *words[2];     /* the reason, in words */
} invalid_case_t;


static const invalid_case_t  invalid_cases[] = {
    { "foo*bar", { "foo*bar", "allowed only" } },
    { "*", { "\"*\"", "lone" } },
    { "a.*.com", { "a.*.com", "allowed only" } },
    { "", { "empty", NULL } },
    { "~(", { "invalid regex", "~(" } },
    { "~", { "invalid regex", "empty" } },
    { "*.*", { "*.*", "both" } },
    { "a..b", { "a..b", "empty label" } },
    { "a b.com", { "a b.com", "invalid character" } },
    { "a.example.com", { "duplicate", "a.example.com" } },
    { "A.Example.COM", { "duplicate", "a.example.com" } },
    { "*.example.com", { "duplicate", "*.example.com" } },
    { "~^(api|www)\\.example\\.net$", { "duplicate", "example" } },
};


static void
test_invalid_names(void)
{
    int        rc;
    size_t     i, k;
    sp_ctx    *sctx, *cctx;
    sp_creds  *creds, *a;

    sctx = sni_server();
    a = sp_ctx_find_context(sctx, "a.example.com");
    creds = creds_for("sni-a", NULL);

    for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        rc = sp_ctx_add_context(sctx, invalid_cases[i].name, creds);
        is_int(rc, SP_ERR_INVALID, invalid_cases[i].name);

        for (k = 0; k < 2 && invalid_cases[i].words[k] != NULL; k++) {
            ok(strstr(sp_ctx_error(sctx), invalid_cases[i].words[k]) != NULL,
               "\"%s\": message says \"%s\"", invalid_cases[i].name,
               invalid_cases[i].words[k]);
        }

        diag("%s", sp_ctx_error(sctx));
        ok(error_queue_empty(), "\"%s\": error queue empty",
           invalid_cases[i].name);
    }

    is_int(sp_ctx_add_context(sctx, NULL, creds), SP_ERR_INVALID,
           "NULL name refused");
    is_int(sp_ctx_add_context(sctx, "b.example.com", NULL), SP_ERR_INVALID,
           "NULL credentials refused");

    /* a client has no SNI contexts */
    cctx = ctx_for(SP_CLIENT, NULL, "ca.crt");
    is_int(sp_ctx_add_context(cctx, "a.example.com", creds), SP_ERR_INVALID,
           "a client context refuses SNI contexts");
    ok(sp_ctx_error(cctx)[0] != '\0', "message: %s", sp_ctx_error(cctx));
    sp_ctx_unref(cctx);

    /* the refusals changed nothing */
    ok(a != NULL && sp_ctx_find_context(sctx, "a.example.com") == a,
       "a.example.com still has its first credentials");
    ok(sp_ctx_find_context(sctx, "foo*bar") == NULL, "foo*bar not added");

    /* and a good name still goes in after them */
    is_int(sp_ctx_add_context(sctx, "b.example.com", creds), SP_OK,
           "a good name after the refusals");
    ok(sp_ctx_find_context(sctx, "b.example.com") == creds,
       "and is found");

    sp_creds_unref(creds);
    sp_ctx_unref(sctx);
}


/* ---- 100,000 contexts, one credentials ---------------------------------- */

static void
test_many(void)
{
    int        bad;
    char       name[64];
    size_t     i, k;
    sp_ctx    *sctx, *cctx;
    sp_pair   *client, *server;
    sp_creds  *shared, *other;
    unsigned   pick[3];

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    shared = creds_for("sni-a", NULL);
    other = creds_for("sni-wild", NULL);

    bad = 0;
    for (i = 0; i < BIG; i++) {
        snprintf(name, sizeof(name), "h%zu.example.org", i);
        if (sp_ctx_add_context(sctx, name, shared) != SP_OK) {
            bad++;
        }
    }

    is_int(bad, 0, "100,000 names added to one credentials");
    is_int(sp_ctx_add_context(sctx, "*.example.org", other), SP_OK,
           "and a wildcard beside them");

    /* the table holds the credentials: we let go */
    sp_creds_unref(shared);
    sp_creds_unref(other);

    ok(sp_ctx_find_context(sctx, "h0.example.org") != NULL,
       "first name found");
    ok(sp_ctx_find_context(sctx, "h0.example.org")
       == sp_ctx_find_context(sctx, "H99999.EXAMPLE.ORG"),
       "last name found, same credentials as the first");
    ok(sp_ctx_find_context(sctx, "h100000.example.org")
       == sp_ctx_find_context(sctx, "nope.example.org")
       && sp_ctx_find_context(sctx, "nope.example.org")
          != sp_ctx_find_context(sctx, "h0.example.org"),
       "a name past the last goes to the wildcard");
    ok(sp_ctx_find_context(sctx, "h1.example.com") == NULL,
       "another domain matches nothing");

    srand(20240611);
    pick[0] = 0;
    pick[1] = BIG - 1;
    pick[2] = (unsigned) rand() % BIG;

    for (k = 0; k < 2; k++) {
        cctx = client_ctx(k ? SP_TLS1_3 : SP_TLS1_2, NULL, 0);

        for (i = 0; i < 3; i++) {
            snprintf(name, sizeof(name), "h%u.example.org", pick[i]);

            ok(sni_connect(sctx, cctx, name, &client, &server),
               "many %s: handshake to %s", vname(k ? SP_TLS1_3 : SP_TLS1_2),
               name);
            is_str(sp_pair_context_name(server), name, "context picked");
            ok(peer_cn_is(client, "a.example.com"), "%s: shared certificate",
               name);

            sp_pair_free(client);
            sp_pair_free(server);
        }

        ok(sni_connect(sctx, cctx, "h100000.example.org", &client, &server),
           "many: handshake past the last name");
        is_str(sp_pair_context_name(server), "*.example.org",
               "wildcard picked");
        sp_pair_free(client);
        sp_pair_free(server);

        sp_ctx_unref(cctx);
    }

    ok(error_queue_empty(), "many: error queue empty");
    sp_ctx_unref(sctx);
}


/* ---- credentials shared by content -------------------------------------- */

/*
 * Names whose credentials were loaded from the same files with the same
 * settings find one credentials to share; another policy, CA or key does
 * not.
 */

static void
test_same_creds(void)
{
    sp_ctx    *sctx;
    sp_creds  *first, *again, *strict, *other_ca, *other_key;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);

    first = creds_for("sni-a", NULL);
    again = creds_for("sni-a", NULL);
    strict = creds_for("sni-a", NULL);
    other_ca = creds_for("sni-a", "ca.crt");
    other_key = creds_for("sni-wild", NULL);

    sp_creds_set_request_cert(strict, 1);

    ok(sp_ctx_find_same_creds(sctx, first) == NULL,
       "same creds: none before any name");

    is_int(sp_ctx_add_context(sctx, "a.example.com", first), SP_OK,
           "same creds: first name added");

    ok(sp_ctx_find_same_creds(sctx, again) == first,
       "same creds: the same files share the first credentials");
    ok(sp_ctx_find_same_creds(sctx, strict) == NULL,
       "same creds: another policy does not");
    ok(sp_ctx_find_same_creds(sctx, other_ca) == NULL,
       "same creds: another CA does not");
    ok(sp_ctx_find_same_creds(sctx, other_key) == NULL,
       "same creds: another key does not");

    is_int(sp_ctx_add_context(sctx, "b.example.com",
                              sp_ctx_find_same_creds(sctx, again)),
           SP_OK, "same creds: second name added with them");
    ok(sp_ctx_find_context(sctx, "b.example.com") == first,
       "same creds: both names give one credentials");

    /* a refused name leaves nothing behind to share */
    is_int(sp_ctx_add_context(sctx, "b.example.com", other_key),
           SP_ERR_INVALID, "same creds: a duplicate name refused");
    ok(sp_ctx_find_same_creds(sctx, other_key) == NULL,
       "same creds: the refused credentials are not shared");
    finish_creds("same creds", sctx,
                 (sp_creds *[]) { first, again, strict, other_ca, other_key,
                                  NULL });
}


int
main(void)
{
    sp_ctx  *sctx;

    /* no handshake selects SNI credentials in these two */
    test_invalid_names();
    test_find_context();
    test_same_creds();

    test_creds_lifetime();

    sctx = sni_server();
    test_precedence(sctx, SP_TLS1_2);
    test_precedence(sctx, SP_TLS1_3);
    test_trailing_dot(sctx, SP_TLS1_2);
    test_trailing_dot(sctx, SP_TLS1_3);
    sp_ctx_unref(sctx);

    test_reject_unknown(SP_TLS1_2);
    test_reject_unknown(SP_TLS1_3);

    test_callback(SP_TLS1_2);
    test_callback(SP_TLS1_3);

    test_policy(SP_TLS1_2);
    test_policy(SP_TLS1_3);

    test_context_ciphers();
    test_shared_default();
    test_many();

    return done_testing();
}
