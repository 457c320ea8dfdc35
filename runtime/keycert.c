/*
 * Key and certificate pairs: a private key (tried under each passphrase,
 * never prompting) and its chain, parsed from PEM, checked as OpenSSL
 * would check them when serving, and shared by content (shared.c).
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "internal.h"


typedef struct {
    const char  *passphrase;
    int          asked;
} sp_pass_state;


/* What keycert_parse reads, through sp_shared_get(). */
typedef struct {
    sp_creds            *creds;
    const char          *key_pem;
    size_t               key_len;
    const char          *key_origin;
    const char          *cert_pem;
    size_t               cert_len;
    const char          *cert_origin;
} sp_keycert_input;


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
 * certificate) OpenSSL 3.0 assembles decoders for that type only, a
 * fraction of the decoders it tries for a key of unknown type: those are
 * most of loading a context with a key of its own.
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



/*
 * The bits of security OpenSSL's security level (of the template: the
 * system's) asks of keys and DH parameters, as in
 * SSL_CTX_set_security_level(3).
 */
int
sp_security_bits_needed(void)
{
    static const int  bits[] = { 0, 80, 112, 128, 192, 256 };
    int               level;

    level = SSL_CTX_get_security_level(sp_template());

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
    need = sp_security_bits_needed();
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


/* Fills `obj`, a new sp_keycert, from the sp_keycert_input at `arg`. */
static int
keycert_parse(sp_shared *obj, void *arg)
{
    const sp_keycert_input  *in = arg;
    sp_keycert              *kc = (sp_keycert *) obj;
    sp_creds                *creds = in->creds;
    int                      rc, i;
    EVP_PKEY                *pub;
    const char              *keytype = NULL;

    /*
     * The certificate first, for the type of its key, but a key that
     * cannot be loaded is still said before a certificate that cannot.
     */
    rc = load_chain(creds, in->cert_pem, in->cert_len, in->cert_origin,
                    &kc->leaf, &kc->chain);

    if (rc == SP_OK && (pub = X509_get0_pubkey(kc->leaf)) != NULL) {
        keytype = EVP_PKEY_get0_type_name(pub);
    }

    ERR_clear_error();

    i = load_key(creds, in->key_pem, in->key_len, in->key_origin, keytype,
                 &kc->pkey);
    if (i != SP_OK) {
        return i;
    }

    if (rc != SP_OK) {
        return rc;
    }

    if (!X509_check_private_key(kc->leaf, kc->pkey)) {
        return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_KEY,
                            in->key_origin, 0,
                            "private key does not match certificate %s",
                            in->cert_origin);
    }

    rc = check_key_strength(creds, kc->pkey, in->cert_origin);
    if (rc != SP_OK) {
        return rc;
    }

    /* OpenSSL notes a broken extension and carries on: we do not */
    if (X509_get_extension_flags(kc->leaf) & EXFLAG_INVALID) {
        return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_CERT,
                            in->cert_origin, 0,
                            "certificate has invalid extensions");
    }

    for (i = 0; i < sk_X509_num(kc->chain); i++) {
        if (X509_get_extension_flags(sk_X509_value(kc->chain, i))
            & EXFLAG_INVALID)
        {
            return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_CERT,
                                in->cert_origin, i + 1,
                                "chain certificate #%d has invalid "
                                "extensions", i + 1);
        }
    }

    rc = keycert_check(creds, kc, in->cert_origin);
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
    int                rc;
    sp_shared         *obj;
    unsigned char      id[SP_ID_LEN];
    sp_keycert_input   in = { creds, key_pem, key_len, key_origin,
                              cert_pem, cert_len, cert_origin };

    if (sp_template() == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    if (!keycert_id(creds, key_pem, key_len, cert_pem, cert_len, id)) {
        return SP_ERR_NOMEM;
    }

    rc = sp_shared_get(id, sizeof(sp_keycert), keycert_free, keycert_parse,
                       &in, &obj);

    *out = (sp_keycert *) obj;
    return rc;
}
