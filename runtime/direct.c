/*
 * The encrypted side through the host's own read and write (rustls's
 * read_tls and write_tls): the functions a call passes are the BIO's
 * transport while that call runs, so OpenSSL reads records from the
 * network straight into its record buffer and writes them from its write
 * buffer, and the pair never holds the bytes in between.  Only what the
 * transport would not take waits in enc_out, as with the buffer calls.
 */

#include "internal.h"


/* iovecs a call of the host's write: the blocks of records
   SP_ENC_OUT_HIGH allows, and a record straight from OpenSSL */
#define SP_IO_IOVS  16


static void
io_begin(sp_pair *pair, sp_read_fn read, sp_write_fn write, void *arg)
{
    pair->io_read = read;
    pair->io_write = write;
    pair->io_arg = arg;
    pair->io_done = 0;
    pair->io_status = SP_ERR_AGAIN;
    pair->io_stop = 0;
}


static void
io_end(sp_pair *pair)
{
    pair->io_read = NULL;
    pair->io_write = NULL;
    pair->io_arg = NULL;
}


/*
 * From the BIO: the host's read into OpenSSL's buffer.  A read that did
 * not fill the room said all the transport had: the next one would only
 * say so again, a system call for nothing, so it waits for the next
 * call.  Returns the bytes, 0 at the end, -1 when there are none now.
 */
ssize_t
sp_io_read(sp_pair *pair, void *buf, size_t len)
{
    ssize_t  got;

    got = pair->io_read(pair->io_arg, buf, len);

    if (got > 0 && (size_t) got <= len) {
        pair->io_done += (size_t) got;

        if ((size_t) got < len) {
            pair->io_stop = 1;
        }

        return got;
    }

    pair->io_stop = 1;

    if (got == 0) {
        pair->in_eof = 1;
        return 0;
    }

    pair->io_status = got == SP_ERR_AGAIN ? SP_ERR_AGAIN : SP_ERR_TRANSPORT;
    return -1;
}


/*
 * The host's write of what waits in enc_out, then of `data` (a record
 * from OpenSSL's buffer, or nothing), in as few calls as the iovecs
 * allow.  Returns how many bytes of `data` went; the function's first
 * short write ends it for the call.
 */
size_t
sp_io_write(sp_pair *pair, const void *data, size_t len)
{
    int           i, n;
    size_t        queued, total, sent;
    ssize_t       got;
    struct iovec  iov[SP_IO_IOVS];

    sent = 0;

    while (!pair->io_stop) {
        n = (int) sp_enc_out_iov(pair, iov, SP_IO_IOVS - 1);

        for (queued = 0, i = 0; i < n; i++) {
            queued += iov[i].iov_len;
        }

        total = queued;

        if (queued == pair->enc_out.len && sent < len) {
            iov[n].iov_base = (char *) data + sent;
            iov[n].iov_len = len - sent;
            total += len - sent;
            n++;
        }

        if (n == 0) {
            break;
        }

        got = pair->io_write(pair->io_arg, iov, n);

        if (got <= 0 || (size_t) got > total) {
            pair->io_stop = 1;
            pair->io_status = (got == 0 || got == SP_ERR_AGAIN)
                              ? SP_ERR_AGAIN : SP_ERR_TRANSPORT;
            break;
        }

        pair->io_done += (size_t) got;

        if ((size_t) got <= queued) {
            sp_enc_out_consume(pair, (size_t) got);

        } else {
            sp_enc_out_consume(pair, queued);
            sent += (size_t) got - queued;
        }

        if ((size_t) got < total) {
            /* the transport took what it had room for */
            pair->io_stop = 1;
            break;
        }
    }

    return sent;
}


ssize_t
sp_enc_read_from(sp_pair *pair, sp_read_fn read, void *arg)
{
    int       rc;
    size_t    room;
    ssize_t   got;
    uint8_t  *buf;

    if (pair->error) {
        return pair->error;
    }

    if (pair->in_eof) {
        return 0;
    }

    if (pair->peer_closed || pair->enc_out.len >= SP_ENC_IN_STOP) {
        return SP_ERR_AGAIN;
    }

    /*
     * OpenSSL reads as much as its buffer holds, not a header and then a
     * body, two reads a record.  Its buffer stays the size of one record
     * (SP_IO_READ_AHEAD).
     */
    if (!pair->read_ahead) {
        SSL_set_read_ahead(pair->ssl, 1);
        pair->read_ahead = 1;
    }

    io_begin(pair, read, NULL, arg);
    rc = sp_pair_drive(pair);

    /*
     * OpenSSL asked for nothing: cleartext waits to be read, and a host
     * that reads records first gets them taken all the same, into enc_in
     * as from sp_enc_in_buf() (a copy: a host reading cleartext first,
     * as it should, never gets here).
     */
    if (rc == SP_OK && !pair->io_stop && pair->io_done == 0) {
        buf = sp_enc_in_buf(pair, &room);

        if (buf != NULL) {
            got = sp_io_read(pair, buf, room);
            rc = sp_enc_in_commit(pair, got > 0 ? (size_t) got : 0);
        }
    }

    io_end(pair);

    if (pair->enc_in.data != NULL && sp_bytes_len(&pair->enc_in) == 0) {
        sp_enc_in_release(pair->worker, &pair->enc_in);
    }

    if (pair->in_eof) {
        rc = sp_pair_input_ended(pair, rc);
    }

    if (rc != SP_OK) {
        return rc;
    }

    if (pair->io_done || pair->in_eof) {
        return (ssize_t) pair->io_done;
    }

    return pair->io_status;
}


ssize_t
sp_enc_write_to(sp_pair *pair, sp_write_fn write, void *arg)
{
    if (pair->enc_out.len == 0) {
        return 0;
    }

    io_begin(pair, NULL, write, arg);
    (void) sp_io_write(pair, NULL, 0);
    io_end(pair);

    return pair->io_done ? (ssize_t) pair->io_done : pair->io_status;
}


ssize_t
sp_clear_write_to(sp_pair *pair, const void *data, size_t len,
    sp_write_fn write, void *arg)
{
    ssize_t  n, total;

    if (pair->error) {
        return pair->error;
    }

    io_begin(pair, NULL, write, arg);

    /* records that wait go with the first new one, in one write */
    n = SP_OK;

    for (total = 0; n >= 0 && (size_t) total < len && !pair->io_stop;
         total += n)
    {
        n = sp_clear_write(pair, (const char *) data + total,
                           len - (size_t) total);
        if (n < 0) {
            break;
        }
    }

    io_end(pair);

    return total ? total : n;
}
