
/*
 * The handshake, in the stream SSL phase: bytes move between the socket
 * and the session's pair until the pair is secure, driven by read and
 * write events and bounded by securepair_handshake_timeout.  Then the
 * connection's I/O is swapped for cleartext I/O and the next phases run.
 */


#include "ngx_stream_securepair_module.h"


static ngx_int_t ngx_stream_securepair_start(ngx_stream_session_t *s,
    ngx_stream_securepair_srv_conf_t *spcf);
static ngx_int_t ngx_stream_securepair_handshake(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx);
static void ngx_stream_securepair_handshake_done(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx);
static void ngx_stream_securepair_handshake_handler(ngx_event_t *ev);
static void ngx_stream_securepair_log_sni_limit(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx);
static ngx_uint_t ngx_stream_securepair_can_send(ngx_connection_t *c);
static void ngx_stream_securepair_cleanup(void *data);


ngx_int_t
ngx_stream_securepair_handler(ngx_stream_session_t *s)
{
    ngx_int_t                          rc;
    ngx_connection_t                  *c;
    ngx_stream_securepair_ctx_t       *ctx;
    ngx_stream_securepair_srv_conf_t  *spcf;

    c = s->connection;
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);

    /*
     * A session under way goes on even where the client's name chose a
     * server without securepair (server_name): its TLS stays the default
     * server's, as with nginx's own SSL.
     */
    spcf = ngx_stream_get_module_srv_conf(s, ngx_stream_securepair_module);

    if (ctx == NULL) {
        if (!spcf->enable) {
            return NGX_DECLINED;
        }

        rc = ngx_stream_securepair_start(s, spcf);
        if (rc != NGX_OK) {
            return rc;
        }

        ctx = ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);
    }

    if (ctx->secure) {
        return NGX_OK;
    }

    rc = ngx_stream_securepair_handshake(c, ctx);

    if (rc == NGX_AGAIN) {
        if (!c->read->timer_set) {
            ngx_add_timer(c->read, spcf->handshake_timeout);
        }

        c->read->handler = ngx_stream_securepair_handshake_handler;
        c->write->handler = ngx_stream_securepair_handshake_handler;
    }

    return rc;
}


static ngx_int_t
ngx_stream_securepair_start(ngx_stream_session_t *s,
    ngx_stream_securepair_srv_conf_t *spcf)
{
    int                           err;
    ngx_connection_t             *c;
    ngx_stream_securepair_ctx_t  *ctx;
    ngx_stream_core_srv_conf_t   *cscf;

    c = s->connection;

    ctx = ngx_pcalloc(c->pool, sizeof(ngx_stream_securepair_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->pair = sp_pair_new_in(spcf->ctx, ngx_stream_securepair_worker,
                               NULL, &err);

    if (ctx->pair == NULL) {
        if (err == SP_ERR_MAX_CONNECTIONS) {
            /*
             * Node's server.maxConnections: closed before any byte, with
             * the $status of nginx's own limits (limit_conn)
             */
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "securepair: too many connections "
                          "(securepair_max_connections %i), closing",
                          spcf->max_connections);
            return NGX_STREAM_SERVICE_UNAVAILABLE;
        }

        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "securepair: cannot create a pair: %s",
                      sp_strerror(err));
        return NGX_ERROR;
    }

    if (ngx_stream_securepair_add_cleanup(c->pool,
                                          ngx_stream_securepair_cleanup, ctx)
        != NGX_OK)
    {
        sp_pair_free(ctx->pair);
        return NGX_ERROR;
    }

    /* the SNI callback finds the session from the pair */
    sp_pair_set_data(ctx->pair, c);
    ctx->counted = spcf->ctx;

    ctx->recv = c->recv;

    ctx->push.handler = ngx_stream_securepair_push_handler;
    ctx->push.data = c;
    ctx->push.log = c->log;

    ngx_stream_set_ctx(s, ctx, ngx_stream_securepair_module);

    cscf = ngx_stream_get_module_srv_conf(s, ngx_stream_core_module);

    if (cscf->tcp_nodelay && ngx_tcp_nodelay(c) != NGX_OK) {
        return NGX_ERROR;
    }

    c->log->action = "securepair handshaking";

    return NGX_OK;
}


/* Secure: what is left goes with the data, through our recv and send. */
static void
ngx_stream_securepair_handshake_done(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    ctx->secure = 1;

    ngx_stream_securepair_log_sni_limit(c, ctx);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_stream_securepair_install_io(c);

    if (c->write->handler == NULL) {
        /* the handshake ended at the first try: until a content handler
           takes the write events, they send what the pair holds */
        c->write->handler = ngx_stream_securepair_write_handler;
    }

    /*
     * Records that came with the client's Finished wait in the pair, and
     * no read event will announce them: the next phase (a preread
     * handler, the content handler) reads at once, as after nginx's own
     * handshake, and finds them or NGX_AGAIN.
     */
    c->read->ready = 1;

    ngx_log_debug4(NGX_LOG_DEBUG_STREAM, c->log, 0,
                   "securepair handshake: %s %s sni:\"%s\" authorized:%d",
                   sp_pair_protocol(ctx->pair), sp_pair_cipher(ctx->pair),
                   sp_pair_servername(ctx->pair) ? sp_pair_servername(ctx->pair)
                                                 : "",
                   sp_pair_authorized(ctx->pair));

    c->log->action = NULL;

    ngx_stream_securepair_hold(c, ctx);
}


/*
 * One flight at a time: send what the pair wrote, feed it what the socket
 * has, until the pair is secure, fails, or the socket would block.  What
 * the pair writes as it becomes secure (TLS 1.3 tickets) waits for the
 * content handler's first reply or the end of the pass, to leave in the
 * same packet.
 */
static ngx_int_t
ngx_stream_securepair_handshake(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    u_char     *buf;
    size_t      room;
    ssize_t     n;
    ngx_int_t   rc;
    unsigned    state;

    for ( ;; ) {
        state = sp_pair_state(ctx->pair);

        if ((state & SP_STATE_SECURE) && !sp_pair_error(ctx->pair)) {
            break;
        }

        rc = ngx_stream_securepair_flush(c, ctx);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (sp_pair_error(ctx->pair)) {
            ngx_stream_securepair_log_sni_limit(c, ctx);
            ngx_stream_securepair_log_failure(c, ctx);
            return NGX_ERROR;
        }

        if (!c->read->ready) {
            goto again;
        }

        buf = sp_enc_in_buf(ctx->pair, &room);
        if (buf == NULL) {
            goto again;
        }

        n = ctx->recv(c, buf, room);

        if (n > 0) {
            sp_enc_in_commit(ctx->pair, (size_t) n);
            continue;
        }

        if (n == 0) {
            sp_enc_in_eof(ctx->pair);
            continue;
        }

        if (n == NGX_AGAIN) {
            sp_enc_in_commit(ctx->pair, 0);
            goto again;
        }

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "securepair: connection failed during the handshake");
        return NGX_ERROR;
    }

    ngx_stream_securepair_handshake_done(c, ctx);

    return ngx_stream_securepair_proxy_header(c, ctx);

again:

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_stream_securepair_handshake_handler(ngx_event_t *ev)
{
    ngx_int_t                     rc;
    ngx_connection_t             *c;
    ngx_stream_session_t         *s;
    ngx_stream_securepair_ctx_t  *ctx;

    /* a failed handshake ends as in nginx's ssl module: $status 500 */

    s = ngx_stream_securepair_event_session(ev,
                                            "securepair: handshake timed out",
                                            NGX_STREAM_INTERNAL_SERVER_ERROR);
    if (s == NULL) {
        return;
    }

    c = s->connection;
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);

    rc = ngx_stream_securepair_handshake(c, ctx);

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    c->read->handler = ngx_stream_session_handler;
    c->write->handler = ngx_stream_session_handler;

    ngx_stream_core_run_phases(s);
}


/*
 * The session of a read or write event, or NULL when the event timed
 * out: then `message` is logged and the session ends with `rc`.
 */
ngx_stream_session_t *
ngx_stream_securepair_event_session(ngx_event_t *ev, const char *message,
    ngx_uint_t rc)
{
    ngx_connection_t  *c;

    c = ev->data;

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT, "%s", message);
        ngx_stream_finalize_session(c->data, rc);
        return NULL;
    }

    return c->data;
}


/*
 * A regex context that gave up on the client's name (its match limit) did
 * not match: the operator hears of it, as of any misbehaving client.
 */
static void
ngx_stream_securepair_log_sni_limit(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    const char  *regex, *sni;

    regex = sp_pair_sni_gave_up(ctx->pair);

    if (regex == NULL) {
        return;
    }

    sni = sp_pair_servername(ctx->pair);

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "securepair: securepair_context \"%s\" reached its regex "
                  "match limit on servername \"%s\": taken as no match",
                  regex, sni ? sni : "");
}


/*
 * Node's clientError: one info line naming the peer (the log handler adds
 * the client address) and the reason.
 */
void
ngx_stream_securepair_log_failure(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    const char  *sni;

    if (ctx->failed) {
        return;
    }

    ctx->failed = 1;
    sni = sp_pair_servername(ctx->pair);

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "securepair: %s%s%s%s",
                  sp_pair_error_message(ctx->pair),
                  sni ? " (servername \"" : "", sni ? sni : "",
                  sni ? "\")" : "");
}


/*
 * LOG phase: the socket is still open, so a secure session that really
 * ended says goodbye with close_notify, best effort and without waiting.
 * A session cut short says nothing, as with nginx's own SSL: then a client
 * tells a truncated stream by the missing close_notify.  Cut short are a
 * timeout, an error, data still waiting (in the pair, or in the stream
 * write filter), a reset by the peer, and a write side already shut down
 * (proxy_half_close does so on the socket itself, where the write would
 * only fail).
 */
ngx_int_t
ngx_stream_securepair_log_handler(ngx_stream_session_t *s)
{
    ngx_connection_t             *c;
    ngx_stream_securepair_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);

    if (ctx == NULL || ctx->pair == NULL) {
        return NGX_OK;
    }

    c = s->connection;

    if (c->error || c->write->error || !ngx_stream_securepair_can_send(c)) {
        return NGX_OK;
    }

    /* what the session wrote (or a failed pair's alert) goes first */

    if (ngx_stream_securepair_flush(c, ctx) != NGX_OK) {
        return NGX_OK;
    }

    if (!ctx->secure || sp_pair_error(ctx->pair) || c->timedout
        || c->read->error || (c->buffered & ~NGX_SSL_BUFFERED))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_STREAM, c->log, 0,
                       "securepair: no close_notify");
        return NGX_OK;
    }

    if (sp_pair_shutdown(ctx->pair) == SP_OK) {
        (void) ngx_stream_securepair_flush(c, ctx);
    }

    return NGX_OK;
}


/*
 * Whether our side of the TCP connection may still send: not after a
 * shutdown(SHUT_WR) (the proxy's, which we do not see) or a reset.  On
 * Linux the connection's state says so; elsewhere a send of nothing
 * fails with EPIPE (or the reset's error) on such a socket.
 */
static ngx_uint_t
ngx_stream_securepair_can_send(ngx_connection_t *c)
{
#if (NGX_HAVE_TCP_INFO && NGX_LINUX)

    socklen_t        len;
    struct tcp_info  ti;

    len = sizeof(struct tcp_info);

    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1) {
        return 1;
    }

    /* FIN_WAIT1/2, CLOSING, TIME_WAIT, LAST_ACK: our FIN went; CLOSE */
    return ti.tcpi_state == TCP_ESTABLISHED
           || ti.tcpi_state == TCP_CLOSE_WAIT;

#else

    return send(c->fd, NULL, 0, 0) != -1;

#endif
}


static void
ngx_stream_securepair_cleanup(void *data)
{
    ngx_stream_securepair_ctx_t  *ctx = data;

    if (ctx->push.posted) {
        ngx_delete_posted_event(&ctx->push);
    }

    sp_peer_cert_free(ctx->peer);
    sp_pair_free(ctx->pair);
}
