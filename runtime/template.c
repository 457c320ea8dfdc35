/*
 * The template SSL_CTX: what a fresh SSL_CTX would say (security level,
 * protocol range), and scratch SSLs to check a certificate or a cipher
 * list exactly as OpenSSL would use it.  Made once per process.
 */

#include <pthread.h>

#include <openssl/err.h>

#include "internal.h"


static SSL_CTX         *sp_template_ctx;
static pthread_once_t   sp_template_once = PTHREAD_ONCE_INIT;


static void
template_init(void)
{
    sp_template_ctx = SSL_CTX_new(TLS_method());
    ERR_clear_error();
}


/*
 * Freed when the library is unloaded (an nginx module is, with its
 * configuration), while OpenSSL still runs.  At a program's exit OpenSSL's
 * own cleanup has run first, and an SSL_CTX must not outlive it:
 * OPENSSL_init_crypto() answers 0 once OpenSSL is gone, and the template
 * then stays as it is, still reachable.
 */
__attribute__((destructor))
static void
template_free(void)
{
    if (sp_template_ctx == NULL || !OPENSSL_init_crypto(0, NULL)) {
        return;
    }

    SSL_CTX_free(sp_template_ctx);
    sp_template_ctx = NULL;
}


SSL_CTX *
sp_template(void)
{
    pthread_once(&sp_template_once, template_init);
    return sp_template_ctx;
}
