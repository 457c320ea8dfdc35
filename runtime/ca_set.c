/*
 * CA sets: the trusted CAs of credentials, a store to verify with and
 * the names to ask a client for, parsed from PEM and shared by content
 * (shared.c).  A set grows by a PEM text at a time into a new set: CAs
 * that are announced (Node's ca), CAs that are only trusted, or CRLs.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "internal.h"


/* What ca_set_parse reads, through sp_shared_get(). */
typedef struct {
    sp_creds            *creds;
    const sp_ca_set     *base;
    sp_ca_kind           kind;
    const char          *pem;
    size_t               len;
    const char          *origin;
} sp_ca_input;


static void
ca_set_free(sp_shared *obj)
{
    sp_ca_set  *ca = (sp_ca_set *) obj;

    X509_STORE_free(ca->store);
    sk_X509_pop_free(ca->certs, X509_free);
    sk_X509_pop_free(ca->trusted, X509_free);
    sk_X509_CRL_pop_free(ca->crls, X509_CRL_free);
    sk_X509_NAME_pop_free(ca->names, X509_NAME_free);
    free(ca);
}


/*
 * What identifies a set: the set it grew from, the kind of what was
 * added and its PEM text.
 */
static int
ca_set_id(const sp_ca_set *base, sp_ca_kind kind, const char *pem,
    size_t len, unsigned char *id)
{
    EVP_MD_CTX     *md;
    int             ok;
    unsigned char   none[SP_ID_LEN];

    memset(none, 0, sizeof(none));
    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md)
         && sp_digest_bytes(md, "CA set", 6)
         && sp_digest_bytes(md, base ? base->shared.id : none, SP_ID_LEN)
         && sp_digest_bytes(md, NULL, kind)
         && sp_digest_bytes(md, pem, len)
         && EVP_DigestFinal_ex(md, id, NULL);

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}


/*
 * Adds a CA to the set being built: to the store, and to the names to
 * send when it is announced, with the certificates of its kind.
 */
static int
ca_set_push(sp_ca_set *ca, X509 *x, sp_ca_kind kind)
{
    X509_NAME        *name;
    STACK_OF(X509)   *list;

    if (!X509_STORE_add_cert(ca->store, x)) {
        return 0;
    }

    if (kind == SP_CA_ANNOUNCED) {
        name = X509_NAME_dup(X509_get_subject_name(x));
        if (name == NULL || !sk_X509_NAME_push(ca->names, name)) {
            X509_NAME_free(name);
            return 0;
        }
    }

    if (!X509_up_ref(x)) {
        return 0;
    }

    list = kind == SP_CA_ANNOUNCED ? ca->certs : ca->trusted;

    if (!sk_X509_push(list, x)) {
        X509_free(x);
        return 0;
    }

    return 1;
}


/*
 * Adds a CRL: every certificate of a chain is then checked against its
 * issuer's CRL (Node's crl, nginx's ssl_crl), and one without a CRL is
 * UNABLE_TO_GET_CRL.
 */
static int
ca_set_push_crl(sp_ca_set *ca, X509_CRL *crl)
{
    if (!X509_STORE_add_crl(ca->store, crl) || !X509_CRL_up_ref(crl)) {
        return 0;
    }

    if (!sk_X509_CRL_push(ca->crls, crl)) {
        X509_CRL_free(crl);
        return 0;
    }

    return X509_STORE_set_flags(ca->store, X509_V_FLAG_CRL_CHECK
                                           | X509_V_FLAG_CRL_CHECK_ALL);
}


/* What the set it grows from holds, in the same order. */
static int
ca_set_copy(sp_ca_set *ca, const sp_ca_set *base)
{
    int  i;

    for (i = 0; i < sk_X509_num(base->certs); i++) {
        if (!ca_set_push(ca, sk_X509_value(base->certs, i), SP_CA_ANNOUNCED))
        {
            return 0;
        }
    }

    for (i = 0; i < sk_X509_num(base->trusted); i++) {
        if (!ca_set_push(ca, sk_X509_value(base->trusted, i), SP_CA_TRUSTED))
        {
            return 0;
        }
    }

    for (i = 0; i < sk_X509_CRL_num(base->crls); i++) {
        if (!ca_set_push_crl(ca, sk_X509_CRL_value(base->crls, i))) {
            return 0;
        }
    }

    return 1;
}


/* The input an error about a kind of addition names. */
sp_field
sp_ca_kind_field(sp_ca_kind kind)
{
    return kind == SP_CA_ANNOUNCED ? SP_FIELD_CA
           : kind == SP_CA_TRUSTED ? SP_FIELD_TRUSTED : SP_FIELD_CRL;
}


/* Every certificate, or every CRL, of a PEM text into the set. */
static int
ca_set_read(sp_creds *creds, BIO *bio, sp_ca_kind kind, const char *origin,
    sp_ca_set *ca, int *count)
{
    X509      *x;
    X509_CRL  *crl;
    sp_field   field;

    field = sp_ca_kind_field(kind);

    if (kind == SP_CA_CRL) {
        while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
            if (!ca_set_push_crl(ca, crl)) {
                X509_CRL_free(crl);
                return sp_error_ssl(&creds->error, SP_ERR_LOAD, field,
                                    origin, *count + 1, "CRL refused");
            }

            X509_CRL_free(crl);
            (*count)++;
        }

        return SP_OK;
    }

    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!ca_set_push(ca, x, kind)) {
            X509_free(x);
            return sp_error_ssl(&creds->error, SP_ERR_LOAD, field, origin,
                                *count + 1, "CA refused");
        }

        X509_free(x);
        (*count)++;
    }

    return SP_OK;
}


/* Fills `obj`, a new sp_ca_set, from the sp_ca_input at `arg`. */
static int
ca_set_parse(sp_shared *obj, void *arg)
{
    const sp_ca_input  *in = arg;
    sp_ca_set          *ca = (sp_ca_set *) obj;
    BIO                *bio;
    int                 rc, count = 0;

    ca->store = X509_STORE_new();
    ca->certs = sk_X509_new_null();
    ca->trusted = sk_X509_new_null();
    ca->crls = sk_X509_CRL_new_null();
    ca->names = sk_X509_NAME_new_null();

    if (ca->store == NULL || ca->certs == NULL || ca->trusted == NULL
        || ca->crls == NULL || ca->names == NULL
        || (in->base && !ca_set_copy(ca, in->base)))
    {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    bio = BIO_new_mem_buf(in->pem, (int) in->len);
    if (bio == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    rc = ca_set_read(in->creds, bio, in->kind, in->origin, ca, &count);
    BIO_free(bio);

    if (rc != SP_OK) {
        return rc;
    }

    if (count == 0) {
        return sp_error_ssl(&in->creds->error, SP_ERR_LOAD,
                            sp_ca_kind_field(in->kind), in->origin, 0,
                            in->kind == SP_CA_CRL ? "no CRL found"
                                                  : "no certificate found");
    }

    ERR_clear_error();

    if (!sp_store_digest(ca->store, ca->digest)) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    return SP_OK;
}


/*
 * The CA set `base` (NULL: none yet) with every certificate (or CRL) of a
 * PEM text added as `kind`: the one already shared, or a new one.  `base`
 * is left as it is.
 */
int
sp_ca_set_load(sp_creds *creds, sp_ca_set *base, sp_ca_kind kind,
    const char *pem, size_t len, const char *origin, sp_ca_set **out)
{
    int             rc;
    sp_shared      *obj;
    sp_ca_input     in = { creds, base, kind, pem, len, origin };
    unsigned char   id[SP_ID_LEN];

    if (!ca_set_id(base, kind, pem, len, id)) {
        return SP_ERR_NOMEM;
    }

    rc = sp_shared_get(id, sizeof(sp_ca_set), ca_set_free, ca_set_parse, &in,
                       &obj);

    *out = (sp_ca_set *) obj;
    return rc;
}
