/*
 * A client of raw OpenSSL wired to a server pair through memory BIOs, for
 * the tests that must do what the pair API would not let a client do (a
 * renegotiation or key-update flood, a second ClientHello that names
 * another server, counting the session tickets a server sends).
 */

#ifndef SP_RAW_CLIENT_H
#define SP_RAW_CLIENT_H

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "pump.h"


typedef struct {
    SSL_CTX   *ctx;
    SSL       *ssl;
    BIO       *rbio;            /* the server's records, for the client */
    BIO       *wbio;            /* the client's records */
} raw_t;


/*
 * The client's SSL_CTX, with "<cert>.crt" and "<cert>.key" of the test
 * certificates as its identity (NULL: none).  The test sets what else it
 * needs on r->ctx, then raw_ssl().  0 on failure; raw_free() in any case.
 */
static inline int
raw_ctx(raw_t *r, const SSL_METHOD *method, const char *cert)
{
    char  name[64];

    memset(r, 0, sizeof(raw_t));

    r->ctx = SSL_CTX_new(method);
    if (r->ctx == NULL) {
        return 0;
    }

    if (cert == NULL) {
        return 1;
    }

    snprintf(name, sizeof(name), "%s.crt", cert);
    if (SSL_CTX_use_certificate_file(r->ctx, cert_path(name),
                                     SSL_FILETYPE_PEM) != 1)
    {
        return 0;
    }

    snprintf(name, sizeof(name), "%s.key", cert);
    return SSL_CTX_use_PrivateKey_file(r->ctx, cert_path(name),
                                       SSL_FILETYPE_PEM) == 1;
}


/* The client's SSL on its two memory BIOs, about to say hello. */
static inline int
raw_ssl(raw_t *r)
{
    r->ssl = SSL_new(r->ctx);
    r->rbio = BIO_new(BIO_s_mem());
    r->wbio = BIO_new(BIO_s_mem());

    if (r->ssl == NULL || r->rbio == NULL || r->wbio == NULL) {
        return 0;
    }

    SSL_set_bio(r->ssl, r->rbio, r->wbio);
    SSL_set_connect_state(r->ssl);
    return 1;
}


static inline void
raw_free(raw_t *r)
{
    if (r->ssl != NULL) {
        SSL_free(r->ssl);

    } else {
        BIO_free(r->rbio);
        BIO_free(r->wbio);
    }

    SSL_CTX_free(r->ctx);
    ERR_clear_error();
}

#endif /* SP_RAW_CLIENT_H */
