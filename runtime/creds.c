/*
 * Credentials: one SSL_CTX holding key/certificate pairs, the CA store,
 * ciphers, versions and the session-id context (Node's SecureContext).
 */

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "internal.h"


#define SP_PEM_MAX  (16 * 1024 * 1024)
#define SP_MEMORY   "<memory>"


typedef struct {
    const char  *passphrase;
    int          asked;
} sp_pass_state;


static int
creds_fail(sp_creds *creds, int rc, const char *fmt, const char *origin,
    const char *what)
{
    char  reason[256];

    sp_openssl_reason(reason, sizeof(reason));
    snprintf(creds->error, SP_ERRLEN, fmt, origin, what ? what : reason);
    return rc;
}


sp_creds *
sp_creds_new(void)
{
    sp_creds  *creds;

    creds = calloc(1, sizeof(sp_creds));
    if (creds == NULL) {
        return NULL;
    }

    creds->ssl_ctx = SSL_CTX_new(TLS_method());
    if (creds->ssl_ctx == NULL) {
        ERR_clear_error();
        free(creds);
        return NULL;
    }

    creds->refs = 1;
    creds->request_cert = -1;
    creds->reject_unauthorized = -1;

    /*
     * Records may be written in parts and retried from another address,
     * and OpenSSL's own buffers go back to the heap while a connection is
     * idle: an idle pair should cost next to nothing.
     */
    SSL_CTX_set_mode(creds->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                                     | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                                     | SSL_MODE_RELEASE_BUFFERS);

    sp_sni_install(creds->ssl_ctx);
    sp_protocols_install(creds->ssl_ctx);
    sp_hello_install(creds->ssl_ctx);
    sp_verify_install(creds->ssl_ctx);
    sp_session_install(creds->ssl_ctx);

    return creds;
}


sp_creds *
sp_creds_ref(sp_creds *creds)
{
    creds->refs++;
    return creds;
}


static void
creds_clear_passphrases(sp_creds *creds)
{
    size_t  i;

    for (i = 0; i < creds->npassphrases; i++) {
        OPENSSL_cleanse(creds->passphrases[i], strlen(creds->passphrases[i]));
        free(creds->passphrases[i]);
    }

    free(creds->passphrases);
    creds->passphrases = NULL;
    creds->npassphrases = 0;
}


void
sp_creds_unref(sp_creds *creds)
{
    if (creds == NULL || --creds->refs > 0) {
        return;
    }

    creds_clear_passphrases(creds);
    SSL_CTX_free(creds->ssl_ctx);
    free(creds->ciphers);
    free(creds->ciphersuites);
    free(creds);
}


const char *
sp_creds_error(const sp_creds *creds)
{
    return creds->error;
}


int
sp_creds_set_passphrases(sp_creds *creds, const char *const *list, size_t n)
{
    size_t  i;

    creds_clear_passphrases(creds);

    if (n == 0) {
        return SP_OK;
    }

    creds->passphrases = calloc(n, sizeof(char *));
    if (creds->passphrases == NULL) {
        return SP_ERR_NOMEM;
    }

    for (i = 0; i < n; i++) {
        creds->passphrases[i] = strdup(list[i]);
        if (creds->passphrases[i] == NULL) {
            creds->npassphrases = i;
            creds_clear_passphrases(creds);
            return SP_ERR_NOMEM;
        }
    }

    creds->npassphrases = n;
    return SP_OK;
}


/* Reads a whole PEM file; the message names the file and says why not. */
static int
read_file(sp_creds *creds, const char *path, char **data, size_t *len)
{
    FILE         *f;
    char         *buf;
    long          size;
    size_t        got;
    struct stat   st;

    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(creds->error, SP_ERRLEN, "%s: cannot open: %s", path,
                 strerror(errno));
        return SP_ERR_LOAD;
    }

    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(creds->error, SP_ERRLEN, "%s: cannot read: not a regular "
                 "file", path);
        fclose(f);
        return SP_ERR_LOAD;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        snprintf(creds->error, SP_ERRLEN, "%s: cannot read: %s", path,
                 strerror(errno));
        fclose(f);
        return SP_ERR_LOAD;
    }

    if (size > SP_PEM_MAX) {
        snprintf(creds->error, SP_ERRLEN, "%s: file too large for PEM",
                 path);
        fclose(f);
        return SP_ERR_LOAD;
    }

    buf = malloc((size_t) size + 1);
    if (buf == NULL) {
        fclose(f);
        return SP_ERR_NOMEM;
    }

    got = fread(buf, 1, (size_t) size, f);
    if (ferror(f)) {
        snprintf(creds->error, SP_ERRLEN, "%s: cannot read: %s", path,
                 strerror(errno));
        free(buf);
        fclose(f);
        return SP_ERR_LOAD;
    }

    fclose(f);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return SP_OK;
}


static void
free_pem(char *data, size_t len)
{
    if (data) {
        OPENSSL_cleanse(data, len);
        free(data);
    }
}


/* Never prompts: answers with the passphrase under trial, or refuses. */
static int
pass_callback(char *buf, int size, int rwflag, void *arg)
{
    sp_pass_state  *state = arg;
    size_t          len;

    (void) rwflag;

    state->asked = 1;

    if (state->passphrase == NULL) {
        return -1;
    }

    len = strlen(state->passphrase);
    if (len > (size_t) size) {
        return -1;
    }

    memcpy(buf, state->passphrase, len);
    return (int) len;
}


static int
load_key(sp_creds *creds, const char *pem, size_t len, const char *origin,
    EVP_PKEY **out)
{
    BIO            *bio;
    EVP_PKEY       *pkey;
    sp_pass_state   state;
    size_t          i, tries;

    tries = creds->npassphrases ? creds->npassphrases : 1;
    state.asked = 0;

    for (i = 0; i < tries; i++) {
        state.passphrase = creds->npassphrases ? creds->passphrases[i] : NULL;

        bio = BIO_new_mem_buf(pem, (int) len);
        if (bio == NULL) {
            ERR_clear_error();
            return SP_ERR_NOMEM;
        }

        pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_callback, &state);
        BIO_free(bio);

        if (pkey != NULL) {
            ERR_clear_error();
            *out = pkey;
            return SP_OK;
        }

        if (!state.asked) {
            break;
        }
    }

    if (state.asked && creds->npassphrases == 0) {
        return creds_fail(creds, SP_ERR_LOAD, "%s: %s", origin,
                          "private key is encrypted and no passphrase "
                          "was given");
    }

    if (state.asked) {
        snprintf(creds->error, SP_ERRLEN,
                 "%s: wrong passphrase (tried %zu)", origin,
                 creds->npassphrases);
        ERR_clear_error();
        return SP_ERR_LOAD;
    }

    return creds_fail(creds, SP_ERR_LOAD, "%s: no private key found: %s",
                      origin, NULL);
}


static int
load_chain(sp_creds *creds, const char *pem, size_t len, const char *origin,
    X509 **leaf, STACK_OF(X509) **chain)
{
    BIO   *bio;
    X509  *x;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    *leaf = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
    if (*leaf == NULL) {
        BIO_free(bio);
        return creds_fail(creds, SP_ERR_LOAD,
                          "%s: no certificate found: %s", origin, NULL);
    }

    *chain = sk_X509_new_null();
    if (*chain == NULL) {
        goto nomem;
    }

    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(*chain, x)) {
            X509_free(x);
            goto nomem;
        }
    }

    /* The loop ends on "no start line": that is the end of the file. */
    ERR_clear_error();
    BIO_free(bio);
    return SP_OK;

nomem:

    ERR_clear_error();
    BIO_free(bio);
    X509_free(*leaf);
    sk_X509_pop_free(*chain, X509_free);
    return SP_ERR_NOMEM;
}


/* OpenSSL's security levels in bits of security, as in SSL_CTX_set_security_level(3). */
static int
level_bits(int level)
{
    static const int  bits[] = { 0, 80, 112, 128, 192, 256 };

    if (level < 0) {
        return 0;
    }

    return bits[level > 5 ? 5 : level];
}


/*
 * Says in words why a key is refused by the security level, before
 * OpenSSL says "ee key too small".
 */
static int
check_key_strength(sp_creds *creds, EVP_PKEY *pkey, const char *origin)
{
    int  level, need, have;

    level = SSL_CTX_get_security_level(creds->ssl_ctx);
    need = level_bits(level);
    have = EVP_PKEY_get_security_bits(pkey);

    if (have <= 0 || have >= need) {
        return SP_OK;
    }

    snprintf(creds->error, SP_ERRLEN,
             "%s: %s key of %d bits is too small for OpenSSL security "
             "level %d (needs %d bits of security, e.g. RSA 2048 or "
             "ECDSA P-256)",
             origin, EVP_PKEY_get0_type_name(pkey), EVP_PKEY_get_bits(pkey),
             level, need);
    return SP_ERR_LOAD;
}


static int
add_key_cert(sp_creds *creds, const char *key_pem, size_t key_len,
    const char *key_origin, const char *cert_pem, size_t cert_len,
    const char *cert_origin)
{
    int              rc, i;
    X509            *leaf = NULL;
    EVP_PKEY        *pkey = NULL;
    STACK_OF(X509)  *chain = NULL;

    rc = load_key(creds, key_pem, key_len, key_origin, &pkey);
    if (rc != SP_OK) {
        return rc;
    }

    rc = load_chain(creds, cert_pem, cert_len, cert_origin, &leaf, &chain);
    if (rc != SP_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }

    if (!X509_check_private_key(leaf, pkey)) {
        ERR_clear_error();
        snprintf(creds->error, SP_ERRLEN,
                 "%s: private key does not match certificate %s",
                 key_origin, cert_origin);
        rc = SP_ERR_LOAD;
        goto done;
    }

    rc = check_key_strength(creds, pkey, cert_origin);
    if (rc != SP_OK) {
        goto done;
    }

    /* OpenSSL notes a broken extension and carries on: we do not */
    if (X509_get_extension_flags(leaf) & EXFLAG_INVALID) {
        ERR_clear_error();
        snprintf(creds->error, SP_ERRLEN,
                 "%s: certificate has invalid extensions", cert_origin);
        rc = SP_ERR_LOAD;
        goto done;
    }

    for (i = 0; i < sk_X509_num(chain); i++) {
        if (X509_get_extension_flags(sk_X509_value(chain, i))
            & EXFLAG_INVALID)
        {
            ERR_clear_error();
            snprintf(creds->error, SP_ERRLEN,
                     "%s: chain certificate #%d has invalid extensions",
                     cert_origin, i + 1);
            rc = SP_ERR_LOAD;
            goto done;
        }
    }

    if (!SSL_CTX_use_cert_and_key(creds->ssl_ctx, leaf, pkey, chain, 1)) {
        rc = creds_fail(creds, SP_ERR_LOAD, "%s: certificate refused: %s",
                        cert_origin, NULL);
        goto done;
    }

    ERR_clear_error();
    creds->has_key = 1;
    rc = SP_OK;

done:

    X509_free(leaf);
    EVP_PKEY_free(pkey);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}


int
sp_creds_add_key_cert_file(sp_creds *creds, const char *key_file,
    const char *cert_file)
{
    int      rc;
    char    *key = NULL, *cert = NULL;
    size_t   key_len = 0, cert_len = 0;

    if (key_file == NULL || cert_file == NULL) {
        snprintf(creds->error, SP_ERRLEN, "key and certificate are required");
        return SP_ERR_INVALID;
    }

    rc = read_file(creds, key_file, &key, &key_len);
    if (rc == SP_OK) {
        rc = read_file(creds, cert_file, &cert, &cert_len);
    }

    if (rc == SP_OK) {
        rc = add_key_cert(creds, key, key_len, key_file, cert, cert_len,
                          cert_file);
    }

    free_pem(key, key_len);
    free_pem(cert, cert_len);
    return rc;
}


int
sp_creds_add_key_cert_mem(sp_creds *creds, const void *key_pem,
    size_t key_len, const void *cert_pem, size_t cert_len)
{
    if (key_pem == NULL || cert_pem == NULL
        || key_len > SP_PEM_MAX || cert_len > SP_PEM_MAX)
    {
        snprintf(creds->error, SP_ERRLEN, "key and certificate are required");
        return SP_ERR_INVALID;
    }

    return add_key_cert(creds, key_pem, key_len, SP_MEMORY, cert_pem,
                        cert_len, SP_MEMORY);
}


static int
add_ca(sp_creds *creds, const char *pem, size_t len, const char *origin)
{
    BIO         *bio;
    X509        *x;
    X509_STORE  *store;
    int          count = 0;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    if (creds->store_ready && !creds->has_ca) {
        /* still on the shared system store: never add to that one */
        store = X509_STORE_new();
        if (store == NULL) {
            BIO_free(bio);
            return SP_ERR_NOMEM;
        }

        SSL_CTX_set_cert_store(creds->ssl_ctx, store);
    }

    store = SSL_CTX_get_cert_store(creds->ssl_ctx);

    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!X509_STORE_add_cert(store, x)
            || !SSL_CTX_add_client_CA(creds->ssl_ctx, x))
        {
            X509_free(x);
            BIO_free(bio);
            return creds_fail(creds, SP_ERR_LOAD, "%s: CA refused: %s",
                              origin, NULL);
        }

        X509_free(x);
        count++;
    }

    BIO_free(bio);

    if (count == 0) {
        return creds_fail(creds, SP_ERR_LOAD, "%s: no certificate found: %s",
                          origin, NULL);
    }

    ERR_clear_error();
    creds->has_ca = 1;
    return SP_OK;
}


int
sp_creds_add_ca_file(sp_creds *creds, const char *file)
{
    int      rc;
    char    *pem;
    size_t   len;

    if (file == NULL) {
        return SP_ERR_INVALID;
    }

    rc = read_file(creds, file, &pem, &len);
    if (rc != SP_OK) {
        return rc;
    }

    rc = add_ca(creds, pem, len, file);
    free(pem);
    return rc;
}


int
sp_creds_add_ca_mem(sp_creds *creds, const void *pem, size_t len)
{
    if (pem == NULL || len > SP_PEM_MAX) {
        return SP_ERR_INVALID;
    }

    return add_ca(creds, pem, len, SP_MEMORY);
}


static int
replace_string(char **slot, const char *value)
{
    char  *copy;

    copy = strdup(value);
    if (copy == NULL) {
        return SP_ERR_NOMEM;
    }

    free(*slot);
    *slot = copy;
    return SP_OK;
}


int
sp_creds_set_ciphers(sp_creds *creds, const char *list)
{
    if (list == NULL || !SSL_CTX_set_cipher_list(creds->ssl_ctx, list)) {
        return creds_fail(creds, SP_ERR_INVALID,
                          "invalid cipher list \"%s\": %s",
                          list ? list : "", NULL);
    }

    return replace_string(&creds->ciphers, list);
}


int
sp_creds_set_ciphersuites(sp_creds *creds, const char *suites)
{
    if (suites == NULL || !SSL_CTX_set_ciphersuites(creds->ssl_ctx, suites)) {
        return creds_fail(creds, SP_ERR_INVALID,
                          "invalid TLS 1.3 cipher suites \"%s\": %s",
                          suites ? suites : "", NULL);
    }

    return replace_string(&creds->ciphersuites, suites);
}


static int
valid_version(int v)
{
    return v == 0 || v == SP_TLS1 || v == SP_TLS1_1 || v == SP_TLS1_2
           || v == SP_TLS1_3;
}


int
sp_creds_set_versions(sp_creds *creds, int min_version, int max_version)
{
    if (!valid_version(min_version) || !valid_version(max_version)
        || (min_version && max_version && min_version > max_version))
    {
        snprintf(creds->error, SP_ERRLEN,
                 "invalid protocol range 0x%04x..0x%04x", min_version,
                 max_version);
        return SP_ERR_INVALID;
    }

    if (!SSL_CTX_set_min_proto_version(creds->ssl_ctx, min_version)
        || !SSL_CTX_set_max_proto_version(creds->ssl_ctx, max_version))
    {
        return creds_fail(creds, SP_ERR_INVALID, "%s%s",
                          "protocol range refused: ", NULL);
    }

    return SP_OK;
}


int
sp_creds_set_session_id_context(sp_creds *creds, const void *sid, size_t len)
{
    if (sid == NULL || len == 0 || len > SSL_MAX_SID_CTX_LENGTH) {
        snprintf(creds->error, SP_ERRLEN,
                 "session id context must be 1 to %d bytes",
                 SSL_MAX_SID_CTX_LENGTH);
        return SP_ERR_INVALID;
    }

    /* the context in force mixes it with the credentials' digest */
    memcpy(creds->user_sid, sid, len);
    creds->user_sid_len = len;
    return SP_OK;
}


int
sp_creds_set_request_cert(sp_creds *creds, int on)
{
    creds->request_cert = on < 0 ? -1 : !!on;
    return SP_OK;
}


int
sp_creds_set_reject_unauthorized(sp_creds *creds, int on)
{
    creds->reject_unauthorized = on < 0 ? -1 : !!on;
    return SP_OK;
}


static int
digest_der(EVP_MD_CTX *md, int (*i2d)(const void *, unsigned char **),
    const void *obj)
{
    unsigned char  *der = NULL;
    int             len, ok;

    len = i2d(obj, &der);
    if (len <= 0) {
        return 0;
    }

    ok = EVP_DigestUpdate(md, der, (size_t) len);
    OPENSSL_free(der);
    return ok;
}


static int
i2d_cert(const void *x, unsigned char **out)
{
    return i2d_X509((X509 *) x, out);
}


/*
 * The session-id context is a digest of what a session's authority rests
 * on: the certificates, the trusted CAs (each by its SHA-1, which OpenSSL
 * keeps cached), the verification policy, and the host's own session id
 * context (Node's sessionIdContext) if any.  So a session made under one
 * SNI context never resumes under another that would judge the client
 * differently, even with a CA of the same name or the same
 * sessionIdContext, while the same configuration in another worker, or
 * after a reload, resumes.
 */
static int
set_sid(sp_creds *creds)
{
    X509                 *x;
    EVP_MD_CTX           *md;
    X509_OBJECT          *obj;
    unsigned char         digest[EVP_MAX_MD_SIZE], policy[2];
    unsigned char         ca[EVP_MAX_MD_SIZE];
    unsigned              len, ca_len;
    int                   i, ok = 1;
    STACK_OF(X509_OBJECT) *objs;

    md = EVP_MD_CTX_new();
    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return SP_ERR_NOMEM;
    }

    if (SSL_CTX_set_current_cert(creds->ssl_ctx, SSL_CERT_SET_FIRST)) {
        do {
            x = SSL_CTX_get0_certificate(creds->ssl_ctx);
            if (x && !digest_der(md, i2d_cert, x)) {
                ok = 0;
            }
        } while (SSL_CTX_set_current_cert(creds->ssl_ctx, SSL_CERT_SET_NEXT));
    }

    objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(creds->ssl_ctx));

    for (i = 0; objs && i < sk_X509_OBJECT_num(objs); i++) {
        obj = sk_X509_OBJECT_value(objs, i);
        x = X509_OBJECT_get0_X509(obj);

        if (x && (!X509_digest(x, EVP_sha1(), ca, &ca_len)
                  || !EVP_DigestUpdate(md, ca, ca_len)))
        {
            ok = 0;
        }
    }

    policy[0] = (unsigned char) (creds->request_cert + 1);
    policy[1] = (unsigned char) (creds->reject_unauthorized + 1);

    ok = ok && EVP_DigestUpdate(md, policy, sizeof(policy))
         && EVP_DigestUpdate(md, creds->user_sid, creds->user_sid_len)
         && EVP_DigestFinal_ex(md, digest, &len);
    EVP_MD_CTX_free(md);

    if (!ok) {
        return SP_ERR_INTERNAL;
    }

    ERR_clear_error();

    creds->sid_len = len > SSL_MAX_SID_CTX_LENGTH ? SSL_MAX_SID_CTX_LENGTH
                                                  : len;
    memcpy(creds->sid, digest, creds->sid_len);
    SSL_CTX_set_session_id_context(creds->ssl_ctx, creds->sid,
                                   (unsigned) creds->sid_len);
    return SP_OK;
}


/*
 * The system's trusted CAs, parsed once per process and shared by every
 * credentials without a `ca` of their own: parsing them costs tens of
 * milliseconds and hundreds of kilobytes, which thousands of SNI contexts
 * must not each pay.  Freed when the library goes.
 */
static X509_STORE      *sp_system_store;
static pthread_once_t   sp_system_store_once = PTHREAD_ONCE_INIT;


static void
system_store_init(void)
{
    X509_STORE  *store;

    store = X509_STORE_new();
    if (store == NULL) {
        return;
    }

    if (!X509_STORE_set_default_paths(store)) {
        X509_STORE_free(store);
        return;
    }

    sp_system_store = store;
}


static X509_STORE *
system_store(void)
{
    pthread_once(&sp_system_store_once, system_store_init);
    return sp_system_store;
}


__attribute__((destructor))
static void
system_store_free(void)
{
    X509_STORE_free(sp_system_store);
    sp_system_store = NULL;
}


/*
 * Called when credentials start serving a context: without a `ca` of their
 * own they trust the system store, as Node does.
 */
int
sp_creds_prepare(sp_creds *creds)
{
    X509_STORE  *store;

    if (creds->store_ready) {
        return SP_OK;
    }

    if (!creds->has_ca) {
        store = system_store();

        if (store == NULL) {
            return creds_fail(creds, SP_ERR_LOAD, "%s: %s",
                              "system CA store", NULL);
        }

        SSL_CTX_set1_cert_store(creds->ssl_ctx, store);
    }

    if (set_sid(creds) != SP_OK) {
        return creds_fail(creds, SP_ERR_INTERNAL, "%s: %s",
                          "session id context", NULL);
    }

    creds->store_ready = 1;
    return SP_OK;
}


int
sp_creds_effective_request_cert(const sp_creds *creds, const sp_ctx *ctx)
{
    return creds->request_cert >= 0 ? creds->request_cert : ctx->request_cert;
}


int
sp_creds_effective_reject(const sp_creds *creds, const sp_ctx *ctx)
{
    return creds->reject_unauthorized >= 0 ? creds->reject_unauthorized
                                           : ctx->reject_unauthorized;
}
