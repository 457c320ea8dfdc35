/*
 * A server pair moved to another context from inside the SNI callback:
 * what nginx's stream virtual servers (server_name, nginx >= 1.25.5) need,
 * where each server is a whole context of its own.  The ClientHello is
 * being processed and OpenSSL has chosen nothing yet, so the pair can take
 * the other context's default credentials (certificates, CA, ciphers,
 * versions), its verification policy and its ticket policy, as if it had
 * been made there; everything the pair reads from its context afterwards
 * (NPN, ALPN, the SNI table, the renegotiation limit, the session store
 * and ticket keys) is the new one's.
 */

#include <openssl/err.h>

#include "internal.h"


int
sp_pair_use_ctx(sp_pair *pair, sp_ctx *ctx)
{
    /* inside the SNI callback, or until its late answer */
    if (pair == NULL || ctx == NULL
        || (!pair->in_sni_fn && pair->wait != SP_WAIT_CREDS)
        || pair->error || ctx->role != pair->ctx->role)
    {
        return SP_ERR_INVALID;
    }

    if (ctx == pair->ctx) {
        return SP_OK;
    }

    /* ctx's credentials are prepared: sp_ctx_new made their SSL_CTX */
    if (ctx->creds != pair->creds
        && !sp_creds_install(ctx->creds, pair->creds, pair->ssl))
    {
        ERR_clear_error();
        return SP_ERR_INTERNAL;
    }

    /* the new context holds its default credentials while we hold it */
    if (pair->creds_held) {
        sp_creds_unref(pair->creds);
        pair->creds_held = 0;
    }

    pair->creds = ctx->creds;

    /* its first pair may be this one: from now on it is read, not set */
    __atomic_store_n(&ctx->frozen, 1, __ATOMIC_RELEASE);
    sp_ctx_ref(ctx);

    /*
     * The worker counted the pair in the context it was made in, and
     * uncounts it there: that one is kept until the pair is freed.
     */
    if (pair->home == NULL) {
        pair->home = pair->ctx;

    } else {
        sp_ctx_unref(pair->ctx);
    }

    pair->ctx = ctx;

    /* what the SSL took from the first context when the pair was made */
    if (ctx->reneg_limit) {
        SSL_set_options(pair->ssl, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);

    } else {
        SSL_clear_options(pair->ssl, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    }

    SSL_clear_options(pair->ssl, SSL_OP_NO_TICKET);
    sp_session_apply(pair);

    /* also the session-id context: the new credentials' and policy's */
    sp_verify_apply(pair);

    ERR_clear_error();
    return SP_OK;
}
