/*
 * Authorization of the peer, as Node's classic tls: the server's
 * requestCert x rejectUnauthorized matrix against every kind of client
 * certificate, over TLS 1.2 and TLS 1.3; the client's own checks (CA and
 * server identity); the peer certificate snapshot seen through a pair.
 */

#include <ctype.h>

#include "pump.h"
#include "x509_cli.h"
#include "internal.h"       /* groups on the SSL, for a HelloRetryRequest */


#define FROM_SERVER  "hello from server"
#define FROM_CLIENT  "hello from client"


static const char *openssl_says(const char *args, const char *file);


/* ---- the server's matrix ----------------------------------------------- */

/*
 * What the server's verification says of each client when it asked for a
 * certificate: NULL for authorized, otherwise Node's name for the result.
 *
 * A lone leaf whose issuer is unknown (client-wrongca): OpenSSL 3 first
 * reports UNABLE_TO_GET_ISSUER_CERT_LOCALLY (20) and, when verification
 * goes on as Node lets it (its verify callback accepts everything and the
 * result is read afterwards), then UNABLE_TO_VERIFY_LEAF_SIGNATURE (21),
 * which is the verify result.  Node says the same with or without
 * rejectUnauthorized, and so must we.  A server that asked and got nothing
 * says UNABLE_TO_GET_ISSUER_CERT, Node's word.
 */
typedef struct {
    const char  *cert;      /* client key/cert base name; NULL: none */
    const char  *error;
} client_case;

static const client_case  clients[] = {
    { "client",         NULL },
    { "client-self",    "DEPTH_ZERO_SELF_SIGNED_CERT" },
    { "client-expired", "CERT_HAS_EXPIRED" },
    { "client-wrongca", "UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
    { "client-chain",   "SELF_SIGNED_CERT_IN_CHAIN" },
    { NULL,             "UNABLE_TO_GET_ISSUER_CERT" },
};

#define NCLIENTS  (sizeof(clients) / sizeof(clients[0]))


static const char *
version_name(int version)
{
    return version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2";
}


/* "<case name>: <what>", for test points named by a fixed string. */
static const char *
at(const char *name, const char *what)
{
    static char  buf[4][256];
    static int   next;
    char        *p = buf[next++ % 4];

    snprintf(p, 256, "%s: %s", name, what);
    return p;
}


/* A client context trusting `ca`, with `cert` as its identity (or none). */
static sp_ctx *
client_ctx(const char *cert, const char *ca, int version)
{
    return client_for(cert, ca, version);
}


static sp_ctx *
server_ctx(int request, int reject)
{
    sp_ctx  *ctx;

    ctx = ctx_for(SP_SERVER, "server-ec", "ca.crt");
    if (ctx == NULL) {
        return NULL;
    }

    sp_ctx_set_request_cert(ctx, request);
    sp_ctx_set_reject_unauthorized(ctx, reject);

    return ctx;
}


static int
read_is(sp_pair *pair, const char *want)
{
    char    buf[256];
    size_t  n;

    n = read_all(pair, buf, sizeof(buf));

    return n == strlen(want) && memcmp(buf, want, n) == 0;
}


/* The handshake went through: check what the server decided. */
static void
check_accepted(const char *name, const client_case *cc, int request,
    sp_pair *client, sp_pair *server, unsigned events, int version)
{
    sp_peer_cert  *peer;

    is_int(sp_pair_error(server), 0, at(name, "server has no error"));
    is_int(sp_pair_error(client), 0, at(name, "client has no error"));
    ok((events & SP_EVENT_SECURE) && !(events & SP_EVENT_ERROR),
       "%s: server secure event, no error event", name);
    ok(sp_pair_state(server) & SP_STATE_SECURE, "%s: server secure", name);
    ok(sp_pair_state(client) & SP_STATE_SECURE, "%s: client secure", name);
    is_str(sp_pair_protocol(server), version_name(version),
           at(name, "protocol"));
    ok(sp_pair_authorized(client), "%s: client authorized the server", name);

    peer = sp_pair_peer_cert(server);

    if (!request) {
        ok(!sp_pair_authorized(server), "%s: not asked: not authorized",
           name);
        is_str(sp_pair_authorization_error(server), NULL,
               at(name, "not asked: no authorization error"));
        is_str(sp_pair_authorization_reason(server), NULL,
               at(name, "not asked: no authorization reason"));
        ok(peer == NULL, "%s: not asked: client sent no certificate", name);

    } else if (cc->error == NULL) {
        ok(sp_pair_authorized(server), "%s: server authorized client", name);
        is_str(sp_pair_authorization_error(server), NULL,
               at(name, "authorized: no authorization error"));
        ok(peer != NULL, "%s: server has the client's certificate", name);

    } else {
        ok(!sp_pair_authorized(server), "%s: not authorized", name);
        is_str(sp_pair_authorization_error(server), cc->error,
               at(name, "authorization error is Node's name"));
        ok(sp_pair_authorization_reason(server) != NULL
           && sp_pair_authorization_reason(server)[0] != '\0',
           "%s: reason \"%s\"", name,
           sp_pair_authorization_reason(server)
           ? sp_pair_authorization_reason(server) : "(null)");
        ok((peer != NULL) == (cc->cert != NULL),
           "%s: peer certificate present as sent", name);
    }

    sp_peer_cert_free(peer);

    /* what was queued before the handshake, then fresh data both ways */
    ok(read_is(server, FROM_CLIENT), "%s: server reads queued data", name);
    ok(read_is(client, FROM_SERVER), "%s: client reads queued data", name);

    ok(sp_clear_write(client, "ping", 4) == 4
       && sp_clear_write(server, "pong", 4) == 4,
       "%s: both write after the handshake", name);
    pump(client, server);
    ok(read_is(server, "ping") && read_is(client, "pong"),
       "%s: both read after the handshake", name);
}


/*
 * The SHA-1 fingerprint of the leaf in `base`.crt, as openssl prints it;
 * NULL for no base.
 */
static const char *
fingerprint_of(const char *base)
{
    char  file[64];

    if (base == NULL) {
        return NULL;
    }

    snprintf(file, sizeof(file), "%s.crt", base);
    return openssl_says("-fingerprint -sha1", file);
}


/* The fingerprint of the pair's peer certificate, or NULL (static). */
static const char *
peer_fingerprint(const sp_pair *pair)
{
    static char    buf[128];
    sp_peer_cert  *peer;

    peer = sp_pair_peer_cert(pair);
    if (peer == NULL || peer->fingerprint == NULL) {
        sp_peer_cert_free(peer);
        return NULL;
    }

    snprintf(buf, sizeof(buf), "%s", peer->fingerprint);
    sp_peer_cert_free(peer);
    return buf;
}


/*
 * The side that refused its peer (`who`): SP_ERR_UNAUTHORIZED, Node's
 * name for the reason in its message and its authorization error, not
 * authorized, and an alert sent.
 */
static void
check_refusal(const char *name, const char *who, sp_pair *pair,
    const char *error)
{
    const char  *msg;

    is_int(sp_pair_error(pair), SP_ERR_UNAUTHORIZED,
           tn("%s: %s refuses its peer", name, who));

    msg = sp_pair_error_message(pair);
    ok(strstr(msg, error) != NULL, "%s: %s's message \"%s\"", name, who,
       msg);
    is_str(sp_pair_authorization_error(pair), error,
           tn("%s: %s's authorization error is Node's name", name, who));
    ok(!sp_pair_authorized(pair), "%s: %s not authorized", name, who);
    ok(sp_pair_alert_sent(pair) >= 0, "%s: %s sent alert %d", name, who,
       sp_pair_alert_sent(pair));
}


/* The server refused the client: check both ends of the failure. */
static void
check_rejected(const char *name, const client_case *cc, int version,
    sp_pair *client, sp_pair *server, unsigned events, int secure)
{
    char         buf[256];

    check_refusal(name, "server", server, cc->error);
    ok(events & SP_EVENT_ERROR, "%s: server error event", name);
    ok(!(events & SP_EVENT_SECURE) && !secure,
       "%s: server never secure", name);
    is_int(sp_pair_state(server), SP_STATE_CLOSED,
           at(name, "server closed once its alert is out"));

    ok(sp_pair_error(client) != 0, "%s: client failed: %s", name,
       sp_pair_error_message(client));
    is_int(sp_pair_error(client), SP_ERR_PEER_ALERT,
           at(name, "client got the alert"));
    is_int(sp_pair_alert_received(client), sp_pair_alert_sent(server),
           at(name, "client received the alert sent"));

    /* no application byte crossed either way */
    ok(sp_clear_read(client, buf, sizeof(buf)) < 0,
       "%s: client never reads the server's queued data", name);
    ok(sp_clear_read(server, buf, sizeof(buf)) == SP_ERR_UNAUTHORIZED,
       "%s: server never reads what the client wrote", name);

    /* what the refusal knew, for the host's log */
    is_str(sp_pair_servername(server), "localhost",
           at(name, "refused: the servername the client sent"));
    is_str(sp_pair_protocol(server), version_name(version),
           at(name, "refused: the protocol chosen"));
    ok(sp_pair_cipher(server) != NULL, "%s: refused: the cipher chosen: %s",
       name, sp_pair_cipher(server) ? sp_pair_cipher(server) : "(null)");
    is_str(peer_fingerprint(server), fingerprint_of(cc->cert),
           at(name, "refused: the certificate the client sent"));
}


static void
test_server_case(int version, int request, int reject, const client_case *cc)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server, *client;
    unsigned   events = 0;
    int        secure = 0;
    char       name[160];

    snprintf(name, sizeof(name), "%s request=%d reject=%d %s",
             version_name(version), request, reject,
             cc->cert ? cc->cert : "no certificate");

    sctx = server_ctx(request, reject);
    cctx = client_ctx(cc->cert, "ca.crt", version);
    if (!ok(sctx != NULL && cctx != NULL, "%s: contexts", name)) {
        sp_ctx_unref(sctx);
        sp_ctx_unref(cctx);
        return;
    }

    new_ends(sctx, cctx, &client, &server);

    sp_clear_write(server, FROM_SERVER, strlen(FROM_SERVER));
    sp_clear_write(client, FROM_CLIENT, strlen(FROM_CLIENT));

    /* In TLS 1.3 the client is done before the server has judged it. */
    pump_watch(client, server, &events, &secure);

    if (request && reject && cc->error) {
        check_rejected(name, cc, version, client, server, events, secure);

    } else {
        check_accepted(name, cc, request, client, server, events, version);
    }

    finish_ends(name, client, server, cctx, sctx);
}


static void
test_server_matrix(void)
{
    static const int  versions[] = { SP_TLS1_2, SP_TLS1_3 };
    size_t            v, c;
    int               request, reject;

    for (v = 0; v < 2; v++) {
        for (request = 0; request <= 1; request++) {
            for (reject = 0; reject <= 1; reject++) {
                for (c = 0; c < NCLIENTS; c++) {
                    test_server_case(versions[v], request, reject,
                                     &clients[c]);
                }
            }
        }
    }
}


/* ---- the client's checks ----------------------------------------------- */

/* The server is server-ec: SAN localhost, a.example.com, 127.0.0.1. */
typedef struct {
    const char  *servername;
    const char  *ca;
    int          reject;     /* -1: the client's default (on) */
    const char  *error;      /* NULL: authorized */
} server_case;

static const server_case  servers[] = {
    { "localhost",         "ca.crt",  -1, NULL },
    { "a.example.com",     "ca.crt",  -1, NULL },
    { "127.0.0.1",         "ca.crt",  -1, NULL },
    { "wrong.example.org", "ca.crt",  -1, "HOSTNAME_MISMATCH" },
    { "127.0.0.2",         "ca.crt",  -1, "IP_ADDRESS_MISMATCH" },
    { "localhost",         "ca2.crt", -1, "UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
    { "wrong.example.org", "ca.crt",   0, "HOSTNAME_MISMATCH" },
    { "localhost",         "ca2.crt",  0, "UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
};

#define NSERVERS  (sizeof(servers) / sizeof(servers[0]))


static void
test_client_case(int version, const server_case *sc)
{
    sp_ctx        *sctx, *cctx;
    sp_pair       *server, *client;
    sp_peer_cert  *peer;
    unsigned       events;
    char           name[160], buf[64];
    int            rejects;

    snprintf(name, sizeof(name), "%s client: %s trusting %s, reject %s",
             version_name(version), sc->servername, sc->ca,
             sc->reject < 0 ? "default" : "off");

    sctx = server_ctx(0, 0);
    cctx = client_ctx(NULL, sc->ca, version);
    if (!ok(sctx != NULL && cctx != NULL, "%s: contexts", name)) {
        sp_ctx_unref(sctx);
        sp_ctx_unref(cctx);
        return;
    }

    if (sc->reject >= 0) {
        sp_ctx_set_reject_unauthorized(cctx, sc->reject);
    }

    rejects = sc->reject != 0 && sc->error != NULL;

    server = sp_pair_new(sctx, NULL, NULL);
    client = sp_pair_new(cctx, sc->servername, NULL);
    sp_clear_write(server, FROM_SERVER, strlen(FROM_SERVER));
    sp_clear_write(client, FROM_CLIENT, strlen(FROM_CLIENT));
    pump(client, server);
    events = sp_pair_events(client);

    if (rejects) {
        check_refusal(name, "client", client, sc->error);
        ok((events & SP_EVENT_ERROR) && !(events & SP_EVENT_SECURE),
           "%s: error event, never secure", name);
        is_int(sp_pair_error(server), SP_ERR_PEER_ALERT,
               at(name, "server got the alert"));
        ok(!(sp_pair_events(server) & SP_EVENT_SECURE),
           "%s: server never secure", name);
        ok(sp_clear_read(client, buf, sizeof(buf)) < 0
           && sp_clear_read(server, buf, sizeof(buf)) < 0,
           "%s: no data crossed", name);
        is_str(peer_fingerprint(client), fingerprint_of("server-ec"),
               at(name, "refused: the certificate the server sent"));
        is_str(sp_pair_protocol(client), version_name(version),
               at(name, "refused: the protocol chosen"));

    } else {
        ok(handshake(client, server), "%s: handshake completes", name);
        ok(events & SP_EVENT_SECURE, "%s: client secure event", name);
        is_int(sp_pair_authorized(client), sc->error == NULL,
               at(name, "authorized as expected"));
        is_str(sp_pair_authorization_error(client), sc->error,
               at(name, "authorization error"));
        ok((sp_pair_authorization_reason(client) != NULL)
           == (sc->error != NULL), "%s: reason \"%s\"", name,
           sp_pair_authorization_reason(client)
           ? sp_pair_authorization_reason(client) : "(null)");
        ok(read_is(server, FROM_CLIENT) && read_is(client, FROM_SERVER),
           "%s: data flows both ways", name);

        peer = sp_pair_peer_cert(client);
        is_str(peer ? sp_peer_cert_get(peer->subject, peer->subject_count,
                                       "CN") : NULL,
               "localhost", at(name, "peer certificate is the server's"));
        sp_peer_cert_free(peer);
    }

    finish_ends(name, client, server, cctx, sctx);
}


static void
test_client_checks(void)
{
    size_t  i;

    for (i = 0; i < NSERVERS; i++) {
        test_client_case(SP_TLS1_2, &servers[i]);
        test_client_case(SP_TLS1_3, &servers[i]);
    }
}


/* ---- the peer certificate through a pair ------------------------------- */

/* What `openssl x509 -noout <args> -in <file>` prints after its '='. */
static const char *
openssl_says(const char *args, const char *file)
{
    return x509_cli_says(args, cert_path(file));
}


/* "Nov  7 09:52:22 2029 GMT", as Node prints valid_from / valid_to. */
static int
is_cert_time(const char *s)
{
    static const char  months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int                i;

    if (s == NULL || strlen(s) != 24) {
        return 0;
    }

    for (i = 0; i < 36; i += 3) {
        if (memcmp(s, months + i, 3) == 0) {
            break;
        }
    }

    return i < 36
           && s[3] == ' '
           && (s[4] == ' ' || isdigit((unsigned char) s[4]))
           && isdigit((unsigned char) s[5])
           && s[6] == ' '
           && isdigit((unsigned char) s[7]) && isdigit((unsigned char) s[8])
           && s[9] == ':'
           && isdigit((unsigned char) s[10]) && isdigit((unsigned char) s[11])
           && s[12] == ':'
           && isdigit((unsigned char) s[13]) && isdigit((unsigned char) s[14])
           && s[15] == ' '
           && isdigit((unsigned char) s[16]) && isdigit((unsigned char) s[17])
           && isdigit((unsigned char) s[18]) && isdigit((unsigned char) s[19])
           && strcmp(s + 20, " GMT") == 0;
}


/* "AB:CD:..." of `bytes` upper-case hex bytes. */
static int
is_colon_hex(const char *s, size_t bytes)
{
    size_t  i;

    if (s == NULL || strlen(s) != bytes * 3 - 1) {
        return 0;
    }

    for (i = 0; s[i]; i++) {
        if (i % 3 == 2 ? s[i] != ':'
                       : !(isdigit((unsigned char) s[i])
                           || (s[i] >= 'A' && s[i] <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


static int
is_upper_hex(const char *s)
{
    if (s == NULL || *s == '\0') {
        return 0;
    }

    for ( ; *s; s++) {
        if (!isdigit((unsigned char) *s) && !(*s >= 'A' && *s <= 'F')) {
            return 0;
        }
    }

    return 1;
}



/* 1 when the pair has no peer certificate to show. */
static int
no_peer_cert(const sp_pair *pair)
{
    sp_peer_cert  *peer = sp_pair_peer_cert(pair);

    sp_peer_cert_free(peer);
    return peer == NULL;
}

static void
check_client_cert(const sp_peer_cert *c)
{
    static const sp_name_entry  want[] = {
        { "C",  "UK" },
        { "ST", "Acme State" },
        { "L",  "Acme Town" },
        { "O",  "Acme" },
        { "OU", "Clients" },
        { "CN", "client" },
    };
    size_t                      i, n = sizeof(want) / sizeof(want[0]);
    int                         same;

    is_int(c->subject_count, n, "peer cert: six subject entries");

    same = c->subject_count == n;
    for (i = 0; same && i < n; i++) {
        same = strcmp(c->subject[i].key, want[i].key) == 0
               && strcmp(c->subject[i].value, want[i].value) == 0;
    }
    ok(same, "peer cert: subject C, ST, L, O, OU, CN in order");

    is_str(sp_peer_cert_get(c->subject, c->subject_count, "CN"), "client",
           "peer cert: subject CN");
    is_str(sp_peer_cert_get(c->subject, c->subject_count, "OU"), "Clients",
           "peer cert: subject OU");
    is_str(sp_peer_cert_get(c->subject, c->subject_count, "XX"), NULL,
           "peer cert: absent key gives NULL");
    is_str(sp_peer_cert_get(c->issuer, c->issuer_count, "CN"),
           "securepair test CA", "peer cert: issuer CN");
    check_client_crt_lines(c, "peer cert");

    ok(is_cert_time(c->valid_from), "peer cert: valid_from \"%s\"",
       c->valid_from ? c->valid_from : "(null)");
    ok(is_cert_time(c->valid_to), "peer cert: valid_to \"%s\"",
       c->valid_to ? c->valid_to : "(null)");
    ok(c->valid_to_time > c->valid_from_time,
       "peer cert: valid_to_time after valid_from_time");

    ok(is_colon_hex(c->fingerprint, 20), "peer cert: SHA-1 fingerprint form");
    is_str(c->fingerprint, openssl_says("-fingerprint -sha1", "client.crt"),
           "peer cert: SHA-1 fingerprint as openssl");
    ok(is_colon_hex(c->fingerprint256, 32),
       "peer cert: SHA-256 fingerprint form");
    is_str(c->fingerprint256,
           openssl_says("-fingerprint -sha256", "client.crt"),
           "peer cert: SHA-256 fingerprint as openssl");
    ok(is_upper_hex(c->serial_number), "peer cert: serial \"%s\"",
       c->serial_number ? c->serial_number : "(null)");
    is_str(c->serial_number, openssl_says("-serial", "client.crt"),
           "peer cert: serial as openssl");
}


static void
test_peer_cert(int version)
{
    sp_ctx        *sctx, *cctx;
    sp_pair       *server, *client;
    sp_peer_cert  *peer, *mine;

    sctx = server_ctx(1, 1);
    cctx = client_ctx("client", "ca.crt", version);
    new_ends(sctx, cctx, &client, &server);

    ok(no_peer_cert(server) && no_peer_cert(client),
       "%s: no peer certificate before the handshake", version_name(version));
    ok(handshake(client, server), "%s: peer cert: handshake",
       version_name(version));

    peer = sp_pair_peer_cert(server);
    if (ok(peer != NULL, "%s: server has the client's certificate",
           version_name(version)))
    {
        check_client_cert(peer);
    }

    /* each call is a fresh snapshot that outlives the pair */
    mine = sp_pair_peer_cert(client);
    sp_pair_free(client);
    sp_pair_free(server);

    if (ok(mine != NULL, "client has the server's certificate")) {
        is_str(sp_peer_cert_get(mine->subject, mine->subject_count, "CN"),
               "localhost", "server cert: CN after the pair is freed");
        is_str(sp_peer_cert_get(mine->issuer, mine->issuer_count, "CN"),
               "securepair test CA", "server cert: issuer CN");
        is_str(mine->subjectaltname,
               "DNS:localhost, DNS:a.example.com, IP Address:127.0.0.1",
               "server cert: subjectaltname");
        is_str(mine->fingerprint,
               openssl_says("-fingerprint -sha1", "server-ec.crt"),
               "server cert: fingerprint as openssl");
    }

    sp_peer_cert_free(mine);
    sp_peer_cert_free(peer);

    /* requestCert on, client without a certificate: none to show */
    sp_ctx_unref(sctx);
    sctx = server_ctx(1, 0);
    sp_ctx_unref(cctx);
    cctx = client_ctx(NULL, "ca.crt", version);
    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "no client certificate: handshake");
    ok(no_peer_cert(server), "absent client certificate: NULL");
    sp_pair_free(client);
    sp_pair_free(server);

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    ok(error_queue_empty(), "peer cert: OpenSSL error queue empty");
}


/* ---- what a handshake that failed still knows ---------------------------- */

/* Not TLS at all: nothing was said, so nothing is known. */
static void
test_failed_garbage(void)
{
    static const char  junk[] = "GET / HTTP/1.0\r\n\r\n";
    sp_ctx            *sctx;
    sp_pair           *server;

    sctx = server_ctx(1, 1);
    server = sp_pair_new(sctx, NULL, NULL);

    sp_enc_in(server, junk, sizeof(junk) - 1);

    is_int(sp_pair_error(server), SP_ERR_HANDSHAKE,
           "garbage: the handshake fails");
    is_str(sp_pair_servername(server), NULL, "garbage: no servername");
    is_str(sp_pair_protocol(server), NULL, "garbage: no protocol");
    is_str(sp_pair_cipher(server), NULL, "garbage: no cipher");
    is_str(peer_fingerprint(server), NULL, "garbage: no certificate");
    is_str(sp_pair_authorization_error(server), NULL,
           "garbage: no authorization error");
    ok(!sp_pair_authorized(server), "garbage: not authorized");
    ok(error_queue_empty(), "garbage: OpenSSL error queue empty");

    sp_pair_free(server);
    sp_ctx_unref(sctx);
}


/*
 * A session made by a client with a certificate, for another name: what
 * test_failed_cut resumes.  Its length, or 0.
 */
static size_t
first_session(sp_ctx *sctx, sp_ctx *cctx, uint8_t *sess, size_t size,
    const char *name)
{
    sp_pair  *server, *client;
    ssize_t   len;
    char      buf[64];

    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "%s: the first handshake", name);
    sp_clear_write(server, FROM_SERVER, strlen(FROM_SERVER));
    pump(client, server);
    read_all(client, buf, sizeof(buf));
    len = sp_pair_get_session(client, sess, size);
    ok(len > 0, "%s: the first client's session", name);
    sp_pair_free(client);
    sp_pair_free(server);

    return len > 0 ? (size_t) len : 0;
}


/*
 * The client goes away before the handshake ends: right after its
 * ClientHello, or (`resume`) having resumed a session made by another
 * client with a certificate and another name, before its Finished.  The
 * server knows the name this client asked for and what it chose itself,
 * never a client certificate: not this client's, not the other one's.
 */
static void
test_failed_cut(int version, int resume)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server, *client;
    uint8_t    sess[8192];
    size_t     len;
    char       name[64];

    snprintf(name, sizeof(name), resume ? "%s resumption cut short"
                                        : "%s reset after the ClientHello",
             version_name(version));

    sctx = server_ctx(1, 1);
    cctx = client_ctx("client", "ca.crt", version);
    server = sp_pair_new(sctx, NULL, NULL);

    if (resume) {
        len = first_session(sctx, cctx, sess, sizeof(sess), name);
        client = sp_pair_new_with_session(cctx, "a.example.com", sess, len,
                                          NULL);
        move_records(client, server, 0);
        move_records(server, client, 0);
        ok((sp_pair_state(client) & SP_STATE_SECURE)
           && sp_pair_session_reused(client),
           "%s: the server resumed the session", name);

    } else {
        client = sp_pair_new(cctx, "a.example.com", NULL);
        move_records(client, server, 0);
        ok(sp_enc_out_pending(server) > 0, "%s: the server answered", name);
    }

    sp_enc_in_eof(server);

    is_int(sp_pair_error(server), SP_ERR_TRUNCATED,
           at(name, "the handshake fails"));
    is_str(sp_pair_servername(server), "a.example.com",
           at(name, "the servername this client sent"));
    is_str(peer_fingerprint(server), NULL,
           at(name, resume ? "not the first client's certificate"
                           : "no certificate yet"));

    if (!resume) {
        is_str(sp_pair_protocol(server), version_name(version),
               at(name, "the protocol the server chose"));
        ok(sp_pair_cipher(server) != NULL,
           "%s: the cipher the server chose: %s", name,
           sp_pair_cipher(server) ? sp_pair_cipher(server) : "(null)");
        is_str(sp_pair_authorization_error(server), NULL,
               at(name, "not judged: no authorization error"));
    }

    finish_ends(name, client, server, cctx, sctx);
}


/*
 * A second ClientHello, after a HelloRetryRequest, that names another
 * server: the context it would choose is not the one the first name
 * chose, and the name reported would be the first.  The server refuses it
 * (RFC 8446, 4.1.2: the second hello repeats the first).  The API has no
 * groups setting: the test sets them on OpenSSL's objects, so that the
 * client's key share (P-256) is not one the server takes (X25519 only).
 */
static void
test_failed_second_hello(void)
{
    sp_ctx    *sctx, *cctx;
    sp_creds  *a, *b;
    sp_pair   *server, *client;
    uint8_t    buf[4096], *name;
    size_t     len;
    int        rc;

    sctx = ctx_for(SP_SERVER, "server-ec", "ca.crt");
    a = creds_for("sni-a", "ca.crt");
    b = creds_for("server-rsa", "ca.crt");
    sp_ctx_add_context(sctx, "a.example.com", a);
    sp_ctx_add_context(sctx, "b.example.com", b);
    sp_creds_unref(a);
    sp_creds_unref(b);

    cctx = client_ctx(NULL, "ca.crt", SP_TLS1_3);
    SSL_CTX_set1_groups_list(sp_creds_ssl_ctx(cctx->creds), "P-256:X25519");

    server = sp_pair_new(sctx, NULL, NULL);
    client = sp_pair_new(cctx, "a.example.com", NULL);
    SSL_set1_groups_list(server->ssl, "X25519");

    move_records(client, server, 0);
    is_str(sp_pair_context_name(server), "a.example.com",
           "second hello: the first chose a.example.com");
    move_records(server, client, 0);

    /* the client's second hello, naming b.example.com instead */
    len = sp_enc_out(client, buf, sizeof(buf));
    name = memmem(buf, len, "a.example.com", 13);
    ok(len > 0 && name != NULL, "second hello: the client answered the "
       "HelloRetryRequest with its name");
    if (name != NULL) {
        *name = 'b';
    }

    rc = (int) sp_enc_in(server, buf, len);
    ok(rc < 0 || sp_pair_error(server) == SP_ERR_HANDSHAKE,
       "second hello: another name fails the handshake: %s",
       sp_pair_error_message(server));
    is_int(sp_pair_alert_sent(server), 47,
           "second hello: with an illegal_parameter alert");
    is_str(sp_pair_context_name(server), "a.example.com",
           "second hello: the context is still the first name's");
    is_str(sp_pair_servername(server), "a.example.com",
           "second hello: and so is the servername");
    ok(error_queue_empty(), "second hello: OpenSSL error queue empty");

    free_ends(client, server, cctx, sctx);
}


int
main(void)
{
    test_server_matrix();
    test_client_checks();
    test_peer_cert(SP_TLS1_2);
    test_peer_cert(SP_TLS1_3);
    test_failed_garbage();
    test_failed_cut(SP_TLS1_2, 0);
    test_failed_cut(SP_TLS1_3, 0);
    test_failed_cut(SP_TLS1_2, 1);
    test_failed_cut(SP_TLS1_3, 1);
    test_failed_second_hello();

    return done_testing();
}
