/*
 * Credentials (runtime/creds.c): load errors in words, passphrases, keys
 * from memory, CA stores, cipher lists and suites, protocol versions,
 * session-id contexts, several key types on one credentials, and
 * reference counting.  Every failing call must leave OpenSSL's error queue
 * empty and the credentials usable.
 */

#include <errno.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pump.h"
#include "x509_cli.h"


#define NO_FILE  "no-such-file.pem"


/* ---- helpers ----------------------------------------------------------- */

/* A whole file of the generated certificates, NUL-terminated. */

static char *
slurp(const char *name, size_t *len)
{
    FILE  *f;
    char  *buf;
    long   size;

    f = fopen(cert_path(name), "rb");
    if (f == NULL) {
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fclose(f);
        return NULL;
    }

    buf = malloc((size_t) size + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }

    *len = fread(buf, 1, (size_t) size, f);
    buf[*len] = '\0';
    fclose(f);

    return buf;
}


/* The SHA-256 fingerprint of the first certificate of a PEM file. */

static char *
file_fingerprint(const char *name)
{
    X509          *x;
    char          *fp = NULL;
    sp_peer_cert  *cert;

    x = x509_load(cert_path(name));
    if (x == NULL) {
        return NULL;
    }

    cert = x509_snapshot(x);
    X509_free(x);

    if (cert != NULL) {
        fp = cert->fingerprint256 ? strdup(cert->fingerprint256) : NULL;
        sp_peer_cert_free(cert);
    }

    ERR_clear_error();
    return fp;
}


/* Does the peer's certificate have the fingerprint of this file's? */

static int
peer_is(const sp_pair *pair, const char *crt)
{
    int            same;
    char          *want;
    sp_peer_cert  *cert;

    want = file_fingerprint(crt);
    cert = sp_pair_peer_cert(pair);

    same = want != NULL && cert != NULL && cert->fingerprint256 != NULL
           && strcmp(want, cert->fingerprint256) == 0;

    free(want);
    sp_peer_cert_free(cert);

    return same;
}


/* A client context trusting ca.crt, restricted to a version range. */

static sp_ctx *
client_ctx(int min, int max, const char *ciphers)
{
    sp_ctx    *ctx;
    sp_creds  *creds;

    creds = creds_for(NULL, "ca.crt");
    if (creds == NULL) {
        return NULL;
    }

    sp_creds_set_versions(creds, min, max);

    if (ciphers != NULL) {
        sp_creds_set_ciphers(creds, ciphers);
    }

    ctx = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    return ctx;
}


/*
 * One handshake between a server with `screds` and the client context;
 * the pairs are returned for inspection (free them) and 1 when secure.
 */

static int
connect_with(sp_creds *screds, sp_ctx *cctx, sp_pair **client,
    sp_pair **server)
{
    sp_ctx  *sctx;

    sctx = sp_ctx_new(SP_SERVER, screds);
    *server = sp_pair_new(sctx, NULL, NULL);
    *client = sp_pair_new(cctx, "localhost", NULL);

    /* the pair holds the context */
    sp_ctx_unref(sctx);

    if (*server == NULL || *client == NULL) {
        return 0;
    }

    return handshake(*client, *server);
}


/*
 * A handshake with the default client, and a few bytes through it, prove
 * the credentials serve.
 */

static int
serves(sp_creds *screds)
{
    int       secure;
    char      buf[16];
    sp_ctx   *cctx;
    sp_pair  *client, *server;

    cctx = ctx_for(SP_CLIENT, NULL, "ca.crt");
    secure = connect_with(screds, cctx, &client, &server)
             && sp_pair_authorized(client)
             && sp_clear_write(client, "ping", 4) == 4;

    if (secure) {
        pump(client, server);
        secure = read_all(server, buf, sizeof(buf)) == 4
                 && memcmp(buf, "ping", 4) == 0;
    }

    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);

    return secure;
}


/* The message contains every word given (NULLs end the list). */

static void
check_message(const char *title, const char *msg, const char *name,
    const char *const *words, size_t nwords)
{
    size_t  i;

    if (name != NULL) {
        ok(strstr(msg, name) != NULL, "%s: message names \"%s\"", title,
           name);
    }

    for (i = 0; i < nwords && words[i] != NULL; i++) {
        ok(strstr(msg, words[i]) != NULL, "%s: message says \"%s\"", title,
           words[i]);
    }

    diag("%s: %s", title, msg);
}


/* ---- key and certificate loading ---------------------------------------- */

typedef struct {
    const char  *title;
    const char  *key;
    const char  *cert;
    const char  *pass[2];      /* passphrases, NULL-terminated */
    int          rc;
    const char  *names;        /* what the file message must name */
    const char  *words[3];     /* the reason, in words */
} key_case_t;


static const key_case_t  key_cases[] = {

    { "missing key file", NO_FILE, "server-rsa.crt", { NULL },
      SP_ERR_LOAD, NO_FILE, { "No such file" } },

    { "missing cert file", "server-rsa.key", NO_FILE, { NULL },
      SP_ERR_LOAD, NO_FILE, { "No such file" } },

    { "garbage as key", "garbage.pem", "server-rsa.crt", { NULL },
      SP_ERR_LOAD, "garbage.pem", { "no private key" } },

    { "garbage as certificate", "server-rsa.key", "garbage.pem", { NULL },
      SP_ERR_LOAD, "garbage.pem", { "no certificate" } },

    { "a key as certificate", "server-rsa.key", "server-rsa.key", { NULL },
      SP_ERR_LOAD, "server-rsa.key", { "no certificate" } },

    { "key matching no certificate", "mismatch.key", "server-rsa.crt",
      { NULL },
      SP_ERR_LOAD, "mismatch.key", { "does not match" } },

    { "EC key with RSA certificate", "server-ec.key", "server-rsa.crt",
      { NULL },
      SP_ERR_LOAD, "server-ec.key", { "does not match" } },

    { "RSA 1024", "weak-rsa1024.key", "weak-rsa1024.crt", { NULL },
      SP_ERR_LOAD, "weak-rsa1024",
      { "too small", "security level 2", "1024" } },

    { "encrypted key, no passphrase", "server-rsa-enc.key",
      "server-rsa.crt", { NULL },
      SP_ERR_LOAD, "server-rsa-enc.key", { "encrypted", "no passphrase" } },

    { "encrypted key, wrong passphrases", "server-rsa-enc.key",
      "server-rsa.crt", { "Secret", "secret " },
      SP_ERR_LOAD, "server-rsa-enc.key", { "wrong passphrase" } },

    { "encrypted key, second passphrase right", "server-rsa-enc.key",
      "server-rsa.crt", { "wrong", "secret" },
      SP_OK, NULL, { NULL } },

    { "encrypted key, only passphrase right", "server-rsa-enc.key",
      "server-rsa.crt", { "secret", NULL },
      SP_OK, NULL, { NULL } },

    { "plain key, passphrases unused", "server-rsa.key", "server-rsa.crt",
      { "wrong", "secret" },
      SP_OK, NULL, { NULL } },

    { "RSA pair", "server-rsa.key", "server-rsa.crt", { NULL },
      SP_OK, NULL, { NULL } },

    { "EC pair", "server-ec.key", "server-ec.crt", { NULL },
      SP_OK, NULL, { NULL } },
};


static sp_creds *
creds_with_passphrases(const key_case_t *kc)
{
    size_t     n;
    sp_creds  *creds;

    creds = sp_creds_new();

    for (n = 0; n < 2 && kc->pass[n] != NULL; n++) { /* void */ }

    if (n) {
        is_int(sp_creds_set_passphrases(creds, kc->pass, n), SP_OK,
               "passphrases set");
    }

    return creds;
}


static void
test_key_cert_file(const key_case_t *kc)
{
    int        rc;
    char       title[128];
    sp_creds  *creds;

    snprintf(title, sizeof(title), "file: %s", kc->title);

    creds = creds_with_passphrases(kc);
    is_str(sp_creds_error(creds), "", "new credentials: no error");

    rc = sp_creds_add_key_cert_file(creds, cert_path(kc->key),
                                    cert_path(kc->cert));
    if (!ok(rc == kc->rc, "%s: returns %s", title, sp_strerror(kc->rc))) {
        diag("got %d (%s): %s", rc, sp_strerror(rc), sp_creds_error(creds));
    }

    ok(error_queue_empty(), "%s: error queue empty", title);

    if (kc->rc != SP_OK) {
        check_message(title, sp_creds_error(creds), kc->names, kc->words, 3);

    } else {
        ok(serves(creds), "%s: handshake with it", title);
        ok(error_queue_empty(), "%s: error queue empty after handshake",
           title);
    }

    sp_creds_unref(creds);
}


static void
test_key_cert_mem(const key_case_t *kc)
{
    int        rc;
    char       title[128], *key, *cert;
    size_t     key_len, cert_len;
    sp_creds  *creds;

    key = slurp(kc->key, &key_len);
    cert = slurp(kc->cert, &cert_len);

    if (key == NULL || cert == NULL) {
        /* a missing file has no memory form */
        free(key);
        free(cert);
        return;
    }

    snprintf(title, sizeof(title), "memory: %s", kc->title);

    creds = creds_with_passphrases(kc);

    rc = sp_creds_add_key_cert_mem(creds, key, key_len, cert, cert_len);
    if (!ok(rc == kc->rc, "%s: returns %s", title, sp_strerror(kc->rc))) {
        diag("got %d (%s): %s", rc, sp_strerror(rc), sp_creds_error(creds));
    }

    ok(error_queue_empty(), "%s: error queue empty", title);

    if (kc->rc != SP_OK) {
        check_message(title, sp_creds_error(creds), "<memory>", kc->words, 3);

    } else {
        ok(serves(creds), "%s: handshake with it", title);
    }

    sp_creds_unref(creds);
    free(key);
    free(cert);
}


static void
test_key_cert_args(void)
{
    sp_creds  *creds;

    creds = sp_creds_new();

    is_int(sp_creds_add_key_cert_file(creds, NULL, cert_path("ca.crt")),
           SP_ERR_INVALID, "no key file: invalid");
    is_int(sp_creds_add_key_cert_file(creds, cert_path("server-rsa.key"),
                                      NULL),
           SP_ERR_INVALID, "no cert file: invalid");
    is_int(sp_creds_add_key_cert_mem(creds, NULL, 0, "x", 1), SP_ERR_INVALID,
           "no key in memory: invalid");
    ok(sp_creds_error(creds)[0] != '\0', "message: %s",
       sp_creds_error(creds));
    ok(error_queue_empty(), "bad arguments: error queue empty");

    sp_creds_unref(creds);
}


/* ---- CA stores ---------------------------------------------------------- */

typedef struct {
    const char  *title;
    const char  *file;
    const char  *words[2];
} ca_case_t;


static const ca_case_t  ca_cases[] = {
    { "missing CA file", NO_FILE, { "No such file" } },
    { "garbage CA", "garbage.pem", { "no certificate" } },
    { "a key as CA", "ca.key", { "no certificate" } },
};


static void
test_ca(void)
{
    int        rc;
    char      *pem, title[128];
    size_t     i, len;
    sp_ctx    *cctx;
    sp_pair   *client, *server;
    sp_creds  *creds, *screds;

    screds = creds_for("server-ec", NULL);

    for (i = 0; i < sizeof(ca_cases) / sizeof(ca_cases[0]); i++) {
        creds = sp_creds_new();

        snprintf(title, sizeof(title), "file: %s", ca_cases[i].title);
        rc = sp_creds_add_ca_file(creds, cert_path(ca_cases[i].file));
        is_int(rc, SP_ERR_LOAD, title);
        ok(error_queue_empty(), "%s: error queue empty", title);
        check_message(title, sp_creds_error(creds), ca_cases[i].file,
                      ca_cases[i].words, 2);

        pem = slurp(ca_cases[i].file, &len);
        if (pem != NULL) {
            snprintf(title, sizeof(title), "memory: %s", ca_cases[i].title);
            rc = sp_creds_add_ca_mem(creds, pem, len);
            is_int(rc, SP_ERR_LOAD, title);
            ok(error_queue_empty(), "%s: error queue empty", title);
            check_message(title, sp_creds_error(creds), "<memory>",
                          ca_cases[i].words, 2);
            free(pem);
        }

        /* then a good CA: the credentials verify the server */
        snprintf(title, sizeof(title), "%s, then ca.crt", ca_cases[i].title);
        is_int(sp_creds_add_ca_file(creds, cert_path("ca.crt")), SP_OK,
               title);

        cctx = sp_ctx_new(SP_CLIENT, creds);
        sp_creds_unref(creds);

        ok(connect_with(screds, cctx, &client, &server)
           && sp_pair_authorized(client),
           "%s: client verifies the server", title);

        sp_pair_free(client);
        sp_pair_free(server);
        sp_ctx_unref(cctx);
    }

    /* a CA from memory, and a bundle of two */
    pem = slurp("ca.crt", &len);
    creds = sp_creds_new();
    is_int(sp_creds_add_ca_mem(creds, pem, len), SP_OK, "CA from memory");
    is_int(sp_creds_add_ca_file(creds, cert_path("ca2.crt")), SP_OK,
           "a second CA added");
    free(pem);

    cctx = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    ok(connect_with(screds, cctx, &client, &server)
       && sp_pair_authorized(client),
       "CA from memory: client verifies the server");

    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);

    /* the wrong CA only: a client with reject_unauthorized fails */
    creds = creds_for(NULL, "ca2.crt");
    cctx = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    ok(!connect_with(screds, cctx, &client, &server),
       "only the wrong CA: no handshake");
    is_int(sp_pair_error(client), SP_ERR_UNAUTHORIZED,
           "only the wrong CA: client unauthorized");

    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);

    sp_creds_unref(screds);
    ok(error_queue_empty(), "CA: error queue empty");
}


/* ---- ciphers, suites, versions, session-id context ---------------------- */

/* The encrypted RSA key and its certificate. */
static int
add_enc_key(sp_creds *creds)
{
    return sp_creds_add_key_cert_file(creds, cert_path("server-rsa-enc.key"),
                                      cert_path("server-rsa.crt"));
}


/*
 * An unusable cipher or TLS 1.3 suite list is a bad argument or a list
 * that could not be loaded: the header allows either reading; the words
 * are what matter: the message names the list and says why.
 */
static void
list_refused(const sp_creds *creds, int rc, const char *what,
    const char *list, const char *words)
{
    ok(rc == SP_ERR_INVALID || rc == SP_ERR_LOAD, "%s refused (%d)", what,
       rc);
    ok(error_queue_empty(), "%s: error queue empty", what);
    ok(strstr(sp_creds_error(creds), list) != NULL,
       "%s: message names the list", what);
    ok(strstr(sp_creds_error(creds), words) != NULL,
       "%s: message says \"%s\"", what, words);
    diag("%s", sp_creds_error(creds));
}


/*
 * A setter's result: the code wanted, and when `words` is given, the
 * message says them.
 */
static void
setting(const sp_creds *creds, int rc, int want, const char *words,
    const char *name)
{
    is_int(rc, want, name);

    if (words != NULL) {
        ok(strstr(sp_creds_error(creds), words) != NULL,
           "%s: message says \"%s\": %s", name, words,
           sp_creds_error(creds));
    }
}


static void
test_settings_errors(void)
{
    static const struct {
        int          min;
        int          max;
        const char  *says;
        const char  *name;
    } ranges[] = {
        { SP_TLS1_3, SP_TLS1_2, "range", "versions min > max refused" },
        { 0x0305, 0, NULL, "unknown version refused" },
        { 0, 0x0200, NULL, "SSLv2 refused" },
    };

    static const struct {
        size_t       len;
        int          rc;
        const char  *says;          /* the limit */
        const char  *name;
    } sids[] = {
        { 33, SP_ERR_INVALID, "32", "session id context of 33 bytes refused" },
        { 0, SP_ERR_INVALID, NULL, "empty session id context refused" },
        { 32, SP_OK, NULL, "session id context of 32 bytes accepted" },
        { 1, SP_OK, NULL, "session id context of 1 byte accepted" },
    };

    char       sid[33];
    size_t     i;
    sp_creds  *creds;

    creds = sp_creds_new();

    list_refused(creds, sp_creds_set_ciphers(creds,
                                             "NO-SUCH-CIPHER:ALSO-NONE"),
                 "unknown cipher list", "NO-SUCH-CIPHER", "no cipher match");
    list_refused(creds, sp_creds_set_ciphersuites(creds, "TLS_NO_SUCH_SUITE"),
                 "unknown TLS 1.3 suite", "TLS_NO_SUCH_SUITE", "TLS 1.3");

    ok(sp_creds_set_ciphers(creds, NULL) < 0, "NULL cipher list refused");
    ok(error_queue_empty(), "NULL cipher list: error queue empty");

    for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        setting(creds, sp_creds_set_versions(creds, ranges[i].min,
                                             ranges[i].max),
                SP_ERR_INVALID, ranges[i].says, ranges[i].name);
    }

    ok(error_queue_empty(), "versions: error queue empty");

    memset(sid, 'x', sizeof(sid));

    for (i = 0; i < sizeof(sids) / sizeof(sids[0]); i++) {
        setting(creds, sp_creds_set_session_id_context(creds, sid,
                                                       sids[i].len),
                sids[i].rc, sids[i].says, sids[i].name);
    }

    ok(error_queue_empty(), "sid: error queue empty");

    /* good settings after all the refusals: they take and serve */
    is_int(sp_creds_set_ciphers(creds, "ECDHE-ECDSA-AES128-GCM-SHA256"),
           SP_OK, "a good cipher list after a bad one");
    is_int(sp_creds_set_ciphersuites(creds, "TLS_AES_128_GCM_SHA256"),
           SP_OK, "a good suite after a bad one");
    is_int(sp_creds_set_ciphersuites(creds, ""), SP_OK,
           "an empty suite list is valid (no TLS 1.3)");
    is_int(sp_creds_set_ciphersuites(creds, "TLS_AES_128_GCM_SHA256"),
           SP_OK, "suites back");
    is_int(sp_creds_set_versions(creds, SP_TLS1_2, SP_TLS1_3), SP_OK,
           "a good range after a bad one");
    is_int(sp_creds_add_key_cert_file(creds, cert_path("server-ec.key"),
                                      cert_path("server-ec.crt")),
           SP_OK, "EC key added");
    ok(serves(creds), "credentials with refused settings still serve");
    ok(error_queue_empty(), "settings: error queue empty");

    sp_creds_unref(creds);
}


/* ---- failure leaves the credentials usable ------------------------------ */

static void
test_failure_then_success(void)
{
    size_t     i;
    sp_ctx    *cctx;
    sp_pair   *client, *server;
    sp_creds  *creds;

    static const char *const  bad[][2] = {
        { NO_FILE, "server-rsa.crt" },
        { "garbage.pem", "server-rsa.crt" },
        { "server-rsa.key", "garbage.pem" },
        { "mismatch.key", "server-rsa.crt" },
        { "weak-rsa1024.key", "weak-rsa1024.crt" },
        { "server-rsa-enc.key", "server-rsa.crt" },
    };

    /* every failure on one credentials, then a good pair */
    creds = sp_creds_new();

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(sp_creds_add_key_cert_file(creds, cert_path(bad[i][0]),
                                      cert_path(bad[i][1]))
           == SP_ERR_LOAD,
           "failing add %s + %s", bad[i][0], bad[i][1]);
    }

    ok(error_queue_empty(), "after the failures: error queue empty");
    is_int(sp_creds_add_key_cert_file(creds, cert_path("server-rsa.key"),
                                      cert_path("server-rsa.crt")),
           SP_OK, "then a good add works");

    /* a failure after a good pair keeps the good pair (before the
       credentials serve: then they no longer change) */
    ok(sp_creds_add_key_cert_file(creds, cert_path("mismatch.key"),
                                  cert_path("server-ec.crt"))
       == SP_ERR_LOAD, "a failing add after a good one");
    ok(serves(creds), "and the credentials serve");

    cctx = client_ctx(0, 0, NULL);
    ok(connect_with(creds, cctx, &client, &server),
       "the good pair still serves");
    ok(peer_is(client, "server-rsa.crt"), "and it is the RSA certificate");
    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);

    ok(error_queue_empty(), "failure then success: error queue empty");
    sp_creds_unref(creds);
}


/* ---- several key types on one credentials ------------------------------- */

typedef struct {
    const char  *ciphers;      /* the client's, TLS 1.2 */
    const char  *crt;          /* the certificate it must get */
} pick_case_t;


static const pick_case_t  pick_cases[] = {
    { "ECDHE-ECDSA-AES128-GCM-SHA256", "server-ec.crt" },
    { "ECDHE-RSA-AES128-GCM-SHA256", "server-rsa.crt" },
    { "ECDHE-ECDSA-AES256-GCM-SHA384", "server-ec.crt" },
    { "ECDHE-RSA-AES256-GCM-SHA384", "server-rsa.crt" },
};


static void
test_two_key_types(void)
{
    size_t     i;
    sp_ctx    *cctx;
    sp_pair   *client, *server;
    sp_creds  *creds;

    creds = sp_creds_new();
    is_int(sp_creds_add_key_cert_file(creds, cert_path("server-rsa.key"),
                                      cert_path("server-rsa.crt")),
           SP_OK, "RSA pair added");
    is_int(sp_creds_add_key_cert_file(creds, cert_path("server-ec.key"),
                                      cert_path("server-ec.crt")),
           SP_OK, "EC pair added to the same credentials");

    for (i = 0; i < sizeof(pick_cases) / sizeof(pick_cases[0]); i++) {
        cctx = client_ctx(SP_TLS1_2, SP_TLS1_2, pick_cases[i].ciphers);

        ok(connect_with(creds, cctx, &client, &server),
           "%s: handshake", pick_cases[i].ciphers);
        is_str(sp_pair_cipher(client), pick_cases[i].ciphers,
               "negotiated the client's only cipher");
        ok(peer_is(client, pick_cases[i].crt), "%s gets %s",
           pick_cases[i].ciphers, pick_cases[i].crt);
        ok(sp_pair_authorized(client), "and verifies it");

        sp_pair_free(client);
        sp_pair_free(server);
        sp_ctx_unref(cctx);
    }

    ok(error_queue_empty(), "two key types: error queue empty");
    sp_creds_unref(creds);
}


/* ---- server ciphers and suites honoured --------------------------------- */

static void
test_server_ciphers(void)
{
    sp_ctx    *cctx;
    sp_pair   *client, *server;
    sp_creds  *creds;

    creds = creds_for("server-ec", NULL);
    is_int(sp_creds_set_ciphers(creds, "ECDHE-ECDSA-AES256-GCM-SHA384"),
           SP_OK, "server cipher list set");
    is_int(sp_creds_set_versions(creds, 0, SP_TLS1_2), SP_OK,
           "server at most TLS 1.2");

    cctx = client_ctx(0, 0, NULL);
    ok(connect_with(creds, cctx, &client, &server), "handshake");
    is_str(sp_pair_cipher(server), "ECDHE-ECDSA-AES256-GCM-SHA384",
           "server uses its only cipher");
    is_str(sp_pair_cipher(client), "ECDHE-ECDSA-AES256-GCM-SHA384",
           "client agrees");
    is_str(sp_pair_protocol(client), "TLSv1.2", "over TLS 1.2");
    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);
    sp_creds_unref(creds);

    /* a cipher the client does not offer: no handshake */
    creds = creds_for("server-ec", NULL);
    sp_creds_set_ciphers(creds, "ECDHE-ECDSA-AES256-GCM-SHA384");
    sp_creds_set_versions(creds, 0, SP_TLS1_2);

    cctx = client_ctx(0, SP_TLS1_2, "ECDHE-ECDSA-AES128-GCM-SHA256");
    ok(!connect_with(creds, cctx, &client, &server),
       "no common cipher: no handshake");
    is_int(sp_pair_error(server), SP_ERR_HANDSHAKE,
           "server: handshake error");
    is_int(sp_pair_alert_sent(server), 40, "server sent handshake_failure");
    is_int(sp_pair_error(client), SP_ERR_PEER_ALERT, "client: peer alert");
    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);
    sp_creds_unref(creds);

    /* TLS 1.3 suites */
    creds = creds_for("server-ec", NULL);
    is_int(sp_creds_set_ciphersuites(creds, "TLS_CHACHA20_POLY1305_SHA256"),
           SP_OK, "server suites set");

    cctx = client_ctx(0, 0, NULL);
    ok(connect_with(creds, cctx, &client, &server), "TLS 1.3 handshake");
    is_str(sp_pair_protocol(server), "TLSv1.3", "over TLS 1.3");
    is_str(sp_pair_cipher(server), "TLS_CHACHA20_POLY1305_SHA256",
           "server uses its only suite");
    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);
    sp_creds_unref(creds);

    ok(error_queue_empty(), "server ciphers: error queue empty");
}


/* ---- protocol versions -------------------------------------------------- */

typedef struct {
    int          smin, smax, cmin, cmax;
    const char  *protocol;     /* NULL: the handshake fails */
} version_case_t;


static const version_case_t  version_cases[] = {
    { 0, 0, 0, 0, "TLSv1.3" },
    { 0, SP_TLS1_2, 0, 0, "TLSv1.2" },
    { 0, 0, 0, SP_TLS1_2, "TLSv1.2" },
    { SP_TLS1_2, SP_TLS1_2, SP_TLS1_2, SP_TLS1_3, "TLSv1.2" },
    { SP_TLS1_3, 0, SP_TLS1_3, SP_TLS1_3, "TLSv1.3" },
    { SP_TLS1_3, 0, 0, SP_TLS1_2, NULL },
    { 0, SP_TLS1_2, SP_TLS1_3, 0, NULL },
};


static void
test_versions(void)
{
    int                    sent;
    char                   title[64];
    size_t                 i;
    sp_ctx                *cctx;
    sp_pair               *client, *server, *by, *to;
    sp_creds              *creds;
    const version_case_t  *vc;

    for (i = 0; i < sizeof(version_cases) / sizeof(version_cases[0]); i++) {
        vc = &version_cases[i];

        snprintf(title, sizeof(title), "server %04x..%04x client %04x..%04x",
                 vc->smin, vc->smax, vc->cmin, vc->cmax);

        creds = creds_for("server-ec", NULL);
        is_int(sp_creds_set_versions(creds, vc->smin, vc->smax), SP_OK,
               "server range set");
        cctx = client_ctx(vc->cmin, vc->cmax, NULL);

        if (vc->protocol != NULL) {
            ok(connect_with(creds, cctx, &client, &server), "%s: handshake",
               title);
            is_str(sp_pair_protocol(client), vc->protocol,
                   "client protocol");
            is_str(sp_pair_protocol(server), vc->protocol,
                   "server protocol");

        } else {
            ok(!connect_with(creds, cctx, &client, &server),
               "%s: no handshake", title);
            ok(sp_pair_error(client) < 0 && sp_pair_error(server) < 0,
               "%s: both pairs failed", title);

            /* whoever refused sent protocol_version, the other got it */
            sent = sp_pair_alert_sent(server) == 70 ? 1
                   : sp_pair_alert_sent(client) == 70 ? 2 : 0;
            ok(sent, "%s: protocol_version (70) sent by the %s", title,
               sent == 1 ? "server" : sent == 2 ? "client" : "nobody");

            by = sent == 2 ? client : server;
            to = sent == 2 ? server : client;
            is_int(sp_pair_error(by), SP_ERR_HANDSHAKE,
                   "the refusing side: handshake error");
            is_int(sp_pair_alert_received(to), 70,
                   "the other side received protocol_version");
            is_int(sp_pair_error(to), SP_ERR_PEER_ALERT,
                   "the other side: peer alert");
            ok(strstr(sp_pair_error_message(to), "protocol") != NULL,
               "message: %s", sp_pair_error_message(to));
        }

        ok(error_queue_empty(), "%s: error queue empty", title);

        sp_pair_free(client);
        sp_pair_free(server);
        sp_ctx_unref(cctx);
        sp_creds_unref(creds);
    }
}


/* ---- loads from the same bytes ------------------------------------------ */

/* Writes a generated certificate file's bytes to `path`. */

static int
copy_cert_file(const char *name, const char *path)
{
    FILE    *f;
    char    *data;
    size_t   len, n;

    data = slurp(name, &len);
    f = data ? fopen(path, "wb") : NULL;
    n = f ? fwrite(data, 1, len, f) : 0;

    if (f) {
        fclose(f);
    }

    free(data);
    return f != NULL && n == len;
}


/* The certificate a server with `screds` presents, as a file name. */

static int
presents(sp_creds *screds, const char *crt)
{
    int       same;
    sp_ctx   *cctx;
    sp_pair  *client, *server;

    cctx = client_ctx(0, 0, NULL);
    sp_ctx_set_reject_unauthorized(cctx, 0);

    same = connect_with(screds, cctx, &client, &server)
           && peer_is(client, crt);

    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);
    return same;
}


/*
 * Credentials loaded from the same bytes share what was parsed, and only
 * the same bytes do: a passphrase that does not open the key still fails
 * after another credentials opened it, a file changed between two loads
 * is read anew, and a CA set grown by one credentials stays as it was for
 * another.
 */

static void
test_same_bytes(void)
{
    char                      dir[] = "/tmp/sp-t-creds-XXXXXX";
    char                      key[64], crt[64];
    sp_ctx                   *cctx;
    sp_pair                  *client, *server;
    sp_creds                 *a, *b, *c, *screds;
    static const char *const  right[] = { "secret" };
    static const char *const  wrong[] = { "Secret" };

    a = sp_creds_new();
    sp_creds_set_passphrases(a, right, 1);
    is_int(add_enc_key(a), SP_OK, "same bytes: encrypted key opened");

    b = sp_creds_new();
    setting(b, add_enc_key(b), SP_ERR_LOAD, "no passphrase",
            "same bytes: no passphrase still fails");

    c = sp_creds_new();
    sp_creds_set_passphrases(c, wrong, 1);
    setting(c, add_enc_key(c), SP_ERR_LOAD, "wrong passphrase",
            "same bytes: a wrong passphrase still fails");

    ok(serves(a), "same bytes: the opened key serves");
    sp_creds_unref(a);
    sp_creds_unref(b);
    sp_creds_unref(c);

    /* one file name, two contents */
    if (mkdtemp(dir) == NULL) {
        ok(0, "same bytes: mkdtemp: %s", strerror(errno));
        return;
    }

    snprintf(key, sizeof(key), "%s/pair.key", dir);
    snprintf(crt, sizeof(crt), "%s/pair.crt", dir);

    a = sp_creds_new();
    b = sp_creds_new();

    ok(copy_cert_file("sni-a.key", key) && copy_cert_file("sni-a.crt", crt)
       && sp_creds_add_key_cert_file(a, key, crt) == SP_OK,
       "same bytes: sni-a loaded as pair.*");
    ok(copy_cert_file("sni-wild.key", key)
       && copy_cert_file("sni-wild.crt", crt)
       && sp_creds_add_key_cert_file(b, key, crt) == SP_OK,
       "same bytes: sni-wild loaded as pair.*");

    ok(presents(a, "sni-a.crt"), "same bytes: the first load keeps sni-a");
    ok(presents(b, "sni-wild.crt"), "same bytes: the second is sni-wild");

    unlink(key);
    unlink(crt);
    rmdir(dir);
    sp_creds_unref(a);
    sp_creds_unref(b);

    /* {ca2} and {ca2, ca}: growing the second leaves the first */
    a = creds_for(NULL, "ca2.crt");
    b = creds_for(NULL, "ca2.crt");
    is_int(b ? sp_creds_add_ca_file(b, cert_path("ca.crt")) : -1, SP_OK,
           "same bytes: ca.crt added to one of two {ca2}");
    screds = creds_for("server-ec", NULL);

    cctx = sp_ctx_new(SP_CLIENT, b);
    ok(connect_with(screds, cctx, &client, &server)
       && sp_pair_authorized(client), "same bytes: {ca2, ca} verifies");
    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);

    cctx = sp_ctx_new(SP_CLIENT, a);
    ok(!connect_with(screds, cctx, &client, &server)
       && sp_pair_error(client) == SP_ERR_UNAUTHORIZED,
       "same bytes: {ca2} still does not");
    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);

    sp_creds_unref(a);
    sp_creds_unref(b);
    sp_creds_unref(screds);
    ok(error_queue_empty(), "same bytes: error queue empty");
}


/* ---- reference counting ------------------------------------------------- */

static void
test_refcount(void)
{
    sp_ctx    *sctx1, *sctx2, *cctx;
    sp_pair   *client, *server;
    sp_creds  *creds;

    creds = creds_for("server-ec", NULL);
    ok(sp_creds_ref(creds) == creds, "ref returns the same credentials");
    sp_creds_unref(creds);

    /* two contexts share the credentials; the creator lets go at once */
    sctx1 = sp_ctx_new(SP_SERVER, creds);
    sctx2 = sp_ctx_new(SP_SERVER, creds);
    sp_creds_unref(creds);

    cctx = client_ctx(0, 0, NULL);

    server = sp_pair_new(sctx1, NULL, NULL);
    client = sp_pair_new(cctx, "localhost", NULL);
    ok(handshake(client, server), "creds released after sp_ctx_new serve");
    sp_pair_free(client);
    sp_pair_free(server);

    sp_ctx_unref(sctx1);

    server = sp_pair_new(sctx2, NULL, NULL);
    client = sp_pair_new(cctx, "localhost", NULL);
    ok(handshake(client, server), "second context still serves after the "
       "first is gone");
    sp_pair_free(client);
    sp_pair_free(server);

    /* a pair keeps its context, and so its credentials, alive */
    server = sp_pair_new(sctx2, NULL, NULL);
    client = sp_pair_new(cctx, "localhost", NULL);
    sp_ctx_unref(sctx2);
    sp_ctx_unref(cctx);
    ok(handshake(client, server), "pairs outlive their contexts");
    ok(peer_is(client, "server-ec.crt"), "with the right certificate");
    sp_pair_free(client);
    sp_pair_free(server);

    /* sp_ctx_new without credentials */
    ok(sp_ctx_new(SP_SERVER, NULL) == NULL, "no context without creds");

    /* unref of NULL is harmless */
    sp_creds_unref(NULL);
    ok(1, "sp_creds_unref(NULL) is harmless");

    ok(error_queue_empty(), "refcount: error queue empty");
}


/*
 * Passphrases wiped once the keys are in: the key serves, and a key added
 * afterwards has no passphrase to be opened with.
 */
static void
test_wipe_passphrases(void)
{
    sp_creds                 *creds;
    static const char *const  right[] = { "secret" };

    creds = sp_creds_new();
    sp_creds_set_passphrases(creds, right, 1);
    is_int(add_enc_key(creds), SP_OK, "wipe: encrypted key opened");

    sp_creds_wipe_passphrases(creds);

    setting(creds, add_enc_key(creds), SP_ERR_LOAD, "no passphrase",
            "wipe: a key added afterwards has no passphrase");

    ok(serves(creds), "wipe: the key serves after its passphrases went");

    /* it changes no configuration: allowed once the credentials serve */
    sp_creds_wipe_passphrases(creds);
    ok(1, "wipe: twice is harmless");
    sp_creds_unref(creds);
}


/* ---- errors as data ---------------------------------------------------- */

/*
 * Which input failed comes as fields, so that a host can point at the line
 * that named it without reading the message.
 */

static void
check_info(const char *title, const sp_error *e, int code, sp_field field,
    const char *origin, int item, const char *reason_words)
{
    char  message[1024];

    ok(e->code == code, "%s: code %d (got %d)", title, code, e->code);
    ok((int) e->field == (int) field, "%s: field %d (got %d)", title,
       (int) field, (int) e->field);
    ok(e->item == item, "%s: item %d (got %d)", title, item, e->item);

    if (origin == NULL) {
        ok(e->origin == NULL, "%s: no origin (got %s)", title,
           e->origin ? e->origin : "NULL");
        snprintf(message, sizeof(message), "%s", e->reason);

    } else {
        ok(e->origin != NULL && strcmp(e->origin, origin) == 0,
           "%s: origin %s", title, origin);
        snprintf(message, sizeof(message), "%s: %s", origin, e->reason);
    }

    ok(strstr(e->reason, reason_words) != NULL, "%s: reason says \"%s\": %s",
       title, reason_words, e->reason);
    ok(strcmp(e->message, message) == 0, "%s: message is origin: reason: %s",
       title, e->message);
}


static void
test_error_info(void)
{
    char         key[512], crt[512], missing[512];
    sp_ctx      *ctx;
    sp_creds    *creds;
    const char  *names[] = { "h2", "", "http/1.1" };

    creds = sp_creds_new();

    check_info("new credentials", sp_creds_error_info(creds), SP_OK,
               SP_FIELD_NONE, NULL, 0, "");

    snprintf(key, sizeof(key), "%s", cert_path("server-rsa.key"));
    snprintf(crt, sizeof(crt), "%s", cert_path("server-rsa.crt"));
    snprintf(missing, sizeof(missing), "%s", cert_path(NO_FILE));

    sp_creds_add_key_cert_file(creds, missing, crt);
    check_info("missing key file", sp_creds_error_info(creds), SP_ERR_LOAD,
               SP_FIELD_KEY, missing, 0, "cannot open");

    sp_creds_add_key_cert_file(creds, key, missing);
    check_info("missing certificate file", sp_creds_error_info(creds),
               SP_ERR_LOAD, SP_FIELD_CERT, missing, 0, "cannot open");

    snprintf(crt, sizeof(crt), "%s", cert_path("server-ec.crt"));
    sp_creds_add_key_cert_file(creds, key, crt);
    check_info("key of another certificate", sp_creds_error_info(creds),
               SP_ERR_LOAD, SP_FIELD_KEY, key, 0, "does not match");

    snprintf(crt, sizeof(crt), "%s", cert_path("weak-rsa1024.crt"));
    snprintf(key, sizeof(key), "%s", cert_path("weak-rsa1024.key"));
    sp_creds_add_key_cert_file(creds, key, crt);
    check_info("weak key", sp_creds_error_info(creds), SP_ERR_LOAD,
               SP_FIELD_CERT, crt, 0, "too small");

    snprintf(crt, sizeof(crt), "%s", cert_path("garbage.pem"));
    sp_creds_add_ca_file(creds, crt);
    check_info("CA file without a certificate", sp_creds_error_info(creds),
               SP_ERR_LOAD, SP_FIELD_CA, crt, 0, "no certificate found");

    sp_creds_set_ciphers(creds, "NO-SUCH-CIPHER");
    check_info("cipher list", sp_creds_error_info(creds), SP_ERR_INVALID,
               SP_FIELD_CIPHERS, NULL, 0, "NO-SUCH-CIPHER");
    ok(error_queue_empty(), "errors as data: error queue empty");

    sp_creds_unref(creds);

    ctx = ctx_for(SP_SERVER, "server-rsa", NULL);

    sp_ctx_set_alpn(ctx, names, 3);
    check_info("second ALPN name", sp_ctx_error_info(ctx), SP_ERR_INVALID,
               SP_FIELD_ALPN, NULL, 2, "#2");

    sp_ctx_add_ticket_key_file(ctx, missing);
    check_info("ticket key file", sp_ctx_error_info(ctx), SP_ERR_LOAD,
               SP_FIELD_TICKET_KEY, missing, 0, "cannot open");

    creds = creds_for("sni-a", NULL);
    sp_ctx_add_context(ctx, "a.*.com", creds);
    check_info("SNI name", sp_ctx_error_info(ctx), SP_ERR_INVALID,
               SP_FIELD_CONTEXT_NAME, NULL, 0, "a.*.com");
    sp_creds_unref(creds);

    sp_ctx_unref(ctx);
}



/*
 * Credentials made like a model serve as the model would with the same
 * keys: sp_ctx_find_same_creds, which compares everything that decides
 * how credentials serve, finds the ones made by hand.  The model's
 * passphrases unlock the new keys, and its CA outlives the model.
 */
static void
test_new_like(void)
{
    sp_ctx      *ctx;
    sp_creds    *model, *by_hand, *like, *plain;
    const char  *pass[] = { "wrong", "secret" };

    ctx = ctx_for(SP_SERVER, "server-ec", NULL);

    model = creds_for(NULL, "ca.crt");
    by_hand = creds_for(NULL, "ca.crt");

    for (like = model; like; like = like == model ? by_hand : NULL) {
        sp_creds_set_ciphers(like, "ECDHE-ECDSA-AES128-GCM-SHA256");
        sp_creds_set_ciphersuites(like, "TLS_AES_128_GCM_SHA256");
        sp_creds_set_versions(like, SP_TLS1_2, SP_TLS1_3);
        sp_creds_set_session_id_context(like, "like", 4);
        sp_creds_set_request_cert(like, 1);
        sp_creds_set_reject_unauthorized(like, 0);
        sp_creds_set_verify_depth(like, 3);
        sp_creds_set_ecdh_curve(like, "X25519:prime256v1");
        sp_creds_set_dhparam_file(like, cert_path("dh2048.pem"));
        sp_creds_set_honor_cipher_order(like, 1);
        sp_creds_add_conf_command(like, "Options", "-SessionTicket");
    }

    /* a key's identity includes the passphrases it was loaded with */
    sp_creds_set_passphrases(model, pass, 2);
    sp_creds_set_passphrases(by_hand, pass, 2);
    sp_creds_add_key_cert_file(by_hand, cert_path("sni-a.key"),
                               cert_path("sni-a.crt"));

    is_int(sp_ctx_add_context(ctx, "a.example.com", by_hand), SP_OK,
           "new like: the credentials made by hand serve a name");

    like = sp_creds_new_like(model);
    ok(like != NULL, "new like: made");
    sp_creds_unref(model);

    ok(sp_ctx_find_same_creds(ctx, like) == NULL,
       "new like: without keys they are not the ones made by hand");
    is_int(sp_creds_add_key_cert_file(like, cert_path("sni-a.key"),
                                      cert_path("sni-a.crt")),
           SP_OK, "new like: a key added");
    ok(sp_ctx_find_same_creds(ctx, like) == by_hand,
       "new like: with the same key they serve as the ones made by hand");

    is_int(sp_creds_add_key_cert_file(like,
                                      cert_path("server-rsa-enc.key"),
                                      cert_path("server-rsa.crt")),
           SP_OK, "new like: the model's passphrases unlock a key");
    sp_creds_wipe_passphrases(like);

    plain = sp_creds_new();
    sp_creds_unref(like);
    like = sp_creds_new_like(plain);
    sp_creds_add_key_cert_file(like, cert_path("sni-a.key"),
                               cert_path("sni-a.crt"));
    ok(sp_ctx_find_same_creds(ctx, like) == NULL,
       "new like: like empty credentials, they have none of the settings");

    finish_creds("new like", ctx,
                 (sp_creds *[]) { plain, like, by_hand, NULL });
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        test_key_cert_file(&key_cases[i]);
        test_key_cert_mem(&key_cases[i]);
    }

    test_key_cert_args();
    test_ca();
    test_settings_errors();
    test_failure_then_success();
    test_two_key_types();
    test_server_ciphers();
    test_versions();
    test_same_bytes();
    test_wipe_passphrases();
    test_refcount();
    test_error_info();
    test_new_like();

    return done_testing();
}
