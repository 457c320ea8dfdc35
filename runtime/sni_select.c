/*
 * Server side of SNI: choose the credentials for a ClientHello's server
 * name.  The user's callback is asked first, then the table; no match
 * keeps the default credentials, or ends the handshake with
 * unrecognized_name when the context rejects unknown names.
 */

#include "internal.h"


static int
servername_callback(SSL *ssl, int *alert, void *arg)
{
    sp_pair     *pair = sp_pair_from_ssl(ssl);
    sp_ctx      *ctx;
    sp_creds    *creds = NULL;
    const char  *name, *matched = NULL;

    (void) arg;

    /* A client never gets here, nor does a renegotiation keep us long. */
    if (pair == NULL || pair->ctx->role != SP_SERVER
        || (pair->state & SP_STATE_SECURE))
    {
        return SSL_TLSEXT_ERR_NOACK;
    }

    ctx = pair->ctx;
    name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

    if (name != NULL) {
        if (ctx->sni_fn) {
            creds = ctx->sni_fn(name, ctx->sni_arg);
            matched = creds ? name : NULL;
        }

        if (creds == NULL && ctx->sni) {
            creds = sp_sni_table_find(ctx->sni, name, &matched);
        }
    }

    if (creds == NULL) {
        if (ctx->reject_unknown_name) {
            pair->unknown_name = 1;
            *alert = SSL_AD_UNRECOGNIZED_NAME;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }

        return name ? SSL_TLSEXT_ERR_NOACK : SSL_TLSEXT_ERR_OK;
    }

    if (sp_creds_prepare(creds) != SP_OK) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }

    pair->creds = creds;
    pair->context_name = matched;

    if (creds->ssl_ctx != SSL_get_SSL_CTX(ssl)) {
        if (SSL_set_SSL_CTX(ssl, creds->ssl_ctx) == NULL) {
            *alert = SSL_AD_INTERNAL_ERROR;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }

        /*
         * SSL_set_SSL_CTX() swaps certificates and the CA store but keeps
         * the verify mode and cipher list of the first context: apply the
         * selected context's own.
         */
        if (creds->ciphers) {
            SSL_set_cipher_list(ssl, creds->ciphers);
        }

        if (creds->ciphersuites) {
            SSL_set_ciphersuites(ssl, creds->ciphersuites);
        }
    }

    sp_verify_apply(pair);
    return SSL_TLSEXT_ERR_OK;
}


void
sp_sni_install(SSL_CTX *ssl_ctx)
{
    SSL_CTX_set_tlsext_servername_callback(ssl_ctx, servername_callback);
}
