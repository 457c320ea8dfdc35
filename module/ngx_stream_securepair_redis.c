
/*
 * securepair_session_cache shared:NAME:SIZE redis:HOST:PORT ... — the
 * shared zone stays the first level; every new session is also written
 * to Redis (SET key value PX lifetime), so that the other hosts of a
 * fleet can find it.
 *
 * Each worker keeps one connection to Redis, driven by hiredis's
 * asynchronous API on nginx's own event loop: the adapter below gives
 * hiredis's fd an ngx_connection_t and turns its addRead/delRead/
 * addWrite/delWrite hooks into nginx events.  Nothing here blocks: the
 * address is resolved when the configuration is read, the connect is
 * non-blocking, commands are queued by hiredis and pipelined.
 *
 * A lookup asks the zone first; on a miss, the pair waits (the runtime's
 * find_async) while Redis is asked (GET), and the reply answers it, or a
 * timer does after `timeout`: "not found", a full handshake.
 *
 * Redis is a cache, never a dependency: when it is down, slow or answers
 * garbage, lookups find nothing, writes are dropped, a warning is logged
 * at most every few seconds, and the worker reconnects with a growing
 * delay.
 */


#include "ngx_stream_securepair_module.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


struct ngx_stream_securepair_redis_s {
    ngx_str_t                  name;        /* redis:HOST:PORT, for logs */
    ngx_str_t                  host;        /* numeric, NUL-terminated */
    in_port_t                  port;
    ngx_msec_t                 timeout;
    ngx_str_t                  prefix;
    ngx_str_t                  password;
    ngx_int_t                  db;

    sp_session_store           zone;        /* the first level */

    /* the worker's connection */
    redisAsyncContext         *ac;
    ngx_connection_t          *c;
    ngx_event_t                reconnect;
    ngx_msec_t                 backoff;
    ngx_uint_t                 pending;     /* commands without a reply */
    ngx_msec_t                 warned;
    ngx_log_t                  log;
    ngx_queue_t                queue;       /* in the worker's list */

    /*
     * The one whose connection this one uses: the first of the
     * configuration with the same server, password and database, so
     * that a worker keeps one connection to each.
     */
    ngx_stream_securepair_redis_t  *link;
    ngx_stream_securepair_redis_t  *next;   /* the configuration's list */
};


/*
 * A lookup in Redis.  It lives until its reply (or the connection's end)
 * comes, which may be after the session closed: `pair` is then NULL, and
 * the reply finds nothing to answer.
 */
typedef struct {
    ngx_stream_securepair_redis_t  *rd;
    sp_pair                        *pair;     /* NULL: answered, or gone */
    ngx_connection_t               *c;
    ngx_pool_cleanup_t             *cln;
    ngx_event_t                     timer;
} ngx_stream_securepair_redis_get_t;


/* A session from the zone, copied out before the pair copies it in. */
#define NGX_STREAM_SECUREPAIR_REDIS_SESSION_MAX  (64 * 1024)

static u_char  ngx_stream_securepair_redis_session[
                                   NGX_STREAM_SECUREPAIR_REDIS_SESSION_MAX];


/* The worker's connections, closed when it exits. */
static ngx_queue_t  ngx_stream_securepair_redis_open;

/* The Redis caches of the configuration being read (see `link`). */
static ngx_cycle_t                    *ngx_stream_securepair_redis_conf_cycle;
static ngx_stream_securepair_redis_t  *ngx_stream_securepair_redis_conf_list;


static int ngx_stream_securepair_redis_add(void *arg, const uint8_t *id,
    size_t id_len, const uint8_t *session, size_t len, time_t expires);
static int ngx_stream_securepair_redis_find(void *arg, sp_pair *pair,
    const uint8_t *id, size_t id_len);
static ngx_int_t ngx_stream_securepair_redis_connect(
    ngx_stream_securepair_redis_t *rd);
static void ngx_stream_securepair_redis_retry(
    ngx_stream_securepair_redis_t *rd);
static void ngx_stream_securepair_redis_warn(ngx_stream_securepair_redis_t *rd,
    const char *what, const char *why);


#define NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MIN  100
#define NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MAX  5000
#define NGX_STREAM_SECUREPAIR_REDIS_WARN_EVERY   5000

/*
 * Commands queued without a reply: past this, Redis is not keeping up
 * and new writes are dropped rather than piled up in the worker.
 */
#define NGX_STREAM_SECUREPAIR_REDIS_MAX_PENDING  1024


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
    ngx_int_t                       n;
    ngx_str_t                      *value, s, file;
    ngx_url_t                       u;
    ngx_uint_t                      i;
    ngx_array_t                    *passwords;
    ngx_pool_cleanup_t             *cln;
    ngx_stream_securepair_redis_t  *rd, *o;

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

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = value[first].data + 6;
    u.url.len = value[first].len - 6;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid session cache \"%V\": %s",
                           &value[first],
                           u.err ? u.err : "bad address");
        return NGX_CONF_ERROR;
    }

    if (u.no_port || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid session cache \"%V\": expected "
                           "redis:HOST:PORT", &value[first]);
        return NGX_CONF_ERROR;
    }

    /* resolved now, so that no worker ever waits for a name server */
    rd->host.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (rd->host.data == NULL) {
        return NGX_CONF_ERROR;
    }

    rd->host.len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                                 rd->host.data, NGX_SOCKADDR_STRLEN, 0);
    rd->host.data[rd->host.len] = '\0';
    rd->port = u.port;

    for (i = first + 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rd->timeout = ngx_parse_time(&s, 0);
            if (rd->timeout == (ngx_msec_t) NGX_ERROR || rd->timeout == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            rd->prefix.data = value[i].data + 7;
            rd->prefix.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            n = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (n == NGX_ERROR) {
                goto invalid;
            }

            rd->db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            file.data = value[i].data + 14;
            file.len = value[i].len - 14;

            if (file.len == 0) {
                goto invalid;
            }

            /* reads the file's first line, and says why when it cannot */
            passwords = ngx_ssl_read_password_file(cf, &file);
            if (passwords == NULL) {
                return NGX_CONF_ERROR;
            }

            s = *(ngx_str_t *) passwords->elts;

            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty Redis password in \"%V\"",
                                   &file);
                return NGX_CONF_ERROR;
            }

            rd->password.data = ngx_pstrdup(cf->pool, &s);
            if (rd->password.data == NULL) {
                return NGX_CONF_ERROR;
            }

            rd->password.len = s.len;
            continue;
        }

        goto invalid;
    }

    rd->backoff = NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MIN;

    /* a new configuration (a reload) shares nothing with the old one */
    if (ngx_stream_securepair_redis_conf_cycle != cf->cycle) {
        cln = ngx_pool_cleanup_add(cf->cycle->pool, 0);
        if (cln == NULL) {
            return NGX_CONF_ERROR;
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

    spcf->session_redis = rd;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" of the Redis session cache: "
                       "expected timeout=TIME, prefix=STR, "
                       "password_file=FILE or db=N", &value[i]);
    return NGX_CONF_ERROR;
}


/* The zone first, Redis behind it. */
void
ngx_stream_securepair_redis_store(ngx_stream_securepair_redis_t *rd,
    ngx_shm_zone_t *zone, sp_session_store *store)
{
    ngx_stream_securepair_cache_store(zone, &rd->zone);

    store->add = ngx_stream_securepair_redis_add;
    store->find = NULL;
    store->find_async = ngx_stream_securepair_redis_find;
    store->arg = rd;
}


static void
ngx_stream_securepair_redis_set_done(redisAsyncContext *ac, void *r,
    void *data)
{
    ngx_stream_securepair_redis_t  *rd = data;

    redisReply  *reply = r;

    rd->pending--;

    if (reply == NULL) {
        /* the connection went away: the disconnect callback says why */
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_stream_securepair_redis_warn(rd, "write refused", reply->str);
    }
}


static int
ngx_stream_securepair_redis_add(void *arg, const uint8_t *id, size_t id_len,
    const uint8_t *session, size_t len, time_t expires)
{
    ngx_stream_securepair_redis_t  *rd = arg;
    ngx_stream_securepair_redis_t  *link = rd->link;

    int     rc;
    time_t  ttl;

    rc = rd->zone.add(rd->zone.arg, id, id_len, session, len, expires);

    ttl = expires - ngx_time();

    if (ttl <= 0) {
        return rc;
    }

    if (link->ac == NULL
        && ngx_stream_securepair_redis_connect(link) != NGX_OK)
    {
        return rc;
    }

    if (link->pending >= NGX_STREAM_SECUREPAIR_REDIS_MAX_PENDING) {
        ngx_stream_securepair_redis_warn(link, "write dropped",
                                         "too many commands wait for "
                                         "a reply");
        return rc;
    }

    if (redisAsyncCommand(link->ac, ngx_stream_securepair_redis_set_done,
                          link,
                          "SET %b%b %b PX %lld",
                          rd->prefix.data, rd->prefix.len, id, id_len,
                          session, len, (long long) ttl * 1000)
        != REDIS_OK)
    {
        ngx_stream_securepair_redis_warn(link, "write failed",
                                         "the connection is closing");
        return rc;
    }

    link->pending++;

    return rc;
}


/*
 * The pair's answer, then the pair driven and the session's handler told:
 * the handshake goes on from where it waited.
 */
static void
ngx_stream_securepair_redis_answer(ngx_stream_securepair_redis_get_t *get,
    const u_char *session, size_t len)
{
    sp_pair           *pair;
    ngx_connection_t  *c;

    pair = get->pair;
    c = get->c;

    get->pair = NULL;
    get->c = NULL;

    if (get->timer.timer_set) {
        ngx_del_timer(&get->timer);
    }

    if (get->cln) {
        get->cln->handler = NULL;
        get->cln = NULL;
    }

    (void) sp_pair_answer_session(pair, session, len);
    (void) sp_pair_drive(pair);

    ngx_post_event(c->read, &ngx_posted_events);
}


static void
ngx_stream_securepair_redis_get_done(redisAsyncContext *ac, void *r,
    void *data)
{
    ngx_stream_securepair_redis_get_t  *get = data;

    redisReply                     *reply = r;
    ngx_stream_securepair_redis_t  *rd;

    rd = get->rd;
    rd->pending--;

    if (get->pair != NULL) {

        if (reply == NULL || reply->type == REDIS_REPLY_NIL) {
            ngx_stream_securepair_redis_answer(get, NULL, 0);

        } else if (reply->type == REDIS_REPLY_STRING) {
            ngx_stream_securepair_redis_answer(get, (u_char *) reply->str,
                                               reply->len);

        } else {
            ngx_stream_securepair_redis_warn(rd, "lookup failed",
                                    reply->type == REDIS_REPLY_ERROR
                                    ? reply->str : "not a string");
            ngx_stream_securepair_redis_answer(get, NULL, 0);
        }
    }

    ngx_free(get);
}


/* Redis did not answer in time: a full handshake, and no warning each. */
static void
ngx_stream_securepair_redis_get_timeout(ngx_event_t *ev)
{
    ngx_stream_securepair_redis_get_t  *get = ev->data;

    ngx_stream_securepair_redis_warn(get->rd, "lookup timed out",
                                     "no reply within the timeout");

    /* the reply, when it comes, finds nothing to answer */
    ngx_stream_securepair_redis_answer(get, NULL, 0);
}


/* The session closes while Redis is asked: the pair is about to go. */
static void
ngx_stream_securepair_redis_get_cancel(void *data)
{
    ngx_stream_securepair_redis_get_t  *get = data;

    if (get->timer.timer_set) {
        ngx_del_timer(&get->timer);
    }

    get->pair = NULL;
    get->c = NULL;
    get->cln = NULL;
}


static int
ngx_stream_securepair_redis_find(void *arg, sp_pair *pair, const uint8_t *id,
    size_t id_len)
{
    ngx_stream_securepair_redis_t  *rd = arg;
    ngx_stream_securepair_redis_t  *link = rd->link;

    size_t                              len;
    ngx_connection_t                   *c;
    ngx_pool_cleanup_t                 *cln;
    ngx_stream_securepair_redis_get_t  *get;

    /* the zone first: a hit answers at once */
    len = sizeof(ngx_stream_securepair_redis_session);

    if (rd->zone.find(rd->zone.arg, id, id_len,
                      ngx_stream_securepair_redis_session, &len)
        == 0)
    {
        (void) sp_pair_answer_session(pair,
                                      ngx_stream_securepair_redis_session,
                                      len);
        return 0;
    }

    if (link->ac == NULL
        && ngx_stream_securepair_redis_connect(link) != NGX_OK)
    {
        return -1;
    }

    if (link->pending >= NGX_STREAM_SECUREPAIR_REDIS_MAX_PENDING) {
        ngx_stream_securepair_redis_warn(link, "lookup skipped",
                                         "too many commands wait for "
                                         "a reply");
        return -1;
    }

    c = sp_pair_get_data(pair);

    cln = ngx_pool_cleanup_add(c->pool, 0);
    if (cln == NULL) {
        return -1;
    }

    get = ngx_alloc(sizeof(ngx_stream_securepair_redis_get_t), c->log);
    if (get == NULL) {
        return -1;
    }

    ngx_memzero(get, sizeof(ngx_stream_securepair_redis_get_t));

    if (redisAsyncCommand(link->ac, ngx_stream_securepair_redis_get_done, get,
                          "GET %b%b", rd->prefix.data, rd->prefix.len,
                          id, id_len)
        != REDIS_OK)
    {
        ngx_free(get);
        return -1;
    }

    link->pending++;

    get->rd = link;
    get->pair = pair;
    get->c = c;
    get->cln = cln;

    cln->handler = ngx_stream_securepair_redis_get_cancel;
    cln->data = get;

    get->timer.handler = ngx_stream_securepair_redis_get_timeout;
    get->timer.data = get;
    get->timer.log = c->log;

    ngx_add_timer(&get->timer, rd->timeout);

    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, c->log, 0,
                   "securepair redis: GET sent, %ui waiting", link->pending);

    return 0;
}


/* At most one line every few seconds per worker, whatever goes wrong. */
static void
ngx_stream_securepair_redis_warn(ngx_stream_securepair_redis_t *rd,
    const char *what, const char *why)
{
    if (rd->warned != 0
        && ngx_current_msec - rd->warned
           < NGX_STREAM_SECUREPAIR_REDIS_WARN_EVERY)
    {
        return;
    }

    rd->warned = ngx_current_msec;
    if (rd->warned == 0) {
        rd->warned = 1;
    }

    ngx_log_error(NGX_LOG_WARN, &rd->log, 0,
                  "securepair session cache \"%V\": %s: %s "
                  "(sessions resume from this host's zone only meanwhile)",
                  &rd->name, what, why ? why : "unknown error");
}


/*
 * The adapter: hiredis asks for read and write interest on its fd, nginx
 * tells when the fd is ready.  Events are level-triggered: hiredis reads
 * once per call and relies on being called again while bytes remain.
 */

static void
ngx_stream_securepair_redis_event(ngx_event_t *ev)
{
    ngx_connection_t               *c = ev->data;
    ngx_stream_securepair_redis_t  *rd = c->data;

    if (ev->timedout) {
        /* the connect took too long: give up on this one */
        ev->timedout = 0;
        ngx_stream_securepair_redis_warn(rd, "cannot connect",
                                         "connect timed out");
        redisAsyncFree(rd->ac);
        return;
    }

    if (ev->write) {
        if (ev->timer_set) {
            ngx_del_timer(ev);
        }

        redisAsyncHandleWrite(rd->ac);
        return;
    }

    redisAsyncHandleRead(rd->ac);
}


static void
ngx_stream_securepair_redis_add_read(void *data)
{
    ngx_connection_t  *c = data;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_stream_securepair_redis_del_read(void *data)
{
    ngx_connection_t  *c = data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_stream_securepair_redis_add_write(void *data)
{
    ngx_connection_t  *c = data;

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_stream_securepair_redis_del_write(void *data)
{
    ngx_connection_t  *c = data;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


/* hiredis frees its context and then closes the fd itself */
static void
ngx_stream_securepair_redis_cleanup(void *data)
{
    ngx_connection_t               *c = data;
    ngx_stream_securepair_redis_t  *rd = c->data;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    (void) ngx_del_conn(c, NGX_CLOSE_EVENT);
    c->read->active = 0;
    c->write->active = 0;

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    rd->ac = NULL;
    rd->c = NULL;
    rd->pending = 0;
    ngx_queue_remove(&rd->queue);

    ngx_stream_securepair_redis_retry(rd);
}


static void
ngx_stream_securepair_redis_connected(const redisAsyncContext *ac,
    int status)
{
    ngx_stream_securepair_redis_t  *rd = ac->data;

    if (status != REDIS_OK) {
        ngx_stream_securepair_redis_warn(rd, "cannot connect", ac->errstr);
        return;
    }

    rd->backoff = NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MIN;

    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, &rd->log, 0,
                   "securepair redis: connected to %V", &rd->name);
}


static void
ngx_stream_securepair_redis_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_stream_securepair_redis_t  *rd = ac->data;

    if (status != REDIS_OK) {
        ngx_stream_securepair_redis_warn(rd, "connection lost", ac->errstr);
    }
}


static void
ngx_stream_securepair_redis_reconnect(ngx_event_t *ev)
{
    ngx_stream_securepair_redis_t  *rd = ev->data;

    if (rd->ac == NULL) {
        (void) ngx_stream_securepair_redis_connect(rd);
    }
}


/* The next try comes later each time: 100 ms, doubling, up to 5 s. */
static void
ngx_stream_securepair_redis_retry(ngx_stream_securepair_redis_t *rd)
{
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rd->reconnect.timer_set) {
        return;
    }

    rd->reconnect.handler = ngx_stream_securepair_redis_reconnect;
    rd->reconnect.data = rd;
    rd->reconnect.log = &rd->log;
    rd->reconnect.cancelable = 1;

    ngx_add_timer(&rd->reconnect, rd->backoff);

    rd->backoff *= 2;
    if (rd->backoff > NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MAX) {
        rd->backoff = NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MAX;
    }
}


static ngx_int_t
ngx_stream_securepair_redis_connect(ngx_stream_securepair_redis_t *rd)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    if (rd->reconnect.timer_set) {
        /* waiting for the next try */
        return NGX_DECLINED;
    }

    /* the worker's error log (the configuration's was not open yet) */
    rd->log = *ngx_cycle->log;

    /* non-blocking: the connect completes in the write handler */
    ac = redisAsyncConnect((char *) rd->host.data, rd->port);

    if (ac == NULL) {
        ngx_stream_securepair_redis_warn(rd, "cannot connect",
                                         "out of memory");
        ngx_stream_securepair_redis_retry(rd);
        return NGX_ERROR;
    }

    if (ac->err) {
        ngx_stream_securepair_redis_warn(rd, "cannot connect", ac->errstr);
        redisAsyncFree(ac);
        ngx_stream_securepair_redis_retry(rd);
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, &rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_stream_securepair_redis_retry(rd);
        return NGX_ERROR;
    }

    c->data = rd;
    c->read->handler = ngx_stream_securepair_redis_event;
    c->write->handler = ngx_stream_securepair_redis_event;
    c->read->log = &rd->log;
    c->write->log = &rd->log;

    rd->ac = ac;
    rd->c = c;
    rd->pending = 0;

    if (ngx_stream_securepair_redis_open.next == NULL) {
        ngx_queue_init(&ngx_stream_securepair_redis_open);
    }

    ngx_queue_insert_tail(&ngx_stream_securepair_redis_open, &rd->queue);

    ac->data = rd;
    ac->ev.data = c;
    ac->ev.addRead = ngx_stream_securepair_redis_add_read;
    ac->ev.delRead = ngx_stream_securepair_redis_del_read;
    ac->ev.addWrite = ngx_stream_securepair_redis_add_write;
    ac->ev.delWrite = ngx_stream_securepair_redis_del_write;
    ac->ev.cleanup = ngx_stream_securepair_redis_cleanup;

    (void) redisAsyncSetConnectCallback(ac,
                                    ngx_stream_securepair_redis_connected);
    (void) redisAsyncSetDisconnectCallback(ac,
                                    ngx_stream_securepair_redis_disconnected);

    /* a host that never answers the connect does not hold us for long */
    ngx_add_timer(c->write, ngx_max(rd->timeout, 1000));

    /* queued before the connect completes: they go first */
    if (rd->password.len) {
        if (redisAsyncCommand(ac, ngx_stream_securepair_redis_set_done, rd,
                              "AUTH %b", rd->password.data,
                              rd->password.len)
            == REDIS_OK)
        {
            rd->pending++;
        }
    }

    if (rd->db) {
        if (redisAsyncCommand(ac, ngx_stream_securepair_redis_set_done, rd,
                              "SELECT %d", (int) rd->db)
            == REDIS_OK)
        {
            rd->pending++;
        }
    }

    /* hiredis asks for write interest to learn when the connect is done */
    ngx_stream_securepair_redis_add_write(c);

    return NGX_OK;
}


/*
 * The worker exits: its connections close (nginx checks that no socket
 * is left), and no reconnect follows.
 */
void
ngx_stream_securepair_redis_exit(void)
{
    ngx_queue_t                    *q;
    ngx_stream_securepair_redis_t  *rd;

    if (ngx_stream_securepair_redis_open.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_stream_securepair_redis_open)) {
        q = ngx_queue_head(&ngx_stream_securepair_redis_open);
        rd = ngx_queue_data(q, ngx_stream_securepair_redis_t, queue);

        /* the cleanup hook takes it off the list */
        redisAsyncFree(rd->ac);

        if (rd->reconnect.timer_set) {
            ngx_del_timer(&rd->reconnect);
        }
    }
}
