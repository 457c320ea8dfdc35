/*
 * Whether a cipher list (suites: a TLS 1.3 suite list) is one OpenSSL
 * takes, checked on a scratch SSL of the template.  Building the list
 * costs far more than the rest of loading a context, and every context of
 * a server names the same: the last list found good of each kind is kept,
 * for the life of the library (freed when it is unloaded, as an nginx
 * module is with its configuration: a pointer that went with the
 * library's data would leave its copy lost).
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"


static pthread_mutex_t   sp_list_lock = PTHREAD_MUTEX_INITIALIZER;
static char             *sp_list_good[2];


int
sp_cipher_list_valid(const char *list, int suites)
{
    SSL   *ssl;
    int    ok;
    char  *copy;

    pthread_mutex_lock(&sp_list_lock);
    ok = sp_list_good[suites] && strcmp(sp_list_good[suites], list) == 0;
    pthread_mutex_unlock(&sp_list_lock);

    if (ok) {
        return 1;
    }

    ssl = sp_template() ? SSL_new(sp_template()) : NULL;
    if (ssl == NULL) {
        return 0;
    }

    ok = suites ? SSL_set_ciphersuites(ssl, list)
                : SSL_set_cipher_list(ssl, list);
    SSL_free(ssl);

    if (ok && (copy = strdup(list)) != NULL) {
        pthread_mutex_lock(&sp_list_lock);
        free(sp_list_good[suites]);
        sp_list_good[suites] = copy;
        pthread_mutex_unlock(&sp_list_lock);
    }

    return ok;
}



__attribute__((destructor))
static void
cipher_list_free(void)
{
    free(sp_list_good[0]);
    free(sp_list_good[1]);
    sp_list_good[0] = NULL;
    sp_list_good[1] = NULL;
}
