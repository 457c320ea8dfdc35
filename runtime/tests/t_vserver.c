/*
 * A pair moved to another server context by the SNI callback
 * (sp_pair_use_ctx, runtime/ctx_move.c), as nginx's virtual servers move
 * a connection: that context's certificate, ALPN, client-certificate
 * policy and SNI table apply; the worker still counts the pair where it
 * was made; sessions resume only into the same session-id context; the
 * call is refused outside the callback and across roles.
 */

#include "pump.h"


static const char *
vname(int version)
{
    return version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2";
}


/*
 * The host's side: names ending in ".b.test" (and "b.test") belong to
 * the virtual server `b`, the others stay.  Records what the move said.
 */
typedef struct {
    sp_ctx      *b;
    sp_ctx      *other;        /* also tried: a context of another role */
    int          moved;
    int          other_rc;
    int          calls;
} vs_t;


static sp_creds *
vs_cb(sp_pair *pair, const char *servername, void *arg)
{
    vs_t    *vs = arg;
    size_t   n = strlen(servername);

    vs->calls++;

    if (vs->other) {
        vs->other_rc = sp_pair_use_ctx(pair, vs->other);
    }

    if (strcmp(servername, "b.test") == 0
        || (n > 7 && strcmp(servername + n - 7, ".b.test") == 0))
    {
        vs->moved = sp_pair_use_ctx(pair, vs->b);
    }

    return NULL;
}


/*
 * a: server-ec, ALPN "a-proto", no client certificate.
 * b: sni-a, ALPN "b-proto", requires a client certificate from ca.crt,
 *    and a table of its own: *.x.b.test gets sni-wild.
 */
static sp_ctx *
server_b(void)
{
    sp_ctx             *b;
    sp_creds           *wild;
    static const char  *alpn[] = { "b-proto" };

    b = ctx_for(SP_SERVER, "sni-a", "ca.crt");
    if (b == NULL) {
        return NULL;
    }

    sp_ctx_set_alpn(b, alpn, 1);
    sp_ctx_set_request_cert(b, 1);
    sp_ctx_set_reject_unauthorized(b, 1);

    wild = creds_for("sni-wild", "ca.crt");
    if (sp_ctx_add_context(b, "*.x.b.test", wild) != SP_OK) {
        diag("add_context: %s", sp_ctx_error(b));
    }

    sp_creds_unref(wild);
    return b;
}


static sp_ctx *
server_a(vs_t *vs)
{
    sp_ctx             *a;
    static const char  *alpn[] = { "a-proto" };

    a = ctx_for(SP_SERVER, "server-ec", NULL);
    if (a == NULL) {
        return NULL;
    }

    sp_ctx_set_alpn(a, alpn, 1);
    sp_ctx_set_sni_callback(a, vs_cb, vs);
    return a;
}


static sp_ctx *
client_alpn(int version, const char *base)
{
    sp_ctx             *c;
    static const char  *alpn[] = { "a-proto", "b-proto" };

    /* the names are made up: the client does not check them */
    c = client_for(base, "ca.crt", version);
    if (c != NULL) {
        sp_ctx_set_alpn(c, alpn, 2);
        sp_ctx_set_reject_unauthorized(c, 0);
    }

    return c;
}


static void
test_select(int version)
{
    vs_t      vs;
    sp_ctx   *a, *b, *anon, *cert;
    sp_pair  *client, *server;
    int       secure;

    memset(&vs, 0, sizeof(vs));

    b = server_b();
    a = server_a(&vs);
    vs.b = b;
    anon = client_alpn(version, NULL);
    cert = client_alpn(version, "client");

    /* outside the callback the pair stays where it is */
    server = sp_pair_new(a, NULL, NULL);
    is_int(sp_pair_use_ctx(server, b), SP_ERR_INVALID,
           tn("%s: sp_pair_use_ctx outside the SNI callback is refused",
              vname(version)));
    sp_pair_free(server);

    /* a name of `a`: its own certificate and ALPN */
    ok(sni_connect(a, anon, "a.test", &client, &server),
       "%s a.test: handshake", vname(version));
    is_int(vs.moved, 0, "a.test: not moved");
    ok(peer_cn_is(client, "localhost"), "a.test: a's certificate");
    is_str(sp_pair_alpn_protocol(server), "a-proto", "a.test: a's ALPN");
    sp_pair_free(client);
    sp_pair_free(server);

    /* b.test with a client certificate: b's certificate, ALPN, policy */
    vs.moved = -1;
    ok(sni_connect(a, cert, "b.test", &client, &server),
       "%s b.test: handshake", vname(version));
    is_int(vs.moved, SP_OK, "b.test: moved to b");
    ok(peer_cn_is(client, "a.example.com"), "b.test: b's certificate");
    is_str(sp_pair_alpn_protocol(server), "b-proto", "b.test: b's ALPN");
    is_int(sp_pair_authorized(server), 1,
           "b.test: b asked for the client's certificate and trusts it");
    is_str(sp_pair_context_name(server), NULL, "b.test: b's default");

    /* counted where it was made: max_connections was checked there */
    is_int((int) sp_ctx_connections(a), 1, "b.test: a still counts it");
    is_int((int) sp_ctx_connections(b), 0, "b.test: b does not");
    sp_pair_free(client);
    sp_pair_free(server);
    is_int((int) sp_ctx_connections(a), 0, "freed: a counts nothing");

    /* b insists on a certificate: a client without one is refused */
    secure = sni_connect(a, anon, "b.test", &client, &server);
    ok(!secure && sp_pair_error(server) != SP_OK,
       "%s b.test without a client certificate: refused by b's policy",
       vname(version));
    sp_pair_free(client);
    sp_pair_free(server);

    /* b's SNI table, after the move */
    ok(sni_connect(a, cert, "y.x.b.test", &client, &server),
       "%s y.x.b.test: handshake", vname(version));
    ok(peer_cn_is(client, "*.example.com"), "y.x.b.test: b's table chose");
    is_str(sp_pair_context_name(server), "*.x.b.test",
           "y.x.b.test: context name from b's table");
    sp_pair_free(client);
    sp_pair_free(server);

    /* no SNI: the callback is not asked, a serves */
    vs.calls = 0;
    ok(sni_connect(a, anon, NULL, &client, &server),
       "%s no SNI: handshake", vname(version));
    is_int(vs.calls, 0, "no SNI: callback not asked");
    ok(peer_cn_is(client, "localhost"), "no SNI: a's certificate");
    sp_pair_free(client);
    sp_pair_free(server);

    /* a client context is no place for a server pair */
    vs.other = anon;
    vs.other_rc = 0;
    ok(sni_connect(a, anon, "a.test", &client, &server),
       "%s: handshake", vname(version));
    is_int(vs.other_rc, SP_ERR_INVALID,
           "sp_pair_use_ctx to a client context is refused");
    ok(peer_cn_is(client, "localhost"), "and the pair stays where it was");
    sp_pair_free(client);
    sp_pair_free(server);
    vs.other = NULL;

    ok(error_queue_empty(), "%s select: error queue empty", vname(version));

    sp_ctx_unref(anon);
    sp_ctx_unref(cert);
    sp_ctx_unref(a);
    sp_ctx_unref(b);
}


/* ---- sessions across contexts ------------------------------------------ */

static const unsigned char  key48[48] = "0123456789abcdef0123456789abcdef"
                                        "0123456789abcde";


/* 1 when the client's session (exported) was resumed by the server. */
static int
resumed(sp_ctx *sctx, sp_ctx *cctx, const char *name, const uint8_t *sess,
    size_t len, uint8_t **out, size_t *out_len)
{
    sp_pair  *client, *server;
    int       reused = -1;
    ssize_t   n;
    char      buf[8];

    server = sp_pair_new(sctx, NULL, NULL);
    client = sess ? sp_pair_new_with_session(cctx, name, sess, len, NULL)
                  : sp_pair_new(cctx, name, NULL);

    if (server != NULL && client != NULL && handshake(client, server)) {
        reused = sp_pair_session_reused(server);

        /* a TLS 1.3 ticket comes with the first data */
        if (sp_clear_write(server, "x", 1) == 1) {
            pump(client, server);
            (void) read_all(client, buf, sizeof(buf));
        }

        if (out != NULL) {
            *out = NULL;
            n = sp_pair_get_session(client, NULL, 0);

            if (n > 0 && (*out = malloc((size_t) n)) != NULL) {
                *out_len = (size_t) sp_pair_get_session(client, *out,
                                                        (size_t) n);
            }
        }
    }

    sp_pair_free(client);
    sp_pair_free(server);
    return reused;
}


static void
test_sessions(int version)
{
    vs_t      vs;
    sp_ctx   *a, *b, *cctx;
    uint8_t  *sess;
    size_t    len = 0;

    memset(&vs, 0, sizeof(vs));

    /* a and b share ticket keys: only the session-id context tells */
    a = ctx_for(SP_SERVER, "server-ec", NULL);
    b = ctx_for(SP_SERVER, "sni-a", NULL);
    sp_ctx_add_ticket_key(a, key48, 48);
    sp_ctx_add_ticket_key(b, key48, 48);
    sp_ctx_set_sni_callback(a, vs_cb, &vs);
    vs.b = b;
    cctx = client_for(NULL, "ca.crt", version);
    sp_ctx_set_reject_unauthorized(cctx, 0);

    is_int(resumed(a, cctx, "b.test", NULL, 0, &sess, &len), 0,
           tn("%s: a full handshake into b", vname(version)));
    ok(sess != NULL, "%s: b's session exported", vname(version));

    is_int(resumed(a, cctx, "b.test", sess, len, NULL, NULL), 1,
           tn("%s: b's session resumes into b", vname(version)));
    is_int(resumed(a, cctx, "a.test", sess, len, NULL, NULL), 0,
           tn("%s: b's session does not resume into a (other certificate)",
              vname(version)));
    is_int(resumed(b, cctx, "b.test", sess, len, NULL, NULL), 1,
           tn("%s: nor does it depend on where the pair was made",
              vname(version)));
    free(sess);
    sess = NULL;

    is_int(resumed(a, cctx, "a.test", NULL, 0, &sess, &len), 0,
           tn("%s: a full handshake into a", vname(version)));
    is_int(resumed(a, cctx, "b.test", sess, len, NULL, NULL), 0,
           tn("%s: a's session does not resume into b", vname(version)));
    free(sess);

    ok(error_queue_empty(), "%s sessions: error queue empty",
       vname(version));

    sp_ctx_unref(cctx);
    sp_ctx_unref(a);
    sp_ctx_unref(b);
}


int
main(void)
{
    test_select(SP_TLS1_2);
    test_select(SP_TLS1_3);

    test_sessions(SP_TLS1_2);
    test_sessions(SP_TLS1_3);

    return done_testing();
}
