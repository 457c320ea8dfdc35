/*
 * How credentials serve: the session-id context and the content digest
 * that say what they rest on, the SSL_CTX of a context's default
 * credentials, and credentials chosen by SNI put on a pair's SSL.
 */

#include <string.h>

#include <openssl/err.h>

#include "internal.h"


/*
 * The session-id context is a digest of what a session's authority rests
 * on: the certificates, the trusted CAs (each by its SHA-1), the
 * verification policy, and the host's own session id context (Node's
 * sessionIdContext) if any.  So a session made under one SNI context
 * never resumes under another that would judge the client differently,
 * even with a CA of the same name or the same sessionIdContext, while the
 * same configuration in another worker, or after a reload, resumes.  The
 * certificates' and CAs' digests are taken once, when they are parsed.
 */
static int
set_sid(sp_creds *creds, const unsigned char *ca_digest)
{
    EVP_MD_CTX     *md;
    unsigned char   digest[EVP_MAX_MD_SIZE], policy[2];
    unsigned        len;
    size_t          i;
    int             ok;

    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md);

    for (i = 0; ok && i < creds->nkeycerts; i++) {
        ok = EVP_DigestUpdate(md, creds->keycerts[i]->digest, SP_ID_LEN);
    }

    policy[0] = (unsigned char) (creds->request_cert + 1);
    policy[1] = (unsigned char) (creds->reject_unauthorized + 1);

    ok = ok && EVP_DigestUpdate(md, ca_digest, SP_ID_LEN)
         && EVP_DigestUpdate(md, policy, sizeof(policy))
         && EVP_DigestUpdate(md, creds->user_sid, creds->user_sid_len)
         && (creds->verify_depth < 0
             || sp_digest_bytes(md, NULL, (size_t) creds->verify_depth))
         && EVP_DigestFinal_ex(md, digest, &len);
    EVP_MD_CTX_free(md);

    if (!ok) {
        return SP_ERR_INTERNAL;
    }

    ERR_clear_error();

    creds->sid_len = len > SSL_MAX_SID_CTX_LENGTH ? SSL_MAX_SID_CTX_LENGTH
                                                  : len;
    memcpy(creds->sid, digest, creds->sid_len);
    return SP_OK;
}


/*
 * What decides how credentials serve, as a digest: the parsed keys and
 * certificates and the CA set (each named by the digest of the bytes it
 * was loaded from, passphrases included), cipher lists, versions, the
 * verification policy, the host's session id context and the other
 * handshake parameters (creds_params.c).  Equal digests
 * serve alike: a context shares one of them (creds_index.c).
 */
int
sp_creds_content_id(const sp_creds *creds, unsigned char *id)
{
    EVP_MD_CTX     *md;
    size_t          i;
    int             ok;
    unsigned char   none[SP_ID_LEN];
    long            settings[5];

    memset(none, 0, sizeof(none));

    settings[0] = creds->versions_set;
    settings[1] = creds->min_version;
    settings[2] = creds->max_version;
    settings[3] = creds->request_cert;
    settings[4] = creds->reject_unauthorized;

    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md)
         && sp_digest_bytes(md, "credentials", 11)
         && sp_digest_bytes(md, NULL, creds->nkeycerts);

    for (i = 0; ok && i < creds->nkeycerts; i++) {
        ok = sp_digest_bytes(md, creds->keycerts[i]->shared.id, SP_ID_LEN);
    }

    ok = ok
         && sp_digest_bytes(md, creds->ca ? creds->ca->shared.id : none,
                            SP_ID_LEN)
         && sp_digest_bytes(md, creds->ciphers,
                            creds->ciphers ? strlen(creds->ciphers) + 1 : 0)
         && sp_digest_bytes(md, creds->ciphersuites,
                            creds->ciphersuites
                            ? strlen(creds->ciphersuites) + 1 : 0)
         && sp_digest_bytes(md, settings, sizeof(settings))
         && sp_digest_bytes(md, creds->user_sid, creds->user_sid_len)
         && sp_creds_params_digest(creds, md)
         && EVP_DigestFinal_ex(md, id, NULL);

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}


/*
 * Called when credentials start serving a context (sp_creds_ssl_ctx, which
 * sp_ctx_new asks for; sp_ctx_add_context; an SNI callback's answer):
 * without a `ca` of their own they trust the system store, as Node does.
 * From then on they are frozen: the session-id context computed here, and
 * pairs on other threads, rely on what they hold.
 */
int
sp_creds_prepare(sp_creds *creds)
{
    const unsigned char  *digest;

    if (__atomic_load_n(&creds->frozen, __ATOMIC_ACQUIRE)) {
        return SP_OK;
    }

    if (creds->ca) {
        digest = creds->ca->digest;

    } else if (sp_system_store(&digest) == NULL) {
        return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_SYSTEM_CA,
                            NULL, 0, "system CA store");
    }

    if (set_sid(creds, digest) != SP_OK) {
        return sp_error_ssl(&creds->error, SP_ERR_INTERNAL,
                            SP_FIELD_SESSION_ID_CONTEXT, NULL, 0,
                            "session id context");
    }

    __atomic_store_n(&creds->frozen, 1, __ATOMIC_RELEASE);
    return SP_OK;
}


/* What every SSL_CTX of ours says, whatever the credentials. */
static void
ssl_ctx_defaults(SSL_CTX *ssl_ctx)
{
    /*
     * Records may be written in parts and retried from another address,
     * and OpenSSL's own buffers go back to the heap while a connection is
     * idle: an idle pair should cost next to nothing.
     */
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                              | SSL_MODE_RELEASE_BUFFERS);

    /*
     * A transport that ends without close_notify is the end of the
     * peer's data, not a fatal error: our side may still write (a TCP
     * half-close) and the pair says the end was unclean
     * (sp_pair_truncated).  Without it OpenSSL sends a decode_error alert
     * and refuses every later write.
     */
    SSL_CTX_set_options(ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);

    sp_sni_install(ssl_ctx);
    sp_protocols_install(ssl_ctx);
    sp_hello_install(ssl_ctx);
    sp_verify_install(ssl_ctx);
    sp_session_install(ssl_ctx);
}


/* The CA set's store verifies; its names go in CertificateRequest. */
static int
ssl_ctx_load_ca(SSL_CTX *ssl_ctx, const sp_ca_set *ca)
{
    STACK_OF(X509_NAME)  *names;

    names = SSL_dup_CA_list(ca->names);
    if (names == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    SSL_CTX_set1_cert_store(ssl_ctx, ca->store);
    SSL_CTX_set_client_CA_list(ssl_ctx, names);
    return SP_OK;
}


/*
 * What the credentials hold, put on their SSL_CTX: SP_FIELD_NONE, or the
 * field OpenSSL refused.
 */
static sp_field
ssl_ctx_load(sp_creds *creds, SSL_CTX *ssl_ctx)
{
    size_t        i;
    X509_STORE   *store;
    sp_keycert   *kc;

    for (i = 0; i < creds->nkeycerts; i++) {
        kc = creds->keycerts[i];

        if (!SSL_CTX_use_cert_and_key(ssl_ctx, kc->leaf, kc->pkey, kc->chain,
                                      1))
        {
            return SP_FIELD_CERT;
        }
    }

    if (creds->ca) {
        if (ssl_ctx_load_ca(ssl_ctx, creds->ca) != SP_OK) {
            return SP_FIELD_CA;
        }

    } else if ((store = sp_system_store(NULL)) != NULL) {
        SSL_CTX_set1_cert_store(ssl_ctx, store);
    }

    if (creds->ciphers && !SSL_CTX_set_cipher_list(ssl_ctx, creds->ciphers)) {
        return SP_FIELD_CIPHERS;
    }

    if (creds->ciphersuites
        && !SSL_CTX_set_ciphersuites(ssl_ctx, creds->ciphersuites))
    {
        return SP_FIELD_CIPHERSUITES;
    }

    if (creds->versions_set
        && (!SSL_CTX_set_min_proto_version(ssl_ctx, creds->min_version)
            || !SSL_CTX_set_max_proto_version(ssl_ctx, creds->max_version)))
    {
        return SP_FIELD_VERSIONS;
    }

    SSL_CTX_set_session_id_context(ssl_ctx, creds->sid,
                                   (unsigned) creds->sid_len);

    SSL_CTX_set_verify_depth(ssl_ctx, creds->verify_depth);

    /* after the ciphers: SSL_CONF commands may change them */
    if (!sp_creds_params_ctx(creds, ssl_ctx)) {
        return SP_FIELD_CONF_COMMAND;
    }

    return SP_FIELD_NONE;
}


/*
 * The SSL_CTX of credentials that are a context's default: its pairs'
 * SSLs are made from it, and it carries the callbacks OpenSSL asks.
 * Built on first use, from what the credentials hold, which freezes them
 * first: no setter has to reach an SSL_CTX already made.  NULL with the
 * credentials' error set when OpenSSL refuses any of it.
 */
SSL_CTX *
sp_creds_ssl_ctx(sp_creds *creds)
{
    SSL_CTX   *ssl_ctx;
    sp_field   field;

    if (creds->ssl_ctx) {
        return creds->ssl_ctx;
    }

    if (sp_creds_prepare(creds) != SP_OK) {
        return NULL;
    }

    ssl_ctx = SSL_CTX_new(TLS_method());
    if (ssl_ctx == NULL) {
        sp_error_ssl(&creds->error, SP_ERR_NOMEM, SP_FIELD_NONE, NULL, 0,
                     "SSL_CTX_new");
        return NULL;
    }

    creds->ssl_ctx = ssl_ctx;
    ssl_ctx_defaults(ssl_ctx);

    field = ssl_ctx_load(creds, ssl_ctx);

    if (field != SP_FIELD_NONE) {
        sp_error_ssl(&creds->error, SP_ERR_LOAD, field, NULL, 0,
                     "credentials refused by OpenSSL");
        SSL_CTX_free(ssl_ctx);
        creds->ssl_ctx = NULL;
        return NULL;
    }

    ERR_clear_error();
    return ssl_ctx;
}


static int
same_keycerts(const sp_creds *a, const sp_creds *b)
{
    return a->nkeycerts == b->nkeycerts
           && (a->nkeycerts == 0
               || memcmp(a->keycerts, b->keycerts,
                         a->nkeycerts * sizeof(sp_keycert *)) == 0);
}


static int
differs(const char *a, const char *b)
{
    return a != NULL && (b == NULL || strcmp(a, b) != 0);
}


/*
 * Server: puts credentials chosen by SNI on a pair's SSL, which holds
 * `from`'s.  Only what differs is touched, so contexts that share their
 * certificates, CAs, ciphers and versions with the default cost nothing
 * here.  As before a ClientHello is processed: certificates and keys, the
 * CA store and the names sent when asking for a client certificate, the
 * protocol range (the credentials' own, or a fresh SSL_CTX's), cipher
 * lists (unset ones stay as they are) and the other handshake parameters
 * (creds_params.c).  The verify depth is the pair's (verify.c).  Returns
 * 0 on failure.
 */
int
sp_creds_install(sp_creds *creds, const sp_creds *from, SSL *ssl)
{
    int                   min, max;
    size_t                i;
    sp_keycert           *kc;
    STACK_OF(X509_NAME)  *names;

    if (sp_template() == NULL) {
        return 0;
    }

    if (!same_keycerts(creds, from)) {
        SSL_certs_clear(ssl);

        for (i = 0; i < creds->nkeycerts; i++) {
            kc = creds->keycerts[i];

            if (!SSL_use_cert_and_key(ssl, kc->leaf, kc->pkey, kc->chain, 1))
            {
                return 0;
            }
        }
    }

    if (creds->ca != from->ca) {
        names = creds->ca ? SSL_dup_CA_list(creds->ca->names)
                          : sk_X509_NAME_new_null();

        if (names == NULL
            || !SSL_set1_verify_cert_store(ssl, creds->ca
                                                ? creds->ca->store
                                                : sp_system_store(NULL)))
        {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return 0;
        }

        SSL_set_client_CA_list(ssl, names);
    }

    if (creds->versions_set) {
        min = creds->min_version;
        max = creds->max_version;

    } else {
        min = SSL_CTX_get_min_proto_version(sp_template());
        max = SSL_CTX_get_max_proto_version(sp_template());
    }

    if ((SSL_get_min_proto_version(ssl) != min
         && !SSL_set_min_proto_version(ssl, min))
        || (SSL_get_max_proto_version(ssl) != max
            && !SSL_set_max_proto_version(ssl, max)))
    {
        return 0;
    }

    if (differs(creds->ciphers, from->ciphers)
        && !SSL_set_cipher_list(ssl, creds->ciphers))
    {
        return 0;
    }

    if (differs(creds->ciphersuites, from->ciphersuites)
        && !SSL_set_ciphersuites(ssl, creds->ciphersuites))
    {
        return 0;
    }

    return sp_creds_params_ssl(creds, from, ssl);
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
