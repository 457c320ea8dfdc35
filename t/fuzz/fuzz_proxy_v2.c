/*
 * fuzz_proxy_v2: the PROXY protocol v2 writer (runtime/proxy_v2.c) given
 * any facts and any two ends, read back by the strict reader of
 * runtime/tests/pp2_parse.h, written from the specification.
 *
 * Whatever the input: the header parses, every length is exactly what
 * follows it (the header's, each TLV's, PP2_TYPE_SSL's around its
 * subtypes), it fits SP_PROXY_V2_MAX, and each value is there exactly
 * when it is 1..bound bytes without a NUL, as given, never cut; the
 * addresses are those of the ends when both are of one known family and
 * whole, else none.
 *
 * Input: byte 0 the ends (bits 0-1 the client's family, 2-3 the
 * server's: INET, INET6, UNIX, other; bit 4 no ends: LOCAL), byte 1 the
 * client flags, bytes 2-5 verify, then the two sockaddrs' lengths (one
 * byte each) and their bytes (sizeof(struct sockaddr_storage) each, or
 * what is left), then seven values, each a big-endian 16-bit length L and
 * either (bit 15 of L clear) L bytes of input, or (bit 15 set) a fill
 * byte repeated L & 0x7fff times, so that values far beyond every bound
 * come from short inputs.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common.h"
#include "proxy_v2.h"
#include "../../runtime/tests/pp2_parse.h"


typedef struct {
    const uint8_t  *p;
    size_t          n;
} fz_in;


static uint8_t
take_byte(fz_in *in)
{
    uint8_t  b = 0;

    if (in->n > 0) {
        b = *in->p++;
        in->n--;
    }

    return b;
}


/* A value; fills are made into *fill, freed by the caller. */
static sp_pp2_value
take_value(fz_in *in, uint8_t **fill)
{
    sp_pp2_value  v;
    size_t        len;

    len = (size_t) take_byte(in) << 8;
    len |= take_byte(in);

    if (len & 0x8000) {
        len &= 0x7fff;
        *fill = malloc(len ? len : 1);
        FZ_ASSERT(*fill != NULL, "out of memory");
        memset(*fill, take_byte(in), len);
        v.data = *fill;
        v.len = len;
        return v;
    }

    if (len > in->n) {
        len = in->n;
    }

    v.data = in->p;
    v.len = len;
    in->p += len;
    in->n -= len;

    return v;
}


static void
take_end(fz_in *in, struct sockaddr_storage *ss, int kind, size_t *len)
{
    static const int  families[4] = { AF_INET, AF_INET6, AF_UNIX, AF_APPLETALK };
    size_t            n;

    memset(ss, 0, sizeof(*ss));

    n = in->n < sizeof(*ss) ? in->n : sizeof(*ss);
    memcpy(ss, in->p, n);
    in->p += n;
    in->n -= n;

    ss->ss_family = (sa_family_t) families[kind & 3];

    if (*len > sizeof(*ss)) {
        *len = sizeof(*ss);
    }
}


/* Whether a value goes in, by the writer's promise. */
static int
value_fits(sp_pp2_value v, size_t bound)
{
    return v.len >= 1 && v.len <= bound
           && memchr(v.data, '\0', v.len) == NULL;
}


static void
check_value(const char *what, pp2_field got, sp_pp2_value v, size_t bound,
    int wanted)
{
    if (!wanted || !value_fits(v, bound)) {
        FZ_ASSERT(got.data == NULL, "%s: written (%zu bytes) though %s",
                  what, got.len, wanted ? "out of bounds" : "not wanted");
        return;
    }

    FZ_ASSERT(got.data != NULL && got.len == v.len
              && memcmp(got.data, v.data, v.len) == 0,
              "%s: %zu bytes written, %zu given", what,
              got.data ? got.len : 0, v.len);
}


/* What the address block must be, by the ends. */
static void
check_addresses(const pp2_parsed *r, const struct sockaddr_storage *c,
    size_t clen, const struct sockaddr_storage *s, size_t slen, int local)
{
    const struct sockaddr_in   *c4 = (const void *) c, *s4 = (const void *) s;
    const struct sockaddr_in6  *c6 = (const void *) c, *s6 = (const void *) s;
    int                         fam;

    if (local) {
        FZ_ASSERT(r->command == 0 && r->family == 0, "no ends: not LOCAL");
        return;
    }

    FZ_ASSERT(r->command == 1, "ends given: not PROXY");

    fam = (c->ss_family != s->ss_family) ? 0
          : (c->ss_family == AF_INET && clen >= sizeof(*c4)
             && slen >= sizeof(*s4)) ? 0x11
          : (c->ss_family == AF_INET6 && clen >= sizeof(*c6)
             && slen >= sizeof(*s6)) ? 0x21
          : (c->ss_family == AF_UNIX) ? 0x31 : 0;

    FZ_ASSERT(r->family == fam, "family 0x%02x, want 0x%02x", r->family,
              fam);

    if (fam == 0x11) {
        FZ_ASSERT(memcmp(r->addr, &c4->sin_addr, 4) == 0
                  && memcmp(r->addr + 4, &s4->sin_addr, 4) == 0
                  && memcmp(r->addr + 8, &c4->sin_port, 2) == 0
                  && memcmp(r->addr + 10, &s4->sin_port, 2) == 0,
                  "IPv4 addresses or ports differ");

    } else if (fam == 0x21) {
        FZ_ASSERT(memcmp(r->addr, &c6->sin6_addr, 16) == 0
                  && memcmp(r->addr + 16, &s6->sin6_addr, 16) == 0
                  && memcmp(r->addr + 32, &c6->sin6_port, 2) == 0
                  && memcmp(r->addr + 34, &s6->sin6_port, 2) == 0,
                  "IPv6 addresses or ports differ");
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t           out[SP_PROXY_V2_MAX + 64];
    struct sockaddr_storage  c, s;
    sp_pp2_value            *values[7];
    sp_pp2_facts             f;
    pp2_parsed               r;
    uint8_t                 *fills[7];
    size_t                   clen, slen, n, i;
    fz_in                    in;
    int                      ends, local;

    in.p = data;
    in.n = size;

    memset(&f, 0, sizeof(f));
    memset(fills, 0, sizeof(fills));

    ends = take_byte(&in);
    local = (ends & 0x10) != 0;
    f.client = take_byte(&in);
    for (i = 0; i < 4; i++) {
        f.verify = (f.verify << 8) | take_byte(&in);
    }

    clen = take_byte(&in);
    slen = take_byte(&in);
    take_end(&in, &c, ends, &clen);
    take_end(&in, &s, ends >> 2, &slen);

    values[0] = &f.alpn;
    values[1] = &f.authority;
    values[2] = &f.version;
    values[3] = &f.cn;
    values[4] = &f.cipher;
    values[5] = &f.sig_alg;
    values[6] = &f.key_alg;

    for (i = 0; i < 7; i++) {
        *values[i] = take_value(&in, &fills[i]);
    }

    /* a canary past the room the writer is promised */
    memset(out + SP_PROXY_V2_MAX, 0xa5, 64);

    n = sp_pp2_write(&f, local ? NULL : (struct sockaddr *) &c, clen,
                     local ? NULL : (struct sockaddr *) &s, slen, out);

    FZ_ASSERT(n >= 16 && n <= SP_PROXY_V2_MAX, "%zu bytes written", n);
    for (i = SP_PROXY_V2_MAX; i < SP_PROXY_V2_MAX + 64; i++) {
        FZ_ASSERT(out[i] == 0xa5, "wrote beyond SP_PROXY_V2_MAX");
    }

    FZ_ASSERT(pp2_parse(&r, out, n) == 0, "the header does not parse: %s",
              r.error);

    check_addresses(&r, &c, clen, &s, slen, local);

    FZ_ASSERT(r.ssl && r.ssl_client == f.client && r.ssl_verify == f.verify,
              "PP2_TYPE_SSL: client 0x%02x verify %u, given 0x%02x %u",
              r.ssl_client, r.ssl_verify, f.client, f.verify);

    check_value("ALPN", r.tlv[0x01], f.alpn, SP_PROXY_V2_MAX_NAME, 1);
    check_value("AUTHORITY", r.tlv[0x02], f.authority,
                SP_PROXY_V2_MAX_NAME, 1);
    check_value("SSL_VERSION", r.sub[0x21], f.version,
                SP_PROXY_V2_MAX_VERSION, f.client & SP_PP2_CLIENT_SSL);
    check_value("SSL_CN", r.sub[0x22], f.cn, SP_PROXY_V2_MAX_CN, 1);
    check_value("SSL_CIPHER", r.sub[0x23], f.cipher, SP_PROXY_V2_MAX_ALG, 1);
    check_value("SSL_SIG_ALG", r.sub[0x24], f.sig_alg, SP_PROXY_V2_MAX_ALG,
                1);
    check_value("SSL_KEY_ALG", r.sub[0x25], f.key_alg, SP_PROXY_V2_MAX_ALG,
                1);

    for (i = 0; i < 7; i++) {
        free(fills[i]);
    }

    return 0;
}
