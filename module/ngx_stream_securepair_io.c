
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
 * Records come from the socket into the pair's room (sp_enc_in_buf), up
 * to 128 KiB a recv(), and OpenSSL copies them into its record buffer.
 * Reading them straight into OpenSSL's buffer (sp_enc_read_from) costs
 * more: with a buffer of many records OpenSSL 3.0 moves the bytes behind
 * each one to the front (bench/profile bulk-up: 7,744 instructions a KB
 * against 5,430), with one a record a recv() (bench/compare up: 61
 * against 9.5 a MB, 985 against 861 us of worker CPU a MB).  Records go
 * out from OpenSSL's buffer straight to the socket (sp_clear_write_to),
 * the one that completes a send with those held before it; what the
 * socket does not take, and the records the pair makes on its own, wait
 * in the pair and go from ngx_stream_securepair_flush.c, which holds them
 * for the end of the pass.  Records in may make records out with no
 * cleartext to show for them (answers to key updates and renegotiation
 * hellos, alerts).  While too many of those wait, the pair takes no
 * input (sp_enc_in_buf gives no room): recv then says NGX_AGAIN and
 * leaves the socket alone, and the flush that sends them wakes the
 * reader, so a peer that writes and never reads is held to what its
 * socket buffers take.
 */


#include "ngx_stream_securepair_module.h"


static ssize_t ngx_stream_securepair_recv(ngx_connection_t *c, u_char *buf,
    size_t size);
static ssize_t ngx_stream_securepair_send(ngx_connection_t *c, u_char *buf,
    size_t size);
static ssize_t ngx_stream_securepair_recv_chain(ngx_connection_t *c,
    ngx_chain_t *in, off_t limit);
static ngx_chain_t *ngx_stream_securepair_send_chain(ngx_connection_t *c,
    ngx_chain_t *in, off_t limit);


void
ngx_stream_securepair_install_io(ngx_connection_t *c)
{
    c->recv = ngx_stream_securepair_recv;
    c->send = ngx_stream_securepair_send;
    c->recv_chain = ngx_stream_securepair_recv_chain;
    c->send_chain = ngx_stream_securepair_send_chain;
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


/*
 * The pair needs records: what the socket has goes into the pair's room.
 * NGX_OK when records (or the end) came; NGX_DECLINED when the pair
 * offers no room; NGX_AGAIN when nothing came, or when records must go
 * out first (the flush that sends them wakes the reader); NGX_ERROR when
 * the socket failed.
 */
static ngx_int_t
ngx_stream_securepair_take_records(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    u_char   *in;
    size_t    room;
    ssize_t   got;

    in = sp_enc_in_buf(ctx->pair, &room);

    if (in == NULL && sp_enc_out_pending(ctx->pair)
        && !sp_pair_error(ctx->pair))
    {
        /* too many records wait to go out: send them first */

        if (ngx_stream_securepair_flush(c, ctx) == NGX_ERROR) {
            return NGX_ERROR;
        }

        in = sp_enc_in_buf(ctx->pair, &room);

        if (in == NULL
            && (sp_pair_state(ctx->pair) & SP_STATE_SEND_RECORDS))
        {
            ctx->read_blocked = 1;
            c->read->ready = 0;
            ngx_stream_securepair_read_done(c, ctx);
            return NGX_AGAIN;
        }
    }

    if (in == NULL) {
        return NGX_DECLINED;
    }

    got = ctx->recv(c, in, room);

    if (got > 0) {
        sp_enc_in_commit(ctx->pair, (size_t) got);
        return NGX_OK;
    }

    if (got == 0) {
        sp_enc_in_eof(ctx->pair);

        /*
         * Many clients just close the socket, or only its write side, and
         * still read the answer: to the cleartext side that is the end of
         * the stream, as for nginx's own SSL, and the session goes on
         * writing.
         */
        if (sp_pair_truncated(ctx->pair)) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "securepair: peer closed the connection "
                          "without close_notify");
        }

        c->read->ready = 1;
        return NGX_OK;
    }

    ngx_stream_securepair_read_done(c, ctx);

    if (got == NGX_AGAIN) {
        /* nothing came: an empty input buffer goes back while idle */
        sp_enc_in_commit(ctx->pair, 0);
        return NGX_AGAIN;
    }

    return NGX_ERROR;
}


static ssize_t
ngx_stream_securepair_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    ssize_t                       n;
    ngx_int_t                     rc;
    ngx_stream_securepair_ctx_t  *ctx;

    ctx = ngx_stream_securepair_get_ctx(c);

    if (ctx->prefix_len) {
        return ngx_stream_securepair_prefix_read(c, ctx, buf, size);
    }

    for ( ;; ) {
        n = sp_clear_read(ctx->pair, buf, size);

        if (n != SP_ERR_AGAIN) {
            break;
        }

        rc = ngx_stream_securepair_take_records(c, ctx);

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_DECLINED) {
            break;
        }

        if (rc == NGX_AGAIN) {
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


/*
 * Encrypts up to size bytes: the bytes taken (> 0), NGX_AGAIN when the
 * pair or the socket takes none now, NGX_ERROR.  A record that leaves
 * less than a send's worth waits in the pair (flush.c); the one that
 * completes it goes from OpenSSL's buffer straight to the socket, in one
 * writev() with those that wait.  Every record straight to the socket
 * would cost a system call and a packet each, more than the copy.
 */
static ssize_t
ngx_stream_securepair_encrypt(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx, u_char *buf, size_t size)
{
    size_t     record;
    ssize_t    n;
    ngx_int_t  rc;

    record = ngx_min(size, NGX_STREAM_SECUREPAIR_RECORD);

    for ( ;; ) {
        n = SP_ERR_AGAIN;

        if (sp_enc_out_pending(ctx->pair) + record
            < ngx_stream_securepair_send_size(ctx))
        {
            n = sp_clear_write(ctx->pair, buf, record);
        }

        if (n == SP_ERR_AGAIN) {
            n = sp_clear_write_to(ctx->pair, buf, record,
                                  ngx_stream_securepair_write_socket, c);
        }

        if (n != SP_ERR_AGAIN) {
            break;
        }

        if (sp_enc_out_pending(ctx->pair) == 0) {
            /* the pair takes no more and has nothing to send: a
               renegotiation waits for the peer, the reader wakes us */
            ctx->write_blocked = 1;
            c->write->ready = 0;
            return NGX_AGAIN;
        }

        /* the pair holds all it may: send, then try again */

        rc = ngx_stream_securepair_flush(c, ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (n > 0) {
        c->sent += n;
        return n;
    }

    if (n != SP_ERR_TRANSPORT) {
        ngx_stream_securepair_log_failure(c, ctx);
        c->write->error = 1;
    }

    /* else ngx_writev() set c->write->error */

    return NGX_ERROR;
}


static ssize_t
ngx_stream_securepair_send(ngx_connection_t *c, u_char *buf, size_t size)
{
    ssize_t                       n;
    ngx_stream_securepair_ctx_t  *ctx;

    ctx = ngx_stream_securepair_get_ctx(c);
    ctx->writer_waits = 0;

    if (size == 0) {
        /* a writer pushing what is held */
        return ngx_stream_securepair_flush(c, ctx) == NGX_ERROR ? NGX_ERROR
                                                                : 0;
    }

    if (ngx_stream_securepair_socket_full(c, ctx)) {
        ctx->writer_waits = 1;
        return NGX_AGAIN;
    }

    n = ngx_stream_securepair_encrypt(c, ctx, buf, size);

    if (n < 0) {
        return n;
    }

    ngx_stream_securepair_hold(c, ctx);

    if (c->buffered & NGX_SSL_BUFFERED) {
        ctx->writer_waits = 1;
    }

    return n;
}


/*
 * Encrypts a buffer's bytes, up to the limit: NGX_OK when the pair took
 * them (or the limit is reached), NGX_AGAIN when the pair or the socket
 * takes no more now, NGX_ERROR.
 */
static ngx_int_t
ngx_stream_securepair_write_buf(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx, ngx_buf_t *b, off_t limit, off_t *sent)
{
    size_t   size;
    ssize_t  n;

    while (b->pos < b->last && *sent < limit) {
        size = b->last - b->pos;

        if ((off_t) size > limit - *sent) {
            size = (size_t) (limit - *sent);
        }

        n = ngx_stream_securepair_encrypt(c, ctx, b->pos, size);

        if (n < 0) {
            return n;
        }

        b->pos += n;
        *sent += n;
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

    if (ngx_stream_securepair_socket_full(c, ctx)) {
        goto done;
    }

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
