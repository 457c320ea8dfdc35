
/*
 * The preread phase (ssl_preread, njs js_preread, ...) after securepair
 * reads cleartext, on every nginx.  Up to 1.25.4 nginx's own preread
 * phase reads through c->recv, which is ours once the session is secure.
 * Since 1.25.5 it peeks at the socket itself (recv with MSG_PEEK) whenever
 * c->ssl is NULL, as it is with securepair, and would hand the handlers
 * ciphertext: there the phase's checker is ours for secure sessions, and
 * reads through c->recv into c->buffer as the older nginx did; the
 * content handler (proxy_pass) then sends what was preread first, as it
 * does after nginx's own SSL.  Sessions without securepair keep nginx's.
 */


#include "ngx_stream_securepair_module.h"


#if (NGX_STREAM_SECUREPAIR_SERVER_NAME)

static ngx_int_t ngx_stream_securepair_preread_phase(ngx_stream_session_t *s,
    ngx_stream_phase_handler_t *ph);
static ngx_int_t ngx_stream_securepair_preread_read(ngx_stream_session_t *s,
    ngx_stream_phase_handler_t *ph, ngx_stream_core_srv_conf_t *cscf);
static ngx_int_t ngx_stream_securepair_preread_done(ngx_stream_session_t *s,
    ngx_stream_phase_handler_t *ph, ngx_int_t rc);


/*
 * After the configuration is read: the phase engine is built by then,
 * with nginx's checker on every preread handler.
 */
ngx_int_t
ngx_stream_securepair_preread_init(ngx_cycle_t *cycle)
{
    ngx_stream_phase_handler_t   *ph;
    ngx_stream_core_main_conf_t  *cmcf;

    cmcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_core_module);

    if (cmcf == NULL || cmcf->phase_engine.handlers == NULL) {
        return NGX_OK;
    }

    /* the content phase is the last, always there */
    for (ph = cmcf->phase_engine.handlers;
         ph->checker != ngx_stream_core_content_phase;
         ph++)
    {
        if (ph->checker == ngx_stream_core_preread_phase) {
            ph->checker = ngx_stream_securepair_preread_phase;
        }
    }

    return NGX_OK;
}


/*
 * nginx's preread contract, reading cleartext: the handler is asked
 * first with what c->buffer holds, then after each read; NGX_AGAIN waits
 * for more under preread_timeout, and when it expires the phase goes on
 * with what came.
 */
static ngx_int_t
ngx_stream_securepair_preread_phase(ngx_stream_session_t *s,
    ngx_stream_phase_handler_t *ph)
{
    ngx_int_t                     rc;
    ngx_connection_t             *c;
    ngx_stream_core_srv_conf_t   *cscf;
    ngx_stream_securepair_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);

    if (ctx == NULL || !ctx->secure) {
        return ngx_stream_core_preread_phase(s, ph);
    }

    c = s->connection;
    c->log->action = "prereading client data";

    cscf = ngx_stream_get_module_srv_conf(s, ngx_stream_core_module);

    if (c->read->timedout) {
        rc = NGX_STREAM_OK;

    } else if (c->read->timer_set) {
        rc = NGX_AGAIN;

    } else {
        rc = ph->handler(s);
    }

    if (rc == NGX_AGAIN) {
        rc = ngx_stream_securepair_preread_read(s, ph, cscf);
    }

    if (rc == NGX_AGAIN) {
        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
            return NGX_OK;
        }

        if (!c->read->timer_set) {
            ngx_add_timer(c->read, cscf->preread_timeout);
        }

        c->read->handler = ngx_stream_session_handler;

        return NGX_OK;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    return ngx_stream_securepair_preread_done(s, ph, rc);
}


/*
 * While the handler wants more: what the socket has, read through
 * c->recv into c->buffer, and the handler asked again.  NGX_AGAIN when
 * nothing more can be read now; the end of the stream, or a read that
 * fails, ends the wait with what came.
 */
static ngx_int_t
ngx_stream_securepair_preread_read(ngx_stream_session_t *s,
    ngx_stream_phase_handler_t *ph, ngx_stream_core_srv_conf_t *cscf)
{
    size_t             size;
    ssize_t            n;
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = s->connection;

    for ( ;; ) {

        if (c->buffer == NULL) {
            c->buffer = ngx_create_temp_buf(c->pool,
                                            cscf->preread_buffer_size);
            if (c->buffer == NULL) {
                return NGX_ERROR;
            }
        }

        size = c->buffer->end - c->buffer->last;

        if (size == 0) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0, "preread buffer full");
            return NGX_STREAM_BAD_REQUEST;
        }

        if (c->read->eof) {
            return NGX_STREAM_OK;
        }

        if (!c->read->ready) {
            return NGX_AGAIN;
        }

        n = c->recv(c, c->buffer->last, size);

        if (n == NGX_ERROR || n == 0) {
            return NGX_STREAM_OK;
        }

        if (n == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        c->buffer->last += n;

        rc = ph->handler(s);

        if (rc != NGX_AGAIN) {
            return rc;
        }
    }
}


/*
 * The handler's last answer, as nginx's checker takes it: the next phase,
 * the next handler, nothing yet (NGX_DONE), or the end of the session.
 */
static ngx_int_t
ngx_stream_securepair_preread_done(ngx_stream_session_t *s,
    ngx_stream_phase_handler_t *ph, ngx_int_t rc)
{
    if (rc == NGX_OK) {
        s->phase_handler = ph->next;
        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        s->phase_handler++;
        return NGX_AGAIN;
    }

    if (rc == NGX_DONE) {
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        rc = NGX_STREAM_INTERNAL_SERVER_ERROR;
    }

    ngx_stream_finalize_session(s, rc);

    return NGX_OK;
}


#else


/* nginx's own preread phase reads through c->recv: nothing to do */
ngx_int_t
ngx_stream_securepair_preread_init(ngx_cycle_t *cycle)
{
    return NGX_OK;
}


#endif
