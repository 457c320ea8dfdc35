/*
 * Shared fuzz harness code: see common.h.
 */

/* RAND_set_rand_method() is deprecated in 3.0 but is exactly what a
   deterministic harness needs. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "common.h"


/* ---- failing ----------------------------------------------------------- */

void
fz_die(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "\nfuzz: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");

    if (ERR_peek_error() != 0) {
        fprintf(stderr, "fuzz: OpenSSL error queue:\n");
        ERR_print_errors_fp(stderr);
    }

    fflush(stderr);
    __builtin_trap();
}


void
fz_check_err_queue(const char *after)
{
    if (ERR_peek_error() != 0) {
        fz_die("OpenSSL error queue not empty after %s", after);
    }
}


/* ---- bytes ------------------------------------------------------------- */

void
fz_buf_add(fz_buf *b, const void *p, size_t n)
{
    size_t    size;
    uint8_t  *data;

    if (n == 0) {
        return;
    }

    if (b->len + n > b->size) {
        size = b->size ? b->size : 256;
        while (size < b->len + n) {
            size *= 2;
        }

        data = realloc(b->data, size);
        if (data == NULL) {
            fz_die("harness out of memory");
        }

        b->data = data;
        b->size = size;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;
}


void
fz_buf_free(fz_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}


unsigned
fz_byte(fz_reader *r)
{
    if (r->left == 0) {
        return 0;
    }

    r->left--;
    return *r->p++;
}


unsigned
fz_u16(fz_reader *r)
{
    unsigned  hi = fz_byte(r);

    return (hi << 8) | fz_byte(r);
}


/* ---- harness PRNG: splitmix64 ------------------------------------------ */

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t  z;

    z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


uint64_t
fz_prng_next(fz_prng *p)
{
    return splitmix(&p->s);
}


unsigned
fz_prng_below(fz_prng *p, unsigned n)
{
    return (unsigned) (fz_prng_next(p) % n);
}


/* ---- OpenSSL's randomness ---------------------------------------------- */

static uint64_t  rng_state[FZ_RNG_STREAMS];
static int       rng_current;


static int
rng_bytes(unsigned char *buf, int num)
{
    uint64_t  v = 0;
    int       i;

    for (i = 0; i < num; i++) {
        if (i % 8 == 0) {
            v = splitmix(&rng_state[rng_current]);
        }

        buf[i] = (unsigned char) (v >> (8 * (i % 8)));
    }

    return 1;
}


static int
rng_seed(const void *buf, int num)
{
    (void) buf;
    (void) num;
    return 1;
}


static int
rng_add(const void *buf, int num, double entropy)
{
    (void) buf;
    (void) num;
    (void) entropy;
    return 1;
}


static int
rng_status(void)
{
    return 1;
}


static RAND_METHOD  rng_method = {
    rng_seed, rng_bytes, NULL, rng_add, rng_bytes, rng_status
};


void
fz_rng_install(void)
{
    int  i;

    for (i = 0; i < FZ_RNG_STREAMS; i++) {
        rng_state[i] = 0;
    }

    rng_current = FZ_RNG_INIT;

    if (!RAND_set_rand_method(&rng_method)) {
        fz_die("RAND_set_rand_method failed");
    }

    ERR_clear_error();
}


void
fz_rng_reset(int stream, uint64_t seed)
{
    rng_state[stream] = seed;
}


void
fz_rng_select(int stream)
{
    rng_current = stream;
}


/* ---- time ------------------------------------------------------------- */

static time_t  frozen_time;


/*
 * OpenSSL 3.0 reads the wall clock with time(): session and ticket
 * timestamps (a TLS 1.2 ticket is inside the server's Finished, and so
 * inside every later handshake), certificate validity.  This definition
 * interposes libc's for the whole program; once frozen, every input and
 * every process sees the same second.
 */
time_t
time(time_t *t)
{
    struct timespec  ts;
    time_t           now;

    if (frozen_time) {
        now = frozen_time;
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        now = ts.tv_sec;
    }

    if (t != NULL) {
        *t = now;
    }

    return now;
}


void
fz_time_freeze(void)
{
    BIO        *bio;
    X509       *ca;
    struct tm   tm;
    char       *pem;
    size_t      len;

    pem = fz_read_cert("ca.crt", &len);
    bio = BIO_new_mem_buf(pem, (int) len);
    ca = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    if (ca == NULL || !ASN1_TIME_to_tm(X509_get0_notBefore(ca), &tm)) {
        fz_die("cannot read the notBefore of ca.crt");
    }

    /* a day into the test certificates' lives: valid, and not now */
    frozen_time = timegm(&tm) + 86400;

    X509_free(ca);
    BIO_free(bio);
    free(pem);
    ERR_clear_error();
}


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

    if (sp_creds_ssl_ctx(creds) == NULL
        || !SSL_CTX_set1_sigalgs_list(creds->ssl_ctx, FZ_CLIENT_SIGALGS))
    {
        fz_die("SSL_CTX_set1_sigalgs_list failed");
    }

    if (cfg->max_version
        && sp_creds_set_versions(creds, 0, cfg->max_version) != SP_OK)
    {
        fz_die("%s: %s", cfg->name, sp_creds_error(creds));
    }

    if (cfg->ciphers && sp_creds_set_ciphers(creds, cfg->ciphers) != SP_OK) {
        fz_die("%s: %s", cfg->name, sp_creds_error(creds));
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


/* ---- record headers ---------------------------------------------------- */

size_t
fz_record_offsets(const uint8_t *p, size_t len, size_t *off, size_t max)
{
    size_t  pos = 0, n = 0, rlen;

    while (pos + 5 <= len && n < max) {
        off[n++] = pos;
        rlen = ((size_t) p[pos + 3] << 8) | p[pos + 4];
        pos += 5 + rlen;
    }

    return n;
}


/* ---- pair invariants --------------------------------------------------- */

/* Every record a pair may ever hold at once, generously. */
#define FZ_OUT_BOUND  (1024 * 1024)


void
fz_track_init(fz_track *t, sp_pair *pair, sp_role role)
{
    memset(t, 0, sizeof(*t));
    t->pair = pair;
    t->role = role;
}


static int
valid_pair_error(int err)
{
    switch (err) {
    case SP_ERR_NOMEM:
    case SP_ERR_HANDSHAKE:
    case SP_ERR_PEER_ALERT:
    case SP_ERR_UNAUTHORIZED:
    case SP_ERR_RENEG_LIMIT:
    case SP_ERR_TRUNCATED:
    case SP_ERR_UNKNOWN_NAME:
    case SP_ERR_INTERNAL:
        return 1;
    }

    return 0;
}


void
fz_check(fz_track *t, const char *op, long ret)
{
    sp_pair   *p = t->pair;
    unsigned   st, ev;
    int        err, a;
    size_t     out, pending, queued;

    fz_check_err_queue(op);

    err = sp_pair_error(p);
    st = sp_pair_state(p);
    ev = sp_pair_events(p);
    out = sp_enc_out_pending(p);
    pending = sp_clear_pending(p);
    queued = sp_clear_queued(p);

    fz_check_err_queue("sp_pair_state/sp_clear_pending");

    /* errors are sticky, named, and announced once */
    if (t->error) {
        FZ_ASSERT(err == t->error, "%s: sticky error %d became %d", op,
                  t->error, err);
        FZ_ASSERT(ret == FZ_NO_RET || ret == t->error
                  || strcmp(op, "sp_clear_write") == 0 || ret >= 0,
                  "%s on a failed pair returned %ld, not its error %d",
                  op, ret, t->error);
        FZ_ASSERT(!(ev & SP_EVENT_ERROR), "%s: second SP_EVENT_ERROR", op);
        FZ_ASSERT(out <= t->out_at_error,
                  "%s: failed pair produced records (%zu > %zu bytes)", op,
                  out, t->out_at_error);
    }

    if (err) {
        FZ_ASSERT(valid_pair_error(err), "%s: unexpected pair error %d (%s)",
                  op, err, sp_strerror(err));
        FZ_ASSERT(sp_pair_error_message(p) != NULL
                  && sp_pair_error_message(p)[0] != '\0',
                  "%s: error %d without a message", op, err);

        if (!t->error) {
            FZ_ASSERT(ev & SP_EVENT_ERROR, "%s: failed (%d: %s) without "
                      "SP_EVENT_ERROR", op, err, sp_pair_error_message(p));
            FZ_ASSERT(ret == FZ_NO_RET || ret > 0 || ret == err,
                      "%s failed the pair with %d (%s) but returned %ld", op,
                      err, sp_pair_error_message(p), ret);
            t->error = err;
            t->out_at_error = out;
        }

        if (err == SP_ERR_PEER_ALERT) {
            FZ_ASSERT(sp_pair_alert_received(p) >= 0,
                      "%s: SP_ERR_PEER_ALERT with no alert received", op);
        }

        if (err == SP_ERR_UNAUTHORIZED) {
            FZ_ASSERT(sp_pair_authorization_error(p) != NULL,
                      "%s: SP_ERR_UNAUTHORIZED without authorization_error",
                      op);
        }

    } else {
        FZ_ASSERT(!(ev & SP_EVENT_ERROR), "%s: SP_EVENT_ERROR but no error",
                  op);
    }

    /* what a call may return besides the sticky error */
    if (ret != FZ_NO_RET && ret < 0 && !err) {
        FZ_ASSERT(ret == SP_ERR_AGAIN || ret == SP_ERR_INVALID
                  || ret == SP_ERR_CLOSED,
                  "%s returned %ld (%s) but the pair has no error", op, ret,
                  sp_strerror((int) ret));
    }

    a = sp_pair_alert_sent(p);
    FZ_ASSERT(a >= -1 && a <= 255, "%s: alert_sent %d", op, a);
    a = sp_pair_alert_received(p);
    FZ_ASSERT(a >= -1 && a <= 255, "%s: alert_received %d", op, a);

    /* state bits */
    FZ_ASSERT((st & ~0x7fu) == 0, "%s: unknown state bits 0x%x", op, st);
    FZ_ASSERT(!(st & SP_STATE_CLOSED) || st == SP_STATE_CLOSED,
              "%s: CLOSED with other bits (0x%x)", op, st);
    FZ_ASSERT(!!(st & SP_STATE_SEND_RECORDS) == (out > 0),
              "%s: SEND_RECORDS is %d with %zu bytes pending (state 0x%x)",
              op, !!(st & SP_STATE_SEND_RECORDS), out, st);
    FZ_ASSERT(!((st & SP_STATE_HANDSHAKING) && (st & SP_STATE_SECURE)),
              "%s: HANDSHAKING and SECURE (0x%x)", op, st);

    if (err) {
        FZ_ASSERT(st == (out ? SP_STATE_SEND_RECORDS : SP_STATE_CLOSED),
                  "%s: failed pair in state 0x%x with %zu bytes to send", op,
                  st, out);
        FZ_ASSERT(pending == 0 && queued == 0,
                  "%s: failed pair still has %zu readable, %zu queued", op,
                  pending, queued);
    }

    if (st & SP_STATE_CLOSED) {
        t->was_closed = 1;
        FZ_ASSERT(pending == 0, "%s: CLOSED but %zu bytes of cleartext "
                  "are readable (state hides CLEAR_READ)", op, pending);
    }

    if (!(st & SP_STATE_HANDSHAKING)) {
        t->handshake_over = 1;
    } else {
        FZ_ASSERT(!t->handshake_over, "%s: HANDSHAKING came back", op);
    }

    /* closed both ways: SEND_RECORDS alone until the last record is out */
    if (!err && st == SP_STATE_SEND_RECORDS) {
        FZ_ASSERT(p->shutdown_sent && (p->peer_closed || p->in_eof),
                  "%s: SEND_RECORDS alone on a pair that is neither failed "
                  "nor closed", op);
    }

    if (st & SP_STATE_SECURE) {
        t->was_secure = 1;
    } else if (t->was_secure && !err && !(st & SP_STATE_CLOSED)
               && st != SP_STATE_SEND_RECORDS)
    {
        fz_die("%s: SECURE went away without an error (0x%x)", op, st);
    }

    if (!err && !(st & SP_STATE_CLOSED)) {
        FZ_ASSERT(!!(st & SP_STATE_CLEAR_READ) == (pending > 0),
                  "%s: CLEAR_READ is %d with %zu bytes pending", op,
                  !!(st & SP_STATE_CLEAR_READ), pending);
    }

    /* events */
    if (ev & SP_EVENT_SECURE) {
        t->secure_events++;
        FZ_ASSERT(t->secure_events == 1, "%s: second SP_EVENT_SECURE", op);
        t->reused = sp_pair_session_reused(p);
        FZ_ASSERT((st & SP_STATE_SECURE) || err || (st & SP_STATE_CLOSED),
                  "%s: SP_EVENT_SECURE in state 0x%x", op, st);
    }

    if (ev & SP_EVENT_END) {
        t->end_events++;
        FZ_ASSERT(t->end_events == 1, "%s: second SP_EVENT_END", op);
    }

    if (ev & SP_EVENT_RENEGOTIATED) {
        FZ_ASSERT(t->was_secure, "%s: RENEGOTIATED before SECURE", op);
    }

    /* a bare transport end: an end, marked as such */
    if (ev & SP_EVENT_TRUNCATED) {
        FZ_ASSERT((ev & SP_EVENT_END) && sp_pair_truncated(p),
                  "%s: SP_EVENT_TRUNCATED without END, or unmarked (0x%x)",
                  op, ev);
    }

    FZ_ASSERT((ev & ~0x1fu) == 0, "%s: unknown event bits 0x%x", op, ev);
    t->events |= ev;

    /* bounds */
    FZ_ASSERT(out <= FZ_OUT_BOUND, "%s: %zu bytes of records pending", op,
              out);
    FZ_ASSERT(pending <= 16384, "%s: %zu bytes of cleartext in one record",
              op, pending);
    FZ_ASSERT(queued <= p->ctx->clear_queue_limit,
              "%s: %zu bytes queued over the limit %zu", op, queued,
              p->ctx->clear_queue_limit);
    FZ_ASSERT(p->enc_in.end - p->enc_in.start <= SP_ENC_IN_SIZE
              && p->enc_in.size <= SP_ENC_IN_SIZE,
              "%s: encrypted input buffer grew to %zu", op, p->enc_in.size);
    FZ_ASSERT(sp_ctx_connections(p->ctx) >= 1, "%s: connections %u", op,
              sp_ctx_connections(p->ctx));

    if ((ev & (SP_EVENT_SECURE | SP_EVENT_RENEGOTIATED)) && !err) {
        fz_check_facts(t);
    }
}


static int
in_list(const char *s, const char *const *list, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(s, list[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
check_cstr(const char *what, const char *s, size_t max)
{
    size_t  n;

    if (s == NULL) {
        return;
    }

    n = strlen(s);
    FZ_ASSERT(n >= 1 && n <= max, "%s has length %zu", what, n);
}


void
fz_check_facts(fz_track *t)
{
    static const char *const  versions[] = {
        "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
    };
    sp_pair       *p = t->pair;
    const char    *s, *e, *r;
    sp_peer_cert  *cert;
    int            secure;

    secure = (sp_pair_state(p) & SP_STATE_SECURE) != 0;

    s = sp_pair_protocol(p);
    if (secure) {
        FZ_ASSERT(s != NULL && in_list(s, versions, 4),
                  "protocol \"%s\"", s ? s : "(null)");
        s = sp_pair_cipher(p);
        FZ_ASSERT(s != NULL && s[0] != '\0', "no cipher when secure");
    }

    s = sp_pair_alpn_protocol(p);
    check_cstr("alpn protocol", s, 255);
    if (s != NULL && t->role == SP_SERVER) {
        FZ_ASSERT(in_list(s, fz_server_alpn, fz_server_nalpn),
                  "server selected ALPN \"%s\" not in its list", s);
    }
    if (s != NULL && t->role == SP_CLIENT) {
        FZ_ASSERT(in_list(s, fz_client_alpn, fz_client_nalpn),
                  "client accepted ALPN \"%s\" it did not offer", s);
    }

    check_cstr("npn protocol", sp_pair_npn_protocol(p), 255);
    check_cstr("servername", sp_pair_servername(p), 255);

    s = sp_pair_context_name(p);
    if (s != NULL) {
        FZ_ASSERT(t->role == SP_SERVER
                  && (in_list(s, fz_sni_names, fz_sni_nnames)
                      || strcmp(s, "(callback)") == 0),
                  "context name \"%s\"", s);
    }

    FZ_ASSERT(sp_pair_authorized(p) == 0 || sp_pair_authorized(p) == 1,
              "authorized %d", sp_pair_authorized(p));
    e = sp_pair_authorization_error(p);
    r = sp_pair_authorization_reason(p);
    if (sp_pair_authorized(p)) {
        FZ_ASSERT(e == NULL, "authorized with error %s", e);
    }
    FZ_ASSERT((e == NULL) == (r == NULL), "authorization error %s, reason %s",
              e ? e : "(null)", r ? r : "(null)");

    (void) sp_pair_session_reused(p);
    (void) sp_pair_renegotiations(p);

    cert = sp_pair_peer_cert(p);
    fz_check_err_queue("sp_pair_peer_cert");
    if (cert != NULL) {
        fz_check_peer_cert(cert);
        sp_peer_cert_free(cert);
    }
}


void
fz_summary(fz_track *t, void *file)
{
    sp_pair  *p = t->pair;

    fprintf(file, "fuzz: %s: state 0x%02x events 0x%x%s%s renegotiations %u"
            " protocol %s alpn %s npn %s context %s error %d%s%s\n",
            t->role == SP_SERVER ? "server" : "client", sp_pair_state(p),
            t->events, t->was_secure ? " (was secure)" : "",
            t->was_closed ? " (closed)" : "", sp_pair_renegotiations(p),
            sp_pair_protocol(p) ? sp_pair_protocol(p) : "-",
            sp_pair_alpn_protocol(p) ? sp_pair_alpn_protocol(p) : "-",
            sp_pair_npn_protocol(p) ? sp_pair_npn_protocol(p) : "-",
            sp_pair_context_name(p) ? sp_pair_context_name(p) : "-",
            t->error, t->error ? ": " : "",
            t->error ? sp_pair_error_message(p) : "");
}


/* ---- peer certificate snapshots ---------------------------------------- */

/* Well-formed UTF-8, no NUL (the string ends there), no overlongs. */
static int
valid_utf8(const unsigned char *s, int allow_control)
{
    unsigned  c, n, i, cp, min;

    while ((c = *s++) != 0) {
        if (c < 0x80) {
            if (!allow_control && (c < 0x20 || c == 0x7f)) {
                return 0;
            }
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1; cp = c & 0x1f; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2; cp = c & 0x0f; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }

        for (i = 0; i < n; i++) {
            if ((s[i] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }

        s += n;
    }

    return 1;
}


static void
check_name(const char *what, const sp_name_entry *list, size_t n,
    const char *line)
{
    fz_buf  built = { 0 };
    size_t  i;

    if (n > 0) {
        FZ_ASSERT(list != NULL, "%s: %zu entries but no array", what, n);
        FZ_ASSERT(line != NULL, "%s: entries without a line", what);
    } else {
        FZ_ASSERT(list == NULL, "%s: an array of 0 entries", what);
    }

    if (line == NULL) {
        FZ_ASSERT(n == 0, "%s: no line but %zu entries", what, n);
        return;
    }

    for (i = 0; i < n; i++) {
        FZ_ASSERT(list[i].key != NULL && list[i].key[0] != '\0',
                  "%s[%zu]: empty key", what, i);
        FZ_ASSERT(list[i].value != NULL, "%s[%zu]: NULL value", what, i);
        FZ_ASSERT(valid_utf8((const unsigned char *) list[i].key, 0),
                  "%s[%zu]: key is not printable UTF-8", what, i);
        FZ_ASSERT(valid_utf8((const unsigned char *) list[i].value, 1),
                  "%s[%zu] (%s): value is not valid UTF-8", what, i,
                  list[i].key);

        fz_buf_add(&built, "/", 1);
        fz_buf_add(&built, list[i].key, strlen(list[i].key));
        fz_buf_add(&built, "=", 1);
        fz_buf_add(&built, list[i].value, strlen(list[i].value));
    }

    fz_buf_add(&built, "", 1);

    FZ_ASSERT(strcmp((char *) built.data, line) == 0,
              "%s: line \"%s\" is not its entries \"%s\"", what, line,
              (char *) built.data);

    /* the last entry of a key wins */
    for (i = 0; i < n; i++) {
        const char  *v = sp_peer_cert_get(list, n, list[i].key);
        size_t       j, last = i;

        for (j = i + 1; j < n; j++) {
            if (strcmp(list[j].key, list[i].key) == 0) {
                last = j;
            }
        }

        FZ_ASSERT(v == list[last].value, "%s: sp_peer_cert_get(%s) is not "
                  "the last entry", what, list[i].key);
    }

    fz_buf_free(&built);
}


static void
check_printable(const char *what, const char *s)
{
    const unsigned char  *p;

    if (s == NULL) {
        return;
    }

    FZ_ASSERT(s[0] != '\0', "%s is empty", what);

    for (p = (const unsigned char *) s; *p; p++) {
        FZ_ASSERT(*p >= 0x20 && *p < 0x7f, "%s has byte 0x%02x: \"%s\"",
                  what, *p, s);
    }
}


static void
check_fingerprint(const char *what, const char *s, size_t bytes)
{
    size_t  i;

    if (s == NULL) {
        return;
    }

    FZ_ASSERT(strlen(s) == bytes * 3 - 1, "%s has length %zu", what,
              strlen(s));

    for (i = 0; s[i]; i++) {
        if (i % 3 == 2) {
            FZ_ASSERT(s[i] == ':', "%s: \"%s\"", what, s);
        } else {
            FZ_ASSERT((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A'
                      && s[i] <= 'F'), "%s: \"%s\"", what, s);
        }
    }
}


void
fz_check_peer_cert(const sp_peer_cert *c)
{
    const char  *s;

    check_name("subject", c->subject, c->subject_count, c->subject_line);
    check_name("issuer", c->issuer, c->issuer_count, c->issuer_line);

    if (c->subjectaltname != NULL) {
        /* quoted names: printable, UTF-8 only inside DirName */
        FZ_ASSERT(valid_utf8((const unsigned char *) c->subjectaltname, 0),
                  "subjectaltname is not printable UTF-8: \"%s\"",
                  c->subjectaltname);
        FZ_ASSERT(c->subjectaltname[0] != '\0', "subjectaltname is empty");
    }

    check_printable("valid_from", c->valid_from);
    check_printable("valid_to", c->valid_to);
    FZ_ASSERT(c->valid_from != NULL || c->valid_from_time == 0,
              "valid_from_time without valid_from");
    FZ_ASSERT(c->valid_to != NULL || c->valid_to_time == 0,
              "valid_to_time without valid_to");

    s = c->serial_number;
    if (s != NULL) {
        if (*s == '-') {
            s++;
        }
        FZ_ASSERT(*s != '\0', "serial \"%s\"", c->serial_number);
        for (; *s; s++) {
            FZ_ASSERT((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F'),
                      "serial \"%s\"", c->serial_number);
        }
    }

    check_fingerprint("fingerprint", c->fingerprint, 20);
    check_fingerprint("fingerprint256", c->fingerprint256, 32);
}


/* ---- draining ---------------------------------------------------------- */

size_t
fz_drain(fz_track *t, size_t max, fz_buf *keep)
{
    const uint8_t  *out;
    size_t          len, n, i, count, total, pending, take;
    struct iovec    iov[8];

    out = sp_enc_out_buf(t->pair, &len);
    pending = sp_enc_out_pending(t->pair);
    FZ_ASSERT((out == NULL) == (len == 0), "sp_enc_out_buf: %p with %zu",
              (const void *) out, len);
    FZ_ASSERT((len == 0) == (pending == 0) && len <= pending,
              "sp_enc_out_buf gives %zu, pending says %zu", len, pending);

    /* the blocks as iovecs: the first is what sp_enc_out_buf gave */
    count = sp_enc_out_iov(t->pair, iov, 8);
    total = 0;

    for (i = 0; i < count; i++) {
        FZ_ASSERT(iov[i].iov_len > 0, "empty iovec %zu", i);
        total += iov[i].iov_len;
    }

    FZ_ASSERT(count == 0 || (iov[0].iov_base == out && iov[0].iov_len == len),
              "sp_enc_out_iov starts at %p+%zu, sp_enc_out_buf at %p+%zu",
              count ? iov[0].iov_base : NULL, count ? iov[0].iov_len : 0,
              (const void *) out, len);
    FZ_ASSERT(total <= pending && (count == 8 || total == pending),
              "iovecs hold %zu of %zu", total, pending);

    n = (max && total > max) ? max : total;

    if (n == 0) {
        return 0;
    }

    if (keep != NULL) {
        for (i = 0, take = n; take; i++) {
            len = iov[i].iov_len < take ? iov[i].iov_len : take;
            fz_buf_add(keep, iov[i].iov_base, len);
            take -= len;
        }
    }

    sp_enc_out_consume(t->pair, n);
    fz_check(t, "sp_enc_out_consume", FZ_NO_RET);

    FZ_ASSERT(sp_enc_out_pending(t->pair) == pending - n,
              "consumed %zu of %zu, %zu left", n, pending,
              sp_enc_out_pending(t->pair));
    return n;
}


/* ---- host actions ------------------------------------------------------ */

static const char  client_request[] =
    "GET / HTTP/1.1\r\nHost: fuzz.example.com\r\n\r\n";
static const char  server_response[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";


size_t
fz_read_all(fz_track *t, fz_prng *prng)
{
    static uint8_t  buf[16384];
    size_t          total = 0, size;
    unsigned        st;
    ssize_t         r;
    int             i;

    for (i = 0; i < 100000; i++) {
        size = sizeof(buf);
        if (prng != NULL && fz_prng_below(prng, 4) == 0) {
            size = 1 + fz_prng_below(prng, 64);
        }

        st = sp_pair_state(t->pair);
        r = sp_clear_read(t->pair, buf, size);
        fz_check(t, "sp_clear_read", (long) r);

        FZ_ASSERT(r <= (ssize_t) size, "sp_clear_read returned %zd > %zu",
                  r, size);

        if ((st & SP_STATE_CLEAR_READ) && !sp_pair_error(t->pair)) {
            FZ_ASSERT(r > 0, "CLEAR_READ was set but sp_clear_read "
                      "returned %zd", r);
        }

        if (r == 0) {
            FZ_ASSERT(t->events & SP_EVENT_END, "sp_clear_read returned 0 "
                      "(the end) without SP_EVENT_END");
        }

        if (r <= 0) {
            break;
        }

        total += (size_t) r;
    }

    return total;
}


static void
write_checked(fz_track *t, const void *data, size_t len)
{
    ssize_t  r;
    size_t   before = sp_clear_queued(t->pair);

    r = sp_clear_write(t->pair, data, len);
    fz_check(t, "sp_clear_write", (long) r);

    FZ_ASSERT(r <= (ssize_t) len, "sp_clear_write took %zd of %zu", r, len);
    FZ_ASSERT(r != 0, "sp_clear_write returned 0 for %zu bytes", len);

    if (r > 0 && sp_clear_queued(t->pair) > before) {
        FZ_ASSERT(sp_clear_queued(t->pair) - before <= (size_t) r,
                  "queue grew by more than was written");
    }
}


static const char *const  act_names[FZ_ACTIONS] = {
    "none", "write", "write-big", "key-update", "renegotiate", "shutdown",
    "clock", "set-time", "partial-drain"
};


static int
verbosity(void)
{
    static int  v = -1;

    if (v < 0) {
        const char  *e = getenv("SP_FUZZ_VERBOSE");

        v = e ? atoi(e) : 0;
    }

    return v;
}


void
fz_act(fz_track *t, int action, fz_prng *prng)
{
    static uint8_t  big[40000];
    sp_pair        *p = t->pair;
    const char     *msg;
    int             rc;

    if (verbosity() >= 2 && action > 0 && action < FZ_ACTIONS) {
        fprintf(stderr, "fuzz: %s: %s (state 0x%02x)\n",
                t->role == SP_SERVER ? "server" : "client", act_names[action],
                sp_pair_state(p));
    }

    switch (action) {

    case FZ_ACT_WRITE:
        msg = (t->role == SP_CLIENT) ? client_request : server_response;
        write_checked(t, msg, strlen(msg));
        break;

    case FZ_ACT_WRITE_BIG:
        if (big[0] == 0) {
            memset(big, 'B', sizeof(big));
        }
        write_checked(t, big, sizeof(big));
        break;

    case FZ_ACT_KEY_UPDATE:
        /* the harness asks OpenSSL directly: the API has no KeyUpdate */
        ERR_clear_error();
        if (!sp_pair_error(p) && (sp_pair_state(p) & SP_STATE_SECURE)
            && SSL_version(p->ssl) == TLS1_3_VERSION)
        {
            (void) SSL_key_update(p->ssl, SSL_KEY_UPDATE_REQUESTED);
        }
        ERR_clear_error();
        fz_act(t, FZ_ACT_WRITE, prng);
        break;

    case FZ_ACT_RENEG:
        rc = sp_pair_renegotiate(p);
        fz_check(t, "sp_pair_renegotiate", rc);
        break;

    case FZ_ACT_SHUTDOWN:
        rc = sp_pair_shutdown(p);
        fz_check(t, "sp_pair_shutdown", rc);
        break;

    case FZ_ACT_CLOCK:
        fz_now += prng ? (time_t) fz_prng_below(prng, 20) : 100;
        break;

    case FZ_ACT_SET_TIME:
        sp_pair_set_time(p, fz_now + (prng ? fz_prng_below(prng, 30) : 0));
        fz_check(t, "sp_pair_set_time", FZ_NO_RET);
        break;

    case FZ_ACT_PARTIAL_DRAIN:
        fz_drain(t, 1 + (prng ? fz_prng_below(prng, 100) : 0), NULL);
        break;
    }
}


/* ---- feeding ----------------------------------------------------------- */

void
fz_feed(fz_feeder *f, const uint8_t *p, size_t len)
{
    fz_track  *t = f->t;
    fz_prng    prng;
    unsigned   strategy, param, st;
    size_t     off = 0, step = 0, n, room, took;
    uint8_t   *buf;
    ssize_t    r;
    int        rc, stalls = 0;

    prng.s = 0x5eed0000ULL + f->feed;
    strategy = f->feed & 3;
    param = f->feed >> 3;

    fz_rng_select(f->stream);

    for (;;) {
        while (step < f->nsteps && f->steps[step].off <= off) {
            fz_act(t, f->steps[step].action, NULL);
            fz_read_all(t, NULL);
            fz_drain(t, 0, f->out);
            step++;
        }

        if (off >= len) {
            break;
        }

        switch (strategy) {
        case 0:
            n = len - off;
            break;
        case 1:
            n = 1 + param;
            break;
        case 2:
            n = 1 + fz_prng_below(&prng, 1 + 8 * param);
            break;
        default:
            n = 1 + fz_prng_below(&prng, 4096);
            break;
        }

        if (n > len - off) {
            n = len - off;
        }

        if (step < f->nsteps && f->steps[step].off - off < n) {
            n = f->steps[step].off - off;
        }

        took = 0;

        if (fz_prng_below(&prng, 2)) {
            r = sp_enc_in(t->pair, p + off, n);
            fz_check(t, "sp_enc_in", (long) r);
            FZ_ASSERT(r <= (ssize_t) n, "sp_enc_in took %zd of %zu", r, n);
            if (r > 0) {
                took = (size_t) r;
            }

        } else {
            st = sp_pair_state(t->pair);
            buf = sp_enc_in_buf(t->pair, &room);
            fz_check(t, "sp_enc_in_buf", FZ_NO_RET);

            FZ_ASSERT((buf == NULL) == (room == 0),
                      "sp_enc_in_buf: %p with %zu", (void *) buf, room);
            FZ_ASSERT(room <= SP_ENC_IN_SIZE, "sp_enc_in_buf: room %zu",
                      room);
            FZ_ASSERT(!!(st & SP_STATE_RECV_RECORDS) == (buf != NULL),
                      "RECV_RECORDS is %d but sp_enc_in_buf gives %zu bytes",
                      !!(st & SP_STATE_RECV_RECORDS), room);

            if (buf != NULL) {
                took = n < room ? n : room;
                memcpy(buf, p + off, took);
                rc = sp_enc_in_commit(t->pair, took);
                fz_check(t, "sp_enc_in_commit", rc);
            }
        }

        off += took;

        if (verbosity() >= 3) {
            fprintf(stderr, "fuzz: fed %zu bytes, %zu of %zu (state 0x%02x)\n",
                    took, off, len, sp_pair_state(t->pair));
        }

        /* a host that does not always read at once (random actions on) */
        if (!(f->feed & 4) || took == 0 || fz_prng_below(&prng, 4) != 0) {
            fz_read_all(t, &prng);
        }

        if ((f->feed & 4) && fz_prng_below(&prng, 4) == 0) {
            fz_act(t, 1 + (int) fz_prng_below(&prng, FZ_ACTIONS - 1), &prng);
            fz_read_all(t, &prng);
        }

        if (fz_prng_below(&prng, 8) != 0) {
            fz_drain(t, 0, f->out);
        }

        if (took == 0) {
            fz_drain(t, 0, f->out);

            if (++stalls > 2) {
                break;
            }

        } else {
            stalls = 0;
        }
    }

    /* and may see the transport end before it read the last records */
    if (!(f->feed & 4) || !f->eof || fz_prng_below(&prng, 2) == 0) {
        fz_read_all(t, NULL);
    }

    if (f->eof) {
        rc = sp_enc_in_eof(t->pair);
        fz_check(t, "sp_enc_in_eof", rc);
        fz_read_all(t, NULL);
    }

    fz_drain(t, 0, f->out);
}


/* ---- edits ------------------------------------------------------------- */

void
fz_apply_edits(const uint8_t *orig, size_t len, const uint8_t *edits,
    size_t nedits, fz_buf *out)
{
    size_t    rec[512], nrec, i, pos, n, cur;
    unsigned  op, a, b, val, k;

    out->len = 0;
    fz_buf_add(out, orig, len);
    fz_buf_add(out, "", 1);          /* room for a position at the end */
    out->len--;

    nrec = fz_record_offsets(orig, len, rec, 512);

    for (i = 0; i < nedits; i++) {
        op = edits[4 * i];
        a = edits[4 * i + 1];
        b = edits[4 * i + 2];
        val = edits[4 * i + 3];
        cur = out->len;

        if ((op & 4) && nrec > 0) {
            pos = rec[a % nrec] + b % 5;         /* in a record header */
        } else {
            pos = ((size_t) a << 8) | b;
        }

        pos = cur ? pos % (cur + 1) : 0;

        switch (op & 3) {

        case 0:                                  /* XOR */
            if (pos < cur) {
                out->data[pos] ^= (uint8_t) (val ? val : 0xff);
            }
            break;

        case 1:                                  /* insert 1..16 bytes */
            n = 1 + (op >> 4);
            for (k = 0; k < n; k++) {
                fz_buf_add(out, "", 1);
            }
            memmove(out->data + pos + n, out->data + pos, cur - pos);
            memset(out->data + pos, (int) val, n);
            break;

        case 2:                                  /* delete 1..16 bytes */
            n = 1 + (val & 15);
            if (pos + n > cur) {
                n = cur - pos;
            }
            memmove(out->data + pos, out->data + pos + n, cur - pos - n);
            out->len -= n;
            break;

        default:                                 /* overwrite */
            if (pos < cur) {
                out->data[pos] = (uint8_t) val;
            }
            break;
        }
    }
}


/* ---- recording --------------------------------------------------------- */

typedef struct {
    fz_transcript  *t;
    sp_pair        *c, *s;
    fz_track        tc, ts;
} fz_rec;


/* Records moved from one side to the other, logged; then the receiver
   reads what it can, as a host would. */
static size_t
rec_move(fz_rec *r, int to_server)
{
    fz_track        *from = to_server ? &r->tc : &r->ts;
    fz_track        *to = to_server ? &r->ts : &r->tc;
    fz_buf          *log = to_server ? &r->t->c2s : &r->t->s2c;
    int              stream = to_server ? FZ_RNG_SERVER : FZ_RNG_CLIENT;
    const uint8_t   *out;
    uint8_t         *in;
    size_t           len, room, n, moved = 0;
    int              rc;

    for ( ;; ) {
        out = sp_enc_out_buf(from->pair, &len);
        if (out == NULL) {
            break;
        }

        fz_rng_select(stream);
        in = sp_enc_in_buf(to->pair, &room);
        fz_check(to, "sp_enc_in_buf", FZ_NO_RET);
        if (in == NULL) {
            break;
        }

        n = len < room ? len : room;
        memcpy(in, out, n);
        fz_buf_add(log, out, n);

        sp_enc_out_consume(from->pair, n);
        fz_check(from, "sp_enc_out_consume", FZ_NO_RET);

        moved += n;
        rc = sp_enc_in_commit(to->pair, n);
        fz_check(to, "sp_enc_in_commit", rc);

        if (rc != SP_OK) {
            break;
        }
    }

    fz_rng_select(stream);
    fz_read_all(to, NULL);

    return moved;
}


static void
rec_pump(fz_rec *r)
{
    size_t  moved;
    int     rounds = 0;

    do {
        moved = rec_move(r, 1);
        moved += rec_move(r, 0);
    } while (moved && ++rounds < 1000);
}


static void
rec_act(fz_rec *r, int client, int action)
{
    fz_transcript  *t = r->t;

    if (client) {
        if (t->nclient_steps < FZ_MAX_STEPS) {
            t->client_steps[t->nclient_steps].off = t->s2c.len;
            t->client_steps[t->nclient_steps].action = action;
            t->nclient_steps++;
        }
        fz_rng_select(FZ_RNG_CLIENT);
        fz_act(&r->tc, action, NULL);
        fz_read_all(&r->tc, NULL);

    } else {
        if (t->nserver_steps < FZ_MAX_STEPS) {
            t->server_steps[t->nserver_steps].off = t->c2s.len;
            t->server_steps[t->nserver_steps].action = action;
            t->nserver_steps++;
        }
        fz_rng_select(FZ_RNG_SERVER);
        fz_act(&r->ts, action, NULL);
        fz_read_all(&r->ts, NULL);
    }

    rec_pump(r);
}


static int
both_secure(fz_rec *r)
{
    return (sp_pair_state(r->c) & SP_STATE_SECURE)
           && (sp_pair_state(r->s) & SP_STATE_SECURE);
}


void
fz_record(const fz_client_cfg *cfg, fz_transcript *t)
{
    int  err;

    err = fz_record_ex(cfg, fz_server_ctx(FZ_SERVER_LENIENT), FZ_SERVER_SEED,
                       NULL, 0, t, NULL);
    FZ_ASSERT(err == SP_OK, "client sp_pair_new: %d", err);
}


/* A client pair of `cctx`, offering `session` when not NULL. */
static sp_pair *
client_pair_new(sp_ctx *cctx, const fz_client_cfg *cfg,
    const uint8_t *session, size_t len, int *err)
{
    if (session == NULL) {
        return sp_pair_new(cctx, cfg->servername, err);
    }

    return sp_pair_new_with_session(cctx, cfg->servername, session, len,
                                    err);
}


int
fz_record_ex(const fz_client_cfg *cfg, sp_ctx *sctx, uint64_t server_seed,
    const uint8_t *session, size_t len, fz_transcript *t,
    fz_buf *session_out)
{
    fz_rec    r;
    sp_ctx   *cctx;
    uint8_t  *der;
    ssize_t   n;
    int       err, i;

    memset(t, 0, sizeof(*t));
    t->cfg = cfg;

    fz_rng_reset(FZ_RNG_SERVER, server_seed);
    fz_rng_reset(FZ_RNG_CLIENT, FZ_CLIENT_SEED);
    fz_now = 1000;
    fz_server_forget_sessions();

    cctx = fz_client_ctx(cfg, 0);

    memset(&r, 0, sizeof(r));
    r.t = t;

    fz_rng_select(FZ_RNG_CLIENT);
    r.c = client_pair_new(cctx, cfg, session, len, &err);
    fz_check_err_queue(session ? "sp_pair_new_with_session" : "sp_pair_new");

    if (r.c == NULL) {
        FZ_ASSERT(err != SP_OK, "no client pair, but SP_OK");
        FZ_ASSERT(sp_ctx_connections(cctx) == 0, "a refused pair counts "
                  "in connections (%u)", sp_ctx_connections(cctx));
        sp_ctx_unref(cctx);
        return err;
    }

    FZ_ASSERT(err == SP_OK, "client pair made, but err %d", err);
    fz_track_init(&r.tc, r.c, SP_CLIENT);
    fz_check(&r.tc, "sp_pair_new", FZ_NO_RET);
    t->hello_len = sp_enc_out_pending(r.c);
    FZ_ASSERT(t->hello_len > 0, "a new client pair has no ClientHello");

    fz_rng_select(FZ_RNG_SERVER);
    r.s = sp_pair_new(sctx, NULL, &err);
    FZ_ASSERT(r.s != NULL, "server sp_pair_new: %d", err);
    fz_track_init(&r.ts, r.s, SP_SERVER);
    fz_check(&r.ts, "sp_pair_new", FZ_NO_RET);

    rec_pump(&r);

    if (both_secure(&r)) {
        t->reused_client = sp_pair_session_reused(r.c);
        t->reused_server = sp_pair_session_reused(r.s);

        rec_act(&r, 1, FZ_ACT_WRITE);
        rec_act(&r, 0, FZ_ACT_WRITE);

        if (cfg->key_update) {
            rec_act(&r, 1, FZ_ACT_KEY_UPDATE);
            rec_act(&r, 0, FZ_ACT_WRITE);
        }

        for (i = 0; i < cfg->renegotiations && both_secure(&r); i++) {
            rec_act(&r, 0, FZ_ACT_CLOCK);
            rec_act(&r, 1, FZ_ACT_RENEG);
            rec_act(&r, 1, FZ_ACT_WRITE);
            rec_act(&r, 0, FZ_ACT_WRITE);
        }

        t->secure = both_secure(&r) && !sp_pair_error(r.c)
                    && !sp_pair_error(r.s);

        /* the client's session, as a host would keep it (a TLS 1.3
           client has its tickets by now) */
        if (session_out != NULL && t->secure) {
            n = sp_pair_get_session(r.c, NULL, 0);
            fz_check_err_queue("sp_pair_get_session");

            if (n > 0) {
                der = malloc((size_t) n);
                FZ_ASSERT(der != NULL, "harness out of memory");
                FZ_ASSERT(sp_pair_get_session(r.c, der, (size_t) n) == n,
                          "sp_pair_get_session changed its size");
                fz_check_err_queue("sp_pair_get_session");
                session_out->len = 0;
                fz_buf_add(session_out, der, (size_t) n);
                free(der);

            } else {
                FZ_ASSERT(n == SP_ERR_AGAIN, "sp_pair_get_session: %zd", n);
            }
        }

        rec_act(&r, 1, FZ_ACT_SHUTDOWN);
        rec_act(&r, 0, FZ_ACT_SHUTDOWN);
    }

    t->client_error = sp_pair_error(r.c);
    t->server_error = sp_pair_error(r.s);
    snprintf(t->client_message, sizeof(t->client_message), "%s",
             sp_pair_error_message(r.c));
    snprintf(t->server_message, sizeof(t->server_message), "%s",
             sp_pair_error_message(r.s));

    if (verbosity() >= 1) {
        fz_summary(&r.tc, stderr);
        fz_summary(&r.ts, stderr);
    }

    sp_pair_free(r.c);
    sp_pair_free(r.s);
    FZ_ASSERT(sp_ctx_connections(cctx) == 0 && sp_ctx_connections(sctx) == 0,
              "connections %u and %u after free", sp_ctx_connections(cctx),
              sp_ctx_connections(sctx));
    sp_ctx_unref(cctx);
    ERR_clear_error();
    return SP_OK;
}


void
fz_transcript_free(fz_transcript *t)
{
    fz_buf_free(&t->c2s);
    fz_buf_free(&t->s2c);
}


const char *
fz_replay_check(const fz_transcript *t)
{
    return fz_replay_check_ex(t, fz_server_ctx(FZ_SERVER_LENIENT), NULL, 0);
}


const char *
fz_replay_check_ex(const fz_transcript *t, sp_ctx *sctx,
    const uint8_t *session, size_t len)
{
    static char  why[256];
    fz_feeder    f;
    fz_track     tr;
    fz_buf       out = { 0 };
    sp_pair     *p;
    sp_ctx      *cctx;
    size_t       i;
    int          err, secure;

    /* the client's bytes to a fresh server */
    fz_rng_reset(FZ_RNG_SERVER, FZ_SERVER_SEED);
    fz_now = 1000;
    fz_server_forget_sessions();
    fz_rng_select(FZ_RNG_SERVER);

    p = sp_pair_new(sctx, NULL, &err);
    FZ_ASSERT(p != NULL, "server sp_pair_new: %d", err);
    fz_track_init(&tr, p, SP_SERVER);

    memset(&f, 0, sizeof(f));
    f.t = &tr;
    f.stream = FZ_RNG_SERVER;
    f.steps = t->server_steps;
    f.nsteps = t->nserver_steps;
    fz_feed(&f, t->c2s.data, t->c2s.len);

    secure = tr.was_secure && !tr.error;
    sp_pair_free(p);

    if (t->secure && !secure) {
        snprintf(why, sizeof(why), "server replay did not complete "
                 "(error %d)", tr.error);
        return why;
    }

    /* the server's bytes to a fresh client */
    fz_rng_reset(FZ_RNG_CLIENT, FZ_CLIENT_SEED);
    cctx = fz_client_ctx(t->cfg, 0);
    fz_rng_select(FZ_RNG_CLIENT);

    p = client_pair_new(cctx, t->cfg, session, len, &err);
    FZ_ASSERT(p != NULL, "client sp_pair_new: %d", err);
    fz_track_init(&tr, p, SP_CLIENT);

    memset(&f, 0, sizeof(f));
    f.t = &tr;
    f.stream = FZ_RNG_CLIENT;
    f.steps = t->client_steps;
    f.nsteps = t->nclient_steps;
    f.out = &out;
    fz_drain(&tr, 0, &out);
    fz_feed(&f, t->s2c.data, t->s2c.len);

    secure = tr.was_secure && !tr.error;
    sp_pair_free(p);
    sp_ctx_unref(cctx);

    why[0] = '\0';

    if (t->secure && !secure) {
        snprintf(why, sizeof(why), "client replay did not complete "
                 "(error %d)", tr.error);

    } else if (out.len < t->c2s.len) {
        snprintf(why, sizeof(why), "client replay sent %zu bytes, "
                 "recorded %zu", out.len, t->c2s.len);

    } else {
        for (i = 0; i < t->c2s.len; i++) {
            if (out.data[i] != t->c2s.data[i]) {
                snprintf(why, sizeof(why), "client replay differs at byte "
                         "%zu of %zu", i, t->c2s.len);
                break;
            }
        }
    }

    fz_buf_free(&out);
    ERR_clear_error();

    return why[0] ? why : NULL;
}
