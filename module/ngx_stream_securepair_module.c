
/*
 * ngx_stream_securepair_module: the module, its directives and the
 * server configuration.
 *
 * Directives become a securepair runtime context (sp_ctx) per server that
 * says `securepair on`: the directives with a syntax of their own are
 * read in ngx_stream_securepair_directives.c, the credentials are built
 * in ngx_stream_securepair_creds.c and the context in
 * ngx_stream_securepair_context.c; the handshake and the I/O live in
 * ngx_stream_securepair_handler.c and ngx_stream_securepair_io.c.
 */


#include "ngx_stream_securepair_module.h"


static void *ngx_stream_securepair_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_securepair_merge_srv_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_stream_securepair_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_stream_securepair_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_stream_securepair_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_stream_securepair_init_process(ngx_cycle_t *cycle);
static void ngx_stream_securepair_exit_process(ngx_cycle_t *cycle);

static char *ngx_stream_securepair_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_bitmask_t  ngx_stream_securepair_protocols[] = {
    { ngx_string("TLSv1"), NGX_STREAM_SECUREPAIR_TLS1 },
    { ngx_string("TLSv1.1"), NGX_STREAM_SECUREPAIR_TLS1_1 },
    { ngx_string("TLSv1.2"), NGX_STREAM_SECUREPAIR_TLS1_2 },
    { ngx_string("TLSv1.3"), NGX_STREAM_SECUREPAIR_TLS1_3 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_stream_securepair_commands[] = {

    { ngx_string("securepair"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_stream_securepair_enable,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, enable),
      NULL },

    { ngx_string("securepair_certificate"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, certificates),
      (void *) 1 },

    { ngx_string("securepair_certificate_key"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, certificate_keys),
      (void *) 1 },

    { ngx_string("securepair_certificate_cache"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE123,
      ngx_stream_securepair_certificate_cache,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("securepair_password_file"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_password_file,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, password_file),
      NULL },

    { ngx_string("securepair_ca"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, ca),
      NULL },

    { ngx_string("securepair_trusted_certificate"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, trusted),
      NULL },

    { ngx_string("securepair_crl"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, crl),
      NULL },

    { ngx_string("securepair_verify_depth"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, verify_depth),
      NULL },

    { ngx_string("securepair_request_cert"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, request_cert),
      NULL },

    { ngx_string("securepair_reject_unauthorized"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, reject_unauthorized),
      NULL },

    { ngx_string("securepair_ciphers"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, ciphers),
      NULL },

    { ngx_string("securepair_ecdh_curve"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, ecdh_curve),
      NULL },

    { ngx_string("securepair_dhparam"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, dhparam),
      NULL },

    { ngx_string("securepair_prefer_server_ciphers"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, prefer_server_ciphers),
      NULL },

    { ngx_string("securepair_conf_command"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE2,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, conf_commands),
      (void *) 1 },

    { ngx_string("securepair_protocols"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_1MORE,
      ngx_stream_securepair_protocols_set,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, protocols),
      &ngx_stream_securepair_protocols },

    { ngx_string("securepair_npn_protocols"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_1MORE,
      ngx_stream_securepair_protocol_names,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, npn_protocols),
      NULL },

    { ngx_string("securepair_alpn_protocols"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_1MORE,
      ngx_stream_securepair_protocol_names,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, alpn_protocols),
      NULL },

    { ngx_string("securepair_context"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_2MORE,
      ngx_stream_securepair_context,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("securepair_reject_unknown_servername"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, reject_unknown_servername),
      NULL },

    { ngx_string("securepair_reneg_limit"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, reneg_limit),
      NULL },

    { ngx_string("securepair_reneg_window"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, reneg_window),
      NULL },

    { ngx_string("securepair_session_id_context"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_session_id_context,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, session_id_context),
      NULL },

    { ngx_string("securepair_session_cache"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_1MORE,
      ngx_stream_securepair_session_cache,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("securepair_session_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, session_timeout),
      NULL },

    { ngx_string("securepair_session_tickets"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, session_tickets),
      NULL },

    { ngx_string("securepair_session_ticket_key"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, session_ticket_keys),
      (void *) 1 },

    { ngx_string("securepair_session_ticket_count"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, session_ticket_count),
      NULL },

    { ngx_string("securepair_handshake_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, handshake_timeout),
      NULL },

    { ngx_string("securepair_proxy_protocol"),
      NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, proxy_protocol),
      NULL },

    { ngx_string("securepair_max_connections"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, max_connections),
      NULL },

    { ngx_string("securepair_keylog"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_securepair_files,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, keylog),
      NULL },

    { ngx_string("securepair_echo"),
      NGX_STREAM_SRV_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_stream_securepair_echo,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_securepair_module_ctx = {
    ngx_stream_securepair_preconfiguration, /* preconfiguration */
    ngx_stream_securepair_postconfiguration, /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_stream_securepair_create_srv_conf, /* create server configuration */
    ngx_stream_securepair_merge_srv_conf   /* merge server configuration */
};


ngx_module_t  ngx_stream_securepair_module = {
    NGX_MODULE_V1,
    &ngx_stream_securepair_module_ctx,     /* module context */
    ngx_stream_securepair_commands,        /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    ngx_stream_securepair_init_module,     /* init module */
    ngx_stream_securepair_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_stream_securepair_exit_process,    /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The worker process's own runtime state (sp_worker): its pair counts
 * and recycled buffers.  The contexts made at configuration time are
 * shared, read-only, by every worker process.
 */
sp_worker  *ngx_stream_securepair_worker;


/* the configuration is read and the phase engine built */
static ngx_int_t
ngx_stream_securepair_init_module(ngx_cycle_t *cycle)
{
    return ngx_stream_securepair_preread_init(cycle);
}


static ngx_int_t
ngx_stream_securepair_init_process(ngx_cycle_t *cycle)
{
    ngx_stream_securepair_worker = sp_worker_new();

    if (ngx_stream_securepair_worker == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "securepair: cannot create the worker state");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* pairs still open at exit keep it until the last of them is freed */
static void
ngx_stream_securepair_exit_process(ngx_cycle_t *cycle)
{
    ngx_stream_securepair_redis_exit();

    sp_worker_free(ngx_stream_securepair_worker);
    ngx_stream_securepair_worker = NULL;
}


static void *
ngx_stream_securepair_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_securepair_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_securepair_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->ciphers = { 0, NULL };
     *     conf->protocols = 0;
     *     conf->session_id_context = { 0, NULL };
     *     conf->ctx = NULL;
     *     conf->cert_names = NULL;
     *     conf->cert_model = NULL;
     *     conf->cert_cache = NULL;
     *     conf->file = NULL;
     *     conf->line = 0;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->certificates = NGX_CONF_UNSET_PTR;
    conf->certificate_keys = NGX_CONF_UNSET_PTR;
    conf->password_file = NGX_CONF_UNSET_PTR;
    conf->ca = NGX_CONF_UNSET_PTR;
    conf->trusted = NGX_CONF_UNSET_PTR;
    conf->crl = NGX_CONF_UNSET_PTR;
    conf->verify_depth = NGX_CONF_UNSET;
    conf->ecdh_curve = NGX_CONF_UNSET_PTR;
    conf->dhparam = NGX_CONF_UNSET_PTR;
    conf->prefer_server_ciphers = NGX_CONF_UNSET;
    conf->conf_commands = NGX_CONF_UNSET_PTR;
    conf->keylog = NGX_CONF_UNSET_PTR;
    conf->request_cert = NGX_CONF_UNSET;
    conf->reject_unauthorized = NGX_CONF_UNSET;
    conf->npn_protocols = NGX_CONF_UNSET_PTR;
    conf->alpn_protocols = NGX_CONF_UNSET_PTR;
    conf->contexts = NGX_CONF_UNSET_PTR;
    conf->reject_unknown_servername = NGX_CONF_UNSET;
    conf->reneg_limit = NGX_CONF_UNSET;
    conf->reneg_window = NGX_CONF_UNSET;
    conf->handshake_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_connections = NGX_CONF_UNSET;
    conf->proxy_protocol = NGX_CONF_UNSET;
    conf->session_cache = NGX_CONF_UNSET;
    conf->session_zone = NGX_CONF_UNSET_PTR;
    conf->session_redis = NGX_CONF_UNSET_PTR;
    conf->session_timeout = NGX_CONF_UNSET;
    conf->session_tickets = NGX_CONF_UNSET;
    conf->session_ticket_keys = NGX_CONF_UNSET_PTR;
    conf->session_ticket_count = NGX_CONF_UNSET;
    conf->cert_cache_max = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_stream_securepair_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_stream_securepair_srv_conf_t *prev = parent;
    ngx_stream_securepair_srv_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->file == NULL) {
        conf->file = prev->file;
        conf->line = prev->line;
    }

    ngx_conf_merge_ptr_value(conf->certificates, prev->certificates, NULL);
    ngx_conf_merge_ptr_value(conf->certificate_keys, prev->certificate_keys,
                             NULL);
    ngx_conf_merge_ptr_value(conf->password_file, prev->password_file, NULL);
    ngx_conf_merge_ptr_value(conf->ca, prev->ca, NULL);
    ngx_conf_merge_ptr_value(conf->trusted, prev->trusted, NULL);
    ngx_conf_merge_ptr_value(conf->crl, prev->crl, NULL);

    /* -1: OpenSSL's limit (100), which Node keeps */
    ngx_conf_merge_value(conf->verify_depth, prev->verify_depth, -1);
    ngx_conf_merge_ptr_value(conf->ecdh_curve, prev->ecdh_curve, NULL);
    ngx_conf_merge_ptr_value(conf->dhparam, prev->dhparam, NULL);
    ngx_conf_merge_value(conf->prefer_server_ciphers,
                         prev->prefer_server_ciphers, 0);
    ngx_conf_merge_ptr_value(conf->conf_commands, prev->conf_commands, NULL);
    ngx_conf_merge_ptr_value(conf->keylog, prev->keylog, NULL);
    ngx_conf_merge_value(conf->request_cert, prev->request_cert, 0);
    ngx_conf_merge_value(conf->reject_unauthorized,
                         prev->reject_unauthorized, 0);
    ngx_conf_merge_str_value(conf->ciphers, prev->ciphers, "");
    ngx_conf_merge_bitmask_value(conf->protocols, prev->protocols,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_STREAM_SECUREPAIR_TLS1_2
                                  |NGX_STREAM_SECUREPAIR_TLS1_3));
    ngx_conf_merge_ptr_value(conf->npn_protocols, prev->npn_protocols, NULL);
    ngx_conf_merge_ptr_value(conf->alpn_protocols, prev->alpn_protocols,
                             NULL);
    ngx_conf_merge_ptr_value(conf->contexts, prev->contexts, NULL);
    ngx_conf_merge_value(conf->reject_unknown_servername,
                         prev->reject_unknown_servername, 0);
    ngx_conf_merge_value(conf->reneg_limit, prev->reneg_limit, 3);
    ngx_conf_merge_sec_value(conf->reneg_window, prev->reneg_window, 600);
    ngx_conf_merge_str_value(conf->session_id_context,
                             prev->session_id_context, "");
    ngx_conf_merge_msec_value(conf->handshake_timeout,
                              prev->handshake_timeout, 60000);
    ngx_conf_merge_value(conf->max_connections, prev->max_connections, 0);
    ngx_conf_merge_value(conf->proxy_protocol, prev->proxy_protocol, 0);
    ngx_conf_merge_value(conf->session_cache, prev->session_cache,
                         SP_SESSION_CACHE_NONE);
    ngx_conf_merge_ptr_value(conf->session_zone, prev->session_zone, NULL);
    ngx_conf_merge_ptr_value(conf->session_redis, prev->session_redis, NULL);
    ngx_conf_merge_sec_value(conf->session_timeout, prev->session_timeout,
                             300);
    ngx_conf_merge_value(conf->session_tickets, prev->session_tickets, 1);
    ngx_conf_merge_ptr_value(conf->session_ticket_keys,
                             prev->session_ticket_keys, NULL);
    ngx_conf_merge_value(conf->session_ticket_count,
                         prev->session_ticket_count, 1);

    ngx_stream_securepair_certificate_cache_merge(prev, conf);

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (ngx_stream_securepair_build(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_stream_securepair_preconfiguration(ngx_conf_t *cf)
{
    return ngx_stream_securepair_add_variables(cf);
}


static ngx_int_t
ngx_stream_securepair_postconfiguration(ngx_conf_t *cf)
{
    ngx_stream_handler_pt        *h;
    ngx_stream_core_main_conf_t  *cmcf;

    cmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_STREAM_SSL_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_stream_securepair_handler;

    /* the last moment the socket is open: close_notify goes out here */
    h = ngx_array_push(&cmcf->phases[NGX_STREAM_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_stream_securepair_log_handler;

    return NGX_OK;
}


/* `securepair on` also remembers where it was said, for merge errors. */
static char *
ngx_stream_securepair_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_securepair_srv_conf_t  *spcf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    spcf->file = cf->conf_file->file.name.data;
    spcf->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * What the module allocates outside nginx's pools goes with a pool: the
 * configuration's, the temporary one, a connection's.
 */
ngx_int_t
ngx_stream_securepair_add_cleanup(ngx_pool_t *pool,
    ngx_pool_cleanup_pt handler, void *data)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = handler;
    cln->data = data;

    return NGX_OK;
}
