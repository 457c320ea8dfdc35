
/*
 * ngx_stream_securepair_module: certificates named with variables
 * (securepair_certificate /etc/ssl/sites/$securepair_servername.crt),
 * chosen from the client's SNI at handshake time, and the worker's cache
 * of the credentials loaded from them (securepair_certificate_cache).
 *
 * The runtime asks the SNI callback (Node's SNICallback) for a name's
 * credentials from inside the ClientHello; the callback evaluates the
 * paths for the session and answers from the cache, or reads the files
 * (a file read is the only wait it allows itself).  It answers nothing,
 * and the runtime serves the name as one it does not know (the default
 * certificate), when:
 *
 *   - a securepair_context names it: as nginx's server_name chooses the
 *     server before the server's certificate variables are evaluated,
 *     names configured one by one come first;
 *   - the name has a character no host name has: it never reaches the
 *     file system;
 *   - a file is missing or broken: an `info` line names the file and
 *     the reason, once per `valid` period, and the failure is cached as
 *     a name is, so a client cannot make every handshake read a file.
 *
 * What was loaded is kept in the worker's cache
 * (ngx_stream_securepair_certname_cache.c).
 */


#include "ngx_stream_securepair_certname.h"


static ngx_int_t ngx_stream_securepair_cert_names_keep(ngx_array_t *certs,
    ngx_array_t *keys, ngx_stream_securepair_file_t *cert,
    ngx_stream_securepair_file_t *key);
static ngx_int_t ngx_stream_securepair_cert_name_add(ngx_conf_t *cf,
    ngx_array_t *names, ngx_stream_securepair_file_t *cert,
    ngx_stream_securepair_file_t *key);
static sp_creds *ngx_stream_securepair_certname_uncached(ngx_connection_t *c,
    ngx_stream_securepair_srv_conf_t *conf, ngx_str_t *key,
    const char *servername);
static sp_creds *ngx_stream_securepair_certname_cached(ngx_connection_t *c,
    ngx_stream_securepair_srv_conf_t *conf, ngx_str_t *key,
    const char *servername);
static ngx_int_t ngx_stream_securepair_certname_valid(const char *name);
static ngx_int_t ngx_stream_securepair_certname_files(
    ngx_stream_session_t *s, ngx_stream_securepair_srv_conf_t *conf,
    ngx_str_t *key);
static ngx_stream_securepair_cert_t *ngx_stream_securepair_certname_load(
    ngx_connection_t *c, ngx_stream_securepair_srv_conf_t *conf,
    ngx_str_t *key, const char *servername);
static void ngx_stream_securepair_certname_unref(void *data);


/*
 * The certificate and key pairs of a server with a variable in either
 * file name become per-name pairs, compiled here; the others stay the
 * server's default certificate, which such a server must have: clients
 * without SNI, and names whose files are missing or broken, get it.
 */
ngx_int_t
ngx_stream_securepair_cert_names(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf)
{
    ngx_int_t                      rc;
    ngx_uint_t                     i, n;
    ngx_array_t                   *certs, *keys, *names;
    ngx_stream_securepair_file_t  *cert, *key;

    if (conf->certificates == NULL || conf->certificate_keys == NULL
        || conf->certificate_keys->nelts != conf->certificates->nelts)
    {
        /* the default credentials say what is missing */
        return NGX_OK;
    }

    cert = conf->certificates->elts;
    key = conf->certificate_keys->elts;
    n = conf->certificates->nelts;

    certs = ngx_array_create(cf->pool, n,
                             sizeof(ngx_stream_securepair_file_t));
    keys = ngx_array_create(cf->pool, n,
                            sizeof(ngx_stream_securepair_file_t));
    names = ngx_array_create(cf->pool, 1,
                             sizeof(ngx_stream_securepair_cert_name_t));
    if (certs == NULL || keys == NULL || names == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {

        if (ngx_stream_script_variables_count(&cert[i].name) == 0
            && ngx_stream_script_variables_count(&key[i].name) == 0)
        {
            rc = ngx_stream_securepair_cert_names_keep(certs, keys, &cert[i],
                                                       &key[i]);

        } else {
            rc = ngx_stream_securepair_cert_name_add(cf, names, &cert[i],
                                                     &key[i]);
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (names->nelts == 0) {
        return NGX_OK;
    }

    if (certs->nelts == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "a server with variables in \"securepair_certificate\" "
                      "also needs a \"securepair_certificate\" and "
                      "\"securepair_certificate_key\" without variables: "
                      "the default certificate, for clients without SNI "
                      "and names whose files are missing or broken, "
                      "in %s:%ui", cert[0].file, cert[0].line);
        return NGX_ERROR;
    }

    conf->cert_names = names;
    conf->certificates = certs;
    conf->certificate_keys = keys;

    return NGX_OK;
}


/* A pair without variables: one of the server's default certificate. */
static ngx_int_t
ngx_stream_securepair_cert_names_keep(ngx_array_t *certs, ngx_array_t *keys,
    ngx_stream_securepair_file_t *cert, ngx_stream_securepair_file_t *key)
{
    ngx_stream_securepair_file_t  *f;

    f = ngx_array_push(certs);
    if (f == NULL) {
        return NGX_ERROR;
    }

    *f = *cert;

    f = ngx_array_push(keys);
    if (f == NULL) {
        return NGX_ERROR;
    }

    *f = *key;

    return NGX_OK;
}


/*
 * A pair with a variable in either file name: both names compiled, to be
 * evaluated for each session.
 */
static ngx_int_t
ngx_stream_securepair_cert_name_add(ngx_conf_t *cf, ngx_array_t *names,
    ngx_stream_securepair_file_t *cert, ngx_stream_securepair_file_t *key)
{
    ngx_str_t                            value;
    ngx_uint_t                           j;
    ngx_stream_securepair_cert_name_t   *cn;
    ngx_stream_complex_value_t          *cv;
    ngx_stream_compile_complex_value_t   ccv;

    if (names->nelts == NGX_SP_CERT_NAMES) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "more than %d \"securepair_certificate\" with "
                      "variables in %s:%ui",
                      NGX_SP_CERT_NAMES, cert->file, cert->line);
        return NGX_ERROR;
    }

    cn = ngx_array_push(names);
    if (cn == NULL) {
        return NGX_ERROR;
    }

    for (j = 0; j < 2; j++) {
        value = j == 0 ? cert->name : key->name;
        cv = j == 0 ? &cn->certificate : &cn->certificate_key;

        ngx_memzero(&ccv, sizeof(ngx_stream_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value;
        ccv.complex_value = cv;
        ccv.conf_prefix = 1;

        if (ngx_stream_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* Once the server's context is built: the settings, and the callback. */
ngx_int_t
ngx_stream_securepair_cert_names_init(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t *passphrases)
{
    if (conf->cert_names == NULL) {
        return NGX_OK;
    }

    /* the model and, in each worker, the cache: freed with the conf */
    if (ngx_stream_securepair_add_cleanup(cf->pool,
                                      ngx_stream_securepair_certname_cleanup,
                                      conf)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_stream_securepair_model_creds(cf, conf, passphrases) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * From the SNI callback (ngx_stream_securepair_servername), once the name
 * has chosen the server: `arg` is that server's configuration.
 */
sp_creds *
ngx_stream_securepair_certname_select(sp_pair *pair, const char *servername,
    void *arg)
{
    ngx_stream_securepair_srv_conf_t  *conf = arg;

    ngx_str_t              key;
    ngx_connection_t      *c;
    ngx_stream_session_t  *s;

    c = sp_pair_get_data(pair);
    s = c ? c->data : NULL;

    if (s == NULL
        || (conf->contexts
            && sp_ctx_find_context(conf->ctx, servername) != NULL))
    {
        return NULL;
    }

    if (!ngx_stream_securepair_certname_valid(servername)) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "securepair: server name \"%s\" has characters that "
                      "no host name has: no certificate file is looked up "
                      "for it", servername);
        return NULL;
    }

    if (ngx_stream_securepair_certname_files(s, conf, &key) != NGX_OK) {
        return NULL;
    }

    if (conf->cert_cache_max == 0) {
        return ngx_stream_securepair_certname_uncached(c, conf, &key,
                                                       servername);
    }

    return ngx_stream_securepair_certname_cached(c, conf, &key, servername);
}


/* No cache: the session holds what it loaded. */
static sp_creds *
ngx_stream_securepair_certname_uncached(ngx_connection_t *c,
    ngx_stream_securepair_srv_conf_t *conf, ngx_str_t *key,
    const char *servername)
{
    ngx_pool_cleanup_t            *cln;
    ngx_stream_securepair_cert_t  *cert;

    cln = ngx_pool_cleanup_add(c->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cert = ngx_stream_securepair_certname_load(c, conf, key, servername);
    if (cert == NULL) {
        return NULL;
    }

    cln->handler = ngx_stream_securepair_certname_unref;
    cln->data = cert->creds;

    ngx_free(cert);
    return cln->data;
}


/* What the worker's cache holds for the files, else loaded into it. */
static sp_creds *
ngx_stream_securepair_certname_cached(ngx_connection_t *c,
    ngx_stream_securepair_srv_conf_t *conf, ngx_str_t *key,
    const char *servername)
{
    time_t                              now;
    uint32_t                            hash;
    ngx_stream_securepair_cert_t       *cert;
    ngx_stream_securepair_certcache_t  *cache;

    cache = ngx_stream_securepair_certcache(conf);
    if (cache == NULL) {
        return NULL;
    }

    now = ngx_time();
    hash = ngx_crc32_long(key->data, key->len);

    cert = ngx_stream_securepair_certcache_find(c, conf, cache, key, hash,
                                                now, servername);
    if (cert != NULL) {
        return cert->creds;
    }

    cert = ngx_stream_securepair_certname_load(c, conf, key, servername);
    if (cert == NULL) {
        return NULL;
    }

    cert->sn.node.key = hash;
    cert->checked = now;
    ngx_stream_securepair_certcache_add(conf, cache, cert, now);

    return cert->creds;
}


/*
 * What can reach a file name: the runtime gives 1 to 255 bytes with no
 * NUL, no empty label ("..", ".a", "a..b") and no final dot, and any
 * other byte may come ("/", "\", a space, bytes above 127).  Host names
 * are letters, digits, hyphens and dots (and underscores, which some
 * use): nothing else is looked up, so a name can neither climb out of
 * its directory nor name a hidden file.
 */
static ngx_int_t
ngx_stream_securepair_certname_valid(const char *name)
{
    u_char        ch;
    const char   *p;

    for (p = name; *p; p++) {
        ch = (u_char) *p;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'
            || ch == '.')
        {
            continue;
        }

        return 0;
    }

    /* the runtime's own check, again, where a path depends on it */
    return p != name && name[0] != '.' && ngx_strstr(name, "..") == NULL;
}


/*
 * The session's file names, each ended by a NUL, as one key.  Any
 * variable may be in a path, not only the server name: a value that
 * would climb a directory ("/../") or end the name early (a NUL) is
 * refused.
 */
static ngx_int_t
ngx_stream_securepair_certname_files(ngx_stream_session_t *s,
    ngx_stream_securepair_srv_conf_t *conf, ngx_str_t *key)
{
    u_char                             *p, *last;
    ngx_str_t                          *path;
    ngx_str_t                           paths[2 * NGX_SP_CERT_NAMES];
    ngx_uint_t                          i, n;
    ngx_stream_securepair_cert_name_t  *cn;

    cn = conf->cert_names->elts;
    n = 2 * conf->cert_names->nelts;
    key->len = 0;

    for (i = 0; i < n; i++) {
        path = &paths[i];

        if (ngx_stream_complex_value(s, i % 2 ? &cn[i / 2].certificate_key
                                              : &cn[i / 2].certificate,
                                     path)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        last = path->data + path->len;

        for (p = path->data; p < last; p++) {
            if (*p == '\0'
                || (*p == '.' && (p == path->data || p[-1] == '/')
                    && p + 1 < last && p[1] == '.'
                    && (p + 2 == last || p[2] == '/')))
            {
                ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                              "securepair: certificate path \"%V\" of the "
                              "server name refused: it has \"..\" or a NUL",
                              path);
                return NGX_ERROR;
            }
        }

        key->len += path->len + 1;
    }

    key->data = ngx_pnalloc(s->connection->pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = key->data;

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, paths[i].data, paths[i].len);
        *p++ = '\0';
    }

    return NGX_OK;
}


/*
 * The files of one name, loaded into credentials with the server's
 * settings: an entry for the cache, with the credentials, or without
 * them when the files failed (said here, at info level: a missing
 * certificate is the client's name, not a fault of the server).
 * Credentials equal to a securepair_context's are shared with it.
 */
static ngx_stream_securepair_cert_t *
ngx_stream_securepair_certname_load(ngx_connection_t *c,
    ngx_stream_securepair_srv_conf_t *conf, ngx_str_t *key,
    const char *servername)
{
    char                          *path;
    sp_creds                      *creds, *same;
    ngx_uint_t                     i;
    const sp_error                *err;
    ngx_stream_securepair_cert_t  *cert;

    cert = ngx_alloc(sizeof(ngx_stream_securepair_cert_t)
                     + conf->cert_names->nelts * 2
                       * sizeof(ngx_stream_securepair_file_id_t)
                     + key->len, c->log);
    if (cert == NULL) {
        return NULL;
    }

    cert->nfiles = 2 * conf->cert_names->nelts;
    cert->creds = NULL;
    cert->sn.str.len = key->len;
    cert->sn.str.data = (u_char *) &cert->files[cert->nfiles];
    ngx_memcpy(cert->sn.str.data, key->data, key->len);

    /* first: a file that changes while it is read is read again later */
    ngx_stream_securepair_certname_ids(cert, cert->files);

    creds = sp_creds_new_like(conf->cert_model);
    if (creds == NULL) {
        ngx_free(cert);
        return NULL;
    }

    path = (char *) cert->sn.str.data;

    for (i = 0; i < cert->nfiles; i += 2) {
        if (sp_creds_add_key_cert_file(creds, path + ngx_strlen(path) + 1,
                                       path)
            != SP_OK)
        {
            err = sp_creds_error_info(creds);

            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "securepair: cannot use the certificate of "
                          "server name \"%s\": %s%s%s; %s", servername,
                          err->origin ? err->origin : "",
                          err->origin ? ": " : "", err->reason,
                          conf->reject_unknown_servername
                          ? "refused as an unknown name"
                          : "the default certificate serves it");

            sp_creds_unref(creds);
            return cert;
        }

        path += ngx_strlen(path) + 1;
        path += ngx_strlen(path) + 1;
    }

    sp_creds_wipe_passphrases(creds);

    same = sp_ctx_find_same_creds(conf->ctx, creds);

    if (same != NULL) {
        sp_creds_unref(creds);
        creds = sp_creds_ref(same);
    }

    cert->creds = creds;
    return cert;
}


static void
ngx_stream_securepair_certname_unref(void *data)
{
    sp_creds_unref(data);
}
