/*
 * A pair's handshakes: the first one driven by the pump, renegotiations
 * (counted from OpenSSL's info callback, started by
 * sp_pair_renegotiate), and what each completed one leaves behind: the
 * negotiated facts and the peer's certificate, judged after every one.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"


/*
 * OpenSSL's info callback: the fatal alerts either side sent, the peer's
 * close_notify, and renegotiations as they happen.  It only notes them;
 * the pair acts once OpenSSL returns.
 */
void
sp_info_callback(const SSL *ssl, int where, int ret)
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
        if (sp_reneg_count(pair) != SP_OK) {
            /* OpenSSL would read on through the records it holds (read
               ahead): as after a peer's close_notify, it drops them */
            SSL_set_shutdown((SSL *) ssl,
                             SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);

            if (pair->alert_sent < 0) {
                pair->alert_sent = SSL_AD_NO_RENEGOTIATION;
            }
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
        return sp_pair_fail(pair, rc, "peer certificate not authorized: %s (%s)",
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
int
sp_pair_renegotiated(sp_pair *pair)
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

    /* the host's answers were taken up: the session's bytes go now */
    sp_wait_drop_answers(pair);

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
                return sp_pair_fail(pair, SP_ERR_NOMEM, "out of memory");
            }
        }
    }

    SSL_get0_next_proto_negotiated(pair->ssl, &data, &len);
    if (len && !pair->npn_none) {
        pair->npn = strndup((const char *) data, len);
        if (pair->npn == NULL) {
            return sp_pair_fail(pair, SP_ERR_NOMEM, "out of memory");
        }
    }

    SSL_get0_alpn_selected(pair->ssl, &data, &len);
    if (len) {
        pair->alpn = strndup((const char *) data, len);
        if (pair->alpn == NULL) {
            return sp_pair_fail(pair, SP_ERR_NOMEM, "out of memory");
        }
    }

    return authorize(pair);
}


int
sp_pair_handshake(sp_pair *pair)
{
    int  n;

    /* the first call: OpenSSL allocates its handshake buffer now */
    if (!pair->hs_started) {
        pair->hs_started = 1;
        sp_worker_hs_give(pair->worker);
    }

    sp_clear_errors();
    n = SSL_do_handshake(pair->ssl);

    if (n == 1) {
        return handshake_done(pair);
    }

    if (sp_ssl_wants_io(pair, n)) {
        return SP_ERR_AGAIN;
    }

    /* the ClientHello callback said "retry": the pair waits for the host */
    if (SSL_get_error(pair->ssl, n) == SSL_ERROR_WANT_CLIENT_HELLO_CB
        && pair->wait != SP_WAIT_NONE)
    {
        sp_clear_errors();
        return SP_ERR_AGAIN;
    }

    return sp_ssl_failure(pair, n, "handshake");
}


int
sp_pair_renegotiate(sp_pair *pair)
{
    int  n;

    if (pair->error) {
        return pair->error;
    }

    if (!(pair->state & SP_STATE_SECURE)
        || SSL_version(pair->ssl) >= TLS1_3_VERSION
        || pair->shutdown_wanted)
    {
        return SP_ERR_INVALID;
    }

    sp_clear_errors();

    if (!SSL_renegotiate(pair->ssl)) {
        sp_clear_errors();
        return SP_ERR_INVALID;
    }

    pair->we_renegotiate = (pair->ctx->role == SP_SERVER);

    n = SSL_do_handshake(pair->ssl);
    if (n <= 0 && !sp_ssl_wants_io(pair, n)) {
        return sp_ssl_failure(pair, n, "renegotiation");
    }

    sp_clear_errors();
    return sp_pair_renegotiated(pair);
}
