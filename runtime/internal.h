/*
 * Private definitions shared by the runtime's sources.  Not installed.
 */

#ifndef SP_INTERNAL_H
#define SP_INTERNAL_H

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "securepair.h"
#include "sni.h"


#define SP_ERRLEN  512


/* Where an object keeps its last error (errors.c). */
typedef struct {
    sp_error             info;
    char                *text;          /* message and origin */
} sp_error_slot;

/*
 * Room for records from the network: SP_ENC_IN_MIN at first, doubled up
 * to SP_ENC_IN_SIZE each time a receive fills all the room offered.  A
 * handshake's few kilobytes never take more than the minimum (a buffer of
 * 128 KiB at the top of the heap would make malloc trim and grow it
 * again, pages faulted in, for every handshake), and a bulk transfer soon
 * has room for several records, so that one recv() takes what a fast
 * peer sent (each recv() on a TCP socket may also send an ACK, which on
 * loopback does the peer's work).
 */
#define SP_ENC_IN_MIN   (16 * 1024)
#define SP_ENC_IN_SIZE  (128 * 1024)

/*
 * A receive buffer is released whenever OpenSSL has read all of it, so an
 * idle connection holds none.  A busy one would then get its 128 KiB back
 * from malloc at each receive: at that size glibc maps it afresh or trims
 * and regrows its heap, and the pages fault in again at every receive.
 * Full-size buffers go to the worker instead, a few at most and never
 * more than its live pairs: one event loop serves its busy connections
 * one after another.
 */
#define SP_ENC_IN_SPARES  4

/*
 * Direct reads (direct.c) go into OpenSSL's own record buffer, read
 * ahead, and it stays OpenSSL's size, one record and its overhead: for
 * every record in its buffer OpenSSL 3.0 moves all the bytes behind it to
 * the front (to align the next payload), so a buffer of many records
 * costs more in moves than the copy from enc_in it saves (bench/profile
 * bulk-up with 128 KiB: 7,744 instructions a KB against 5,430 with the
 * copy).  A read of a record or less a system call, as for nginx's own
 * SSL.
 */

/*
 * Records for the network wait in blocks of this size, one record each
 * at most (fewer, smaller ones share): the allocations stay the size of
 * OpenSSL's own record buffer, and the host sends several at once.  A
 * full record with an AEAD cipher is 16,405 to 16,413 bytes; a block
 * holds one with room to spare for CBC's MAC and padding (a record that
 * does not fit gets a block of its own size).  A peer that stops reading
 * leaves one waiting (module/ngx_stream_securepair_io.c): the block is no
 * bigger than the write buffer OpenSSL would hold for it.
 */
#define SP_ENC_OUT_BLOCK  (16 * 1024 + 128)

/*
 * Drained blocks go back to their worker, one per live pair at most and
 * this many in all, for the next records: freeing them at once would let
 * malloc trim the top of the heap, and the next records grow it again,
 * their pages faulted in again, brk() called for each.
 */
#define SP_ENC_OUT_SPARES  16

/*
 * sp_clear_write() stops encrypting once this many record bytes wait to be
 * sent: the host drains them first.  The queue grows past it only within
 * one OpenSSL call (a record: writes are partial), so a record is never
 * cut in half.
 */
#define SP_ENC_OUT_HIGH  (64 * 1024)

/*
 * The pair takes no records from the network while this many wait to be
 * sent (sp_enc_in_buf offers no room, SP_STATE_RECV_RECORDS is clear):
 * each record in may make records out (an answer to a renegotiation
 * hello, a key update, an alert), and a peer that sends them without
 * reading would otherwise grow enc_out without end.  Twice the write
 * side's mark: sp_clear_write() alone stops below SP_ENC_OUT_HIGH plus
 * one record, so a writer waiting for a slow reader never stops the
 * input, and traffic both ways flows as before.  The queue stays under
 * this plus what one receive's records make.
 */
#define SP_ENC_IN_STOP  (2 * SP_ENC_OUT_HIGH)

/*
 * OpenSSL gives each handshake a message buffer (the state machine's
 * init_buf: BUF_MEM_grow(SSL3_RT_MAX_PLAIN_LENGTH), a 21,848-byte block
 * with its first 16 KiB zero-filled) and frees it when the handshake
 * ends.  The host allocates right after in the same pass (nginx's proxy
 * buffers, 2 x 16 KiB) and malloc gives it those written pages, so each
 * connection held some 10 kB more resident memory while idle, and the
 * next handshake zero-filled fresh pages again.  So a pair that finishes
 * its handshake takes a block of that size back from malloc (the one just
 * freed) and leaves it in its worker; the next pair to start a handshake
 * frees it right before OpenSSL asks for its own: handshakes reuse the
 * same written pages, and what the host allocates in between comes from
 * pages never written.  One per live pair at most and this many in all:
 * handshakes end in bursts (with 64 clients at a time, a reserve of 16
 * kept 29.4 kB per idle connection, 64 kept 26.9 kB; `BENCH_ONLY=idle
 * perl bench/run` with 5000 connections: 25.9 kB with it, 36.2 kB
 * without).  runtime/tests/t_state.c checks that the block handed back
 * is the one OpenSSL takes: when it is not, the reserve saves nothing.
 */
#define SP_HS_BUF_SIZE      21848
#define SP_HS_BUF_RESERVE   64


#define SP_PEM_MAX  (16 * 1024 * 1024)

#define SP_SESSION_MAX  (64 * 1024)   /* a serialized session, at most */

#define SP_ID_LEN   32      /* SHA-256 */


/*
 * An object parsed from PEM and shared by every credentials loaded from
 * the same bytes (shared.c): found by `id`, a digest of those bytes, freed
 * with its last reference.
 */
typedef struct sp_shared  sp_shared;

struct sp_shared {
    sp_shared           *next;          /* in the table */
    unsigned             refs;          /* under the table's lock */
    unsigned char        id[SP_ID_LEN];
    void               (*free)(sp_shared *obj);
};


/* A private key and its certificate chain, checked. */
typedef struct {
    sp_shared            shared;
    X509                *leaf;
    EVP_PKEY            *pkey;
    STACK_OF(X509)      *chain;         /* never NULL: OpenSSL then builds
                                           no chain of its own */
    int                  type;          /* EVP_PKEY base id */
    unsigned char        digest[SP_ID_LEN];     /* of the leaf's DER */
} sp_keycert;


/*
 * Trusted CAs: a store to verify with and the names to ask for.  Those
 * announced (Node's ca) are named in the CertificateRequest; those only
 * trusted are not; CRLs make the store check revocation.
 */
typedef struct {
    sp_shared            shared;
    X509_STORE          *store;
    STACK_OF(X509)      *certs;         /* announced, as added, to grow
                                           from */
    STACK_OF(X509)      *trusted;       /* trusted only, likewise */
    STACK_OF(X509_CRL)  *crls;          /* likewise */
    STACK_OF(X509_NAME) *names;         /* of the announced CAs */
    unsigned char        digest[SP_ID_LEN];     /* of the CAs' SHA-1s and
                                                   the CRLs' */
} sp_ca_set;

typedef enum {
    SP_CA_ANNOUNCED = 1,
    SP_CA_TRUSTED,
    SP_CA_CRL
} sp_ca_kind;


/*
 * Buffers of one size kept for reuse: a list through their first word,
 * at most `max` of them, and never more than the worker's live pairs
 * (sp_stash_put).  The three pools of a worker are stashes: full-size
 * receive buffers, drained output blocks, the handshake-buffer reserve.
 */
typedef struct {
    void                *head;
    unsigned             n;
    unsigned             max;
} sp_stash;

typedef struct sp_block  sp_block;

struct sp_block {
    sp_block            *next;
    size_t               start;
    size_t               end;
    size_t               size;
    unsigned char        data[];
};

/* A queue of blocks: bytes live in each block's data[start, end). */
typedef struct {
    sp_block            *head;
    sp_block            *tail;
    size_t               len;          /* bytes in all blocks */
} sp_blocks;


struct sp_creds {
    unsigned             refs;
    SSL_CTX             *ssl_ctx;       /* only once a context's default */
    sp_keycert         **keycerts;      /* one per key type */
    size_t               nkeycerts;
    sp_ca_set           *ca;            /* NULL: the system's CAs */
    char               **passphrases;
    size_t               npassphrases;
    char                *ciphers;
    char                *ciphersuites;
    int                  min_version;
    int                  max_version;
    int                  request_cert;          /* -1: inherit */
    int                  reject_unauthorized;   /* -1: inherit */
    int                  verify_depth;          /* -1: OpenSSL's */
    char                *groups;                /* NULL: OpenSSL's */
    EVP_PKEY            *dh;                    /* NULL: no DHE */
    unsigned char        dh_id[SP_ID_LEN];      /* of its PEM text */
    char               **conf;                  /* SSL_CONF name, value,
                                                   ... */
    size_t               nconf;                 /* names in it */
    unsigned char        sid[SSL_MAX_SID_CTX_LENGTH];
    size_t               sid_len;
    unsigned char        user_sid[SSL_MAX_SID_CTX_LENGTH];
    size_t               user_sid_len;
    unsigned             versions_set:1;
    unsigned             honor_cipher_order:1;
    int                  frozen;        /* atomic: serving a context, sid
                                           computed; setters refuse */
    sp_error_slot        error;
};


typedef struct {
    unsigned char       *data;     /* wire format: length-prefixed names */
    size_t               len;
} sp_proto_list;


typedef struct {
    unsigned char        name[16];
    unsigned char        hmac_key[32];
    unsigned char        aes_key[32];
    size_t               size;      /* 48 or 80, as the key file was */
} sp_ticket_key;


/*
 * A context never changes once its first pair is made (`frozen`, set
 * then; every setter refuses after): pairs on several threads read it
 * without a lock.  Only its reference count changes, atomically.  What
 * changes with traffic is in the pair and its worker.
 */
struct sp_ctx {
    unsigned             refs;              /* atomic */
    int                  frozen;            /* atomic */
    sp_role              role;
    sp_creds            *creds;
    sp_sni_table        *sni;
    struct sp_creds_index  *creds_index;    /* the SNI table's credentials,
                                               by content */
    sp_sni_fn            sni_fn;
    void                *sni_arg;
    sp_clock_fn          clock_fn;
    void                *clock_arg;
    sp_keylog_fn         keylog_fn;
    void                *keylog_arg;
    sp_proto_list        npn;
    sp_proto_list        alpn;
    int                  request_cert;
    int                  reject_unauthorized;
    int                  reject_unknown_name;
    unsigned             reneg_limit;
    time_t               reneg_window;
    unsigned             max_connections;   /* in each worker */
    size_t               clear_queue_limit;

    int                  session_cache;     /* SP_SESSION_CACHE_* */
    sp_session_store     store;
    time_t               session_timeout;
    int                  tickets;
    unsigned             ticket_count;
    sp_ticket_key       *ticket_keys;
    size_t               nticket_keys;
    unsigned             random_ticket_key:1;

    sp_error_slot        error;
};


/* A worker's live pairs of one context: max_connections counts these. */
typedef struct {
    const sp_ctx        *ctx;
    unsigned             n;
} sp_ctx_count;


/*
 * What changes as pairs come and go, owned by the host, one per thread
 * (or process) that drives pairs: never shared, so never locked.
 */
struct sp_worker {
    unsigned             connections;       /* its live pairs */
    sp_ctx_count        *counts;            /* by context, n > 0 */
    size_t               ncounts;
    size_t               nalloc;
    sp_stash             in_spares;         /* SP_ENC_IN_SIZE each */
    sp_stash             out_spares;        /* drained output blocks,
                                               sp_block of
                                               SP_ENC_OUT_BLOCK */
    sp_stash             hs_bufs;           /* SP_HS_BUF_SIZE each */
    sp_sni_match        *sni_match;         /* for regex SNI names */
    unsigned             freed:1;           /* by the host, with pairs
                                               left: by the last one */
};


/* A byte queue: bytes live in data[start, end). */
typedef struct {
    unsigned char       *data;
    size_t               start;
    size_t               end;
    size_t               size;
} sp_bytes;


struct sp_pair {
    sp_ctx              *ctx;
    sp_worker           *worker;
    SSL                 *ssl;
    void                *data;

    sp_bytes             enc_in;
    size_t               in_size;        /* enc_in's room to allocate */
    size_t               in_offered;     /* room sp_enc_in_buf() gave */
    sp_blocks            enc_out;
    sp_bytes             clear_queue;

    sp_ctx              *home;           /* made in, when the SNI callback
                                            moved the pair to `ctx`
                                            (sp_pair_use_ctx): its worker
                                            count; NULL: `ctx` */
    /* the host's read or write, only during the call that passed them
       (direct.c) */
    sp_read_fn           io_read;
    sp_write_fn          io_write;
    void                *io_arg;
    size_t               io_done;        /* bytes read or written in it */
    int                  io_status;      /* why the function stopped:
                                            SP_ERR_AGAIN or
                                            SP_ERR_TRANSPORT */

    sp_creds            *creds;          /* selected by SNI, or default:
                                            borrowed from the context
                                            unless creds_held */
    const char          *context_name;   /* as added, or "(callback)" */
    const char          *sni_gave_up;    /* a regex context that reached
                                            its match limit on the name */
    const SSL_CIPHER    *cipher;         /* of the last completed
                                            handshake: a refused
                                            renegotiation leaves OpenSSL's
                                            current session without one */
    char                *servername;     /* client: what we asked for;
                                            server: the first
                                            ClientHello's SNI */

    unsigned             state;
    unsigned             events;
    int                  error;
    int                  alert_sent;
    int                  alert_received;
    char                *error_message;  /* allocated when it fails */
    const char          *hello_refused;  /* why our ClientHello callback
                                            refused a hello, reported
                                            once OpenSSL returns */

    X509                *peer;           /* the peer's certificate in
                                            the last completed
                                            handshake, or NULL */
    int                  authorized;
    const char          *authorization_error;
    const char          *authorization_reason;
    X509                *refused_peer;   /* the certificate verify_chain
                                            refused: OpenSSL keeps none
                                            when it fails the handshake */
    int                  npn_no_overlap;
    char                *npn;            /* as negotiated, or NULL */
    char                *alpn;

    /* waiting for the host (wait.c): what for, the session id asked
       for, and the answers until the handshake takes them up */
    sp_wait              wait;
    uint8_t              wait_id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    size_t               wait_id_len;
    uint8_t             *answer_session;  /* a copy; NULL: not found */
    size_t               answer_len;
    sp_creds            *answer_creds;    /* a reference, or NULL */

    time_t               now;
    time_t               reneg_window_start;
    unsigned             renegotiations;
    unsigned             reneg_in_window;

    unsigned             in_eof:1;
    unsigned             peer_closed:1;  /* no more data from the peer */
    unsigned             close_notify:1; /* the peer's close_notify came */
    unsigned             truncated:1;    /* the peer's data ended without
                                            one */
    unsigned             shutdown_wanted:1;
    unsigned             shutdown_sent:1;
    unsigned             reneg_exceeded:1;
    unsigned             unknown_name:1;
    unsigned             we_renegotiate:1;
    unsigned             reneg_pending:1;
    unsigned             reneg_done:1;   /* completed in the OpenSSL call
                                            under way: judge the peer
                                            once it returns */
    unsigned             npn_none:1;
    unsigned             creds_held:1;   /* a reference: from the SNI
                                            callback */
    unsigned             hs_started:1;   /* SSL_do_handshake called */
    unsigned             hello_done:1;   /* the first ClientHello's
                                            callback said yes: a later
                                            one answers a
                                            HelloRetryRequest */
    unsigned             sni_done:1;     /* credentials chosen */
    unsigned             session_asked:1;  /* find_async() was asked */
    unsigned             creds_answered:1; /* answer_creds is the host's
                                              answer, to take up */
    unsigned             in_sni_fn:1;    /* the SNI callback runs */
    unsigned             io_stop:1;      /* the host's function said
                                            all it had in this call */
    unsigned             read_ahead:1;   /* set on the SSL, for direct
                                            reads */
};


/*
 * errors.c: the one way to record a loading or configuration error.
 * sp_error_set() formats the reason; sp_error_ssl() adds ": " and
 * OpenSSL's reason to it.  Both empty OpenSSL's error queue and return
 * `code`.  The message is "origin: reason" (the reason alone when origin
 * is NULL).
 */
int sp_error_set(sp_error_slot *e, int code, sp_field field,
    const char *origin, int item, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
int sp_error_ssl(sp_error_slot *e, int code, sp_field field,
    const char *origin, int item, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
int sp_error_copy(sp_error_slot *dst, const sp_error *src);
int sp_error_if_frozen(const int *frozen, sp_error_slot *e, const char *call,
    const char *why);
const sp_error *sp_error_get(const sp_error_slot *e);
void sp_error_clear(sp_error_slot *e);
void sp_openssl_reason(char *buf, size_t len);

/*
 * The public readers of an object's sticky error, the message and the
 * whole error, for a type that keeps it in its `error` slot.
 */
#define SP_ERROR_READERS(type, message_fn, info_fn)                          \
    const char *                                                             \
    message_fn(const type *obj)                                              \
    {                                                                        \
        return sp_error_get(&obj->error)->message;                           \
    }                                                                        \
                                                                             \
    const sp_error *                                                         \
    info_fn(const type *obj)                                                 \
    {                                                                        \
        return sp_error_get(&obj->error);                                    \
    }

/*
 * The check every setter of such a type makes first: SP_OK, or
 * SP_ERR_INVALID and "call: why" in its error once its `frozen` is set.
 */
#define SP_FROZEN_CHECK(type, name, why)                                     \
    int                                                                      \
    name(type *obj, const char *call)                                        \
    {                                                                        \
        return sp_error_if_frozen(&obj->frozen, &obj->error, call, why);     \
    }

/* template.c: made once per process */
SSL_CTX *sp_template(void);
const EVP_MD *sp_template_sha256(void);

/* digest.c */
int sp_digest_init(EVP_MD_CTX *md);
int sp_digest_bytes(EVP_MD_CTX *md, const void *data, size_t len);
int sp_store_digest(X509_STORE *store, unsigned char *digest);

/* system_ca.c */
X509_STORE *sp_system_store(const unsigned char **digest);

/* cipher_list.c */
int sp_cipher_list_valid(const char *list, int suites);

/* shared.c */
int sp_shared_get(const unsigned char *id, size_t size,
    void (*free_obj)(sp_shared *obj), int (*parse)(sp_shared *obj, void *arg),
    void *arg, sp_shared **out);
void sp_shared_ref(sp_shared *obj);
void sp_shared_unref(sp_shared *obj);

/* file.c */
int sp_read_file(sp_error_slot *e, sp_field field, const char *path,
    size_t max, char **data, size_t *len);
void sp_free_pem(char *data, size_t len);

/* keycert.c */
int sp_keycert_load(sp_creds *creds, const char *key_pem, size_t key_len,
    const char *key_origin, const char *cert_pem, size_t cert_len,
    const char *cert_origin, sp_keycert **out);

/* ca_set.c */
int sp_ca_set_load(sp_creds *creds, sp_ca_set *base, sp_ca_kind kind,
    const char *pem, size_t len, const char *origin, sp_ca_set **out);
sp_field sp_ca_kind_field(sp_ca_kind kind);

/* keycert.c: bits of security OpenSSL's security level asks of keys */
int sp_security_bits_needed(void);

/*
 * creds_params.c: the handshake parameters of credentials (groups, DH
 * parameters, cipher order, SSL_CONF commands) on an SSL_CTX, or on an
 * SSL where they differ from `from`'s; 0 when OpenSSL refuses.
 */
int sp_creds_params_ctx(const sp_creds *creds, SSL_CTX *ssl_ctx);
int sp_creds_params_ssl(const sp_creds *creds, const sp_creds *from,
    SSL *ssl);
int sp_creds_params_digest(const sp_creds *creds, EVP_MD_CTX *md);
int sp_creds_params_copy(sp_creds *creds, const sp_creds *model);

/* creds.c: SP_OK while credentials may change, else the error said */
int sp_creds_check_open(sp_creds *creds, const char *call);
void sp_creds_params_free(sp_creds *creds);


/* creds.c */

/* creds_serve.c */
int sp_creds_prepare(sp_creds *creds);
int sp_creds_content_id(const sp_creds *creds, unsigned char *id);
SSL_CTX *sp_creds_ssl_ctx(sp_creds *creds);
int sp_creds_install(sp_creds *creds, const sp_creds *from, SSL *ssl);
int sp_creds_effective_request_cert(const sp_creds *creds, const sp_ctx *ctx);
int sp_creds_effective_reject(const sp_creds *creds, const sp_ctx *ctx);

/* creds_index.c */
typedef struct sp_creds_index  sp_creds_index;

sp_creds *sp_creds_index_find(const sp_creds_index *ix,
    const unsigned char *id);
int sp_creds_index_add(sp_creds_index **ixp, const unsigned char *id,
    sp_creds *creds);
void sp_creds_index_free(sp_creds_index *ix);

/* protocols.c */
int sp_proto_list_set(sp_proto_list *list, const char *const *names,
    size_t n, sp_error_slot *err, sp_field field);
void sp_proto_list_free(sp_proto_list *list);
void sp_protocols_install(SSL_CTX *ssl_ctx);
void sp_protocols_install_client(SSL_CTX *ssl_ctx);

/* bio.c */
BIO *sp_bio_new(sp_pair *pair);
int sp_bytes_reserve(sp_bytes *b, size_t want);
void sp_bytes_consume(sp_bytes *b, size_t n);
void sp_bytes_free(sp_bytes *b);
int sp_blocks_append(sp_worker *w, sp_blocks *q, const void *data,
    size_t len);
void sp_blocks_consume(sp_worker *w, sp_blocks *q, size_t n);
void sp_blocks_free(sp_worker *w, sp_blocks *q);
void sp_enc_in_release(sp_worker *w, sp_bytes *b);
int sp_enc_in_spare(sp_worker *w, sp_bytes *b);

/* stash.c */
void sp_stash_put(sp_stash *s, void *buf, unsigned live);
void *sp_stash_pop(sp_stash *s);
void sp_stash_trim(sp_stash *s, unsigned keep);

/* worker.c */
sp_worker *sp_worker_default(void);
int sp_worker_attach(sp_worker *w, const sp_ctx *ctx);
void sp_worker_detach(sp_worker *w, const sp_ctx *ctx);
sp_sni_match *sp_worker_sni_match(sp_worker *w);
void sp_worker_hs_keep(sp_worker *w);
void sp_worker_hs_give(sp_worker *w);

/*
 * ctx.c: SP_OK, or SP_ERR_INVALID (and the context's error) once frozen;
 * also when a time that must be positive is not.
 */
int sp_ctx_check_open(sp_ctx *ctx, const char *call);
int sp_ctx_check_seconds(sp_ctx *ctx, const char *call, time_t seconds,
    sp_field field, const char *what);

/*
 * The public setters that only store what they are given while the
 * context is open: one line where the setting is kept defines each, and
 * the call named in the error is always the function's own.  `params` is
 * the parameter list, in parentheses, the context named `ctx`; `store`,
 * what is done with them.
 */
#define SP_CTX_SETTER(name, params, store)                                   \
    int                                                                      \
    name params                                                              \
    {                                                                        \
        if (sp_ctx_check_open(ctx, #name) != SP_OK) {                        \
            return SP_ERR_INVALID;                                           \
        }                                                                    \
                                                                             \
        store;                                                               \
        return SP_OK;                                                        \
    }

/* An on/off setting, a count, a callback and the argument it gets back. */
#define SP_CTX_SET_FLAG(name, field)                                         \
    SP_CTX_SETTER(name, (sp_ctx *ctx, int on), ctx->field = !!on)

#define SP_CTX_SET_COUNT(name, field)                                        \
    SP_CTX_SETTER(name, (sp_ctx *ctx, unsigned n), ctx->field = n)

#define SP_CTX_SET_CALLBACK(name, fn_type, fn_field, arg_field)              \
    SP_CTX_SETTER(name, (sp_ctx *ctx, fn_type fn, void *arg),                \
                  ctx->fn_field = fn; ctx->arg_field = arg)

/*
 * The reference counts of contexts and credentials, which pairs on several
 * threads take and drop: taking needs no order (the taker already holds
 * one), and the last drop sees every write made before the others dropped.
 * sp_refs_drop() is 1 when it dropped the last reference.
 */
static inline void
sp_refs_take(unsigned *refs)
{
    __atomic_add_fetch(refs, 1, __ATOMIC_RELAXED);
}

static inline int
sp_refs_drop(unsigned *refs)
{
    return __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL) == 0;
}

/* The public sp_*_ref() of a counted type: one more reference, the object. */
#define SP_REF_FUNCTION(type, name)                                          \
    type *                                                                   \
    name(type *obj)                                                          \
    {                                                                        \
        sp_refs_take(&obj->refs);                                            \
        return obj;                                                          \
    }

static inline size_t
sp_bytes_len(const sp_bytes *b)
{
    return b->end - b->start;
}


/* pair.c: the SSL ex_data slot pointing back at the pair */
int sp_pair_index(void);

static inline sp_pair *
sp_pair_from_ssl(const SSL *ssl)
{
    return SSL_get_ex_data(ssl, sp_pair_index());
}

/*
 * Empties the thread's OpenSSL error queue, as a call into OpenSSL wants
 * it (SSL_get_error() reads it) and as every call of ours leaves it.
 * ERR_clear_error() resets all 16 slots, freeing each one's file and
 * function names: some 800 instructions even on an empty queue, which it
 * nearly always is; a look costs about 100.  A handshake empties it some
 * 20 times.
 */
static inline void
sp_clear_errors(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

/* sni_select.c */
int sp_sni_select(sp_pair *pair, int *alert);     /* -1: waits */
int sp_sni_check_retry(sp_pair *pair, int *alert);
void sp_sni_install(SSL_CTX *ssl_ctx);

/* verify.c */
int sp_verify_callback(int preverify_ok, X509_STORE_CTX *store);
void sp_verify_apply(sp_pair *pair);
void sp_verify_install(SSL_CTX *ssl_ctx);
int sp_verify_authorize(sp_pair *pair);

/* tickets.c */
void sp_tickets_install(SSL_CTX *ssl_ctx);
int sp_tickets_init(sp_ctx *ctx);
void sp_tickets_free(sp_ctx *ctx);

/* session.c */
void sp_session_install(SSL_CTX *ssl_ctx);
int sp_session_ctx_init(sp_ctx *ctx);
void sp_session_ctx_free(sp_ctx *ctx);
void sp_session_apply(sp_pair *pair);
int sp_session_ask(sp_pair *pair);

/* wait.c */
void sp_wait_begin(sp_pair *pair, sp_wait what);
int sp_wait_end(sp_pair *pair);
void sp_wait_drop_answers(sp_pair *pair);

/* pair.c */
sp_pair *sp_pair_create(sp_ctx *ctx, sp_worker *worker,
    const char *servername, SSL_SESSION *session, int *err);

/* encrypted.c: the end of the transport, once the pump has seen it */
int sp_pair_input_ended(sp_pair *pair, int rc);

/* direct.c: the host's functions, from the BIO */
ssize_t sp_io_read(sp_pair *pair, void *buf, size_t len);
size_t sp_io_write(sp_pair *pair, const void *data, size_t len);

/* drive.c: the pump (sp_pair_drive, public), and the writes and ends it
   handles */
ssize_t sp_pair_ssl_write(sp_pair *pair, const void *data, size_t len);
int sp_pair_flush_queue(sp_pair *pair);
void sp_pair_peer_closed(sp_pair *pair);

/* facts.c: what the pair's handshakes left for the facts, freed with it */
void sp_pair_facts_free(sp_pair *pair);

/* handshake.c */
void sp_info_callback(const SSL *ssl, int where, int ret);
int sp_pair_handshake(sp_pair *pair);
int sp_pair_renegotiated(sp_pair *pair);

/*
 * failure.c: sp_pair_fail() ends the pair with its first error (a
 * printf-style message) and returns it; sp_ssl_failure() makes that
 * error from a failed OpenSSL call's return value, unless
 * sp_ssl_wants_io() says the call only waits for bytes to move.
 */
int sp_pair_fail(sp_pair *pair, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sp_ssl_failure(sp_pair *pair, int ret, const char *doing);
int sp_ssl_wants_io(sp_pair *pair, int ret);

/* hello.c: the ClientHello callback (SNI selection, renegotiation limit) */
void sp_hello_install(SSL_CTX *ssl_ctx);
int sp_reneg_count(sp_pair *pair);

#endif /* SP_INTERNAL_H */
