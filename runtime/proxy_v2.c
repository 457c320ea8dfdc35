/*
 * PROXY protocol v2 (haproxy's proxy-protocol.txt, section 2.2): the
 * header a server pair's host puts in front of the cleartext it forwards,
 * so that a backend learns the client's addresses and what TLS learned.
 *
 * The writer never trusts a length it did not bound: every value has a
 * maximum (securepair.h), a value over it is left out rather than cut, so
 * the largest header fits SP_PROXY_V2_MAX and the 16-bit lengths (the
 * header's, each TLV's, the SSL TLV's around its subtypes) are written
 * from what was actually written.  t/fuzz/fuzz_proxy_v2.c parses the
 * result of any facts by the specification.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "internal.h"
#include "proxy_v2.h"


static const uint8_t  sp_pp2_signature[12] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define SP_PP2_LOCAL        0x20        /* version 2, command LOCAL */
#define SP_PP2_PROXY        0x21        /* version 2, command PROXY */
#define SP_PP2_UNSPEC       0x00
#define SP_PP2_TCP4         0x11
#define SP_PP2_TCP6         0x21
#define SP_PP2_UNIX_STREAM  0x31
#define SP_PP2_UNIX_PATH    108


static void
sp_pp2_put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}


/* One TLV at out + *at, when the value is there and within its bound. */
static void
sp_pp2_tlv(uint8_t *out, size_t *at, uint8_t type, sp_pp2_value v,
    size_t max)
{
    if (v.data == NULL || v.len == 0 || v.len > max
        || memchr(v.data, '\0', v.len) != NULL)
    {
        return;
    }

    out[*at] = type;
    sp_pp2_put16(out + *at + 1, v.len);
    memcpy(out + *at + 3, v.data, v.len);
    *at += 3 + v.len;
}


/* An AF_UNIX path in its 108 bytes, zero-padded; abstract names too. */
static void
sp_pp2_unix_path(uint8_t *p, const struct sockaddr *sa, size_t len)
{
    size_t  n;

    memset(p, 0, SP_PP2_UNIX_PATH);

    if (len <= offsetof(struct sockaddr_un, sun_path)) {
        return;
    }

    n = len - offsetof(struct sockaddr_un, sun_path);
    if (n > SP_PP2_UNIX_PATH) {
        n = SP_PP2_UNIX_PATH;
    }

    memcpy(p, ((const struct sockaddr_un *) sa)->sun_path, n);
}


/* Where an IP family's sockaddr holds what the header wants. */
typedef struct {
    int      family;
    uint8_t  fam;             /* the header's family and protocol byte */
    size_t   size;            /* of the sockaddr */
    size_t   alen;            /* of an address */
    size_t   addr;            /* offsets of the address and the port */
    size_t   port;
} sp_pp2_ip_t;

static const sp_pp2_ip_t  sp_pp2_ips[] = {
    { AF_INET, SP_PP2_TCP4, sizeof(struct sockaddr_in), 4,
      offsetof(struct sockaddr_in, sin_addr),
      offsetof(struct sockaddr_in, sin_port) },
    { AF_INET6, SP_PP2_TCP6, sizeof(struct sockaddr_in6), 16,
      offsetof(struct sockaddr_in6, sin6_addr),
      offsetof(struct sockaddr_in6, sin6_port) },
};


/*
 * The family byte and the address block at out + 16; its length.  IP:
 * both addresses, then both ports, network order as the sockaddrs hold
 * them.
 */
static size_t
sp_pp2_addresses(const struct sockaddr *c, size_t clen,
    const struct sockaddr *s, size_t slen, uint8_t *out)
{
    const sp_pp2_ip_t  *ip;
    const uint8_t      *cb, *sb;
    uint8_t            *p;
    size_t              i;

    out[13] = SP_PP2_UNSPEC;
    p = out + 16;

    if (c->sa_family != s->sa_family) {
        return 0;
    }

    if (c->sa_family == AF_UNIX) {
        out[13] = SP_PP2_UNIX_STREAM;
        sp_pp2_unix_path(p, c, clen);
        sp_pp2_unix_path(p + SP_PP2_UNIX_PATH, s, slen);
        return 2 * SP_PP2_UNIX_PATH;
    }

    for (i = 0; i < sizeof(sp_pp2_ips) / sizeof(sp_pp2_ips[0]); i++) {
        ip = &sp_pp2_ips[i];

        if (c->sa_family != ip->family || clen < ip->size
            || slen < ip->size)
        {
            continue;
        }

        cb = (const uint8_t *) c;
        sb = (const uint8_t *) s;
        out[13] = ip->fam;
        memcpy(p, cb + ip->addr, ip->alen);
        memcpy(p + ip->alen, sb + ip->addr, ip->alen);
        memcpy(p + 2 * ip->alen, cb + ip->port, 2);
        memcpy(p + 2 * ip->alen + 2, sb + ip->port, 2);

        return 2 * ip->alen + 4;
    }

    return 0;
}


size_t
sp_pp2_write(const sp_pp2_facts *f, const struct sockaddr *client,
    size_t client_len, const struct sockaddr *server, size_t server_len,
    uint8_t *out)
{
    size_t  at, ssl;

    memcpy(out, sp_pp2_signature, sizeof(sp_pp2_signature));

    if (client == NULL || server == NULL) {
        out[12] = SP_PP2_LOCAL;
        out[13] = SP_PP2_UNSPEC;
        at = 16;

    } else {
        out[12] = SP_PP2_PROXY;
        at = 16 + sp_pp2_addresses(client, client_len, server, server_len,
                                   out);
    }

    sp_pp2_tlv(out, &at, SP_PP2_TYPE_ALPN, f->alpn, SP_PROXY_V2_MAX_NAME);
    sp_pp2_tlv(out, &at, SP_PP2_TYPE_AUTHORITY, f->authority,
               SP_PROXY_V2_MAX_NAME);

    /* PP2_TYPE_SSL: client, verify, then subtypes; its length at the end */
    ssl = at;
    out[ssl] = SP_PP2_TYPE_SSL;
    out[ssl + 3] = f->client;
    out[ssl + 4] = (uint8_t) (f->verify >> 24);
    out[ssl + 5] = (uint8_t) (f->verify >> 16);
    out[ssl + 6] = (uint8_t) (f->verify >> 8);
    out[ssl + 7] = (uint8_t) f->verify;
    at += 3 + 5;

    /* the version only with PP2_CLIENT_SSL, as the specification says */
    if (f->client & SP_PP2_CLIENT_SSL) {
        sp_pp2_tlv(out, &at, SP_PP2_SUBTYPE_SSL_VERSION, f->version,
                   SP_PROXY_V2_MAX_VERSION);
    }

    sp_pp2_tlv(out, &at, SP_PP2_SUBTYPE_SSL_CN, f->cn, SP_PROXY_V2_MAX_CN);
    sp_pp2_tlv(out, &at, SP_PP2_SUBTYPE_SSL_CIPHER, f->cipher,
               SP_PROXY_V2_MAX_ALG);
    sp_pp2_tlv(out, &at, SP_PP2_SUBTYPE_SSL_SIG_ALG, f->sig_alg,
               SP_PROXY_V2_MAX_ALG);
    sp_pp2_tlv(out, &at, SP_PP2_SUBTYPE_SSL_KEY_ALG, f->key_alg,
               SP_PROXY_V2_MAX_ALG);

    sp_pp2_put16(out + ssl + 1, at - ssl - 3);
    sp_pp2_put16(out + 14, at - 16);

    return at;
}


/* ---- the facts of a pair ----------------------------------------------- */

static sp_pp2_value
sp_pp2_str(const char *s)
{
    sp_pp2_value  v;

    v.data = (const uint8_t *) s;
    v.len = (s != NULL) ? strlen(s) : 0;

    return v;
}


/*
 * The last CN of the subject, as UTF-8, into buf (NUL-terminated); ""
 * when there is none, or it does not fit, or it holds a NUL.
 */
static void
sp_pp2_cn(X509 *x, char *buf, size_t len)
{
    const X509_NAME  *name;
    unsigned char    *utf8;
    int               i, last, n;

    buf[0] = '\0';
    name = (x != NULL) ? X509_get_subject_name(x) : NULL;

    if (name == NULL) {
        return;
    }

    last = -1;

    for (i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(name, NID_commonName, i))
    {
        last = i;
    }

    if (last < 0) {
        return;
    }

    utf8 = NULL;
    n = ASN1_STRING_to_UTF8(&utf8,
            X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last)));

    if (n > 0 && (size_t) n < len && memchr(utf8, '\0', (size_t) n) == NULL)
    {
        memcpy(buf, utf8, (size_t) n);
        buf[n] = '\0';
    }

    OPENSSL_free(utf8);
}


/*
 * Our certificate's signature algorithm ("RSA-SHA256") and key ("RSA2048",
 * "EC256", or the type's short name), as haproxy writes them.
 */
static void
sp_pp2_own_cert(SSL *ssl, const char **sig, char *key, size_t len)
{
    X509        *x;
    EVP_PKEY    *pkey;
    const char  *type;
    int          nid;

    *sig = NULL;
    key[0] = '\0';

    x = SSL_get_certificate(ssl);
    if (x == NULL) {
        return;
    }

    nid = X509_get_signature_nid(x);
    *sig = (nid != NID_undef) ? OBJ_nid2sn(nid) : NULL;

    pkey = X509_get0_pubkey(x);
    if (pkey == NULL) {
        return;
    }

    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        type = "RSA";
        break;
    case EVP_PKEY_EC:
        type = "EC";
        break;
    case EVP_PKEY_DSA:
        type = "DSA";
        break;
    default:
        type = OBJ_nid2sn(EVP_PKEY_get_base_id(pkey));
        snprintf(key, len, "%s", type ? type : "");
        return;
    }

    snprintf(key, len, "%s%d", type, EVP_PKEY_get_bits(pkey));
}


/*
 * 0 when authorized; else OpenSSL's reason the certificate failed, or
 * UNABLE_TO_GET_ISSUER_CERT when one was asked for and none came (Node's
 * word, verify.c), or UNSPECIFIED when none was asked for: never 0, as
 * the specification wants for a client that did not prove anything.
 */
static uint32_t
sp_pp2_verify(const sp_pair *pair)
{
    long  result;

    if (pair->authorized) {
        return 0;
    }

    if (pair->peer != NULL) {
        result = SSL_get_verify_result(pair->ssl);
        return (result > 0) ? (uint32_t) result : X509_V_ERR_UNSPECIFIED;
    }

    return pair->authorization_error ? X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
                                     : X509_V_ERR_UNSPECIFIED;
}


ssize_t
sp_proxy_v2_encode(const sp_pair *pair, const struct sockaddr *client,
    size_t client_len, const struct sockaddr *server, size_t server_len,
    uint8_t *buf, size_t len)
{
    uint8_t        out[SP_PROXY_V2_MAX];
    char           cn[SP_PROXY_V2_MAX_CN + 1];
    char           key[SP_PROXY_V2_MAX_ALG + 1];
    const char    *sig;
    size_t         n;
    sp_pp2_facts   f;

    if (pair == NULL || buf == NULL || pair->ctx->role != SP_SERVER
        || !(pair->state & SP_STATE_SECURE)
        || (client == NULL) != (server == NULL))
    {
        return SP_ERR_INVALID;
    }

    memset(&f, 0, sizeof(sp_pp2_facts));

    f.alpn = sp_pp2_str(pair->alpn ? pair->alpn : pair->npn);
    f.authority = sp_pp2_str(pair->servername);
    f.version = sp_pp2_str(SSL_get_version(pair->ssl));
    f.cipher = sp_pp2_str(SSL_CIPHER_get_name(pair->cipher));

    f.client = SP_PP2_CLIENT_SSL;

    if (pair->peer != NULL) {
        f.client |= SP_PP2_CLIENT_CERT_SESS;

        if (!SSL_session_reused(pair->ssl)) {
            f.client |= SP_PP2_CLIENT_CERT_CONN;
        }
    }

    f.verify = sp_pp2_verify(pair);

    sp_pp2_cn(pair->peer, cn, sizeof(cn));
    f.cn = sp_pp2_str(cn);

    sp_pp2_own_cert(pair->ssl, &sig, key, sizeof(key));
    f.sig_alg = sp_pp2_str(sig);
    f.key_alg = sp_pp2_str(key);

    n = sp_pp2_write(&f, client, client_len, server, server_len, out);

    ERR_clear_error();

    if (n > len) {
        return SP_ERR_INVALID;
    }

    memcpy(buf, out, n);

    return (ssize_t) n;
}
