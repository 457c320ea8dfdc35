
/*
 * securepair_session_cache shared:NAME:SIZE — the runtime's session store
 * in nginx shared memory, used by every worker and kept across reloads
 * while its size stays the same.  A redis:HOST:PORT after it puts Redis
 * behind the zone (ngx_stream_securepair_redis_cache.c).
 *
 * Sessions live in a red-black tree keyed by a hash of their id, and in a
 * queue from the newest to the oldest: expired entries are dropped as new
 * ones come, and when the zone is full the oldest go, so a full cache
 * never fails a handshake.
 */


#include "ngx_stream_securepair_module.h"


typedef struct {
    ngx_rbtree_node_t          node;      /* key: crc32 of the id */
    ngx_queue_t                queue;
    time_t                     expires;
    u_char                     id_len;
    u_char                     id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    size_t                     len;
    u_char                     data[1];
} ngx_stream_securepair_session_t;


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                expire_queue;   /* newest at the head */
} ngx_stream_securepair_cache_sh_t;


typedef struct {
    ngx_stream_securepair_cache_sh_t  *sh;
    ngx_slab_pool_t                   *shpool;
} ngx_stream_securepair_cache_t;


static ngx_int_t ngx_stream_securepair_cache_parse(ngx_str_t *value,
    ngx_str_t *name, ssize_t *size);
static ngx_int_t ngx_stream_securepair_cache_zone(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *spcf, ngx_str_t *value,
    ngx_str_t *name, ssize_t size);
static ngx_int_t ngx_stream_securepair_cache_init(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_stream_securepair_cache_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static int ngx_stream_securepair_cache_add(void *arg, const uint8_t *id,
    size_t id_len, const uint8_t *session, size_t len, time_t expires);
static int ngx_stream_securepair_cache_find(void *arg, const uint8_t *id,
    size_t id_len, uint8_t *buf, size_t *len);


/* Sessions are a few kilobytes; a zone must hold at least a handful. */
#define NGX_STREAM_SECUREPAIR_CACHE_MIN  (8 * ngx_pagesize)


char *
ngx_stream_securepair_session_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_stream_securepair_srv_conf_t  *spcf = conf;

    ssize_t     size;
    ngx_str_t  *value, name;

    if (spcf->session_cache != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts > 2 && ngx_strncmp(value[1].data, "shared:", 7) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a Redis session cache needs a shared zone "
                           "first: shared:NAME:SIZE redis:HOST:PORT");
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        spcf->session_cache = SP_SESSION_CACHE_OFF;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "none") == 0) {
        spcf->session_cache = SP_SESSION_CACHE_NONE;
        return NGX_CONF_OK;
    }

    if (ngx_stream_securepair_cache_parse(&value[1], &name, &size) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid session cache \"%V\": expected off, none "
                           "or shared:NAME:SIZE", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_stream_securepair_cache_zone(cf, spcf, &value[1], &name, size)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    spcf->session_cache = SP_SESSION_CACHE_STORE;

    if (cf->args->nelts > 2) {
        return ngx_stream_securepair_redis_conf(cf, spcf, 2);
    }

    return NGX_CONF_OK;
}


/* shared:NAME:SIZE, its name and its size; NGX_DECLINED: anything else. */
static ngx_int_t
ngx_stream_securepair_cache_parse(ngx_str_t *value, ngx_str_t *name,
    ssize_t *size)
{
    ngx_str_t  s;

    if (ngx_strncmp(value->data, "shared:", 7) != 0) {
        return NGX_DECLINED;
    }

    name->data = value->data + 7;
    s.data = (u_char *) ngx_strlchr(name->data, value->data + value->len,
                                    ':');

    if (s.data == NULL) {
        return NGX_DECLINED;
    }

    name->len = s.data - name->data;
    s.data++;
    s.len = value->data + value->len - s.data;

    if (name->len == 0) {
        return NGX_DECLINED;
    }

    *size = ngx_parse_size(&s);

    return *size == NGX_ERROR ? NGX_DECLINED : NGX_OK;
}


/*
 * The zone of the server's sessions: the same name in another server (or
 * in the next configuration, with the same size) is the same zone.
 */
static ngx_int_t
ngx_stream_securepair_cache_zone(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *spcf, ngx_str_t *value,
    ngx_str_t *name, ssize_t size)
{
    ngx_stream_securepair_cache_t  *cache;

    if (size < (ssize_t) NGX_STREAM_SECUREPAIR_CACHE_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "session cache \"%V\" is too small: %z bytes "
                           "cannot hold a session; it needs at least %uz",
                           value, size,
                           (size_t) NGX_STREAM_SECUREPAIR_CACHE_MIN);
        return NGX_ERROR;
    }

    spcf->session_zone = ngx_shared_memory_add(cf, name, size,
                                               &ngx_stream_securepair_module);
    if (spcf->session_zone == NULL) {
        return NGX_ERROR;
    }

    if (spcf->session_zone->data == NULL) {
        cache = ngx_pcalloc(cf->pool, sizeof(ngx_stream_securepair_cache_t));
        if (cache == NULL) {
            return NGX_ERROR;
        }

        spcf->session_zone->init = ngx_stream_securepair_cache_init;
        spcf->session_zone->data = cache;
    }

    return NGX_OK;
}


void
ngx_stream_securepair_cache_store(ngx_shm_zone_t *zone,
    sp_session_store *store)
{
    store->add = ngx_stream_securepair_cache_add;
    store->find = ngx_stream_securepair_cache_find;
    store->arg = zone;
}


static ngx_int_t
ngx_stream_securepair_cache_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_stream_securepair_cache_t  *ocache = data;

    size_t                          len;
    ngx_slab_pool_t                *shpool;
    ngx_stream_securepair_cache_t  *cache;

    cache = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    cache->shpool = shpool;

    if (ocache) {
        /* a reload with the same size: the sessions stay */
        cache->sh = ocache->sh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        cache->sh = shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_alloc(shpool,
                               sizeof(ngx_stream_securepair_cache_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_stream_securepair_cache_insert);
    ngx_queue_init(&cache->sh->expire_queue);

    len = sizeof(" in securepair session cache \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in securepair session cache \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is normal for a cache: we evict, no need to log */
    shpool->log_nomem = 0;

    return NGX_OK;
}


/* The tree is ordered by the hash, then by the id itself. */
static void
ngx_stream_securepair_cache_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t               **p;
    ngx_stream_securepair_session_t  *n, *t;

    n = (ngx_stream_securepair_session_t *) node;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            t = (ngx_stream_securepair_session_t *) temp;
            p = (ngx_memn2cmp(n->id, t->id, n->id_len, t->id_len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static void
ngx_stream_securepair_cache_delete(ngx_stream_securepair_cache_t *cache,
    ngx_stream_securepair_session_t *sess)
{
    ngx_queue_remove(&sess->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, &sess->node);
    ngx_slab_free_locked(cache->shpool, sess);
}


/* Drops expired sessions from the old end; `n` at most, all if 0. */
static void
ngx_stream_securepair_cache_expire(ngx_stream_securepair_cache_t *cache,
    ngx_uint_t n, time_t now)
{
    ngx_queue_t                      *q;
    ngx_stream_securepair_session_t  *sess;

    while (!ngx_queue_empty(&cache->sh->expire_queue)) {
        q = ngx_queue_last(&cache->sh->expire_queue);
        sess = ngx_queue_data(q, ngx_stream_securepair_session_t, queue);

        if (now != 0 && sess->expires > now) {
            return;
        }

        ngx_stream_securepair_cache_delete(cache, sess);

        if (n && --n == 0) {
            return;
        }
    }
}


static ngx_stream_securepair_session_t *
ngx_stream_securepair_cache_lookup(ngx_stream_securepair_cache_t *cache,
    const uint8_t *id, size_t id_len, uint32_t hash)
{
    ngx_rbtree_node_t                *node, *sentinel;
    ngx_stream_securepair_session_t  *sess;

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        sess = (ngx_stream_securepair_session_t *) node;

        if (sess->id_len == id_len && ngx_memcmp(sess->id, id, id_len) == 0)
        {
            return sess;
        }

        /* equal hashes are ordered by id, as inserted */
        node = (ngx_memn2cmp((u_char *) id, sess->id, id_len, sess->id_len)
                < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * Locks the store's zone and finds the session of `id` (NULL: none), with
 * the id's hash when asked; NGX_DECLINED, unlocked, for an id that no
 * session can have.
 */
static ngx_int_t
ngx_stream_securepair_cache_open(ngx_shm_zone_t *zone, const uint8_t *id,
    size_t id_len, ngx_stream_securepair_cache_t **cache, uint32_t *hash,
    ngx_stream_securepair_session_t **sess)
{
    uint32_t  h;

    if (id_len == 0 || id_len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return NGX_DECLINED;
    }

    h = ngx_crc32_short((u_char *) id, id_len);
    *cache = zone->data;

    if (hash) {
        *hash = h;
    }

    ngx_shmtx_lock(&(*cache)->shpool->mutex);

    *sess = ngx_stream_securepair_cache_lookup(*cache, id, id_len, h);
    return NGX_OK;
}


static int
ngx_stream_securepair_cache_add(void *arg, const uint8_t *id, size_t id_len,
    const uint8_t *session, size_t len, time_t expires)
{
    uint32_t                          hash;
    ngx_uint_t                        tries;
    ngx_stream_securepair_cache_t    *cache;
    ngx_stream_securepair_session_t  *sess;

    if (ngx_stream_securepair_cache_open(arg, id, id_len, &cache, &hash,
                                         &sess)
        != NGX_OK)
    {
        return -1;
    }

    /* the new session replaces one of the same id */
    if (sess) {
        ngx_stream_securepair_cache_delete(cache, sess);
    }

    /* two expired ones for every new one keeps the zone tidy */
    ngx_stream_securepair_cache_expire(cache, 2, ngx_time());

    for (tries = 0; tries < 64; tries++) {
        sess = ngx_slab_alloc_locked(cache->shpool,
                           offsetof(ngx_stream_securepair_session_t, data)
                           + len);
        if (sess != NULL) {
            break;
        }

        if (ngx_queue_empty(&cache->sh->expire_queue)) {
            break;
        }

        /* full: the oldest session goes, however fresh */
        ngx_stream_securepair_cache_delete(cache,
                ngx_queue_data(ngx_queue_last(&cache->sh->expire_queue),
                               ngx_stream_securepair_session_t, queue));
    }

    if (sess == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return -1;
    }

    sess->node.key = hash;
    sess->expires = expires;
    sess->id_len = (u_char) id_len;
    ngx_memcpy(sess->id, id, id_len);
    sess->len = len;
    ngx_memcpy(sess->data, session, len);

    ngx_rbtree_insert(&cache->sh->rbtree, &sess->node);
    ngx_queue_insert_head(&cache->sh->expire_queue, &sess->queue);

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return 0;
}


static int
ngx_stream_securepair_cache_find(void *arg, const uint8_t *id, size_t id_len,
    uint8_t *buf, size_t *len)
{
    int                               rc;
    ngx_stream_securepair_cache_t    *cache;
    ngx_stream_securepair_session_t  *sess;

    if (ngx_stream_securepair_cache_open(arg, id, id_len, &cache, NULL, &sess)
        != NGX_OK)
    {
        return -1;
    }

    rc = -1;

    if (sess != NULL) {
        if (sess->expires <= ngx_time()) {
            ngx_stream_securepair_cache_delete(cache, sess);

        } else if (sess->len <= *len) {
            ngx_memcpy(buf, sess->data, sess->len);
            *len = sess->len;
            rc = 0;
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return rc;
}
