
/*
 * ngx_stream_securepair_module: configured values as the runtime takes
 * them (C strings, full path names), and the runtime's errors as
 * `nginx -t` lines that name the file and line of the directive.
 */


#include "ngx_stream_securepair_module.h"


char *
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
char *
ngx_stream_securepair_path(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_str_t  full;

    full = *name;

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NULL;
    }

    return ngx_stream_securepair_cstr(cf->pool, &full);
}


/*
 * A runtime error as an `nginx -t` line: the file it is about, why, and
 * the line of the directive that named it.
 */
ngx_int_t
ngx_stream_securepair_error(ngx_conf_t *cf, const sp_error *err,
    u_char *file, ngx_uint_t line)
{
    if (err->origin != NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "securepair: %s: %s in %s:%ui", err->origin,
                      err->reason, file, line);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "securepair: %s in %s:%ui",
                      err->reason, file, line);
    }

    return NGX_ERROR;
}


/* The error that credentials keep, said with the line that named them. */
ngx_int_t
ngx_stream_securepair_creds_error(ngx_conf_t *cf, sp_creds *creds,
    u_char *file, ngx_uint_t line)
{
    return ngx_stream_securepair_error(cf, sp_creds_error_info(creds), file,
                                       line);
}
