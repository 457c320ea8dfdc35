/*
 * A strict PROXY protocol v2 reader written from haproxy's
 * proxy-protocol.txt (2.2), the second opinion on runtime/proxy_v2.c for
 * t_proxy_v2.c and t/fuzz/fuzz_proxy_v2.c: every length must be exactly
 * what follows it, and every value what our writer promises (no NUL,
 * within securepair.h's bounds, each type once).
 */

#ifndef SP_PP2_PARSE_H
#define SP_PP2_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "securepair.h"

typedef struct {
    const uint8_t  *data;         /* NULL: absent */
    size_t          len;
} pp2_field;

typedef struct {
    int             command;      /* 0 LOCAL, 1 PROXY */
    int             family;       /* the 14th byte: 0x00, 0x11, 0x21, 0x31 */
    const uint8_t  *addr;
    size_t          addr_len;
    size_t          total;        /* 16 + the length field */
    pp2_field       tlv[256];     /* by type, outside PP2_TYPE_SSL */
    int             ssl;          /* PP2_TYPE_SSL is there */
    uint8_t         ssl_client;
    uint32_t        ssl_verify;
    pp2_field       sub[256];     /* PP2_TYPE_SSL's subtypes */
    const char     *error;        /* why it was refused */
} pp2_parsed;


/* The bound securepair.h gives a type's value (0: not one we write). */
static inline size_t
pp2_bound(int type)
{
    switch (type) {
    case 0x01: case 0x02: return SP_PROXY_V2_MAX_NAME;
    case 0x21: return SP_PROXY_V2_MAX_VERSION;
    case 0x22: return SP_PROXY_V2_MAX_CN;
    case 0x23: case 0x24: case 0x25: return SP_PROXY_V2_MAX_ALG;
    }
    return 0;
}


/* TLVs that must tile p..p+n exactly, into by_type; 0 or -1 (error). */
static inline int
pp2_tlvs(pp2_parsed *r, const uint8_t *p, size_t n, pp2_field *by_type,
    int ssl_level)
{
    size_t  len, at;
    int     type;

    for (at = 0; at < n; at += 3 + len) {
        if (n - at < 3) {
            r->error = "a TLV header cut by the end";
            return -1;
        }

        type = p[at];
        len = ((size_t) p[at + 1] << 8) | p[at + 2];

        if (len > n - at - 3) {
            r->error = "a TLV longer than what holds it";
            return -1;
        }

        if (by_type[type].data != NULL || (type == 0x20 && r->ssl)) {
            r->error = "a type twice";
            return -1;
        }

        if (!ssl_level && type == 0x20) {
            if (len < 5) {
                r->error = "PP2_TYPE_SSL shorter than client and verify";
                return -1;
            }
            r->ssl = 1;
            r->ssl_client = p[at + 3];
            r->ssl_verify = ((uint32_t) p[at + 4] << 24)
                            | ((uint32_t) p[at + 5] << 16)
                            | ((uint32_t) p[at + 6] << 8) | p[at + 7];
            if (pp2_tlvs(r, p + at + 8, len - 5, r->sub, 1) != 0) {
                return -1;
            }
            continue;
        }

        if ((ssl_level ? (type < 0x21 || type > 0x25)
                       : (type != 0x01 && type != 0x02)))
        {
            r->error = "a type we never write";
            return -1;
        }

        if (len == 0 || len > pp2_bound(type)
            || memchr(p + at + 3, '\0', len) != NULL)
        {
            r->error = "an empty, oversized or NUL-holding value";
            return -1;
        }

        by_type[type].data = p + at + 3;
        by_type[type].len = len;
    }

    return 0;
}


static inline int
pp2_parse(pp2_parsed *r, const uint8_t *p, size_t n)
{
    static const uint8_t  sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                      0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
    size_t                want;

    memset(r, 0, sizeof(pp2_parsed));

    if (n < 16 || memcmp(p, sig, 12) != 0) {
        r->error = "no signature";
        return -1;
    }

    if ((p[12] >> 4) != 2 || (p[12] & 0x0f) > 1) {
        r->error = "not version 2 LOCAL or PROXY";
        return -1;
    }

    r->command = p[12] & 0x0f;
    r->family = p[13];
    r->total = 16 + (((size_t) p[14] << 8) | p[15]);

    if (r->total != n) {
        r->error = "the length is not what follows the header";
        return -1;
    }

    switch (r->family) {
    case 0x00: want = 0; break;
    case 0x11: want = 12; break;
    case 0x21: want = 36; break;
    case 0x31: want = 216; break;
    default:
        r->error = "a family and protocol we never write";
        return -1;
    }

    if (r->command == 0 && r->family != 0x00) {
        r->error = "LOCAL with addresses";
        return -1;
    }

    if (n - 16 < want) {
        r->error = "addresses cut by the end";
        return -1;
    }

    r->addr = p + 16;
    r->addr_len = want;

    return pp2_tlvs(r, p + 16 + want, n - 16 - want, r->tlv, 0);
}


/* A field as a NUL-terminated string (static, one of four). */
static inline const char *
pp2_str(pp2_field f)
{
    static char  buf[4][1024];
    static int   next;
    char        *b = buf[next++ % 4];

    if (f.data == NULL) {
        return NULL;
    }

    memcpy(b, f.data, f.len < 1023 ? f.len : 1023);
    b[f.len < 1023 ? f.len : 1023] = '\0';

    return b;
}

#endif /* SP_PP2_PARSE_H */
