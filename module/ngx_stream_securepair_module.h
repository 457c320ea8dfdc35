
/*
 * ngx_stream_securepair_module: TLS termination for nginx stream servers
 * through the securepair runtime.  Shared definitions of the module files.
 */


#ifndef _NGX_STREAM_SECUREPAIR_MODULE_H_INCLUDED_
#define _NGX_STREAM_SECUREPAIR_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include <securepair.h>

#if (NGX_LINUX)
#include <linux/sockios.h>
#endif


/* A Redis session cache behind the shared zone (_redis.c, _redis_cache.c). */
typedef struct ngx_stream_securepair_redis_s  ngx_stream_securepair_redis_t;


/*
 * A file (or a value) named by a directive, with where it was named;
 * `value` is the second argument of one that takes two
 * (securepair_conf_command).
 */
typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  value;
    u_char                    *file;
    ngx_uint_t                 line;
} ngx_stream_securepair_file_t;


/* One `securepair_context` directive: an SNI name and its credentials. */
typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  certificate;
    ngx_str_t                  certificate_key;
    ngx_stream_securepair_file_t  ca;
    ngx_stream_securepair_file_t  trusted;
    ngx_stream_securepair_file_t  crl;
    ngx_int_t                  request_cert;         /* -1: inherit */
    ngx_int_t                  reject_unauthorized;  /* -1: inherit */
    ngx_int_t                  verify_depth;         /* -1: inherit */
    u_char                    *file;
    ngx_uint_t                 line;
} ngx_stream_securepair_context_t;


/* A certificate and key named with variables, evaluated per handshake. */
typedef struct {
    ngx_stream_complex_value_t  certificate;
    ngx_stream_complex_value_t  certificate_key;
} ngx_stream_securepair_cert_name_t;


typedef struct {
    ngx_flag_t                 enable;

    ngx_array_t               *certificates;      /* of ..._file_t */
    ngx_array_t               *certificate_keys;  /* of ..._file_t */
    ngx_array_t               *password_file;     /* one ..._file_t */
    ngx_array_t               *ca;                /* one ..._file_t */
    ngx_array_t               *trusted;           /* one ..._file_t */
    ngx_array_t               *crl;               /* one ..._file_t */
    ngx_int_t                  verify_depth;
    ngx_flag_t                 request_cert;
    ngx_flag_t                 reject_unauthorized;
    ngx_str_t                  ciphers;
    ngx_array_t               *ecdh_curve;        /* one ..._file_t */
    ngx_array_t               *dhparam;           /* one ..._file_t */
    ngx_flag_t                 prefer_server_ciphers;
    ngx_array_t               *conf_commands;     /* of ..._file_t */
    ngx_array_t               *keylog;            /* one ..._file_t */
    ngx_uint_t                 protocols;
    ngx_array_t               *npn_protocols;
    ngx_array_t               *alpn_protocols;
    ngx_array_t               *contexts;
    ngx_flag_t                 reject_unknown_servername;
    ngx_int_t                  reneg_limit;
    time_t                     reneg_window;
    ngx_str_t                  session_id_context;
    ngx_int_t                  session_cache;      /* SP_SESSION_CACHE_* */
    ngx_shm_zone_t            *session_zone;
    ngx_stream_securepair_redis_t *session_redis; /* redis:..., or NULL */
    time_t                     session_timeout;
    ngx_flag_t                 session_tickets;
    ngx_array_t               *session_ticket_keys; /* of ..._file_t */
    ngx_int_t                  session_ticket_count;
    ngx_msec_t                 handshake_timeout;
    ngx_int_t                  max_connections;
    ngx_flag_t                 proxy_protocol;

    ngx_str_t                  echo_greeting;     /* securepair_echo */

    /*
     * Certificates named with variables (securepair_certificate
     * .../$securepair_servername.crt): the pairs, their settings, and
     * securepair_certificate_cache; the cache itself is the worker's,
     * made at its first handshake (_certname_cache.c).
     */
    ngx_array_t               *cert_names;    /* of ..._cert_name_t */
    sp_creds                  *cert_model;
    ngx_int_t                  cert_cache_max;      /* 0: off */
    time_t                     cert_cache_inactive;
    time_t                     cert_cache_valid;
    void                      *cert_cache;

    /* built by the merge for servers that use the module */
    sp_ctx                    *ctx;

    /* where `securepair on` was said, for errors found at merge time */
    u_char                    *file;
    ngx_uint_t                 line;
} ngx_stream_securepair_srv_conf_t;


/* Per session. */
typedef struct {
    sp_pair                   *pair;
    sp_ctx                    *counted;       /* the server context that
                                                 counts the session (its
                                                 max_connections), also
                                                 once server_name chose
                                                 another */
    ngx_recv_pt                recv;          /* the plain socket's */
    ngx_event_t                push;          /* sends held records at the
                                                 end of the loop's pass */
    ngx_uint_t                 secure;        /* unsigned  secure:1; */
    ngx_uint_t                 failed;        /* unsigned  failed:1; */
    ngx_uint_t                 write_blocked; /* unsigned  write_blocked:1; */
    ngx_uint_t                 writer_waits;  /* unsigned  writer_waits:1; */
    ngx_uint_t                 read_blocked;  /* unsigned  read_blocked:1; */

    /*
     * The peer's certificate, taken once for every $securepair_peer_*
     * variable (NULL: none), freed with the session; taken again when a
     * renegotiation may have changed the peer.
     */
    sp_peer_cert              *peer;
    ngx_uint_t                 peer_taken;    /* unsigned  peer_taken:1; */
    ngx_uint_t                 peer_renegotiations;
    ngx_uint_t                 peer_stalled;  /* unsigned  peer_stalled:1; */
    size_t                     unprobed;      /* sent since the last look
                                                 at the socket */
    size_t                     unsent;        /* what the kernel held then */

    /* securepair_proxy_protocol: the header still to be read */
    u_char                    *prefix;
    size_t                     prefix_len;
} ngx_stream_securepair_ctx_t;


/* the cleartext of a full TLS record */
#define NGX_STREAM_SECUREPAIR_RECORD  16384

#define NGX_STREAM_SECUREPAIR_TLS1    0x0002
#define NGX_STREAM_SECUREPAIR_TLS1_1  0x0004
#define NGX_STREAM_SECUREPAIR_TLS1_2  0x0008
#define NGX_STREAM_SECUREPAIR_TLS1_3  0x0010


extern sp_worker  *ngx_stream_securepair_worker;


ngx_int_t ngx_stream_securepair_handler(ngx_stream_session_t *s);
ngx_int_t ngx_stream_securepair_log_handler(ngx_stream_session_t *s);

ngx_int_t ngx_stream_securepair_flush(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx);
ngx_uint_t ngx_stream_securepair_socket_full(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx);
size_t ngx_stream_securepair_send_size(ngx_stream_securepair_ctx_t *ctx);
void ngx_stream_securepair_hold(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx);
void ngx_stream_securepair_push_handler(ngx_event_t *ev);
void ngx_stream_securepair_write_handler(ngx_event_t *wev);
void ngx_stream_securepair_install_io(ngx_connection_t *c);
ssize_t ngx_stream_securepair_write_socket(void *arg,
    const struct iovec *iov, int iovcnt);
void ngx_stream_securepair_log_failure(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx);
ngx_stream_session_t *ngx_stream_securepair_event_session(ngx_event_t *ev,
    const char *message, ngx_uint_t rc);
ngx_int_t ngx_stream_securepair_add_cleanup(ngx_pool_t *pool,
    ngx_pool_cleanup_pt handler, void *data);

ngx_int_t ngx_stream_securepair_add_variables(ngx_conf_t *cf);

ngx_int_t ngx_stream_securepair_proxy_header(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx);
ssize_t ngx_stream_securepair_prefix_read(ngx_connection_t *c,
    ngx_stream_securepair_ctx_t *ctx, u_char *buf, size_t size);

char *ngx_stream_securepair_context(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_stream_securepair_protocol_names(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_stream_securepair_files(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_stream_securepair_password_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_stream_securepair_session_id_context(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_stream_securepair_protocols_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_int_t ngx_stream_securepair_build(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf);
ngx_int_t ngx_stream_securepair_error(ngx_conf_t *cf, const sp_error *err,
    u_char *file, ngx_uint_t line);
ngx_int_t ngx_stream_securepair_creds_error(ngx_conf_t *cf, sp_creds *creds,
    u_char *file, ngx_uint_t line);
char *ngx_stream_securepair_cstr(ngx_pool_t *pool, ngx_str_t *s);
char *ngx_stream_securepair_path(ngx_conf_t *cf, ngx_str_t *name);
ngx_int_t ngx_stream_securepair_default_creds(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, sp_creds *creds,
    ngx_array_t **passphrases);
ngx_int_t ngx_stream_securepair_add_contexts(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t *passphrases);
ngx_int_t ngx_stream_securepair_creds_settings(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, sp_creds *creds,
    ngx_stream_securepair_context_t *sc);
ngx_int_t ngx_stream_securepair_passphrases(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t **out);
ngx_int_t ngx_stream_securepair_set_passphrases(sp_creds *creds,
    ngx_array_t *list);

ngx_int_t ngx_stream_securepair_keylog(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf);

char *ngx_stream_securepair_echo(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

char *ngx_stream_securepair_certificate_cache(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
void ngx_stream_securepair_certificate_cache_merge(
    ngx_stream_securepair_srv_conf_t *prev,
    ngx_stream_securepair_srv_conf_t *conf);
ngx_int_t ngx_stream_securepair_cert_names(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf);
ngx_int_t ngx_stream_securepair_cert_names_init(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t *passphrases);
ngx_int_t ngx_stream_securepair_model_creds(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf, ngx_array_t *passphrases);
ngx_stream_securepair_srv_conf_t *ngx_stream_securepair_choose_server(
    sp_pair *pair, const char *servername);
sp_creds *ngx_stream_securepair_servername(sp_pair *pair,
    const char *servername, void *arg);
sp_creds *ngx_stream_securepair_certname_select(sp_pair *pair,
    const char *servername, void *arg);
ngx_int_t ngx_stream_securepair_preread_init(ngx_cycle_t *cycle);

char *ngx_stream_securepair_session_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_stream_securepair_cache_store(ngx_shm_zone_t *zone,
    sp_session_store *store);
char *ngx_stream_securepair_redis_conf(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *spcf, ngx_uint_t first);
void ngx_stream_securepair_redis_store(ngx_stream_securepair_redis_t *rd,
    ngx_shm_zone_t *zone, sp_session_store *store);
void ngx_stream_securepair_redis_exit(void);


extern ngx_module_t  ngx_stream_securepair_module;


/* The session's context, from its connection. */
static ngx_inline ngx_stream_securepair_ctx_t *
ngx_stream_securepair_get_ctx(ngx_connection_t *c)
{
    ngx_stream_session_t  *s = c->data;

    return ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);
}


#endif /* _NGX_STREAM_SECUREPAIR_MODULE_H_INCLUDED_ */
