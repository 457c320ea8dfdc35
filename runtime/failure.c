/*
 * How a pair fails: one sticky sp_err with a message, decided after
 * OpenSSL has returned (never inside its callbacks) from what our own
 * callbacks noted and what OpenSSL reports.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "cert.h"
#include "internal.h"


/*
 * Ends the pair with its first error; later errors do not overwrite it.
 * Input and queued cleartext are dropped, records already written (the
 * alert) stay for the host to send.
 */
int
sp_pair_fail(sp_pair *pair, int code, const char *fmt, ...)
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
 * What our own callbacks noted: they know more than OpenSSL's reason
 * code.  0 when they noted nothing.
 */
static int
own_failure(sp_pair *pair)
{
    const char  *name = pair->servername;

    if (pair->reneg_exceeded) {
        return sp_pair_fail(pair, SP_ERR_RENEG_LIMIT,
                            "renegotiation limit exceeded: more than %u in "
                            "%lld s", pair->ctx->reneg_limit,
                            (long long) pair->ctx->reneg_window);
    }

    if (pair->unknown_name) {
        return sp_pair_fail(pair, SP_ERR_UNKNOWN_NAME,
                            name ? "unrecognized server name \"%s\""
                                 : "%sno server name sent",
                            name ? name : "");
    }

    if (pair->hello_refused != NULL) {
        return sp_pair_fail(pair, SP_ERR_HANDSHAKE,
                            "%s; sent alert \"%s\" (%d)", pair->hello_refused,
                            SSL_alert_desc_string_long(pair->alert_sent),
                            pair->alert_sent);
    }

    return 0;
}


/*
 * OpenSSL refused the peer's certificate, or its lack of one, with
 * reason `code`: the pair is unauthorized.  0 when that is not the
 * reason.
 */
static int
peer_refused(sp_pair *pair, unsigned long code)
{
    long  result;

    if (ERR_GET_REASON(code) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        pair->authorization_error = "UNABLE_TO_GET_ISSUER_CERT";
        pair->authorization_reason = "peer sent no certificate";

    } else {
        result = SSL_get_verify_result(pair->ssl);

        if (ERR_GET_REASON(code) != SSL_R_CERTIFICATE_VERIFY_FAILED
            || result == X509_V_OK)
        {
            return 0;
        }

        pair->authorization_error = sp_verify_error_name(result);
        pair->authorization_reason = X509_verify_cert_error_string(result);
    }

    unauthorized(pair);
    return sp_pair_fail(pair, SP_ERR_UNAUTHORIZED,
                        "peer certificate not authorized: %s (%s)",
                        pair->authorization_error,
                        pair->authorization_reason);
}


/*
 * Whether an OpenSSL call that returned `ret` (<= 0) only waits for bytes
 * to move either way, which is no failure: then OpenSSL's error queue is
 * left empty.
 */
int
sp_ssl_wants_io(sp_pair *pair, int ret)
{
    int  e;

    e = SSL_get_error(pair->ssl, ret);

    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        return 0;
    }

    sp_clear_errors();
    return 1;
}


/*
 * Turns a failed OpenSSL call into the pair's error: our own flags
 * first, then the transport's end, the peer's certificate, and the
 * alerts either side sent.
 */
int
sp_ssl_failure(sp_pair *pair, int ret, const char *doing)
{
    int            e, rc;
    char           reason[256];
    unsigned long  code;

    e = SSL_get_error(pair->ssl, ret);
    code = ERR_peek_error();
    sp_openssl_reason(reason, sizeof(reason));

    rc = own_failure(pair);
    if (rc != 0) {
        return rc;
    }

    if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING
        || (e == SSL_ERROR_SYSCALL && code == 0)
        || (e == SSL_ERROR_ZERO_RETURN && (pair->state & SP_STATE_HANDSHAKING)))
    {
        return sp_pair_fail(pair, SP_ERR_TRUNCATED,
                            "peer closed the connection %s",
                            (pair->state & SP_STATE_HANDSHAKING)
                            ? "during the handshake" : "without close_notify");
    }

    rc = peer_refused(pair, code);
    if (rc != 0) {
        return rc;
    }

    if (pair->alert_received >= 0) {
        return sp_pair_fail(pair, SP_ERR_PEER_ALERT,
                            "peer sent fatal alert \"%s\" (%d) %s",
                            SSL_alert_desc_string_long(pair->alert_received),
                            pair->alert_received, doing);
    }

    if (pair->alert_sent >= 0) {
        return sp_pair_fail(pair, SP_ERR_HANDSHAKE,
                            "%s failed: %s; sent alert \"%s\" (%d)", doing,
                            reason,
                            SSL_alert_desc_string_long(pair->alert_sent),
                            pair->alert_sent);
    }

    return sp_pair_fail(pair, SP_ERR_HANDSHAKE, "%s failed: %s", doing,
                        reason);
}
