/*
 * Private: the PROXY protocol v2 writer of proxy_v2.c, apart from the
 * pair, so that t/fuzz/fuzz_proxy_v2.c can give it any facts at all.
 */

#ifndef SP_PROXY_V2_H
#define SP_PROXY_V2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "securepair.h"

/* haproxy's proxy-protocol.txt, 2.2 */
#define SP_PP2_TYPE_ALPN            0x01
#define SP_PP2_TYPE_AUTHORITY       0x02
#define SP_PP2_TYPE_SSL             0x20
#define SP_PP2_SUBTYPE_SSL_VERSION  0x21
#define SP_PP2_SUBTYPE_SSL_CN       0x22
#define SP_PP2_SUBTYPE_SSL_CIPHER   0x23
#define SP_PP2_SUBTYPE_SSL_SIG_ALG  0x24
#define SP_PP2_SUBTYPE_SSL_KEY_ALG  0x25

#define SP_PP2_CLIENT_SSL           0x01
#define SP_PP2_CLIENT_CERT_CONN     0x02
#define SP_PP2_CLIENT_CERT_SESS     0x04

/* A value as bytes: a C string's, or a fuzzer's with NULs in it. */
typedef struct {
    const uint8_t  *data;
    size_t          len;
} sp_pp2_value;

typedef struct {
    sp_pp2_value    alpn;
    sp_pp2_value    authority;
    sp_pp2_value    version;
    sp_pp2_value    cn;
    sp_pp2_value    cipher;
    sp_pp2_value    sig_alg;
    sp_pp2_value    key_alg;
    uint8_t         client;       /* SP_PP2_CLIENT_* */
    uint32_t        verify;
} sp_pp2_facts;

/*
 * The header for these facts and ends (see sp_proxy_v2_encode()) into
 * out, which has room for SP_PROXY_V2_MAX bytes; returns its length.
 * An empty value, one over its bound or one holding a NUL is left out.
 */
size_t sp_pp2_write(const sp_pp2_facts *facts,
    const struct sockaddr *client, size_t client_len,
    const struct sockaddr *server, size_t server_len, uint8_t *out);

#endif /* SP_PROXY_V2_H */
