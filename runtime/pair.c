/*
 * The SecurePair engine: one SSL object driven by the host's bytes.  This
 * file makes and frees pairs and reports their state; the pump is in
 * drive.c, the two sides in encrypted.c and cleartext.c, handshakes in
 * handshake.c, and how a pair fails in failure.c.
 */

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"


static int             sp_index = -1;
static pthread_once_t  sp_index_once = PTHREAD_ONCE_INIT;


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

    SSL_set_info_callback(pair->ssl, sp_info_callback);
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
        sp_pair_drive(pair);
    }

    sp_clear_errors();
    *err = SP_OK;
    return pair;

failed:

    *err = rc;
    sp_clear_errors();
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
    sp_clear_errors();

    sp_bytes_free(&pair->enc_in);
    sp_blocks_free(pair->worker, &pair->enc_out);
    sp_worker_detach(pair->worker, pair->home ? pair->home : pair->ctx);
    sp_bytes_free(&pair->clear_queue);
    sp_pair_facts_free(pair);
    free(pair->error_message);
    sp_wait_drop_answers(pair);

    if (pair->creds_held) {
        sp_creds_unref(pair->creds);
    }

    sp_ctx_unref(pair->home);
    sp_ctx_unref(pair->ctx);
    free(pair);
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

    if (pair->wait != SP_WAIT_NONE) {
        s |= SP_STATE_WAITING;
    }

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
