
/*
 * ngx_stream_securepair_module: the runtime context (sp_ctx) of a server
 * that says `securepair on`, with its credentials, settings, NPN/ALPN
 * lists, sessions and SNI contexts; freed with the configuration.
 */


#include "ngx_stream_securepair_module.h"


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


/* The server's policy and limits: a value the runtime refuses is said. */
static ngx_int_t
ngx_stream_securepair_settings_ctx(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf)
{
    sp_ctx  *ctx = conf->ctx;

    if (conf->reneg_window <= 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"securepair_reneg_window\" must be positive "
                      "for the server in %s:%ui", conf->file, conf->line);
        return NGX_ERROR;
    }

    sp_ctx_set_clock(ctx, ngx_stream_securepair_clock, NULL);

    /*
     * The client's name may choose another server on the same listen
     * (nginx >= 1.25.5), and then a certificate named by variables.
     */
#if !(NGX_STREAM_SECUREPAIR_SERVER_NAME)
    if (conf->cert_names != NULL)
#endif
    {
        if (sp_ctx_set_sni_callback(ctx, ngx_stream_securepair_servername,
                                    conf)
            != SP_OK)
        {
            return ngx_stream_securepair_error(cf, sp_ctx_error_info(ctx),
                                               conf->file, conf->line);
        }
    }

    if (sp_ctx_set_request_cert(ctx, (int) conf->request_cert) != SP_OK
        || sp_ctx_set_reject_unauthorized(ctx,
                                          (int) conf->reject_unauthorized)
           != SP_OK
        || sp_ctx_set_reject_unknown_name(ctx,
                                      (int) conf->reject_unknown_servername)
           != SP_OK
        || sp_ctx_set_max_connections(ctx, (unsigned) conf->max_connections)
           != SP_OK
        || sp_ctx_set_reneg_limit(ctx, (unsigned) conf->reneg_limit,
                                  conf->reneg_window)
           != SP_OK)
    {
        return ngx_stream_securepair_error(cf, sp_ctx_error_info(ctx),
                                           conf->file, conf->line);
    }

    return NGX_OK;
}


/* NPN and ALPN: the runtime checks the lists and says which name fails. */
static ngx_int_t
ngx_stream_securepair_protocol_lists(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf)
{
    int           rc;
    ngx_uint_t    i;
    ngx_array_t  *lists[2];
    const char  **names;

    lists[0] = conf->npn_protocols;
    lists[1] = conf->alpn_protocols;

    for (i = 0; i < 2; i++) {
        if (lists[i] == NULL) {
            continue;
        }

        names = ngx_stream_securepair_names(cf, lists[i]);
        if (names == NULL) {
            return NGX_ERROR;
        }

        rc = i == 0 ? sp_ctx_set_npn(conf->ctx, names, lists[i]->nelts)
                    : sp_ctx_set_alpn(conf->ctx, names, lists[i]->nelts);

        if (rc != SP_OK) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "securepair: %s protocols: %s in %s:%ui",
                          i == 0 ? "NPN" : "ALPN",
                          sp_ctx_error_info(conf->ctx)->reason, conf->file,
                          conf->line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_stream_securepair_sessions(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf)
{
    char                          *path;
    ngx_uint_t                     i;
    sp_session_store               store, *sp;
    ngx_stream_securepair_file_t  *key;

    sp = NULL;

    if (conf->session_cache == SP_SESSION_CACHE_STORE) {
        if (conf->session_redis) {
            ngx_stream_securepair_redis_store(conf->session_redis,
                                              conf->session_zone, &store);

        } else {
            ngx_stream_securepair_cache_store(conf->session_zone, &store);
        }

        sp = &store;
    }

    if (conf->session_timeout <= 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"securepair_session_timeout\" must be positive "
                      "for the server in %s:%ui", conf->file, conf->line);
        return NGX_ERROR;
    }

    if (sp_ctx_set_session_cache(conf->ctx,
                                 conf->session_redis
                                 && conf->session_cache
                                    == SP_SESSION_CACHE_STORE
                                 ? SP_SESSION_CACHE_ASYNC
                                 : (int) conf->session_cache, sp)
        != SP_OK
        || sp_ctx_set_session_timeout(conf->ctx, conf->session_timeout)
           != SP_OK
        || sp_ctx_set_session_tickets(conf->ctx, (int) conf->session_tickets)
           != SP_OK
        || sp_ctx_set_ticket_count(conf->ctx,
                                   (unsigned) conf->session_ticket_count)
           != SP_OK)
    {
        return ngx_stream_securepair_error(cf, sp_ctx_error_info(conf->ctx),
                                           conf->file, conf->line);
    }

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
            return ngx_stream_securepair_error(cf,
                                               sp_ctx_error_info(conf->ctx),
                                               key[i].file, key[i].line);
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_stream_securepair_build(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf)
{
    sp_creds     *creds;
    ngx_array_t  *passphrases;

    /* pairs with variables are not the default's */
    if (ngx_stream_securepair_cert_names(cf, conf) != NGX_OK) {
        return NGX_ERROR;
    }

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

    if (conf->ctx == NULL) {
        /* the credentials say why they cannot serve; else memory ran out */
        if (sp_creds_error_info(creds)->code != SP_OK) {
            (void) ngx_stream_securepair_creds_error(cf, creds, conf->file,
                                                     conf->line);
        }

        sp_creds_unref(creds);
        return NGX_ERROR;
    }

    sp_creds_unref(creds);

    /* freed with the configuration: on reload, once the old cycle ends */
    if (ngx_stream_securepair_add_cleanup(cf->pool,
                                          ngx_stream_securepair_cleanup_ctx,
                                          conf->ctx)
        != NGX_OK)
    {
        sp_ctx_unref(conf->ctx);
        return NGX_ERROR;
    }

    if (ngx_stream_securepair_settings_ctx(cf, conf) != NGX_OK
        || ngx_stream_securepair_protocol_lists(cf, conf) != NGX_OK
        || ngx_stream_securepair_sessions(cf, conf) != NGX_OK
        || ngx_stream_securepair_keylog(cf, conf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_stream_securepair_add_contexts(cf, conf, passphrases)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_stream_securepair_cert_names_init(cf, conf, passphrases);
}
