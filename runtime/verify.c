/*
 * Authorization of the peer, with Node's semantics: the chain is verified
 * during the handshake, but unless the peer is to be rejected the verdict
 * is only recorded, and `authorized` / `authorizationError` are decided
 * once the handshake is done.
 */

#include <string.h>

#include <openssl/x509_vfy.h>

#include "cert.h"
#include "internal.h"


/*
 * Every certificate is let through the per-certificate callback, so the
 * chain is always verified to its end and the verdict is the last error,
 * as Node reports it ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", not the first
 * error OpenSSL met on the way).
 */
int
sp_verify_callback(int preverify_ok, X509_STORE_CTX *store)
{
    (void) preverify_ok;
    (void) store;

    return 1;
}


/*
 * Under reject_unauthorized a bad chain fails the handshake right here, so
 * OpenSSL sends the alert that fits the verdict and no application byte
 * ever flows; otherwise the verdict is only recorded and judged after the
 * handshake.
 */
static int
verify_chain(X509_STORE_CTX *store, void *arg)
{
    SSL      *ssl;
    sp_pair  *pair;
    int       rc;

    (void) arg;

    rc = X509_verify_cert(store);
    if (rc <= 0) {
        return rc;
    }

    ssl = X509_STORE_CTX_get_ex_data(store,
                                     SSL_get_ex_data_X509_STORE_CTX_idx());
    pair = ssl ? sp_pair_from_ssl(ssl) : NULL;

    if (pair != NULL && X509_STORE_CTX_get_error(store) != X509_V_OK
        && sp_creds_effective_reject(pair->creds, pair->ctx))
    {
        /* kept for sp_pair_peer_cert(): the host logs whom it refused */
        X509_free(pair->refused_peer);
        pair->refused_peer = X509_STORE_CTX_get0_cert(store);

        if (pair->refused_peer != NULL) {
            X509_up_ref(pair->refused_peer);
        }

        return 0;
    }

    return 1;
}


void
sp_verify_install(SSL_CTX *ssl_ctx)
{
    SSL_CTX_set_cert_verify_callback(ssl_ctx, verify_chain, NULL);
}


/*
 * A session is bound to the credentials' session-id context and to the
 * policy in force: one made where no certificate was asked for never
 * resumes where one is required, nor the other way round.
 */
static void
bind_session_context(sp_pair *pair, int request, int reject)
{
    sp_creds       *creds = pair->creds;
    unsigned char   sid[SSL_MAX_SID_CTX_LENGTH];

    if (creds->sid_len == 0) {
        return;
    }

    memcpy(sid, creds->sid, creds->sid_len);

    /* the policy in the last byte: 4 contexts from one digest */
    sid[creds->sid_len - 1] ^= (unsigned char) (request << 1 | reject);

    SSL_set_session_id_context(pair->ssl, sid, (unsigned) creds->sid_len);
}


void
sp_verify_apply(sp_pair *pair)
{
    int  mode, request, reject;

    /* the selected credentials' depth; -1 is OpenSSL's default, 100 */
    SSL_set_verify_depth(pair->ssl, pair->creds->verify_depth);

    if (pair->ctx->role == SP_CLIENT) {
        SSL_set_verify(pair->ssl, SSL_VERIFY_PEER, sp_verify_callback);
        return;
    }

    request = sp_creds_effective_request_cert(pair->creds, pair->ctx);
    reject = sp_creds_effective_reject(pair->creds, pair->ctx);

    if (request) {
        /*
         * Asked again in every renegotiation, as Node asks (no
         * SSL_VERIFY_CLIENT_ONCE): the peer is judged again after each
         * handshake, and a client asked for nothing would lose its
         * authorization.  Node: requestCert with rejectUnauthorized
         * insists on a cert.
         */
        mode = SSL_VERIFY_PEER;

        if (reject) {
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        }

    } else {
        mode = SSL_VERIFY_NONE;
    }

    SSL_set_verify(pair->ssl, mode, sp_verify_callback);
    bind_session_context(pair, request, reject);
}


/*
 * Decides `authorized` after a handshake (and after every renegotiation,
 * which may bring another certificate or none) from pair->peer, the
 * certificate that handshake brought.  Returns SP_ERR_UNAUTHORIZED when
 * the peer is to be rejected.
 */
int
sp_verify_authorize(sp_pair *pair)
{
    long   result;
    X509  *peer;
    int    reject;

    pair->authorized = 0;
    pair->authorization_error = NULL;
    pair->authorization_reason = NULL;

    reject = sp_creds_effective_reject(pair->creds, pair->ctx);

    if (pair->ctx->role == SP_SERVER
        && !sp_creds_effective_request_cert(pair->creds, pair->ctx))
    {
        /* As in Node: not asked, so neither authorized nor refused. */
        return SP_OK;
    }

    peer = pair->peer;

    if (peer == NULL) {
        /* Node's own word for "we asked and got no certificate". */
        pair->authorization_error = "UNABLE_TO_GET_ISSUER_CERT";
        pair->authorization_reason = "peer sent no certificate";

    } else {
        result = SSL_get_verify_result(pair->ssl);

        if (result == X509_V_OK) {
            pair->authorized = 1;
            return SP_OK;
        }

        pair->authorization_error = sp_verify_error_name(result);
        pair->authorization_reason = X509_verify_cert_error_string(result);
    }

    return reject ? SP_ERR_UNAUTHORIZED : SP_OK;
}
