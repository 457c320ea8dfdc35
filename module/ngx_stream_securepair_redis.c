
/*
 * The hiredis asynchronous adapter of the Redis session cache
 * (ngx_stream_securepair_redis_cache.c).
 *
 * Each worker keeps one connection to Redis, driven by hiredis's
 * asynchronous API on nginx's own event loop: the adapter below gives
 * hiredis's fd an ngx_connection_t, reads whenever it is readable, and
 * turns hiredis's addWrite/delWrite hooks into write interest.  Nothing
 * here blocks: the address is resolved when the configuration is read,
 * the connect is non-blocking, commands are queued by hiredis and
 * pipelined.
 *
 * Redis is a cache, never a dependency: when it is down, slow or answers
 * garbage, lookups find nothing, writes are dropped, a warning is logged
 * at most every few seconds, and the worker reconnects with a growing
 * delay.
 */


#include "ngx_stream_securepair_redis.h"


/* The worker's connections, closed when it exits. */
static ngx_queue_t  ngx_stream_securepair_redis_open;


static ngx_int_t ngx_stream_securepair_redis_attach(
    ngx_stream_securepair_redis_t *rd, redisAsyncContext *ac);
static void ngx_stream_securepair_redis_login(
    ngx_stream_securepair_redis_t *rd);
static void ngx_stream_securepair_redis_retry(
    ngx_stream_securepair_redis_t *rd);


#define NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MAX  5000
#define NGX_STREAM_SECUREPAIR_REDIS_WARN_EVERY   5000


/* A reply that is only checked: AUTH, SELECT, SET. */
void
ngx_stream_securepair_redis_set_done(redisAsyncContext *ac, void *r,
    void *data)
{
    ngx_stream_securepair_redis_t  *rd = data;

    redisReply  *reply = r;

    rd->pending--;

    if (reply == NULL) {
        /* the connection went away: the cleanup hook says why */
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_stream_securepair_redis_warn(rd, "write refused", reply->str);
    }
}


/* At most one line every few seconds per worker, whatever goes wrong. */
void
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


/*
 * hiredis's addWrite and delWrite, both: write interest while hiredis has
 * something to send or a connect to finish, as its state says, whichever
 * hook it called.  Read interest needs no hook: it is taken once, when
 * the fd gets its connection, and lasts as long as the connection
 * (hiredis only ever adds it again, and never calls delRead).
 */
static void
ngx_stream_securepair_redis_want_write(void *data)
{
    ngx_connection_t               *c = data;
    ngx_stream_securepair_redis_t  *rd = c->data;

    ngx_uint_t     want;
    redisContext  *rc;

    rc = &rd->ac->c;
    want = !(rc->flags & REDIS_CONNECTED) || sdslen(rc->obuf) > 0;

    if (want && !c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);

    } else if (!want && c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


/*
 * What hiredis holds for Redis is written now, not when the event loop
 * comes round to the write event (when the connection is up and its
 * socket takes the bytes): a new session's SET then leaves before
 * the handshake's flight that gives the session to the client, however
 * many other events this turn of the loop still has to serve, and a
 * client that comes straight back to another host cannot ask for it
 * before it reached Redis.  A failed write is hiredis's to find at its
 * next event, which then ends the connection the usual way.
 */
void
ngx_stream_securepair_redis_send_now(ngx_stream_securepair_redis_t *rd)
{
    int  done;

    if (rd->ac == NULL || !(rd->ac->c.flags & REDIS_CONNECTED)) {
        return;
    }

    /*
     * Write interest stays as it is: the write event finds the buffer
     * empty and drops it once for the loop's turn, not once a session.
     */
    (void) redisBufferWrite(&rd->ac->c, &done);
}


/*
 * hiredis frees its context and then closes the fd itself.  Whatever
 * ended the connection ends here, so it is said here, once: a connect
 * that failed, or a connection lost (hiredis's error; none when we
 * closed it ourselves).
 */
static void
ngx_stream_securepair_redis_cleanup(void *data)
{
    ngx_connection_t               *c = data;
    ngx_stream_securepair_redis_t  *rd = c->data;

    if (rd->ac->err) {
        ngx_stream_securepair_redis_warn(rd,
                                      (rd->ac->c.flags & REDIS_CONNECTED)
                                      ? "connection lost" : "cannot connect",
                                      rd->ac->errstr);
    }

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


/* A failed connect is said by the cleanup hook that follows it. */
static void
ngx_stream_securepair_redis_connected(const redisAsyncContext *ac,
    int status)
{
    ngx_stream_securepair_redis_t  *rd = ac->data;

    if (status != REDIS_OK) {
        return;
    }

    rd->backoff = NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MIN;

    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, &rd->log, 0,
                   "securepair redis: connected to %V", &rd->name);
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


ngx_int_t
ngx_stream_securepair_redis_connect(ngx_stream_securepair_redis_t *rd)
{
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

    if (ngx_stream_securepair_redis_attach(rd, ac) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_stream_securepair_redis_retry(rd);
        return NGX_ERROR;
    }

    /* a host that never answers the connect does not hold us for long */
    ngx_add_timer(rd->c->write, ngx_max(rd->timeout, 1000));

    ngx_stream_securepair_redis_login(rd);

    /* write interest tells when the connect is done */
    ngx_stream_securepair_redis_want_write(rd->c);

    return NGX_OK;
}


/*
 * hiredis's fd gets an nginx connection, its events our handler, and
 * hiredis's hooks and callbacks are ours.
 */
static ngx_int_t
ngx_stream_securepair_redis_attach(ngx_stream_securepair_redis_t *rd,
    redisAsyncContext *ac)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, &rd->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = rd;
    c->read->handler = ngx_stream_securepair_redis_event;
    c->write->handler = ngx_stream_securepair_redis_event;
    c->read->log = &rd->log;
    c->write->log = &rd->log;

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
        return NGX_ERROR;
    }

    rd->ac = ac;
    rd->c = c;
    rd->pending = 0;

    if (ngx_stream_securepair_redis_open.next == NULL) {
        ngx_queue_init(&ngx_stream_securepair_redis_open);
    }

    ngx_queue_insert_tail(&ngx_stream_securepair_redis_open, &rd->queue);

    ac->data = rd;
    ac->ev.data = c;
    ac->ev.addWrite = ngx_stream_securepair_redis_want_write;
    ac->ev.delWrite = ngx_stream_securepair_redis_want_write;
    ac->ev.cleanup = ngx_stream_securepair_redis_cleanup;

    (void) redisAsyncSetConnectCallback(ac,
                                    ngx_stream_securepair_redis_connected);

    return NGX_OK;
}


/* AUTH and SELECT, queued before the connect completes: they go first. */
static void
ngx_stream_securepair_redis_login(ngx_stream_securepair_redis_t *rd)
{
    if (rd->password.len) {
        if (redisAsyncCommand(rd->ac, ngx_stream_securepair_redis_set_done,
                              rd, "AUTH %b", rd->password.data,
                              rd->password.len)
            == REDIS_OK)
        {
            rd->pending++;
        }
    }

    if (rd->db) {
        if (redisAsyncCommand(rd->ac, ngx_stream_securepair_redis_set_done,
                              rd, "SELECT %d", (int) rd->db)
            == REDIS_OK)
        {
            rd->pending++;
        }
    }
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
