/*
 * What the client offered: its cipher suites and groups, written as
 * nginx's $ssl_ciphers and $ssl_curves write them.  OpenSSL keeps both
 * lists of the last ClientHello for the life of the connection (the raw
 * cipher list, and the supported_groups extension as the peer's groups),
 * so nothing is captured in the hello callback: the text is made only
 * when a host asks for it.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#include "internal.h"


static void
offers_copy(char *buf, size_t len, size_t *at, const char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++, (*at)++) {
        if (buf != NULL && *at + 1 < len) {
            buf[*at] = p[i];
        }
    }
}


/* Appends "name", after a colon unless it is the first. */
static void
offers_add(char *buf, size_t len, size_t *at, const char *name)
{
    if (*at > 0) {
        offers_copy(buf, len, at, ":", 1);
    }

    offers_copy(buf, len, at, name, strlen(name));
}


/* The NUL, at the end or where the room ended; the whole length. */
static size_t
offers_done(char *buf, size_t len, size_t at)
{
    if (buf != NULL && len > 0) {
        buf[at < len ? at : len - 1] = '\0';
    }

    return at;
}


size_t
sp_pair_client_ciphers(const sp_pair *pair, char *buf, size_t len)
{
    const unsigned char  *raw;
    const SSL_CIPHER     *cipher;
    size_t                at, i, n;
    char                  hex[2 + 2 * 3 + 1];
    int                   bytes, total;

    at = 0;

    if (pair->ctx->role != SP_SERVER) {
        return offers_done(buf, len, 0);
    }

    /* 2 bytes a suite, 3 for an SSLv2-compatible hello */
    bytes = SSL_get0_raw_cipherlist(pair->ssl, NULL);
    total = SSL_get0_raw_cipherlist(pair->ssl, &raw);

    if (bytes <= 0 || bytes > 3 || total <= 0 || raw == NULL) {
        return offers_done(buf, len, 0);
    }

    n = (size_t) total / (size_t) bytes;

    for (i = 0; i < n; i++) {
        cipher = SSL_CIPHER_find(pair->ssl, raw + i * (size_t) bytes);

        if (cipher != NULL) {
            offers_add(buf, len, &at, SSL_CIPHER_get_name(cipher));
            continue;
        }

        if (bytes == 2) {
            snprintf(hex, sizeof(hex), "0x%02x%02x", raw[2 * i],
                     raw[2 * i + 1]);
        } else {
            snprintf(hex, sizeof(hex), "0x%02x%02x%02x", raw[3 * i],
                     raw[3 * i + 1], raw[3 * i + 2]);
        }

        offers_add(buf, len, &at, hex);
    }

    ERR_clear_error();

    return offers_done(buf, len, at);
}


size_t
sp_pair_client_groups(const sp_pair *pair, char *buf, size_t len)
{
    int          *groups, nid, n, i;
    size_t        at;
    const char   *name;
    char          hex[sizeof("0x0000")];

    at = 0;

    if (pair->ctx->role != SP_SERVER) {
        return offers_done(buf, len, 0);
    }

    n = SSL_get1_groups(pair->ssl, NULL);
    if (n <= 0) {
        ERR_clear_error();
        return offers_done(buf, len, 0);
    }

    groups = OPENSSL_malloc((size_t) n * sizeof(int));
    if (groups == NULL) {
        ERR_clear_error();
        return offers_done(buf, len, 0);
    }

    n = SSL_get1_groups(pair->ssl, groups);

    for (i = 0; i < n; i++) {
        nid = groups[i];
        name = (nid & TLSEXT_nid_unknown) ? NULL : OBJ_nid2sn(nid);

        if (name == NULL) {
            snprintf(hex, sizeof(hex), "0x%04x", (unsigned) nid & 0xffff);
            name = hex;
        }

        offers_add(buf, len, &at, name);
    }

    OPENSSL_free(groups);
    ERR_clear_error();

    return offers_done(buf, len, at);
}
