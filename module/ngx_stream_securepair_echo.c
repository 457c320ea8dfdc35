
/*
 * securepair_echo [greeting]: the echo server of Node's tls documentation
 * as a stream content handler.  Sends the greeting, then every cleartext
 * byte back, through whatever c->recv / c->send the connection has.
 */


#include "ngx_stream_securepair_module.h"


#define NGX_STREAM_SECUREPAIR_ECHO_BUFFER  16384

/*
 * An idle echo session is closed after this long, as proxy_timeout's
 * default.  The timer also keeps an old worker waiting for the session
 * after a reload: a worker leaves when no timer is left.
 */
#define NGX_STREAM_SECUREPAIR_ECHO_TIMEOUT  600000


static void ngx_stream_securepair_echo_handler(ngx_stream_session_t *s);
static void ngx_stream_securepair_echo_process(ngx_event_t *ev);


char *
ngx_stream_securepair_echo(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_securepair_srv_conf_t  *spcf = conf;

    ngx_str_t                   *value;
    ngx_stream_core_srv_conf_t  *cscf;

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);

    if (cscf->handler) {
        return "is duplicate: the server already has a content handler";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (value[1].len > NGX_STREAM_SECUREPAIR_ECHO_BUFFER) {
            return "greeting is too long";
        }

        spcf->echo_greeting = value[1];
    }

    cscf->handler = ngx_stream_securepair_echo_handler;

    return NGX_CONF_OK;
}


static void
ngx_stream_securepair_echo_handler(ngx_stream_session_t *s)
{
    ngx_buf_t                         *b;
    ngx_connection_t                  *c;
    ngx_stream_securepair_srv_conf_t  *spcf;

    c = s->connection;
    c->log->action = "echoing";

    spcf = ngx_stream_get_module_srv_conf(s, ngx_stream_securepair_module);

    b = ngx_create_temp_buf(c->pool, NGX_STREAM_SECUREPAIR_ECHO_BUFFER
                                     + spcf->echo_greeting.len);
    if (b == NULL) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    b->last = ngx_cpymem(b->last, spcf->echo_greeting.data,
                         spcf->echo_greeting.len);

    /* what a preread phase already read is echoed first, after the
       greeting; the connection's buffer then holds the echo state */
    if (c->buffer && c->buffer->pos < c->buffer->last) {
        b->last = ngx_cpymem(b->last, c->buffer->pos,
                             ngx_min((size_t) (b->end - b->last),
                                     (size_t) (c->buffer->last
                                               - c->buffer->pos)));
    }

    c->buffer = b;

    c->read->handler = ngx_stream_securepair_echo_process;
    c->write->handler = ngx_stream_securepair_echo_process;

    ngx_stream_securepair_echo_process(c->read);
}


static void
ngx_stream_securepair_echo_process(ngx_event_t *ev)
{
    ssize_t                n;
    ngx_buf_t             *b;
    ngx_connection_t      *c;
    ngx_stream_session_t  *s;

    s = ngx_stream_securepair_event_session(ev, "echo timed out",
                                            NGX_STREAM_OK);
    if (s == NULL) {
        return;
    }

    c = s->connection;
    b = c->buffer;

    /*
     * Read what there is before writing: the echo of a pass leaves in one
     * write, with whatever the TLS layer holds (a TLS 1.3 session ticket).
     * What is read counts in $bytes_received, as in nginx's own handlers.
     */

    for ( ;; ) {
        n = 0;

        if (b->last < b->end && c->read->ready && !c->read->eof) {
            n = c->recv(c, b->last, b->end - b->last);

            if (n > 0) {
                b->last += n;
                s->received += n;
            }
        }

        if (n != NGX_ERROR
            && (b->pos < b->last || (c->buffered & NGX_SSL_BUFFERED)))
        {
            n = c->send(c, b->pos, b->last - b->pos);

            if (n > 0) {
                b->pos += n;
            }
        }

        if (n == NGX_ERROR) {
            ngx_stream_finalize_session(s, NGX_STREAM_OK);
            return;
        }

        if (b->pos == b->last) {
            b->pos = b->start;
            b->last = b->start;
        }

        if (b->last == b->end || !c->read->ready || c->read->eof) {
            break;
        }
    }

    if (c->read->eof && b->pos == b->last
        && !(c->buffered & NGX_SSL_BUFFERED))
    {
        ngx_stream_finalize_session(s, NGX_STREAM_OK);
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK
        || ngx_handle_write_event(c->write, 0) != NGX_OK)
    {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_add_timer(c->read, NGX_STREAM_SECUREPAIR_ECHO_TIMEOUT);
}
