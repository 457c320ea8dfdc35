/*
 * PROXY protocol v2 headers of real handshakes, read back by the strict
 * reader of pp2_parse.h: the addresses of each family, LOCAL, the TLVs
 * of a verified client certificate, of none, of a refused one, of a
 * resumed session; the calls' refusals.  And what a client offered
 * (sp_pair_client_ciphers, sp_pair_client_groups) in nginx's format.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "securepair.h"
#include "pump.h"
#include "pp2_parse.h"
#include "tap.h"


typedef struct {
    sp_ctx   *server_ctx;
    sp_ctx   *client_ctx;
    sp_pair  *server;
    sp_pair  *client;
} conn_t;


/* A handshake: the server asks for a certificate when ca is given. */
static int
conn_open(conn_t *c, const char *client_cert, const char *ca,
    const char *sni, int version)
{
    static const char  *alpn[] = { "h2", "http/1.1" };
    int                 err;

    memset(c, 0, sizeof(conn_t));

    c->server_ctx = ctx_for(SP_SERVER, "server-rsa", ca);
    c->client_ctx = client_for(client_cert, "ca.crt", version);

    if (c->server_ctx == NULL || c->client_ctx == NULL) {
        return 0;
    }

    if (ca != NULL) {
        sp_ctx_set_request_cert(c->server_ctx, 1);
    }

    sp_ctx_set_alpn(c->server_ctx, alpn, 2);
    sp_ctx_set_alpn(c->client_ctx, alpn + 1, 1);
    sp_ctx_set_reject_unauthorized(c->client_ctx, 0);

    c->server = sp_pair_new(c->server_ctx, NULL, &err);
    c->client = sp_pair_new(c->client_ctx, sni, &err);

    return c->server && c->client && handshake(c->client, c->server);
}


static void
conn_close(conn_t *c)
{
    sp_pair_free(c->server);
    sp_pair_free(c->client);
    sp_ctx_unref(c->server_ctx);
    sp_ctx_unref(c->client_ctx);
}


static void
v4(struct sockaddr_in *sin, const char *ip, int port)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    inet_pton(AF_INET, ip, &sin->sin_addr);
}


/* Encodes and parses; 1 when the reader takes it. */
static int
encode(sp_pair *pair, const struct sockaddr *a, size_t alen,
    const struct sockaddr *b, size_t blen, uint8_t *buf, pp2_parsed *r)
{
    ssize_t  n;

    n = sp_proxy_v2_encode(pair, a, alen, b, blen, buf, SP_PROXY_V2_MAX);

    if (n <= 0 || pp2_parse(r, buf, (size_t) n) != 0) {
        diag("encode: %zd, %s", n, n > 0 ? r->error : "refused");
        return 0;
    }

    return 1;
}


static void
test_verified_ipv4(void)
{
    conn_t              c;
    struct sockaddr_in  a, b;
    uint8_t             buf[SP_PROXY_V2_MAX];
    pp2_parsed          r;

    ok(conn_open(&c, "client", "ca.crt", "a.example.com", SP_TLS1_3),
       "a TLS 1.3 handshake with a client certificate");
    v4(&a, "192.0.2.1", 51234);
    v4(&b, "198.51.100.7", 443);

    ok(encode(c.server, (struct sockaddr *) &a, sizeof(a),
              (struct sockaddr *) &b, sizeof(b), buf, &r),
       "the header parses by the specification");
    is_int(r.command, 1, "command PROXY");
    is_int(r.family, 0x11, "TCP over IPv4");
    ok(memcmp(r.addr, "\xc0\x00\x02\x01\xc6\x33\x64\x07\xc8\x22\x01\xbb",
              12) == 0, "client, then server address, then the ports");
    is_str(pp2_str(r.tlv[0x01]), "http/1.1", "PP2_TYPE_ALPN");
    is_str(pp2_str(r.tlv[0x02]), "a.example.com", "PP2_TYPE_AUTHORITY");
    ok(r.ssl, "PP2_TYPE_SSL");
    is_int(r.ssl_client, 0x07, "client: SSL, CERT_CONN, CERT_SESS");
    is_int(r.ssl_verify, 0, "verify 0: verified");
    is_str(pp2_str(r.sub[0x21]), "TLSv1.3", "SSL_VERSION");
    is_str(pp2_str(r.sub[0x22]), "client", "SSL_CN");
    is_str(pp2_str(r.sub[0x23]), sp_pair_cipher(c.server), "SSL_CIPHER");
    is_str(pp2_str(r.sub[0x24]), "RSA-SHA256", "SSL_SIG_ALG of our "
           "certificate");
    is_str(pp2_str(r.sub[0x25]), "RSA2048", "SSL_KEY_ALG of our "
           "certificate");
    ok(error_queue_empty(), "the error queue is empty");

    ok(sp_proxy_v2_encode(c.server, (struct sockaddr *) &a, sizeof(a),
                          (struct sockaddr *) &b, sizeof(b), buf,
                          r.total - 1) == SP_ERR_INVALID,
       "a buffer one byte short: SP_ERR_INVALID");
    ok(sp_proxy_v2_encode(c.client, (struct sockaddr *) &a, sizeof(a),
                          (struct sockaddr *) &b, sizeof(b), buf,
                          sizeof(buf)) == SP_ERR_INVALID,
       "a client pair: SP_ERR_INVALID");
    ok(sp_proxy_v2_encode(c.server, (struct sockaddr *) &a, sizeof(a),
                          NULL, 0, buf, sizeof(buf)) == SP_ERR_INVALID,
       "one end only: SP_ERR_INVALID");

    conn_close(&c);
}


static void
test_families(void)
{
    conn_t               c;
    struct sockaddr_in   a;
    struct sockaddr_in6  a6, b6;
    struct sockaddr_un   u, v;
    uint8_t              buf[SP_PROXY_V2_MAX];
    pp2_parsed           r;

    ok(conn_open(&c, NULL, NULL, NULL, SP_TLS1_2), "a TLS 1.2 handshake, "
       "no SNI, no certificate asked for");

    memset(&a6, 0, sizeof(a6));
    memset(&b6, 0, sizeof(b6));
    a6.sin6_family = b6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    inet_pton(AF_INET6, "2001:db8::2", &b6.sin6_addr);
    a6.sin6_port = htons(40000);
    b6.sin6_port = htons(8443);

    ok(encode(c.server, (struct sockaddr *) &a6, sizeof(a6),
              (struct sockaddr *) &b6, sizeof(b6), buf, &r),
       "IPv6: parses");
    is_int(r.family, 0x21, "IPv6: TCP over IPv6");
    ok(memcmp(r.addr, &a6.sin6_addr, 16) == 0
       && memcmp(r.addr + 16, &b6.sin6_addr, 16) == 0
       && memcmp(r.addr + 32, "\x9c\x40\x20\xfb", 4) == 0,
       "IPv6: addresses and ports");
    ok(r.tlv[0x02].data == NULL, "no SNI: no PP2_TYPE_AUTHORITY");
    is_int(r.ssl_client, 0x01, "no certificate: client PP2_CLIENT_SSL");
    is_int(r.ssl_verify, 1, "none asked for: verify 1 (UNSPECIFIED)");
    ok(r.sub[0x22].data == NULL, "no SSL_CN");
    is_str(pp2_str(r.sub[0x21]), "TLSv1.2", "SSL_VERSION TLSv1.2");

    memset(&u, 0, sizeof(u));
    memset(&v, 0, sizeof(v));
    u.sun_family = v.sun_family = AF_UNIX;
    strcpy(v.sun_path, "/run/sp.sock");

    ok(encode(c.server, (struct sockaddr *) &u, sizeof(sa_family_t),
              (struct sockaddr *) &v, sizeof(v), buf, &r),
       "AF_UNIX: parses");
    is_int(r.family, 0x31, "AF_UNIX: UNIX stream");
    ok(r.addr[0] == 0 && strcmp((char *) r.addr + 108, "/run/sp.sock") == 0
       && r.addr[215] == 0, "AF_UNIX: an unnamed client, the server's path");

    v4(&a, "192.0.2.1", 1);
    ok(encode(c.server, (struct sockaddr *) &a, sizeof(a),
              (struct sockaddr *) &b6, sizeof(b6), buf, &r),
       "mixed families: parses");
    ok(r.command == 1 && r.family == 0 && r.addr_len == 0,
       "mixed families: PROXY, AF_UNSPEC, no addresses");
    ok(r.ssl, "mixed families: the TLVs are still there");

    ok(encode(c.server, NULL, 0, NULL, 0, buf, &r), "LOCAL: parses");
    ok(r.command == 0 && r.family == 0 && r.addr_len == 0,
       "LOCAL: no addresses");

    conn_close(&c);
}


static void
test_unauthorized(void)
{
    conn_t      c;
    uint8_t     buf[SP_PROXY_V2_MAX];
    pp2_parsed  r;

    ok(conn_open(&c, NULL, "ca.crt", NULL, SP_TLS1_3),
       "a certificate asked for, none sent");
    ok(encode(c.server, NULL, 0, NULL, 0, buf, &r), "parses");
    is_int(r.ssl_client, 0x01, "client: PP2_CLIENT_SSL only");
    is_int(r.ssl_verify, 2, "verify 2 (UNABLE_TO_GET_ISSUER_CERT)");
    conn_close(&c);

    ok(conn_open(&c, "client-self", "ca.crt", NULL, SP_TLS1_3),
       "a self-signed client certificate, not rejected");
    ok(encode(c.server, NULL, 0, NULL, 0, buf, &r), "parses");
    is_int(r.ssl_client, 0x07, "client: SSL, CERT_CONN, CERT_SESS");
    is_int(r.ssl_verify, 18, "verify 18 (DEPTH_ZERO_SELF_SIGNED_CERT)");
    is_str(pp2_str(r.sub[0x22]), "self-signed client", "its CN");

    /* before the handshake: nothing to tell */
    conn_close(&c);
}


static void
test_not_secure(void)
{
    sp_ctx   *ctx;
    sp_pair  *pair;
    uint8_t   buf[SP_PROXY_V2_MAX];
    int       err;

    ctx = ctx_for(SP_SERVER, "server-rsa", NULL);
    pair = ctx ? sp_pair_new(ctx, NULL, &err) : NULL;

    ok(pair && sp_proxy_v2_encode(pair, NULL, 0, NULL, 0, buf, sizeof(buf))
               == SP_ERR_INVALID,
       "before the handshake: SP_ERR_INVALID");
    ok(pair && sp_pair_client_ciphers(pair, NULL, 0) == 0
       && sp_pair_client_groups(pair, NULL, 0) == 0,
       "before a hello: nothing offered");

    sp_pair_free(pair);
    sp_ctx_unref(ctx);
}


static void
test_offers(void)
{
    conn_t   c;
    char     buf[4096], small[8];
    size_t   n;

    ok(conn_open(&c, NULL, NULL, NULL, SP_TLS1_3), "a TLS 1.3 handshake");

    n = sp_pair_client_ciphers(c.server, NULL, 0);
    ok(n > 0 && n < sizeof(buf), "the length of the ciphers offered");
    is_int(sp_pair_client_ciphers(c.server, buf, sizeof(buf)), n,
           "the same length written");
    is_int(strlen(buf), n, "all of it, NUL-terminated");
    ok(strncmp(buf, "TLS_AES_256_GCM_SHA384:", 23) == 0,
       "OpenSSL's names, colon-separated, in the client's order");
    ok(strstr(buf, ":TLS_EMPTY_RENEGOTIATION_INFO_SCSV") != NULL,
       "the renegotiation SCSV by its name, as nginx shows it");

    is_int(sp_pair_client_ciphers(c.server, small, sizeof(small)), n,
           "a small buffer: still the whole length");
    is_str(small, "TLS_AES", "a small buffer: what fits, NUL-terminated");

    n = sp_pair_client_groups(c.server, buf, sizeof(buf));
    ok(n > 0 && strlen(buf) == n, "groups offered");
    ok(strncmp(buf, "X25519:prime256v1:", 18) == 0,
       "groups by OpenSSL's short names, as nginx's $ssl_curves");
    is_int(sp_pair_client_ciphers(c.client, buf, sizeof(buf)), 0,
           "a client pair: nothing");

    conn_close(&c);
}


int
main(void)
{
    test_verified_ipv4();
    test_families();
    test_unauthorized();
    test_not_secure();
    test_offers();

    return done_testing();
}
