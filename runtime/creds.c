/*
 * Credentials (Node's SecureContext): key/certificate pairs, the CA set,
 * ciphers, versions and the session-id context.
 *
 * Credentials keep parsed objects, shared with every other credentials
 * loaded from the same bytes (shared.c), and the settings that differ.  An
 * SSL_CTX is built only for credentials that become a context's default,
 * whose pairs start from it; credentials chosen by SNI are installed on
 * the pair's SSL instead (creds_serve.c), so a context costs what it
 * holds of its own, not an SSL_CTX.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"


#define SP_MEMORY   "<memory>"


static int replace_string(char **slot, const char *value);


sp_creds *
sp_creds_new(void)
{
    sp_creds  *creds;

    creds = calloc(1, sizeof(sp_creds));
    if (creds == NULL) {
        return NULL;
    }

    creds->refs = 1;
    creds->request_cert = -1;
    creds->reject_unauthorized = -1;
    creds->verify_depth = -1;

    return creds;
}


/*
 * Everything but the keys: the CA set is shared, the rest copied.  A
 * setting that a new sp_creds_set_* call adds to the credentials belongs
 * here too, or credentials made like a model would serve differently
 * from it (runtime/tests/t_creds.c compares their content).
 */
sp_creds *
sp_creds_new_like(const sp_creds *model)
{
    sp_creds  *creds;

    creds = sp_creds_new();
    if (creds == NULL) {
        return NULL;
    }

    if (model->ca) {
        sp_shared_ref(&model->ca->shared);
        creds->ca = model->ca;
    }

    if ((model->ciphers && replace_string(&creds->ciphers, model->ciphers))
        || (model->ciphersuites
            && replace_string(&creds->ciphersuites, model->ciphersuites))
        || sp_creds_set_passphrases(creds,
                                    (const char *const *) model->passphrases,
                                    model->npassphrases)
           != SP_OK
        || sp_creds_params_copy(creds, model) != SP_OK)
    {
        sp_creds_unref(creds);
        return NULL;
    }

    creds->min_version = model->min_version;
    creds->max_version = model->max_version;
    creds->versions_set = model->versions_set;
    creds->request_cert = model->request_cert;
    creds->reject_unauthorized = model->reject_unauthorized;
    memcpy(creds->user_sid, model->user_sid, model->user_sid_len);
    creds->user_sid_len = model->user_sid_len;

    return creds;
}


SP_REF_FUNCTION(sp_creds, sp_creds_ref)


void
sp_creds_wipe_passphrases(sp_creds *creds)
{
    size_t  i;

    for (i = 0; i < creds->npassphrases; i++) {
        OPENSSL_cleanse(creds->passphrases[i], strlen(creds->passphrases[i]));
        free(creds->passphrases[i]);
    }

    free(creds->passphrases);
    creds->passphrases = NULL;
    creds->npassphrases = 0;
}


void
sp_creds_unref(sp_creds *creds)
{
    size_t  i;

    if (creds == NULL || !sp_refs_drop(&creds->refs)) {
        return;
    }

    sp_creds_wipe_passphrases(creds);

    for (i = 0; i < creds->nkeycerts; i++) {
        sp_shared_unref(&creds->keycerts[i]->shared);
    }

    free(creds->keycerts);

    if (creds->ca) {
        sp_shared_unref(&creds->ca->shared);
    }

    SSL_CTX_free(creds->ssl_ctx);
    sp_creds_params_free(creds);
    free(creds->ciphers);
    free(creds->ciphersuites);
    sp_error_clear(&creds->error);
    free(creds);
}


SP_ERROR_READERS(sp_creds, sp_creds_error, sp_creds_error_info)


/*
 * Credentials freeze when they first serve a context (sp_creds_prepare):
 * the session-id context is computed from them then, and pairs on several
 * threads read them without a lock.  Every setter asks here first.
 */
SP_FROZEN_CHECK(sp_creds, sp_creds_check_open,
                "the credentials serve a context and no longer change")


int
sp_creds_set_passphrases(sp_creds *creds, const char *const *list, size_t n)
{
    size_t  i;

    if (sp_creds_check_open(creds, "sp_creds_set_passphrases") != SP_OK) {
        return SP_ERR_INVALID;
    }

    sp_creds_wipe_passphrases(creds);

    if (n == 0) {
        return SP_OK;
    }

    creds->passphrases = calloc(n, sizeof(char *));
    if (creds->passphrases == NULL) {
        return SP_ERR_NOMEM;
    }

    for (i = 0; i < n; i++) {
        creds->passphrases[i] = strdup(list[i]);
        if (creds->passphrases[i] == NULL) {
            creds->npassphrases = i;
            sp_creds_wipe_passphrases(creds);
            return SP_ERR_NOMEM;
        }
    }

    creds->npassphrases = n;
    return SP_OK;
}


/*
 * One pair per key type, as OpenSSL keeps one per type: a pair of a type
 * already there replaces it.
 */
static int
add_key_cert(sp_creds *creds, const char *key_pem, size_t key_len,
    const char *key_origin, const char *cert_pem, size_t cert_len,
    const char *cert_origin)
{
    int           rc;
    size_t        i;
    sp_keycert   *kc, **list;

    rc = sp_keycert_load(creds, key_pem, key_len, key_origin, cert_pem,
                         cert_len, cert_origin, &kc);
    if (rc != SP_OK) {
        return rc;
    }

    for (i = 0; i < creds->nkeycerts; i++) {
        if (creds->keycerts[i]->type == kc->type) {
            sp_shared_unref(&creds->keycerts[i]->shared);
            creds->keycerts[i] = kc;
            return SP_OK;
        }
    }

    list = realloc(creds->keycerts, (i + 1) * sizeof(sp_keycert *));
    if (list == NULL) {
        sp_shared_unref(&kc->shared);
        return SP_ERR_NOMEM;
    }

    list[i] = kc;
    creds->keycerts = list;
    creds->nkeycerts = i + 1;
    return SP_OK;
}


int
sp_creds_add_key_cert_file(sp_creds *creds, const char *key_file,
    const char *cert_file)
{
    int      rc;
    char    *key = NULL, *cert = NULL;
    size_t   key_len = 0, cert_len = 0;

    if (sp_creds_check_open(creds, "sp_creds_add_key_cert_file") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (key_file == NULL || cert_file == NULL) {
        return sp_error_set(&creds->error, SP_ERR_INVALID,
                            key_file ? SP_FIELD_CERT : SP_FIELD_KEY, NULL, 0,
                            "key and certificate are required");
    }

    rc = sp_read_file(&creds->error, SP_FIELD_KEY, key_file, SP_PEM_MAX,
                      &key, &key_len);
    if (rc == SP_OK) {
        rc = sp_read_file(&creds->error, SP_FIELD_CERT, cert_file,
                          SP_PEM_MAX, &cert, &cert_len);
    }

    if (rc == SP_OK) {
        rc = add_key_cert(creds, key, key_len, key_file, cert, cert_len,
                          cert_file);
    }

    sp_free_pem(key, key_len);
    sp_free_pem(cert, cert_len);
    return rc;
}


int
sp_creds_add_key_cert_mem(sp_creds *creds, const void *key_pem,
    size_t key_len, const void *cert_pem, size_t cert_len)
{
    if (sp_creds_check_open(creds, "sp_creds_add_key_cert_mem") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (key_pem == NULL || cert_pem == NULL
        || key_len > SP_PEM_MAX || cert_len > SP_PEM_MAX)
    {
        return sp_error_set(&creds->error, SP_ERR_INVALID,
                            key_pem == NULL || key_len > SP_PEM_MAX
                            ? SP_FIELD_KEY : SP_FIELD_CERT, NULL, 0,
                            "key and certificate are required");
    }

    return add_key_cert(creds, key_pem, key_len, SP_MEMORY, cert_pem,
                        cert_len, SP_MEMORY);
}


/*
 * CAs announced or only trusted, or CRLs, grow the credentials' CA set.
 * A CRL is checked with the CAs already there: without any it would
 * judge nothing, and the system's store is not ours to change.
 */
static int
add_ca(sp_creds *creds, sp_ca_kind kind, const char *pem, size_t len,
    const char *origin)
{
    int         rc;
    sp_ca_set  *ca;

    if (kind == SP_CA_CRL
        && (creds->ca == NULL
            || sk_X509_num(creds->ca->certs)
               + sk_X509_num(creds->ca->trusted) == 0))
    {
        return sp_error_set(&creds->error, SP_ERR_INVALID, SP_FIELD_CRL,
                            origin, 0, "a CRL needs the CAs it checks: "
                            "add CA or trusted certificates first");
    }

    rc = sp_ca_set_load(creds, creds->ca, kind, pem, len, origin, &ca);
    if (rc != SP_OK) {
        return rc;
    }

    if (creds->ca) {
        sp_shared_unref(&creds->ca->shared);
    }

    creds->ca = ca;

    return SP_OK;
}


static int
add_ca_file(sp_creds *creds, sp_ca_kind kind, const char *file,
    const char *call)
{
    int      rc;
    char    *pem;
    size_t   len;

    if (sp_creds_check_open(creds, call) != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (file == NULL) {
        return sp_error_set(&creds->error, SP_ERR_INVALID,
                            sp_ca_kind_field(kind), NULL, 0,
                            "a file is required");
    }

    rc = sp_read_file(&creds->error, sp_ca_kind_field(kind), file, SP_PEM_MAX,
                      &pem, &len);
    if (rc != SP_OK) {
        return rc;
    }

    rc = add_ca(creds, kind, pem, len, file);
    free(pem);
    return rc;
}


int
sp_creds_add_ca_file(sp_creds *creds, const char *file)
{
    return add_ca_file(creds, SP_CA_ANNOUNCED, file, "sp_creds_add_ca_file");
}


int
sp_creds_add_ca_mem(sp_creds *creds, const void *pem, size_t len)
{
    if (sp_creds_check_open(creds, "sp_creds_add_ca_mem") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (pem == NULL || len > SP_PEM_MAX) {
        return sp_error_set(&creds->error, SP_ERR_INVALID, SP_FIELD_CA, NULL,
                            0, "CA PEM is required, at most %d bytes",
                            SP_PEM_MAX);
    }

    return add_ca(creds, SP_CA_ANNOUNCED, pem, len, SP_MEMORY);
}


int
sp_creds_add_trusted_file(sp_creds *creds, const char *file)
{
    return add_ca_file(creds, SP_CA_TRUSTED, file, "sp_creds_add_trusted_file");
}


int
sp_creds_add_crl_file(sp_creds *creds, const char *file)
{
    return add_ca_file(creds, SP_CA_CRL, file, "sp_creds_add_crl_file");
}


static int
replace_string(char **slot, const char *value)
{
    char  *copy;

    copy = strdup(value);
    if (copy == NULL) {
        return SP_ERR_NOMEM;
    }

    free(*slot);
    *slot = copy;
    return SP_OK;
}


int
sp_creds_set_ciphers(sp_creds *creds, const char *list)
{
    if (sp_creds_check_open(creds, "sp_creds_set_ciphers") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (list == NULL || !sp_cipher_list_valid(list, 0)) {
        return sp_error_ssl(&creds->error, SP_ERR_INVALID, SP_FIELD_CIPHERS,
                            NULL, 0, "invalid cipher list \"%s\"",
                            list ? list : "");
    }

    return replace_string(&creds->ciphers, list);
}


int
sp_creds_set_ciphersuites(sp_creds *creds, const char *suites)
{
    if (sp_creds_check_open(creds, "sp_creds_set_ciphersuites") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (suites == NULL || !sp_cipher_list_valid(suites, 1)) {
        return sp_error_ssl(&creds->error, SP_ERR_INVALID,
                            SP_FIELD_CIPHERSUITES, NULL, 0,
                            "invalid TLS 1.3 cipher suites \"%s\"",
                            suites ? suites : "");
    }

    return replace_string(&creds->ciphersuites, suites);
}


static int
valid_version(int v)
{
    return v == 0 || v == SP_TLS1 || v == SP_TLS1_1 || v == SP_TLS1_2
           || v == SP_TLS1_3;
}


int
sp_creds_set_versions(sp_creds *creds, int min_version, int max_version)
{
    if (sp_creds_check_open(creds, "sp_creds_set_versions") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (!valid_version(min_version) || !valid_version(max_version)
        || (min_version && max_version && min_version > max_version))
    {
        return sp_error_set(&creds->error, SP_ERR_INVALID, SP_FIELD_VERSIONS,
                            NULL, 0, "invalid protocol range 0x%04x..0x%04x",
                            min_version, max_version);
    }

    creds->min_version = min_version;
    creds->max_version = max_version;
    creds->versions_set = 1;
    return SP_OK;
}


int
sp_creds_set_session_id_context(sp_creds *creds, const void *sid, size_t len)
{
    if (sp_creds_check_open(creds, "sp_creds_set_session_id_context")
        != SP_OK)
    {
        return SP_ERR_INVALID;
    }

    if (sid == NULL || len == 0 || len > SSL_MAX_SID_CTX_LENGTH) {
        return sp_error_set(&creds->error, SP_ERR_INVALID,
                            SP_FIELD_SESSION_ID_CONTEXT, NULL, 0,
                            "session id context must be 1 to %d bytes",
                            SSL_MAX_SID_CTX_LENGTH);
    }

    /* the context in force mixes it with the credentials' digest */
    memcpy(creds->user_sid, sid, len);
    creds->user_sid_len = len;
    return SP_OK;
}


/* A verification setting: on, off, or -1 to inherit the context's. */
static int
set_policy(sp_creds *creds, int *setting, int on, const char *call)
{
    if (sp_creds_check_open(creds, call) != SP_OK) {
        return SP_ERR_INVALID;
    }

    *setting = on < 0 ? -1 : !!on;
    return SP_OK;
}


int
sp_creds_set_request_cert(sp_creds *creds, int on)
{
    return set_policy(creds, &creds->request_cert, on,
                      "sp_creds_set_request_cert");
}


int
sp_creds_set_reject_unauthorized(sp_creds *creds, int on)
{
    return set_policy(creds, &creds->reject_unauthorized, on,
                      "sp_creds_set_reject_unauthorized");
}


int
sp_creds_set_verify_depth(sp_creds *creds, int depth)
{
    if (sp_creds_check_open(creds, "sp_creds_set_verify_depth") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (depth < -1) {
        return sp_error_set(&creds->error, SP_ERR_INVALID,
                            SP_FIELD_VERIFY_DEPTH, NULL, 0,
                            "invalid verify depth %d", depth);
    }

    creds->verify_depth = depth;
    return SP_OK;
}
