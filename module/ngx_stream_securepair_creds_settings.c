
/*
 * ngx_stream_securepair_module: the settings every credentials of a
 * server share (client verification, ciphers, protocols, the handshake
 * parameters), and those an SNI context may give itself.
 */


#include "ngx_stream_securepair_module.h"


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
ngx_int_t
ngx_stream_securepair_creds_settings(ngx_conf_t *cf,
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
