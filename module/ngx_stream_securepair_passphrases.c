
/*
 * ngx_stream_securepair_module: the passphrases of securepair_password_file,
 * read once for a server and its SNI contexts, given to the runtime and
 * wiped once the keys are in.
 */


#include "ngx_stream_securepair_module.h"


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
 * nginx's passwords as the C strings the runtime takes, in the temporary
 * pool, wiped when it goes.
 */
static ngx_array_t *
ngx_stream_securepair_passphrase_list(ngx_conf_t *cf, ngx_array_t *passwords)
{
    ngx_str_t     *pwd;
    ngx_uint_t     i;
    ngx_array_t   *list;
    const char   **p;

    list = ngx_array_create(cf->temp_pool, passwords->nelts,
                            sizeof(const char *));
    if (list == NULL) {
        return NULL;
    }

    if (ngx_stream_securepair_add_cleanup(cf->temp_pool,
                                      ngx_stream_securepair_passphrases_cleanup,
                                      list)
        != NGX_OK)
    {
        return NULL;
    }

    pwd = passwords->elts;

    for (i = 0; i < passwords->nelts; i++) {
        p = ngx_array_push(list);
        if (p == NULL) {
            return NULL;
        }

        *p = ngx_stream_securepair_cstr(cf->temp_pool, &pwd[i]);
        if (*p == NULL) {
            list->nelts--;
            return NULL;
        }
    }

    return list;
}


/*
 * The passphrases of securepair_password_file as the runtime takes them,
 * read once for the server and each of its contexts (NULL: no file).
 * They live in the temporary pool, wiped when it goes, as nginx wipes
 * its own copy.
 */
ngx_int_t
ngx_stream_securepair_passphrases(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t **out)
{
    ngx_fd_t                       fd;
    ngx_err_t                      err;
    ngx_str_t                      name;
    ngx_array_t                   *passwords;
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

    *out = ngx_stream_securepair_passphrase_list(cf, passwords);

    return *out ? NGX_OK : NGX_ERROR;
}


/* The runtime keeps a copy of its own. */
ngx_int_t
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
