/*
 * Test helpers: credentials from the generated certificates, and a pump
 * that wires a client pair and a server pair back to back in memory.
 */

#ifndef SP_PUMP_H
#define SP_PUMP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "securepair.h"
#include "tap.h"


static const char *
cert_path(const char *name)
{
    static char  buf[8][512];
    static int   next;
    const char  *dir = getenv("SP_CERTS");
    char        *p = buf[next++ % 8];

    snprintf(p, 512, "%s/%s", dir ? dir : "build/certs", name);
    return p;
}


/* Credentials from "<base>.key" and "<base>.crt"; NULL base: no key. */
static sp_creds *
creds_for(const char *base, const char *ca)
{
    sp_creds  *creds = sp_creds_new();
    char       key[64], crt[64];

    if (creds == NULL) {
        return NULL;
    }

    if (base) {
        snprintf(key, sizeof(key), "%s.key", base);
        snprintf(crt, sizeof(crt), "%s.crt", base);

        if (sp_creds_add_key_cert_file(creds, cert_path(key), cert_path(crt))
            != SP_OK)
        {
            diag("creds %s: %s", base, sp_creds_error(creds));
            sp_creds_unref(creds);
            return NULL;
        }
    }

    if (ca && sp_creds_add_ca_file(creds, cert_path(ca)) != SP_OK) {
        diag("ca %s: %s", ca, sp_creds_error(creds));
        sp_creds_unref(creds);
        return NULL;
    }

    return creds;
}


static sp_ctx *
ctx_for(sp_role role, const char *base, const char *ca)
{
    sp_creds  *creds = creds_for(base, ca);
    sp_ctx    *ctx;

    if (creds == NULL) {
        return NULL;
    }

    ctx = sp_ctx_new(role, creds);
    sp_creds_unref(creds);
    return ctx;
}


/*
 * A client context trusting `ca`, with `base` as its identity (NULL:
 * none), at one protocol version (0: OpenSSL's range).
 */
static inline sp_ctx *
client_for(const char *base, const char *ca, int version)
{
    sp_creds  *creds;
    sp_ctx    *ctx;

    creds = creds_for(base, ca);
    if (creds == NULL) {
        return NULL;
    }

    sp_creds_set_versions(creds, version, version);
    ctx = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    return ctx;
}


/* Moves records from one pair to the other; returns bytes moved. */
static size_t
move_records(sp_pair *from, sp_pair *to, size_t chunk)
{
    const uint8_t  *out;
    uint8_t        *in;
    size_t          len, room, n, moved = 0;

    for ( ;; ) {
        out = sp_enc_out_buf(from, &len);
        if (out == NULL) {
            break;
        }

        in = sp_enc_in_buf(to, &room);
        if (in == NULL) {
            break;
        }

        n = len < room ? len : room;
        if (chunk && n > chunk) {
            n = chunk;
        }

        memcpy(in, out, n);
        sp_enc_out_consume(from, n);
        moved += n;

        if (sp_enc_in_commit(to, n) != SP_OK) {
            /* the receiver failed: the rest of our records go nowhere */
            break;
        }
    }

    return moved;
}


/*
 * Pumps both ways until neither side has anything to move.  With `events`
 * and `secure`, watches the server on the way: collects its events (which
 * reading clears) and notes whether it was ever secure.
 */
static void
pump_watch(sp_pair *client, sp_pair *server, unsigned *events, int *secure)
{
    size_t  moved;
    int     rounds = 0;

    do {
        moved = move_records(client, server, 0);

        if (secure) {
            *secure |= !!(sp_pair_state(server) & SP_STATE_SECURE);
        }

        moved += move_records(server, client, 0);

        if (secure) {
            *secure |= !!(sp_pair_state(server) & SP_STATE_SECURE);
            *events |= sp_pair_events(server);
        }
    } while (moved && ++rounds < 1000);
}


static void
pump(sp_pair *client, sp_pair *server)
{
    pump_watch(client, server, NULL, NULL);
}


/* A handshake between two fresh pairs; 1 when both are secure. */
static inline int
handshake(sp_pair *client, sp_pair *server)
{
    pump(client, server);

    return (sp_pair_state(client) & SP_STATE_SECURE)
           && (sp_pair_state(server) & SP_STATE_SECURE);
}


/* Reads all cleartext available now into buf; returns the count. */
static inline size_t
read_all(sp_pair *pair, char *buf, size_t size)
{
    ssize_t  n;
    size_t   got = 0;

    while (got < size) {
        n = sp_clear_read(pair, buf + got, size - got);
        if (n <= 0) {
            break;
        }

        got += (size_t) n;
    }

    return got;
}


/* A new server pair of sctx, and a client pair of cctx for "localhost". */
static inline void
new_ends(sp_ctx *sctx, sp_ctx *cctx, sp_pair **client, sp_pair **server)
{
    *server = sp_pair_new(sctx, NULL, NULL);
    *client = sp_pair_new(cctx, "localhost", NULL);
}


/* The end of a client and a server: the pairs, then their contexts. */
static inline void
free_ends(sp_pair *client, sp_pair *server, sp_ctx *cctx, sp_ctx *sctx)
{
    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* A client of cctx naming `servername`, a server of sctx: 1 when secure. */
static inline int
sni_connect(sp_ctx *sctx, sp_ctx *cctx, const char *servername,
    sp_pair **client, sp_pair **server)
{
    *server = sp_pair_new(sctx, NULL, NULL);
    *client = sp_pair_new(cctx, servername, NULL);

    if (*server == NULL || *client == NULL) {
        return 0;
    }

    return handshake(*client, *server);
}


/* Is the CN of the certificate the pair's peer sent `cn` (NULL: none)? */
static inline int
peer_cn_is(const sp_pair *pair, const char *cn)
{
    int            same;
    const char    *got;
    sp_peer_cert  *cert;

    cert = sp_pair_peer_cert(pair);
    got = cert ? sp_peer_cert_get(cert->subject, cert->subject_count, "CN")
               : NULL;

    same = (cn == NULL && cert == NULL)
           || (cn != NULL && got != NULL && strcmp(got, cn) == 0);

    if (!same) {
        diag("peer CN: got \"%s\", expected \"%s\"",
             cert ? (got ? got : "(none)") : "(no certificate)",
             cn ? cn : "(no certificate)");
    }

    sp_peer_cert_free(cert);

    return same;
}


static int
error_queue_empty(void)
{
    return ERR_peek_error() == 0;
}


/*
 * A server of the key and certificate `cert` and a client that trusts
 * ca.crt: their contexts, then new_ends().
 */
static inline void
open_ends(const char *cert, sp_ctx **sctx, sp_ctx **cctx, sp_pair **client,
    sp_pair **server)
{
    *sctx = ctx_for(SP_SERVER, cert, NULL);
    *cctx = ctx_for(SP_CLIENT, NULL, "ca.crt");
    new_ends(*sctx, *cctx, client, server);
}


/* The end of case `name`: OpenSSL's error queue is empty, then free_ends(). */
static inline void
finish_ends(const char *name, sp_pair *client, sp_pair *server, sp_ctx *cctx,
    sp_ctx *sctx)
{
    ok(error_queue_empty(), "%s: OpenSSL error queue empty", name);
    free_ends(client, server, cctx, sctx);
}


/*
 * The end of case `name` that made a context and credentials: OpenSSL's
 * error queue is empty, then the credentials go (`creds`, a list ended by
 * NULL), then the context.
 */
static inline void
finish_creds(const char *name, sp_ctx *ctx, sp_creds *const *creds)
{
    ok(error_queue_empty(), "%s: error queue empty", name);

    for ( ; *creds != NULL; creds++) {
        sp_creds_unref(*creds);
    }

    sp_ctx_unref(ctx);
}

#endif /* SP_PUMP_H */
