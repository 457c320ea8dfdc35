
/*
 * Certificates named with variables: the per-handshake selection
 * (ngx_stream_securepair_certname.c) and the worker's cache of what was
 * loaded (ngx_stream_securepair_certname_cache.c).
 */


#ifndef _NGX_STREAM_SECUREPAIR_CERTNAME_H_INCLUDED_
#define _NGX_STREAM_SECUREPAIR_CERTNAME_H_INCLUDED_


#include "ngx_stream_securepair_module.h"


/* pairs with variables a server may have: one per key type is plenty */
#define NGX_SP_CERT_NAMES  4


/* What says that a file changed. */
typedef struct {
    dev_t                      dev;
    ngx_file_uniq_t            uniq;
    off_t                      size;
    time_t                     mtime;
    long                       mtime_nsec;
} ngx_stream_securepair_file_id_t;


/* One name's files, and what was loaded from them. */
typedef struct {
    ngx_str_node_t             sn;          /* key: the files' full names,
                                               each ended by a NUL */
    ngx_queue_t                queue;       /* in loaded or failed */
    sp_creds                  *creds;       /* NULL: the files failed */
    time_t                     checked;     /* files looked at */
    time_t                     used;
    ngx_uint_t                 nfiles;
    ngx_stream_securepair_file_id_t  files[1];
} ngx_stream_securepair_cert_t;


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                loaded;      /* most recently used first */
    ngx_queue_t                failed;
    ngx_uint_t                 nloaded;
    ngx_uint_t                 nfailed;
} ngx_stream_securepair_certcache_t;


ngx_stream_securepair_certcache_t *ngx_stream_securepair_certcache(
    ngx_stream_securepair_srv_conf_t *conf);
ngx_stream_securepair_cert_t *ngx_stream_securepair_certcache_find(
    ngx_connection_t *c, ngx_stream_securepair_srv_conf_t *conf,
    ngx_stream_securepair_certcache_t *cache, ngx_str_t *key, uint32_t hash,
    time_t now, const char *servername);
void ngx_stream_securepair_certcache_add(
    ngx_stream_securepair_srv_conf_t *conf,
    ngx_stream_securepair_certcache_t *cache,
    ngx_stream_securepair_cert_t *cert, time_t now);
void ngx_stream_securepair_certname_ids(ngx_stream_securepair_cert_t *cert,
    ngx_stream_securepair_file_id_t *ids);
void ngx_stream_securepair_certname_cleanup(void *data);


#endif /* _NGX_STREAM_SECUREPAIR_CERTNAME_H_INCLUDED_ */
