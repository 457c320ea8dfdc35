/*
 * The system's trusted CAs, parsed once per process and shared by every
 * credentials without a `ca` of their own: parsing them costs tens of
 * milliseconds and hundreds of kilobytes, which thousands of SNI contexts
 * must not each pay.  Their digest, for session-id contexts, is taken
 * once as well.  Freed when the library goes.
 */

#include <pthread.h>

#include "internal.h"


static X509_STORE      *sp_system;
static unsigned char    sp_system_digest[SP_ID_LEN];
static pthread_once_t   sp_system_once = PTHREAD_ONCE_INIT;


static void
system_store_init(void)
{
    X509_STORE  *store;

    store = X509_STORE_new();
    if (store == NULL) {
        return;
    }

    if (!X509_STORE_set_default_paths(store)
        || !sp_store_digest(store, sp_system_digest))
    {
        X509_STORE_free(store);
        return;
    }

    sp_system = store;
}


X509_STORE *
sp_system_store(const unsigned char **digest)
{
    pthread_once(&sp_system_once, system_store_init);

    if (digest) {
        *digest = sp_system_digest;
    }

    return sp_system;
}


__attribute__((destructor))
static void
system_store_free(void)
{
    X509_STORE_free(sp_system);
    sp_system = NULL;
}
