/*
 * Client-initiated renegotiation, limited as Node limits it: at most
 * `limit` renegotiations in any window of `window` seconds that starts at
 * the first one.  Every ClientHello OpenSSL accepts passes here: the
 * first goes on to SNI selection, a later one is a renegotiation, counted
 * and, past the limit, refused (OpenSSL then sends a fatal
 * handshake_failure alert); the pair raises SP_ERR_RENEG_LIMIT itself
 * once OpenSSL has returned.
 *
 * A hello OpenSSL refuses on its own (limit 0, or a client without secure
 * renegotiation) never gets here: OpenSSL answers it with a warning
 * no_renegotiation alert and carries on, so a client could send them
 * forever.  The pair's info callback counts those here too, as Node
 * counts every handshake start.
 */

#include "internal.h"


static time_t
pair_now(sp_pair *pair)
{
    sp_ctx  *ctx = pair->ctx;

    return ctx->clock_fn ? ctx->clock_fn(ctx->clock_arg) : pair->now;
}


/*
 * The first ClientHello, perhaps again: OpenSSL calls back with the same
 * hello each time the pair is driven after we said "retry", until we
 * say yes.  The credentials are chosen first, then the session is looked
 * up: either may wait for the host (wait.c), and is done only once.
 */
static int
first_hello(sp_pair *pair, int *alert)
{
    int  rc;

    if (pair->wait != SP_WAIT_NONE) {
        return SSL_CLIENT_HELLO_RETRY;
    }

    if (!pair->sni_done) {
        rc = sp_sni_select(pair, alert);

        if (rc < 0) {
            return SSL_CLIENT_HELLO_RETRY;
        }

        if (rc == 0) {
            return SSL_CLIENT_HELLO_ERROR;
        }

        pair->sni_done = 1;
    }

    if (sp_session_ask(pair)) {
        return SSL_CLIENT_HELLO_RETRY;
    }

    pair->hello_done = 1;
    return SSL_CLIENT_HELLO_SUCCESS;
}


static int
client_hello_callback(SSL *ssl, int *alert, void *arg)
{
    sp_pair  *pair = sp_pair_from_ssl(ssl);

    (void) arg;

    if (pair == NULL || pair->ctx->role != SP_SERVER) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }

    /*
     * Only a hello on an established connection is a renegotiation.  The
     * first one chooses the credentials; a second one before the end of
     * the handshake answers a HelloRetryRequest, and keeps the first
     * one's answers.
     */
    if (!(pair->state & SP_STATE_SECURE)) {
        if (pair->hello_done) {
            return sp_sni_check_retry(pair, alert) ? SSL_CLIENT_HELLO_SUCCESS
                                                   : SSL_CLIENT_HELLO_ERROR;
        }

        return first_hello(pair, alert);
    }

    /*
     * A renegotiation never waits: it resumes no session
     * (SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION) and keeps the
     * credentials the first hello chose.
     */
    pair->renegotiations++;
    pair->reneg_pending = 1;

    if (pair->we_renegotiate) {
        /* We asked for it (sp_pair_renegotiate): not the client's doing. */
        pair->we_renegotiate = 0;
        return SSL_CLIENT_HELLO_SUCCESS;
    }

    if (sp_reneg_count(pair) != SP_OK) {
        *alert = SSL_AD_HANDSHAKE_FAILURE;
        return SSL_CLIENT_HELLO_ERROR;
    }

    return SSL_CLIENT_HELLO_SUCCESS;
}


/*
 * Counts one renegotiation the client started, accepted or not, in the
 * current window; SP_ERR_RENEG_LIMIT (and reneg_exceeded set) past the
 * limit.
 */
int
sp_reneg_count(sp_pair *pair)
{
    time_t  now;

    now = pair_now(pair);

    if (pair->reneg_in_window == 0
        || now - pair->reneg_window_start >= pair->ctx->reneg_window)
    {
        pair->reneg_window_start = now;
        pair->reneg_in_window = 0;
    }

    if (++pair->reneg_in_window > pair->ctx->reneg_limit) {
        pair->reneg_exceeded = 1;
        return SP_ERR_RENEG_LIMIT;
    }

    return SP_OK;
}


void
sp_hello_install(SSL_CTX *ssl_ctx)
{
    SSL_CTX_set_client_hello_cb(ssl_ctx, client_hello_callback, NULL);
}
