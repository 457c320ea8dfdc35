/*
 * Verification and handshake parameters of credentials and contexts:
 * verify depth, CAs trusted but not announced, CRLs (Node's crl), curves
 * (ecdhCurve), DH parameters (dhparam), the server's cipher order
 * (honorCipherOrder), SSL_CONF commands, and key logging (Node's
 * 'keylog' event).  Each setter's refusals come as data: code, field,
 * item.
 */

#include "pump.h"
#include "internal.h"       /* the client's SSL: the CA names it was sent */


/* ---- helpers ------------------------------------------------------------ */

/* A server context on `creds` (the reference is taken over). */
static sp_ctx *
server_ctx(sp_creds *creds, int request, int reject)
{
    sp_ctx  *ctx;

    if (creds == NULL) {
        return NULL;
    }

    ctx = sp_ctx_new(SP_SERVER, creds);
    sp_creds_unref(creds);

    if (ctx) {
        sp_ctx_set_request_cert(ctx, request);
        sp_ctx_set_reject_unauthorized(ctx, reject);
    }

    return ctx;
}


/* Both pairs of one connection, pumped until quiet. */
typedef struct {
    sp_pair  *server;
    sp_pair  *client;
    int       secure;
} conn;


static conn
connect_ctx(sp_ctx *sctx, sp_ctx *cctx, const char *servername)
{
    conn  c;

    c.server = sp_pair_new(sctx, NULL, NULL);
    c.client = sp_pair_new(cctx, servername, NULL);
    c.secure = c.server && c.client && handshake(c.client, c.server);
    return c;
}


static void
conn_free(conn *c)
{
    sp_pair_free(c->client);
    sp_pair_free(c->server);
}


/* The error of a failed call, as data. */
static void
check_error(const char *name, const sp_error *e, int code, sp_field field,
    int item, const char *reason_part)
{
    is_int(e->code, code, tn("%s: code", name));
    is_int(e->field, field, tn("%s: field", name));
    is_int(e->item, item, tn("%s: item", name));
    ok(strstr(e->reason, reason_part) != NULL, "%s: reason \"%s\"", name,
       e->reason);
    ok(error_queue_empty(), "%s: OpenSSL error queue empty", name);
}


/* ---- verification: depth, trusted CAs, CRLs ----------------------------- */

/*
 * A server asking client `client` for its certificate, with the CA
 * files given (NULL: none) and a verify depth (-2: not set); returns
 * Node's verdict ("" when authorized) and, under reject, whether the
 * handshake failed SP_ERR_UNAUTHORIZED.
 */
static const char *
verdict(const char *ca, const char *trusted, const char *crl, int depth,
    const char *client, int version, int reject, int *refused)
{
    static char   buf[8][64];
    static int    next;
    char         *out = buf[next++ % 8];
    sp_creds     *creds;
    sp_ctx       *sctx, *cctx;
    conn          c;
    const char   *err;

    creds = creds_for("server-ec", ca);
    if (creds == NULL
        || (trusted && sp_creds_add_trusted_file(creds, cert_path(trusted))
                       != SP_OK)
        || (crl && sp_creds_add_crl_file(creds, cert_path(crl)) != SP_OK)
        || (depth > -2 && sp_creds_set_verify_depth(creds, depth) != SP_OK))
    {
        diag("server creds: %s", creds ? sp_creds_error(creds) : "none");
        sp_creds_unref(creds);
        return "(setup failed)";
    }

    sctx = server_ctx(creds, 1, reject);
    cctx = client_for(client, "ca.crt", version);
    c = connect_ctx(sctx, cctx, "localhost");

    *refused = sp_pair_error(c.server) == SP_ERR_UNAUTHORIZED;

    if (!c.secure && !*refused) {
        snprintf(out, 64, "(failed: %s)", sp_pair_error_message(c.server));

    } else {
        err = sp_pair_authorization_error(c.server);
        snprintf(out, 64, "%s", sp_pair_authorized(c.server) ? ""
                                : err ? err : "(no error)");
    }

    conn_free(&c);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    return out;
}


static void
test_verify_depth(void)
{
    int        refused;
    sp_creds  *creds;

    /* client-int: leaf, then ca-int, then the root ca */
    is_str(verdict("ca.crt", NULL, NULL, -2, "client-int", 0, 0, &refused),
           "", "depth: OpenSSL's default (100) takes an intermediate");
    is_str(verdict("ca.crt", NULL, NULL, 1, "client-int", 0, 0, &refused),
           "", "depth 1: one intermediate is verified");
    /*
     * OpenSSL stops building the chain at the limit (CERT_CHAIN_TOO_LONG)
     * and, going on as Node lets it, finds no trust anchor: that last
     * error is the verdict, as Node reports it.
     */
    is_str(verdict("ca.crt", NULL, NULL, 0, "client-int", 0, 0, &refused),
           "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
           "depth 0: the intermediate is too long");
    is_str(verdict("ca.crt", NULL, NULL, 0, "client", 0, 0, &refused),
           "", "depth 0: a leaf signed by the root is verified");
    is_str(verdict("ca.crt", NULL, NULL, 0, "client-int", SP_TLS1_2, 1,
                   &refused),
           "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
           "depth 0 under reject: the verdict");
    ok(refused, "depth 0 under reject: the handshake fails unauthorized");

    creds = sp_creds_new();
    is_int(sp_creds_set_verify_depth(creds, -2), SP_ERR_INVALID,
           "depth -2 is refused");
    check_error("depth -2", sp_creds_error_info(creds), SP_ERR_INVALID,
                SP_FIELD_VERIFY_DEPTH, 0, "invalid verify depth -2");
    is_int(sp_creds_set_verify_depth(creds, -1), SP_OK,
           "depth -1 (OpenSSL's) is taken");
    sp_creds_unref(creds);
}


/* The CA names the server sent in its CertificateRequest. */
static int
announced(const char *ca, const char *trusted, char *names, size_t size)
{
    sp_creds              *creds;
    sp_ctx                *sctx, *cctx;
    conn                   c;
    STACK_OF(X509_NAME)   *list;
    int                    i, n;
    size_t                 len;

    names[0] = '\0';
    creds = creds_for("server-ec", ca);
    if (trusted) {
        sp_creds_add_trusted_file(creds, cert_path(trusted));
    }

    sctx = server_ctx(creds, 1, 0);
    cctx = client_for("client-trusted", "ca.crt", SP_TLS1_2);
    c = connect_ctx(sctx, cctx, "localhost");

    list = SSL_get_client_CA_list(c.client->ssl);
    n = list ? sk_X509_NAME_num(list) : 0;

    for (i = 0; i < n; i++) {
        len = strlen(names);
        X509_NAME_get_text_by_NID(sk_X509_NAME_value(list, i),
                                  NID_commonName, names + len
                                  + (len ? 1 : 0),
                                  (int) (size - len - 1));
        if (len) {
            names[len] = ',';
        }
    }

    conn_free(&c);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    return n;
}


static void
test_trusted(void)
{
    int        refused;
    char       names[256];
    sp_creds  *creds;

    is_str(verdict("ca.crt", "ca-trusted.crt", NULL, -2, "client-trusted",
                   SP_TLS1_2, 0, &refused),
           "", "trusted: a client of the trusted-only CA is authorized");
    is_str(verdict("ca.crt", "ca-trusted.crt", NULL, -2, "client",
                   SP_TLS1_3, 0, &refused),
           "", "trusted: a client of the announced CA still is");
    is_str(verdict("ca.crt", NULL, NULL, -2, "client-trusted", SP_TLS1_2, 0,
                   &refused),
           "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
           "without it: the trusted-only CA's client is not");
    is_str(verdict(NULL, "ca-trusted.crt", NULL, -2, "client-trusted",
                   SP_TLS1_3, 0, &refused),
           "", "trusted alone: its client is authorized");
    is_str(verdict(NULL, "ca-trusted.crt", NULL, -2, "client", SP_TLS1_3, 0,
                   &refused),
           "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
           "trusted alone: it replaces the system store");

    is_int(announced("ca.crt", "ca-trusted.crt", names, sizeof(names)), 1,
           "trusted: one CA name announced");
    is_str(names, "securepair test CA", "trusted: the announced one is ca's");
    is_int(announced("ca.crt", NULL, names, sizeof(names)), 1,
           "ca alone: one CA name announced");
    is_int(announced(NULL, "ca-trusted.crt", names, sizeof(names)), 0,
           "trusted alone: no CA name announced");

    creds = sp_creds_new();
    is_int(sp_creds_add_trusted_file(creds, cert_path("garbage.pem")),
           SP_ERR_LOAD, "trusted: garbage is refused");
    check_error("trusted garbage", sp_creds_error_info(creds), SP_ERR_LOAD,
                SP_FIELD_TRUSTED, 0, "no certificate found");
    is_str(sp_creds_error_info(creds)->origin, cert_path("garbage.pem"),
           "trusted garbage: the origin is the file");
    sp_creds_unref(creds);
}


static void
test_crl(void)
{
    int         refused, v;
    sp_creds   *creds;
    char        name[64];

    static const struct {
        const char  *crl;
        const char  *client;
        const char  *verdict;
    } cases[] = {
        { "ca.crl",         "client",         "" },
        { "ca.crl",         "client-revoked", "CERT_REVOKED" },
        { "ca-expired.crl", "client",         "CRL_HAS_EXPIRED" },
        { "ca-future.crl",  "client",         "CRL_NOT_YET_VALID" },
        { "ca2.crl",        "client",         "UNABLE_TO_GET_CRL" },
        { NULL,             "client-revoked", "" },
    };

    for (v = 0; v < 2; v++) {
        int     version = v ? SP_TLS1_3 : SP_TLS1_2;
        size_t  i;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            snprintf(name, sizeof(name), "%s, %s, %s",
                     cases[i].crl ? cases[i].crl : "no CRL",
                     cases[i].client, v ? "TLSv1.3" : "TLSv1.2");

            is_str(verdict("ca.crt", NULL, cases[i].crl, -2, cases[i].client,
                           version, 0, &refused),
                   cases[i].verdict, tn("crl %s: verdict", name));

            if (cases[i].verdict[0] == '\0') {
                continue;
            }

            is_str(verdict("ca.crt", NULL, cases[i].crl, -2,
                           cases[i].client, version, 1, &refused),
                   cases[i].verdict, tn("crl %s, reject: verdict", name));
            ok(refused, "crl %s, reject: the handshake fails unauthorized",
               name);
        }
    }

    creds = sp_creds_new();
    is_int(sp_creds_add_crl_file(creds, cert_path("ca.crl")), SP_ERR_INVALID,
           "crl before any CA: refused");
    check_error("crl before any CA", sp_creds_error_info(creds),
                SP_ERR_INVALID, SP_FIELD_CRL, 0, "needs the CAs");
    is_int(sp_creds_add_ca_file(creds, cert_path("ca.crt")), SP_OK,
           "then the CA");
    is_int(sp_creds_add_crl_file(creds, cert_path("ca.crt")), SP_ERR_LOAD,
           "a certificate is no CRL");
    check_error("crl of a certificate", sp_creds_error_info(creds),
                SP_ERR_LOAD, SP_FIELD_CRL, 0, "no CRL found");
    is_int(sp_creds_add_crl_file(creds, cert_path("no-such.crl")),
           SP_ERR_LOAD, "a missing CRL file");
    check_error("missing crl", sp_creds_error_info(creds), SP_ERR_LOAD,
                SP_FIELD_CRL, 0, "cannot open");
    is_int(sp_creds_add_crl_file(creds, cert_path("ca.crl")), SP_OK,
           "a CRL after its CA");
    sp_creds_unref(creds);
}


/* ---- handshake parameters ---------------------------------------------- */

static void
test_curves(void)
{
    sp_creds  *creds;
    sp_ctx    *sctx, *cctx;
    conn       c;

    creds = sp_creds_new();
    is_int(sp_creds_set_ecdh_curve(creds, "auto"), SP_OK, "curve: auto");
    is_int(sp_creds_set_ecdh_curve(creds, "X25519:prime256v1"), SP_OK,
           "curve: X25519:prime256v1");
    is_int(sp_creds_set_ecdh_curve(creds, "X25519:nosuchcurve"),
           SP_ERR_INVALID, "curve: an unknown name is refused");
    check_error("curve nosuchcurve", sp_creds_error_info(creds),
                SP_ERR_INVALID, SP_FIELD_ECDH_CURVE, 2,
                "unknown curve \"nosuchcurve\"");
    is_int(sp_creds_set_ecdh_curve(creds, "X25519::P-256"), SP_ERR_INVALID,
           "curve: an empty name is refused");
    is_int(sp_creds_error_info(creds)->item, 2, "curve: the empty one is 2");
    is_int(sp_creds_set_ecdh_curve(creds, ""), SP_ERR_INVALID,
           "curve: an empty list is refused");
    sp_creds_unref(creds);

    /* the server's one group is what the handshake uses */
    creds = creds_for("server-ec", NULL);
    sp_creds_set_ecdh_curve(creds, "secp384r1");
    sctx = server_ctx(creds, 0, 0);
    cctx = client_for(NULL, "ca.crt", SP_TLS1_3);
    c = connect_ctx(sctx, cctx, "localhost");
    ok(c.secure, "curve secp384r1: TLS 1.3 handshake (after a retry)");
    is_int(SSL_get_negotiated_group(c.server->ssl), NID_secp384r1,
           "curve secp384r1: negotiated");
    conn_free(&c);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* A TLS 1.2 client offering only `ciphers`: the cipher it got. */
static const char *
cipher_at(sp_ctx *sctx, const char *ciphers, const char *servername)
{
    static char   buf[4][64];
    static int    next;
    char         *out = buf[next++ % 4];
    sp_creds     *ccreds;
    sp_ctx       *cctx;
    conn          c;

    ccreds = creds_for(NULL, NULL);
    sp_creds_set_versions(ccreds, SP_TLS1_2, SP_TLS1_2);
    sp_creds_set_ciphers(ccreds, ciphers);
    cctx = sp_ctx_new(SP_CLIENT, ccreds);
    sp_creds_unref(ccreds);
    sp_ctx_set_reject_unauthorized(cctx, 0);

    c = connect_ctx(sctx, cctx, servername);
    snprintf(out, 64, "%s", c.secure ? sp_pair_cipher(c.client) : "(none)");

    conn_free(&c);
    sp_ctx_unref(cctx);
    return out;
}


/* The same, from a server on `screds` (the reference is taken over). */
static const char *
cipher_with(sp_creds *screds, const char *ciphers, const char *servername)
{
    sp_ctx      *sctx;
    const char  *cipher;

    sctx = server_ctx(screds, 0, 0);
    cipher = cipher_at(sctx, ciphers, servername);
    sp_ctx_unref(sctx);
    return cipher;
}


static void
test_dhparam(void)
{
    sp_creds  *creds, *sni;
    sp_ctx    *sctx;

    creds = creds_for("server-rsa", NULL);
    is_str(cipher_with(creds, "DHE-RSA-AES128-GCM-SHA256", "localhost"),
           "(none)", "dhparam: without it, no DHE");

    creds = creds_for("server-rsa", NULL);
    is_int(sp_creds_set_dhparam_file(creds, cert_path("dh2048.pem")), SP_OK,
           "dhparam: 2048 bits taken");
    is_str(cipher_with(creds, "DHE-RSA-AES128-GCM-SHA256", "localhost"),
           "DHE-RSA-AES128-GCM-SHA256", "dhparam: DHE with TLS 1.2");

    creds = sp_creds_new();
    is_int(sp_creds_set_dhparam_file(creds, cert_path("dh1024.pem")),
           SP_ERR_LOAD, "dhparam: 1024 bits refused");
    check_error("dhparam 1024", sp_creds_error_info(creds), SP_ERR_LOAD,
                SP_FIELD_DHPARAM, 0, "DH parameters of 1024 bits are too "
                "small");
    is_int(sp_creds_set_dhparam_file(creds, cert_path("garbage.pem")),
           SP_ERR_LOAD, "dhparam: garbage refused");
    check_error("dhparam garbage", sp_creds_error_info(creds), SP_ERR_LOAD,
                SP_FIELD_DHPARAM, 0, "no DH parameters found");
    is_int(sp_creds_set_dhparam_file(creds, cert_path("ca.crt")),
           SP_ERR_LOAD, "dhparam: a certificate refused");
    sp_creds_unref(creds);

    /* credentials chosen by SNI bring their own */
    sni = creds_for("server-rsa", NULL);
    sp_creds_set_dhparam_file(sni, cert_path("dh2048.pem"));
    sctx = server_ctx(creds_for("server-rsa", NULL), 0, 0);
    is_int(sp_ctx_add_context(sctx, "a.example.com", sni), SP_OK,
           "dhparam by SNI: a context with its own");
    sp_creds_unref(sni);
    is_str(cipher_at(sctx, "DHE-RSA-AES128-GCM-SHA256", "a.example.com"),
           "DHE-RSA-AES128-GCM-SHA256", "dhparam by SNI: its name has DHE");
    is_str(cipher_at(sctx, "DHE-RSA-AES128-GCM-SHA256", "localhost"),
           "(none)", "dhparam by SNI: the default still has none");
    sp_ctx_unref(sctx);
}


/* Server and client name the same two ciphers in opposite orders. */
static void
test_cipher_order(void)
{
    sp_creds    *creds;
    const char  *server = "ECDHE-ECDSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-AES128-GCM-SHA256";
    const char  *client = "ECDHE-ECDSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384";

    creds = creds_for("server-ec", NULL);
    sp_creds_set_ciphers(creds, server);
    is_str(cipher_with(creds, client, "localhost"),
           "ECDHE-ECDSA-AES128-GCM-SHA256",
           "honor_cipher_order off: the client's first");

    creds = creds_for("server-ec", NULL);
    sp_creds_set_ciphers(creds, server);
    is_int(sp_creds_set_honor_cipher_order(creds, 1), SP_OK,
           "honor_cipher_order on");
    is_str(cipher_with(creds, client, "localhost"),
           "ECDHE-ECDSA-AES256-GCM-SHA384",
           "honor_cipher_order on: the server's first");
}


static void
test_conf_command(void)
{
    sp_creds  *creds;
    sp_ctx    *sctx, *cctx;
    conn       c;

    creds = creds_for("server-ec", NULL);
    is_int(sp_creds_add_conf_command(creds, "Ciphersuites",
                                     "TLS_CHACHA20_POLY1305_SHA256"),
           SP_OK, "conf_command Ciphersuites taken");
    sctx = server_ctx(creds, 0, 0);
    cctx = client_for(NULL, "ca.crt", SP_TLS1_3);
    c = connect_ctx(sctx, cctx, "localhost");
    ok(c.secure, "conf_command: handshake");
    is_str(sp_pair_cipher(c.server), "TLS_CHACHA20_POLY1305_SHA256",
           "conf_command: the suite it named");
    conn_free(&c);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);

    creds = sp_creds_new();
    is_int(sp_creds_add_conf_command(creds, "Options", "-SessionTicket"),
           SP_OK, "conf_command Options -SessionTicket taken");
    is_int(sp_creds_add_conf_command(creds, "NoSuchCommand", "x"),
           SP_ERR_INVALID, "conf_command: an unknown command is refused");
    check_error("conf_command NoSuchCommand", sp_creds_error_info(creds),
                SP_ERR_INVALID, SP_FIELD_CONF_COMMAND, 2,
                "unknown SSL_CONF command \"NoSuchCommand\"");
    is_int(sp_creds_add_conf_command(creds, "Ciphersuites", "NOPE"),
           SP_ERR_INVALID, "conf_command: a bad value is refused");
    check_error("conf_command Ciphersuites NOPE", sp_creds_error_info(creds),
                SP_ERR_INVALID, SP_FIELD_CONF_COMMAND, 2,
                "SSL_CONF command \"Ciphersuites\" refused \"NOPE\"");
    sp_creds_unref(creds);
}


/* ---- key logging ------------------------------------------------------- */

typedef struct {
    char    lines[16][256];
    int     n;
} keylog;


static void
keylog_collect(sp_pair *pair, const char *line, size_t len, void *arg)
{
    keylog  *log = arg;

    (void) pair;

    if (log->n < 16 && len < 256) {
        memcpy(log->lines[log->n], line, len);
        log->lines[log->n][len] = '\0';
        log->n++;
    }
}


static int
keylog_has(const keylog *log, const char *line)
{
    int  i;

    for (i = 0; i < log->n; i++) {
        if (strcmp(log->lines[i], line) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
test_keylog(int version)
{
    const char  *vname = version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2";
    sp_ctx      *sctx, *cctx;
    keylog       slog, clog;
    conn         c;
    int          i, same;

    memset(&slog, 0, sizeof(slog));
    memset(&clog, 0, sizeof(clog));

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_for(NULL, "ca.crt", version);

    is_int(sp_ctx_set_keylog(sctx, keylog_collect, &slog), SP_OK,
           tn("keylog %s: set on the server", vname));
    sp_ctx_set_keylog(cctx, keylog_collect, &clog);

    c = connect_ctx(sctx, cctx, "localhost");
    ok(c.secure, "keylog %s: handshake", vname);

    is_int(slog.n, version == SP_TLS1_3 ? 5 : 1,
           tn("keylog %s: the server's lines", vname));
    same = slog.n == clog.n;

    for (i = 0; same && i < slog.n; i++) {
        same = keylog_has(&clog, slog.lines[i]);
    }

    ok(same, "keylog %s: the client's lines are the same", vname);
    ok(slog.n > 0 && strncmp(slog.lines[0], version == SP_TLS1_3
                             ? "SERVER_HANDSHAKE_TRAFFIC_SECRET "
                             : "CLIENT_RANDOM ", version == SP_TLS1_3
                             ? 32 : 14) == 0
       && strchr(slog.lines[0], '\n') == NULL,
       "keylog %s: NSS format, no newline: %s", vname,
       slog.n ? slog.lines[0] : "(none)");

    is_int(sp_ctx_set_keylog(sctx, NULL, NULL), SP_ERR_INVALID,
           tn("keylog %s: a frozen context refuses a change", vname));
    ok(strstr(sp_ctx_error(sctx), "sp_ctx_set_keylog") != NULL,
       "keylog %s: and says so: %s", vname, sp_ctx_error(sctx));

    conn_free(&c);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* A context without key logging on the same credentials logs nothing. */
static void
test_keylog_off(void)
{
    sp_creds  *creds;
    sp_ctx    *logged, *quiet, *cctx;
    keylog     log;
    conn       c;

    memset(&log, 0, sizeof(log));

    creds = creds_for("server-ec", NULL);
    logged = sp_ctx_new(SP_SERVER, creds);
    quiet = sp_ctx_new(SP_SERVER, creds);
    sp_creds_unref(creds);

    sp_ctx_set_keylog(logged, keylog_collect, &log);
    cctx = client_for(NULL, "ca.crt", SP_TLS1_3);

    c = connect_ctx(quiet, cctx, "localhost");
    ok(c.secure && log.n == 0,
       "keylog: another context on the same credentials logs nothing");
    conn_free(&c);

    sp_ctx_unref(cctx);
    sp_ctx_unref(quiet);
    sp_ctx_unref(logged);
}


int
main(void)
{
    test_verify_depth();
    test_trusted();
    test_crl();
    test_curves();
    test_dhparam();
    test_cipher_order();
    test_conf_command();
    test_keylog(SP_TLS1_2);
    test_keylog(SP_TLS1_3);
    test_keylog_off();

    return done_testing();
}
