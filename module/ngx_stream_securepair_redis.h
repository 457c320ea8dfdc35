
/*
 * The Redis session cache's two halves: the hiredis adapter on nginx's
 * event loop (ngx_stream_securepair_redis.c) and the session cache built
 * on it (ngx_stream_securepair_redis_cache.c).
 */


#ifndef _NGX_STREAM_SECUREPAIR_REDIS_H_INCLUDED_
#define _NGX_STREAM_SECUREPAIR_REDIS_H_INCLUDED_


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


#define NGX_STREAM_SECUREPAIR_REDIS_BACKOFF_MIN  100

/*
 * Commands queued without a reply: past this, Redis is not keeping up
 * and new writes are dropped rather than piled up in the worker.
 */
#define NGX_STREAM_SECUREPAIR_REDIS_MAX_PENDING  1024


ngx_int_t ngx_stream_securepair_redis_connect(
    ngx_stream_securepair_redis_t *rd);
void ngx_stream_securepair_redis_warn(ngx_stream_securepair_redis_t *rd,
    const char *what, const char *why);
void ngx_stream_securepair_redis_set_done(redisAsyncContext *ac, void *r,
    void *data);
void ngx_stream_securepair_redis_send_now(ngx_stream_securepair_redis_t *rd);


#endif /* _NGX_STREAM_SECUREPAIR_REDIS_H_INCLUDED_ */
