/*
 * A TLS 1.3 HelloRetryRequest and SNI (runtime/hello.c, sni_select.c): the
 * client's second ClientHello must name what its first one named, so that
 * the context whose credentials and verification policy the handshake
 * applies is the one the facts (servername, context, authorized) report.
 * A plain OpenSSL client plays the attacker: it offers an X25519 key share
 * to a server that only takes P-256, gets a HelloRetryRequest, and changes
 * its server name before it answers.
 */

#include "pump.h"
#include "raw_client.h"
#include "internal.h"


typedef struct {
    raw_t        raw;
    int          hellos;        /* ClientHellos sent */
} raw_client_t;


static void
count_hellos(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
    raw_client_t  *rc = arg;

    (void) version;
    (void) ssl;

    if (write_p && content_type == SSL3_RT_HANDSHAKE && len > 0
        && ((const uint8_t *) buf)[0] == SSL3_MT_CLIENT_HELLO)
    {
        rc->hellos++;
    }
}


static void
raw_client_free(raw_client_t *rc)
{
    raw_free(&rc->raw);
}


/* A TLS 1.3 client whose first key share the server will refuse. */
static int
raw_client_init(raw_client_t *rc, const char *servername, const char *cert)
{
    memset(rc, 0, sizeof(raw_client_t));

    if (!raw_ctx(&rc->raw, TLS_client_method(), cert)) {
        return 0;
    }

    SSL_CTX_set_min_proto_version(rc->raw.ctx, TLS1_3_VERSION);

    if (!SSL_CTX_set1_groups_list(rc->raw.ctx, "X25519:P-256")
        || !raw_ssl(&rc->raw))
    {
        return 0;
    }

    SSL_set_msg_callback(rc->raw.ssl, count_hellos);
    SSL_set_msg_callback_arg(rc->raw.ssl, rc);

    return servername == NULL
           || SSL_set_tlsext_host_name(rc->raw.ssl, servername) == 1;
}


/*
 * Runs the handshake against `server`.  When the server's first flight is
 * a HelloRetryRequest, the client's name becomes `second` (NULL: no SNI)
 * before it sends its second ClientHello.  1 when the server is secure.
 */
static int
raw_handshake(raw_client_t *rc, sp_pair *server, const char *second,
    int change)
{
    int       n, round, idle = 0;
    size_t    m, moved;
    uint8_t   buf[16384];
    ssize_t   took;

    for (round = 0; round < 50 && idle < 3; round++) {
        if (!SSL_is_init_finished(rc->raw.ssl)) {
            SSL_do_handshake(rc->raw.ssl);

        } else {
            SSL_read(rc->raw.ssl, buf, sizeof(buf));
        }

        ERR_clear_error();
        moved = 0;

        while ((n = BIO_read(rc->raw.wbio, buf, sizeof(buf))) > 0) {
            took = sp_enc_in(server, buf, (size_t) n);
            moved += (size_t) n;

            if (took != n) {
                break;
            }
        }

        while ((m = sp_enc_out(server, buf, sizeof(buf))) > 0) {
            BIO_write(rc->raw.rbio, buf, (int) m);
            moved += m;
        }

        /*
         * The server has answered the first hello; with P-256 only and an
         * X25519 share, that answer is a retry request, and the client
         * reads it at the next round, its second hello naming `second`.
         */
        if (round == 0 && change) {
            SSL_set_tlsext_host_name(rc->raw.ssl, second);
        }

        idle = moved ? 0 : idle + 1;

        if (sp_pair_error(server)) {
            break;
        }
    }

    ERR_clear_error();

    return (sp_pair_state(server) & SP_STATE_SECURE)
           && !sp_pair_error(server);
}


/* A server pair of sctx that takes P-256 only: X25519 shares get a retry. */
static sp_pair *
p256_server(sp_ctx *sctx)
{
    sp_pair  *server = sp_pair_new(sctx, NULL, NULL);

    if (server != NULL && !SSL_set1_groups_list(server->ssl, "P-256")) {
        sp_pair_free(server);
        return NULL;
    }

    return server;
}


static sp_creds *
context_creds(const char *base, const char *ca, int request, int reject)
{
    sp_creds  *creds = creds_for(base, ca);

    if (creds != NULL) {
        sp_creds_set_request_cert(creds, request);
        sp_creds_set_reject_unauthorized(creds, reject);
    }

    return creds;
}


static void
add(sp_ctx *sctx, const char *name, sp_creds *creds)
{
    if (sp_ctx_add_context(sctx, name, creds) != SP_OK) {
        diag("add %s: %s", name, sp_ctx_error(sctx));
    }

    sp_creds_unref(creds);
}


/*
 * Contexts a (clients of ca) and b (clients of ca2), both requiring a
 * certificate: a client of ca2 must not get in as a.
 */
static sp_ctx *
two_ca_server(void)
{
    sp_ctx  *sctx = ctx_for(SP_SERVER, "server-ec", NULL);

    add(sctx, "a.example.com", context_creds("sni-a", "ca.crt", 1, 1));
    add(sctx, "b.example.com", context_creds("sni-wild", "ca2.crt", 1, 1));
    return sctx;
}


/*
 * The server requires client certificates; public.example.com does not:
 * a client without one must not get in as admin.example.com.
 */
static sp_ctx *
public_context_server(void)
{
    sp_ctx  *sctx = ctx_for(SP_SERVER, "server-ec", "ca.crt");

    sp_ctx_set_request_cert(sctx, 1);
    sp_ctx_set_reject_unauthorized(sctx, 1);
    add(sctx, "public.example.com", context_creds("sni-wild", NULL, 0, 0));
    return sctx;
}


typedef struct {
    const char  *title;
    sp_ctx     *(*server)(void);
    const char  *first;         /* SNI of the first ClientHello */
    const char  *second;        /* SNI of the second */
    const char  *cert;          /* the client's certificate, NULL: none */
    int          secure;        /* the handshake may complete */
    const char  *context;       /* when secure: the context applied */
    int          authorized;
} retry_case_t;


static const retry_case_t  retry_cases[] = {
    { "same name after the retry", two_ca_server,
      "a.example.com", "a.example.com", "client", 1, "a.example.com", 1 },
    { "same name, other case", two_ca_server,
      "a.example.com", "A.example.com", "client", 0, NULL, 0 },
    { "no name, then no name", public_context_server,
      NULL, NULL, "client", 1, NULL, 1 },
    { "a, then b with a certificate from b's CA", two_ca_server,
      "a.example.com", "b.example.com", "client-wrongca", 0, NULL, 0 },
    { "admin, then public without a certificate", public_context_server,
      "admin.example.com", "public.example.com", NULL, 0, NULL, 0 },
    { "no name, then public", public_context_server,
      NULL, "public.example.com", NULL, 0, NULL, 0 },
    { "public, then no name", public_context_server,
      "public.example.com", NULL, NULL, 0, NULL, 0 },
};


static void
test_retry(const retry_case_t *rc)
{
    int            secure;
    sp_ctx        *sctx;
    sp_pair       *server;
    raw_client_t   client;

    sctx = rc->server();
    server = p256_server(sctx);

    if (!ok(server != NULL && raw_client_init(&client, rc->first, rc->cert),
            "%s: set up", rc->title))
    {
        return;
    }

    secure = raw_handshake(&client, server, rc->second, 1);

    is_int(client.hellos, 2, "the server asked for a second hello");

    if (rc->secure) {
        if (!ok(secure, "%s: handshake completes", rc->title)) {
            diag("server: %s", sp_pair_error_message(server));
        }

        is_str(sp_pair_context_name(server), rc->context,
               "the context of the name");
        is_str(sp_pair_servername(server), rc->first, "servername reported");
        is_int(sp_pair_authorized(server), rc->authorized, "authorized");

    } else {
        ok(!secure, "%s: handshake refused", rc->title);
        is_int(sp_pair_error(server), SP_ERR_HANDSHAKE, "handshake error");
        is_int(sp_pair_alert_sent(server), SSL_AD_ILLEGAL_PARAMETER,
               "illegal_parameter alert sent");
        ok(strstr(sp_pair_error_message(server), "second ClientHello")
           != NULL, "the log says why: %s", sp_pair_error_message(server));
        is_int(sp_pair_authorized(server), 0, "never authorized");
    }

    ok(error_queue_empty(), "%s: error queue empty", rc->title);

    raw_client_free(&client);
    sp_pair_free(server);
    sp_ctx_unref(sctx);
}


/* Without a retry the same raw client gets in: the cases test the retry. */
static void
test_without_retry(void)
{
    sp_ctx        *sctx;
    sp_pair       *server;
    raw_client_t   client;

    sctx = two_ca_server();
    server = sp_pair_new(sctx, NULL, NULL);

    if (!ok(server != NULL
            && raw_client_init(&client, "b.example.com", "client-wrongca"),
            "no retry: set up"))
    {
        return;
    }

    ok(raw_handshake(&client, server, NULL, 0), "no retry: b's client gets in");
    is_int(client.hellos, 1, "one hello");
    is_str(sp_pair_context_name(server), "b.example.com", "as b");
    is_int(sp_pair_authorized(server), 1, "authorized under b");

    raw_client_free(&client);
    sp_pair_free(server);
    sp_ctx_unref(sctx);
}


int
main(void)
{
    size_t  i;

    test_without_retry();

    for (i = 0; i < sizeof(retry_cases) / sizeof(retry_cases[0]); i++) {
        test_retry(&retry_cases[i]);
    }

    return done_testing();
}
