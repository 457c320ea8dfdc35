
/*
 * securepair_session_cache shared:NAME:SIZE redis:HOST:PORT ... — the
 * shared zone stays the first level; every new session is also written
 * to Redis (SET key value PX lifetime), so that the other hosts of a
 * fleet can find it.  The SET goes to the socket at once, before the
 * flight that gives the client its session, when the connection is up
 * (ngx_stream_securepair_redis_send_now).
 *
 * A lookup asks the zone first; on a miss, the pair waits (the runtime's
 * find_async) while Redis is asked (GET), and the reply answers it, or a
 * timer does after `timeout`: "not found", a full handshake.  A session
 * Redis finds is also kept in the zone until it ends (the session says
 * when): this host resumes it again without asking Redis.
 *
 * Redis does not find a session: it is asked once more before the pair
 * hears "not found".  Redis serves its connections in the order its event
 * loop finds them ready, not in the order their bytes arrived: a client
 * that comes back at once, to another host, with the session the first
 * one just gave it, can have that host's GET run a few tens of
 * microseconds before the first host's SET, already waiting in Redis's
 * other socket.  The second GET is read in a later round of Redis's loop
 * than the first, so after that SET, unless Redis is still reading a
 * backlog on the other connection (two runs of make bench's fleet:
 * 43 of 12,066 TLS 1.3 lookups missed at first, none the second time).
 * A session that is not there at all costs one more round trip, within
 * the same `timeout`.
 *
 * The connection itself, its reconnects and warnings are the adapter's
 * (ngx_stream_securepair_redis.c); the directive's argument is read in
 * ngx_stream_securepair_redis_conf.c.
 */


#include "ngx_stream_securepair_redis.h"


/*
 * A lookup in Redis.  It lives until its reply (or the connection's
 * end) comes, which may be after the session closed: `pair`
 * is then NULL, and the reply finds nothing to answer, but a session
 * found still goes to the zone.
 */
typedef struct {
    ngx_stream_securepair_redis_t  *rd;       /* the cache (rd->link asks) */
    sp_pair                        *pair;     /* NULL: answered, or gone */
    ngx_connection_t               *c;
    ngx_pool_cleanup_t             *cln;
    ngx_event_t                     timer;
    ngx_uint_t                      asked;    /* GETs sent */
    size_t                          id_len;   /* 0: not kept */
    u_char                          id[SSL_MAX_SSL_SESSION_ID_LENGTH];
} ngx_stream_securepair_redis_get_t;


/* A session from the zone, copied out before the pair copies it in. */
#define NGX_STREAM_SECUREPAIR_REDIS_SESSION_MAX  (64 * 1024)

static u_char  ngx_stream_securepair_redis_session[
                                   NGX_STREAM_SECUREPAIR_REDIS_SESSION_MAX];


static int ngx_stream_securepair_redis_add(void *arg, const uint8_t *id,
    size_t id_len, const uint8_t *session, size_t len, time_t expires);
static int ngx_stream_securepair_redis_find(void *arg, sp_pair *pair,
    const uint8_t *id, size_t id_len);
static ngx_int_t ngx_stream_securepair_redis_ready(
    ngx_stream_securepair_redis_t *link, const char *what);
static ngx_int_t ngx_stream_securepair_redis_get(
    ngx_stream_securepair_redis_t *rd, sp_pair *pair, const uint8_t *id,
    size_t id_len);
static ngx_int_t ngx_stream_securepair_redis_ask(
    ngx_stream_securepair_redis_get_t *get, const uint8_t *id,
    size_t id_len);


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

    if (ngx_stream_securepair_redis_ready(link, "write dropped") != NGX_OK) {
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

    ngx_stream_securepair_redis_send_now(link);

    return rc;
}


/*
 * The worker's connection, opened when there is none: NGX_OK when it
 * takes a command now; NGX_DECLINED when it cannot, or when too many
 * wait for a reply already (warned as `what`).
 */
static ngx_int_t
ngx_stream_securepair_redis_ready(ngx_stream_securepair_redis_t *link,
    const char *what)
{
    if (link->ac == NULL
        && ngx_stream_securepair_redis_connect(link) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (link->pending >= NGX_STREAM_SECUREPAIR_REDIS_MAX_PENDING) {
        ngx_stream_securepair_redis_warn(link, what,
                                         "too many commands wait for "
                                         "a reply");
        return NGX_DECLINED;
    }

    return NGX_OK;
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


/*
 * A session found goes to the zone until it ends, as the session itself
 * says: the zone keeps it no longer than the host that made it would.
 * Redis's own expiry of the key is that same end (SET ... PX).
 */
static void
ngx_stream_securepair_redis_keep(ngx_stream_securepair_redis_get_t *get,
    const u_char *session, size_t len)
{
    time_t                          expires, left;
    ngx_stream_securepair_redis_t  *rd = get->rd;

    /* a longer one could never be copied out of the zone */
    if (get->id_len == 0 || len > NGX_STREAM_SECUREPAIR_REDIS_SESSION_MAX
        || sp_session_expires(session, len, &expires) != SP_OK)
    {
        return;
    }

    left = expires - ngx_time();

    if (left < 1) {
        return;
    }

    if (rd->zone.add(rd->zone.arg, get->id, get->id_len, session, len,
                     expires)
        == 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_STREAM,
                       get->c ? get->c->log : &rd->link->log, 0,
                       "securepair redis: session kept in the zone "
                       "for %T s", left);
    }
}


static void
ngx_stream_securepair_redis_get_done(redisAsyncContext *ac, void *r,
    void *data)
{
    ngx_stream_securepair_redis_get_t  *get = data;

    redisReply                     *reply = r;
    ngx_stream_securepair_redis_t  *link;

    link = get->rd->link;
    link->pending--;

    if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
        ngx_stream_securepair_redis_keep(get, (u_char *) reply->str,
                                         reply->len);
    }

    if (get->pair != NULL) {

        if (reply != NULL && reply->type == REDIS_REPLY_NIL
            && get->asked == 1 && get->id_len > 0
            && ngx_stream_securepair_redis_ask(get, get->id, get->id_len)
               == NGX_OK)
        {
            /* asked again (see the top): the same lookup waits on */
            return;
        }

        if (reply == NULL || reply->type == REDIS_REPLY_NIL) {
            ngx_stream_securepair_redis_answer(get, NULL, 0);

        } else if (reply->type == REDIS_REPLY_STRING) {
            ngx_stream_securepair_redis_answer(get, (u_char *) reply->str,
                                               reply->len);

        } else {
            ngx_stream_securepair_redis_warn(link, "lookup failed",
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

    ngx_stream_securepair_redis_warn(get->rd->link, "lookup timed out",
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

    size_t  len;

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

    if (ngx_stream_securepair_redis_ready(rd->link, "lookup skipped")
        != NGX_OK)
    {
        return -1;
    }

    return ngx_stream_securepair_redis_get(rd, pair, id, id_len) == NGX_OK
           ? 0 : -1;
}


/*
 * Asks Redis for the session of `id` on behalf of the pair, which waits
 * for the reply or for the timer.
 */
static ngx_int_t
ngx_stream_securepair_redis_get(ngx_stream_securepair_redis_t *rd,
    sp_pair *pair, const uint8_t *id, size_t id_len)
{
    ngx_connection_t                   *c;
    ngx_pool_cleanup_t                 *cln;
    ngx_stream_securepair_redis_get_t  *get;

    c = sp_pair_get_data(pair);

    cln = ngx_pool_cleanup_add(c->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    get = ngx_alloc(sizeof(ngx_stream_securepair_redis_get_t), c->log);
    if (get == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(get, sizeof(ngx_stream_securepair_redis_get_t));

    get->rd = rd;

    if (id_len <= sizeof(get->id)) {
        ngx_memcpy(get->id, id, id_len);
        get->id_len = id_len;
    }

    get->c = c;

    if (ngx_stream_securepair_redis_ask(get, id, id_len) != NGX_OK) {
        ngx_free(get);
        return NGX_ERROR;
    }

    get->pair = pair;
    get->cln = cln;

    cln->handler = ngx_stream_securepair_redis_get_cancel;
    cln->data = get;

    get->timer.handler = ngx_stream_securepair_redis_get_timeout;
    get->timer.data = get;
    get->timer.log = c->log;

    ngx_add_timer(&get->timer, rd->timeout);

    return NGX_OK;
}


/* One GET on the worker's connection for the lookup `get` of `get->c`. */
static ngx_int_t
ngx_stream_securepair_redis_ask(ngx_stream_securepair_redis_get_t *get,
    const uint8_t *id, size_t id_len)
{
    ngx_stream_securepair_redis_t  *rd = get->rd;
    ngx_stream_securepair_redis_t  *link = rd->link;

    /* link->ac is there: _ready() opened it, or its reply calls us */
    if (redisAsyncCommand(link->ac, ngx_stream_securepair_redis_get_done,
                          get, "GET %b%b", rd->prefix.data, rd->prefix.len,
                          id, id_len)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    link->pending++;
    get->asked++;

    ngx_log_debug2(NGX_LOG_DEBUG_STREAM, get->c->log, 0,
                   "securepair redis: GET sent%s, %ui waiting",
                   get->asked > 1 ? " again" : "", link->pending);

    return NGX_OK;
}
