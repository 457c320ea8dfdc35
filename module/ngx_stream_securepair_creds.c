
/*
 * ngx_stream_securepair_module: the credentials of a server and of its SNI
 * contexts, loaded through the runtime, with errors that name the line
 * of the directive that named the file.  What they share is set in
 * ngx_stream_securepair_creds_settings.c, the passphrases that unlock
 * their keys are read in ngx_stream_securepair_passphrases.c.
 */


#include "ngx_stream_securepair_module.h"


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
        || ngx_stream_securepair_creds_settings(cf, conf, creds, sc)
           != NGX_OK)
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
        || ngx_stream_securepair_creds_settings(cf, conf, creds, NULL)
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

    return ngx_stream_securepair_creds_settings(cf, conf, creds, NULL);
}
