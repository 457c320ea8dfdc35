/*
 * Keys, certificate chains and CA sets, parsed from PEM once and shared.
 *
 * Credentials loaded from the same bytes (the same key and certificate
 * with the same passphrases; the same CAs added in the same order) hold
 * one parsed and checked object between them: ten thousand SNI contexts
 * naming one certificate parse it once.  An object is found by a SHA-256
 * of what it was loaded from, never by a file name, so a file changed
 * between two loads is parsed again; it lives exactly as long as some
 * credentials hold it: the table never keeps one alive.  The table, and
 * the last cipher lists found good, are the only state credentials share
 * between threads, each behind a lock.
 *
 * Also here: reading PEM files, the system's CA store (parsed once per
 * process), and a template SSL_CTX that says what a fresh one would
 * (security level, protocol range) and lends scratch SSLs for checking
 * a certificate or a cipher list exactly as OpenSSL would use it.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "internal.h"


#define SP_TABLE_MIN  64


typedef struct {
    const char  *passphrase;
    int          asked;
} sp_pass_state;


/* ---- the template, the digest, the system store ------------------------- */


static SSL_CTX         *sp_template_ctx;
static EVP_MD          *sp_sha256;
static pthread_once_t   sp_template_once = PTHREAD_ONCE_INIT;


static void
template_init(void)
{
    sp_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    sp_template_ctx = SSL_CTX_new(TLS_method());
    ERR_clear_error();
}


/*
 * Freed when the library is unloaded (an nginx module is, with its
 * configuration), while OpenSSL still runs.  At a program's exit OpenSSL's
 * own cleanup has run first, and an SSL_CTX must not outlive it:
 * OPENSSL_init_crypto() answers 0 once OpenSSL is gone, and the template
 * then stays as it is, still reachable.
 */
__attribute__((destructor))
static void
template_free(void)
{
    if (sp_template_ctx == NULL || !OPENSSL_init_crypto(0, NULL)) {
        return;
    }

    SSL_CTX_free(sp_template_ctx);
    EVP_MD_free(sp_sha256);
    sp_template_ctx = NULL;
    sp_sha256 = NULL;
}


SSL_CTX *
sp_template(void)
{
    pthread_once(&sp_template_once, template_init);
    return sp_sha256 ? sp_template_ctx : NULL;
}


int
sp_digest_init(EVP_MD_CTX *md)
{
    return sp_template() != NULL && EVP_DigestInit_ex(md, sp_sha256, NULL);
}


/*
 * A length, then the bytes: concatenations stay unambiguous.  With data
 * NULL, only the number (a count).
 */
int
sp_digest_bytes(EVP_MD_CTX *md, const void *data, size_t len)
{
    unsigned char  n[8];
    int            i;

    for (i = 0; i < 8; i++) {
        n[i] = (unsigned char) (len >> (56 - 8 * i));
    }

    return EVP_DigestUpdate(md, n, sizeof(n))
           && (data == NULL || len == 0 || EVP_DigestUpdate(md, data, len));
}


/* The SHA-1 of every CA of a store, in the store's order, into md. */
static int
digest_store(EVP_MD_CTX *md, X509_STORE *store)
{
    X509                  *x;
    unsigned char          sha1[EVP_MAX_MD_SIZE];
    unsigned               len;
    int                    i;
    STACK_OF(X509_OBJECT) *objs;

    objs = X509_STORE_get0_objects(store);

    for (i = 0; objs && i < sk_X509_OBJECT_num(objs); i++) {
        x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

        if (x == NULL) {
            continue;
        }

        /* caches the extensions, and with them the SHA-1, once */
        (void) X509_get_extension_flags(x);

        if (!X509_digest(x, EVP_sha1(), sha1, &len)
            || !EVP_DigestUpdate(md, sha1, len))
        {
            return 0;
        }
    }

    return 1;
}


static int
store_digest(X509_STORE *store, unsigned char *digest)
{
    EVP_MD_CTX  *md;
    int          ok;

    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md) && digest_store(md, store)
         && EVP_DigestFinal_ex(md, digest, NULL);

    EVP_MD_CTX_free(md);

    /* a CA with broken extensions says so while they are cached */
    ERR_clear_error();
    return ok;
}


/*
 * The system's trusted CAs, parsed once per process and shared by every
 * credentials without a `ca` of their own: parsing them costs tens of
 * milliseconds and hundreds of kilobytes, which thousands of SNI contexts
 * must not each pay.  Their digest, for session-id contexts, is taken
 * once as well.  Freed when the library goes.
 */
static X509_STORE      *sp_system;
static unsigned char    sp_system_digest[SP_ID_LEN];
static pthread_once_t   sp_system_once = PTHREAD_ONCE_INIT;


static void
system_store_init(void)
{
    X509_STORE  *store;

    store = X509_STORE_new();
    if (store == NULL) {
        return;
    }

    if (!X509_STORE_set_default_paths(store)
        || !store_digest(store, sp_system_digest))
    {
        X509_STORE_free(store);
        return;
    }

    sp_system = store;
}


X509_STORE *
sp_system_store(const unsigned char **digest)
{
    pthread_once(&sp_system_once, system_store_init);

    if (digest) {
        *digest = sp_system_digest;
    }

    return sp_system;
}


__attribute__((destructor))
static void
system_store_free(void)
{
    X509_STORE_free(sp_system);
    sp_system = NULL;
}


/*
 * Whether a cipher list (suites: a TLS 1.3 suite list) is one OpenSSL
 * takes, checked on a scratch SSL of the template.  Building the list
 * costs far more than the rest of loading a context, and every context of
 * a server names the same: the last list found good of each kind is kept,
 * for the life of the process.
 */
static pthread_mutex_t   sp_list_lock = PTHREAD_MUTEX_INITIALIZER;
static char             *sp_list_good[2];


int
sp_cipher_list_valid(const char *list, int suites)
{
    SSL   *ssl;
    int    ok;
    char  *copy;

    pthread_mutex_lock(&sp_list_lock);
    ok = sp_list_good[suites] && strcmp(sp_list_good[suites], list) == 0;
    pthread_mutex_unlock(&sp_list_lock);

    if (ok) {
        return 1;
    }

    ssl = sp_template() ? SSL_new(sp_template()) : NULL;
    if (ssl == NULL) {
        return 0;
    }

    ok = suites ? SSL_set_ciphersuites(ssl, list)
                : SSL_set_cipher_list(ssl, list);
    SSL_free(ssl);

    if (ok && (copy = strdup(list)) != NULL) {
        pthread_mutex_lock(&sp_list_lock);
        free(sp_list_good[suites]);
        sp_list_good[suites] = copy;
        pthread_mutex_unlock(&sp_list_lock);
    }

    return ok;
}


/* ---- the table ---------------------------------------------------------- */


static pthread_mutex_t   sp_table_lock = PTHREAD_MUTEX_INITIALIZER;
static sp_shared       **sp_table;
static size_t            sp_table_size;     /* buckets, a power of two */
static size_t            sp_table_count;


static size_t
bucket(const unsigned char *id, size_t size)
{
    size_t  h;

    memcpy(&h, id, sizeof(h));
    return h & (size - 1);
}


static void
table_grow(void)
{
    size_t      size, i, b;
    sp_shared  **table, *obj, *next;

    size = sp_table_size ? sp_table_size * 2 : SP_TABLE_MIN;

    table = calloc(size, sizeof(sp_shared *));
    if (table == NULL) {
        return;     /* longer chains, still correct */
    }

    for (i = 0; i < sp_table_size; i++) {
        for (obj = sp_table[i]; obj; obj = next) {
            next = obj->next;
            b = bucket(obj->id, size);
            obj->next = table[b];
            table[b] = obj;
        }
    }

    free(sp_table);
    sp_table = table;
    sp_table_size = size;
}


/* Under the lock: the object with this id, with a new reference. */
static sp_shared *
table_find_locked(const unsigned char *id)
{
    sp_shared  *obj;

    if (sp_table_size == 0) {
        return NULL;
    }

    for (obj = sp_table[bucket(id, sp_table_size)]; obj; obj = obj->next) {
        if (memcmp(obj->id, id, SP_ID_LEN) == 0) {
            obj->refs++;
            return obj;
        }
    }

    return NULL;
}


static sp_shared *
table_find(const unsigned char *id)
{
    sp_shared  *obj;

    pthread_mutex_lock(&sp_table_lock);
    obj = table_find_locked(id);
    pthread_mutex_unlock(&sp_table_lock);

    return obj;
}


/*
 * Shares a new object (one reference, the caller's) and returns it, or,
 * when another thread shared the same meanwhile, frees it and returns
 * that one.  NULL when out of memory (the object is freed).
 */
static sp_shared *
table_add(sp_shared *obj)
{
    size_t      b;
    sp_shared  *found;

    pthread_mutex_lock(&sp_table_lock);

    found = table_find_locked(obj->id);

    if (found == NULL) {
        if (sp_table_count >= sp_table_size) {
            table_grow();
        }

        if (sp_table_size) {
            b = bucket(obj->id, sp_table_size);
            obj->refs = 1;
            obj->next = sp_table[b];
            sp_table[b] = obj;
            sp_table_count++;
        }
    }

    pthread_mutex_unlock(&sp_table_lock);

    if (found != NULL || sp_table_size == 0) {
        obj->free(obj);
        return found;
    }

    return obj;
}


void
sp_shared_unref(sp_shared *obj)
{
    sp_shared  **p;
    unsigned     refs;

    if (obj == NULL) {
        return;
    }

    pthread_mutex_lock(&sp_table_lock);

    refs = --obj->refs;

    if (refs == 0) {
        for (p = &sp_table[bucket(obj->id, sp_table_size)]; *p;
             p = &(*p)->next)
        {
            if (*p == obj) {
                *p = obj->next;
                sp_table_count--;
                break;
            }
        }
    }

    pthread_mutex_unlock(&sp_table_lock);

    if (refs == 0) {
        obj->free(obj);
    }
}


__attribute__((destructor))
static void
table_free(void)
{
    /* objects still held are their holders' to free */
    if (sp_table_count == 0) {
        free(sp_table);
        sp_table = NULL;
        sp_table_size = 0;
    }
}


/* ---- reading PEM -------------------------------------------------------- */


/*
 * Reads a whole file of at most `max` bytes; the error names the file,
 * the field it was for, and says why not.  A file over `max` is not
 * read: *len is its size, for a caller with words of its own for that.
 * Four system calls: thousands of contexts each read two files.
 */
int
sp_read_file(sp_error_slot *e, sp_field field, const char *path,
    size_t max, char **data, size_t *len)
{
    int           fd;
    char         *buf;
    size_t        size, got;
    ssize_t       n;
    struct stat   st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return sp_error_set(e, SP_ERR_LOAD, field, path, 0,
                            "cannot open: %s", strerror(errno));
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sp_error_set(e, SP_ERR_LOAD, field, path, 0,
                            "cannot read: not a regular file");
    }

    if ((size_t) st.st_size > max) {
        close(fd);
        *len = (size_t) st.st_size;
        return sp_error_set(e, SP_ERR_LOAD, field, path, 0,
                            "file too large: over %zu bytes", max);
    }

    size = (size_t) st.st_size;

    buf = malloc(size + 1);
    if (buf == NULL) {
        close(fd);
        return SP_ERR_NOMEM;
    }

    for (got = 0; got < size; got += (size_t) n) {
        n = read(fd, buf + got, size - got);

        if (n == 0) {
            break;
        }

        if (n < 0 && errno != EINTR) {
            sp_free_pem(buf, got);
            close(fd);
            return sp_error_set(e, SP_ERR_LOAD, field, path, 0,
                                "cannot read: %s", strerror(errno));
        }

        if (n < 0) {
            n = 0;
        }
    }

    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return SP_OK;
}


void
sp_free_pem(char *data, size_t len)
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


/*
 * One try at a PEM private key.  With its type known (from the
 * certificate) OpenSSL 3.0 assembles decoders for that type only: about
 * 95 us where a key of unknown type costs 400, most of loading a context
 * with a key of its own.
 */
static EVP_PKEY *
read_key(const char *pem, size_t len, const char *keytype,
    sp_pass_state *state)
{
    BIO               *bio;
    EVP_PKEY          *pkey = NULL;
    OSSL_DECODER_CTX  *dctx;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        return NULL;
    }

    if (keytype == NULL) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_callback, state);
        BIO_free(bio);
        return pkey;
    }

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, keytype,
                                         EVP_PKEY_KEYPAIR, NULL, NULL);

    if (dctx != NULL
        && OSSL_DECODER_CTX_set_pem_password_cb(dctx, pass_callback, state))
    {
        (void) OSSL_DECODER_from_bio(dctx, bio);
    }

    OSSL_DECODER_CTX_free(dctx);
    BIO_free(bio);
    return pkey;
}


/*
 * The key, under each passphrase in turn.  A key not found as `keytype`
 * (NULL: not known) is looked for again as any type, which also says why
 * it cannot be loaded.
 */
static int
load_key(sp_creds *creds, const char *pem, size_t len, const char *origin,
    const char *keytype, EVP_PKEY **out)
{
    EVP_PKEY       *pkey;
    sp_pass_state   state;
    size_t          i, tries;

    tries = creds->npassphrases ? creds->npassphrases : 1;

again:

    state.asked = 0;

    for (i = 0; i < tries; i++) {
        state.passphrase = creds->npassphrases ? creds->passphrases[i] : NULL;

        pkey = read_key(pem, len, keytype, &state);

        if (pkey != NULL) {
            ERR_clear_error();
            *out = pkey;
            return SP_OK;
        }

        if (!state.asked) {
            break;
        }
    }

    if (keytype != NULL) {
        ERR_clear_error();
        keytype = NULL;
        goto again;
    }

    if (state.asked && creds->npassphrases == 0) {
        return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_KEY, origin,
                            0, "private key is encrypted and no passphrase "
                            "was given");
    }

    if (state.asked) {
        return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_KEY, origin,
                            0, "wrong passphrase (tried %zu)",
                            creds->npassphrases);
    }

    return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_KEY, origin, 0,
                        "no private key found");
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
        return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_CERT, origin,
                            0, "no certificate found");
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
    *leaf = NULL;
    *chain = NULL;
    return SP_ERR_NOMEM;
}


/* ---- key and certificate pairs ------------------------------------------ */


/* OpenSSL's security levels in bits of security, as in
   SSL_CTX_set_security_level(3). */
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

    level = SSL_CTX_get_security_level(sp_template());
    need = level_bits(level);
    have = EVP_PKEY_get_security_bits(pkey);

    if (have <= 0 || have >= need) {
        return SP_OK;
    }

    return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_CERT, origin, 0,
                        "%s key of %d bits is too small for OpenSSL security "
                        "level %d (needs %d bits of security, e.g. RSA 2048 "
                        "or ECDSA P-256)",
                        EVP_PKEY_get0_type_name(pkey),
                        EVP_PKEY_get_bits(pkey), level, need);
}


static void
keycert_free(sp_shared *obj)
{
    sp_keycert  *kc = (sp_keycert *) obj;

    X509_free(kc->leaf);
    EVP_PKEY_free(kc->pkey);
    sk_X509_pop_free(kc->chain, X509_free);
    free(kc);
}


/* What identifies a pair: both PEM texts and the passphrases tried. */
static int
keycert_id(sp_creds *creds, const char *key_pem, size_t key_len,
    const char *cert_pem, size_t cert_len, unsigned char *id)
{
    EVP_MD_CTX  *md;
    size_t       i;
    int          ok;

    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md)
         && sp_digest_bytes(md, "key and certificate", 19)
         && sp_digest_bytes(md, key_pem, key_len)
         && sp_digest_bytes(md, cert_pem, cert_len)
         && sp_digest_bytes(md, NULL, creds->npassphrases);

    for (i = 0; ok && i < creds->npassphrases; i++) {
        ok = sp_digest_bytes(md, creds->passphrases[i],
                             strlen(creds->passphrases[i]));
    }

    ok = ok && EVP_DigestFinal_ex(md, id, NULL);

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}


/*
 * The checks OpenSSL makes when a pair is installed (the security level
 * on the leaf's key and on every signature of the chain, a key type it
 * can serve), made once on a scratch SSL of the template.
 */
static int
keycert_check(sp_creds *creds, sp_keycert *kc, const char *cert_origin)
{
    SSL  *ssl;
    int   ok;

    ssl = SSL_new(sp_template());
    if (ssl == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    ok = SSL_use_cert_and_key(ssl, kc->leaf, kc->pkey, kc->chain, 1);
    SSL_free(ssl);

    if (!ok) {
        return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_CERT,
                            cert_origin, 0, "certificate refused");
    }

    ERR_clear_error();
    return SP_OK;
}


static int
keycert_digest(sp_keycert *kc)
{
    unsigned char  *der = NULL;
    EVP_MD_CTX     *md;
    int             len, ok;

    len = i2d_X509(kc->leaf, &der);
    if (len <= 0) {
        ERR_clear_error();
        return 0;
    }

    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md)
         && EVP_DigestUpdate(md, der, (size_t) len)
         && EVP_DigestFinal_ex(md, kc->digest, NULL);

    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}


static int
keycert_parse(sp_creds *creds, const char *key_pem, size_t key_len,
    const char *key_origin, const char *cert_pem, size_t cert_len,
    const char *cert_origin, sp_keycert *kc)
{
    int          rc, i;
    EVP_PKEY    *pub;
    const char  *keytype = NULL;

    /*
     * The certificate first, for the type of its key, but a key that
     * cannot be loaded is still said before a certificate that cannot.
     */
    rc = load_chain(creds, cert_pem, cert_len, cert_origin, &kc->leaf,
                    &kc->chain);

    if (rc == SP_OK && (pub = X509_get0_pubkey(kc->leaf)) != NULL) {
        keytype = EVP_PKEY_get0_type_name(pub);
    }

    ERR_clear_error();

    i = load_key(creds, key_pem, key_len, key_origin, keytype, &kc->pkey);
    if (i != SP_OK) {
        return i;
    }

    if (rc != SP_OK) {
        return rc;
    }

    if (!X509_check_private_key(kc->leaf, kc->pkey)) {
        return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_KEY,
                            key_origin, 0,
                            "private key does not match certificate %s",
                            cert_origin);
    }

    rc = check_key_strength(creds, kc->pkey, cert_origin);
    if (rc != SP_OK) {
        return rc;
    }

    /* OpenSSL notes a broken extension and carries on: we do not */
    if (X509_get_extension_flags(kc->leaf) & EXFLAG_INVALID) {
        return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_CERT,
                            cert_origin, 0,
                            "certificate has invalid extensions");
    }

    for (i = 0; i < sk_X509_num(kc->chain); i++) {
        if (X509_get_extension_flags(sk_X509_value(kc->chain, i))
            & EXFLAG_INVALID)
        {
            return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_CERT,
                                cert_origin, i + 1,
                                "chain certificate #%d has invalid "
                                "extensions", i + 1);
        }
    }

    rc = keycert_check(creds, kc, cert_origin);
    if (rc != SP_OK) {
        return rc;
    }

    if (!keycert_digest(kc)) {
        return SP_ERR_NOMEM;
    }

    kc->type = EVP_PKEY_get_base_id(kc->pkey);
    return SP_OK;
}


/*
 * A checked key/certificate pair for these PEM texts: the one already
 * shared, or a new one.  On failure creds->error says why.
 */
int
sp_keycert_load(sp_creds *creds, const char *key_pem, size_t key_len,
    const char *key_origin, const char *cert_pem, size_t cert_len,
    const char *cert_origin, sp_keycert **out)
{
    int             rc;
    sp_shared      *found;
    sp_keycert     *kc;
    unsigned char   id[SP_ID_LEN];

    if (sp_template() == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    if (!keycert_id(creds, key_pem, key_len, cert_pem, cert_len, id)) {
        return SP_ERR_NOMEM;
    }

    found = table_find(id);
    if (found != NULL) {
        *out = (sp_keycert *) found;
        return SP_OK;
    }

    kc = calloc(1, sizeof(sp_keycert));
    if (kc == NULL) {
        return SP_ERR_NOMEM;
    }

    memcpy(kc->shared.id, id, SP_ID_LEN);
    kc->shared.free = keycert_free;

    rc = keycert_parse(creds, key_pem, key_len, key_origin, cert_pem,
                       cert_len, cert_origin, kc);
    if (rc != SP_OK) {
        keycert_free(&kc->shared);
        return rc;
    }

    found = table_add(&kc->shared);
    if (found == NULL) {
        return SP_ERR_NOMEM;
    }

    *out = (sp_keycert *) found;
    return SP_OK;
}


/* ---- CA sets ------------------------------------------------------------ */


static void
ca_set_free(sp_shared *obj)
{
    sp_ca_set  *ca = (sp_ca_set *) obj;

    X509_STORE_free(ca->store);
    sk_X509_pop_free(ca->certs, X509_free);
    sk_X509_NAME_pop_free(ca->names, X509_NAME_free);
    free(ca);
}


/* What identifies a set: the set it grew from, and the PEM text added. */
static int
ca_set_id(const sp_ca_set *base, const char *pem, size_t len,
    unsigned char *id)
{
    EVP_MD_CTX     *md;
    int             ok;
    unsigned char   none[SP_ID_LEN];

    memset(none, 0, sizeof(none));
    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md)
         && sp_digest_bytes(md, "CA set", 6)
         && sp_digest_bytes(md, base ? base->shared.id : none, SP_ID_LEN)
         && sp_digest_bytes(md, pem, len)
         && EVP_DigestFinal_ex(md, id, NULL);

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}


/* Adds a CA to the set being built: store, names to send, certificates. */
static int
ca_set_push(sp_ca_set *ca, X509 *x)
{
    X509_NAME  *name;

    if (!X509_STORE_add_cert(ca->store, x)) {
        return 0;
    }

    name = X509_NAME_dup(X509_get_subject_name(x));
    if (name == NULL || !sk_X509_NAME_push(ca->names, name)) {
        X509_NAME_free(name);
        return 0;
    }

    if (!X509_up_ref(x)) {
        return 0;
    }

    if (!sk_X509_push(ca->certs, x)) {
        X509_free(x);
        return 0;
    }

    return 1;
}


static int
ca_set_parse(sp_creds *creds, const sp_ca_set *base, const char *pem,
    size_t len, const char *origin, sp_ca_set *ca)
{
    BIO   *bio;
    X509  *x;
    int    i, count = 0;

    ca->store = X509_STORE_new();
    ca->certs = sk_X509_new_null();
    ca->names = sk_X509_NAME_new_null();

    if (ca->store == NULL || ca->certs == NULL || ca->names == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    for (i = 0; base && i < sk_X509_num(base->certs); i++) {
        if (!ca_set_push(ca, sk_X509_value(base->certs, i))) {
            ERR_clear_error();
            return SP_ERR_NOMEM;
        }
    }

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!ca_set_push(ca, x)) {
            X509_free(x);
            BIO_free(bio);
            return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_CA,
                                origin, count + 1, "CA refused");
        }

        X509_free(x);
        count++;
    }

    BIO_free(bio);

    if (count == 0) {
        return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_CA, origin,
                            0, "no certificate found");
    }

    ERR_clear_error();

    if (!store_digest(ca->store, ca->digest)) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    return SP_OK;
}


/*
 * The CA set `base` (NULL: none yet) with every certificate of a PEM text
 * added: the one already shared, or a new one.  `base` is left as it is.
 */
int
sp_ca_set_load(sp_creds *creds, sp_ca_set *base, const char *pem,
    size_t len, const char *origin, sp_ca_set **out)
{
    int             rc;
    sp_shared      *found;
    sp_ca_set      *ca;
    unsigned char   id[SP_ID_LEN];

    if (!ca_set_id(base, pem, len, id)) {
        return SP_ERR_NOMEM;
    }

    found = table_find(id);
    if (found != NULL) {
        *out = (sp_ca_set *) found;
        return SP_OK;
    }

    ca = calloc(1, sizeof(sp_ca_set));
    if (ca == NULL) {
        return SP_ERR_NOMEM;
    }

    memcpy(ca->shared.id, id, SP_ID_LEN);
    ca->shared.free = ca_set_free;

    rc = ca_set_parse(creds, base, pem, len, origin, ca);
    if (rc != SP_OK) {
        ca_set_free(&ca->shared);
        return rc;
    }

    found = table_add(&ca->shared);
    if (found == NULL) {
        return SP_ERR_NOMEM;
    }

    *out = (sp_ca_set *) found;
    return SP_OK;
}
