/*
 * NPN and ALPN: protocol lists in wire format and the OpenSSL callbacks
 * that advertise, select and record them.
 */

#include <stdlib.h>
#include <string.h>

#include "internal.h"


/* A list in wire format; `field` (NPN or ALPN) says which, in errors. */
int
sp_proto_list_set(sp_proto_list *list, const char *const *names, size_t n,
    sp_error_slot *err, sp_field field)
{
    size_t          i, len, total = 0;
    unsigned char  *wire, *p;

    for (i = 0; i < n; i++) {
        len = names[i] ? strlen(names[i]) : 0;

        if (len == 0 || len > 255) {
            return sp_error_set(err, SP_ERR_INVALID, field, NULL, (int) i + 1,
                                "protocol name #%zu is %s: each must be 1 "
                                "to 255 bytes", i + 1,
                                len ? "too long" : "empty");
        }

        total += 1 + len;
    }

    if (total > 0xffff) {
        return sp_error_set(err, SP_ERR_INVALID, field, NULL, 0,
                            "protocol list is longer than 65535 bytes");
    }

    wire = NULL;

    if (n) {
        wire = malloc(total);
        if (wire == NULL) {
            return SP_ERR_NOMEM;
        }

        p = wire;
        for (i = 0; i < n; i++) {
            len = strlen(names[i]);
            *p++ = (unsigned char) len;
            memcpy(p, names[i], len);
            p += len;
        }
    }

    free(list->data);
    list->data = wire;
    list->len = total;
    return SP_OK;
}


void
sp_proto_list_free(sp_proto_list *list)
{
    free(list->data);
    list->data = NULL;
    list->len = 0;
}


/* Server: NPN advertises the context's list, in its order. */
static int
npn_advertise(SSL *ssl, const unsigned char **out, unsigned int *outlen,
    void *arg)
{
    sp_pair  *pair = sp_pair_from_ssl(ssl);

    (void) arg;

    if (pair == NULL || pair->ctx->npn.len == 0) {
        return SSL_TLSEXT_ERR_NOACK;
    }

    *out = pair->ctx->npn.data;
    *outlen = (unsigned) pair->ctx->npn.len;
    return SSL_TLSEXT_ERR_OK;
}


/*
 * Client: pick from the server's NPN list.  When nothing overlaps OpenSSL
 * picks our first protocol and so did Node: the choice goes to the server
 * and both sides report it; we also remember it was no overlap.
 *
 * OpenSSL offers NPN for every pair of an SSL_CTX with this callback, and
 * credentials may be shared by clients with and without a list.  A pair
 * without one answers as Node v0.8 did: it must name something, names
 * "http/1.1", and reports no protocol itself.
 */
static int
npn_select(SSL *ssl, unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
    static unsigned char  fallback[] = "http/1.1";
    sp_pair              *pair = sp_pair_from_ssl(ssl);

    (void) arg;

    if (pair == NULL || pair->ctx->npn.len == 0) {
        if (pair) {
            pair->npn_none = 1;
        }

        *out = fallback;
        *outlen = sizeof(fallback) - 1;
        return SSL_TLSEXT_ERR_OK;
    }

    if (SSL_select_next_proto(out, outlen, in, inlen, pair->ctx->npn.data,
                              (unsigned) pair->ctx->npn.len)
        == OPENSSL_NPN_NO_OVERLAP)
    {
        pair->npn_no_overlap = 1;
    }

    return SSL_TLSEXT_ERR_OK;
}


/*
 * Server: ALPN picks by the server's preference, not the client's order.
 * An offer with nothing in common is refused with no_application_protocol
 * (RFC 7301 3.2) rather than silently carrying on without a protocol.
 */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
    sp_pair              *pair = sp_pair_from_ssl(ssl);
    const unsigned char  *ours, *end, *theirs, *tend;

    (void) arg;

    if (pair == NULL || pair->ctx->alpn.len == 0) {
        return SSL_TLSEXT_ERR_NOACK;
    }

    ours = pair->ctx->alpn.data;
    end = ours + pair->ctx->alpn.len;

    for (; ours < end; ours += 1 + ours[0]) {
        theirs = in;
        tend = in + inlen;

        while (theirs < tend && theirs + 1 + theirs[0] <= tend) {
            if (theirs[0] == ours[0]
                && memcmp(theirs + 1, ours + 1, ours[0]) == 0)
            {
                *out = theirs + 1;
                *outlen = theirs[0];
                return SSL_TLSEXT_ERR_OK;
            }

            theirs += 1 + theirs[0];
        }
    }

    return SSL_TLSEXT_ERR_ALERT_FATAL;
}


void
sp_protocols_install(SSL_CTX *ssl_ctx)
{
    SSL_CTX_set_next_protos_advertised_cb(ssl_ctx, npn_advertise, NULL);
    SSL_CTX_set_alpn_select_cb(ssl_ctx, alpn_select, NULL);
}


/*
 * A client offers NPN whenever its SSL_CTX has a select callback, so it is
 * installed only once a client context has an NPN list.
 */
void
sp_protocols_install_client(SSL_CTX *ssl_ctx)
{
    SSL_CTX_set_next_proto_select_cb(ssl_ctx, npn_select, NULL);
}
