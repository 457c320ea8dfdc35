
/*
 * ngx_stream_securepair_module: the worker's cache of the credentials
 * loaded from certificates named with variables (securepair_certificate
 * .../$securepair_servername.crt; ngx_stream_securepair_certname.c).
 *
 * The cache is per worker and per server: `max` names with credentials,
 * least recently used out first, and as many names whose files failed,
 * kept apart so that names that fail cannot push out names that load.
 * After `valid` a name's files are looked at again (stat: device, inode,
 * size and modification time): a change loads them again for that very
 * handshake, so a certificate renewed or added on disk serves without a
 * reload.  Credentials the cache lets go live on in the pairs that hold
 * them (each takes a reference).
 */


#include "ngx_stream_securepair_certname.h"


static void ngx_stream_securepair_certcache_expire(
    ngx_stream_securepair_srv_conf_t *conf,
    ngx_stream_securepair_certcache_t *cache, time_t now);
static void ngx_stream_securepair_certcache_free(
    ngx_stream_securepair_certcache_t *cache,
    ngx_stream_securepair_cert_t *cert);


/* The worker's cache of this server, made at its first use. */
ngx_stream_securepair_certcache_t *
ngx_stream_securepair_certcache(ngx_stream_securepair_srv_conf_t *conf)
{
    ngx_stream_securepair_certcache_t  *cache;

    if (conf->cert_cache != NULL) {
        return conf->cert_cache;
    }

    cache = ngx_alloc(sizeof(ngx_stream_securepair_certcache_t),
                      ngx_cycle->log);
    if (cache == NULL) {
        return NULL;
    }

    ngx_rbtree_init(&cache->rbtree, &cache->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&cache->loaded);
    ngx_queue_init(&cache->failed);
    cache->nloaded = 0;
    cache->nfailed = 0;

    conf->cert_cache = cache;
    return cache;
}


/*
 * The entry of `key`, or NULL: names unused for `inactive` go first, and
 * an entry past `valid` whose files changed (or failed) goes, for the
 * caller to load them again.  A hit is the most recently used.
 */
ngx_stream_securepair_cert_t *
ngx_stream_securepair_certcache_find(ngx_connection_t *c,
    ngx_stream_securepair_srv_conf_t *conf,
    ngx_stream_securepair_certcache_t *cache, ngx_str_t *key, uint32_t hash,
    time_t now, const char *servername)
{
    ngx_int_t                         stale;
    ngx_stream_securepair_cert_t     *cert;
    ngx_stream_securepair_file_id_t   ids[2 * NGX_SP_CERT_NAMES];

    ngx_stream_securepair_certcache_expire(conf, cache, now);

    cert = (ngx_stream_securepair_cert_t *)
               ngx_str_rbtree_lookup(&cache->rbtree, key, hash);

    if (cert == NULL) {
        return NULL;
    }

    if (now - cert->checked >= conf->cert_cache_valid) {

        /* a name whose files failed tries them again */
        stale = 1;

        if (cert->creds != NULL) {
            ngx_stream_securepair_certname_ids(cert, ids);

            stale = ngx_memcmp(ids, cert->files,
                               cert->nfiles * sizeof(ids[0]));

            if (stale) {
                ngx_log_error(NGX_LOG_INFO, c->log, 0,
                              "securepair: the certificate files of server "
                              "name \"%s\" changed: loading them again",
                              servername);
            }
        }

        if (stale) {
            ngx_stream_securepair_certcache_free(cache, cert);
            return NULL;
        }

        cert->checked = now;
    }

    cert->used = now;
    ngx_queue_remove(&cert->queue);
    ngx_queue_insert_head(cert->creds ? &cache->loaded : &cache->failed,
                          &cert->queue);

    return cert;
}


/* Each file as it is now; all zeros for one that cannot be looked at. */
void
ngx_stream_securepair_certname_ids(ngx_stream_securepair_cert_t *cert,
    ngx_stream_securepair_file_id_t *ids)
{
    u_char           *path;
    ngx_uint_t        i;
    ngx_file_info_t   fi;

    ngx_memzero(ids, cert->nfiles * sizeof(ngx_stream_securepair_file_id_t));

    path = cert->sn.str.data;

    for (i = 0; i < cert->nfiles; i++) {
        if (ngx_file_info(path, &fi) != NGX_FILE_ERROR) {
            ids[i].dev = fi.st_dev;
            ids[i].uniq = ngx_file_uniq(&fi);
            ids[i].size = ngx_file_size(&fi);
            ids[i].mtime = ngx_file_mtime(&fi);
            ids[i].mtime_nsec = fi.st_mtim.tv_nsec;
        }

        path += ngx_strlen(path) + 1;
    }
}


/* A new entry, first in its list; the least recently used out at max. */
void
ngx_stream_securepair_certcache_add(ngx_stream_securepair_srv_conf_t *conf,
    ngx_stream_securepair_certcache_t *cache,
    ngx_stream_securepair_cert_t *cert, time_t now)
{
    ngx_queue_t  *list;
    ngx_uint_t   *count;

    list = cert->creds ? &cache->loaded : &cache->failed;
    count = cert->creds ? &cache->nloaded : &cache->nfailed;

    if (*count >= (ngx_uint_t) conf->cert_cache_max) {
        ngx_stream_securepair_certcache_free(cache,
            ngx_queue_data(ngx_queue_last(list),
                           ngx_stream_securepair_cert_t, queue));
    }

    cert->used = now;
    ngx_rbtree_insert(&cache->rbtree, &cert->sn.node);
    ngx_queue_insert_head(list, &cert->queue);
    (*count)++;
}


/* Names unused for `inactive` go, from the least recently used. */
static void
ngx_stream_securepair_certcache_expire(
    ngx_stream_securepair_srv_conf_t *conf,
    ngx_stream_securepair_certcache_t *cache, time_t now)
{
    ngx_uint_t                     i;
    ngx_queue_t                   *list;
    ngx_stream_securepair_cert_t  *cert;

    for (i = 0; i < 2; i++) {
        list = i == 0 ? &cache->loaded : &cache->failed;

        while (!ngx_queue_empty(list)) {
            cert = ngx_queue_data(ngx_queue_last(list),
                                  ngx_stream_securepair_cert_t, queue);

            if (now - cert->used < conf->cert_cache_inactive) {
                break;
            }

            ngx_stream_securepair_certcache_free(cache, cert);
        }
    }
}


static void
ngx_stream_securepair_certcache_free(ngx_stream_securepair_certcache_t *cache,
    ngx_stream_securepair_cert_t *cert)
{
    ngx_rbtree_delete(&cache->rbtree, &cert->sn.node);
    ngx_queue_remove(&cert->queue);

    if (cert->creds) {
        cache->nloaded--;
        sp_creds_unref(cert->creds);

    } else {
        cache->nfailed--;
    }

    ngx_free(cert);
}


void
ngx_stream_securepair_certname_cleanup(void *data)
{
    ngx_stream_securepair_srv_conf_t  *conf = data;

    ngx_queue_t                        *q;
    ngx_stream_securepair_certcache_t  *cache;

    cache = conf->cert_cache;

    if (cache != NULL) {
        while (!ngx_queue_empty(&cache->loaded)) {
            q = ngx_queue_head(&cache->loaded);
            ngx_stream_securepair_certcache_free(cache,
                ngx_queue_data(q, ngx_stream_securepair_cert_t, queue));
        }

        while (!ngx_queue_empty(&cache->failed)) {
            q = ngx_queue_head(&cache->failed);
            ngx_stream_securepair_certcache_free(cache,
                ngx_queue_data(q, ngx_stream_securepair_cert_t, queue));
        }

        ngx_free(cache);
        conf->cert_cache = NULL;
    }

    sp_creds_unref(conf->cert_model);
    conf->cert_model = NULL;
}


/*
 * securepair_certificate_cache off | max=N [inactive=time] [valid=time];
 * as nginx's ssl_certificate_cache (1.27.4), with a cache by default.
 */
char *
ngx_stream_securepair_certificate_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_stream_securepair_srv_conf_t  *spcf = conf;

    time_t     *t, inactive, valid;
    ngx_str_t  *value, s;
    ngx_int_t   max;
    ngx_uint_t  i;

    if (spcf->cert_cache_max != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        spcf->cert_cache_max = 0;
        spcf->cert_cache_inactive = 0;
        spcf->cert_cache_valid = 0;
        return NGX_CONF_OK;
    }

    max = 0;
    inactive = 600;
    valid = 60;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max=", 4) == 0) {
            max = ngx_atoi(value[i].data + 4, value[i].len - 4);
            if (max <= 0) {
                goto invalid;
            }

            continue;
        }

        t = ngx_strncmp(value[i].data, "inactive=", 9) == 0 ? &inactive
            : ngx_strncmp(value[i].data, "valid=", 6) == 0 ? &valid : NULL;

        if (t != NULL) {
            s.data = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            *t = ngx_parse_time(&s, 1);
            if (*t == (time_t) NGX_ERROR) {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (max == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"securepair_certificate_cache\" needs "
                           "\"max=\" or \"off\"");
        return NGX_CONF_ERROR;
    }

    spcf->cert_cache_max = max;
    spcf->cert_cache_inactive = inactive;
    spcf->cert_cache_valid = valid;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in "
                       "\"securepair_certificate_cache\"", &value[i]);
    return NGX_CONF_ERROR;
}


/*
 * The three parameters go together: a server without the directive takes
 * its parent's, else a cache of 1000 names, each dropped after 10 minutes
 * unused and its files looked at again after 60 seconds.
 */
void
ngx_stream_securepair_certificate_cache_merge(
    ngx_stream_securepair_srv_conf_t *prev,
    ngx_stream_securepair_srv_conf_t *conf)
{
    if (conf->cert_cache_max == NGX_CONF_UNSET) {
        conf->cert_cache_max = prev->cert_cache_max;
        conf->cert_cache_inactive = prev->cert_cache_inactive;
        conf->cert_cache_valid = prev->cert_cache_valid;
    }

    if (conf->cert_cache_max == NGX_CONF_UNSET) {
        conf->cert_cache_max = 1000;
        conf->cert_cache_inactive = 600;
        conf->cert_cache_valid = 60;
    }
}
