/*
 * The pair's encrypted side: records from the network into enc_in
 * (received in place with sp_enc_in_buf/sp_enc_in_commit, or copied by
 * sp_enc_in), and records for the network out of enc_out.
 */

#include <stdlib.h>
#include <string.h>

#include "internal.h"


uint8_t *
sp_enc_in_buf(sp_pair *pair, size_t *len)
{
    uint8_t   *data;
    sp_bytes  *b = &pair->enc_in;

    *len = 0;

    if (pair->error || pair->in_eof || pair->peer_closed
        || pair->enc_out.len >= SP_ENC_IN_STOP)
    {
        return NULL;
    }

    if (pair->in_size == 0) {
        pair->in_size = SP_ENC_IN_MIN;
    }

    /* a part of a record waits at the end: move it to the front, so
       that the next receive has room for many */
    if (b->start && (b->size - b->end < b->size / 2 || b->size < pair->in_size))
    {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }

    if (b->size < pair->in_size
        && (pair->in_size != SP_ENC_IN_SIZE
            || sp_enc_in_spare(pair->worker, b) != 0))
    {
        data = realloc(b->data, pair->in_size);
        if (data == NULL) {
            return NULL;
        }

        b->data = data;
        b->size = pair->in_size;
    }

    *len = b->size - b->end;
    pair->in_offered = *len;
    return *len ? b->data + b->end : NULL;
}


int
sp_enc_in_commit(sp_pair *pair, size_t n)
{
    int  rc;

    if (pair->error) {
        return pair->error;
    }

    if (n > pair->enc_in.size - pair->enc_in.end) {
        return SP_ERR_INVALID;
    }

    /* the transport had all the room's worth: it may have more */
    if (n && n == pair->in_offered && pair->in_size < SP_ENC_IN_SIZE) {
        pair->in_size *= 2;
    }

    pair->in_offered = 0;
    pair->enc_in.end += n;

    rc = sp_pair_drive(pair);

    if (sp_bytes_len(&pair->enc_in) == 0) {
        sp_enc_in_release(pair->worker, &pair->enc_in);
    }

    return rc;
}


ssize_t
sp_enc_in(sp_pair *pair, const void *data, size_t len)
{
    int       rc;
    size_t    room, n, total = 0;
    uint8_t  *buf;

    while (total < len) {
        buf = sp_enc_in_buf(pair, &room);
        if (buf == NULL) {
            break;
        }

        n = len - total < room ? len - total : room;
        memcpy(buf, (const uint8_t *) data + total, n);
        total += n;

        rc = sp_enc_in_commit(pair, n);
        if (rc != SP_OK) {
            return total ? (ssize_t) total : rc;
        }
    }

    if (total == 0 && pair->error) {
        return pair->error;
    }

    return (ssize_t) total;
}


int
sp_enc_in_eof(sp_pair *pair)
{
    if (pair->in_eof) {
        return pair->error;
    }

    pair->in_eof = 1;

    return sp_pair_input_ended(pair, sp_pair_drive(pair));
}


/* After the pump ran (returning rc) on a transport that has ended. */
int
sp_pair_input_ended(sp_pair *pair, int rc)
{
    if (rc != SP_OK) {
        return rc;
    }

    /*
     * The handshake was cut.  Once secure, the pump has read to the end
     * already, or leaves it for sp_clear_read() behind decrypted bytes.
     */
    if (!(pair->state & SP_STATE_SECURE)) {
        return sp_pair_fail(pair, SP_ERR_TRUNCATED,
                         "peer closed the connection during the handshake");
    }

    return SP_OK;
}


const uint8_t *
sp_enc_out_buf(sp_pair *pair, size_t *len)
{
    sp_block  *b = pair->enc_out.head;

    if (b == NULL) {
        *len = 0;
        return NULL;
    }

    *len = b->end - b->start;
    return b->data + b->start;
}


size_t
sp_enc_out_iov(sp_pair *pair, struct iovec *iov, size_t n)
{
    size_t     i;
    sp_block  *b;

    for (i = 0, b = pair->enc_out.head; i < n && b; i++, b = b->next) {
        iov[i].iov_base = b->data + b->start;
        iov[i].iov_len = b->end - b->start;
    }

    return i;
}


void
sp_enc_out_consume(sp_pair *pair, size_t n)
{
    sp_blocks_consume(pair->worker, &pair->enc_out, n);
}


size_t
sp_enc_out(sp_pair *pair, void *buf, size_t len)
{
    size_t          n, total = 0;
    const uint8_t  *out;

    while (total < len && (out = sp_enc_out_buf(pair, &n)) != NULL) {
        if (n > len - total) {
            n = len - total;
        }

        memcpy((uint8_t *) buf + total, out, n);
        sp_enc_out_consume(pair, n);
        total += n;
    }

    return total;
}


size_t
sp_enc_out_pending(const sp_pair *pair)
{
    return pair->enc_out.len;
}
