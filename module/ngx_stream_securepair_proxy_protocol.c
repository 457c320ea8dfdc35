/*
 * securepair_proxy_protocol on: the cleartext a content handler reads
 * begins with a PROXY protocol v2 header (runtime/proxy_v2.c) that tells
 * the backend the client's and our addresses and what TLS learned: ALPN,
 * SNI, the client certificate's verdict and CN, protocol and cipher.
 * nginx's own `proxy_protocol on` sends a v1 line without any of the TLS
 * facts, and its listen ... ssl cannot send them to a backend at all.
 *
 * The header is made once, when the handshake completes, and our recv
 * hands it out before the first decrypted byte, so that any content
 * handler (proxy_pass, and whatever reads c->recv) forwards it unchanged.
 */


#include "ngx_stream_securepair_module.h"


ngx_int_t
ngx_stream_securepair_proxy_header(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx)
{
    u_char                             buf[SP_PROXY_V2_MAX];
    ssize_t                            n;
    ngx_stream_session_t              *s;
    ngx_stream_securepair_srv_conf_t  *spcf;

    s = c->data;
    spcf = ngx_stream_get_module_srv_conf(s, ngx_stream_securepair_module);

    if (!spcf->proxy_protocol) {
        return NGX_OK;
    }

    if (ngx_connection_local_sockaddr(c, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    n = sp_proxy_v2_encode(ctx->pair, c->sockaddr, c->socklen,
                           c->local_sockaddr, c->local_socklen, buf,
                           sizeof(buf));

    if (n <= 0) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "securepair: no PROXY protocol header: %s",
                      sp_strerror((int) n));
        return NGX_ERROR;
    }

    ctx->prefix = ngx_pnalloc(c->pool, n);
    if (ctx->prefix == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->prefix, buf, n);
    ctx->prefix_len = n;

    /* there is something to read now, whatever the socket says */
    c->read->ready = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, c->log, 0,
                   "securepair: PROXY protocol v2 header of %z bytes", n);

    return NGX_OK;
}


/*
 * Our recv's first answers, while some of the header is unread: as much
 * of it as fits, and ready stays set for the rest and the data behind it.
 */
ssize_t
ngx_stream_securepair_prefix_read(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx, u_char *buf, size_t size)
{
    size_t  n;

    n = ngx_min(size, ctx->prefix_len);

    ngx_memcpy(buf, ctx->prefix, n);

    ctx->prefix += n;
    ctx->prefix_len -= n;

    c->read->ready = 1;

    return n;
}
