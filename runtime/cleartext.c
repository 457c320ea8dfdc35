/*
 * The pair's cleartext side: what the peer sent, decrypted, and what the
 * host writes, encrypted at once when secure or queued (up to the
 * context's clear_queue_limit) until the handshake completes.
 */

#include <string.h>

#include <openssl/err.h>

#include "internal.h"


ssize_t
sp_clear_read(sp_pair *pair, void *buf, size_t len)
{
    int  n, e, rc;

    if (pair->error) {
        return pair->error;
    }

    if (pair->state & SP_STATE_HANDSHAKING) {
        rc = sp_pair_drive(pair);
        if (rc != SP_OK) {
            return rc;
        }

        if (pair->state & SP_STATE_HANDSHAKING) {
            return SP_ERR_AGAIN;
        }
    }

    if (len == 0) {
        return SP_ERR_INVALID;
    }

    if (len > 0x7fffffff) {
        len = 0x7fffffff;
    }

    if (pair->peer_closed && SSL_pending(pair->ssl) == 0) {
        return 0;
    }

    sp_clear_errors();
    n = SSL_read(pair->ssl, buf, (int) len);

    /* bytes that came after a renegotiation the peer now fails are
       not handed on */
    rc = sp_pair_renegotiated(pair);
    if (rc != SP_OK) {
        return rc;
    }

    if (n > 0) {
        return n;
    }

    e = SSL_get_error(pair->ssl, n);

    if (pair->reneg_exceeded
        && (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE
            || e == SSL_ERROR_ZERO_RETURN))
    {
        sp_clear_errors();
        return sp_ssl_failure(pair, n, "renegotiation");
    }

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        sp_clear_errors();
        return SP_ERR_AGAIN;
    }

    if (e == SSL_ERROR_ZERO_RETURN) {
        sp_clear_errors();
        sp_pair_peer_closed(pair);
        return 0;
    }

    return sp_ssl_failure(pair, n, "read");
}


size_t
sp_clear_pending(const sp_pair *pair)
{
    int  n;

    if (pair->error || !(pair->state & SP_STATE_SECURE)) {
        return 0;
    }

    n = SSL_pending(pair->ssl);
    return n > 0 ? (size_t) n : 0;
}


ssize_t
sp_clear_write(sp_pair *pair, const void *data, size_t len)
{
    int       rc;
    size_t    take, queued;
    sp_bytes  *q = &pair->clear_queue;

    if (pair->error) {
        return pair->error;
    }

    if (pair->shutdown_wanted) {
        return SP_ERR_CLOSED;
    }

    if (len == 0) {
        return 0;
    }

    /* Before the handshake (or behind older queued bytes), queue. */
    if ((pair->state & SP_STATE_HANDSHAKING) || sp_bytes_len(q)) {
        queued = sp_bytes_len(q);

        if (queued >= pair->ctx->clear_queue_limit) {
            return SP_ERR_AGAIN;
        }

        take = pair->ctx->clear_queue_limit - queued;
        if (take > len) {
            take = len;
        }

        if (sp_bytes_reserve(q, take) != 0) {
            return SP_ERR_NOMEM;
        }

        memcpy(q->data + q->end, data, take);
        q->end += take;

        if (pair->state & SP_STATE_SECURE) {
            rc = sp_pair_flush_queue(pair);
            if (rc != SP_OK) {
                return rc;
            }
        }

        return (ssize_t) take;
    }

    return sp_pair_ssl_write(pair, data, len);
}


size_t
sp_clear_queued(const sp_pair *pair)
{
    return sp_bytes_len(&pair->clear_queue);
}
