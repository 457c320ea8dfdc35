
/*
 * ngx_stream_securepair_module: directives and configuration.
 *
 * Directives become a securepair runtime context (sp_ctx) per server that
 * says `securepair on`; the handshake and the I/O live in
 * ngx_stream_securepair_handler.c and ngx_stream_securepair_io.c.
 */


#include "ngx_stream_securepair_module.h"


static void *ngx_stream_securepair_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_securepair_merge_srv_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_stream_securepair_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_stream_securepair_postconfiguration(ngx_conf_t *cf);

static char *ngx_stream_securepair_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_stream_securepair_context(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_stream_securepair_protocol_names(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_stream_securepair_files(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_stream_securepair_password_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_stream_securepair_session_id_context(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

static ngx_int_t ngx_stream_securepair_build(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf);
static ngx_int_t ngx_stream_securepair_sessions(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf);
static time_t ngx_stream_securepair_clock(void *arg);
static void ngx_stream_securepair_cleanup_ctx(void *data);


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

    { ngx_string("securepair_protocols"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
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
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
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

    { ngx_string("securepair_max_connections"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_securepair_srv_conf_t, max_connections),
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
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


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
     *     conf->file = NULL;
     *     conf->line = 0;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->certificates = NGX_CONF_UNSET_PTR;
    conf->certificate_keys = NGX_CONF_UNSET_PTR;
    conf->password_file = NGX_CONF_UNSET_PTR;
    conf->ca = NGX_CONF_UNSET_PTR;
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
    conf->session_cache = NGX_CONF_UNSET;
    conf->session_zone = NGX_CONF_UNSET_PTR;
    conf->session_timeout = NGX_CONF_UNSET;
    conf->session_tickets = NGX_CONF_UNSET;
    conf->session_ticket_keys = NGX_CONF_UNSET_PTR;
    conf->session_ticket_count = NGX_CONF_UNSET;

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
    ngx_conf_merge_value(conf->session_cache, prev->session_cache,
                         SP_SESSION_CACHE_NONE);
    ngx_conf_merge_ptr_value(conf->session_zone, prev->session_zone, NULL);
    ngx_conf_merge_sec_value(conf->session_timeout, prev->session_timeout,
                             300);
    ngx_conf_merge_value(conf->session_tickets, prev->session_tickets, 1);
    ngx_conf_merge_ptr_value(conf->session_ticket_keys,
                             prev->session_ticket_keys, NULL);
    ngx_conf_merge_value(conf->session_ticket_count,
                         prev->session_ticket_count, 1);

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


/* NPN and ALPN names: 1 to 255 bytes each, as the wire format allows. */
static char *
ngx_stream_securepair_protocol_names(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *name;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    *a = ngx_array_create(cf->pool, cf->args->nelts - 1, sizeof(ngx_str_t));
    if (*a == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0 || value[i].len > 255) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid protocol name \"%V\" in \"%V\": "
                               "must be 1 to 255 bytes",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(*a);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * Files keep the place they were named, so that a file that fails to load
 * at merge time is reported with its own line.  cmd->post set: the
 * directive may repeat (certificates and keys, paired by order).
 */
static char *
ngx_stream_securepair_files(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                     *value;
    ngx_array_t                  **a;
    ngx_stream_securepair_file_t  *f;

    a = (ngx_array_t **) (p + cmd->offset);
    value = cf->args->elts;

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 2,
                              sizeof(ngx_stream_securepair_file_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }

    } else if (cmd->post == NULL) {
        return "is duplicate";
    }

    if (value[1].len == 0) {
        return "needs a file name";
    }

    f = ngx_array_push(*a);
    if (f == NULL) {
        return NGX_CONF_ERROR;
    }

    f->name = value[1];
    f->file = cf->conf_file->file.name.data;
    f->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * A secret everyone may read is no secret: warn once, where the file is
 * named, however many servers and contexts then use it.
 */
static char *
ngx_stream_securepair_password_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char             *rv;
    ngx_str_t         name;
    ngx_file_info_t   fi;

    rv = ngx_stream_securepair_files(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    name = ((ngx_str_t *) cf->args->elts)[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(name.data, &fi) != NGX_FILE_ERROR
        && (fi.st_mode & S_IROTH))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "securepair: password file \"%s\" is readable "
                           "by everyone (chmod o-r)", name.data);
    }

    return NGX_CONF_OK;
}


/* Node's sessionIdContext: at most 32 bytes, said where it is given. */
static char *
ngx_stream_securepair_session_id_context(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 32) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be 1 to 32 bytes, not %uz",
                           &cmd->name, value[1].len);
        return NGX_CONF_ERROR;
    }

    return ngx_conf_set_str_slot(cf, cmd, conf);
}


static ngx_int_t
ngx_stream_securepair_parse_flag(ngx_conf_t *cf, ngx_str_t *value,
    size_t prefix, ngx_int_t *flag)
{
    ngx_str_t  v;

    v.data = value->data + prefix;
    v.len = value->len - prefix;

    if (v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0) {
        *flag = 1;
        return NGX_OK;
    }

    if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
        *flag = 0;
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\": expected \"on\" or \"off\"",
                       value);
    return NGX_ERROR;
}


/*
 * securepair_context name certificate key [ca=file] [request_cert=on|off]
 *     [reject_unauthorized=on|off];
 * The name itself is checked when the runtime context is built, where the
 * SNI table knows all names and can refuse duplicates.
 */
static char *
ngx_stream_securepair_context(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_securepair_srv_conf_t  *spcf = conf;

    ngx_str_t                        *value;
    ngx_uint_t                        i;
    ngx_stream_securepair_context_t  *sc;

    value = cf->args->elts;

    if (cf->args->nelts < 4) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"securepair_context\" needs a name, "
                           "a certificate and a key");
        return NGX_CONF_ERROR;
    }

    if (spcf->contexts == NGX_CONF_UNSET_PTR) {
        spcf->contexts = ngx_array_create(cf->pool, 4,
                                   sizeof(ngx_stream_securepair_context_t));
        if (spcf->contexts == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    sc = ngx_array_push(spcf->contexts);
    if (sc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(sc, sizeof(ngx_stream_securepair_context_t));

    sc->name = value[1];
    sc->certificate = value[2];
    sc->certificate_key = value[3];
    sc->ca.file = cf->conf_file->file.name.data;
    sc->ca.line = cf->conf_file->line;
    sc->request_cert = -1;
    sc->reject_unauthorized = -1;
    sc->file = cf->conf_file->file.name.data;
    sc->line = cf->conf_file->line;

    for (i = 4; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "ca=", 3) == 0) {
            sc->ca.name.data = value[i].data + 3;
            sc->ca.name.len = value[i].len - 3;

            if (sc->ca.name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty \"ca=\" in \"securepair_context\"");
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "request_cert=", 13) == 0) {
            if (ngx_stream_securepair_parse_flag(cf, &value[i], 13,
                                                 &sc->request_cert)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "reject_unauthorized=", 20) == 0) {
            if (ngx_stream_securepair_parse_flag(cf, &value[i], 20,
                                                 &sc->reject_unauthorized)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in "
                           "\"securepair_context\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* ---- building the runtime context ------------------------------------ */


/* The runtime speaks C strings. */
static char *
ngx_stream_securepair_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
}


/* A configured path as a NUL-terminated full name (relative to prefix). */
static char *
ngx_stream_securepair_path(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_str_t  full;

    full = *name;

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NULL;
    }

    return ngx_stream_securepair_cstr(cf->pool, &full);
}


static ngx_int_t
ngx_stream_securepair_creds_error(ngx_conf_t *cf, sp_creds *creds,
    u_char *file, ngx_uint_t line)
{
    ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "securepair: %s in %s:%ui",
                  sp_creds_error(creds), file, line);
    return NGX_ERROR;
}


/*
 * One key/certificate pair.  The runtime's message starts with the file it
 * is about, which tells whose line to name.
 */
static ngx_int_t
ngx_stream_securepair_add_pair(ngx_conf_t *cf, sp_creds *creds,
    ngx_str_t *cert_name, u_char *cert_file, ngx_uint_t cert_line,
    ngx_str_t *key_name, u_char *key_file, ngx_uint_t key_line)
{
    char  *cert, *key;

    cert = ngx_stream_securepair_path(cf, cert_name);
    key = ngx_stream_securepair_path(cf, key_name);

    if (cert == NULL || key == NULL) {
        return NGX_ERROR;
    }

    if (sp_creds_add_key_cert_file(creds, key, cert) == SP_OK) {
        return NGX_OK;
    }

    if (ngx_strncmp(sp_creds_error(creds), key, ngx_strlen(key)) == 0) {
        return ngx_stream_securepair_creds_error(cf, creds, key_file,
                                                 key_line);
    }

    return ngx_stream_securepair_creds_error(cf, creds, cert_file, cert_line);
}


/* The CA and the settings every credentials of a server share. */
static ngx_int_t
ngx_stream_securepair_settings(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, sp_creds *creds,
    ngx_stream_securepair_file_t *ca)
{
    int    min, max;
    char  *path;

    if (ca != NULL && ca->name.len) {
        path = ngx_stream_securepair_path(cf, &ca->name);
        if (path == NULL) {
            return NGX_ERROR;
        }

        if (sp_creds_add_ca_file(creds, path) != SP_OK) {
            return ngx_stream_securepair_creds_error(cf, creds, ca->file,
                                                     ca->line);
        }
    }

    if (conf->ciphers.len
        && sp_creds_set_ciphers(creds, (char *) conf->ciphers.data) != SP_OK)
    {
        return ngx_stream_securepair_creds_error(cf, creds, conf->file,
                                                 conf->line);
    }

    /* the runtime takes a range: from the oldest to the newest named */
    min = 0;
    max = 0;

    if (conf->protocols & NGX_STREAM_SECUREPAIR_TLS1_3) {
        max = SP_TLS1_3;
        min = SP_TLS1_3;
    }

    if (conf->protocols & NGX_STREAM_SECUREPAIR_TLS1_2) {
        max = max ? max : SP_TLS1_2;
        min = SP_TLS1_2;
    }

    if (conf->protocols & NGX_STREAM_SECUREPAIR_TLS1_1) {
        max = max ? max : SP_TLS1_1;
        min = SP_TLS1_1;
    }

    if (conf->protocols & NGX_STREAM_SECUREPAIR_TLS1) {
        max = max ? max : SP_TLS1;
        min = SP_TLS1;
    }

    if (sp_creds_set_versions(creds, min, max) != SP_OK) {
        return ngx_stream_securepair_creds_error(cf, creds, conf->file,
                                                 conf->line);
    }

    if (conf->session_id_context.len
        && sp_creds_set_session_id_context(creds,
                                           conf->session_id_context.data,
                                           conf->session_id_context.len)
           != SP_OK)
    {
        return ngx_stream_securepair_creds_error(cf, creds, conf->file,
                                                 conf->line);
    }

    return NGX_OK;
}


/* Wipes the passphrases read for the runtime. */
static void
ngx_stream_securepair_passphrases_cleanup(void *data)
{
    ngx_array_t  *list = data;

    ngx_uint_t    i;
    const char  **p;

    p = list->elts;

    for (i = 0; i < list->nelts; i++) {
        ngx_explicit_memzero((void *) p[i], ngx_strlen(p[i]));
    }
}


/*
 * The passphrases of securepair_password_file as the runtime takes them,
 * read once for the server and each of its contexts (NULL: no file).
 * They live in the temporary pool, wiped when it goes, as nginx wipes
 * its own copy.
 */
static ngx_int_t
ngx_stream_securepair_passphrases(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t **out)
{
    ngx_fd_t                       fd;
    ngx_err_t                      err;
    ngx_str_t                     *pwd, name;
    ngx_uint_t                     i;
    ngx_array_t                   *passwords, *list;
    const char                   **p;
    ngx_pool_cleanup_t            *cln;
    ngx_stream_securepair_file_t  *f;

    *out = NULL;

    if (conf->password_file == NULL) {
        return NGX_OK;
    }

    f = conf->password_file->elts;
    name = f->name;

    /*
     * nginx's reader names the line it is at, the end of the server
     * block by now: say first, with the directive's own line, why the
     * file cannot be used.
     */
    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "securepair: cannot use password file \"%s\" (%s) "
                      "in %s:%ui", name.data, strerror(err), f->file,
                      f->line);
        return NGX_ERROR;
    }

    ngx_close_file(fd);

    passwords = ngx_ssl_read_password_file(cf, &name);
    if (passwords == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "securepair: cannot use password file \"%V\" in %s:%ui",
                      &f->name, f->file, f->line);
        return NGX_ERROR;
    }

    list = ngx_array_create(cf->temp_pool, passwords->nelts,
                            sizeof(const char *));
    if (list == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->temp_pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_stream_securepair_passphrases_cleanup;
    cln->data = list;

    pwd = passwords->elts;

    for (i = 0; i < passwords->nelts; i++) {
        p = ngx_array_push(list);
        if (p == NULL) {
            return NGX_ERROR;
        }

        *p = ngx_stream_securepair_cstr(cf->temp_pool, &pwd[i]);
        if (*p == NULL) {
            list->nelts--;
            return NGX_ERROR;
        }
    }

    *out = list;

    return NGX_OK;
}


/* The runtime keeps a copy of its own. */
static ngx_int_t
ngx_stream_securepair_set_passphrases(sp_creds *creds, ngx_array_t *list)
{
    if (list == NULL) {
        return NGX_OK;
    }

    if (sp_creds_set_passphrases(creds, list->elts, list->nelts) != SP_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Contexts that name the same certificate, key and CA files with the same
 * verification settings share one set of credentials, added under each
 * name.  The runtime already shares parsed keys and certificates by
 * content, and the rest of a context's credentials (the server's ciphers,
 * versions, passphrases and session id context) is the same for all the
 * contexts of a server: a copy per name only cost memory and load time,
 * and spread what a handshake reads after the lookup over the whole table.
 */
typedef struct {
    ngx_str_node_t                    sn;    /* the files and settings */
    sp_creds                         *creds; /* held by the SNI table */
} ngx_stream_securepair_shared_creds_t;


static ngx_int_t
ngx_stream_securepair_context_key(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf,
    ngx_stream_securepair_context_t *sc, ngx_str_t *key)
{
    u_char                        *p;
    ngx_str_t                     *ca;
    ngx_stream_securepair_file_t  *dflt;

    if (sc->ca.name.len) {
        ca = &sc->ca.name;

    } else if (conf->ca) {
        dflt = conf->ca->elts;
        ca = &dflt->name;

    } else {
        ca = NULL;
    }

    key->len = sc->certificate.len + 1 + sc->certificate_key.len + 1
               + (ca ? ca->len : 0) + 1 + 2 * NGX_INT_T_LEN + 1;

    key->data = ngx_pnalloc(cf->temp_pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    /* NUL cannot be in a directive's argument: the fields stay apart */
    p = ngx_sprintf(key->data, "%V%Z%V%Z", &sc->certificate,
                    &sc->certificate_key);

    if (ca) {
        p = ngx_cpymem(p, ca->data, ca->len);
    }

    p = ngx_sprintf(p, "%Z%i %i", sc->request_cert, sc->reject_unauthorized);
    key->len = p - key->data;

    return NGX_OK;
}


static ngx_int_t
ngx_stream_securepair_add_contexts(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t *passphrases)
{
    char                                  *name;
    uint32_t                               hash;
    ngx_int_t                              rc;
    ngx_str_t                              key;
    ngx_uint_t                             i;
    sp_creds                              *creds;
    ngx_rbtree_t                           shared;
    ngx_rbtree_node_t                      sentinel;
    ngx_stream_securepair_context_t       *sc;
    ngx_stream_securepair_shared_creds_t  *sh;

    if (conf->contexts == NULL) {
        return NGX_OK;
    }

    ngx_rbtree_init(&shared, &sentinel, ngx_str_rbtree_insert_value);

    sc = conf->contexts->elts;

    for (i = 0; i < conf->contexts->nelts; i++) {

        if (ngx_stream_securepair_context_key(cf, conf, &sc[i], &key)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        hash = ngx_crc32_long(key.data, key.len);
        sh = (ngx_stream_securepair_shared_creds_t *)
                 ngx_str_rbtree_lookup(&shared, &key, hash);

        if (sh != NULL) {
            creds = sh->creds;
            sp_creds_ref(creds);
            rc = NGX_OK;

        } else {
            creds = sp_creds_new();
            if (creds == NULL) {
                return NGX_ERROR;
            }

            rc = ngx_stream_securepair_set_passphrases(creds, passphrases);

            if (rc == NGX_OK) {
                rc = ngx_stream_securepair_add_pair(cf, creds,
                                                    &sc[i].certificate,
                                                    sc[i].file, sc[i].line,
                                                    &sc[i].certificate_key,
                                                    sc[i].file, sc[i].line);
            }

            /* the key is in: its passphrases are of no more use */
            sp_creds_wipe_passphrases(creds);

            if (rc == NGX_OK) {
                rc = ngx_stream_securepair_settings(cf, conf, creds,
                         sc[i].ca.name.len ? &sc[i].ca
                         : (conf->ca ? conf->ca->elts : NULL));
            }

            if (rc == NGX_OK) {
                sp_creds_set_request_cert(creds, (int) sc[i].request_cert);
                sp_creds_set_reject_unauthorized(creds,
                                             (int) sc[i].reject_unauthorized);
            }
        }

        if (rc == NGX_OK) {
            name = ngx_stream_securepair_cstr(cf->temp_pool, &sc[i].name);

            if (name == NULL
                || sp_ctx_add_context(conf->ctx, name, creds) != SP_OK)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "securepair: %s in %s:%ui",
                              sp_ctx_error(conf->ctx), sc[i].file,
                              sc[i].line);
                rc = NGX_ERROR;
            }
        }

        if (rc == NGX_OK && sh == NULL) {
            sh = ngx_palloc(cf->temp_pool,
                            sizeof(ngx_stream_securepair_shared_creds_t));
            if (sh == NULL) {
                rc = NGX_ERROR;

            } else {
                sh->sn.node.key = hash;
                sh->sn.str = key;
                sh->creds = creds;
                ngx_rbtree_insert(&shared, &sh->sn.node);
            }
        }

        sp_creds_unref(creds);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


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


/* The server's own credentials; the passphrases are read for its
   contexts as well. */
static ngx_int_t
ngx_stream_securepair_default_creds(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, sp_creds *creds,
    ngx_array_t **passphrases)
{
    ngx_uint_t                     i, n;
    ngx_stream_securepair_file_t  *cert, *key;

    if (conf->certificates == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no \"securepair_certificate\" is defined for "
                      "the server with \"securepair on\" in %s:%ui",
                      conf->file, conf->line);
        return NGX_ERROR;
    }

    cert = conf->certificates->elts;
    n = conf->certificates->nelts;

    if (conf->certificate_keys == NULL
        || conf->certificate_keys->nelts < n)
    {
        i = conf->certificate_keys ? conf->certificate_keys->nelts : 0;

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no \"securepair_certificate_key\" is defined for "
                      "certificate \"%V\" in %s:%ui",
                      &cert[i].name, cert[i].file, cert[i].line);
        return NGX_ERROR;
    }

    key = conf->certificate_keys->elts;

    if (conf->certificate_keys->nelts > n) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"securepair_certificate_key\" \"%V\" has no "
                      "\"securepair_certificate\" in %s:%ui",
                      &key[n].name, key[n].file, key[n].line);
        return NGX_ERROR;
    }

    if (ngx_stream_securepair_passphrases(cf, conf, passphrases) != NGX_OK
        || ngx_stream_securepair_set_passphrases(creds, *passphrases)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (ngx_stream_securepair_add_pair(cf, creds, &cert[i].name,
                                           cert[i].file, cert[i].line,
                                           &key[i].name, key[i].file,
                                           key[i].line)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /*
     * The keys are in: the runtime's copy of the passphrases is wiped, as
     * the module's own is with the temporary pool.
     */
    sp_creds_wipe_passphrases(creds);

    return ngx_stream_securepair_settings(cf, conf, creds,
                                          conf->ca ? conf->ca->elts : NULL);
}


static ngx_int_t
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
