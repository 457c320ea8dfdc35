/*
 * SHA-256 digests that identify what credentials rest on: the bytes a
 * key or CA set was parsed from, and the CAs of a store.
 */

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"


int
sp_digest_init(EVP_MD_CTX *md)
{
    const EVP_MD  *sha256 = sp_template_sha256();

    return sha256 != NULL && EVP_DigestInit_ex(md, sha256, NULL);
}


/*
 * A length, then the bytes: concatenations stay unambiguous.  With data
 * NULL, only the number (a count).
 */
int
sp_digest_bytes(EVP_MD_CTX *md, const void *data, size_t len)
{
    unsigned char  n[8];
    int            i;

    for (i = 0; i < 8; i++) {
        n[i] = (unsigned char) (len >> (56 - 8 * i));
    }

    return EVP_DigestUpdate(md, n, sizeof(n))
           && (data == NULL || len == 0 || EVP_DigestUpdate(md, data, len));
}


/*
 * The SHA-1 of every CA (and CRL) of a store, in the store's order, into
 * md.
 */
static int
digest_store(EVP_MD_CTX *md, X509_STORE *store)
{
    X509                  *x;
    X509_CRL              *crl;
    unsigned char          sha1[EVP_MAX_MD_SIZE];
    unsigned               len;
    int                    i;
    STACK_OF(X509_OBJECT) *objs;

    objs = X509_STORE_get0_objects(store);

    for (i = 0; objs && i < sk_X509_OBJECT_num(objs); i++) {
        x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

        if (x == NULL) {
            /* a CRL: revocations change how a client is judged */
            crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));

            if (crl != NULL
                && (!X509_CRL_digest(crl, EVP_sha1(), sha1, &len)
                    || !EVP_DigestUpdate(md, sha1, len)))
            {
                return 0;
            }

            continue;
        }

        /* caches the extensions, and with them the SHA-1, once */
        (void) X509_get_extension_flags(x);

        if (!X509_digest(x, EVP_sha1(), sha1, &len)
            || !EVP_DigestUpdate(md, sha1, len))
        {
            return 0;
        }
    }

    return 1;
}


/* The digest of a store's CAs: what trusting exactly them is called. */
int
sp_store_digest(X509_STORE *store, unsigned char *digest)
{
    EVP_MD_CTX  *md;
    int          ok;

    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md) && digest_store(md, store)
         && EVP_DigestFinal_ex(md, digest, NULL);

    EVP_MD_CTX_free(md);

    /* a CA with broken extensions says so while they are cached */
    ERR_clear_error();
    return ok;
}

