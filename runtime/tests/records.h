/*
 * TLS 1.2 records no OpenSSL client would send: renegotiation hellos one
 * after another, without waiting for an answer, sealed with the client's
 * own keys (AES-128-GCM).  A flooding client, or one without secure
 * renegotiation, sends such records; OpenSSL's own client always offers
 * secure renegotiation and stops at the first refusal.  Used by
 * runtime/tests/t_reneg.c and by t/tools/flood.c.
 */

#ifndef SP_RECORDS_H
#define SP_RECORDS_H

#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>


#define REC_GCM_CIPHERS  "ECDHE-ECDSA-AES128-GCM-SHA256:" \
                         "ECDHE-RSA-AES128-GCM-SHA256"

/* header, explicit nonce, tag */
#define REC_OVERHEAD     (5 + 8 + 16)


typedef struct {
    uint8_t   key[16];
    uint8_t   iv[4];
    uint64_t  seq;
} rec_keys;


/*
 * The client's write key and implicit nonce of a TLS 1.2 AES-128-GCM
 * connection (RFC 5246 6.3: the key block from the master secret and
 * both randoms).  After the handshake the client's next record is number
 * 1: its Finished was 0.  Returns 1, or 0 on failure.
 */
static int
rec_client_keys(SSL *ssl, rec_keys *k)
{
    int            ok;
    size_t         mlen;
    uint8_t        master[48], block[40], seed[13 + 64];
    EVP_KDF       *kdf;
    EVP_KDF_CTX   *kctx;
    OSSL_PARAM     params[4];

    if (SSL_version(ssl) != TLS1_2_VERSION
        || SSL_CIPHER_get_cipher_nid(SSL_get_current_cipher(ssl))
           != NID_aes_128_gcm)
    {
        return 0;
    }

    mlen = SSL_SESSION_get_master_key(SSL_get_session(ssl), master,
                                      sizeof(master));

    memcpy(seed, "key expansion", 13);
    SSL_get_server_random(ssl, seed + 13, 32);
    SSL_get_client_random(ssl, seed + 13 + 32, 32);

    kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);

    if (kctx == NULL) {
        return 0;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
                                                  master, mlen);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
                                                  seed, sizeof(seed));
    params[3] = OSSL_PARAM_construct_end();

    ok = EVP_KDF_derive(kctx, block, sizeof(block), params) == 1;
    EVP_KDF_CTX_free(kctx);

    /* client key, server key, client IV, server IV */
    memcpy(k->key, block, 16);
    memcpy(k->iv, block + 32, 4);
    k->seq = 1;

    return ok;
}


static void
rec_put64(uint8_t *p, uint64_t v)
{
    int  i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}


/*
 * Seals `len` bytes of content `type` into one record at `out` (room for
 * len + REC_OVERHEAD); returns the record's size, 0 on failure.
 */
static size_t
rec_seal(rec_keys *k, uint8_t type, const uint8_t *in, size_t len,
    uint8_t *out)
{
    int              n, ok;
    uint8_t          nonce[12], aad[13];
    EVP_CIPHER_CTX  *c;

    rec_put64(nonce + 4, k->seq);
    memcpy(nonce, k->iv, 4);

    rec_put64(aad, k->seq);
    aad[8] = type;
    aad[9] = 3;
    aad[10] = 3;
    aad[11] = (uint8_t) (len >> 8);
    aad[12] = (uint8_t) len;

    out[0] = type;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t) ((len + 24) >> 8);
    out[4] = (uint8_t) (len + 24);
    memcpy(out + 5, nonce + 4, 8);

    c = EVP_CIPHER_CTX_new();
    if (c == NULL) {
        return 0;
    }

    ok = EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, k->key, nonce) == 1
         && EVP_EncryptUpdate(c, NULL, &n, aad, sizeof(aad)) == 1
         && EVP_EncryptUpdate(c, out + 13, &n, in, (int) len) == 1
         && EVP_EncryptFinal_ex(c, out + 13 + n, &n) == 1
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16,
                                out + 13 + len) == 1;

    EVP_CIPHER_CTX_free(c);
    k->seq++;

    return ok ? len + REC_OVERHEAD : 0;
}


/*
 * A ClientHello message (handshake header included): TLS 1.2, one
 * cipher, no extensions, so no renegotiation_info.  Returns its size.
 */
static size_t
rec_client_hello(uint8_t *out)
{
    size_t  n = 4;

    out[n++] = 3;
    out[n++] = 3;

    memset(out + n, 0x5a, 32);           /* random */
    n += 32;

    out[n++] = 0;                        /* session id */
    out[n++] = 0;
    out[n++] = 2;
    out[n++] = 0xc0;                     /* ECDHE-ECDSA-AES128-GCM-SHA256 */
    out[n++] = 0x2b;
    out[n++] = 1;                        /* compression: null */
    out[n++] = 0;

    out[0] = 1;                          /* client_hello */
    out[1] = 0;
    out[2] = 0;
    out[3] = (uint8_t) (n - 4);

    return n;
}


/* Alert records (content type 21) among whole records in buf. */
static unsigned
rec_count_alerts(const uint8_t *buf, size_t len)
{
    size_t    i, rlen;
    unsigned  alerts = 0;

    for (i = 0; i + 5 <= len; i += 5 + rlen) {
        rlen = (size_t) buf[i + 3] << 8 | buf[i + 4];

        if (buf[i] == 21) {
            alerts++;
        }
    }

    return alerts;
}

#endif /* SP_RECORDS_H */
