
/*
 * securepair_session_cache's redis:HOST:PORT argument and its options
 * (timeout=, prefix=, password_file=, db=), read with the configuration;
 * the caches that name the same server share one connection per worker.
 * What the cache does with them: ngx_stream_securepair_redis_cache.c.
 */


#include "ngx_stream_securepair_redis.h"


/* The Redis caches of the configuration being read (see `link`). */
static ngx_cycle_t                    *ngx_stream_securepair_redis_conf_cycle;
static ngx_stream_securepair_redis_t  *ngx_stream_securepair_redis_conf_list;


static ngx_int_t ngx_stream_securepair_redis_address(ngx_conf_t *cf,
    ngx_stream_securepair_redis_t *rd, ngx_str_t *value);
static ngx_int_t ngx_stream_securepair_redis_option(ngx_conf_t *cf,
    ngx_stream_securepair_redis_t *rd, ngx_str_t *value);
static ngx_int_t ngx_stream_securepair_redis_password(ngx_conf_t *cf,
    ngx_stream_securepair_redis_t *rd, ngx_str_t *file);
static ngx_int_t ngx_stream_securepair_redis_link(ngx_conf_t *cf,
    ngx_stream_securepair_redis_t *rd);


/*
 * The configuration's pool goes (a reload, a failed one, nginx -t): the
 * list of its caches goes with it.
 */
static void
ngx_stream_securepair_redis_conf_done(void *data)
{
    if (ngx_stream_securepair_redis_conf_cycle == data) {
        ngx_stream_securepair_redis_conf_cycle = NULL;
        ngx_stream_securepair_redis_conf_list = NULL;
    }
}


/*
 * Parses the redis:HOST:PORT argument of securepair_session_cache and
 * its options, from value[first] on.
 */
char *
ngx_stream_securepair_redis_conf(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *spcf, ngx_uint_t first)
{
    ngx_int_t                       rc;
    ngx_str_t                      *value;
    ngx_uint_t                      i;
    ngx_stream_securepair_redis_t  *rd;

    value = cf->args->elts;

    if (ngx_strncmp(value[first].data, "redis:", 6) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid session cache \"%V\": expected "
                           "redis:HOST:PORT after the shared zone",
                           &value[first]);
        return NGX_CONF_ERROR;
    }

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_stream_securepair_redis_t));
    if (rd == NULL) {
        return NGX_CONF_ERROR;
    }

    rd->name = value[first];
    rd->timeout = 50;
    rd->db = 0;
    ngx_str_set(&rd->prefix, "securepair:");
    rd->backoff = NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MIN;

    if (ngx_stream_securepair_redis_address(cf, rd, &value[first])
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = first + 1; i < cf->args->nelts; i++) {

        rc = ngx_stream_securepair_redis_option(cf, rd, &value[i]);

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of the Redis "
                               "session cache: expected timeout=TIME, "
                               "prefix=STR, password_file=FILE or db=N",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_stream_securepair_redis_link(cf, rd) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    spcf->session_redis = rd;

    return NGX_CONF_OK;
}


/* redis:HOST:PORT, resolved now: no worker ever waits for a name server */
static ngx_int_t
ngx_stream_securepair_redis_address(ngx_conf_t *cf,
    ngx_stream_securepair_redis_t *rd, ngx_str_t *value)
{
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = value->data + 6;
    u.url.len = value->len - 6;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid session cache \"%V\": %s",
                           value, u.err ? u.err : "bad address");
        return NGX_ERROR;
    }

    if (u.no_port || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid session cache \"%V\": expected "
                           "redis:HOST:PORT", value);
        return NGX_ERROR;
    }

    rd->host.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (rd->host.data == NULL) {
        return NGX_ERROR;
    }

    rd->host.len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                                 rd->host.data, NGX_SOCKADDR_STRLEN, 0);
    rd->host.data[rd->host.len] = '\0';
    rd->port = u.port;

    return NGX_OK;
}


/*
 * One option, "name=value": NGX_OK, NGX_ERROR (said why), or
 * NGX_DECLINED for an unknown option or a bad value (the caller says
 * which parameter is invalid).
 */
static ngx_int_t
ngx_stream_securepair_redis_option(ngx_conf_t *cf,
    ngx_stream_securepair_redis_t *rd, ngx_str_t *value)
{
    ngx_int_t  n;
    ngx_str_t  s;

    if (ngx_strncmp(value->data, "timeout=", 8) == 0) {
        s.data = value->data + 8;
        s.len = value->len - 8;

        rd->timeout = ngx_parse_time(&s, 0);
        if (rd->timeout == (ngx_msec_t) NGX_ERROR || rd->timeout == 0) {
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "prefix=", 7) == 0) {
        rd->prefix.data = value->data + 7;
        rd->prefix.len = value->len - 7;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "db=", 3) == 0) {
        n = ngx_atoi(value->data + 3, value->len - 3);
        if (n == NGX_ERROR) {
            return NGX_DECLINED;
        }

        rd->db = n;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "password_file=", 14) == 0) {
        s.data = value->data + 14;
        s.len = value->len - 14;

        return ngx_stream_securepair_redis_password(cf, rd, &s);
    }

    return NGX_DECLINED;
}


/* password_file=FILE: its first line, for AUTH */
static ngx_int_t
ngx_stream_securepair_redis_password(ngx_conf_t *cf,
    ngx_stream_securepair_redis_t *rd, ngx_str_t *file)
{
    ngx_str_t     s;
    ngx_array_t  *passwords;

    if (file->len == 0) {
        return NGX_DECLINED;
    }

    /* reads the file's first line, and says why when it cannot */
    passwords = ngx_ssl_read_password_file(cf, file);
    if (passwords == NULL) {
        return NGX_ERROR;
    }

    s = *(ngx_str_t *) passwords->elts;

    if (s.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty Redis password in \"%V\"", file);
        return NGX_ERROR;
    }

    rd->password.data = ngx_pstrdup(cf->pool, &s);
    if (rd->password.data == NULL) {
        return NGX_ERROR;
    }

    rd->password.len = s.len;

    return NGX_OK;
}


/*
 * The cache joins the configuration's list, and uses the connection of
 * the first one with the same server, password and database.
 */
static ngx_int_t
ngx_stream_securepair_redis_link(ngx_conf_t *cf,
    ngx_stream_securepair_redis_t *rd)
{
    ngx_pool_cleanup_t             *cln;
    ngx_stream_securepair_redis_t  *o;

    /* a new configuration (a reload) shares nothing with the old one */
    if (ngx_stream_securepair_redis_conf_cycle != cf->cycle) {
        cln = ngx_pool_cleanup_add(cf->cycle->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_stream_securepair_redis_conf_done;
        cln->data = cf->cycle;

        ngx_stream_securepair_redis_conf_cycle = cf->cycle;
        ngx_stream_securepair_redis_conf_list = NULL;
    }

    rd->link = rd;

    for (o = ngx_stream_securepair_redis_conf_list; o; o = o->next) {
        if (o->port == rd->port
            && o->db == rd->db
            && o->host.len == rd->host.len
            && ngx_strncmp(o->host.data, rd->host.data, rd->host.len) == 0
            && o->password.len == rd->password.len
            && ngx_strncmp(o->password.data, rd->password.data,
                           rd->password.len)
               == 0)
        {
            rd->link = o->link;
            break;
        }
    }

    rd->next = ngx_stream_securepair_redis_conf_list;
    ngx_stream_securepair_redis_conf_list = rd;

    return NGX_OK;
}
