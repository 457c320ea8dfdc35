/*
 * Fuzz harness: the test certificates, the server configuration under
 * test and the client configurations whose conversations are recorded
 * (see common.h).
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "common.h"


/* ---- certificates ------------------------------------------------------ */

static char  cert_dir[PATH_MAX];


static int
has_certs(const char *dir)
{
    char  path[PATH_MAX + 16];

    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    return access(path, R_OK) == 0;
}


void
fz_certs_init(const char *argv0)
{
    const char  *env = getenv("SP_CERTS");
    char         exe[PATH_MAX], *slash;

    if (env != NULL && env[0] != '\0') {
        snprintf(cert_dir, sizeof(cert_dir), "%s", env);

    } else if (has_certs("build/certs")) {
        snprintf(cert_dir, sizeof(cert_dir), "build/certs");

    } else {
        /* build/fuzz/fuzz_x -> build/certs */
        if (argv0 == NULL || realpath(argv0, exe) == NULL) {
            snprintf(exe, sizeof(exe), "./x");
        }

        slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
        }

        snprintf(cert_dir, sizeof(cert_dir), "%.*s/../certs",
                 (int) (sizeof(cert_dir) - 16), exe);
    }

    if (!has_certs(cert_dir)) {
        fprintf(stderr, "fuzz: no certificates in %s: run "
                "bash t/certs.sh build/certs (or set SP_CERTS)\n", cert_dir);
        exit(2);
    }
}


const char *
fz_cert_path(const char *name)
{
    static char  buf[4][PATH_MAX + 64];
    static int   next;
    char        *p = buf[next++ % 4];

    snprintf(p, PATH_MAX + 64, "%s/%s", cert_dir, name);
    return p;
}


/* Files are read once: the client fuzzer builds credentials per input. */
static struct {
    char    *name;
    char    *data;
    size_t   len;
} cert_cache[64];


char *
fz_read_cert(const char *name, size_t *len)
{
    FILE    *f;
    char    *data, *copy;
    long     size;
    size_t   got, i;

    for (i = 0; i < 64 && cert_cache[i].name != NULL; i++) {
        if (strcmp(cert_cache[i].name, name) == 0) {
            break;
        }
    }

    if (i == 64 || cert_cache[i].name == NULL) {
        f = fopen(fz_cert_path(name), "rb");
        if (f == NULL) {
            fprintf(stderr, "fuzz: %s: %s\n", fz_cert_path(name),
                    strerror(errno));
            exit(2);
        }

        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, 0, SEEK_SET);

        data = malloc((size_t) size + 1);
        if (data == NULL) {
            fz_die("harness out of memory");
        }

        got = fread(data, 1, (size_t) size, f);
        fclose(f);
        data[got] = '\0';

        if (i == 64) {
            if (len != NULL) {
                *len = got;
            }
            return data;
        }

        cert_cache[i].name = strdup(name);
        cert_cache[i].data = data;
        cert_cache[i].len = got;
    }

    copy = malloc(cert_cache[i].len + 1);
    if (copy == NULL) {
        fz_die("harness out of memory");
    }

    memcpy(copy, cert_cache[i].data, cert_cache[i].len + 1);

    if (len != NULL) {
        *len = cert_cache[i].len;
    }

    return copy;
}


sp_creds *
fz_creds(const char *base, const char *ca)
{
    sp_creds  *creds;
    char       name[64], *key, *crt, *pem;
    size_t     key_len, crt_len, pem_len;

    creds = sp_creds_new();
    if (creds == NULL) {
        fz_die("sp_creds_new failed");
    }

    if (base != NULL) {
        snprintf(name, sizeof(name), "%s.key", base);
        key = fz_read_cert(name, &key_len);
        snprintf(name, sizeof(name), "%s.crt", base);
        crt = fz_read_cert(name, &crt_len);

        if (sp_creds_add_key_cert_mem(creds, key, key_len, crt, crt_len)
            != SP_OK)
        {
            fz_die("%s: %s", base, sp_creds_error(creds));
        }

        free(key);
        free(crt);
    }

    if (ca != NULL) {
        pem = fz_read_cert(ca, &pem_len);

        if (sp_creds_add_ca_mem(creds, pem, pem_len) != SP_OK) {
            fz_die("%s: %s", ca, sp_creds_error(creds));
        }

        free(pem);
    }

    fz_check_err_queue("loading credentials");
    return creds;
}


/* ---- the server under test --------------------------------------------- */

time_t  fz_now = 1000;

const char *const  fz_server_alpn[] = { "http/1.1", "h2", "fuzz/0" };
const size_t       fz_server_nalpn = 3;

static const char *const  server_npn[] = { "h2", "spdy/3.1", "http/1.1" };

const char *const  fz_sni_names[] = {
    "a.example.com",
    "*.example.com",
    "www.example.*",
    "~^(api|www)[0-9]*\\.example\\.net$",
};
const size_t       fz_sni_nnames = 4;

static sp_creds  *server_creds;
static sp_creds  *sni_creds[4];
static sp_ctx    *server_ctx[FZ_SERVER_VARIANTS];


static time_t
fake_clock(void *arg)
{
    (void) arg;
    return fz_now;
}


/*
 * Groups without P-521, so that a client offering it first gets a
 * HelloRetryRequest.  On the default credentials' SSL_CTX, which every
 * server pair's SSL is made from: the credentials an SNI name chooses
 * have no SSL_CTX, and never changed the groups.
 */
static void
server_groups(sp_creds *creds)
{
    SSL_CTX  *ssl_ctx = sp_creds_ssl_ctx(creds);

    if (ssl_ctx == NULL
        || !SSL_CTX_set1_groups_list(ssl_ctx, "X25519:P-256:P-384"))
    {
        fz_die("SSL_CTX_set1_groups_list failed");
    }
}


void
fz_server_init(void)
{
    sp_creds  *c;
    char      *pem;
    size_t     len;
    int        v;

    fz_time_freeze();
    fz_rng_reset(FZ_RNG_INIT, 0x1111);
    fz_rng_select(FZ_RNG_INIT);

    /* The default credentials: ECDSA and RSA, the test CA. */
    server_creds = fz_creds("server-ec", "ca.crt");
    pem = fz_read_cert("server-rsa.key", &len);
    {
        size_t  crt_len;
        char   *crt = fz_read_cert("server-rsa.crt", &crt_len);

        if (sp_creds_add_key_cert_mem(server_creds, pem, len, crt, crt_len)
            != SP_OK)
        {
            fz_die("server-rsa: %s", sp_creds_error(server_creds));
        }

        free(crt);
    }
    free(pem);
    server_groups(server_creds);

    /* exact: the default policy */
    c = sni_creds[0] = fz_creds("sni-a", "ca.crt");

    /* leading wildcard: TLS <= 1.2 and ECDSA suites of its own */
    c = sni_creds[1] = fz_creds("sni-wild", "ca.crt");
    if (sp_creds_set_versions(c, 0, SP_TLS1_2) != SP_OK
        || sp_creds_set_ciphers(c, "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                   "ECDHE-ECDSA-CHACHA20-POLY1305:"
                                   "ECDHE-ECDSA-AES256-SHA") != SP_OK)
    {
        fz_die("sni-wild: %s", sp_creds_error(c));
    }

    /* trailing wildcard: the wrong CA and a strict policy of its own */
    c = sni_creds[2] = fz_creds("sni-trail", "ca2.crt");
    sp_creds_set_request_cert(c, 1);
    sp_creds_set_reject_unauthorized(c, 1);

    /* regex: TLS 1.3 only, ChaCha20 only, no client certificate */
    c = sni_creds[3] = fz_creds("sni-re", "ca.crt");
    sp_creds_set_request_cert(c, 0);
    if (sp_creds_set_versions(c, SP_TLS1_3, SP_TLS1_3) != SP_OK
        || sp_creds_set_ciphersuites(c, "TLS_CHACHA20_POLY1305_SHA256")
           != SP_OK)
    {
        fz_die("sni-re: %s", sp_creds_error(c));
    }

    for (v = 0; v < FZ_SERVER_VARIANTS; v++) {
        server_ctx[v] = fz_server_ctx_new(v);
    }

    ERR_clear_error();
}


sp_ctx *
fz_server_ctx_new(int variant)
{
    sp_ctx  *ctx;
    size_t   i;

    ctx = sp_ctx_new(SP_SERVER, server_creds);
    if (ctx == NULL) {
        fz_die("sp_ctx_new failed");
    }

    sp_ctx_set_request_cert(ctx, 1);
    sp_ctx_set_clock(ctx, fake_clock, NULL);

    if (sp_ctx_set_npn(ctx, server_npn, 3) != SP_OK
        || sp_ctx_set_alpn(ctx, fz_server_alpn, fz_server_nalpn) != SP_OK)
    {
        fz_die("npn/alpn: %s", sp_ctx_error(ctx));
    }

    for (i = 0; i < fz_sni_nnames; i++) {
        if (sp_ctx_add_context(ctx, fz_sni_names[i], sni_creds[i]) != SP_OK) {
            fz_die("add_context %s: %s", fz_sni_names[i], sp_ctx_error(ctx));
        }
    }

    if (variant % FZ_SERVER_VARIANTS == FZ_SERVER_LENIENT) {
        sp_ctx_set_reject_unauthorized(ctx, 0);
        sp_ctx_set_reneg_limit(ctx, 2, 10);

    } else {
        sp_ctx_set_reject_unauthorized(ctx, 1);
        sp_ctx_set_reject_unknown_name(ctx, 1);
        sp_ctx_set_reneg_limit(ctx, 0, 1);
        sp_ctx_set_clear_queue_limit(ctx, 1024);
    }

    ERR_clear_error();
    return ctx;
}


sp_ctx *
fz_server_ctx(int variant)
{
    return server_ctx[variant % FZ_SERVER_VARIANTS];
}


void
fz_server_forget_sessions(void)
{
    /*
     * 0: every session, whatever its age (OpenSSL 3.0).  Sessions live on
     * the default credentials' SSL_CTX only.
     */
    SSL_CTX_flush_sessions(sp_creds_ssl_ctx(server_creds), 0);

    ERR_clear_error();
}


/* ---- client configurations --------------------------------------------- */

/*
 * Signatures that make no random choice where it matters: RSA-PSS salts
 * would depend on how much randomness RSA blinding drew before, which
 * depends on the key's history in this process.
 */
#define FZ_CLIENT_SIGALGS \
    "ECDSA+SHA256:ECDSA+SHA384:RSA+SHA256:RSA+SHA384:" \
    "rsa_pss_rsae_sha256:rsa_pss_pss_sha256"

const fz_client_cfg  fz_client_cfgs[] = {
    /* name            servername          max        ciphers  groups
       npn alpn cert reneg keyupd */
    { "tls13-exact",    "a.example.com",     0,         NULL, NULL,
      0, 1, 1, 0, 1 },
    { "tls12-reneg",    "localhost",         SP_TLS1_2, NULL, NULL,
      1, 0, 1, 3, 0 },
    { "tls12-wildcard", "x.y.example.com",   SP_TLS1_2, NULL, NULL,
      1, 1, 0, 1, 0 },
    { "tls12-rsa-kx",   NULL,                SP_TLS1_2, "AES128-SHA", NULL,
      0, 0, 1, 0, 0 },
    { "tls13-hrr-regex", "api7.example.net", 0,         NULL, "P-521:X25519",
      0, 1, 0, 0, 0 },
    { "tls13-trailing-unauth", "www.example.org", 0,    NULL, NULL,
      0, 0, 1, 0, 0 },
    { "tls12-ecdhe-rsa", "localhost",        SP_TLS1_2,
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305", NULL,
      0, 1, 0, 0, 0 },
    { "tls13-no-sni",   NULL,                0,         NULL, NULL,
      1, 0, 0, 0, 0 },
};

const size_t  fz_nclient_cfgs = sizeof(fz_client_cfgs)
                                / sizeof(fz_client_cfgs[0]);

static const char *const  client_npn[] = { "spdy/3.1", "http/1.1" };
const char *const  fz_client_alpn[] = { "h2", "http/1.1" };
const size_t       fz_client_nalpn = 2;


sp_ctx *
fz_client_ctx(const fz_client_cfg *cfg, int reject)
{
    sp_creds  *creds;
    sp_ctx    *ctx;

    fz_rng_reset(FZ_RNG_INIT, 0x2222 + (uint64_t) (cfg - fz_client_cfgs));
    fz_rng_select(FZ_RNG_INIT);

    creds = fz_creds(cfg->client_cert ? "client" : NULL, "ca.crt");

    if (cfg->max_version
        && sp_creds_set_versions(creds, 0, cfg->max_version) != SP_OK)
    {
        fz_die("%s: %s", cfg->name, sp_creds_error(creds));
    }

    if (cfg->ciphers && sp_creds_set_ciphers(creds, cfg->ciphers) != SP_OK) {
        fz_die("%s: %s", cfg->name, sp_creds_error(creds));
    }

    /* settings first: building the SSL_CTX freezes the credentials */
    if (sp_creds_ssl_ctx(creds) == NULL
        || !SSL_CTX_set1_sigalgs_list(creds->ssl_ctx, FZ_CLIENT_SIGALGS))
    {
        fz_die("SSL_CTX_set1_sigalgs_list failed");
    }

    if (cfg->groups && !SSL_CTX_set1_groups_list(creds->ssl_ctx, cfg->groups))
    {
        fz_die("%s: groups refused", cfg->name);
    }

    ctx = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    if (ctx == NULL) {
        fz_die("sp_ctx_new failed");
    }

    sp_ctx_set_reject_unauthorized(ctx, reject);

    if ((cfg->npn && sp_ctx_set_npn(ctx, client_npn, 2) != SP_OK)
        || (cfg->alpn
            && sp_ctx_set_alpn(ctx, fz_client_alpn, fz_client_nalpn) != SP_OK))
    {
        fz_die("%s: %s", cfg->name, sp_ctx_error(ctx));
    }

    ERR_clear_error();
    return ctx;
}
