/*
 * A pair that waits for its host (runtime/wait.c, hello.c): sessions
 * found by a store that answers later (find_async), credentials chosen
 * by an SNI callback that answers later (SP_SNI_WAIT).  Answers that come
 * at once, late (after more bytes arrived), never (the host gives up),
 * twice, and after the peer has gone; TLS 1.2 session ids and TLS 1.3
 * sessions in the store; client certificates kept across resumption; a
 * HelloRetryRequest after the wait; renegotiations that never wait.
 */

#include "pump.h"
#include "internal.h"


static const char *
vname(int version)
{
    return version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2";
}


/* ---- a store that answers later ---------------------------------------- */

#define SLOTS  8

typedef enum {
    ANSWER_LATER = 0,   /* remember the pair, answer when the test says */
    ANSWER_NOW,         /* answer from inside find_async() */
    ANSWER_MISS         /* return -1: not found now */
} answer_mode;

typedef struct {
    struct {
        uint8_t    id[64];
        size_t     id_len;
        uint8_t   *bytes;
        size_t     len;
    } e[SLOTS];
    size_t         n;
    answer_mode    mode;
    unsigned       asks;
    sp_pair       *pending;         /* asked, not yet answered */
    uint8_t        asked[64];
    size_t         asked_len;
} async_store;


static int
store_add(void *arg, const uint8_t *id, size_t id_len,
    const uint8_t *session, size_t len, time_t expires)
{
    async_store  *st = arg;

    (void) expires;

    if (st->n == SLOTS || id_len > sizeof(st->e[0].id)) {
        return -1;
    }

    memcpy(st->e[st->n].id, id, id_len);
    st->e[st->n].id_len = id_len;
    st->e[st->n].bytes = malloc(len);
    memcpy(st->e[st->n].bytes, session, len);
    st->e[st->n].len = len;
    st->n++;
    return 0;
}


/* The stored session of `id`, or NULL. */
static const uint8_t *
store_get(async_store *st, const uint8_t *id, size_t id_len, size_t *len)
{
    size_t  i;

    for (i = 0; i < st->n; i++) {
        if (st->e[i].id_len == id_len && memcmp(st->e[i].id, id, id_len) == 0)
        {
            *len = st->e[i].len;
            return st->e[i].bytes;
        }
    }

    *len = 0;
    return NULL;
}


static int
store_find_async(void *arg, sp_pair *pair, const uint8_t *id, size_t id_len)
{
    async_store     *st = arg;
    const uint8_t   *bytes;
    size_t           len;

    st->asks++;

    if (st->mode == ANSWER_MISS) {
        return -1;
    }

    if (st->mode == ANSWER_NOW) {
        bytes = store_get(st, id, id_len, &len);
        is_int(sp_pair_answer_session(pair, bytes, len), SP_OK,
               "answer from inside find_async");
        return 0;
    }

    st->pending = pair;
    memcpy(st->asked, id, id_len);
    st->asked_len = id_len;
    return 0;
}


/* The host's late answer: what the store holds for the id asked. */
static int
store_answer(async_store *st)
{
    const uint8_t  *bytes;
    size_t          len;
    sp_pair        *pair = st->pending;

    st->pending = NULL;
    bytes = store_get(st, st->asked, st->asked_len, &len);
    return sp_pair_answer_session(pair, bytes, len);
}


static void
store_free(async_store *st)
{
    size_t  i;

    for (i = 0; i < st->n; i++) {
        free(st->e[i].bytes);
    }
}


/* A server of server-ec with the store in SP_SESSION_CACHE_ASYNC mode. */
static sp_ctx *
async_server(async_store *st, const char *ca)
{
    sp_ctx            *sctx;
    sp_session_store   s;

    memset(st, 0, sizeof(*st));
    sctx = ctx_for(SP_SERVER, "server-ec", ca);

    s.add = store_add;
    s.find = NULL;
    s.arg = st;
    s.find_async = store_find_async;

    sp_ctx_set_session_tickets(sctx, 0);
    is_int(sp_ctx_set_session_cache(sctx, SP_SESSION_CACHE_ASYNC, &s), SP_OK,
           "the asynchronous store is taken");
    return sctx;
}


/*
 * A full handshake from cctx to sctx; returns the client's session,
 * exported (malloc'd), which the store now holds too.
 */
static uint8_t *
first_session(sp_ctx *cctx, sp_ctx *sctx, size_t *len)
{
    sp_pair   *client, *server;
    uint8_t   *der = NULL;
    ssize_t    n;

    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "first handshake");
    pump(client, server);

    n = sp_pair_get_session(client, NULL, 0);
    if (n > 0) {
        der = malloc((size_t) n);
        sp_pair_get_session(client, der, (size_t) n);
    }

    *len = n > 0 ? (size_t) n : 0;
    is_int(sp_pair_session_reused(server), 0, "first handshake is full");
    sp_pair_free(client);
    sp_pair_free(server);
    return der;
}


/*
 * What the session tests share: a server whose store answers later
 * (async_server, trusting `ca`), a client of `version` trusting ca.crt,
 * with `client`'s certificate (NULL: none), and the session of their
 * first handshake, in the store and in `der`.
 */
typedef struct {
    async_store     st;
    sp_ctx         *sctx;
    sp_ctx         *cctx;
    uint8_t        *der;
    size_t          len;
} resumption;


/* The contexts: a test may still set them up before resumption_first(). */
static void
resumption_open(resumption *r, const char *ca, const char *client,
    int version)
{
    r->sctx = async_server(&r->st, ca);
    r->cctx = client_for(client, "ca.crt", version);
    r->der = NULL;
    r->len = 0;
}


static void
resumption_first(resumption *r)
{
    r->der = first_session(r->cctx, r->sctx, &r->len);
}


/* New ends, the client offering the first session. */
static void
resumption_ends(resumption *r, sp_pair **client, sp_pair **server)
{
    *server = sp_pair_new(r->sctx, NULL, NULL);
    *client = sp_pair_new_with_session(r->cctx, "localhost", r->der, r->len,
                                       NULL);
}


/*
 * New ends, pumped until the server has asked the store and waits for
 * its answer.
 */
static void
offer_session(resumption *r, sp_pair **client, sp_pair **server,
    const char *name)
{
    resumption_ends(r, client, server);
    pump(*client, *server);
    ok(sp_pair_state(*server) & SP_STATE_WAITING, "%s: the server waits",
       name);
}


/* The end of case `name`: finish_ends(), then the session and the store. */
static void
resumption_close(resumption *r, const char *name, sp_pair *client,
    sp_pair *server)
{
    finish_ends(name, client, server, r->cctx, r->sctx);
    free(r->der);
    store_free(&r->st);
}


/* ---- sessions ----------------------------------------------------------- */

typedef enum {
    LATE_FOUND = 0,     /* the store finds it, later */
    LATE_GIVE_UP,       /* the host gives up: "not found" */
    AT_ONCE,            /* from inside find_async() */
    MISS_NOW            /* find_async() says not found at once */
} session_case;

static const char *case_names[] = {
    "late", "given up", "at once", "missed at once"
};


static void
test_session(int version, session_case c)
{
    resumption      r;
    sp_pair        *client, *server;
    size_t          key_len;
    const uint8_t  *key;
    unsigned        state, events = 0;
    int             secure = 0;
    const char     *v = vname(version);
    const char     *name = case_names[c];

    resumption_open(&r, NULL, NULL, version);
    resumption_first(&r);
    ok(r.der != NULL && r.st.n == 1, "%s %s: the session is stored", v, name);
    is_int(r.st.asks, 0, "a client without a session is not looked up");

    r.st.mode = c == AT_ONCE ? ANSWER_NOW
                : c == MISS_NOW ? ANSWER_MISS : ANSWER_LATER;

    resumption_ends(&r, &client, &server);
    pump_watch(client, server, &events, &secure);

    is_int(r.st.asks, 1, tn("%s %s: the store is asked once", v, name));

    if (c == LATE_FOUND || c == LATE_GIVE_UP) {
        state = sp_pair_state(server);
        ok(state & SP_STATE_WAITING, "%s %s: the server waits", v, name);
        ok(state & SP_STATE_HANDSHAKING, "%s %s: still handshaking", v, name);
        ok(!(state & SP_STATE_SEND_RECORDS), "%s %s: nothing to send", v,
           name);
        ok(state & SP_STATE_RECV_RECORDS, "%s %s: takes input", v, name);
        ok(events & SP_EVENT_WAITING, "%s %s: SP_EVENT_WAITING", v, name);

        is_int(sp_pair_waiting(server, &key, &key_len), SP_WAIT_SESSION,
               tn("%s %s: waits for a session", v, name));
        ok(key_len == r.st.e[0].id_len
           && memcmp(key, r.st.e[0].id, key_len) == 0,
           "%s %s: the key is the stored session's id", v, name);
        is_int(sp_pair_answer_creds(server, NULL), SP_ERR_INVALID,
               tn("%s %s: no credentials are awaited", v, name));

        /* the pump again: nothing moves while it waits */
        pump_watch(client, server, &events, &secure);
        ok(sp_pair_state(server) & SP_STATE_WAITING, "%s %s: waits on", v,
           name);

        if (c == LATE_FOUND) {
            is_int(store_answer(&r.st), SP_OK, tn("%s %s: answered", v, name));

        } else {
            r.st.pending = NULL;
            is_int(sp_pair_answer_session(server, NULL, 0), SP_OK,
                   tn("%s %s: answered not found", v, name));
        }

        is_int(sp_pair_answer_session(server, NULL, 0), SP_ERR_INVALID,
               tn("%s %s: a second answer is refused", v, name));
        is_int(sp_pair_waiting(server, &key, &key_len), SP_WAIT_NONE,
               tn("%s %s: waits no more", v, name));
        ok(key == NULL && key_len == 0, "%s %s: no key", v, name);
        ok(sp_pair_state(server) & SP_STATE_HANDSHAKING,
           "%s %s: the answer completes nothing by itself", v, name);

        is_int(sp_pair_drive(server), SP_OK, tn("%s %s: driven", v, name));
        pump_watch(client, server, &events, &secure);

    } else {
        ok(!(events & SP_EVENT_WAITING), "%s %s: never waited", v, name);
    }

    ok(handshake(client, server), "%s %s: secure", v, name);
    is_int(sp_pair_session_reused(server),
           c == LATE_FOUND || c == AT_ONCE,
           tn("%s %s: resumed as found", v, name));
    is_int(sp_pair_session_reused(client),
           c == LATE_FOUND || c == AT_ONCE,
           tn("%s %s: the client agrees", v, name));
    ok(!(sp_pair_state(server) & SP_STATE_WAITING), "%s %s: not waiting", v,
       name);

    resumption_close(&r, name, client, server);
}


/*
 * Bytes that arrive while the pair waits are taken and read after the
 * answer: a TLS 1.3 client's change_cipher_spec (middlebox
 * compatibility), which OpenSSL reads and ignores; then the transport's
 * end during the wait, which fails the pair at once.
 */
static void
test_bytes_while_waiting(void)
{
    static const uint8_t  ccs[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };

    resumption      r;
    sp_pair        *client, *server;
    size_t          key_len;
    const uint8_t  *key;

    resumption_open(&r, NULL, NULL, SP_TLS1_3);
    resumption_first(&r);

    offer_session(&r, &client, &server, "bytes");

    is_int(sp_enc_in(server, ccs, sizeof(ccs)), (int) sizeof(ccs),
           "bytes: taken while waiting");
    ok(sp_pair_state(server) & SP_STATE_WAITING, "bytes: still waiting");
    is_int(sp_pair_error(server), SP_OK, "bytes: not read yet");

    is_int(store_answer(&r.st), SP_OK, "bytes: answered");
    is_int(sp_pair_drive(server), SP_OK, "bytes: driven");
    ok(handshake(client, server), "bytes: secure after the answer");
    is_int(sp_pair_session_reused(server), 1, "bytes: resumed");
    sp_pair_free(client);
    sp_pair_free(server);

    /* the peer goes while the pair waits */
    offer_session(&r, &client, &server, "eof");

    is_int(sp_enc_in_eof(server), SP_ERR_TRUNCATED,
           "eof: the transport's end fails the pair");
    is_int(sp_pair_waiting(server, &key, &key_len), SP_WAIT_NONE,
           "eof: a failed pair waits no more");
    ok(!(sp_pair_state(server) & SP_STATE_WAITING), "eof: no waiting bit");
    is_int(store_answer(&r.st), SP_ERR_TRUNCATED,
           "eof: a late answer gets the sticky error");

    resumption_close(&r, "bytes", client, server);
}


/*
 * The host frees the pair while it waits (the peer has gone): nothing is
 * kept (ASan's leak check); and a pair freed after the answer, before
 * it was driven, frees the copy.
 */
static void
test_freed_while_waiting(void)
{
    resumption      r;
    sp_pair        *client, *server;

    resumption_open(&r, NULL, NULL, SP_TLS1_2);
    resumption_first(&r);

    offer_session(&r, &client, &server, "freed");
    sp_pair_free(server);
    r.st.pending = NULL;                /* the host cancels its lookup */
    sp_pair_free(client);

    resumption_ends(&r, &client, &server);
    pump(client, server);
    is_int(store_answer(&r.st), SP_OK, "freed after the answer: answered");

    sp_pair_free(client);
    sp_pair_free(server);

    /* counted before the contexts go with resumption_close */
    is_int(sp_ctx_connections(r.sctx), 0, "freed: no pair left");
    resumption_close(&r, "freed", NULL, NULL);
}


/*
 * A client certificate's session resumed through the store: the peer's
 * facts and its authorization come back with it.
 */
static void
test_client_cert(int version)
{
    resumption      r;
    sp_pair        *client, *server;
    const char     *v = vname(version);

    resumption_open(&r, "ca.crt", "client", version);
    sp_ctx_set_request_cert(r.sctx, 1);
    sp_ctx_set_reject_unauthorized(r.sctx, 1);
    resumption_first(&r);

    resumption_ends(&r, &client, &server);
    pump(client, server);
    is_int(store_answer(&r.st), SP_OK, tn("client cert %s: answered", v));
    sp_pair_drive(server);

    ok(handshake(client, server), "client cert %s: secure", v);
    is_int(sp_pair_session_reused(server), 1, tn("client cert %s: resumed", v));
    ok(sp_pair_authorized(server), "client cert %s: authorized", v);
    ok(peer_cn_is(server, "client"), "client cert %s: the peer is known", v);

    resumption_close(&r, "client cert", client, server);
}


/* Counts the ClientHellos a server pair's SSL reads. */
static void
count_hellos(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
    (void) version;
    (void) ssl;

    if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0
        && ((const uint8_t *) buf)[0] == SSL3_MT_CLIENT_HELLO)
    {
        (*(int *) arg)++;
    }
}


/*
 * TLS 1.3: the client's key share is one the server refuses, so the
 * answered hello is followed by a HelloRetryRequest: the second hello
 * waits for nothing and resumes with the first one's answer.
 */
static void
test_hello_retry(void)
{
    async_store     st;
    sp_ctx         *sctx, *cctx;
    sp_creds       *ccreds;
    sp_pair        *client, *server;
    uint8_t        *der;
    size_t          len;
    int             hellos = 0;

    sctx = async_server(&st, NULL);

    ccreds = creds_for(NULL, "ca.crt");
    sp_creds_set_versions(ccreds, SP_TLS1_3, SP_TLS1_3);
    sp_creds_add_conf_command(ccreds, "Groups", "X25519:P-384");
    cctx = sp_ctx_new(SP_CLIENT, ccreds);
    sp_creds_unref(ccreds);

    der = first_session(cctx, sctx, &len);

    /* the server now takes P-384 only: X25519's key share is refused */
    sp_ctx_unref(sctx);
    {
        sp_creds          *screds = creds_for("server-ec", NULL);
        sp_session_store   s;
        async_store        keep = st;

        sp_creds_set_ecdh_curve(screds, "P-384");
        sctx = sp_ctx_new(SP_SERVER, screds);
        sp_creds_unref(screds);
        st = keep;
        s.add = store_add;
        s.find = NULL;
        s.arg = &st;
        s.find_async = store_find_async;
        sp_ctx_set_session_tickets(sctx, 0);
        sp_ctx_set_session_cache(sctx, SP_SESSION_CACHE_ASYNC, &s);
    }

    server = sp_pair_new(sctx, NULL, NULL);
    SSL_set_msg_callback(server->ssl, count_hellos);
    SSL_set_msg_callback_arg(server->ssl, &hellos);
    client = sp_pair_new_with_session(cctx, "localhost", der, len, NULL);
    pump(client, server);
    ok(sp_pair_state(server) & SP_STATE_WAITING, "hello retry: waits");
    is_int(store_answer(&st), SP_OK, "hello retry: answered");
    sp_pair_drive(server);

    ok(handshake(client, server), "hello retry: secure");
    if (sp_pair_error(server)) {
        diag("server: %s", sp_pair_error_message(server));
    }
    is_int(hellos, 2, "hello retry: two ClientHellos");
    is_int(st.asks, 1, "hello retry: the store is asked once");
    is_int(sp_pair_session_reused(server), 1,
           "hello retry: resumed with the first hello's answer");
    is_str(sp_pair_protocol(server), "TLSv1.3", "hello retry: TLS 1.3");

    finish_ends("hello retry", client, server, cctx, sctx);
    free(der);
    store_free(&st);
}


/* A TLS 1.2 renegotiation after a resumption asks the store nothing. */
static void
test_renegotiation(void)
{
    resumption      r;
    sp_pair        *client, *server;
    unsigned        events = 0;
    int             secure = 0;

    resumption_open(&r, NULL, NULL, SP_TLS1_2);
    sp_ctx_set_reneg_limit(r.sctx, 3, 600);
    resumption_first(&r);

    r.st.mode = ANSWER_NOW;
    resumption_ends(&r, &client, &server);
    ok(handshake(client, server), "reneg: resumed handshake");
    is_int(r.st.asks, 1, "reneg: the store asked once");

    is_int(sp_pair_renegotiate(client), SP_OK, "reneg: the client starts one");
    pump_watch(client, server, &events, &secure);
    ok(events & SP_EVENT_RENEGOTIATED, "reneg: renegotiated");
    ok(!(events & SP_EVENT_WAITING), "reneg: never waited");
    is_int(r.st.asks, 1, "reneg: the store was not asked again");
    is_int(sp_pair_error(server), SP_OK, "reneg: no error");

    resumption_close(&r, "reneg", client, server);
}


/* ---- credentials -------------------------------------------------------- */

typedef enum {
    SNI_LATE = 0,       /* SP_SNI_WAIT, answered when the test says */
    SNI_AT_ONCE,        /* SP_SNI_WAIT, answered inside the callback */
    SNI_SYNC            /* the credentials returned */
} sni_mode;

typedef struct {
    sni_mode     mode;
    sp_creds    *creds;
    unsigned     calls;
    sp_pair     *pending;
} sni_host;


static sp_creds *
sni_wait(sp_pair *pair, const char *servername, void *arg)
{
    sni_host  *h = arg;

    /* only a.example.com is the host's business */
    if (strcmp(servername, "a.example.com") != 0) {
        return NULL;
    }

    h->calls++;

    if (h->mode == SNI_SYNC) {
        return h->creds;
    }

    if (h->mode == SNI_AT_ONCE) {
        is_int(sp_pair_answer_creds(pair, h->creds), SP_OK,
               "sni: answered from inside the callback");
        return SP_SNI_WAIT;
    }

    h->pending = pair;
    return SP_SNI_WAIT;
}


/*
 * An SNI callback that answers late, with credentials or with NULL (the
 * table decides: here it has none, so the default's); then both waits in
 * one handshake, credentials first.
 */
static void
test_sni(sni_mode mode, int answer_null, int with_store)
{
    sni_host        h;
    async_store     st;
    sp_ctx         *sctx, *cctx;
    sp_pair        *client, *server;
    uint8_t        *der = NULL;
    size_t          len, key_len;
    const uint8_t  *key;
    unsigned        events = 0;
    int             secure = 0;
    char            name[96];

    snprintf(name, sizeof(name), "sni %s%s%s",
             mode == SNI_AT_ONCE ? "at once"
             : mode == SNI_SYNC ? "sync" : "late",
             answer_null ? " NULL" : "", with_store ? " with a store" : "");

    memset(&h, 0, sizeof(h));
    h.mode = mode;
    h.creds = answer_null ? NULL : creds_for("sni-a", NULL);

    sctx = with_store ? async_server(&st, NULL)
                      : ctx_for(SP_SERVER, "server-ec", NULL);
    sp_ctx_set_sni_callback(sctx, sni_wait, &h);
    cctx = client_for(NULL, "ca.crt", SP_TLS1_2);

    if (with_store) {
        /* "localhost": the default credentials' session */
        der = first_session(cctx, sctx, &len);
    }

    server = sp_pair_new(sctx, NULL, NULL);
    client = with_store
             ? sp_pair_new_with_session(cctx, "a.example.com", der, len, NULL)
             : sp_pair_new(cctx, "a.example.com", NULL);
    pump_watch(client, server, &events, &secure);

    is_int(h.calls, 1, tn("%s: the callback is asked once", name));

    if (mode == SNI_LATE) {
        ok(events & SP_EVENT_WAITING, "%s: SP_EVENT_WAITING", name);
        is_int(sp_pair_waiting(server, &key, &key_len), SP_WAIT_CREDS,
               tn("%s: waits for credentials", name));
        ok(key_len == strlen("a.example.com")
           && memcmp(key, "a.example.com", key_len) == 0,
           "%s: the key is the name", name);
        is_int(sp_pair_answer_session(server, NULL, 0), SP_ERR_INVALID,
               tn("%s: no session is awaited", name));
        is_int(sp_pair_answer_creds(server, h.creds), SP_OK, tn("%s: answered",
               name));
        is_int(sp_pair_answer_creds(server, h.creds), SP_ERR_INVALID,
               tn("%s: a second answer is refused", name));
        events = 0;
        sp_pair_drive(server);
        pump_watch(client, server, &events, &secure);
    }

    if (with_store) {
        /* then the session: the credentials decided its context */
        ok(events & SP_EVENT_WAITING, "%s: then waits for the session",
           name);
        is_int(sp_pair_waiting(server, &key, &key_len), SP_WAIT_SESSION,
               tn("%s: a session now", name));
        is_int(store_answer(&st), SP_OK, tn("%s: the session answered", name));
        sp_pair_drive(server);
        pump(client, server);
    }

    ok(handshake(client, server), "%s: secure", name);
    if (sp_pair_error(client)) {
        diag("client: %s", sp_pair_error_message(client));
    }

    if (answer_null) {
        ok(sp_pair_context_name(server) == NULL, "%s: the default's", name);

    } else {
        is_str(sp_pair_context_name(server), "(callback)",
               tn("%s: the callback's credentials", name));
    }

    if (with_store) {
        /* the session was made under the default credentials: another
           context, which resumes it not */
        is_int(sp_pair_session_reused(server), answer_null,
               tn("%s: resumed only under the same credentials", name));
    }

    finish_ends(name, client, server, cctx, sctx);

    if (h.creds) {
        sp_creds_unref(h.creds);
    }

    if (with_store) {
        free(der);
        store_free(&st);
    }
}


/*
 * While it waits for credentials the host may still move the pair to
 * another context (a virtual server chosen late); answering NULL then
 * leaves the choice to that context: its default credentials.
 */
static void
test_sni_use_ctx(void)
{
    sni_host    h;
    sp_ctx     *sctx, *vctx, *cctx;
    sp_pair    *client, *server;

    memset(&h, 0, sizeof(h));
    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    vctx = ctx_for(SP_SERVER, "sni-a", NULL);
    sp_ctx_set_sni_callback(sctx, sni_wait, &h);
    cctx = client_for(NULL, "ca.crt", SP_TLS1_2);

    server = sp_pair_new(sctx, NULL, NULL);
    client = sp_pair_new(cctx, "a.example.com", NULL);
    pump(client, server);
    ok(sp_pair_state(server) & SP_STATE_WAITING, "use ctx: waits");

    is_int(sp_pair_use_ctx(server, vctx), SP_OK,
           "use ctx: the pair moves while it waits");
    is_int(sp_pair_answer_creds(server, NULL), SP_OK, "use ctx: answered");
    is_int(sp_pair_use_ctx(server, sctx), SP_ERR_INVALID,
           "use ctx: not once answered");
    sp_pair_drive(server);

    ok(handshake(client, server), "use ctx: secure with its certificate");
    ok(sp_pair_context_name(server) == NULL, "use ctx: its default");

    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(vctx);
    finish_ends("use ctx", NULL, NULL, cctx, sctx);
}


/* An SNI wait that the pair's end (freed) leaves no reference behind. */
static void
test_sni_freed(void)
{
    sni_host    h;
    sp_ctx     *sctx, *cctx;
    sp_pair    *client, *server;

    memset(&h, 0, sizeof(h));
    h.creds = creds_for("sni-a", NULL);
    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    sp_ctx_set_sni_callback(sctx, sni_wait, &h);
    cctx = client_for(NULL, "ca.crt", SP_TLS1_3);

    new_ends(sctx, cctx, &client, &server);
    sp_pair_free(client);
    client = sp_pair_new(cctx, "a.example.com", NULL);
    pump(client, server);
    is_int(sp_pair_answer_creds(server, h.creds), SP_OK,
           "sni freed: answered");

    /* freed before it was driven: the answer's reference goes with it */
    finish_ends("sni freed", client, server, cctx, sctx);
    sp_creds_unref(h.creds);
}


/* The SNI callback's cases: how it answers, NULL or not, with a store. */
static const struct {
    sni_mode     mode;
    int          answer_null;
    int          with_store;
} sni_cases[] = {
    { SNI_LATE, 0, 0 }, { SNI_LATE, 1, 0 }, { SNI_AT_ONCE, 0, 0 },
    { SNI_SYNC, 0, 0 }, { SNI_LATE, 0, 1 }, { SNI_LATE, 1, 1 },
};


int
main(void)
{
    int     versions[] = { SP_TLS1_2, SP_TLS1_3 };
    int     i, c;
    size_t  n;

    for (i = 0; i < 2; i++) {
        for (c = LATE_FOUND; c <= MISS_NOW; c++) {
            test_session(versions[i], (session_case) c);
        }

        test_client_cert(versions[i]);
    }

    test_bytes_while_waiting();
    test_freed_while_waiting();
    test_hello_retry();
    test_renegotiation();

    for (n = 0; n < sizeof(sni_cases) / sizeof(sni_cases[0]); n++) {
        test_sni(sni_cases[n].mode, sni_cases[n].answer_null,
                 sni_cases[n].with_store);
    }

    test_sni_freed();
    test_sni_use_ctx();

    return done_testing();
}
