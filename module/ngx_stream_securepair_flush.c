
/*
 * The pair's records to the socket.  Records are not sent the moment they
 * are made.  In one pass of the event loop a content handler often writes
 * several times (the proxy moves one buffer at a time), and on loopback or
 * a fast network every send() costs a system call, a packet and a wakeup
 * of the peer, more than the bytes.  So records wait in the pair until
 * NGX_STREAM_SECUREPAIR_SEND_SIZE bytes of them are ready, or until the
 * end of the pass: a posted event sends them before the loop waits again,
 * whatever the content handler does.  While records wait the connection
 * is marked NGX_SSL_BUFFERED, so the stream write filter calls send_chain
 * again and nobody closes the socket under them; a writer that was told
 * so hears when they are out.
 */


#include "ngx_stream_securepair_module.h"


/*
 * Three full records: one TCP segment on loopback (MTU 64 KiB), one TSO
 * burst on a network card; holding more gave no fewer packets.  Below the
 * pair's own limit (SP_ENC_OUT_HIGH), so that a write is never refused for
 * want of a send.
 */
#ifndef NGX_STREAM_SECUREPAIR_SEND_SIZE
#define NGX_STREAM_SECUREPAIR_SEND_SIZE  49152
#endif

/*
 * A peer that has stopped reading: records then go out one at a time as
 * they are made, so that when its socket fills, at most one waits here
 * (with full sends, up to NGX_STREAM_SECUREPAIR_SEND_SIZE and a record).
 * Before a socket fills, the kernel takes megabytes that the peer does
 * not: so once per NGX_STREAM_SECUREPAIR_PROBE bytes sent (a quarter of
 * that while it is stopped) the bytes the kernel holds unsent (Linux:
 * SIOCOUTQNSD) tell how much of what we sent since left for the peer.
 * Less than an eighth: stopped; half or more: reading again.  A peer that
 * reads slower than we send is not stopped: it drains what it is sent,
 * and full sends serve it best.
 */
#define NGX_STREAM_SECUREPAIR_STALLED_SIZE  16384
#define NGX_STREAM_SECUREPAIR_PROBE         (256 * 1024)


/*
 * A reader the pair had stopped (records waiting) may go on once they
 * are out: its socket may still hold bytes that no event will announce.
 */
static ngx_inline void
ngx_stream_securepair_read_resume(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    if (ctx->read_blocked
        && (sp_pair_state(ctx->pair) & SP_STATE_RECV_RECORDS))
    {
        ctx->read_blocked = 0;
        c->read->ready = 1;
        ngx_post_event(c->read, &ngx_posted_events);
    }
}


/*
 * The socket took no more of our records and has not said it has room
 * again: new cleartext stays with the writer (in its own buffer) until
 * they are out, so a peer that stops reading holds the records of one
 * send at most, not as many as the pair would queue.
 */
ngx_uint_t
ngx_stream_securepair_socket_full(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    return !c->write->ready && sp_enc_out_pending(ctx->pair) > 0;
}


/* Records wait for this many bytes of them before they are sent. */
size_t
ngx_stream_securepair_send_size(ngx_stream_securepair_ctx_t *ctx)
{
    return ctx->peer_stalled ? NGX_STREAM_SECUREPAIR_STALLED_SIZE
                             : NGX_STREAM_SECUREPAIR_SEND_SIZE;
}


/* Has the peer stopped reading?  One ioctl() per 256 KiB sent. */
static void
ngx_stream_securepair_probe(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx, size_t sent)
{
#if (NGX_LINUX && defined SIOCOUTQNSD)
    int     unsent;
    size_t  probe, left;

    ctx->unprobed += sent;
    unsent = 0;     /* valgrind does not know what SIOCOUTQNSD writes */
    probe = ctx->peer_stalled ? NGX_STREAM_SECUREPAIR_PROBE / 4
                              : NGX_STREAM_SECUREPAIR_PROBE;

    if (ctx->unprobed < probe) {
        return;
    }

    if (ioctl(c->fd, SIOCOUTQNSD, &unsent) == -1 || unsent < 0) {
        ctx->unprobed = 0;
        ctx->peer_stalled = 0;
        return;
    }

    /* what left the kernel for the peer since the last look */
    left = ctx->unprobed + ctx->unsent > (size_t) unsent
           ? ctx->unprobed + ctx->unsent - (size_t) unsent : 0;

    if (ctx->peer_stalled) {
        ctx->peer_stalled = left < ctx->unprobed / 2;

    } else {
        ctx->peer_stalled = left < ctx->unprobed / 8
                            && (size_t) unsent
                               > NGX_STREAM_SECUREPAIR_SEND_SIZE;
    }

    ctx->unprobed = 0;
    ctx->unsent = (size_t) unsent;

#else
    (void) c;
    (void) ctx;
    (void) sent;
#endif
}


/*
 * The pair's write function (sp_write_fn): records go from the pair's
 * blocks, or straight from OpenSSL's buffer, to the socket, several to a
 * writev().  A short write means the socket is full: c->write->ready is
 * then clear, and the pair keeps the rest.  ngx_writev() leaves c->sent
 * alone: $bytes_sent counts cleartext, as with nginx's own SSL.
 */
ssize_t
ngx_stream_securepair_write_socket(void *arg, const struct iovec *iov,
    int iovcnt)
{
    ssize_t                       n;
    ngx_int_t                     i;
    ngx_iovec_t                   vec;
    ngx_connection_t             *c;
    ngx_stream_securepair_ctx_t  *ctx;

    c = arg;
    ctx = ngx_stream_securepair_get_ctx(c);

    vec.iovs = (struct iovec *) iov;
    vec.count = iovcnt;
    vec.nalloc = iovcnt;
    vec.size = 0;

    for (i = 0; i < iovcnt; i++) {
        vec.size += iov[i].iov_len;
    }

    n = ngx_writev(c, &vec);

    if (n == NGX_AGAIN) {
        /* ngx_writev() cleared c->write->ready */
        return SP_ERR_AGAIN;
    }

    if (n == NGX_ERROR) {
        /* ngx_writev() set c->write->error */
        return SP_ERR_TRANSPORT;
    }

    if ((size_t) n < vec.size) {
        /* the socket took what it had room for */
        c->write->ready = 0;

    } else {
        ngx_stream_securepair_probe(c, ctx, (size_t) n);
    }

    return n;
}


/*
 * Sends the records that wait in the pair.  NGX_OK when all are out,
 * NGX_AGAIN when the socket is full (c->write->ready is then clear and
 * NGX_SSL_BUFFERED set), NGX_ERROR when the socket failed.
 */
ngx_int_t
ngx_stream_securepair_flush(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    ssize_t  n;

    n = sp_enc_write_to(ctx->pair, ngx_stream_securepair_write_socket, c);

    if (sp_enc_out_pending(ctx->pair)) {

        if (n == SP_ERR_TRANSPORT) {
            return NGX_ERROR;
        }

        c->write->ready = 0;
        c->buffered |= NGX_SSL_BUFFERED;

        if (n > 0) {
            ngx_stream_securepair_read_resume(c, ctx);
        }

        return NGX_AGAIN;
    }

    if (ctx->push.posted) {
        ngx_delete_posted_event(&ctx->push);
    }

    ngx_stream_securepair_read_resume(c, ctx);

    if (ctx->writer_waits) {
        /*
         * The writer was told that records wait and may be waiting for a
         * write event to see them gone (the proxy, to finalize): it gets
         * one, and its next call clears the mark (clearing it here would
         * leave the stream write filter with nothing to send).
         */
        ctx->writer_waits = 0;
        ngx_post_event(c->write, &ngx_posted_events);
        return NGX_OK;
    }

    c->buffered &= ~NGX_SSL_BUFFERED;
    return NGX_OK;
}


/*
 * Records just made wait for more, up to NGX_STREAM_SECUREPAIR_SEND_SIZE,
 * or for the end of the pass.  Errors and a full socket are left for the
 * next call (or the posted event) to find.
 */
void
ngx_stream_securepair_hold(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    size_t  pending;

    pending = sp_enc_out_pending(ctx->pair);

    if (pending == 0) {
        return;
    }

    if (pending >= ngx_stream_securepair_send_size(ctx)) {
        (void) ngx_stream_securepair_flush(c, ctx);

        if (sp_enc_out_pending(ctx->pair) == 0) {
            return;
        }
    }

    c->buffered |= NGX_SSL_BUFFERED;

    if (!ctx->push.posted) {
        ngx_post_event(&ctx->push, &ngx_posted_events);
    }
}


/*
 * The end of the pass: what the session wrote goes out now.  When the
 * socket is full its write event brings the writer back, whose send or
 * send_chain goes on.
 */
void
ngx_stream_securepair_push_handler(ngx_event_t *ev)
{
    ngx_int_t                     rc;
    ngx_connection_t             *c;
    ngx_stream_securepair_ctx_t  *ctx;

    c = ev->data;
    ctx = ngx_stream_securepair_get_ctx(c);

    rc = ngx_stream_securepair_flush(c, ctx);

    if (rc == NGX_AGAIN) {
        if (ngx_handle_write_event(c->write, 0) == NGX_OK) {
            return;
        }

        c->write->error = 1;
        rc = NGX_ERROR;
    }

    if (rc == NGX_ERROR) {
        /* the writer finds the error on its next call */
        ngx_post_event(c->write, &ngx_posted_events);
    }
}


/*
 * Write events before a content handler listens to them (the handshake
 * ended at the first try, a preread phase runs): held records go out.
 */
void
ngx_stream_securepair_write_handler(ngx_event_t *wev)
{
    ngx_connection_t             *c;
    ngx_stream_securepair_ctx_t  *ctx;

    c = wev->data;
    ctx = ngx_stream_securepair_get_ctx(c);

    if (ngx_stream_securepair_flush(c, ctx) == NGX_AGAIN
        && ngx_handle_write_event(wev, 0) != NGX_OK)
    {
        wev->error = 1;
    }
}
