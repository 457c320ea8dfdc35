/*
 * What a pair negotiated (Node's CleartextStream properties).  Strings are
 * owned by the pair and live as long as it does.
 */

#include "cert.h"
#include "internal.h"


int
sp_pair_authorized(const sp_pair *pair)
{
    return pair->authorized;
}


const char *
sp_pair_authorization_error(const sp_pair *pair)
{
    return pair->authorization_error;
}


const char *
sp_pair_authorization_reason(const sp_pair *pair)
{
    return pair->authorization_reason;
}


const char *
sp_pair_npn_protocol(const sp_pair *pair)
{
    return pair->npn;
}


int
sp_pair_npn_no_overlap(const sp_pair *pair)
{
    return pair->npn_no_overlap;
}


const char *
sp_pair_alpn_protocol(const sp_pair *pair)
{
    return pair->alpn;
}


const char *
sp_pair_servername(const sp_pair *pair)
{
    if (pair->ctx->role == SP_CLIENT || (pair->state & SP_STATE_SECURE)) {
        return pair->servername;
    }

    return SSL_get_servername(pair->ssl, TLSEXT_NAMETYPE_host_name);
}


const char *
sp_pair_context_name(const sp_pair *pair)
{
    return pair->context_name;
}


const char *
sp_pair_protocol(const sp_pair *pair)
{
    if (!(pair->state & SP_STATE_SECURE)) {
        return NULL;
    }

    return SSL_get_version(pair->ssl);
}


const char *
sp_pair_cipher(const sp_pair *pair)
{
    if (!(pair->state & SP_STATE_SECURE)) {
        return NULL;
    }

    return SSL_CIPHER_get_name(pair->cipher);
}


int
sp_pair_session_reused(const sp_pair *pair)
{
    return (pair->state & SP_STATE_SECURE) && SSL_session_reused(pair->ssl);
}


unsigned
sp_pair_renegotiations(const sp_pair *pair)
{
    return pair->renegotiations;
}


/*
 * Once secure, the certificate of the last completed handshake, the one
 * `authorized` speaks of (an unfinished renegotiation has none yet);
 * before that, what OpenSSL has (the certificate of a refused peer).
 */
sp_peer_cert *
sp_pair_peer_cert(const sp_pair *pair)
{
    if (pair->state & SP_STATE_SECURE) {
        return sp_cert_snapshot(pair->peer);
    }

    return sp_cert_snapshot(SSL_get0_peer_certificate(pair->ssl));
}
