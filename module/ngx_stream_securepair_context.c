
/*
 * ngx_stream_securepair_module: the runtime context (sp_ctx) of a server
 * that says `securepair on`, with its credentials, settings, NPN/ALPN
 * lists, sessions and SNI contexts; freed with the configuration.
 */


#include "ngx_stream_securepair_module.h"


static ngx_int_t ngx_stream_securepair_sessions(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf);
static time_t ngx_stream_securepair_clock(void *arg);
static void ngx_stream_securepair_cleanup_ctx(void *data);


static const char **
ngx_stream_securepair_names(ngx_conf_t *cf, ngx_array_t *a)
{
    ngx_str_t    *s;
    ngx_uint_t    i;
    const char  **list;

    list = ngx_pnalloc(cf->temp_pool, (a->nelts + 1) * sizeof(char *));
    if (list == NULL) {
        return NULL;
    }

    s = a->elts;

    for (i = 0; i < a->nelts; i++) {
        list[i] = ngx_stream_securepair_cstr(cf->temp_pool, &s[i]);
        if (list[i] == NULL) {
            return NULL;
        }
    }

    return list;
}


ngx_int_t
ngx_stream_securepair_build(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf)
{
    sp_creds            *creds;
    const char         **names;
    ngx_array_t         *passphrases;
    ngx_pool_cleanup_t  *cln;

    creds = sp_creds_new();
    if (creds == NULL) {
        return NGX_ERROR;
    }

    if (ngx_stream_securepair_default_creds(cf, conf, creds, &passphrases)
        != NGX_OK)
    {
        sp_creds_unref(creds);
        return NGX_ERROR;
    }

    conf->ctx = sp_ctx_new(SP_SERVER, creds);
    sp_creds_unref(creds);

    if (conf->ctx == NULL) {
        return NGX_ERROR;
    }

    /* freed with the configuration: on reload, once the old cycle ends */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        sp_ctx_unref(conf->ctx);
        return NGX_ERROR;
    }

    cln->handler = ngx_stream_securepair_cleanup_ctx;
    cln->data = conf->ctx;

    sp_ctx_set_request_cert(conf->ctx, (int) conf->request_cert);
    sp_ctx_set_reject_unauthorized(conf->ctx, (int) conf->reject_unauthorized);
    sp_ctx_set_reject_unknown_name(conf->ctx,
                                   (int) conf->reject_unknown_servername);
    sp_ctx_set_max_connections(conf->ctx, (unsigned) conf->max_connections);
    sp_ctx_set_clock(conf->ctx, ngx_stream_securepair_clock, NULL);

    if (conf->reneg_window <= 0
        || sp_ctx_set_reneg_limit(conf->ctx, (unsigned) conf->reneg_limit,
                                  conf->reneg_window)
           != SP_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"securepair_reneg_window\" must be positive "
                      "for the server in %s:%ui", conf->file, conf->line);
        return NGX_ERROR;
    }

    if (conf->npn_protocols) {
        names = ngx_stream_securepair_names(cf, conf->npn_protocols);

        if (names == NULL
            || sp_ctx_set_npn(conf->ctx, names, conf->npn_protocols->nelts)
               != SP_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "securepair: NPN protocols: %s in %s:%ui",
                          sp_ctx_error(conf->ctx), conf->file, conf->line);
            return NGX_ERROR;
        }
    }

    if (conf->alpn_protocols) {
        names = ngx_stream_securepair_names(cf, conf->alpn_protocols);

        if (names == NULL
            || sp_ctx_set_alpn(conf->ctx, names, conf->alpn_protocols->nelts)
               != SP_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "securepair: ALPN protocols: %s in %s:%ui",
                          sp_ctx_error(conf->ctx), conf->file, conf->line);
            return NGX_ERROR;
        }
    }

    if (ngx_stream_securepair_sessions(cf, conf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_stream_securepair_add_contexts(cf, conf, passphrases);
}


static ngx_int_t
ngx_stream_securepair_sessions(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf)
{
    char                          *path;
    ngx_uint_t                     i;
    sp_session_store               store;
    ngx_stream_securepair_file_t  *key;

    if (conf->session_cache == SP_SESSION_CACHE_STORE) {
        ngx_stream_securepair_cache_store(conf->session_zone, &store);
        sp_ctx_set_session_cache(conf->ctx, SP_SESSION_CACHE_STORE, &store);

    } else {
        sp_ctx_set_session_cache(conf->ctx, (int) conf->session_cache, NULL);
    }

    if (conf->session_timeout <= 0
        || sp_ctx_set_session_timeout(conf->ctx, conf->session_timeout)
           != SP_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"securepair_session_timeout\" must be positive "
                      "for the server in %s:%ui", conf->file, conf->line);
        return NGX_ERROR;
    }

    sp_ctx_set_session_tickets(conf->ctx, (int) conf->session_tickets);
    sp_ctx_set_ticket_count(conf->ctx,
                            (unsigned) conf->session_ticket_count);

    if (conf->session_ticket_keys == NULL) {
        return NGX_OK;
    }

    key = conf->session_ticket_keys->elts;

    for (i = 0; i < conf->session_ticket_keys->nelts; i++) {
        path = ngx_stream_securepair_path(cf, &key[i].name);
        if (path == NULL) {
            return NGX_ERROR;
        }

        if (sp_ctx_add_ticket_key_file(conf->ctx, path) != SP_OK) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "securepair: %s in %s:%ui",
                          sp_ctx_error(conf->ctx), key[i].file, key[i].line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* The runtime has no clock of its own: nginx's cached time is ours. */
static time_t
ngx_stream_securepair_clock(void *arg)
{
    return ngx_time();
}


static void
ngx_stream_securepair_cleanup_ctx(void *data)
{
    sp_ctx_unref(data);
}
