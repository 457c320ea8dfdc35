/*
 * The SecurePair engine: one SSL object driven by the host's bytes.
 *
 * Every entry point runs the same pump: give OpenSSL what arrived, let it
 * advance the handshake (or process alerts, renegotiations and
 * close_notify once secure), and leave whatever it wrote in enc_out for the
 * host to send.  Failures are turned into one sticky sp_err with a message
 * after OpenSSL has returned, never inside its callbacks.
 */

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "cert.h"
#include "internal.h"


static int             sp_index = -1;
static pthread_once_t  sp_index_once = PTHREAD_ONCE_INIT;


static int pair_drive(sp_pair *pair);


static void
index_init(void)
{
    sp_index = SSL_get_ex_new_index(0, "securepair pair", NULL, NULL, NULL);
}


int
sp_pair_index(void)
{
    pthread_once(&sp_index_once, index_init);
    return sp_index;
}


/*
 * Ends the pair with its first error; later errors do not overwrite it.
 * Input and queued cleartext are dropped, records already written (the
 * alert) stay for the host to send.
 */
static int
pair_fail(sp_pair *pair, int code, const char *fmt, ...)
{
    va_list  ap;

    ERR_clear_error();

    if (pair->error) {
        return pair->error;
    }

    pair->error = code;
    pair->events |= SP_EVENT_ERROR;
    pair->state &= ~SP_STATE_HANDSHAKING;

    /* without room for it, the message is the code's (sp_strerror) */
    pair->error_message = malloc(SP_ERRLEN);

    if (pair->error_message != NULL) {
        va_start(ap, fmt);
        vsnprintf(pair->error_message, SP_ERRLEN, fmt, ap);
        va_end(ap);
    }

    sp_bytes_free(&pair->enc_in);
    sp_bytes_free(&pair->clear_queue);
    return code;
}


static void
info_callback(const SSL *ssl, int where, int ret)
{
    sp_pair  *pair = sp_pair_from_ssl(ssl);

    if (pair == NULL) {
        return;
    }

    if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL) {
        if (where & SSL_CB_WRITE) {
            if (pair->alert_sent < 0) {
                pair->alert_sent = ret & 0xff;
            }

        } else if (pair->alert_received < 0) {
            pair->alert_received = ret & 0xff;
        }
    }

    /* OpenSSL reports a bare transport end as a close_notify too */
    if (where == SSL_CB_READ_ALERT && (ret & 0xff) == SSL_AD_CLOSE_NOTIFY) {
        pair->close_notify = 1;
    }

    /*
     * A renegotiation hello OpenSSL refused by itself (limit 0, or a
     * client without secure renegotiation): it only answers with this
     * warning and reads on, so the hello callback never counts it.  It
     * counts toward the limit here, or a client could send such hellos
     * forever; sp_pair_renegotiations() still counts only the hellos
     * OpenSSL took up.
     */
    if ((where & SSL_CB_WRITE_ALERT) == SSL_CB_WRITE_ALERT
        && ret == (SSL3_AL_WARNING << 8 | SSL_AD_NO_RENEGOTIATION)
        && pair->ctx->role == SP_SERVER && (pair->state & SP_STATE_SECURE))
    {
        if (sp_reneg_count(pair) != SP_OK && pair->alert_sent < 0) {
            pair->alert_sent = SSL_AD_NO_RENEGOTIATION;
        }
    }

    /*
     * Renegotiations (TLS <= 1.2 only) are counted when the peers really
     * exchange hellos: OpenSSL also reports a handshake start and end when
     * it merely sends a HelloRequest or refuses a renegotiation.  A server
     * counts in its ClientHello callback (hello.c), a client here.
     */
    if (!(pair->state & SP_STATE_SECURE) || SSL_version(ssl) >= TLS1_3_VERSION)
    {
        return;
    }

    if (pair->ctx->role == SP_CLIENT && (where & SSL_CB_LOOP)
        && SSL_get_state(ssl) == TLS_ST_CR_SRVR_HELLO && !pair->reneg_pending)
    {
        pair->renegotiations++;
        pair->reneg_pending = 1;
    }

    if ((where & SSL_CB_HANDSHAKE_DONE) && pair->reneg_pending) {
        pair->reneg_pending = 0;
        pair->reneg_done = 1;
        pair->cipher = SSL_get_current_cipher(ssl);
        pair->events |= SP_EVENT_RENEGOTIATED;
    }
}


static int
is_ip_address(const char *name)
{
    unsigned char  buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, name, buf) == 1
           || inet_pton(AF_INET6, name, buf) == 1;
}


static int
client_setup(sp_pair *pair, const char *servername)
{
    SSL  *ssl = pair->ssl;

    SSL_set_connect_state(ssl);

    if (pair->ctx->alpn.len
        && SSL_set_alpn_protos(ssl, pair->ctx->alpn.data,
                               (unsigned) pair->ctx->alpn.len) != 0)
    {
        return SP_ERR_NOMEM;
    }

    if (servername == NULL || servername[0] == '\0') {
        return SP_OK;
    }

    pair->servername = strdup(servername);
    if (pair->servername == NULL) {
        return SP_ERR_NOMEM;
    }

    /* SNI carries host names only; the identity check takes both. */
    if (is_ip_address(servername)) {
        if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), servername)) {
            return SP_ERR_INVALID;
        }

        return SP_OK;
    }

    if (!SSL_set_tlsext_host_name(ssl, servername)
        || !SSL_set1_host(ssl, servername))
    {
        return SP_ERR_INVALID;
    }

    return SP_OK;
}


sp_pair *
sp_pair_new(sp_ctx *ctx, const char *servername, int *err)
{
    return sp_pair_create(ctx, NULL, servername, NULL, err);
}


sp_pair *
sp_pair_new_in(sp_ctx *ctx, sp_worker *worker, const char *servername,
    int *err)
{
    return sp_pair_create(ctx, worker, servername, NULL, err);
}


static void
server_setup(sp_pair *pair)
{
    SSL_set_accept_state(pair->ssl);

    /* a renegotiation is a full handshake: never another session,
       whose certificate was judged on another connection */
    SSL_set_options(pair->ssl, SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);

    /* OpenSSL 3 refuses client renegotiation unless told otherwise;
       the limit is ours to enforce. */
    if (pair->ctx->reneg_limit) {
        SSL_set_options(pair->ssl, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    }
}


/*
 * The pair's SSL, on the default credentials' SSL_CTX, with our BIO and
 * callbacks.
 */
static int
ssl_setup(sp_pair *pair)
{
    BIO  *bio;

    pair->ssl = SSL_new(pair->ctx->creds->ssl_ctx);
    if (pair->ssl == NULL) {
        return SP_ERR_NOMEM;
    }

    bio = sp_bio_new(pair);
    if (bio == NULL) {
        return SP_ERR_NOMEM;
    }

    SSL_set_bio(pair->ssl, bio, bio);

    if (!SSL_set_ex_data(pair->ssl, sp_pair_index(), pair)) {
        return SP_ERR_NOMEM;
    }

    SSL_set_info_callback(pair->ssl, info_callback);
    sp_verify_apply(pair);
    sp_session_apply(pair);
    return SP_OK;
}


sp_pair *
sp_pair_create(sp_ctx *ctx, sp_worker *worker, const char *servername,
    SSL_SESSION *session, int *err)
{
    int       rc, dummy;
    sp_pair  *pair;

    if (err == NULL) {
        err = &dummy;
    }

    if (ctx == NULL) {
        *err = SP_ERR_INVALID;
        return NULL;
    }

    if (worker == NULL) {
        worker = sp_worker_default();
    }

    pair = calloc(1, sizeof(sp_pair));
    if (pair == NULL) {
        *err = SP_ERR_NOMEM;
        return NULL;
    }

    rc = sp_worker_attach(worker, ctx);
    if (rc != SP_OK) {
        free(pair);
        *err = rc;
        return NULL;
    }

    /* from now on the context is read by pairs, perhaps on other threads */
    __atomic_store_n(&ctx->frozen, 1, __ATOMIC_RELEASE);

    pair->ctx = sp_ctx_ref(ctx);
    pair->worker = worker;
    /* the context holds its credentials as long as the pair holds it */
    pair->creds = ctx->creds;
    pair->alert_sent = -1;
    pair->alert_received = -1;
    pair->state = SP_STATE_HANDSHAKING;

    rc = ssl_setup(pair);
    if (rc != SP_OK) {
        goto failed;
    }

    if (ctx->role == SP_SERVER) {
        server_setup(pair);

    } else {
        rc = client_setup(pair, servername);

        if (rc == SP_OK && session && !SSL_set_session(pair->ssl, session)) {
            rc = SP_ERR_INVALID;
        }

        if (rc != SP_OK) {
            goto failed;
        }

        /* The ClientHello is ready at once. */
        pair_drive(pair);
    }

    ERR_clear_error();
    *err = SP_OK;
    return pair;

failed:

    *err = rc;
    ERR_clear_error();
    sp_pair_free(pair);
    return NULL;
}


void
sp_pair_free(sp_pair *pair)
{
    if (pair == NULL) {
        return;
    }

    SSL_free(pair->ssl);
    ERR_clear_error();

    sp_bytes_free(&pair->enc_in);
    sp_blocks_free(pair->worker, &pair->enc_out);
    sp_worker_detach(pair->worker, pair->ctx);
    sp_bytes_free(&pair->clear_queue);
    X509_free(pair->peer);
    free(pair->servername);
    free(pair->npn);
    free(pair->alpn);
    free(pair->error_message);
    X509_free(pair->refused_peer);

    if (pair->creds_held) {
        sp_creds_unref(pair->creds);
    }

    sp_ctx_unref(pair->ctx);
    free(pair);
}


/*
 * Keeps the peer's certificate of the handshake that just completed and
 * judges it: after the first handshake and after every renegotiation,
 * which may bring another certificate or none, so `authorized` and the
 * peer's facts always speak of the same handshake.
 */
static int
authorize(sp_pair *pair)
{
    int  rc;

    X509_free(pair->peer);
    pair->peer = SSL_get1_peer_certificate(pair->ssl);

    rc = sp_verify_authorize(pair);
    if (rc != SP_OK) {
        return pair_fail(pair, rc, "peer certificate not authorized: %s (%s)",
                         pair->authorization_error,
                         pair->authorization_reason);
    }

    return SP_OK;
}


/*
 * A renegotiation completed inside the OpenSSL call that just returned
 * (the info callback said so): judge the peer again, now that OpenSSL
 * is out of the way.
 */
static int
renegotiated(sp_pair *pair)
{
    if (!pair->reneg_done || pair->error) {
        return pair->error;
    }

    pair->reneg_done = 0;
    return authorize(pair);
}


/* Snapshots what the handshake negotiated, then judges the peer. */
static int
handshake_done(sp_pair *pair)
{
    unsigned              len;
    const unsigned char  *data;

    pair->state = SP_STATE_SECURE;
    pair->events |= SP_EVENT_SECURE;
    pair->cipher = SSL_get_current_cipher(pair->ssl);

    sp_worker_hs_keep(pair->worker);

    /*
     * OpenSSL forgets the server name when a renegotiation hello arrives,
     * even one we refuse: keep the first handshake's.
     */
    if (pair->ctx->role == SP_SERVER && pair->servername == NULL) {
        const char  *name = SSL_get_servername(pair->ssl,
                                               TLSEXT_NAMETYPE_host_name);

        if (name != NULL) {
            pair->servername = strdup(name);
            if (pair->servername == NULL) {
                return pair_fail(pair, SP_ERR_NOMEM, "out of memory");
            }
        }
    }

    SSL_get0_next_proto_negotiated(pair->ssl, &data, &len);
    if (len && !pair->npn_none) {
        pair->npn = strndup((const char *) data, len);
        if (pair->npn == NULL) {
            return pair_fail(pair, SP_ERR_NOMEM, "out of memory");
        }
    }

    SSL_get0_alpn_selected(pair->ssl, &data, &len);
    if (len) {
        pair->alpn = strndup((const char *) data, len);
        if (pair->alpn == NULL) {
            return pair_fail(pair, SP_ERR_NOMEM, "out of memory");
        }
    }

    return authorize(pair);
}


/*
 * OpenSSL refused the peer's certificate (or its lack of one) in a
 * handshake: after a renegotiation, what the first handshake authorized
 * is not the peer any more.
 */
static void
unauthorized(sp_pair *pair)
{
    pair->authorized = 0;

    if (pair->state & SP_STATE_SECURE) {
        X509_free(pair->peer);
        pair->peer = SSL_get1_peer_certificate(pair->ssl);
    }
}


/*
 * Turns a failed OpenSSL call into the pair's error.  Our own flags come
 * first: they know more than OpenSSL's reason code.
 */
static int
ssl_failure(sp_pair *pair, int ret, const char *doing)
{
    int            e;
    long           result;
    char           reason[256];
    unsigned long  code;

    e = SSL_get_error(pair->ssl, ret);
    code = ERR_peek_error();
    sp_openssl_reason(reason, sizeof(reason));

    if (pair->reneg_exceeded) {
        return pair_fail(pair, SP_ERR_RENEG_LIMIT,
                         "renegotiation limit exceeded: more than %u in "
                         "%lld s", pair->ctx->reneg_limit,
                         (long long) pair->ctx->reneg_window);
    }

    if (pair->unknown_name) {
        const char  *name = pair->servername;

        return pair_fail(pair, SP_ERR_UNKNOWN_NAME,
                         name ? "unrecognized server name \"%s\""
                              : "%sno server name sent",
                         name ? name : "");
    }

    if (pair->hello_refused != NULL) {
        return pair_fail(pair, SP_ERR_HANDSHAKE, "%s; sent alert \"%s\" (%d)",
                         pair->hello_refused,
                         SSL_alert_desc_string_long(pair->alert_sent),
                         pair->alert_sent);
    }

    if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING
        || (e == SSL_ERROR_SYSCALL && code == 0)
        || (e == SSL_ERROR_ZERO_RETURN && (pair->state & SP_STATE_HANDSHAKING)))
    {
        return pair_fail(pair, SP_ERR_TRUNCATED,
                         "peer closed the connection %s",
                         (pair->state & SP_STATE_HANDSHAKING)
                         ? "during the handshake" : "without close_notify");
    }

    if (ERR_GET_REASON(code) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        unauthorized(pair);
        pair->authorization_error = "UNABLE_TO_GET_ISSUER_CERT";
        pair->authorization_reason = "peer sent no certificate";
        return pair_fail(pair, SP_ERR_UNAUTHORIZED,
                         "peer certificate not authorized: %s (%s)",
                         pair->authorization_error,
                         pair->authorization_reason);
    }

    result = SSL_get_verify_result(pair->ssl);

    if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED
        && result != X509_V_OK)
    {
        unauthorized(pair);
        pair->authorization_error = sp_verify_error_name(result);
        pair->authorization_reason = X509_verify_cert_error_string(result);
        return pair_fail(pair, SP_ERR_UNAUTHORIZED,
                         "peer certificate not authorized: %s (%s)",
                         pair->authorization_error,
                         pair->authorization_reason);
    }

    if (pair->alert_received >= 0) {
        return pair_fail(pair, SP_ERR_PEER_ALERT,
                         "peer sent fatal alert \"%s\" (%d) %s",
                         SSL_alert_desc_string_long(pair->alert_received),
                         pair->alert_received, doing);
    }

    if (pair->alert_sent >= 0) {
        return pair_fail(pair, SP_ERR_HANDSHAKE,
                         "%s failed: %s; sent alert \"%s\" (%d)", doing,
                         reason,
                         SSL_alert_desc_string_long(pair->alert_sent),
                         pair->alert_sent);
    }

    return pair_fail(pair, SP_ERR_HANDSHAKE, "%s failed: %s", doing, reason);
}


static int
do_handshake(sp_pair *pair)
{
    int  n, e;

    /* the first call: OpenSSL allocates its handshake buffer now */
    if (!pair->hs_started) {
        pair->hs_started = 1;
        sp_worker_hs_give(pair->worker);
    }

    ERR_clear_error();
    n = SSL_do_handshake(pair->ssl);

    if (n == 1) {
        return handshake_done(pair);
    }

    e = SSL_get_error(pair->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return SP_ERR_AGAIN;
    }

    return ssl_failure(pair, n, "handshake");
}


/*
 * Encrypts a record's worth of cleartext (SSL_MODE_ENABLE_PARTIAL_WRITE
 * returns after each record) while less than SP_ENC_OUT_HIGH waits.
 */
static ssize_t
ssl_write(sp_pair *pair, const void *data, size_t len)
{
    int  n, e;

    if (pair->enc_out.len >= SP_ENC_OUT_HIGH
        || SSL_in_init(pair->ssl))
    {
        return SP_ERR_AGAIN;
    }

    if (len > SP_ENC_OUT_HIGH) {
        len = SP_ENC_OUT_HIGH;
    }

    ERR_clear_error();
    n = SSL_write(pair->ssl, data, (int) len);

    if (n > 0) {
        return n;
    }

    e = SSL_get_error(pair->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return SP_ERR_AGAIN;
    }

    return ssl_failure(pair, n, "write");
}


static int
flush_queue(sp_pair *pair)
{
    ssize_t  n;

    while (sp_bytes_len(&pair->clear_queue)) {
        n = ssl_write(pair, pair->clear_queue.data + pair->clear_queue.start,
                      sp_bytes_len(&pair->clear_queue));

        if (n == SP_ERR_AGAIN) {
            return SP_OK;
        }

        if (n < 0) {
            return (int) n;
        }

        sp_bytes_consume(&pair->clear_queue, (size_t) n);
    }

    sp_bytes_free(&pair->clear_queue);
    return SP_OK;
}


/*
 * The end of the peer's data: its close_notify, or (once secure) the
 * transport's end without one.  The latter is no failure, as in nginx and
 * Node: our side may still write, but the host hears that it was unclean.
 * A peer need not answer our own close_notify, so after it a bare end is
 * just the end.
 */
static void
peer_closed(sp_pair *pair)
{
    if (pair->peer_closed) {
        return;
    }

    pair->peer_closed = 1;
    pair->events |= SP_EVENT_END;

    if (!pair->close_notify && !pair->shutdown_sent) {
        pair->truncated = 1;
        pair->events |= SP_EVENT_TRUNCATED;
    }
}


static int
send_shutdown(sp_pair *pair)
{
    int  n;

    if (pair->shutdown_sent || sp_bytes_len(&pair->clear_queue)
        || SSL_in_init(pair->ssl))
    {
        return SP_OK;
    }

    ERR_clear_error();
    n = SSL_shutdown(pair->ssl);
    ERR_clear_error();

    if (n >= 0) {
        pair->shutdown_sent = 1;
    }

    return SP_OK;
}


/*
 * Lets OpenSSL look at waiting records while the host is not reading:
 * alerts, close_notify, renegotiation hellos and TLS 1.3 tickets are acted
 * on as they arrive, and SP_STATE_CLEAR_READ becomes exact.  SSL_peek
 * leaves any application data where SSL_read will find it.
 */
static int
process_records(sp_pair *pair)
{
    int   n, e;
    char  byte;

    if (pair->peer_closed || SSL_pending(pair->ssl) > 0
        || (sp_bytes_len(&pair->enc_in) == 0 && !pair->in_eof))
    {
        return SP_OK;
    }

    ERR_clear_error();
    n = SSL_peek(pair->ssl, &byte, 1);

    if (n > 0) {
        return SP_OK;
    }

    e = SSL_get_error(pair->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return SP_OK;
    }

    if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        peer_closed(pair);
        return SP_OK;
    }

    return ssl_failure(pair, n, "read");
}


static int
pair_drive(sp_pair *pair)
{
    int  rc;

    if (pair->error) {
        return pair->error;
    }

    if (pair->state & SP_STATE_HANDSHAKING) {
        rc = do_handshake(pair);
        if (rc != SP_OK) {
            return rc == SP_ERR_AGAIN ? SP_OK : rc;
        }
    }

    rc = flush_queue(pair);

    if (rc == SP_OK && pair->shutdown_wanted) {
        rc = send_shutdown(pair);
    }

    if (rc == SP_OK) {
        rc = process_records(pair);
    }

    if (rc == SP_OK) {
        rc = renegotiated(pair);
    }

    if (rc == SP_OK && pair->reneg_exceeded) {
        rc = ssl_failure(pair, -1, "renegotiation");
    }

    return rc;
}


/* ---- encrypted side ---------------------------------------------------- */


uint8_t *
sp_enc_in_buf(sp_pair *pair, size_t *len)
{
    uint8_t   *data;
    sp_bytes  *b = &pair->enc_in;

    *len = 0;

    if (pair->error || pair->in_eof || pair->peer_closed
        || pair->enc_out.len >= SP_ENC_IN_STOP)
    {
        return NULL;
    }

    if (pair->in_size == 0) {
        pair->in_size = SP_ENC_IN_MIN;
    }

    /* a part of a record waits at the end: move it to the front, so
       that the next receive has room for many */
    if (b->start && (b->size - b->end < b->size / 2 || b->size < pair->in_size))
    {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }

    if (b->size < pair->in_size
        && (pair->in_size != SP_ENC_IN_SIZE
            || sp_enc_in_spare(pair->worker, b) != 0))
    {
        data = realloc(b->data, pair->in_size);
        if (data == NULL) {
            return NULL;
        }

        b->data = data;
        b->size = pair->in_size;
    }

    *len = b->size - b->end;
    pair->in_offered = *len;
    return *len ? b->data + b->end : NULL;
}


int
sp_enc_in_commit(sp_pair *pair, size_t n)
{
    int  rc;

    if (pair->error) {
        return pair->error;
    }

    if (n > pair->enc_in.size - pair->enc_in.end) {
        return SP_ERR_INVALID;
    }

    /* the transport had all the room's worth: it may have more */
    if (n && n == pair->in_offered && pair->in_size < SP_ENC_IN_SIZE) {
        pair->in_size *= 2;
    }

    pair->in_offered = 0;
    pair->enc_in.end += n;

    rc = pair_drive(pair);

    if (sp_bytes_len(&pair->enc_in) == 0) {
        sp_enc_in_release(pair->worker, &pair->enc_in);
    }

    return rc;
}


ssize_t
sp_enc_in(sp_pair *pair, const void *data, size_t len)
{
    int       rc;
    size_t    room, n, total = 0;
    uint8_t  *buf;

    while (total < len) {
        buf = sp_enc_in_buf(pair, &room);
        if (buf == NULL) {
            break;
        }

        n = len - total < room ? len - total : room;
        memcpy(buf, (const uint8_t *) data + total, n);
        total += n;

        rc = sp_enc_in_commit(pair, n);
        if (rc != SP_OK) {
            return total ? (ssize_t) total : rc;
        }
    }

    if (total == 0 && pair->error) {
        return pair->error;
    }

    return (ssize_t) total;
}


int
sp_enc_in_eof(sp_pair *pair)
{
    int  rc;

    if (pair->in_eof) {
        return pair->error;
    }

    pair->in_eof = 1;

    rc = pair_drive(pair);
    if (rc != SP_OK) {
        return rc;
    }

    /*
     * The handshake was cut.  Once secure, the pump has read to the end
     * already, or leaves it for sp_clear_read() behind decrypted bytes.
     */
    if (!(pair->state & SP_STATE_SECURE)) {
        return pair_fail(pair, SP_ERR_TRUNCATED,
                         "peer closed the connection during the handshake");
    }

    return SP_OK;
}


const uint8_t *
sp_enc_out_buf(sp_pair *pair, size_t *len)
{
    sp_block  *b = pair->enc_out.head;

    if (b == NULL) {
        *len = 0;
        return NULL;
    }

    *len = b->end - b->start;
    return b->data + b->start;
}


size_t
sp_enc_out_iov(sp_pair *pair, struct iovec *iov, size_t n)
{
    size_t     i;
    sp_block  *b;

    for (i = 0, b = pair->enc_out.head; i < n && b; i++, b = b->next) {
        iov[i].iov_base = b->data + b->start;
        iov[i].iov_len = b->end - b->start;
    }

    return i;
}


void
sp_enc_out_consume(sp_pair *pair, size_t n)
{
    sp_blocks_consume(pair->worker, &pair->enc_out, n);
}


size_t
sp_enc_out(sp_pair *pair, void *buf, size_t len)
{
    size_t          n, total = 0;
    const uint8_t  *out;

    while (total < len && (out = sp_enc_out_buf(pair, &n)) != NULL) {
        if (n > len - total) {
            n = len - total;
        }

        memcpy((uint8_t *) buf + total, out, n);
        sp_enc_out_consume(pair, n);
        total += n;
    }

    return total;
}


size_t
sp_enc_out_pending(const sp_pair *pair)
{
    return pair->enc_out.len;
}


/* ---- cleartext side ---------------------------------------------------- */


ssize_t
sp_clear_read(sp_pair *pair, void *buf, size_t len)
{
    int  n, e, rc;

    if (pair->error) {
        return pair->error;
    }

    if (pair->state & SP_STATE_HANDSHAKING) {
        rc = pair_drive(pair);
        if (rc != SP_OK) {
            return rc;
        }

        if (pair->state & SP_STATE_HANDSHAKING) {
            return SP_ERR_AGAIN;
        }
    }

    if (len == 0) {
        return SP_ERR_INVALID;
    }

    if (len > 0x7fffffff) {
        len = 0x7fffffff;
    }

    if (pair->peer_closed && SSL_pending(pair->ssl) == 0) {
        return 0;
    }

    ERR_clear_error();
    n = SSL_read(pair->ssl, buf, (int) len);

    /* bytes that came after a renegotiation the peer now fails are
       not handed on */
    rc = renegotiated(pair);
    if (rc != SP_OK) {
        return rc;
    }

    if (n > 0) {
        return n;
    }

    e = SSL_get_error(pair->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();

        if (pair->reneg_exceeded) {
            return ssl_failure(pair, n, "renegotiation");
        }

        return SP_ERR_AGAIN;
    }

    if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        peer_closed(pair);
        return 0;
    }

    return ssl_failure(pair, n, "read");
}


size_t
sp_clear_pending(const sp_pair *pair)
{
    int  n;

    if (pair->error || !(pair->state & SP_STATE_SECURE)) {
        return 0;
    }

    n = SSL_pending(pair->ssl);
    return n > 0 ? (size_t) n : 0;
}


ssize_t
sp_clear_write(sp_pair *pair, const void *data, size_t len)
{
    int       rc;
    size_t    take, queued;
    sp_bytes  *q = &pair->clear_queue;

    if (pair->error) {
        return pair->error;
    }

    if (pair->shutdown_wanted) {
        return SP_ERR_CLOSED;
    }

    if (len == 0) {
        return 0;
    }

    /* Before the handshake (or behind older queued bytes), queue. */
    if ((pair->state & SP_STATE_HANDSHAKING) || sp_bytes_len(q)) {
        queued = sp_bytes_len(q);

        if (queued >= pair->ctx->clear_queue_limit) {
            return SP_ERR_AGAIN;
        }

        take = pair->ctx->clear_queue_limit - queued;
        if (take > len) {
            take = len;
        }

        if (sp_bytes_reserve(q, take) != 0) {
            return SP_ERR_NOMEM;
        }

        memcpy(q->data + q->end, data, take);
        q->end += take;

        if (pair->state & SP_STATE_SECURE) {
            rc = flush_queue(pair);
            if (rc != SP_OK) {
                return rc;
            }
        }

        return (ssize_t) take;
    }

    return ssl_write(pair, data, len);
}


size_t
sp_clear_queued(const sp_pair *pair)
{
    return sp_bytes_len(&pair->clear_queue);
}


int
sp_pair_shutdown(sp_pair *pair)
{
    if (pair->error) {
        return pair->error;
    }

    pair->shutdown_wanted = 1;
    return pair_drive(pair);
}


int
sp_pair_renegotiate(sp_pair *pair)
{
    int  n, e;

    if (pair->error) {
        return pair->error;
    }

    if (!(pair->state & SP_STATE_SECURE)
        || SSL_version(pair->ssl) >= TLS1_3_VERSION
        || pair->shutdown_wanted)
    {
        return SP_ERR_INVALID;
    }

    ERR_clear_error();

    if (!SSL_renegotiate(pair->ssl)) {
        ERR_clear_error();
        return SP_ERR_INVALID;
    }

    pair->we_renegotiate = (pair->ctx->role == SP_SERVER);

    n = SSL_do_handshake(pair->ssl);
    if (n <= 0) {
        e = SSL_get_error(pair->ssl, n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            return ssl_failure(pair, n, "renegotiation");
        }
    }

    ERR_clear_error();
    return renegotiated(pair);
}


/* ---- state ------------------------------------------------------------- */


unsigned
sp_pair_state(const sp_pair *pair)
{
    unsigned  s = 0;
    size_t    queued;

    if (pair->enc_out.len) {
        s |= SP_STATE_SEND_RECORDS;
    }

    /* after our close_notify, a transport end is the end: once read */
    if (pair->error
        || (pair->shutdown_sent
            && (pair->peer_closed
                || (pair->in_eof && sp_bytes_len(&pair->enc_in) == 0
                    && !SSL_has_pending(pair->ssl)))))
    {
        return s ? s : SP_STATE_CLOSED;
    }

    s |= pair->state & (SP_STATE_HANDSHAKING | SP_STATE_SECURE);

    if (!pair->in_eof && !pair->peer_closed
        && pair->enc_out.len < SP_ENC_IN_STOP
        && sp_bytes_len(&pair->enc_in)
           < (pair->in_size ? pair->in_size : SP_ENC_IN_MIN))
    {
        s |= SP_STATE_RECV_RECORDS;
    }

    if ((pair->state & SP_STATE_SECURE) && SSL_pending(pair->ssl) > 0) {
        s |= SP_STATE_CLEAR_READ;
    }

    if (!pair->shutdown_wanted) {
        queued = sp_bytes_len(&pair->clear_queue);

        if ((pair->state & SP_STATE_HANDSHAKING) || queued) {
            if (queued < pair->ctx->clear_queue_limit) {
                s |= SP_STATE_CLEAR_WRITE;
            }

        } else if (pair->enc_out.len < SP_ENC_OUT_HIGH
                   && !SSL_in_init(pair->ssl))
        {
            s |= SP_STATE_CLEAR_WRITE;
        }
    }

    return s;
}


unsigned
sp_pair_events(sp_pair *pair)
{
    unsigned  events = pair->events;

    pair->events = 0;
    return events;
}


int
sp_pair_error(const sp_pair *pair)
{
    return pair->error;
}


const char *
sp_pair_error_message(const sp_pair *pair)
{
    if (pair->error_message != NULL) {
        return pair->error_message;
    }

    return pair->error ? sp_strerror(pair->error) : "";
}


int
sp_pair_truncated(const sp_pair *pair)
{
    return pair->truncated;
}


int
sp_pair_alert_sent(const sp_pair *pair)
{
    return pair->alert_sent;
}


int
sp_pair_alert_received(const sp_pair *pair)
{
    return pair->alert_received;
}


void
sp_pair_set_time(sp_pair *pair, time_t now)
{
    pair->now = now;
}


void
sp_pair_set_data(sp_pair *pair, void *data)
{
    pair->data = data;
}


void *
sp_pair_get_data(const sp_pair *pair)
{
    return pair->data;
}
