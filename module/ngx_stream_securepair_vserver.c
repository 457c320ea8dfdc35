
/*
 * Stream virtual servers (nginx >= 1.25.5: server_name in stream
 * servers): the client's SNI chooses the server, as nginx's own SSL
 * chooses it (ngx_stream_ssl_servername), in the securepair handshake
 * before a certificate is chosen.  The session's srv_conf switches to
 * that server's, and the pair moves to that server's securepair context,
 * whose certificate, CA, client-certificate policy, protocols, ciphers,
 * NPN/ALPN, renegotiation limit and securepair_context lines apply from
 * then on; its content handler serves the session.  A server chosen by
 * name that does not say `securepair on` gets the session (its content
 * handler, its log) but the TLS settings stay the default server's, as
 * with nginx's own SSL.  On older nginx there is nothing to choose.
 */


#include "ngx_stream_securepair_module.h"


/*
 * Moves the session to the server that `servername` chooses, from inside
 * the runtime's SNI callback, and returns the securepair configuration
 * of the server that now serves the session (the one it came to when no
 * server_name matches, or on nginx without stream server_name).  A
 * callback that also picks credentials by name asks this first, then
 * looks in what it returns.
 */
ngx_stream_securepair_srv_conf_t *
ngx_stream_securepair_choose_server(sp_pair *pair, const char *servername)
{
    ngx_connection_t                  *c;
    ngx_stream_session_t              *s;
    ngx_stream_securepair_srv_conf_t  *spcf;
#if (NGX_STREAM_SECUREPAIR_SERVER_NAME)
    ngx_int_t                          rc;
    ngx_str_t                          host;
    ngx_stream_core_srv_conf_t        *cscf;
#endif

    c = sp_pair_get_data(pair);
    s = c->data;

    spcf = ngx_stream_get_module_srv_conf(s, ngx_stream_securepair_module);

#if (NGX_STREAM_SECUREPAIR_SERVER_NAME)

    if (s->virtual_names == NULL) {
        return spcf;
    }

    host.len = ngx_strlen(servername);
    host.data = (u_char *) servername;

    /* nginx's own reading of a name: lower case, a final dot dropped */
    rc = ngx_stream_validate_host(&host, c->pool, 1);

    if (rc != NGX_OK) {
        return spcf;
    }

    rc = ngx_stream_find_virtual_server(s, &host, &cscf);

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "securepair: server_name regex failed on "
                      "servername \"%V\": the default server serves", &host);
        return spcf;
    }

    if (rc == NGX_DECLINED) {
        return spcf;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, c->log, 0,
                   "securepair: servername \"%V\" chose a server", &host);

    s->srv_conf = cscf->ctx->srv_conf;

    ngx_set_connection_log(c, cscf->error_log);

    spcf = ngx_stream_get_module_srv_conf(s, ngx_stream_securepair_module);

    if (spcf->ctx != NULL && sp_pair_use_ctx(pair, spcf->ctx) != SP_OK) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "securepair: cannot move the session to the server "
                      "of %s:%ui", spcf->file, spcf->line);
    }

#endif

    return spcf;
}


/*
 * The runtime's SNI callback of every securepair server where nginx has
 * stream server_name, and of servers with certificates named by variables
 * (`arg`: the server's configuration) on every nginx.  The name chooses
 * the server first; that server's certificates named by variables answer
 * for the names its securepair_context table lacks; otherwise (NULL) the
 * chosen server's table is asked next.  A chosen server without
 * securepair keeps the first server's TLS, so its names too.
 */
sp_creds *
ngx_stream_securepair_servername(sp_pair *pair, const char *servername,
    void *arg)
{
    ngx_stream_securepair_srv_conf_t  *spcf;

    spcf = ngx_stream_securepair_choose_server(pair, servername);

    if (spcf->ctx == NULL) {
        spcf = arg;
    }

    if (spcf->cert_names == NULL) {
        return NULL;
    }

    return ngx_stream_securepair_certname_select(pair, servername, spcf);
}
