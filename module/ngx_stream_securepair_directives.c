
/*
 * ngx_stream_securepair_module: the directives with a syntax of their own
 * (file lists that keep where each file was named, protocol names, SNI
 * contexts), checked where they are written.
 */


#include "ngx_stream_securepair_module.h"


/* NPN and ALPN names: 1 to 255 bytes each, as the wire format allows. */
char *
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
 * at merge time is reported with its own line; so do values that the
 * runtime checks at merge time (curves, SSL_CONF commands: a name and a
 * value).  cmd->post set: the directive may repeat (certificates and
 * keys, paired by order).
 */
char *
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
        return "has an empty argument";
    }

    f = ngx_array_push(*a);
    if (f == NULL) {
        return NGX_CONF_ERROR;
    }

    f->name = value[1];
    f->value = cf->args->nelts > 2 ? value[2] : value[1];
    f->file = cf->conf_file->file.name.data;
    f->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * A secret everyone may read is no secret: warn once, where the file is
 * named, however many servers and contexts then use it.
 */
char *
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
char *
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


/* securepair_context's optional parameters: what each is, where it goes. */
typedef struct {
    ngx_str_t                  prefix;
    ngx_uint_t                 type;
    size_t                     offset;
} ngx_stream_securepair_param_t;

#define NGX_STREAM_SECUREPAIR_PARAM_FILE  0
#define NGX_STREAM_SECUREPAIR_PARAM_FLAG  1
#define NGX_STREAM_SECUREPAIR_PARAM_NUM   2

#define ngx_stream_securepair_param(prefix, type, field)                     \
    { ngx_string(prefix), NGX_STREAM_SECUREPAIR_PARAM_##type,                 \
      offsetof(ngx_stream_securepair_context_t, field) }

static ngx_stream_securepair_param_t  ngx_stream_securepair_params[] = {
    ngx_stream_securepair_param("ca=", FILE, ca),
    ngx_stream_securepair_param("trusted=", FILE, trusted),
    ngx_stream_securepair_param("crl=", FILE, crl),
    ngx_stream_securepair_param("request_cert=", FLAG, request_cert),
    ngx_stream_securepair_param("reject_unauthorized=", FLAG,
                                reject_unauthorized),
    ngx_stream_securepair_param("verify_depth=", NUM, verify_depth),
    { ngx_null_string, 0, 0 }
};


/* One of securepair_context's optional parameters. */
static ngx_int_t
ngx_stream_securepair_context_param(ngx_conf_t *cf,
    ngx_stream_securepair_context_t *sc, ngx_str_t *value)
{
    u_char                         *field;
    ngx_str_t                       v;
    ngx_stream_securepair_param_t  *p;
    ngx_stream_securepair_file_t   *f;

    for (p = ngx_stream_securepair_params; p->prefix.len; p++) {
        if (value->len >= p->prefix.len
            && ngx_strncmp(value->data, p->prefix.data, p->prefix.len) == 0)
        {
            break;
        }
    }

    if (p->prefix.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in "
                           "\"securepair_context\"", value);
        return NGX_ERROR;
    }

    field = (u_char *) sc + p->offset;
    v.data = value->data + p->prefix.len;
    v.len = value->len - p->prefix.len;

    switch (p->type) {

    case NGX_STREAM_SECUREPAIR_PARAM_FLAG:
        return ngx_stream_securepair_parse_flag(cf, value, p->prefix.len,
                                                (ngx_int_t *) field);

    case NGX_STREAM_SECUREPAIR_PARAM_NUM:
        *(ngx_int_t *) field = ngx_atoi(v.data, v.len);

        if (*(ngx_int_t *) field == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid number in \"%V\"", value);
            return NGX_ERROR;
        }

        return NGX_OK;

    default: /* NGX_STREAM_SECUREPAIR_PARAM_FILE */
        if (v.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty \"%V\" in \"securepair_context\"",
                               &p->prefix);
            return NGX_ERROR;
        }

        f = (ngx_stream_securepair_file_t *) field;
        f->name = v;
        f->value = v;
        return NGX_OK;
    }
}


/*
 * securepair_context name certificate key [ca=file] [trusted=file]
 *     [crl=file] [request_cert=on|off] [reject_unauthorized=on|off]
 *     [verify_depth=number];
 * The name itself is checked when the runtime context is built, where the
 * SNI table knows all names and can refuse duplicates.
 */
char *
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
    sc->trusted.file = sc->ca.file;
    sc->trusted.line = sc->ca.line;
    sc->crl.file = sc->ca.file;
    sc->crl.line = sc->ca.line;
    sc->request_cert = -1;
    sc->reject_unauthorized = -1;
    sc->verify_depth = -1;
    sc->file = cf->conf_file->file.name.data;
    sc->line = cf->conf_file->line;

    for (i = 4; i < cf->args->nelts; i++) {
        if (ngx_stream_securepair_context_param(cf, sc, &value[i])
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * securepair_protocols: the runtime serves a range of versions, from a
 * minimum to a maximum, so a list with a gap ("TLSv1 TLSv1.2") could only
 * become more than was named.  It is refused, naming what is missing.
 */
char *
ngx_stream_securepair_protocols_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    char                *rv;
    ngx_uint_t           i, first, last, mask;
    ngx_conf_bitmask_t  *names;

    rv = ngx_conf_set_bitmask_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    mask = *(ngx_uint_t *) (p + cmd->offset);
    names = cmd->post;

    /* the table lists the versions from the oldest to the newest */
    first = 0;
    last = 0;

    for (i = 0; names[i].name.len; i++) {
        if (mask & names[i].mask) {
            first = first ? first : i + 1;
            last = i + 1;
        }
    }

    for (i = first; first && i < last - 1; i++) {
        if (!(mask & names[i].mask)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" names %V and %V but not %V: "
                               "securepair serves a range of versions "
                               "without gaps", &cmd->name,
                               &names[first - 1].name, &names[last - 1].name,
                               &names[i].name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}
