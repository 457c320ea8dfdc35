
/*
 * Cleartext I/O for a secure session: replacements for c->recv, c->send,
 * c->recv_chain and c->send_chain with nginx's contract, so that any
 * content handler (proxy_pass, return, securepair_echo) works unchanged.
 *
 *   recv:  > 0 bytes; 0 at the end (c->read->eof); NGX_AGAIN with
 *          c->read->ready cleared; NGX_ERROR with c->read->error set.
 *   send:  > 0 bytes taken; NGX_AGAIN with c->write->ready cleared;
 *          NGX_ERROR with c->write->error set.
 *
 * Records are not sent the moment they are made.  In one pass of the event
 * loop a content handler often writes several times (the proxy moves one
 * buffer at a time), and on loopback or a fast network every send() costs
 * a system call, a packet and a wakeup of the peer, more than the bytes.
 * So records wait in the pair until NGX_STREAM_SECUREPAIR_SEND_SIZE bytes
 * of them are ready, or until the end of the pass: a posted event sends
 * them before the loop waits again, whatever the content handler does.
 * While records wait the connection is marked NGX_SSL_BUFFERED, so the
 * stream write filter calls send_chain again and nobody closes the socket
 * under them; a writer that was told so hears when they are out.
 *
 * Records in may make records out with no cleartext to show for them
 * (answers to key updates and renegotiation hellos, alerts).  While too
 * many of those wait, the pair takes no input (sp_enc_in_buf gives no
 * room): recv then says NGX_AGAIN and leaves the socket alone, and the
 * flush that sends them wakes the reader, so a peer that writes and never
 * reads is held to what its socket buffers take.
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

/* blocks of records per writev(): all that SP_ENC_OUT_HIGH allows */
#define NGX_STREAM_SECUREPAIR_IOVS  16


static ssize_t ngx_stream_securepair_recv(ngx_connection_t *c, u_char *buf,
    size_t size);
static ssize_t ngx_stream_securepair_send(ngx_connection_t *c, u_char *buf,
    size_t size);
static ssize_t ngx_stream_securepair_recv_chain(ngx_connection_t *c,
    ngx_chain_t *in, off_t limit);
static ngx_chain_t *ngx_stream_securepair_send_chain(ngx_connection_t *c,
    ngx_chain_t *in, off_t limit);


static ngx_inline ngx_stream_securepair_ctx_t *
ngx_stream_securepair_get_ctx(ngx_connection_t *c)
{
    ngx_stream_session_t  *s = c->data;

    return ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);
}


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


void
ngx_stream_securepair_install_io(ngx_connection_t *c)
{
    c->recv = ngx_stream_securepair_recv;
    c->send = ngx_stream_securepair_send;
    c->recv_chain = ngx_stream_securepair_recv_chain;
    c->send_chain = ngx_stream_securepair_send_chain;
}


/*
 * Sends the pair's records straight from its blocks, several to a
 * writev().  NGX_OK when all are out, NGX_AGAIN when the socket is full
 * (c->write->ready is then clear and NGX_SSL_BUFFERED set), NGX_ERROR
 * when the socket failed.  ngx_writev() leaves c->sent alone: $bytes_sent
 * counts cleartext, as with nginx's own SSL.
 */
ngx_int_t
ngx_stream_securepair_flush(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    ssize_t        n;
    ngx_uint_t     i;
    ngx_iovec_t    vec;
    struct iovec   iovs[NGX_STREAM_SECUREPAIR_IOVS];

    vec.iovs = iovs;
    vec.nalloc = NGX_STREAM_SECUREPAIR_IOVS;

    for ( ;; ) {
        vec.count = sp_enc_out_iov(ctx->pair, iovs,
                                   NGX_STREAM_SECUREPAIR_IOVS);

        if (vec.count == 0) {
            break;
        }

        vec.size = 0;

        for (i = 0; i < vec.count; i++) {
            vec.size += iovs[i].iov_len;
        }

        n = ngx_writev(c, &vec);

        if (n > 0) {
            sp_enc_out_consume(ctx->pair, (size_t) n);

            if ((size_t) n < vec.size) {
                /* the socket took what it had room for */
                c->write->ready = 0;
                c->buffered |= NGX_SSL_BUFFERED;
                ngx_stream_securepair_read_resume(c, ctx);
                return NGX_AGAIN;
            }

            continue;
        }

        if (n == NGX_AGAIN) {
            c->write->ready = 0;
            c->buffered |= NGX_SSL_BUFFERED;
            return NGX_AGAIN;
        }

        /* ngx_writev() set c->write->error */
        return NGX_ERROR;
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

    if (pending >= NGX_STREAM_SECUREPAIR_SEND_SIZE) {
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


/*
 * After a read: records it made (alerts, a renegotiation answer) wait for
 * the end of the pass like any others, and a writer the pair had refused
 * while renegotiating hears that it may go on.
 */
static void
ngx_stream_securepair_read_done(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    ngx_stream_securepair_hold(c, ctx);

    if (ctx->write_blocked
        && (sp_pair_state(ctx->pair) & SP_STATE_CLEAR_WRITE))
    {
        ctx->write_blocked = 0;
        c->write->ready = 1;
        ngx_post_event(c->write, &ngx_posted_events);
    }
}


static ssize_t
ngx_stream_securepair_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    u_char                       *in;
    size_t                        room;
    ssize_t                       n, got;
    ngx_stream_securepair_ctx_t  *ctx;

    ctx = ngx_stream_securepair_get_ctx(c);

    for ( ;; ) {
        n = sp_clear_read(ctx->pair, buf, size);

        if (n != SP_ERR_AGAIN) {
            break;
        }

        /* the pair needs records: take them from the socket */

        in = sp_enc_in_buf(ctx->pair, &room);

        if (in == NULL && sp_enc_out_pending(ctx->pair)
            && !sp_pair_error(ctx->pair))
        {
            /* too many records wait to go out: send them first */

            if (ngx_stream_securepair_flush(c, ctx) == NGX_ERROR) {
                c->read->error = 1;
                return NGX_ERROR;
            }

            in = sp_enc_in_buf(ctx->pair, &room);

            if (in == NULL
                && (sp_pair_state(ctx->pair) & SP_STATE_SEND_RECORDS))
            {
                /* the flush that sends them wakes us */
                ctx->read_blocked = 1;
                c->read->ready = 0;
                ngx_stream_securepair_read_done(c, ctx);
                return NGX_AGAIN;
            }
        }

        if (in == NULL) {
            break;
        }

        got = ctx->recv(c, in, room);

        if (got > 0) {
            sp_enc_in_commit(ctx->pair, (size_t) got);
            continue;
        }

        if (got == 0) {
            sp_enc_in_eof(ctx->pair);

            /*
             * Many clients just close the socket, or only its write side,
             * and still read the answer: to the cleartext side that is
             * the end of the stream, as for nginx's own SSL, and the
             * session goes on writing.
             */
            if (sp_pair_truncated(ctx->pair)) {
                ngx_log_error(NGX_LOG_INFO, c->log, 0,
                              "securepair: peer closed the connection "
                              "without close_notify");
            }

            c->read->ready = 1;
            continue;
        }

        ngx_stream_securepair_read_done(c, ctx);

        if (got == NGX_AGAIN) {
            /* nothing came: an empty input buffer goes back while idle */
            sp_enc_in_commit(ctx->pair, 0);
            return NGX_AGAIN;
        }

        c->read->error = 1;
        return NGX_ERROR;
    }

    ngx_stream_securepair_read_done(c, ctx);

    if (n > 0) {
        /* more may be buffered in the pair or the socket: let the caller
           try again rather than wait for an event that may not come */
        c->read->ready = 1;
        return n;
    }

    if (n == 0) {
        c->read->ready = 0;
        c->read->eof = 1;
        return 0;
    }

    ngx_stream_securepair_log_failure(c, ctx);
    c->read->error = 1;
    return NGX_ERROR;
}


static ssize_t
ngx_stream_securepair_recv_chain(ngx_connection_t *c, ngx_chain_t *cl,
    off_t limit)
{
    u_char     *last;
    ssize_t     n, bytes, size;
    ngx_buf_t  *b;

    bytes = 0;

    b = cl->buf;
    last = b->last;

    for ( ;; ) {
        size = b->end - last;

        if (limit) {
            if (bytes >= limit) {
                return bytes;
            }

            if (bytes + size > limit) {
                size = (ssize_t) (limit - bytes);
            }
        }

        n = ngx_stream_securepair_recv(c, last, size);

        if (n > 0) {
            last += n;
            bytes += n;

            if (!c->read->ready) {
                return bytes;
            }

            if (last == b->end) {
                cl = cl->next;

                if (cl == NULL) {
                    return bytes;
                }

                b = cl->buf;
                last = b->last;
            }

            continue;
        }

        if (bytes) {
            if (n == 0 || n == NGX_ERROR) {
                c->read->ready = 1;
            }

            return bytes;
        }

        return n;
    }
}


static ssize_t
ngx_stream_securepair_send(ngx_connection_t *c, u_char *buf, size_t size)
{
    ssize_t                       n;
    ngx_int_t                     rc;
    ngx_stream_securepair_ctx_t  *ctx;

    ctx = ngx_stream_securepair_get_ctx(c);
    ctx->writer_waits = 0;

    if (size == 0) {
        /* a writer pushing what is held */
        rc = ngx_stream_securepair_flush(c, ctx);
        return rc == NGX_ERROR ? NGX_ERROR : 0;
    }

    for ( ;; ) {
        n = sp_clear_write(ctx->pair, buf, size);

        if (n != SP_ERR_AGAIN) {
            break;
        }

        /* the pair holds all it may: send, then try again */

        if (sp_enc_out_pending(ctx->pair) == 0) {
            /* nothing to send: a renegotiation waits for the peer, and
               the reader wakes us when it is done */
            ctx->write_blocked = 1;
            c->write->ready = 0;
            return NGX_AGAIN;
        }

        rc = ngx_stream_securepair_flush(c, ctx);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }
    }

    if (n < 0) {
        ngx_stream_securepair_log_failure(c, ctx);
        c->write->error = 1;
        return NGX_ERROR;
    }

    c->sent += n;

    ngx_stream_securepair_hold(c, ctx);

    if (c->buffered & NGX_SSL_BUFFERED) {
        ctx->writer_waits = 1;
    }

    return n;
}


/*
 * Encrypts a buffer's bytes, up to the limit, sending records as they
 * pile up: NGX_OK when the pair took them (or the limit is reached),
 * NGX_AGAIN when the pair or the socket takes no more now, NGX_ERROR.
 */
static ngx_int_t
ngx_stream_securepair_write_buf(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx, ngx_buf_t *b, off_t limit, off_t *sent)
{
    size_t     size;
    ssize_t    n;
    ngx_int_t  rc;

    while (b->pos < b->last && *sent < limit) {
        size = b->last - b->pos;

        if ((off_t) size > limit - *sent) {
            size = (size_t) (limit - *sent);
        }

        n = sp_clear_write(ctx->pair, b->pos, size);

        if (n == SP_ERR_AGAIN) {

            if (sp_enc_out_pending(ctx->pair) == 0) {
                /* the pair takes no more and has nothing to send:
                   renegotiating, the reader wakes us */
                ctx->write_blocked = 1;
                c->write->ready = 0;
                return NGX_AGAIN;
            }

            /* the pair holds all it may: send, then go on */

            rc = ngx_stream_securepair_flush(c, ctx);

            if (rc == NGX_ERROR || rc == NGX_AGAIN) {
                return rc;
            }

            continue;
        }

        if (n < 0) {
            ngx_stream_securepair_log_failure(c, ctx);
            c->write->error = 1;
            return NGX_ERROR;
        }

        b->pos += n;
        *sent += n;
        c->sent += n;

        if (sp_enc_out_pending(ctx->pair) >= NGX_STREAM_SECUREPAIR_SEND_SIZE) {
            rc = ngx_stream_securepair_flush(c, ctx);

            if (rc == NGX_ERROR || rc == NGX_AGAIN) {
                return rc;
            }
        }
    }

    return NGX_OK;
}


static ngx_chain_t *
ngx_stream_securepair_send_chain(ngx_connection_t *c, ngx_chain_t *in,
    off_t limit)
{
    off_t                         sent;
    ngx_int_t                     rc;
    ngx_stream_securepair_ctx_t  *ctx;

    ctx = ngx_stream_securepair_get_ctx(c);
    ctx->writer_waits = 0;

    if (limit == 0 || limit > (off_t) (NGX_MAX_SIZE_T_VALUE - ngx_pagesize)) {
        limit = NGX_MAX_SIZE_T_VALUE - ngx_pagesize;
    }

    sent = 0;

    for ( /* void */ ; in; in = in->next) {

        if (ngx_buf_special(in->buf)) {
            continue;
        }

        if (!ngx_buf_in_memory(in->buf)) {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "securepair: file buffers are not supported");
            return NGX_CHAIN_ERROR;
        }

        rc = ngx_stream_securepair_write_buf(c, ctx, in->buf, limit, &sent);

        if (rc == NGX_ERROR) {
            return NGX_CHAIN_ERROR;
        }

        if (rc == NGX_AGAIN) {
            goto done;
        }

        if (in->buf->pos < in->buf->last) {
            break;
        }
    }

    if (sent == 0) {
        /* a call with nothing new: the writer pushes what is held, or
           learns that nothing is */

        if (ngx_stream_securepair_flush(c, ctx) == NGX_ERROR) {
            return NGX_CHAIN_ERROR;
        }

    } else {
        ngx_stream_securepair_hold(c, ctx);
    }

done:

    if (c->buffered & NGX_SSL_BUFFERED) {
        ctx->writer_waits = 1;
    }

    /* skip what was fully sent, special buffers included */
    while (in && ngx_buf_size(in->buf) == 0 && !ngx_buf_special(in->buf)) {
        in = in->next;
    }

    return in;
}
