/*
 * Session resumption: the server's session cache (by id) through a store
 * the host implements, a context's session settings, and a client's
 * exported sessions; tickets are in tickets.c.
 *
 * Everything lives on the session context OpenSSL consults, the SSL_CTX
 * of the context's default credentials; the callbacks find the pair, and
 * through it the sp_ctx, from the SSL.
 */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "internal.h"


/* The latest time a time_t holds (a signed integer type). */
#define SP_TIME_MAX \
    ((time_t) (((uintmax_t) 1 << (sizeof(time_t) * CHAR_BIT - 1)) - 1))


/* from + lifetime, held at the ends of time_t rather than wrapped. */
static time_t
session_end(time_t from, time_t lifetime)
{
    time_t  end;

    if (__builtin_add_overflow(from, lifetime, &end)) {
        end = lifetime > 0 ? SP_TIME_MAX : -SP_TIME_MAX - 1;
    }

    return end;
}


/*
 * Stored bytes as a session: one session and nothing after it (a
 * trailing byte means a framing bug), at most SP_SESSION_MAX bytes; NULL
 * otherwise, with OpenSSL's error queue left empty.
 */
static SSL_SESSION *
session_from_der(const unsigned char *der, size_t len)
{
    SSL_SESSION          *sess;
    const unsigned char  *p = der;

    if (der == NULL || len > SP_SESSION_MAX) {
        return NULL;
    }

    sess = d2i_SSL_SESSION(NULL, &p, (long) len);

    if (sess != NULL && p != der + len) {
        SSL_SESSION_free(sess);
        sess = NULL;
    }

    if (sess == NULL) {
        ERR_clear_error();
    }

    return sess;
}


/* ---- the server's cache by session id ---------------------------------- */


/* Sessions go to the host's store, found by find() or find_async(). */
static int
store_on(const sp_ctx *ctx)
{
    return ctx->session_cache == SP_SESSION_CACHE_STORE
           || ctx->session_cache == SP_SESSION_CACHE_ASYNC;
}

static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
    sp_pair         *pair = sp_pair_from_ssl(ssl);
    sp_ctx          *ctx;
    unsigned char   *der, *p;
    const uint8_t   *id;
    unsigned         id_len;
    int              len;
    long             timeout;
    time_t           now, expires;

    if (pair == NULL || pair->ctx->role != SP_SERVER) {
        return 0;
    }

    ctx = pair->ctx;

    if (!store_on(ctx)) {
        return 0;
    }

    /* a TLS 1.3 ticket that carries its session needs no cache entry */
    if (SSL_version(ssl) >= TLS1_3_VERSION
        && !(SSL_get_options(ssl) & SSL_OP_NO_TICKET))
    {
        return 0;
    }

    len = i2d_SSL_SESSION(sess, NULL);
    if (len <= 0 || len > SP_SESSION_MAX) {
        ERR_clear_error();
        return 0;
    }

    der = malloc((size_t) len);
    if (der == NULL) {
        return 0;
    }

    p = der;
    i2d_SSL_SESSION(sess, &p);

    id = SSL_SESSION_get_id(sess, &id_len);

    /*
     * The store lives in the host's time.  A lifetime that reaches past
     * the end of time_t (a huge session timeout, or a stored session's
     * own, which a TLS 1.3 ticket made while resuming keeps) lasts as
     * long as time_t does.
     */
    now = ctx->clock_fn ? ctx->clock_fn(ctx->clock_arg)
                        : SSL_SESSION_get_time(sess);
    timeout = SSL_SESSION_get_timeout(sess);

    expires = session_end(now, timeout);

    ctx->store.add(ctx->store.arg, id, id_len, der, (size_t) len, expires);

    OPENSSL_cleanse(der, (size_t) len);
    free(der);

    /* 0: OpenSSL keeps its own reference, we hold none */
    return 0;
}


/* A session's own end of life (securepair.h): made + lifetime. */
int
sp_session_expires(const uint8_t *session, size_t len, time_t *expires)
{
    SSL_SESSION  *sess;

    sess = expires ? session_from_der(session, len) : NULL;

    if (sess == NULL) {
        return SP_ERR_INVALID;
    }

    *expires = session_end(SSL_SESSION_get_time(sess),
                           SSL_SESSION_get_timeout(sess));
    SSL_SESSION_free(sess);

    return SP_OK;
}

/*
 * The store's answer, `len` bytes: the session asked for and nothing
 * else, or NULL (a miss).
 */
static SSL_SESSION *
decode_session(const unsigned char *buf, size_t len, const unsigned char *id,
    int id_len)
{
    SSL_SESSION          *sess;
    const unsigned char  *got;
    unsigned int          got_len;

    sess = session_from_der(buf, len);
    if (sess == NULL) {
        return NULL;
    }

    /*
     * Only the session asked for: a store that answers with another one
     * (a hash collision, a bug) would make a TLS 1.2 server resume it
     * under the wrong id, which the client refuses.  A miss instead.
     */
    got = SSL_SESSION_get_id(sess, &got_len);

    if (got_len != (unsigned int) id_len || memcmp(got, id, got_len) != 0) {
        SSL_SESSION_free(sess);
        return NULL;
    }

    return sess;
}


/*
 * OpenSSL's lookup.  With find_async() the host has answered already
 * (sp_session_ask): the answer is decoded afresh at each lookup (a
 * TLS 1.3 HelloRetryRequest makes two), and only for the id asked.
 */
static SSL_SESSION *
get_session(SSL *ssl, const unsigned char *id, int id_len, int *copy)
{
    sp_pair        *pair = sp_pair_from_ssl(ssl);
    sp_ctx         *ctx;
    SSL_SESSION    *sess;
    unsigned char  *buf;
    size_t          len;

    *copy = 0;

    if (pair == NULL || id_len <= 0) {
        return NULL;
    }

    ctx = pair->ctx;

    if (ctx->session_cache == SP_SESSION_CACHE_ASYNC) {
        if (pair->answer_session == NULL
            || (size_t) id_len != pair->wait_id_len
            || memcmp(id, pair->wait_id, pair->wait_id_len) != 0)
        {
            return NULL;
        }

        return decode_session(pair->answer_session, pair->answer_len, id,
                              id_len);
    }

    if (ctx->session_cache != SP_SESSION_CACHE_STORE) {
        return NULL;
    }

    buf = malloc(SP_SESSION_MAX);
    if (buf == NULL) {
        return NULL;
    }

    len = SP_SESSION_MAX;

    if (ctx->store.find(ctx->store.arg, id, (size_t) id_len, buf, &len) != 0
        || len > SP_SESSION_MAX)
    {
        free(buf);
        return NULL;
    }

    sess = decode_session(buf, len, id, id_len);

    OPENSSL_cleanse(buf, len);
    free(buf);

    return sess;
}


/*
 * The id OpenSSL will look up in the ClientHello, before it has chosen
 * the version: the pre_shared_key's first identity when TLS 1.3 will be
 * chosen and, tickets off, identities name sessions in the store; else
 * the legacy session id, unless a ticket decides (OpenSSL looks up no id
 * then).  A wrong guess costs a lookup or a resumption, never more:
 * OpenSSL's own lookup gets only the session of the id asked.
 */
static size_t
hello_session_id(sp_pair *pair, const unsigned char **id)
{
    SSL                  *ssl = pair->ssl;
    const unsigned char  *p;
    size_t                len, n, i;
    int                   max, tls13 = 0, tickets;

    tickets = !(SSL_get_options(ssl) & SSL_OP_NO_TICKET);
    max = SSL_get_max_proto_version(ssl);

    if ((max == 0 || max >= TLS1_3_VERSION)
        && SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions,
                                     &p, &len)
        && len >= 1 && p[0] == len - 1)
    {
        for (i = 1; i + 1 < len; i += 2) {
            if (p[i] == 0x03 && p[i + 1] == 0x04) {
                tls13 = 1;
            }
        }
    }

    if (tls13) {
        if (tickets
            || !SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &p, &len)
            || len < 4)
        {
            return 0;
        }

        /* identities: a list of <2-byte length, identity, 4-byte age> */
        n = ((size_t) p[2] << 8) | p[3];

        if (n == 0 || n > SSL_MAX_SSL_SESSION_ID_LENGTH || 4 + n > len) {
            return 0;
        }

        *id = p + 4;
        return n;
    }

    if (tickets
        && SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket, &p, &len)
        && len > 0)
    {
        return 0;
    }

    return SSL_client_hello_get0_session_id(ssl, id);
}


/*
 * From the ClientHello callback, once: asks find_async() for the session
 * OpenSSL will look up.  1 when the pair waits for the answer.
 */
int
sp_session_ask(sp_pair *pair)
{
    sp_ctx               *ctx = pair->ctx;
    const unsigned char  *id;
    size_t                len;

    if (pair->session_asked || ctx->session_cache != SP_SESSION_CACHE_ASYNC) {
        return 0;
    }

    pair->session_asked = 1;

    len = hello_session_id(pair, &id);
    if (len == 0 || len > sizeof(pair->wait_id)) {
        return 0;
    }

    memcpy(pair->wait_id, id, len);
    pair->wait_id_len = len;

    sp_wait_begin(pair, SP_WAIT_SESSION);

    if (ctx->store.find_async(ctx->store.arg, pair, pair->wait_id, len) != 0)
    {
        /* not found now (an answer given all the same is dropped) */
        pair->wait = SP_WAIT_NONE;
        sp_wait_drop_answers(pair);
        return 0;
    }

    return sp_wait_end(pair);
}


static void
remove_session(SSL_CTX *ssl_ctx, SSL_SESSION *sess)
{
    (void) ssl_ctx;
    (void) sess;

    /*
     * OpenSSL calls this without the SSL, so it cannot know the store:
     * expired entries are dropped by the store's own expiry instead, and
     * a session is dropped on purpose through sp_pair_forget_session().
     */
}



void
sp_session_install(SSL_CTX *ssl_ctx)
{
    /*
     * The cache is always external: the callbacks look at the pair's
     * context, which says whether and where sessions are kept.
     */
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_SERVER
                                            | SSL_SESS_CACHE_NO_INTERNAL
                                            | SSL_SESS_CACHE_NO_AUTO_CLEAR);
    SSL_CTX_sess_set_new_cb(ssl_ctx, new_session);
    SSL_CTX_sess_set_get_cb(ssl_ctx, get_session);
    SSL_CTX_sess_set_remove_cb(ssl_ctx, remove_session);
    sp_tickets_install(ssl_ctx);
}


/* ---- context settings --------------------------------------------------- */


int
sp_ctx_set_session_cache(sp_ctx *ctx, int mode, const sp_session_store *store)
{
    if (sp_ctx_check_open(ctx, "sp_ctx_set_session_cache") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (ctx->role != SP_SERVER
        || (mode != SP_SESSION_CACHE_OFF && mode != SP_SESSION_CACHE_NONE
            && mode != SP_SESSION_CACHE_STORE
            && mode != SP_SESSION_CACHE_ASYNC)
        || (mode == SP_SESSION_CACHE_STORE
            && (store == NULL || store->add == NULL || store->find == NULL))
        || (mode == SP_SESSION_CACHE_ASYNC
            && (store == NULL || store->add == NULL
                || store->find_async == NULL)))
    {
        return sp_error_set(&ctx->error, SP_ERR_INVALID,
                            SP_FIELD_SESSION_CACHE, NULL, 0,
                            "a session cache needs a server context and, "
                            "for a store, its add and find functions "
                            "(find_async in the asynchronous mode)");
    }

    ctx->session_cache = mode;

    if (mode == SP_SESSION_CACHE_STORE) {
        ctx->store = *store;
        ctx->store.find_async = NULL;

    } else if (mode == SP_SESSION_CACHE_ASYNC) {
        ctx->store = *store;
        ctx->store.find = NULL;
    }

    return SP_OK;
}


int
sp_ctx_set_session_timeout(sp_ctx *ctx, time_t seconds)
{
    if (sp_ctx_check_seconds(ctx, "sp_ctx_set_session_timeout", seconds,
                             SP_FIELD_SESSION_TIMEOUT, "session timeout")
        != SP_OK)
    {
        return SP_ERR_INVALID;
    }

    ctx->session_timeout = seconds;
    SSL_CTX_set_timeout(ctx->creds->ssl_ctx, (long) seconds);
    return SP_OK;
}


int
sp_session_ctx_init(sp_ctx *ctx)
{
    ctx->tickets = 1;

    /*
     * One TLS 1.3 ticket per handshake, not OpenSSL's two: a ticket costs
     * a session encode, decode and re-encode inside OpenSSL (with a client
     * certificate, a certificate parse too), and the clients we know keep
     * one session per server and get a fresh ticket with each resumption.
     * Hosts that open parallel connections from one full handshake can
     * ask for more.
     */
    ctx->ticket_count = 1;
    ctx->session_timeout = 300;
    ctx->session_cache = SP_SESSION_CACHE_NONE;

    SSL_CTX_set_timeout(ctx->creds->ssl_ctx, (long) ctx->session_timeout);
    return sp_tickets_init(ctx);
}


void
sp_session_ctx_free(sp_ctx *ctx)
{
    sp_tickets_free(ctx);
}


/* Per pair: the context's ticket policy. */
void
sp_session_apply(sp_pair *pair)
{
    sp_ctx  *ctx = pair->ctx;

    if (ctx->role != SP_SERVER) {
        return;
    }

    if (!ctx->tickets) {
        SSL_set_options(pair->ssl, SSL_OP_NO_TICKET);
    }

    /*
     * Without tickets a TLS 1.3 server still sends "tickets" that only
     * name a session in the cache: sent when there is a cache.
     */
    SSL_set_num_tickets(pair->ssl,
                        (ctx->tickets || store_on(ctx))
                        ? ctx->ticket_count : 0);
}


/* ---- pairs -------------------------------------------------------------- */


const uint8_t *
sp_pair_session_id(const sp_pair *pair, size_t *len)
{
    SSL_SESSION    *sess;
    const uint8_t  *id;
    unsigned        n;

    *len = 0;
    sess = SSL_get_session(pair->ssl);

    if (sess == NULL || !(pair->state & SP_STATE_SECURE)) {
        return NULL;
    }

    id = SSL_SESSION_get_id(sess, &n);
    *len = n;
    return n ? id : NULL;
}


ssize_t
sp_pair_get_session(const sp_pair *pair, uint8_t *buf, size_t len)
{
    SSL_SESSION    *sess;
    unsigned char  *p;
    int             n;

    sess = SSL_get_session(pair->ssl);

    if (sess == NULL || !(pair->state & SP_STATE_SECURE)
        || !SSL_SESSION_is_resumable(sess))
    {
        return SP_ERR_AGAIN;
    }

    n = i2d_SSL_SESSION(sess, NULL);
    if (n <= 0) {
        ERR_clear_error();
        return SP_ERR_INTERNAL;
    }

    if (buf == NULL || (size_t) n > len) {
        return n;
    }

    p = buf;
    i2d_SSL_SESSION(sess, &p);
    return n;
}


sp_pair *
sp_pair_new_with_session(sp_ctx *ctx, const char *servername,
    const uint8_t *der, size_t len, int *err)
{
    return sp_pair_new_with_session_in(ctx, NULL, servername, der, len, err);
}


sp_pair *
sp_pair_new_with_session_in(sp_ctx *ctx, sp_worker *worker,
    const char *servername, const uint8_t *der, size_t len, int *err)
{
    SSL_SESSION  *sess;
    sp_pair      *pair;
    int           dummy;

    if (err == NULL) {
        err = &dummy;
    }

    sess = ctx && ctx->role == SP_CLIENT ? session_from_der(der, len) : NULL;

    if (sess == NULL) {
        *err = SP_ERR_INVALID;
        return NULL;
    }

    pair = sp_pair_create(ctx, worker, servername, sess, err);
    SSL_SESSION_free(sess);
    return pair;
}
