/*
 * CA sets: the trusted CAs of credentials, a store to verify with and
 * the names to ask a client for, parsed from PEM and shared by content
 * (shared.c).  A set grows by a PEM text at a time into a new set.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "internal.h"


static void
ca_set_free(sp_shared *obj)
{
    sp_ca_set  *ca = (sp_ca_set *) obj;

    X509_STORE_free(ca->store);
    sk_X509_pop_free(ca->certs, X509_free);
    sk_X509_NAME_pop_free(ca->names, X509_NAME_free);
    free(ca);
}


/* What identifies a set: the set it grew from, and the PEM text added. */
static int
ca_set_id(const sp_ca_set *base, const char *pem, size_t len,
    unsigned char *id)
{
    EVP_MD_CTX     *md;
    int             ok;
    unsigned char   none[SP_ID_LEN];

    memset(none, 0, sizeof(none));
    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md)
         && sp_digest_bytes(md, "CA set", 6)
         && sp_digest_bytes(md, base ? base->shared.id : none, SP_ID_LEN)
         && sp_digest_bytes(md, pem, len)
         && EVP_DigestFinal_ex(md, id, NULL);

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}


/* Adds a CA to the set being built: store, names to send, certificates. */
static int
ca_set_push(sp_ca_set *ca, X509 *x)
{
    X509_NAME  *name;

    if (!X509_STORE_add_cert(ca->store, x)) {
        return 0;
    }

    name = X509_NAME_dup(X509_get_subject_name(x));
    if (name == NULL || !sk_X509_NAME_push(ca->names, name)) {
        X509_NAME_free(name);
        return 0;
    }

    if (!X509_up_ref(x)) {
        return 0;
    }

    if (!sk_X509_push(ca->certs, x)) {
        X509_free(x);
        return 0;
    }

    return 1;
}


static int
ca_set_parse(sp_creds *creds, const sp_ca_set *base, const char *pem,
    size_t len, const char *origin, sp_ca_set *ca)
{
    BIO   *bio;
    X509  *x;
    int    i, count = 0;

    ca->store = X509_STORE_new();
    ca->certs = sk_X509_new_null();
    ca->names = sk_X509_NAME_new_null();

    if (ca->store == NULL || ca->certs == NULL || ca->names == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    for (i = 0; base && i < sk_X509_num(base->certs); i++) {
        if (!ca_set_push(ca, sk_X509_value(base->certs, i))) {
            ERR_clear_error();
            return SP_ERR_NOMEM;
        }
    }

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!ca_set_push(ca, x)) {
            X509_free(x);
            BIO_free(bio);
            return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_CA,
                                origin, count + 1, "CA refused");
        }

        X509_free(x);
        count++;
    }

    BIO_free(bio);

    if (count == 0) {
        return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_CA, origin,
                            0, "no certificate found");
    }

    ERR_clear_error();

    if (!sp_store_digest(ca->store, ca->digest)) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    return SP_OK;
}


/* What ca_set_parse reads, through sp_shared_get(). */
typedef struct {
    sp_creds            *creds;
    const sp_ca_set     *base;
    const char          *pem;
    size_t               len;
    const char          *origin;
} sp_ca_input;


static int
ca_set_build(sp_shared *obj, void *arg)
{
    sp_ca_input  *in = arg;

    return ca_set_parse(in->creds, in->base, in->pem, in->len, in->origin,
                        (sp_ca_set *) obj);
}


/*
 * The CA set `base` (NULL: none yet) with every certificate of a PEM text
 * added: the one already shared, or a new one.  `base` is left as it is.
 */
int
sp_ca_set_load(sp_creds *creds, sp_ca_set *base, const char *pem,
    size_t len, const char *origin, sp_ca_set **out)
{
    int             rc;
    sp_shared      *obj;
    sp_ca_input     in;
    unsigned char   id[SP_ID_LEN];

    if (!ca_set_id(base, pem, len, id)) {
        return SP_ERR_NOMEM;
    }

    in.creds = creds;
    in.base = base;
    in.pem = pem;
    in.len = len;
    in.origin = origin;

    rc = sp_shared_get(id, sizeof(sp_ca_set), ca_set_free, ca_set_build, &in,
                       &obj);

    *out = (sp_ca_set *) obj;
    return rc;
}
