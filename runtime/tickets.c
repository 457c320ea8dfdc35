/*
 * Session tickets: keys in nginx's ssl_session_ticket_key format, so a
 * fleet can share them, rotated by adding the new key first; the OpenSSL
 * callbacks that encrypt and decrypt under them; and a context's own
 * random key until the host gives one.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "internal.h"


/*
 * The ticket ciphers, fetched from the provider once: EVP_aes_256_cbc()
 * names a cipher that EVP_EncryptInit_ex() would fetch again for every
 * ticket (some 2,600 instructions and a few locks).  Freed when the
 * library is unloaded, while OpenSSL still runs (template.c says why).
 */
static EVP_CIPHER      *sp_ticket_aes[2];      /* AES-128-CBC, AES-256-CBC */
static pthread_once_t   sp_ticket_aes_once = PTHREAD_ONCE_INIT;


static void
ticket_aes_fetch(void)
{
    sp_ticket_aes[0] = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    sp_ticket_aes[1] = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    ERR_clear_error();
}


__attribute__((destructor))
static void
ticket_aes_free(void)
{
    if (!OPENSSL_init_crypto(0, NULL)) {
        return;
    }

    EVP_CIPHER_free(sp_ticket_aes[0]);
    EVP_CIPHER_free(sp_ticket_aes[1]);
    sp_ticket_aes[0] = sp_ticket_aes[1] = NULL;
}


/* A key's cipher: AES-128-CBC for 48-byte keys, AES-256-CBC for 80. */
static const EVP_CIPHER *
ticket_aes(const sp_ticket_key *key)
{
    int  i = key->size == 48 ? 0 : 1;

    pthread_once(&sp_ticket_aes_once, ticket_aes_fetch);

    if (sp_ticket_aes[i] != NULL) {
        return sp_ticket_aes[i];
    }

    /* not fetched (out of memory then): let OpenSSL fetch it each time */
    return i == 0 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
}


/*
 * Keys in nginx's ssl_session_ticket_key format, so a fleet can share
 * them: 48 bytes (name, AES-128 key, HMAC key) or 80 bytes (name, HMAC
 * key, AES-256 key); HMAC-SHA256.  The first key encrypts, all decrypt.
 */
static int
ticket_callback(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cipher_ctx, EVP_MAC_CTX *mac_ctx, int enc)
{
    sp_pair           *pair = sp_pair_from_ssl(ssl);
    sp_ctx            *ctx;
    sp_ticket_key     *key;
    const EVP_CIPHER  *cipher;
    OSSL_PARAM         params[3];
    size_t             i;

    /* 0: no ticket issued, or the ticket is not ours */
    if (pair == NULL || pair->ctx->nticket_keys == 0) {
        return 0;
    }

    ctx = pair->ctx;

    if (enc) {
        key = &ctx->ticket_keys[0];
        cipher = ticket_aes(key);

        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1) {
            return -1;
        }

        memcpy(name, key->name, 16);

    } else {
        for (i = 0; i < ctx->nticket_keys; i++) {
            if (memcmp(name, ctx->ticket_keys[i].name, 16) == 0) {
                break;
            }
        }

        if (i == ctx->nticket_keys) {
            /* an unknown or retired key: a full handshake, a new ticket */
            return 0;
        }

        key = &ctx->ticket_keys[i];
        cipher = ticket_aes(key);
    }

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                                  key->hmac_key,
                                                  key->size == 48 ? 16 : 32);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();

    if (!EVP_MAC_CTX_set_params(mac_ctx, params)) {
        return -1;
    }

    if (enc) {
        return EVP_EncryptInit_ex(cipher_ctx, cipher, NULL, key->aes_key, iv)
               == 1 ? 1 : -1;
    }

    if (EVP_DecryptInit_ex(cipher_ctx, cipher, NULL, key->aes_key, iv) != 1) {
        return -1;
    }

    /* an older key, or TLS 1.3 (tickets are single use): issue a new one */
    return (key != &ctx->ticket_keys[0]
            || SSL_version(ssl) >= TLS1_3_VERSION) ? 2 : 1;
}


/*
 * A ticket that cannot be used means a full handshake, never a failure.
 * OpenSSL 3.0 leaves "bad decrypt" on the error queue when a ticket's
 * HMAC verifies but its decryption fails (a key set sharing a name and
 * HMAC key but not the AES key): it goes on with a full handshake, but
 * the stale error makes the next SSL_get_error() report one.
 */
static SSL_TICKET_RETURN
ticket_decrypted(SSL *ssl, SSL_SESSION *session, const unsigned char *name,
    size_t name_len, SSL_TICKET_STATUS status, void *arg)
{
    (void) ssl;
    (void) session;
    (void) name;
    (void) name_len;
    (void) arg;

    switch (status) {

    case SSL_TICKET_SUCCESS:
        return SSL_TICKET_RETURN_USE;

    case SSL_TICKET_SUCCESS_RENEW:
        return SSL_TICKET_RETURN_USE_RENEW;

    default:    /* SSL_TICKET_EMPTY, SSL_TICKET_NO_DECRYPT */
        sp_clear_errors();
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
}


void
sp_tickets_install(SSL_CTX *ssl_ctx)
{
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ssl_ctx, ticket_callback);
    SSL_CTX_set_session_ticket_cb(ssl_ctx, NULL, ticket_decrypted, NULL);
}


SP_CTX_SET_FLAG(sp_ctx_set_session_tickets, tickets)
SP_CTX_SET_COUNT(sp_ctx_set_ticket_count, ticket_count)



static int
ticket_key_parse(sp_ticket_key *key, const unsigned char *buf, size_t len)
{
    if (len == 48) {
        memcpy(key->name, buf, 16);
        memcpy(key->aes_key, buf + 16, 16);
        memcpy(key->hmac_key, buf + 32, 16);

    } else if (len == 80) {
        memcpy(key->name, buf, 16);
        memcpy(key->hmac_key, buf + 16, 32);
        memcpy(key->aes_key, buf + 48, 32);

    } else {
        return SP_ERR_INVALID;
    }

    key->size = len;
    return SP_OK;
}


static int
ticket_key_add(sp_ctx *ctx, const unsigned char *buf, size_t len)
{
    sp_ticket_key  *keys;

    keys = realloc(ctx->ticket_keys,
                   (ctx->nticket_keys + 1) * sizeof(sp_ticket_key));
    if (keys == NULL) {
        return SP_ERR_NOMEM;
    }

    ctx->ticket_keys = keys;

    if (ticket_key_parse(&keys[ctx->nticket_keys], buf, len) != SP_OK) {
        return SP_ERR_INVALID;
    }

    ctx->nticket_keys++;
    ctx->random_ticket_key = 0;
    return SP_OK;
}


int
sp_ctx_add_ticket_key(sp_ctx *ctx, const void *key, size_t len)
{
    if (sp_ctx_check_open(ctx, "sp_ctx_add_ticket_key") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (len != 48 && len != 80) {
        return sp_error_set(&ctx->error, SP_ERR_INVALID, SP_FIELD_TICKET_KEY,
                            NULL, 0, "a session ticket key is 48 or 80 "
                            "bytes, not %zu", len);
    }

    if (ctx->random_ticket_key) {
        /* the first key the host gives replaces the random one */
        OPENSSL_cleanse(ctx->ticket_keys, sizeof(sp_ticket_key));
        ctx->nticket_keys = 0;
    }

    return ticket_key_add(ctx, key, len);
}


int
sp_ctx_add_ticket_key_file(sp_ctx *ctx, const char *file)
{
    int      rc;
    char    *buf = NULL;
    size_t   n = 0;

    if (sp_ctx_check_open(ctx, "sp_ctx_add_ticket_key_file") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (file == NULL) {
        return sp_error_set(&ctx->error, SP_ERR_INVALID, SP_FIELD_TICKET_KEY,
                            NULL, 0, "a ticket key file is required");
    }

    rc = sp_read_file(&ctx->error, SP_FIELD_TICKET_KEY, file, 80, &buf, &n);

    if (rc == SP_OK ? n != 48 && n != 80 : n > 80) {
        sp_free_pem(buf, n);
        return sp_error_set(&ctx->error, SP_ERR_LOAD, SP_FIELD_TICKET_KEY,
                            file, 0, "a session ticket key file must be 48 "
                            "or 80 bytes (openssl rand 80 > file), not %s%zu",
                            n > 80 ? "over " : "", n > 80 ? (size_t) 80 : n);
    }

    if (rc != SP_OK) {
        return rc;
    }

    rc = sp_ctx_add_ticket_key(ctx, buf, n);
    sp_free_pem(buf, n);
    return rc;
}



/*
 * A context starts with one random key, as OpenSSL would: tickets then
 * work for the processes that share this context (an nginx master's
 * workers), until the host gives keys of its own.
 */
int
sp_tickets_init(sp_ctx *ctx)
{
    int            rc;
    unsigned char  buf[80];

    if (RAND_bytes(buf, sizeof(buf)) != 1) {
        ERR_clear_error();
        return SP_ERR_INTERNAL;
    }

    rc = ticket_key_add(ctx, buf, sizeof(buf));
    OPENSSL_cleanse(buf, sizeof(buf));
    ctx->random_ticket_key = 1;
    return rc;
}


void
sp_tickets_free(sp_ctx *ctx)
{
    if (ctx->ticket_keys) {
        OPENSSL_cleanse(ctx->ticket_keys,
                        ctx->nticket_keys * sizeof(sp_ticket_key));
        free(ctx->ticket_keys);
    }
}
