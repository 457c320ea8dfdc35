/*
 * The pair's transport as an OpenSSL BIO over two queues, or over the
 * host's own read and write while a call that passed them runs.
 *
 * Records from the network are received straight into enc_in by the host
 * (sp_enc_in_buf) and read from there by OpenSSL; records OpenSSL writes
 * are appended to enc_out, a queue of blocks from which the host sends
 * them, several at a time (sp_enc_out_buf, sp_enc_out_iov).  So each
 * direction costs one copy between the host's buffer and OpenSSL's record
 * buffer, the least a BIO of queues allows.  With the host's functions
 * (direct.c) there is none: OpenSSL's read lands in its record buffer,
 * its record goes out from its write buffer, and only what the transport
 * would not take waits in enc_out.  The queues hold memory only while
 * they hold bytes, so an idle pair keeps no buffers; drained output
 * blocks wait in the worker for the next pair's records
 * (SP_ENC_OUT_SPARES).
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"


static BIO_METHOD      *sp_bio_method;
static pthread_once_t   sp_bio_once = PTHREAD_ONCE_INIT;


int
sp_bytes_reserve(sp_bytes *b, size_t want)
{
    size_t          len, size;
    unsigned char  *data;

    if (b->size - b->end >= want) {
        return 0;
    }

    len = b->end - b->start;

    if (b->start && b->size - len >= want) {
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
        return 0;
    }

    size = b->size ? b->size : 16384;
    while (size - len < want) {
        size *= 2;
    }

    if (b->start) {
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
    }

    data = realloc(b->data, size);
    if (data == NULL) {
        return -1;
    }

    b->data = data;
    b->size = size;
    return 0;
}


void
sp_bytes_consume(sp_bytes *b, size_t n)
{
    b->start += n;

    if (b->start >= b->end) {
        b->start = 0;
        b->end = 0;
    }
}


void
sp_bytes_free(sp_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->start = 0;
    b->end = 0;
    b->size = 0;
}


/*
 * A block of SP_ENC_OUT_BLOCK bytes, a drained one of the worker when
 * there is one, or of its own size when bigger.
 */
static sp_block *
block_new(sp_worker *w, size_t len)
{
    size_t     size;
    sp_block  *b = NULL;

    if (len <= SP_ENC_OUT_BLOCK) {
        b = sp_stash_pop(&w->out_spares);
    }

    if (b == NULL) {
        size = len > SP_ENC_OUT_BLOCK ? len : SP_ENC_OUT_BLOCK;

        b = malloc(sizeof(sp_block) + size);
        if (b == NULL) {
            return NULL;
        }

        b->size = size;
    }

    b->next = NULL;
    b->start = 0;
    b->end = 0;
    return b;
}


/* A drained block goes back to the worker, or is freed. */
static void
block_done(sp_worker *w, sp_block *b)
{
    if (b->size != SP_ENC_OUT_BLOCK) {
        free(b);
        return;
    }

    sp_stash_put(&w->out_spares, b, w->connections);
}


/* An emptied receive buffer: kept by the worker (full size), or freed. */
void
sp_enc_in_release(sp_worker *w, sp_bytes *b)
{
    if (b->size == SP_ENC_IN_SIZE) {
        sp_stash_put(&w->in_spares, b->data, w->connections);

        b->data = NULL;
        b->start = 0;
        b->end = 0;
        b->size = 0;
        return;
    }

    sp_bytes_free(b);
}


/* An empty receive buffer of full size from the worker; 0 when it had one. */
int
sp_enc_in_spare(sp_worker *w, sp_bytes *b)
{
    if (b->data != NULL || w->in_spares.head == NULL) {
        return -1;
    }

    b->data = sp_stash_pop(&w->in_spares);
    b->start = 0;
    b->end = 0;
    b->size = SP_ENC_IN_SIZE;
    return 0;
}


/*
 * Appends to the last block when the bytes fit, else to a new block.
 * Bytes written together stay together.
 */
int
sp_blocks_append(sp_worker *w, sp_blocks *q, const void *data, size_t len)
{
    sp_block  *b = q->tail;

    if (b == NULL || b->size - b->end < len) {
        b = block_new(w, len);
        if (b == NULL) {
            return -1;
        }

        if (q->tail) {
            q->tail->next = b;

        } else {
            q->head = b;
        }

        q->tail = b;
    }

    memcpy(b->data + b->end, data, len);
    b->end += len;
    q->len += len;
    return 0;
}


/* Drops n bytes from the front; the blocks emptied are done. */
void
sp_blocks_consume(sp_worker *w, sp_blocks *q, size_t n)
{
    size_t     have;
    sp_block  *b;

    while (n && (b = q->head) != NULL) {
        have = b->end - b->start;

        if (n < have) {
            b->start += n;
            q->len -= n;
            return;
        }

        n -= have;
        q->len -= have;
        q->head = b->next;
        block_done(w, b);
    }

    if (q->head == NULL) {
        q->tail = NULL;
    }
}


void
sp_blocks_free(sp_worker *w, sp_blocks *q)
{
    sp_block  *b, *next;

    for (b = q->head; b; b = next) {
        next = b->next;
        block_done(w, b);
    }

    q->head = NULL;
    q->tail = NULL;
    q->len = 0;
}


static int
bio_write(BIO *bio, const char *data, int len)
{
    size_t    n;
    sp_pair  *pair = BIO_get_data(bio);

    BIO_clear_retry_flags(bio);

    /*
     * Never a short or retried write: the queue grows instead, so a record
     * is never half written and sp_clear_write() can promise that what it
     * took is in records.  Its callers bound the growth: sp_clear_write()
     * at SP_ENC_OUT_HIGH, and the input that makes records of its own
     * stops at SP_ENC_IN_STOP (sp_enc_in_buf).
     */
    if (len <= 0) {
        return 0;
    }

    n = 0;

    if (pair->io_write != NULL) {
        n = sp_io_write(pair, data, (size_t) len);
    }

    if (n < (size_t) len
        && sp_blocks_append(pair->worker, &pair->enc_out, data + n,
                            (size_t) len - n) != 0)
    {
        return -1;
    }

    return len;
}


static int
bio_read(BIO *bio, char *buf, int len)
{
    size_t    n;
    ssize_t   got;
    sp_pair  *pair = BIO_get_data(bio);

    BIO_clear_retry_flags(bio);

    n = sp_bytes_len(&pair->enc_in);

    /* past the renegotiation limit the pair is about to fail: OpenSSL
       reads no further hello to answer */
    if (pair->reneg_exceeded) {
        BIO_set_retry_read(bio);
        return -1;
    }

    if (n == 0) {
        if (pair->in_eof) {
            return 0;
        }

        /* the host's transport, while less than the mark waits to go
           (sp_enc_in_buf's rule, for the records this read will make) */
        if (pair->io_read != NULL && !pair->io_stop
            && pair->enc_out.len < SP_ENC_IN_STOP)
        {
            got = sp_io_read(pair, buf, (size_t) len);

            if (got >= 0) {
                return (int) got;
            }
        }

        BIO_set_retry_read(bio);
        return -1;
    }

    if (n > (size_t) len) {
        n = (size_t) len;
    }

    memcpy(buf, pair->enc_in.data + pair->enc_in.start, n);
    sp_bytes_consume(&pair->enc_in, n);
    return (int) n;
}


static long
bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    sp_pair  *pair = BIO_get_data(bio);

    (void) num;
    (void) ptr;

    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return (long) sp_bytes_len(&pair->enc_in);
    case BIO_CTRL_WPENDING:
        return (long) pair->enc_out.len;
    case BIO_CTRL_EOF:
        return pair->in_eof && sp_bytes_len(&pair->enc_in) == 0;
    default:
        return 0;
    }
}


static int
bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}


static void
bio_method_init(void)
{
    BIO_METHOD  *m;

    m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                     "securepair");
    if (m == NULL) {
        return;
    }

    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);

    sp_bio_method = m;
}


/*
 * The method lives as long as the library: freed when the program exits
 * or the library is unloaded (an nginx module is), so no checker sees a
 * leak.
 */
__attribute__((destructor))
static void
bio_method_free(void)
{
    if (sp_bio_method != NULL) {
        BIO_meth_free(sp_bio_method);
        sp_bio_method = NULL;
    }
}


BIO *
sp_bio_new(sp_pair *pair)
{
    BIO  *bio;

    pthread_once(&sp_bio_once, bio_method_init);

    if (sp_bio_method == NULL) {
        return NULL;
    }

    bio = BIO_new(sp_bio_method);
    if (bio != NULL) {
        BIO_set_data(bio, pair);
    }

    return bio;
}
