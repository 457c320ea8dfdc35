/*
 * What a pair negotiated (Node's CleartextStream properties).  Strings are
 * owned by the pair and live as long as it does: sp_pair_free() frees them
 * here.
 */

#include <stdlib.h>

#include "cert.h"
#include "internal.h"


/* The facts a pair notes as it goes, read as they were noted. */
#define SP_PAIR_FACT(type, name, field)                                      \
    type                                                                     \
    name(const sp_pair *pair)                                                \
    {                                                                        \
        return pair->field;                                                  \
    }

SP_PAIR_FACT(int, sp_pair_authorized, authorized)
SP_PAIR_FACT(const char *, sp_pair_authorization_error, authorization_error)
SP_PAIR_FACT(const char *, sp_pair_authorization_reason, authorization_reason)
SP_PAIR_FACT(const char *, sp_pair_npn_protocol, npn)
SP_PAIR_FACT(int, sp_pair_npn_no_overlap, npn_no_overlap)
SP_PAIR_FACT(const char *, sp_pair_alpn_protocol, alpn)
SP_PAIR_FACT(const char *, sp_pair_context_name, context_name)
SP_PAIR_FACT(unsigned, sp_pair_renegotiations, renegotiations)
SP_PAIR_FACT(const char *, sp_pair_sni_gave_up, sni_gave_up)

/*
 * The first ClientHello's name, as the contexts saw it (sni_select.c),
 * also while the handshake runs or after it failed.  Not OpenSSL's: it
 * keeps a final dot, holds a second hello's name, reports a resumed TLS
 * 1.2 session's original name and forgets the name at a renegotiation.
 */
SP_PAIR_FACT(const char *, sp_pair_servername, servername)


/*
 * The cipher suite the running or failed first handshake chose, or NULL
 * before it chose one: OpenSSL's version is its highest until then, and
 * the chosen suite becomes "current" only with the keys (a TLS 1.2
 * server's at the client's ChangeCipherSpec).  Version and suite are
 * chosen together, from the ClientHello (server) or the ServerHello
 * (client).
 */
static const SSL_CIPHER *
chosen_cipher(const sp_pair *pair)
{
    return SSL_get_pending_cipher(pair->ssl);
}


const char *
sp_pair_protocol(const sp_pair *pair)
{
    if (!(pair->state & SP_STATE_SECURE) && chosen_cipher(pair) == NULL) {
        return NULL;
    }

    return SSL_get_version(pair->ssl);
}


const char *
sp_pair_cipher(const sp_pair *pair)
{
    const SSL_CIPHER  *cipher;

    if (pair->state & SP_STATE_SECURE) {
        return SSL_CIPHER_get_name(pair->cipher);
    }

    /* (SSL_CIPHER_get_name() would call NULL "(NONE)") */
    cipher = chosen_cipher(pair);

    return cipher ? SSL_CIPHER_get_name(cipher) : NULL;
}


int
sp_pair_session_reused(const sp_pair *pair)
{
    return (pair->state & SP_STATE_SECURE) && SSL_session_reused(pair->ssl);
}


/*
 * The certificate this connection's peer sent.  Once secure, that of the
 * last completed handshake, the one `authorized` speaks of (an unfinished
 * renegotiation has none yet).  One refused under reject_unauthorized is
 * not in OpenSSL's session, so verify.c keeps it.  A handshake that failed
 * while resuming a session has only the certificate of the connection
 * that made the session, which this peer never proved it owns: none.
 */
sp_peer_cert *
sp_pair_peer_cert(const sp_pair *pair)
{
    if (pair->refused_peer != NULL) {
        return sp_cert_snapshot(pair->refused_peer);
    }

    if (pair->state & SP_STATE_SECURE) {
        return sp_cert_snapshot(pair->peer);
    }

    if (SSL_session_reused(pair->ssl)) {
        return NULL;
    }

    return sp_cert_snapshot(SSL_get0_peer_certificate(pair->ssl));
}


/* What the facts above are read from, when the pair goes. */
void
sp_pair_facts_free(sp_pair *pair)
{
    X509_free(pair->peer);
    X509_free(pair->refused_peer);
    free(pair->servername);
    free(pair->npn);
    free(pair->alpn);
}
