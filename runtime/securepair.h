/*
 * securepair: a sans-IO TLS engine with the semantics of Node.js's classic
 * `tls` module, over OpenSSL 3.
 *
 * Three objects:
 *
 *   sp_creds  credentials (Node's crypto.createCredentials): key/cert pairs,
 *             CA store, ciphers, protocol versions, session-id context and,
 *             for SNI contexts, an optional verification policy of their own.
 *   sp_ctx    a server or client configuration (Node's tls.createServer /
 *             tls.connect options): default credentials, SNI contexts,
 *             NPN/ALPN lists, authorization policy, renegotiation limits,
 *             connection accounting, the host's clock.
 *   sp_pair   one TLS connection (Node's SecurePair) over memory buffers.
 *
 * Credentials and contexts are reference counted and shared by pairs; a pair
 * holds a reference to its context, so a context may be released while its
 * pairs live.  Nothing here is thread-safe: a context and its pairs belong to
 * one thread at a time (an nginx worker, an event loop).
 *
 * The pair never touches a socket, a clock or a loop.  The host moves bytes:
 *
 *     network --> sp_enc_in_*  --> [ pair ] --> sp_clear_read  --> application
 *     network <-- sp_enc_out_* <-- [ pair ] <-- sp_clear_write <-- application
 *
 * Calls that can fail return SP_OK (0) or a negative sp_err code; the message
 * behind it is sp_creds_error(), sp_ctx_error() or sp_pair_error(), and
 * for credentials and contexts sp_*_error_info() says which input failed
 * (file, field, item) as data.  Pair
 * errors are sticky: once a pair has failed every later call returns the same
 * error, but records already produced (a fatal alert) stay readable through
 * sp_enc_out_* and must still be sent by the host.  Every call leaves
 * OpenSSL's thread error queue empty.
 */

#ifndef SECUREPAIR_H
#define SECUREPAIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SP_VERSION "0.1.0"


/* ---- errors ------------------------------------------------------------ */

typedef enum {
    SP_OK = 0,
    SP_ERR_AGAIN = -1,            /* nothing can happen until the host moves
                                     bytes: not an error, never sticky */
    SP_ERR_NOMEM = -2,
    SP_ERR_INVALID = -3,          /* bad argument or misuse of the API */
    SP_ERR_LOAD = -4,             /* a key, certificate, CA or list could
                                     not be loaded: the message says why */
    SP_ERR_HANDSHAKE = -5,        /* TLS protocol failure; we sent an alert */
    SP_ERR_PEER_ALERT = -6,       /* the peer sent a fatal alert */
    SP_ERR_UNAUTHORIZED = -7,     /* peer certificate refused under
                                     reject_unauthorized */
    SP_ERR_RENEG_LIMIT = -8,      /* too many renegotiations in the window */
    SP_ERR_TRUNCATED = -9,        /* transport ended during the handshake
                                     (after it, a bare end is the end of
                                     input: sp_pair_truncated()) */
    SP_ERR_CLOSED = -10,          /* the pair is shut down: no more data */
    SP_ERR_MAX_CONNECTIONS = -11, /* sp_pair_new refused: context is full */
    SP_ERR_UNKNOWN_NAME = -12,    /* SNI matched no context and the server
                                     rejects unknown names */
    SP_ERR_INTERNAL = -13,
    SP_ERR_TRANSPORT = -14        /* the host's read or write function
                                     failed (sp_enc_read_from and the
                                     others that call it): the pair has
                                     not failed, never sticky */
} sp_err;

/* A static English name for an sp_err ("renegotiation limit exceeded"). */
const char *sp_strerror(int err);

/* Which input of a loading or configuration call failed. */
typedef enum {
    SP_FIELD_NONE = 0,
    SP_FIELD_KEY,                 /* a private key (file or memory) */
    SP_FIELD_CERT,                /* a certificate chain */
    SP_FIELD_CA,                  /* trusted CAs */
    SP_FIELD_SYSTEM_CA,           /* the system's CA store */
    SP_FIELD_PASSPHRASES,
    SP_FIELD_CIPHERS,
    SP_FIELD_CIPHERSUITES,
    SP_FIELD_VERSIONS,
    SP_FIELD_SESSION_ID_CONTEXT,
    SP_FIELD_NPN,                 /* item: the protocol name, from 1 */
    SP_FIELD_ALPN,                /* item: the protocol name, from 1 */
    SP_FIELD_CONTEXT_NAME,        /* an SNI context's name */
    SP_FIELD_ROLE,                /* the call needs the other role */
    SP_FIELD_RENEG_WINDOW,
    SP_FIELD_SESSION_CACHE,
    SP_FIELD_SESSION_TIMEOUT,
    SP_FIELD_TICKET_KEY,
    SP_FIELD_TRUSTED,             /* CAs trusted but not announced */
    SP_FIELD_CRL,                 /* item: the CRL in its file, from 1 */
    SP_FIELD_VERIFY_DEPTH,
    SP_FIELD_ECDH_CURVE,          /* item: the curve in the list, from 1 */
    SP_FIELD_DHPARAM,
    SP_FIELD_CONF_COMMAND         /* item: the command, from 1 */
} sp_field;

/*
 * The last error of a loading or configuration call, as data, so that a
 * host can say where its configuration named the input that failed
 * without reading the message:
 *
 *   code     the sp_err the call returned (SP_OK: no error yet)
 *   field    which input failed
 *   item     its place, from 1, when the input is a list (the second
 *            protocol name; the first chain certificate after the leaf),
 *            else 0
 *   origin   the file as given, "<memory>" for PEM in memory, or NULL
 *            when the input is a value rather than a file
 *   reason   what is wrong with it ("wrong passphrase (tried 2)")
 *   message  "origin: reason", or the reason alone: what sp_creds_error()
 *            and sp_ctx_error() return
 *
 * Strings are never NULL except origin; all of it stays valid until the
 * next failing call on the same object, or its end.
 */
typedef struct {
    int          code;
    sp_field     field;
    int          item;
    const char  *origin;
    const char  *reason;
    const char  *message;
} sp_error;


/* ---- credentials (Node: crypto.createCredentials) ---------------------- */

/*
 * Set up by one thread, then given to contexts: once they serve one, every
 * sp_creds_set_* and sp_creds_add_* below fails with SP_ERR_INVALID (see
 * "Three kinds of state").
 */
typedef struct sp_creds sp_creds;

typedef enum {
    SP_TLS1 = 0x0301,
    SP_TLS1_1 = 0x0302,
    SP_TLS1_2 = 0x0303,
    SP_TLS1_3 = 0x0304
} sp_tls_version;

/* New empty credentials with one reference.  NULL only when out of memory. */
sp_creds *sp_creds_new(void);
sp_creds *sp_creds_ref(sp_creds *creds);
void sp_creds_unref(sp_creds *creds);

/*
 * New credentials with the settings of `model` and none of its keys: its
 * CAs, cipher lists, versions, verification policy, session id context
 * and passphrases.  For a host that loads a certificate per name at
 * handshake time (Node's SNICallback) with settings checked once: add
 * the name's key and certificate, then wipe the passphrases.  NULL when
 * out of memory.
 */
sp_creds *sp_creds_new_like(const sp_creds *model);

/*
 * The last load error: "server.key: wrong passphrase", "a.pem: key does not
 * match certificate", "weak.crt: RSA key of 1024 bits is too small for
 * OpenSSL security level 2 (needs 112 bits of security, e.g. RSA 2048 ...)".  Never NULL; "" when none.
 */
const char *sp_creds_error(const sp_creds *creds);
const sp_error *sp_creds_error_info(const sp_creds *creds);

/*
 * Passphrases for encrypted keys, tried in order (Node: passphrase).  The
 * list is copied.  Must be set before the keys it unlocks are added.  An
 * encrypted key with no passphrase fails to load: there is never a prompt.
 */
int sp_creds_set_passphrases(sp_creds *creds, const char *const *list,
    size_t n);

/*
 * Overwrites the passphrases with zeros and forgets them.  Call it once
 * the keys they unlock are added, so that no copy outlives its use (the
 * credentials would keep them until freed, and a server process for its
 * lifetime); a key added later needs them set again.  Allowed once the
 * credentials serve a context and refuse every other change: it changes
 * no configuration.
 */
void sp_creds_wipe_passphrases(sp_creds *creds);

/*
 * Add a private key and its certificate chain (leaf first, then
 * intermediates), from PEM files or from PEM in memory.  Call once per key
 * type: an RSA and an ECDSA pair may live on the same credentials and
 * OpenSSL picks by what the peer supports.  Errors name the file (or
 * "<memory>") and the reason: missing file, no key/certificate in it, wrong
 * or missing passphrase, key does not match certificate, key too small for
 * the security level.
 */
int sp_creds_add_key_cert_file(sp_creds *creds, const char *key_file,
    const char *cert_file);
int sp_creds_add_key_cert_mem(sp_creds *creds, const void *key_pem,
    size_t key_len, const void *cert_pem, size_t cert_len);

/*
 * Trusted CAs for verifying the peer (Node: ca).  Each call adds every
 * certificate of a PEM file or buffer.  Without any ca, OpenSSL's default
 * store (the system's) is used.
 */
int sp_creds_add_ca_file(sp_creds *creds, const char *file);
int sp_creds_add_ca_mem(sp_creds *creds, const void *pem, size_t len);

/*
 * CAs that verify the peer like those of sp_creds_add_ca_*, but whose
 * names a server does not send in its CertificateRequest (nginx's
 * ssl_trusted_certificate; Node has no such option): the announced list
 * stays short, or says nothing of an intermediate.  Either kind replaces
 * the system's store.
 */
int sp_creds_add_trusted_file(sp_creds *creds, const char *file);

/*
 * Certificate revocation lists, PEM, one or more per call (Node: crl).
 * With any, every certificate of the peer's chain is checked against its
 * issuer's CRL, and the verdict is Node's: CERT_REVOKED, CRL_HAS_EXPIRED,
 * CRL_NOT_YET_VALID, UNABLE_TO_GET_CRL (an issuer with no CRL),
 * CRL_SIGNATURE_FAILURE.  Add the CAs first (ca or trusted): a CRL with
 * none to check is SP_ERR_INVALID, as the system's store is not changed.
 */
int sp_creds_add_crl_file(sp_creds *creds, const char *file);

/*
 * The longest chain verified, as SSL_CTX_set_verify_depth(): the peer's
 * certificate, at most `depth` intermediates, then the trust anchor.
 * OpenSSL stops building a longer chain at the limit, so, verification
 * going on to its end as in Node, the verdict is its last error,
 * UNABLE_TO_GET_ISSUER_CERT_LOCALLY.  -1 (the default, as in Node, which
 * never sets it) is OpenSSL's limit, 100.  Credentials chosen by SNI use
 * their own.
 */
int sp_creds_set_verify_depth(sp_creds *creds, int depth);

/*
 * Handshake parameters (Node's ecdhCurve, dhparam, honorCipherOrder) and
 * OpenSSL's SSL_CONF commands (nginx's ssl_conf_command), each checked
 * when set: a bad one fails here with its field, never at a handshake.
 *
 *   ecdh_curve     "auto" (the default: OpenSSL's list) or a colon list
 *                  of groups, most preferred first ("X25519:prime256v1");
 *                  an unknown name is said with its place (item).
 *   dhparam        DH parameters (PEM "DH PARAMETERS") for DHE cipher
 *                  suites of TLS <= 1.2, which are off without them, as
 *                  in Node; parameters weaker than OpenSSL's security
 *                  level asks (1024 bits at level 2) are SP_ERR_LOAD.
 *   honor_cipher_order  the server's cipher order decides (default off,
 *                  the client's decides).
 *   conf_command   one SSL_CONF command ("Options", "-SessionTicket";
 *                  "Ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"),
 *                  applied after every other setting, in the order
 *                  added; an unknown command or a value OpenSSL refuses
 *                  is SP_ERR_INVALID naming it (item: its place).
 *
 * Credentials chosen by SNI apply their own; curves and DH parameters
 * they leave unset stay the default credentials'.
 */
int sp_creds_set_ecdh_curve(sp_creds *creds, const char *curves);
int sp_creds_set_dhparam_file(sp_creds *creds, const char *file);
int sp_creds_set_dhparam_mem(sp_creds *creds, const void *pem, size_t len);
int sp_creds_set_honor_cipher_order(sp_creds *creds, int on);
int sp_creds_add_conf_command(sp_creds *creds, const char *name,
    const char *value);

/* OpenSSL cipher list for TLS <= 1.2 and TLS 1.3 suites (Node: ciphers). */
int sp_creds_set_ciphers(sp_creds *creds, const char *list);
int sp_creds_set_ciphersuites(sp_creds *creds, const char *suites);

/* Protocol version range, inclusive; 0 leaves a bound at OpenSSL's. */
int sp_creds_set_versions(sp_creds *creds, int min_version, int max_version);

/*
 * Server session-id context, at most 32 bytes (Node: sessionIdContext):
 * sessions resume only where it is the same.  It is mixed with a digest
 * of the certificates, CAs and verification policy, so contexts that
 * would judge a client differently never share sessions.  Set it before
 * the credentials serve a context.
 */
int sp_creds_set_session_id_context(sp_creds *creds, const void *sid,
    size_t len);

/*
 * Per-credentials verification policy, used when these credentials are
 * selected for a connection through SNI; -1 (the default) inherits the
 * context's setting.  With own CAs and policy, a client verified under
 * one SNI context is never judged by another context's CAs.
 */
int sp_creds_set_request_cert(sp_creds *creds, int on);
int sp_creds_set_reject_unauthorized(sp_creds *creds, int on);


/* ---- contexts (Node: tls.createServer / tls.connect options) ----------- */

/*
 * Three kinds of state:
 *   sp_ctx     the configuration: credentials, SNI table, protocol lists,
 *              limits.  Set up by one thread; frozen when its first pair
 *              is made: from then on every sp_ctx_set_* and sp_ctx_add_*
 *              call fails with SP_ERR_INVALID and says so in
 *              sp_ctx_error(), and any number of threads may make and
 *              drive pairs from it without a lock (its reference count is
 *              atomic).
 *              Credentials freeze the same way, as soon as they serve a
 *              context (given to sp_ctx_new() or sp_ctx_add_context(), or
 *              returned by an SNI callback): from then on every
 *              sp_creds_set_* and sp_creds_add_* call on them fails with
 *              SP_ERR_INVALID and says so in sp_creds_error().  Only
 *              sp_creds_wipe_passphrases() stays allowed: it forgets
 *              secrets and changes no configuration.
 *   sp_worker  what changes as pairs come and go: the count of live pairs
 *              (and max_connections), and the buffers pairs give back for
 *              the next ones.  Owned by the host, one per thread (an nginx
 *              worker process has one); never locked, so never shared.
 *   sp_pair    one connection, driven by one thread at a time.
 * The context's callbacks (SNI, clock, session store) run on the thread
 * that drives the pair, so with several threads they must be safe to
 * call from each.
 */
typedef struct sp_ctx sp_ctx;

typedef enum {
    SP_SERVER = 0,
    SP_CLIENT = 1
} sp_role;

/* Returns the host's current time in seconds (any monotonic origin). */
typedef time_t (*sp_clock_fn)(void *arg);

/*
 * The SNI callback (Node: SNICallback), asked before the SNI table, from
 * inside the sp_enc_in() call that brought the ClientHello.  `pair` is the
 * connection asking (sp_pair_get_data() gives the host's own object for
 * it).  Return credentials to use for `servername` (the pair takes its own
 * reference before the callback's caller returns), or NULL to fall through
 * to the table.  It must not block: a callback that will answer later
 * (Node's asynchronous SNICallback) returns SP_SNI_WAIT and answers with
 * sp_pair_answer_creds() (see "Waiting for the host").
 */
struct sp_pair;
typedef sp_creds *(*sp_sni_fn)(struct sp_pair *pair, const char *servername,
    void *arg);

#define SP_SNI_WAIT  ((sp_creds *) 1)

/*
 * A context of the given role using `creds` as its default credentials
 * (takes a reference; a client may pass credentials with no key).  NULL when
 * creds is NULL, out of memory, or when the credentials cannot serve (no
 * system CA store to trust, a certificate OpenSSL refuses): then
 * sp_creds_error_info(creds) says why.  A fault in the configuration
 * fails here, never later on every handshake.
 */
sp_ctx *sp_ctx_new(sp_role role, sp_creds *creds);
sp_ctx *sp_ctx_ref(sp_ctx *ctx);
void sp_ctx_unref(sp_ctx *ctx);

/*
 * The last configuration error: the message, and the same as data (see
 * sp_error).  A call that fails because of credentials given to it
 * (sp_ctx_add_context) copies their error here.
 */
const char *sp_ctx_error(const sp_ctx *ctx);
const sp_error *sp_ctx_error_info(const sp_ctx *ctx);

/*
 * Server: ask the client for a certificate (Node: requestCert, default off).
 * Server and client: whether an unauthorized peer ends the pair (Node:
 * rejectUnauthorized; default off on a server, on for a client).  On a
 * server it only matters with request_cert; a client with it on and no
 * certificate also ends the handshake.
 */
int sp_ctx_set_request_cert(sp_ctx *ctx, int on);
int sp_ctx_set_reject_unauthorized(sp_ctx *ctx, int on);

/*
 * NPN and ALPN protocol lists, most preferred first; each name 1..255 bytes.
 * Server: NPN is advertised in this order; ALPN picks the first of this list
 * that the client offers, and a client offering ALPN with no overlap gets a
 * fatal no_application_protocol alert.  Client: offered in this order.
 * n == 0 clears the list.  A client context that once had an NPN list
 * (or shares credentials with one that has) still answers a server's NPN
 * offer: as Node v0.8 it names "http/1.1" and reports no protocol.
 */
int sp_ctx_set_npn(sp_ctx *ctx, const char *const *names, size_t n);
int sp_ctx_set_alpn(sp_ctx *ctx, const char *const *names, size_t n);

/*
 * Server: add an SNI context (Node: server.addContext).  `name` is one of
 *   a.example.com          exact
 *   *.example.com          leading wildcard: one or more labels in front
 *   www.example.*          trailing wildcard: one or more labels behind
 *   ~^(api|www)\.ex\.net$  PCRE2 regex, matched case-insensitively
 * Names are case-insensitive.  The selected credentials' own versions,
 * ciphers, TLS 1.3 suites, CA and policy apply: the choice is made from
 * the ClientHello, before OpenSSL picks any of them.  A name is tried by
 * precedence: exact, the
 * longest leading wildcard, the longest trailing wildcard, then regexes in
 * the order added.  Invalid names ("", "*", "foo*bar", "a.*.com", a bad
 * regex) and a name added twice are SP_ERR_INVALID with a message;
 * credentials that cannot serve (see sp_ctx_new) fail with their error,
 * copied to the context's, and are not added.
 * A context is no SSL_CTX of its own: the chosen credentials are put on
 * the connection, and credentials loaded from the same bytes share one
 * parsed copy of their keys, certificates and CAs.
 */
int sp_ctx_add_context(sp_ctx *ctx, const char *name, sp_creds *creds);

/*
 * Credentials this context already serves under some name that are equal
 * in content to `creds` (the same keys and certificates, CAs, ciphers,
 * versions, policy and session id context, loaded from the same bytes),
 * or NULL; borrowed.  A host that makes credentials per name adds these
 * instead, so that names on the same files share one credentials.
 * Credentials must not change once added.
 */
sp_creds *sp_ctx_find_same_creds(sp_ctx *ctx, sp_creds *creds);

/* Credentials the table gives for a servername, or NULL (borrowed). */
sp_creds *sp_ctx_find_context(sp_ctx *ctx, const char *servername);

int sp_ctx_set_sni_callback(sp_ctx *ctx, sp_sni_fn fn, void *arg);

/*
 * Key logging (Node's 'keylog' event): `fn` gets every secret of every
 * handshake of this context's pairs, as it is derived, one line of the
 * NSS key log format ("CLIENT_RANDOM <hex> <hex>" for TLS <= 1.2, five
 * labelled secrets for TLS 1.3) of `len` bytes without its newline;
 * tools such as Wireshark decrypt a capture with them.  Called from
 * inside the call that drives the handshake; it must not block.  NULL
 * turns it off (the default).  Anyone holding the lines can read the
 * traffic: for debugging only.
 */
typedef void (*sp_keylog_fn)(struct sp_pair *pair, const char *line,
    size_t len, void *arg);

int sp_ctx_set_keylog(sp_ctx *ctx, sp_keylog_fn fn, void *arg);

/*
 * Server, only from inside the SNI callback (or while the pair waits for
 * the answer of one that returned SP_SNI_WAIT): move the pair to another
 * server context, as a host with virtual servers (nginx's server_name)
 * serves a name by a whole other configuration.  The pair takes a
 * reference to `ctx` and freezes it.  From then on, as if the pair had
 * been made there:
 *   follows:  the default credentials (certificates, CA, ciphers,
 *             versions), request_cert and reject_unauthorized, NPN and
 *             ALPN, the renegotiation limit, reject_unknown_name and the
 *             SNI table (asked after the callback returns, unless it
 *             returns credentials itself, which then go on top), the
 *             session cache and store, tickets on or off, the ticket
 *             count and keys, the clear queue limit, the clock;
 *   stays:    the pair's count in its worker (max_connections was
 *             checked, and the pair is counted, in the context it was
 *             made in, until it is freed), the lifetime of the new
 *             session (OpenSSL takes it from the SSL_CTX the pair was
 *             made with, as nginx's does for a virtual server), and the
 *             callback asked: `ctx`'s own SNI callback is not called.
 * Sessions: the session-id context becomes the new credentials' and
 * policy's, and OpenSSL resumes a session (by id or ticket) only into the
 * same one; a session made under another context resumes only where
 * both have the same certificates, CAs, policy and
 * sp_creds_set_session_id_context() (and the store or ticket keys that
 * find it): give each context its own session id context to keep their
 * sessions apart entirely.  SP_OK (also when `ctx` is the pair's
 * already); SP_ERR_INVALID outside the callback (and its wait), for
 * another role, a NULL argument or a failed pair; SP_ERR_INTERNAL when
 * OpenSSL refused the credentials (the pair stays where it was).
 */
int sp_pair_use_ctx(struct sp_pair *pair, sp_ctx *ctx);

/* Server: unknown or absent SNI gets a fatal unrecognized_name alert. */
int sp_ctx_set_reject_unknown_name(sp_ctx *ctx, int on);

/*
 * Server: client-initiated renegotiations allowed per window (Node:
 * CLIENT_RENEG_LIMIT 3, CLIENT_RENEG_WINDOW 600 s).  Limit 0 refuses every
 * renegotiation.  Only TLS <= 1.2 renegotiates.  Every renegotiation
 * hello counts, those OpenSSL refuses by itself too (under limit 0, or
 * from a client without secure renegotiation, answered with a warning
 * no_renegotiation alert); the one past the limit fails the pair with
 * SP_ERR_RENEG_LIMIT, so under limit 0 the first one does.
 */
int sp_ctx_set_reneg_limit(sp_ctx *ctx, unsigned limit, time_t window);

/*
 * The host's clock, read when a renegotiation starts and for the expiry of
 * sessions given to a session store.  Without one the pair uses the last
 * time given to sp_pair_set_time() (0 at first) for renegotiations, and
 * sessions expire in wall-clock time.
 */
int sp_ctx_set_clock(sp_ctx *ctx, sp_clock_fn fn, void *arg);

/*
 * Node: server.maxConnections; 0 = unlimited (default).  The limit holds
 * in each worker (sp_worker): live pairs of this context made with one
 * worker object.  An nginx worker process has one, so it is the limit
 * per process, as nginx's own worker_connections is.
 */
int sp_ctx_set_max_connections(sp_ctx *ctx, unsigned max);

/*
 * Pairs of this context alive now in the default worker (Node:
 * server.connections); sp_worker_connections() counts another worker's.
 */
unsigned sp_ctx_connections(const sp_ctx *ctx);

/*
 * Bytes of cleartext a pair queues before its handshake completes
 * (default 65536).  Beyond it sp_clear_write() accepts less.
 */
int sp_ctx_set_clear_queue_limit(sp_ctx *ctx, size_t bytes);


/* ---- sessions (Node: sessionIdContext, getSession, {session}) ---------- */

/*
 * Server session cache by session id.  The host keeps the sessions (an
 * nginx shared memory zone, a hash, anything): serialized bytes under an
 * id, with an expiry in the host's time.  add() may fail or evict; a
 * handshake never fails because of the cache.  find() copies the session
 * into buf (room for *len bytes), sets *len and returns 0, or returns -1.
 *
 * A store whose lookups answer later (Node's resumeSession: Redis,
 * memcached) gives find_async() and the mode SP_SESSION_CACHE_ASYNC
 * (find() is then never called and may be NULL).  find_async(arg, pair,
 * id, id_len) starts the lookup and returns 0: the pair waits, and the
 * host calls sp_pair_answer_session() later, or even from inside
 * find_async(); or -1: not found now, a full handshake follows.  `id` is
 * the pair's, valid until the answer.  The mode, not the field, says
 * whether find_async is read: a host that fills in the three other
 * fields and leaves it unset keeps working.  New sessions still go to
 * add(), which never waits (Node's newSession).
 */
typedef struct {
    int    (*add)(void *arg, const uint8_t *id, size_t id_len,
                  const uint8_t *session, size_t len, time_t expires);
    int    (*find)(void *arg, const uint8_t *id, size_t id_len,
                   uint8_t *buf, size_t *len);
    void    *arg;
    int    (*find_async)(void *arg, struct sp_pair *pair, const uint8_t *id,
                         size_t id_len);
} sp_session_store;

#define SP_SESSION_CACHE_OFF    0   /* no session ids are resumed */
#define SP_SESSION_CACHE_NONE   1   /* the same, said politely (default) */
#define SP_SESSION_CACHE_STORE  2   /* resumed through the host's store */
#define SP_SESSION_CACHE_ASYNC  3   /* the same, asked with find_async() */

int sp_ctx_set_session_cache(sp_ctx *ctx, int mode,
    const sp_session_store *store);

/*
 * When a stored session ends: the time it was made plus its lifetime, as
 * the session itself says (in the wall clock's seconds, which OpenSSL
 * stamps it with).  For a host that copies a session from one store to
 * another, a second level filling the first: the copy lasts as long as
 * the session, which no pair resumes after that anyway.  SP_OK, or
 * SP_ERR_INVALID when the bytes are not one session.
 */
int sp_session_expires(const uint8_t *session, size_t len, time_t *expires);

/* Lifetime of new sessions and tickets (default 300 s). */
int sp_ctx_set_session_timeout(sp_ctx *ctx, time_t seconds);

/*
 * Session tickets (default on) and how many a TLS 1.3 server sends after
 * each handshake (default 1, OpenSSL's is 2; 0 sends none).  With tickets off and a store,
 * TLS 1.3 still sends that many, each naming a session in the store.
 */
int sp_ctx_set_session_tickets(sp_ctx *ctx, int on);
int sp_ctx_set_ticket_count(sp_ctx *ctx, unsigned n);

/*
 * Ticket keys, in the format of nginx's ssl_session_ticket_key so fleets
 * can share them: 48 bytes (AES-128) or 80 bytes (AES-256).  The first
 * key added encrypts, every key decrypts: add the new key first and keep
 * the old one second to rotate without breaking resumption.  Until the
 * host adds one, a context uses a random key of its own.
 */
int sp_ctx_add_ticket_key(sp_ctx *ctx, const void *key, size_t len);
int sp_ctx_add_ticket_key_file(sp_ctx *ctx, const char *file);


/* ---- pairs (Node: tls.createSecurePair) -------------------------------- */

typedef struct sp_pair sp_pair;

/*
 * sp_pair_state() bits, derived afresh on every call.  SP_STATE_CLOSED
 * excludes every other bit and is set only once nothing remains to send:
 * a failed pair shows SP_STATE_SEND_RECORDS alone until its alert is out.
 */
#define SP_STATE_HANDSHAKING  0x01  /* the (first) handshake is running */
#define SP_STATE_SECURE       0x02  /* the handshake completed */
#define SP_STATE_SEND_RECORDS 0x04  /* sp_enc_out_* has bytes to send */
#define SP_STATE_RECV_RECORDS 0x08  /* the pair wants encrypted input;
                                       clear while 128 KiB or more of
                                       records wait to be sent */
#define SP_STATE_CLEAR_READ   0x10  /* sp_clear_read() has bytes now */
#define SP_STATE_CLEAR_WRITE  0x20  /* sp_clear_write() accepts bytes */
#define SP_STATE_CLOSED       0x40  /* done: failed, or closed both ways,
                                       and every record sent */
#define SP_STATE_WAITING      0x80  /* waits for the host's answer
                                       (sp_pair_waiting) */

/* sp_pair_events() bits: what happened since the previous call. */
#define SP_EVENT_SECURE       0x01  /* handshake done (Node 'secure') */
#define SP_EVENT_ERROR        0x02  /* the pair failed (Node 'error') */
#define SP_EVENT_END          0x04  /* the end of the peer's data (Node
                                       'end'): close_notify, or a bare
                                       transport end once secure */
#define SP_EVENT_RENEGOTIATED 0x08  /* a renegotiation completed */
#define SP_EVENT_TRUNCATED    0x10  /* with SP_EVENT_END: it came without
                                       close_notify (sp_pair_truncated) */
#define SP_EVENT_WAITING      0x20  /* it began waiting for the host */

/*
 * A new pair.  A server pair waits for a ClientHello; a client pair has its
 * ClientHello ready in sp_enc_out_* at once.  `servername` (client only, may
 * be NULL) is sent as SNI and, unless NULL, checked against the server's
 * certificate.  NULL on failure with *err set (SP_ERR_MAX_CONNECTIONS when
 * the context is full in the worker, SP_ERR_NOMEM).  Counts in
 * sp_worker_connections() until sp_pair_free().  The first pair freezes
 * the context.
 */
sp_pair *sp_pair_new(sp_ctx *ctx, const char *servername, int *err);
void sp_pair_free(sp_pair *pair);

/*
 * A worker object: the per-thread state of the pairs made with it (see
 * "Three kinds of state" above).  sp_pair_new() and
 * sp_pair_new_with_session() use a process-wide default worker, so a host
 * that drives every pair from one thread never needs one; that default is
 * not locked, so a host with several threads gives each its own and makes
 * its pairs with sp_pair_new_in().  (A default owned by the context would
 * make the context change with traffic, and need a lock to share.)  A
 * pair uses its worker until sp_pair_free(): a worker freed before its
 * last pair goes with that pair.  NULL for a worker means the default.
 */
typedef struct sp_worker sp_worker;

sp_worker *sp_worker_new(void);
void sp_worker_free(sp_worker *worker);

/* Live pairs of ctx made with this worker; of every context when NULL. */
unsigned sp_worker_connections(const sp_worker *worker, const sp_ctx *ctx);

sp_pair *sp_pair_new_in(sp_ctx *ctx, sp_worker *worker,
    const char *servername, int *err);

/* Whether the context has made a pair, and so no longer changes. */
int sp_ctx_frozen(const sp_ctx *ctx);

/*
 * A client pair that offers a session exported by sp_pair_get_session()
 * (Node: tls.connect({session})).  sp_pair_session_reused() tells, after
 * the handshake, whether the server took it.  SP_ERR_INVALID when the
 * bytes are not a session.
 */
sp_pair *sp_pair_new_with_session(sp_ctx *ctx, const char *servername,
    const uint8_t *session, size_t len, int *err);
sp_pair *sp_pair_new_with_session_in(sp_ctx *ctx, sp_worker *worker,
    const char *servername, const uint8_t *session, size_t len, int *err);

/*
 * The pair's session, serialized (Node: getSession()), once secure: its
 * size, written into buf when len is enough (call with NULL to learn the
 * size).  SP_ERR_AGAIN when there is no resumable session yet (a TLS 1.3
 * client gets one with the server's first ticket, after the handshake).
 */
ssize_t sp_pair_get_session(const sp_pair *pair, uint8_t *buf, size_t len);

/* The session id (raw bytes; *len 0 and NULL when none). */
const uint8_t *sp_pair_session_id(const sp_pair *pair, size_t *len);

unsigned sp_pair_state(const sp_pair *pair);
unsigned sp_pair_events(sp_pair *pair);   /* returns and clears */

/*
 * Waiting for the host (server).  During the handshake a pair may stop
 * and ask the host, which answers later from its own event loop: "which
 * credentials for this name" (an SNI callback that returned SP_SNI_WAIT)
 * and "find this session" (a store in SP_SESSION_CACHE_ASYNC mode).  It
 * rests on OpenSSL's ClientHello callback returning "retry": no thread,
 * no blocking call.  In one handshake it asks for credentials first,
 * then for the session: the credentials (and a context the callback
 * moves the pair to) decide the session id context and which store is
 * asked.  Only the first ClientHello waits: the second of a TLS 1.3
 * HelloRetryRequest keeps the first's answers; a TLS 1.2 renegotiation
 * looks up no session (its handshake is full) and keeps its credentials.
 *
 * The session asked for is the one OpenSSL would look up: TLS 1.2's
 * legacy session id, unless a ticket the client offers decides instead;
 * with TLS 1.3, the pre_shared_key's first identity, when it names a
 * session in the store (tickets off: see sp_ctx_set_session_tickets).
 *
 * While it waits, SP_STATE_WAITING is set with SP_STATE_HANDSHAKING, and
 * SP_EVENT_WAITING tells it began.  Nothing is sent, and bytes that
 * arrive are taken as usual (SP_STATE_RECV_RECORDS as usual, up to the
 * usual input room) and read once the answer came; the transport's end
 * fails the pair as during any handshake (SP_ERR_TRUNCATED).  A failed
 * pair waits no more.
 *
 * An answer completes nothing by itself: it is kept, and the host then
 * drives the pair (sp_pair_drive(), or its next sp_enc_in*() or
 * sp_enc_read_from()), which goes on with the handshake.  An answer
 * inside the callback or find_async() that asked goes on at once.  The
 * pair keeps no pointer into the host's memory after the answer: the
 * session is copied, the credentials referenced.  A host that gives up
 * (a timeout) answers "not found": a full handshake follows, or the
 * table decides the credentials.  The host owns the pair: it cancels its
 * lookup before sp_pair_free(), which frees whatever the pair waited
 * for; no answer can come after.
 */
typedef enum {
    SP_WAIT_NONE = 0,
    SP_WAIT_SESSION,
    SP_WAIT_CREDS
} sp_wait;

/*
 * What the pair waits for, and its key in *key, *len: the session id
 * (SP_WAIT_SESSION) or the server name (SP_WAIT_CREDS, the name the SNI
 * callback got, without its NUL), the pair's own, valid until the
 * answer.  SP_WAIT_NONE (*key NULL, *len 0) when it waits for nothing.
 */
sp_wait sp_pair_waiting(const sp_pair *pair, const uint8_t **key,
    size_t *len);

/* Driving the pair: the pump every call runs, after an answer. */
int sp_pair_drive(sp_pair *pair);

/*
 * The answer to a session lookup (Node's resumeSession callback): the
 * serialized session, as add() was given it (copied; NULL or len 0: not
 * found, a full handshake follows; bytes that are not a session of that
 * id count as not found).  SP_OK; SP_ERR_INVALID when the pair does not
 * wait for a session (also an answer given twice); the sticky error on a
 * failed pair, the answer dropped.
 */
int sp_pair_answer_session(sp_pair *pair, const uint8_t *session,
    size_t len);

/*
 * The answer of an SNI callback that returned SP_SNI_WAIT: credentials
 * (the pair takes a reference; they freeze as when the callback returns
 * them) or NULL (the context's table decides, as when the callback
 * returns NULL).  Until it answers, the host may still move the pair to
 * another context (sp_pair_use_ctx).  SP_OK; SP_ERR_INVALID when the
 * pair does not wait for credentials (also an answer given twice); the
 * sticky error on a failed pair, the answer dropped.
 */
int sp_pair_answer_creds(sp_pair *pair, sp_creds *creds);

/*
 * 1 when the peer's data ended, after the handshake, with the transport's
 * end and no close_notify, while ours was not sent: the peer may have been
 * cut off (or just closed its TCP write side, as many clients do).  The
 * pair has not failed: sp_clear_read() returned 0 and writes go on.
 */
int sp_pair_truncated(const sp_pair *pair);

/* Sticky error: 0 or an sp_err; the message is never NULL. */
int sp_pair_error(const sp_pair *pair);
const char *sp_pair_error_message(const sp_pair *pair);

/*
 * Alerts involved in the failure, as TLS alert numbers (-1 when none):
 * what we sent and what the peer sent.
 */
int sp_pair_alert_sent(const sp_pair *pair);
int sp_pair_alert_received(const sp_pair *pair);

/* The host's time, for renegotiation windows when the context has no
   clock. */
void sp_pair_set_time(sp_pair *pair, time_t now);

/* Opaque host pointer, kept but never used by the pair. */
void sp_pair_set_data(sp_pair *pair, void *data);
void *sp_pair_get_data(const sp_pair *pair);

/*
 * Encrypted in, zero-copy: sp_enc_in_buf() gives space to receive records
 * into (*len > 0 bytes; NULL with *len 0 when the pair cannot take input:
 * read cleartext first, or the pair is closed, or 128 KiB or more of
 * records wait in sp_enc_out_*: the host sends them first, then offers
 * input again); after writing n <= *len
 * bytes there, sp_enc_in_commit() hands them to TLS and runs the engine.
 * Records in may make records out (answers to renegotiation hellos and
 * key updates, alerts): so a peer that sends and never reads cannot make
 * the pair hold more than that mark and what one receive's records make.
 * Returns SP_OK or the sticky error.  Commit 0 when the transport had
 * nothing: an empty buffer is then released, so idle pairs hold none.
 * Offer all the room to one receive: it starts at 16 KiB and doubles, up
 * to 128 KiB, each time a commit fills it.
 *
 * sp_enc_in() copies from the host's buffer instead, returning how many
 * bytes it took (0 when full) or a negative sp_err.
 *
 * sp_enc_in_eof() says the transport has no more bytes.  During the
 * handshake that is SP_ERR_TRUNCATED.  Once secure it is the end of the
 * peer's data, clean after its close_notify, otherwise marked by
 * sp_pair_truncated() (a half-closed TCP connection): sp_clear_read()
 * gives what was decrypted, then 0, and sp_clear_write() still works
 * until the host ends the pair.
 */
uint8_t *sp_enc_in_buf(sp_pair *pair, size_t *len);
int sp_enc_in_commit(sp_pair *pair, size_t n);
ssize_t sp_enc_in(sp_pair *pair, const void *data, size_t len);
int sp_enc_in_eof(sp_pair *pair);

/*
 * Encrypted out, zero-copy: records wait in a queue of blocks, about one
 * record each.  sp_enc_out_buf() points at the first block's bytes (*len
 * bytes, NULL with *len 0 when none); sp_enc_out_iov() fills up to n
 * iovecs with the first blocks, for one writev() of several records, and
 * returns how many it filled.  sp_enc_out_consume() drops the n bytes
 * that were sent, from the front, across blocks (at most
 * sp_enc_out_pending(), which is all bytes waiting).  sp_enc_out() copies
 * up to len bytes out and consumes them.  Works on a failed pair too: the
 * alert must go out.
 */
const uint8_t *sp_enc_out_buf(sp_pair *pair, size_t *len);
size_t sp_enc_out_iov(sp_pair *pair, struct iovec *iov, size_t n);
void sp_enc_out_consume(sp_pair *pair, size_t n);
size_t sp_enc_out(sp_pair *pair, void *buf, size_t len);
size_t sp_enc_out_pending(const sp_pair *pair);

/*
 * The encrypted side through the host's own I/O, with no copy (rustls's
 * read_tls and write_tls): records are read from the transport straight
 * into OpenSSL's record buffer, and written to it straight from OpenSSL's
 * write buffer.  The host passes its functions with each call:
 *
 *   sp_read_fn   reads up to len bytes into buf: returns how many (> 0),
 *                0 at the transport's end, SP_ERR_AGAIN when nothing can
 *                be read now, any other negative value when it failed.
 *   sp_write_fn  writes the bytes of iov[0..iovcnt): returns how many it
 *                took (> 0, maybe fewer than all), SP_ERR_AGAIN (or 0)
 *                when it can take none now, any other negative value
 *                when it failed.
 *
 * The contract: the pair calls them only inside the call that passed
 * them, never keeps them (nor the buffers it passes, which are OpenSSL's
 * and the pair's own), and expects them never to block.  One call reads
 * once (again only when a read filled all the room offered); writes go on
 * until all is written or a write takes less than it was given.  A failed
 * function is the host's business: the call returns SP_ERR_TRANSPORT, the
 * pair does not fail, and what could not be written waits in sp_enc_out_*.
 * These calls and the buffer calls above may be mixed on one pair: bytes
 * given through sp_enc_in_* are read first, records waiting in
 * sp_enc_out_* are written first.  The flow control is the same: the pair
 * reads nothing while SP_STATE_RECV_RECORDS is clear.
 *
 * sp_enc_read_from() reads records and runs the engine, like
 * sp_enc_in_commit(), or like sp_enc_in_eof() when the function says the
 * transport ended.  Returns the bytes read (> 0), 0 at the transport's end
 * (also on later calls), SP_ERR_AGAIN when the function had nothing or the
 * pair takes no input now, SP_ERR_TRANSPORT, or the sticky error (then
 * records, an alert, may still wait to be sent).  OpenSSL's buffer grows
 * from one record's size as for sp_enc_in_buf(), and goes back to the heap
 * whenever OpenSSL has read all of it.
 *
 * sp_enc_write_to() writes the records that wait in sp_enc_out_*: returns
 * the bytes written (sp_enc_out_pending() says whether any remain), 0 when
 * none waited, SP_ERR_AGAIN or SP_ERR_TRANSPORT when the function took
 * none.  Works on a failed pair too: the alert must go out.
 *
 * sp_clear_write_to() is sp_clear_write() whose records go straight to
 * the function, one record per write, the first with any that wait.
 * Records the pump makes on its own (handshake flights, alerts, answers
 * to the peer, close_notify) still wait in sp_enc_out_*.  Returns how
 * many bytes were taken, or what sp_clear_write() returns.  When a write
 * takes part of a record or none, the rest waits in sp_enc_out_* and the
 * call takes no more: the bytes taken are in records all the same, and
 * what waits is bounded as for sp_clear_write() (64 KiB).  A host that
 * knows its transport is full sends what waits first (sp_enc_write_to).
 */
typedef ssize_t (*sp_read_fn)(void *arg, void *buf, size_t len);
typedef ssize_t (*sp_write_fn)(void *arg, const struct iovec *iov,
    int iovcnt);

ssize_t sp_enc_read_from(sp_pair *pair, sp_read_fn read, void *arg);
ssize_t sp_enc_write_to(sp_pair *pair, sp_write_fn write, void *arg);
ssize_t sp_clear_write_to(sp_pair *pair, const void *data, size_t len,
    sp_write_fn write, void *arg);

/*
 * Cleartext out: decrypt into the host's buffer.  Returns bytes (> 0), 0 at
 * the end of the peer's data (close_notify received, or the transport's
 * end after the handshake: see sp_pair_truncated()), SP_ERR_AGAIN when
 * more records are needed, or the sticky error.  sp_clear_pending() is how many decrypted
 * bytes are ready without more input.
 */
ssize_t sp_clear_read(sp_pair *pair, void *buf, size_t len);
size_t sp_clear_pending(const sp_pair *pair);

/*
 * Cleartext in: encrypt.  Returns how many bytes were taken (all of them,
 * or fewer when sp_enc_out_* must be drained first: SP_ERR_AGAIN if none),
 * or an error.  Before the handshake completes bytes are queued and sent
 * when it does.
 */
ssize_t sp_clear_write(sp_pair *pair, const void *data, size_t len);
size_t sp_clear_queued(const sp_pair *pair);

/*
 * Send close_notify (queued cleartext is flushed first).  The records
 * appear in sp_enc_out_*.  Returns SP_OK, or the sticky error.  Further
 * writes fail with SP_ERR_CLOSED; reads continue until the peer's own
 * close_notify.
 */
int sp_pair_shutdown(sp_pair *pair);

/*
 * TLS <= 1.2 only, after the handshake.  Server: ask the client to
 * renegotiate (HelloRequest; not counted against the limit).  Client:
 * start a renegotiation (a new ClientHello), which the server counts.
 * The records appear in sp_enc_out_*; SP_EVENT_RENEGOTIATED tells when it
 * completed.
 */
int sp_pair_renegotiate(sp_pair *pair);


/* ---- negotiated facts (Node: CleartextStream) -------------------------- */

/*
 * authorized: the peer's certificate verified against the CAs (and, for a
 * client with a servername, matched it).  authorization_error is Node's
 * name for the verify result (OpenSSL's X509_V_ERR_* without the prefix:
 * "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_HAS_EXPIRED", ...; as Node, a server
 * that requested a certificate and got none says "UNABLE_TO_GET_ISSUER_CERT")
 * or NULL when authorized or not checked; authorization_reason says it in
 * words.  A server that did not request a certificate is never authorized
 * and reports no error, as in Node.
 *
 * These facts are there after a failed handshake too, as far as it got,
 * for the host's log: the verdict that refused the peer under
 * reject_unauthorized (SP_ERR_UNAUTHORIZED), the servername once the
 * ClientHello arrived, protocol and cipher once chosen, the certificate
 * the peer sent (even the refused one).  What the handshake never reached
 * is NULL, and so are NPN, ALPN, the session and its reuse until secure.
 * All of them are this connection's: a resumption that failed shows no
 * certificate, not the one of the session's first connection.
 */
int sp_pair_authorized(const sp_pair *pair);
const char *sp_pair_authorization_error(const sp_pair *pair);
const char *sp_pair_authorization_reason(const sp_pair *pair);

/*
 * NPN: the selected protocol or NULL when NPN was not used.  As in Node,
 * when the lists do not overlap the client picks its own first protocol and
 * both sides report it; sp_pair_npn_no_overlap() tells that case apart.
 */
const char *sp_pair_npn_protocol(const sp_pair *pair);
int sp_pair_npn_no_overlap(const sp_pair *pair);
const char *sp_pair_alpn_protocol(const sp_pair *pair);

/*
 * SNI: what the client sent in its first ClientHello, which chose the SNI
 * context (server: without a final dot, also during and after a failed
 * handshake), or what it asked for (client); NULL for none.
 */
const char *sp_pair_servername(const sp_pair *pair);
/*
 * The SNI context that was selected: its name as added, "(callback)" when
 * the SNI callback chose, NULL for the default credentials.
 */
const char *sp_pair_context_name(const sp_pair *pair);
/*
 * A regex context ("~...", as added) that gave up on the client's name at
 * its match limit and so did not match, or NULL: for the host's log.
 */
const char *sp_pair_sni_gave_up(const sp_pair *pair);

/*
 * What the client offered in its ClientHello (server; the last hello,
 * also after a failed handshake), formatted as nginx's $ssl_ciphers and
 * $ssl_curves: OpenSSL's names joined by colons, "0x" and hex for what
 * OpenSSL does not know (GREASE values, suites it was built without).
 * Formatted on demand from what OpenSSL keeps of the hello: nothing is
 * stored or spent per handshake for a host that never asks.  As
 * snprintf(): writes at most len bytes with the NUL, returns the length
 * of the whole text (0: nothing offered, or no hello yet); call with
 * NULL and 0 to learn it.  A resumed TLS 1.2 session has no groups.
 */
size_t sp_pair_client_ciphers(const sp_pair *pair, char *buf, size_t len);
size_t sp_pair_client_groups(const sp_pair *pair, char *buf, size_t len);

/* "TLSv1.3" and OpenSSL's cipher name, or NULL before they are chosen. */
const char *sp_pair_protocol(const sp_pair *pair);
const char *sp_pair_cipher(const sp_pair *pair);
int sp_pair_session_reused(const sp_pair *pair);
unsigned sp_pair_renegotiations(const sp_pair *pair);


/* ---- peer certificate (Node: getPeerCertificate()) --------------------- */

typedef struct {
    const char *key;     /* "C", "ST", "L", "O", "OU", "CN", or an OID */
    const char *value;   /* UTF-8 */
} sp_name_entry;

typedef struct {
    sp_name_entry *subject;       /* in certificate order */
    size_t subject_count;
    sp_name_entry *issuer;
    size_t issuer_count;
    char *subject_line;           /* "/C=UK/ST=Acme/CN=localhost" */
    char *issuer_line;
    char *subjectaltname;         /* "DNS:a.example.com, IP Address:..."
                                     or NULL */
    char *valid_from;             /* "Nov 11 09:52:22 2009 GMT" */
    char *valid_to;
    time_t valid_from_time;
    time_t valid_to_time;
    char *serial_number;          /* upper-case hex */
    char *fingerprint;            /* SHA-1, "AB:CD:..." */
    char *fingerprint256;         /* SHA-256, same form */
    char *subject_dn;             /* RFC 2253, as OpenSSL's
                                     XN_FLAG_RFC2253 and nginx's
                                     $ssl_client_s_dn:
                                     "CN=client,OU=Clients,...,C=UK" */
    char *issuer_dn;
    char *pem;                    /* the certificate as PEM, "-----BEGIN
                                     CERTIFICATE-----\n...\n" */
} sp_peer_cert;

/*
 * An owned snapshot of the peer's certificate, or NULL when the peer sent
 * none (or out of memory).  After a failed handshake: the certificate the
 * peer sent, also one refused under reject_unauthorized; NULL when a
 * resumed session's handshake failed.  Free with sp_peer_cert_free().
 */
sp_peer_cert *sp_pair_peer_cert(const sp_pair *pair);

/* The same snapshot from a DER certificate; NULL when it does not parse. */
sp_peer_cert *sp_peer_cert_from_der(const void *der, size_t len);
const char *sp_peer_cert_get(const sp_name_entry *list, size_t n,
    const char *key);
void sp_peer_cert_free(sp_peer_cert *cert);


/* ---- PROXY protocol v2 (proxy_v2.c) ------------------------------------ */

/*
 * The PROXY protocol v2 header (haproxy's proxy-protocol.txt) that tells a
 * backend what a server pair learned: the connection's addresses, and the
 * TLVs
 *   PP2_TYPE_ALPN       the ALPN protocol (else the NPN one), if any
 *   PP2_TYPE_AUTHORITY  the SNI, if any
 *   PP2_TYPE_SSL        client flags: PP2_CLIENT_SSL always,
 *                       PP2_CLIENT_CERT_CONN when the client sent a
 *                       certificate on this connection,
 *                       PP2_CLIENT_CERT_SESS when its session has one
 *                       (also resumed); verify 0 when authorized, else
 *                       OpenSSL's X509_V_ERR_* code (2, UNABLE_TO_GET_
 *                       ISSUER_CERT, for no certificate where one was
 *                       asked for; 1, UNSPECIFIED, when none was asked
 *                       for); then the subtypes SSL_VERSION ("TLSv1.3"),
 *                       SSL_CN (the client certificate's last CN),
 *                       SSL_CIPHER (OpenSSL's name), SSL_SIG_ALG and
 *                       SSL_KEY_ALG of our own certificate ("RSA-SHA256",
 *                       "RSA2048", "EC256"), each when known.
 * Every value has a bound (below); one longer than its bound, or with a
 * NUL, is left out, never cut.  So the header is at most
 * SP_PROXY_V2_MAX bytes and every length in it is consistent.
 *
 * client and server are the connection's two ends (struct sockaddr_in,
 * _in6 or _un, of the same family; `len`s their sizes): command PROXY
 * with that family.  Ends of different or other families: PROXY with
 * AF_UNSPEC and no addresses, which a receiver ignores.  Both NULL: the
 * LOCAL command (a connection of the host's own, not relayed).
 *
 * Only once the pair is secure.  Writes the header into buf and returns
 * its length; SP_ERR_INVALID (nothing written) before the handshake
 * completed, with a client pair, with one end only, or when len is
 * smaller than the header (SP_PROXY_V2_MAX is always enough).
 */
#define SP_PROXY_V2_MAX_NAME      255   /* authority, ALPN: TLS's bounds */
#define SP_PROXY_V2_MAX_VERSION   16
#define SP_PROXY_V2_MAX_CN        256   /* 64 characters of UTF-8 */
#define SP_PROXY_V2_MAX_ALG       64    /* cipher, signature, key */

#define SP_PROXY_V2_MAX                                                     \
    (16 + 216                           /* header, two AF_UNIX paths */     \
     + 2 * (3 + SP_PROXY_V2_MAX_NAME)   /* ALPN, AUTHORITY */               \
     + 3 + 5                            /* SSL: client, verify */           \
     + 3 + SP_PROXY_V2_MAX_VERSION + 3 + SP_PROXY_V2_MAX_CN                 \
     + 3 * (3 + SP_PROXY_V2_MAX_ALG))

struct sockaddr;

ssize_t sp_proxy_v2_encode(const sp_pair *pair,
    const struct sockaddr *client, size_t client_len,
    const struct sockaddr *server, size_t server_len,
    uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SECUREPAIR_H */
