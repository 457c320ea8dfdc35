/*
 * The pump every entry point runs: give OpenSSL what arrived, let it
 * advance the handshake (or process alerts, renegotiations and
 * close_notify once secure), flush queued cleartext and our close_notify,
 * and leave whatever it wrote in enc_out for the host to send.
 */

#include <openssl/err.h>

#include "internal.h"


/*
 * Encrypts a record's worth of cleartext (SSL_MODE_ENABLE_PARTIAL_WRITE
 * returns after each record) while less than SP_ENC_OUT_HIGH waits.
 */
ssize_t
sp_pair_ssl_write(sp_pair *pair, const void *data, size_t len)
{
    int  n;

    if (pair->enc_out.len >= SP_ENC_OUT_HIGH
        || SSL_in_init(pair->ssl))
    {
        return SP_ERR_AGAIN;
    }

    if (len > SP_ENC_OUT_HIGH) {
        len = SP_ENC_OUT_HIGH;
    }

    sp_clear_errors();
    n = SSL_write(pair->ssl, data, (int) len);

    if (n > 0) {
        return n;
    }

    if (sp_ssl_wants_io(pair, n)) {
        return SP_ERR_AGAIN;
    }

    return sp_ssl_failure(pair, n, "write");
}


int
sp_pair_flush_queue(sp_pair *pair)
{
    ssize_t  n;

    while (sp_bytes_len(&pair->clear_queue)) {
        n = sp_pair_ssl_write(pair, pair->clear_queue.data + pair->clear_queue.start,
                      sp_bytes_len(&pair->clear_queue));

        if (n == SP_ERR_AGAIN) {
            return SP_OK;
        }

        if (n < 0) {
            return (int) n;
        }

        sp_bytes_consume(&pair->clear_queue, (size_t) n);
    }

    sp_bytes_free(&pair->clear_queue);
    return SP_OK;
}


/*
 * The end of the peer's data: its close_notify, or (once secure) the
 * transport's end without one.  The latter is no failure, as in nginx and
 * Node: our side may still write, but the host hears that it was unclean.
 * A peer need not answer our own close_notify, so after it a bare end is
 * just the end.
 */
void
sp_pair_peer_closed(sp_pair *pair)
{
    if (pair->peer_closed) {
        return;
    }

    pair->peer_closed = 1;
    pair->events |= SP_EVENT_END;

    if (!pair->close_notify && !pair->shutdown_sent) {
        pair->truncated = 1;
        pair->events |= SP_EVENT_TRUNCATED;
    }
}


static int
send_shutdown(sp_pair *pair)
{
    int  n;

    if (pair->shutdown_sent || sp_bytes_len(&pair->clear_queue)
        || SSL_in_init(pair->ssl))
    {
        return SP_OK;
    }

    sp_clear_errors();
    n = SSL_shutdown(pair->ssl);
    sp_clear_errors();

    if (n >= 0) {
        pair->shutdown_sent = 1;
    }

    return SP_OK;
}


/*
 * Lets OpenSSL look at waiting records while the host is not reading:
 * alerts, close_notify, renegotiation hellos and TLS 1.3 tickets are acted
 * on as they arrive, and SP_STATE_CLEAR_READ becomes exact.  SSL_peek
 * leaves any application data where SSL_read will find it.
 */
static int
process_records(sp_pair *pair)
{
    int   n;
    char  byte;

    if (pair->peer_closed || SSL_pending(pair->ssl) > 0
        || (sp_bytes_len(&pair->enc_in) == 0 && !pair->in_eof
            && pair->io_read == NULL))
    {
        return SP_OK;
    }

    sp_clear_errors();
    n = SSL_peek(pair->ssl, &byte, 1);

    if (n > 0 || sp_ssl_wants_io(pair, n)) {
        return SP_OK;
    }

    if (SSL_get_error(pair->ssl, n) != SSL_ERROR_ZERO_RETURN) {
        return sp_ssl_failure(pair, n, "read");
    }

    sp_clear_errors();

    /* past the renegotiation limit OpenSSL drops what it holds (the info
       callback): no end of the peer's data, the pump fails the pair */
    if (!pair->reneg_exceeded) {
        sp_pair_peer_closed(pair);
    }

    return SP_OK;
}


int
sp_pair_drive(sp_pair *pair)
{
    int  rc;

    if (pair->error) {
        return pair->error;
    }

    if (pair->state & SP_STATE_HANDSHAKING) {
        /* the ClientHello waits for the host: input waits in enc_in */
        if (pair->wait != SP_WAIT_NONE) {
            return SP_OK;
        }

        rc = sp_pair_handshake(pair);
        if (rc != SP_OK) {
            return rc == SP_ERR_AGAIN ? SP_OK : rc;
        }
    }

    rc = sp_pair_flush_queue(pair);

    if (rc == SP_OK && pair->shutdown_wanted) {
        rc = send_shutdown(pair);
    }

    if (rc == SP_OK) {
        rc = process_records(pair);
    }

    if (rc == SP_OK) {
        rc = sp_pair_renegotiated(pair);
    }

    if (rc == SP_OK && pair->reneg_exceeded) {
        rc = sp_ssl_failure(pair, -1, "renegotiation");
    }

    return rc;
}


int
sp_pair_shutdown(sp_pair *pair)
{
    if (pair->error) {
        return pair->error;
    }

    pair->shutdown_wanted = 1;
    return sp_pair_drive(pair);
}
