/*
 * What OpenSSL gives once per process: the template SSL_CTX (what a fresh
 * SSL_CTX would say: security level, protocol range; and scratch SSLs to
 * check a certificate or a cipher list exactly as OpenSSL would use it),
 * and the SHA-256 the digests of digest.c use, fetched once rather than
 * looked up for every digest.
 */

#include <pthread.h>

#include <openssl/err.h>

#include "internal.h"


static SSL_CTX         *sp_template_ctx;
static EVP_MD          *sp_sha256;
static pthread_once_t   sp_template_once = PTHREAD_ONCE_INIT;


static void
template_init(void)
{
    sp_template_ctx = SSL_CTX_new(TLS_method());
    sp_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    ERR_clear_error();
}


/*
 * Freed when the library is unloaded (an nginx module is, with its
 * configuration), while OpenSSL still runs.  At a program's exit OpenSSL's
 * own cleanup has run first, and an SSL_CTX must not outlive it:
 * OPENSSL_init_crypto() answers 0 once OpenSSL is gone, and the objects
 * then stay as they are, still reachable.
 */
__attribute__((destructor))
static void
template_free(void)
{
    if ((sp_template_ctx == NULL && sp_sha256 == NULL)
        || !OPENSSL_init_crypto(0, NULL))
    {
        return;
    }

    SSL_CTX_free(sp_template_ctx);
    sp_template_ctx = NULL;
    EVP_MD_free(sp_sha256);
    sp_sha256 = NULL;
}


SSL_CTX *
sp_template(void)
{
    pthread_once(&sp_template_once, template_init);
    return sp_template_ctx;
}


const EVP_MD *
sp_template_sha256(void)
{
    pthread_once(&sp_template_once, template_init);
    return sp_sha256;
}
