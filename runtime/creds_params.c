/*
 * The handshake parameters of credentials beyond ciphers and versions
 * (Node's ecdhCurve, dhparam and honorCipherOrder, and OpenSSL's SSL_CONF
 * commands): checked when they are set, so that a bad one is said then
 * and never at a handshake, put on a context's SSL_CTX, and on a pair's
 * SSL when SNI chooses credentials whose parameters differ.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "internal.h"


#define SP_CONF_FLAGS  (SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER           \
                        | SSL_CONF_FLAG_CLIENT | SSL_CONF_FLAG_CERTIFICATE)


void
sp_creds_params_free(sp_creds *creds)
{
    size_t  i;

    for (i = 0; i < 2 * creds->nconf; i++) {
        free(creds->conf[i]);
    }

    free(creds->conf);
    free(creds->groups);
    EVP_PKEY_free(creds->dh);
}


/* ---- groups (Node: ecdhCurve) ------------------------------------------ */

/*
 * Each name of a colon list alone, so that the error names the one
 * OpenSSL does not know (it only says the whole list is bad).
 */
static int
check_groups(sp_creds *creds, const char *list)
{
    SSL          *ssl;
    const char   *p, *end;
    char          name[64];
    size_t        len;
    int           item, ok;

    ssl = SSL_new(sp_template());
    if (ssl == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    for (p = list, item = 1; ; p = end + 1, item++) {
        end = strchr(p, ':');
        len = end ? (size_t) (end - p) : strlen(p);

        ok = len > 0 && len < sizeof(name);

        if (ok) {
            memcpy(name, p, len);
            name[len] = '\0';
            ok = SSL_set1_groups_list(ssl, name);
        }

        if (!ok) {
            SSL_free(ssl);
            return sp_error_set(&creds->error, SP_ERR_INVALID,
                                SP_FIELD_ECDH_CURVE, NULL, item,
                                "unknown curve \"%.*s\"",
                                (int) (len < 64 ? len : 64), p);
        }

        if (end == NULL) {
            break;
        }
    }

    ok = SSL_set1_groups_list(ssl, list);
    SSL_free(ssl);

    if (!ok) {
        return sp_error_ssl(&creds->error, SP_ERR_INVALID,
                            SP_FIELD_ECDH_CURVE, NULL, 0,
                            "curve list \"%s\" refused", list);
    }

    ERR_clear_error();
    return SP_OK;
}


int
sp_creds_set_ecdh_curve(sp_creds *creds, const char *curves)
{
    int    rc;
    char  *copy = NULL;

    if (sp_creds_check_open(creds, "sp_creds_set_ecdh_curve") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (curves == NULL || curves[0] == '\0') {
        return sp_error_set(&creds->error, SP_ERR_INVALID,
                            SP_FIELD_ECDH_CURVE, NULL, 0,
                            "a curve list or \"auto\" is required");
    }

    if (strcmp(curves, "auto") != 0) {
        rc = check_groups(creds, curves);
        if (rc != SP_OK) {
            return rc;
        }

        copy = strdup(curves);
        if (copy == NULL) {
            return SP_ERR_NOMEM;
        }
    }

    /* "auto" (NULL): OpenSSL's own list, which a context's SSL_CTX keeps */
    free(creds->groups);
    creds->groups = copy;
    return SP_OK;
}


/* ---- DH parameters (Node: dhparam) ------------------------------------- */

static int
dh_id(const char *pem, size_t len, unsigned char *id)
{
    EVP_MD_CTX  *md;
    int          ok;

    md = EVP_MD_CTX_new();

    ok = md != NULL && sp_digest_init(md)
         && sp_digest_bytes(md, "DH parameters", 13)
         && sp_digest_bytes(md, pem, len)
         && EVP_DigestFinal_ex(md, id, NULL);

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}


/* DH parameters on an SSL_CTX or an SSL (the other NULL), which take a
   reference of their own. */
static int
set0_dh(SSL_CTX *ssl_ctx, SSL *ssl, EVP_PKEY *dh)
{
    int  ok;

    if (!EVP_PKEY_up_ref(dh)) {
        return 0;
    }

    ok = ssl_ctx ? SSL_CTX_set0_tmp_dh_pkey(ssl_ctx, dh)
                 : SSL_set0_tmp_dh_pkey(ssl, dh);

    if (!ok) {
        EVP_PKEY_free(dh);
    }

    return ok;
}


/*
 * DH parameters from PEM ("DH PARAMETERS", or X9.42's): parameters that
 * OpenSSL's security level would refuse at every DHE handshake are
 * refused here, saying what is needed.
 */
static int
set_dhparam(sp_creds *creds, const char *pem, size_t len, const char *origin)
{
    BIO       *bio;
    EVP_PKEY  *dh;
    int        have, need, bits;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    dh = PEM_read_bio_Parameters(bio, NULL);
    BIO_free(bio);

    if (dh == NULL || (!EVP_PKEY_is_a(dh, "DH") && !EVP_PKEY_is_a(dh, "DHX")))
    {
        EVP_PKEY_free(dh);
        return sp_error_ssl(&creds->error, SP_ERR_LOAD, SP_FIELD_DHPARAM,
                            origin, 0, "no DH parameters found");
    }

    have = EVP_PKEY_get_security_bits(dh);
    need = sp_security_bits_needed();
    bits = EVP_PKEY_get_bits(dh);

    if (have < need) {
        EVP_PKEY_free(dh);
        return sp_error_set(&creds->error, SP_ERR_LOAD, SP_FIELD_DHPARAM,
                            origin, 0, "DH parameters of %d bits are too "
                            "small for OpenSSL security level %d (needs %d "
                            "bits of security: 2048-bit parameters or more)",
                            bits, SSL_CTX_get_security_level(sp_template()),
                            need);
    }

    if (!dh_id(pem, len, creds->dh_id)) {
        EVP_PKEY_free(dh);
        return SP_ERR_NOMEM;
    }

    EVP_PKEY_free(creds->dh);
    creds->dh = dh;
    ERR_clear_error();
    return SP_OK;
}


int
sp_creds_set_dhparam_file(sp_creds *creds, const char *file)
{
    int      rc;
    char    *pem;
    size_t   len;

    if (sp_creds_check_open(creds, "sp_creds_set_dhparam_file") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (file == NULL) {
        return sp_error_set(&creds->error, SP_ERR_INVALID, SP_FIELD_DHPARAM,
                            NULL, 0, "a file is required");
    }

    rc = sp_read_file(&creds->error, SP_FIELD_DHPARAM, file, SP_PEM_MAX,
                      &pem, &len);
    if (rc != SP_OK) {
        return rc;
    }

    rc = set_dhparam(creds, pem, len, file);
    free(pem);
    return rc;
}


int
sp_creds_set_dhparam_mem(sp_creds *creds, const void *pem, size_t len)
{
    if (sp_creds_check_open(creds, "sp_creds_set_dhparam_mem") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (pem == NULL || len > SP_PEM_MAX) {
        return sp_error_set(&creds->error, SP_ERR_INVALID, SP_FIELD_DHPARAM,
                            NULL, 0, "PEM is required, at most %d bytes",
                            SP_PEM_MAX);
    }

    return set_dhparam(creds, pem, len, "<memory>");
}


/* ---- cipher order (Node: honorCipherOrder) ----------------------------- */

int
sp_creds_set_honor_cipher_order(sp_creds *creds, int on)
{
    if (sp_creds_check_open(creds, "sp_creds_set_honor_cipher_order")
        != SP_OK)
    {
        return SP_ERR_INVALID;
    }

    creds->honor_cipher_order = !!on;
    return SP_OK;
}


/* ---- SSL_CONF commands (nginx: ssl_conf_command) ----------------------- */

/*
 * One command on an SSL_CTX or an SSL (the other NULL): SSL_CONF_cmd's
 * answer, > 0 when it took it, -2 for a command it does not know.
 */
static int
conf_apply(SSL_CTX *ssl_ctx, SSL *ssl, const char *name, const char *value)
{
    SSL_CONF_CTX  *cctx;
    int            rc;

    cctx = SSL_CONF_CTX_new();
    if (cctx == NULL) {
        return 0;
    }

    SSL_CONF_CTX_set_flags(cctx, SP_CONF_FLAGS);

    if (ssl_ctx) {
        SSL_CONF_CTX_set_ssl_ctx(cctx, ssl_ctx);

    } else {
        SSL_CONF_CTX_set_ssl(cctx, ssl);
    }

    rc = SSL_CONF_cmd(cctx, name, value);

    if (rc > 0 && !SSL_CONF_CTX_finish(cctx)) {
        rc = 0;
    }

    SSL_CONF_CTX_free(cctx);
    return rc;
}


/* Every command, in the order added: 0 when one is refused. */
static int
conf_apply_all(const sp_creds *creds, SSL_CTX *ssl_ctx, SSL *ssl)
{
    size_t  i;

    for (i = 0; i < creds->nconf; i++) {
        if (conf_apply(ssl_ctx, ssl, creds->conf[2 * i],
                       creds->conf[2 * i + 1]) <= 0)
        {
            return 0;
        }
    }

    return 1;
}


int
sp_creds_add_conf_command(sp_creds *creds, const char *name,
    const char *value)
{
    SSL     *ssl;
    int      rc, item;
    char   **list;

    if (sp_creds_check_open(creds, "sp_creds_add_conf_command") != SP_OK) {
        return SP_ERR_INVALID;
    }

    item = (int) creds->nconf + 1;

    if (name == NULL || value == NULL || name[0] == '\0') {
        return sp_error_set(&creds->error, SP_ERR_INVALID,
                            SP_FIELD_CONF_COMMAND, NULL, item,
                            "a command name and a value are required");
    }

    /* tried on a scratch SSL, so that it is refused here or never */
    ssl = SSL_new(sp_template());
    if (ssl == NULL) {
        ERR_clear_error();
        return SP_ERR_NOMEM;
    }

    rc = conf_apply(NULL, ssl, name, value);
    SSL_free(ssl);

    if (rc == -2) {
        return sp_error_set(&creds->error, SP_ERR_INVALID,
                            SP_FIELD_CONF_COMMAND, NULL, item,
                            "unknown SSL_CONF command \"%s\"", name);
    }

    if (rc <= 0) {
        return sp_error_ssl(&creds->error, SP_ERR_INVALID,
                            SP_FIELD_CONF_COMMAND, NULL, item,
                            "SSL_CONF command \"%s\" refused \"%s\"", name,
                            value);
    }

    ERR_clear_error();

    list = realloc(creds->conf, 2 * (creds->nconf + 1) * sizeof(char *));
    if (list == NULL) {
        return SP_ERR_NOMEM;
    }

    creds->conf = list;
    list[2 * creds->nconf] = strdup(name);
    list[2 * creds->nconf + 1] = strdup(value);

    if (list[2 * creds->nconf] == NULL || list[2 * creds->nconf + 1] == NULL)
    {
        free(list[2 * creds->nconf]);
        free(list[2 * creds->nconf + 1]);
        return SP_ERR_NOMEM;
    }

    creds->nconf++;
    return SP_OK;
}


/* ---- where they apply -------------------------------------------------- */

/* A context's SSL_CTX: the SSL_CONF commands last, as nginx applies them. */
int
sp_creds_params_ctx(const sp_creds *creds, SSL_CTX *ssl_ctx)
{
    if (creds->groups && !SSL_CTX_set1_groups_list(ssl_ctx, creds->groups)) {
        return 0;
    }

    if (creds->dh && !set0_dh(ssl_ctx, NULL, creds->dh)) {
        return 0;
    }

    if (creds->honor_cipher_order) {
        SSL_CTX_set_options(ssl_ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }

    return conf_apply_all(creds, ssl_ctx, NULL);
}


static int
same_conf(const sp_creds *a, const sp_creds *b)
{
    size_t  i;

    if (a->nconf != b->nconf) {
        return 0;
    }

    for (i = 0; i < 2 * a->nconf; i++) {
        if (strcmp(a->conf[i], b->conf[i]) != 0) {
            return 0;
        }
    }

    return 1;
}


/*
 * Credentials made like others (sp_creds_new_like) take their parameters
 * too: a name served by a certificate chosen at handshake time must be
 * judged and negotiated as the server's own.  SP_ERR_NOMEM or SP_OK.
 */
int
sp_creds_params_copy(sp_creds *creds, const sp_creds *model)
{
    size_t  i;

    if (model->groups) {
        creds->groups = strdup(model->groups);
        if (creds->groups == NULL) {
            return SP_ERR_NOMEM;
        }
    }

    if (model->dh) {
        if (!EVP_PKEY_up_ref(model->dh)) {
            return SP_ERR_NOMEM;
        }

        creds->dh = model->dh;
        memcpy(creds->dh_id, model->dh_id, SP_ID_LEN);
    }

    if (model->nconf) {
        creds->conf = calloc(2 * model->nconf, sizeof(char *));
        if (creds->conf == NULL) {
            return SP_ERR_NOMEM;
        }

        for (i = 0; i < 2 * model->nconf; i++) {
            creds->conf[i] = strdup(model->conf[i]);
            if (creds->conf[i] == NULL) {
                /* the strings so far are counted so that free finds them */
                creds->nconf = (i + 1) / 2;
                return SP_ERR_NOMEM;
            }
        }

        creds->nconf = model->nconf;
    }

    creds->verify_depth = model->verify_depth;
    creds->honor_cipher_order = model->honor_cipher_order;

    return SP_OK;
}


/*
 * A pair's SSL, which holds `from`'s: only what differs is touched.
 * Curves and DH parameters that the chosen credentials leave unset stay
 * the default credentials', as nginx keeps its default server's.
 */
int
sp_creds_params_ssl(const sp_creds *creds, const sp_creds *from, SSL *ssl)
{
    if (creds->groups
        && (from->groups == NULL || strcmp(creds->groups, from->groups) != 0)
        && !SSL_set1_groups_list(ssl, creds->groups))
    {
        return 0;
    }

    if (creds->dh
        && (from->dh == NULL
            || memcmp(creds->dh_id, from->dh_id, SP_ID_LEN) != 0)
        && !set0_dh(NULL, ssl, creds->dh))
    {
        return 0;
    }

    if (creds->honor_cipher_order != from->honor_cipher_order) {
        if (creds->honor_cipher_order) {
            SSL_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);

        } else {
            SSL_clear_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
        }
    }

    return same_conf(creds, from) || conf_apply_all(creds, NULL, ssl);
}


/* What the parameters add to the credentials' content digest. */
int
sp_creds_params_digest(const sp_creds *creds, EVP_MD_CTX *md)
{
    size_t  i;
    long    settings[2];
    int     ok;

    settings[0] = creds->verify_depth;
    settings[1] = creds->honor_cipher_order;

    ok = sp_digest_bytes(md, settings, sizeof(settings))
         && sp_digest_bytes(md, creds->groups,
                            creds->groups ? strlen(creds->groups) + 1 : 0)
         && sp_digest_bytes(md, creds->dh ? creds->dh_id : NULL,
                            creds->dh ? SP_ID_LEN : 0)
         && sp_digest_bytes(md, NULL, creds->nconf);

    for (i = 0; ok && i < 2 * creds->nconf; i++) {
        ok = sp_digest_bytes(md, creds->conf[i], strlen(creds->conf[i]) + 1);
    }

    return ok;
}
