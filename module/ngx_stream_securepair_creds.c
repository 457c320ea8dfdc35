
/*
 * ngx_stream_securepair_module: the credentials of a server and of its SNI
 * contexts, loaded through the runtime, with errors that name the line
 * of the directive that named the file.
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


static ngx_int_t
ngx_stream_securepair_creds_error(ngx_conf_t *cf, sp_creds *creds,
    u_char *file, ngx_uint_t line)
{
    return ngx_stream_securepair_error(cf, sp_creds_error_info(creds), file,
                                       line);
}


/*
 * One key/certificate pair.  The runtime says which of the two failed:
 * its directive's line is the one to name.
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

    if (sp_creds_error_info(creds)->field == SP_FIELD_KEY) {
        return ngx_stream_securepair_creds_error(cf, creds, key_file,
                                                 key_line);
    }

    return ngx_stream_securepair_creds_error(cf, creds, cert_file, cert_line);
}


typedef int (*ngx_stream_securepair_set_pt)(sp_creds *creds,
    const char *arg);


/*
 * One file (or value) given to the runtime; what it refuses is said with
 * the line that named it.
 */
static ngx_int_t
ngx_stream_securepair_set(ngx_conf_t *cf, sp_creds *creds,
    ngx_stream_securepair_file_t *f, ngx_stream_securepair_set_pt set,
    ngx_uint_t is_path)
{
    char  *arg;

    if (f == NULL) {
        return NGX_OK;
    }

    arg = is_path ? ngx_stream_securepair_path(cf, &f->name)
                  : ngx_stream_securepair_cstr(cf->temp_pool, &f->name);
    if (arg == NULL) {
        return NGX_ERROR;
    }

    if (set(creds, arg) != SP_OK) {
        return ngx_stream_securepair_creds_error(cf, creds, f->file, f->line);
    }

    return NGX_OK;
}


static ngx_stream_securepair_file_t *
ngx_stream_securepair_one(ngx_array_t *a)
{
    return a ? a->elts : NULL;
}


/*
 * What verifies clients: the CAs announced (securepair_ca), those only
 * trusted, the CRLs, the depth.  A context with a ca= or trusted= of its
 * own trusts those alone, and only its own crl= checks them; otherwise it
 * takes the server's, its crl= (if any) in place of the server's.
 */
static ngx_int_t
ngx_stream_securepair_verification(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, sp_creds *creds,
    ngx_stream_securepair_context_t *sc)
{
    ngx_int_t                      depth;
    ngx_uint_t                     i;
    ngx_stream_securepair_file_t  *files[3];

    static ngx_stream_securepair_set_pt  add[3] = {
        sp_creds_add_ca_file,
        sp_creds_add_trusted_file,
        sp_creds_add_crl_file
    };

    files[0] = ngx_stream_securepair_one(conf->ca);
    files[1] = ngx_stream_securepair_one(conf->trusted);
    files[2] = ngx_stream_securepair_one(conf->crl);
    depth = conf->verify_depth;

    if (sc != NULL) {
        if (sc->ca.name.len || sc->trusted.name.len) {
            files[0] = sc->ca.name.len ? &sc->ca : NULL;
            files[1] = sc->trusted.name.len ? &sc->trusted : NULL;
            files[2] = NULL;
        }

        if (sc->crl.name.len) {
            files[2] = &sc->crl;
        }

        if (sc->verify_depth != -1) {
            depth = sc->verify_depth;
        }
    }

    for (i = 0; i < 3; i++) {
        if (ngx_stream_securepair_set(cf, creds, files[i], add[i], 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (sp_creds_set_verify_depth(creds, (int) depth) != SP_OK) {
        return ngx_stream_securepair_creds_error(cf, creds,
                                                 sc ? sc->file : conf->file,
                                                 sc ? sc->line : conf->line);
    }

    return NGX_OK;
}


/*
 * The handshake parameters, the server's for every context, as nginx's
 * are its default server's: curves, DH parameters, cipher order, and
 * the SSL_CONF commands, applied last.
 */
static ngx_int_t
ngx_stream_securepair_params(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, sp_creds *creds)
{
    char                          *name, *value;
    ngx_uint_t                     i;
    ngx_stream_securepair_file_t  *cmd;

    if (ngx_stream_securepair_set(cf, creds,
                                  ngx_stream_securepair_one(conf->ecdh_curve),
                                  sp_creds_set_ecdh_curve, 0)
        != NGX_OK
        || ngx_stream_securepair_set(cf, creds,
                                   ngx_stream_securepair_one(conf->dhparam),
                                   sp_creds_set_dhparam_file, 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    (void) sp_creds_set_honor_cipher_order(creds,
                                           (int) conf->prefer_server_ciphers);

    if (conf->conf_commands == NULL) {
        return NGX_OK;
    }

    cmd = conf->conf_commands->elts;

    for (i = 0; i < conf->conf_commands->nelts; i++) {
        name = ngx_stream_securepair_cstr(cf->temp_pool, &cmd[i].name);
        value = ngx_stream_securepair_cstr(cf->temp_pool, &cmd[i].value);

        if (name == NULL || value == NULL) {
            return NGX_ERROR;
        }

        if (sp_creds_add_conf_command(creds, name, value) != SP_OK) {
            return ngx_stream_securepair_creds_error(cf, creds, cmd[i].file,
                                                     cmd[i].line);
        }
    }

    return NGX_OK;
}


/*
 * What every credentials of a server share, and what a context (sc, or
 * NULL for the server's own) may give itself.
 */
static ngx_int_t
ngx_stream_securepair_settings(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, sp_creds *creds,
    ngx_stream_securepair_context_t *sc)
{
    int  min, max;

    if (ngx_stream_securepair_verification(cf, conf, creds, sc) != NGX_OK) {
        return NGX_ERROR;
    }

    if (conf->ciphers.len
        && sp_creds_set_ciphers(creds, (char *) conf->ciphers.data) != SP_OK)
    {
        return ngx_stream_securepair_creds_error(cf, creds, conf->file,
                                                 conf->line);
    }

    /*
     * The runtime takes a range, from the oldest to the newest named:
     * securepair_protocols refuses a gap, so it is exactly those named.
     */
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

    return ngx_stream_securepair_params(cf, conf, creds);
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
static ngx_int_t
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


/* The credentials of one SNI context: its files, the server's settings. */
static ngx_int_t
ngx_stream_securepair_context_creds(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf,
    ngx_stream_securepair_context_t *sc, ngx_array_t *passphrases,
    sp_creds *creds)
{
    ngx_int_t  rc;

    rc = ngx_stream_securepair_set_passphrases(creds, passphrases);

    if (rc == NGX_OK) {
        rc = ngx_stream_securepair_add_pair(cf, creds, &sc->certificate,
                                            sc->file, sc->line,
                                            &sc->certificate_key, sc->file,
                                            sc->line);
    }

    /* the key is in: its passphrases are of no more use */
    sp_creds_wipe_passphrases(creds);

    if (rc != NGX_OK
        || ngx_stream_securepair_settings(cf, conf, creds, sc) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sp_creds_set_request_cert(creds, (int) sc->request_cert) != SP_OK
        || sp_creds_set_reject_unauthorized(creds,
                                            (int) sc->reject_unauthorized)
           != SP_OK)
    {
        return ngx_stream_securepair_creds_error(cf, creds, sc->file,
                                                 sc->line);
    }

    return NGX_OK;
}


/*
 * Contexts on the same files with the same settings share one set of
 * credentials, added under each name: the runtime knows credentials by
 * content (sp_ctx_find_same_creds), so a name costs its entry in the SNI
 * table and not a copy, whatever path names the files.
 */
ngx_int_t
ngx_stream_securepair_add_contexts(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t *passphrases)
{
    char                             *name;
    sp_creds                         *creds, *same;
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    ngx_stream_securepair_context_t  *sc;

    if (conf->contexts == NULL) {
        return NGX_OK;
    }

    sc = conf->contexts->elts;

    for (i = 0; i < conf->contexts->nelts; i++) {

        creds = sp_creds_new();
        if (creds == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_stream_securepair_context_creds(cf, conf, &sc[i],
                                                 passphrases, creds);

        if (rc == NGX_OK) {
            name = ngx_stream_securepair_cstr(cf->temp_pool, &sc[i].name);
            same = sp_ctx_find_same_creds(conf->ctx, creds);

            if (name == NULL) {
                rc = NGX_ERROR;

            } else if (sp_ctx_add_context(conf->ctx, name,
                                          same ? same : creds)
                       != SP_OK)
            {
                rc = ngx_stream_securepair_error(cf,
                                                 sp_ctx_error_info(conf->ctx),
                                                 sc[i].file, sc[i].line);
            }
        }

        sp_creds_unref(creds);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The settings of the credentials loaded per name at handshake time
 * (ngx_stream_securepair_certname.c): a context's, checked now.  The
 * passphrases stay with them while the configuration lives, as nginx
 * keeps ssl_password_file's for certificates with variables: the keys
 * they unlock are read later.
 */
ngx_int_t
ngx_stream_securepair_model_creds(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t *passphrases)
{
    sp_creds  *creds;

    creds = sp_creds_new();
    if (creds == NULL) {
        return NGX_ERROR;
    }

    if (ngx_stream_securepair_set_passphrases(creds, passphrases) != NGX_OK
        || ngx_stream_securepair_settings(cf, conf, creds,
                                          conf->ca ? conf->ca->elts : NULL)
           != NGX_OK)
    {
        sp_creds_unref(creds);
        return NGX_ERROR;
    }

    conf->cert_model = creds;
    return NGX_OK;
}


/* The server's own credentials; the passphrases are read for its
   contexts as well. */
ngx_int_t
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

    return ngx_stream_securepair_settings(cf, conf, creds, NULL);
}
