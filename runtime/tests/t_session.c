/*
 * Session resumption (runtime/session.c, the session-id context digest of
 * runtime/creds.c): the host's session store by id, session tickets with
 * their keys, rotation and counts, session lifetime against the host's
 * clock, sessions kept apart between contexts that would judge a peer
 * differently, client-certificate sessions, exported client sessions.
 * TLS 1.2 and TLS 1.3 wherever it applies.
 */

#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "pump.h"
#include "raw_client.h"


static const char *
vname(int version)
{
    return version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2";
}


/* ---- a host session store in memory ------------------------------------ */

#define STORE_SLOTS  4

typedef struct {
    int             used;
    uint8_t         id[64];
    size_t          id_len;
    uint8_t        *bytes;
    size_t          len;
    time_t          expires;
    unsigned long   seq;            /* insertion order, for eviction */
} store_entry;

typedef struct {
    store_entry     e[STORE_SLOTS];
    unsigned long   seq;
    time_t          now;            /* the test's clock */
    unsigned        adds;
    unsigned        finds;
    unsigned        hits;
    unsigned        expired;        /* finds refused: entry expired */
    unsigned        evictions;
    unsigned        empty_ids;      /* add() with id_len 0 */
    time_t          last_expires;   /* as given to the last add() */
    time_t          last_add_now;   /* the clock at that add() */
} test_store;


static void
store_init(test_store *st, time_t now)
{
    memset(st, 0, sizeof(*st));
    st->now = now;
}


static void
store_free(test_store *st)
{
    int  i;

    for (i = 0; i < STORE_SLOTS; i++) {
        free(st->e[i].bytes);
        st->e[i].bytes = NULL;
        st->e[i].used = 0;
    }
}


static int
store_add(void *arg, const uint8_t *id, size_t id_len,
    const uint8_t *session, size_t len, time_t expires)
{
    test_store   *st = arg;
    store_entry  *e = NULL;
    uint8_t      *copy;
    int           i;

    st->adds++;
    st->last_expires = expires;
    st->last_add_now = st->now;

    if (id_len == 0) {
        st->empty_ids++;
        return -1;
    }

    if (id_len > sizeof(e->id)) {
        return -1;
    }

    for (i = 0; i < STORE_SLOTS; i++) {
        if (st->e[i].used && st->e[i].id_len == id_len
            && memcmp(st->e[i].id, id, id_len) == 0)
        {
            e = &st->e[i];
            break;
        }
    }

    for (i = 0; e == NULL && i < STORE_SLOTS; i++) {
        if (!st->e[i].used) {
            e = &st->e[i];
        }
    }

    if (e == NULL) {
        /* full: the oldest goes */
        e = &st->e[0];
        for (i = 1; i < STORE_SLOTS; i++) {
            if (st->e[i].seq < e->seq) {
                e = &st->e[i];
            }
        }

        st->evictions++;
    }

    copy = malloc(len);
    if (copy == NULL) {
        return -1;
    }

    memcpy(copy, session, len);
    free(e->bytes);

    e->used = 1;
    memcpy(e->id, id, id_len);
    e->id_len = id_len;
    e->bytes = copy;
    e->len = len;
    e->expires = expires;
    e->seq = ++st->seq;
    return 0;
}


static int
store_find(void *arg, const uint8_t *id, size_t id_len, uint8_t *buf,
    size_t *len)
{
    test_store  *st = arg;
    int          i;

    st->finds++;

    for (i = 0; i < STORE_SLOTS; i++) {
        store_entry  *e = &st->e[i];

        if (!e->used || e->id_len != id_len
            || memcmp(e->id, id, id_len) != 0)
        {
            continue;
        }

        if (st->now >= e->expires) {
            st->expired++;
            return -1;
        }

        if (*len < e->len) {
            return -1;
        }

        memcpy(buf, e->bytes, e->len);
        *len = e->len;
        st->hits++;
        return 0;
    }

    return -1;
}


static time_t
store_clock(void *arg)
{
    return ((test_store *) arg)->now;
}


static sp_session_store
store_iface(test_store *st)
{
    sp_session_store  s;

    s.add = store_add;
    s.find = store_find;
    s.arg = st;
    return s;
}


/* A server context using `st` as its session cache, tickets off. */
static sp_ctx *
store_server(const char *base, const char *ca, test_store *st)
{
    sp_ctx            *sctx = ctx_for(SP_SERVER, base, ca);
    sp_session_store   s = store_iface(st);

    if (sctx == NULL) {
        return NULL;
    }

    if (sp_ctx_set_session_cache(sctx, SP_SESSION_CACHE_STORE, &s) != SP_OK
        || sp_ctx_set_session_tickets(sctx, 0) != SP_OK)
    {
        diag("store_server: %s", sp_ctx_error(sctx));
    }

    return sctx;
}


/* ---- helpers ----------------------------------------------------------- */

/* A client context trusting ca.crt, with `cert` as its identity or none. */
static sp_ctx *
client_ctx(int version, const char *cert)
{
    return client_for(cert, "ca.crt", version);
}


/* The client's session, exported the documented way; NULL if none yet. */
static uint8_t *
export_session(const sp_pair *client, size_t *len)
{
    ssize_t   n, m;
    uint8_t  *buf;

    *len = 0;
    n = sp_pair_get_session(client, NULL, 0);
    if (n <= 0) {
        return NULL;
    }

    buf = malloc((size_t) n);
    if (buf == NULL) {
        return NULL;
    }

    m = sp_pair_get_session(client, buf, (size_t) n);
    if (m != n) {
        diag("get_session: size %zd, then %zd", n, m);
        free(buf);
        return NULL;
    }

    *len = (size_t) n;
    return buf;
}


typedef struct {
    int        secure;          /* both pairs secure */
    int        reused;          /* client's view */
    int        reused_server;   /* server's view */
    int        data;            /* a message went through */
    ssize_t    get;             /* sp_pair_get_session(client, NULL, 0) */
    uint8_t   *session;         /* the client's export, or NULL */
    size_t     len;
} run_t;


static void
run_free(run_t *r)
{
    free(r->session);
    r->session = NULL;
    r->len = 0;
}


/*
 * A client of cctx (offering `sess` when not NULL) against a new server
 * pair of sctx: handshake, one message, export the client's session.
 */
static run_t
session_run(sp_ctx *cctx, sp_ctx *sctx, const char *name,
    const uint8_t *sess, size_t len)
{
    run_t     r;
    sp_pair  *client, *server;
    int       err = 0;
    char      buf[16];

    memset(&r, 0, sizeof(r));
    r.reused = r.reused_server = -1;

    server = sp_pair_new(sctx, NULL, &err);
    client = sess ? sp_pair_new_with_session(cctx, name, sess, len, &err)
                  : sp_pair_new(cctx, name, &err);

    if (client == NULL || server == NULL) {
        diag("session_run: new pair failed: %d", err);
        sp_pair_free(client);
        sp_pair_free(server);
        return r;
    }

    r.secure = handshake(client, server);

    if (!r.secure) {
        diag("handshake failed: client %d \"%s\", server %d \"%s\"",
             sp_pair_error(client), sp_pair_error_message(client),
             sp_pair_error(server), sp_pair_error_message(server));

    } else {
        r.reused = sp_pair_session_reused(client);
        r.reused_server = sp_pair_session_reused(server);

        if (sp_clear_write(client, "ping", 4) == 4) {
            pump(client, server);
            r.data = read_all(server, buf, sizeof(buf)) == 4
                     && memcmp(buf, "ping", 4) == 0;
        }

        r.get = sp_pair_get_session(client, NULL, 0);
        r.session = export_session(client, &r.len);
    }

    sp_pair_free(client);
    sp_pair_free(server);
    return r;
}


/* Checks a run: secure, data flowed, both sides agree on `want`. */
static int
expect_run(const run_t *r, int want, const char *fmt, const char *a,
    const char *b)
{
    char  name[256];
    int   pass;

    snprintf(name, sizeof(name), fmt, a, b);

    pass = r->secure && r->data && r->reused == want
           && r->reused_server == want;

    if (!ok(pass, "%s: %s", name, want ? "resumed" : "full handshake")) {
        diag("secure %d, data %d, reused: client %d server %d (want %d)",
             r->secure, r->data, r->reused, r->reused_server, want);
    }

    return pass;
}


/* A full handshake, checked: its run gives the session others offer. */
static run_t
full_run(sp_ctx *cctx, sp_ctx *sctx, const char *name, const char *fmt,
    const char *a, const char *b)
{
    run_t  r;

    r = session_run(cctx, sctx, name, NULL, 0);
    expect_run(&r, 0, fmt, a, b);
    return r;
}


/*
 * The session of `from` offered to a new server pair of sctx: resumed or
 * not, as `want` says.
 */
static int
offer(sp_ctx *cctx, sp_ctx *sctx, const char *name, const run_t *from,
    int want, const char *fmt, const char *a, const char *b)
{
    run_t  r;
    int    pass;

    r = session_run(cctx, sctx, name, from->session, from->len);
    pass = expect_run(&r, want, fmt, a, b);
    run_free(&r);
    return pass;
}


typedef struct {
    sp_ctx      *sctx;
    int          want;          /* resumed */
    const char  *what;
} offer_t;


/*
 * A full handshake on `home` ("<label>: first"), then its session offered
 * to each server in turn ("<label>: <what>").
 */
static void
offers(sp_ctx *cctx, sp_ctx *home, const char *label, const offer_t *o,
    size_t n)
{
    size_t  i;
    run_t   full;

    full = full_run(cctx, home, "localhost", "%s: %s", label, "first");

    for (i = 0; i < n; i++) {
        offer(cctx, o[i].sctx, "localhost", &full, o[i].want, "%s: %s",
              label, o[i].what);
    }

    run_free(&full);
    ok(error_queue_empty(), "%s: OpenSSL error queue empty", label);
}


static void
random_key(uint8_t *key, size_t len)
{
    if (RAND_bytes(key, (int) len) != 1) {
        memset(key, 0x5a, len);
    }
}


static char  tmpdir[256];


static const char *
tmp_file(const char *name, const void *data, size_t len)
{
    static char  buf[4][512];
    static int   next;
    char        *p = buf[next++ % 4];
    FILE        *f;

    snprintf(p, 512, "%s/%s", tmpdir, name);

    f = fopen(p, "wb");
    if (f == NULL) {
        diag("%s: %s", p, strerror(errno));
        return p;
    }

    if (len && fwrite(data, 1, len, f) != len) {
        diag("%s: short write", p);
    }

    fclose(f);
    return p;
}


/*
 * A store that answers with another session than the one asked for (a
 * hash collision, a bug): a full handshake, not a resumption under the
 * wrong id, which a TLS 1.2 client would refuse.
 */
static void
test_store_wrong_answer(void)
{
    test_store      st;
    sp_ctx         *sctx, *cctx;
    sp_pair        *client, *server;
    uint8_t         sess[8192], *bytes;
    ssize_t         n = 0;
    size_t          len;
    int             i, err = 0;

    store_init(&st, time(NULL));
    sctx = store_server("server-ec", NULL, &st);
    cctx = client_ctx(SP_TLS1_2, NULL);

    for (i = 0; i < 2; i++) {
        new_ends(sctx, cctx, &client, &server);
        ok(handshake(client, server), "wrong answer: full handshake %d", i);
        if (i == 0) {
            n = sp_pair_get_session(client, sess, sizeof(sess));
        }
        sp_pair_free(client);
        sp_pair_free(server);
    }

    ok(n > 0 && st.e[0].used && st.e[1].used,
       "wrong answer: two sessions stored, the first exported");

    /* each id now finds the other's session */
    bytes = st.e[0].bytes;
    len = st.e[0].len;
    st.e[0].bytes = st.e[1].bytes;
    st.e[0].len = st.e[1].len;
    st.e[1].bytes = bytes;
    st.e[1].len = len;

    server = sp_pair_new(sctx, NULL, NULL);
    client = sp_pair_new_with_session(cctx, "localhost", sess,
                                      n > 0 ? (size_t) n : 0, &err);
    ok(client != NULL, "wrong answer: client offers the first session");

    if (client) {
        unsigned  hits = st.hits;

        ok(handshake(client, server),
           "wrong answer: the handshake completes");
        ok(st.hits == hits + 1, "wrong answer: the store answered");
        is_int(sp_pair_session_reused(server), 0,
               "wrong answer: the server did not resume");
        is_int(sp_pair_session_reused(client), 0,
               "wrong answer: nor did the client");
        sp_pair_free(client);
    }

    sp_pair_free(server);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    store_free(&st);
}


/*
 * A store whose answer carries bytes after the session (a framing bug in
 * the host's store): a miss, as for any answer that is not one session.
 */
static void
test_store_trailing_bytes(void)
{
    test_store      st;
    sp_ctx         *sctx, *cctx;
    sp_pair        *client, *server;
    uint8_t         sess[8192], *longer;
    ssize_t         n;
    int             junk, err = 0;

    store_init(&st, time(NULL));
    sctx = store_server("server-ec", NULL, &st);
    cctx = client_ctx(SP_TLS1_2, NULL);

    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "trailing: full handshake");
    n = sp_pair_get_session(client, sess, sizeof(sess));
    sp_pair_free(client);
    sp_pair_free(server);
    ok(n > 0 && st.e[0].used, "trailing: one session stored and exported");

    for (junk = 1; junk >= 0; junk--) {
        if (junk) {
            longer = realloc(st.e[0].bytes, st.e[0].len + 3);
            ok(longer != NULL, "trailing: the store's copy grows");
            memcpy(longer + st.e[0].len, "\x05\x00\x00", 3);
            st.e[0].bytes = longer;
            st.e[0].len += 3;
        } else {
            st.e[0].len -= 3;
        }

        server = sp_pair_new(sctx, NULL, NULL);
        client = sp_pair_new_with_session(cctx, "localhost", sess,
                                          n > 0 ? (size_t) n : 0, &err);
        ok(client != NULL && handshake(client, server),
           "trailing %d: the handshake completes", junk);
        is_int(sp_pair_session_reused(server), !junk,
               junk ? "trailing: the server did not resume"
                    : "trailing: without the junk it resumes");
        sp_pair_free(client);
        sp_pair_free(server);
    }

    ok(error_queue_empty(), "trailing: OpenSSL error queue empty");
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    store_free(&st);
}


/* ---- the store: resumption by session id -------------------------------- */

static void
test_store_tls12(void)
{
    test_store      st;
    sp_ctx         *sctx, *cctx;
    sp_pair        *client, *server;
    uint8_t        *sess, first_id[64];
    const uint8_t  *id, *cid;
    size_t          len, id_len, cid_len, first_len = 0;
    ssize_t         n;
    int             err = 0;
    char            buf[16];

    store_init(&st, time(NULL));
    sctx = store_server("server-ec", NULL, &st);
    cctx = client_ctx(SP_TLS1_2, NULL);

    new_ends(sctx, cctx, &client, &server);

    id = sp_pair_session_id(server, &id_len);
    ok(id == NULL && id_len == 0, "store 1.2: no session id before secure");
    is_int(sp_pair_get_session(client, NULL, 0), SP_ERR_AGAIN,
           "store 1.2: no session to export before secure");

    ok(handshake(client, server), "store 1.2: full handshake");
    is_str(sp_pair_protocol(server), "TLSv1.2", "store 1.2: protocol");
    is_int(sp_pair_session_reused(client), 0, "store 1.2: client not reused");
    is_int(sp_pair_session_reused(server), 0, "store 1.2: server not reused");
    is_int(st.adds, 1, "store 1.2: the store got one add");
    is_int(st.finds, 0, "store 1.2: and no find");

    id = sp_pair_session_id(server, &id_len);
    ok(id != NULL, "store 1.2: server has a session id");
    is_int(id_len, 32, "store 1.2: session id is 32 bytes");
    if (id && id_len <= sizeof(first_id)) {
        memcpy(first_id, id, id_len);
        first_len = id_len;
    }

    ok(st.e[0].used && st.e[0].id_len == id_len && id
       && memcmp(st.e[0].id, id, id_len) == 0,
       "store 1.2: stored under the session id");

    cid = sp_pair_session_id(client, &cid_len);
    ok(cid && cid_len == id_len && id && memcmp(cid, id, id_len) == 0,
       "store 1.2: client sees the same session id");

    n = sp_pair_get_session(client, NULL, 0);
    ok(n > 0, "store 1.2: size query gives %zd", n);
    sess = malloc(n > 0 ? (size_t) n : 1);
    is_int(sp_pair_get_session(client, sess, n > 1 ? (size_t) n - 1 : 0), n,
           "store 1.2: too small a buffer: the size again");
    is_int(sp_pair_get_session(client, sess, (size_t) n), n,
           "store 1.2: exported into the buffer");
    len = n > 0 ? (size_t) n : 0;

    sp_pair_free(client);
    sp_pair_free(server);

    /* resume through the store */
    server = sp_pair_new(sctx, NULL, NULL);
    client = sp_pair_new_with_session(cctx, "localhost", sess, len, &err);
    ok(client != NULL && err == SP_OK, "store 1.2: pair with session");

    ok(client && handshake(client, server), "store 1.2: resumed handshake");
    is_int(sp_pair_session_reused(client), 1, "store 1.2: client reused");
    is_int(sp_pair_session_reused(server), 1, "store 1.2: server reused");
    ok(st.finds >= 1, "store 1.2: the store got a find (%u)", st.finds);
    is_int(st.hits, 1, "store 1.2: and found it");
    is_int(st.adds, 1, "store 1.2: no new add on resumption");

    id = sp_pair_session_id(server, &id_len);
    ok(id && id_len == first_len && memcmp(id, first_id, id_len) == 0,
       "store 1.2: resumed pair has the same session id");
    cid = sp_pair_session_id(client, &cid_len);
    ok(cid && cid_len == first_len && memcmp(cid, first_id, cid_len) == 0,
       "store 1.2: so does the client");

    ok(sp_clear_write(client, "again", 5) == 5, "store 1.2: write");
    pump(client, server);
    ok(read_all(server, buf, sizeof(buf)) == 5 && memcmp(buf, "again", 5) == 0,
       "store 1.2: data flows on the resumed pair");

    sp_pair_free(client);
    sp_pair_free(server);
    free(sess);

    ok(error_queue_empty(), "store 1.2: OpenSSL error queue empty");

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    store_free(&st);
}


/* The store holds STORE_SLOTS sessions: the oldest is evicted, quietly. */
static void
test_store_eviction(void)
{
    test_store  st;
    sp_ctx     *sctx, *cctx;
    run_t       first, last;
    int         i;

    store_init(&st, time(NULL));
    sctx = store_server("server-ec", NULL, &st);
    cctx = client_ctx(SP_TLS1_2, NULL);

    first = session_run(cctx, sctx, "localhost", NULL, 0);
    memset(&last, 0, sizeof(last));

    for (i = 0; i < STORE_SLOTS; i++) {
        run_free(&last);
        last = session_run(cctx, sctx, "localhost", NULL, 0);
    }

    is_int(st.adds, STORE_SLOTS + 1, "eviction: one add per full handshake");
    is_int(st.evictions, 1, "eviction: the store evicted one");

    offer(cctx, sctx, "localhost", &first, 0, "eviction: %s%s",
          "evicted session", "");

    offer(cctx, sctx, "localhost", &last, 1, "eviction: %s%s",
          "latest session", "");

    run_free(&first);
    run_free(&last);
    ok(error_queue_empty(), "eviction: OpenSSL error queue empty");

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    store_free(&st);
}


/* SP_SESSION_CACHE_NONE (the default) and OFF: no resumption by id. */
static void
test_cache_none(void)
{
    static const int    modes[] = { -1, SP_SESSION_CACHE_NONE,
                                    SP_SESSION_CACHE_OFF };
    static const char  *names[] = { "default", "NONE", "OFF" };
    sp_ctx             *sctx, *cctx, *bad;
    run_t               full;
    size_t              i;
    test_store          st;
    sp_session_store    s;

    cctx = client_ctx(SP_TLS1_2, NULL);

    for (i = 0; i < 3; i++) {
        sctx = ctx_for(SP_SERVER, "server-ec", NULL);
        sp_ctx_set_session_tickets(sctx, 0);

        if (modes[i] >= 0) {
            is_int(sp_ctx_set_session_cache(sctx, modes[i], NULL), SP_OK,
                   "cache none: set mode");
        }

        full = full_run(cctx, sctx, "localhost", "cache %s: %s", names[i],
                        "first");
        ok(full.session != NULL, "cache %s: client has a session anyway",
           names[i]);

        offer(cctx, sctx, "localhost", &full, 0, "cache %s: %s", names[i],
              "session offered");
        run_free(&full);
        sp_ctx_unref(sctx);
    }

    /* misuse */
    store_init(&st, 0);
    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    is_int(sp_ctx_set_session_cache(sctx, SP_SESSION_CACHE_STORE, NULL),
           SP_ERR_INVALID, "cache: a store mode needs a store");
    ok(sp_ctx_error(sctx)[0] != '\0', "cache: with a message: %s",
       sp_ctx_error(sctx));
    s = store_iface(&st);
    s.find = NULL;
    is_int(sp_ctx_set_session_cache(sctx, SP_SESSION_CACHE_STORE, &s),
           SP_ERR_INVALID, "cache: a store needs find");
    is_int(sp_ctx_set_session_cache(sctx, 7, NULL), SP_ERR_INVALID,
           "cache: unknown mode");
    is_int(sp_ctx_set_session_timeout(sctx, 0), SP_ERR_INVALID,
           "timeout 0 is refused");
    bad = ctx_for(SP_CLIENT, NULL, "ca.crt");
    s = store_iface(&st);
    is_int(sp_ctx_set_session_cache(bad, SP_SESSION_CACHE_STORE, &s),
           SP_ERR_INVALID, "cache: not on a client context");
    ok(error_queue_empty(), "cache: OpenSSL error queue empty");

    sp_ctx_unref(bad);
    sp_ctx_unref(sctx);
    sp_ctx_unref(cctx);
    store_free(&st);
}


/*
 * TLS 1.3 with tickets off: OpenSSL would send stateful tickets, the
 * session id being the ticket, kept in the session cache: the store.
 */
static void
test_store_tls13(void)
{
    test_store  st;
    sp_ctx     *sctx, *cctx;
    run_t       full, r;

    store_init(&st, time(NULL));
    sctx = store_server("server-ec", NULL, &st);
    cctx = client_ctx(SP_TLS1_3, NULL);

    full = full_run(cctx, sctx, "localhost", "store 1.3 tickets off: %s%s",
                    "first", "");
    ok(full.session != NULL,
       "store 1.3 tickets off: client has a resumable session "
       "(get_session %zd)", full.get);
    is_int(st.adds, 1,
           "store 1.3 tickets off: one add per ticket sent (default 1)");
    is_int(st.empty_ids, 0, "store 1.3 tickets off: each under an id");

    if (full.session) {
        r = session_run(cctx, sctx, "localhost", full.session, full.len);
        expect_run(&r, 1, "store 1.3 tickets off: %s%s", "resumed via store",
                   "");
        ok(st.hits >= 1, "store 1.3 tickets off: found in the store (%u)",
           st.hits);
        run_free(&r);
    }

    run_free(&full);
    ok(error_queue_empty(), "store 1.3: OpenSSL error queue empty");

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    store_free(&st);
}


/*
 * A store with tickets on: the ticket carries the session, so the store
 * is not fed sessions that no one can ever find again (an empty id in
 * TLS 1.2, stateless TLS 1.3 tickets), which would only evict real ones.
 */
static void
test_store_with_tickets(int version)
{
    test_store          st;
    sp_session_store    s;
    sp_ctx             *sctx, *cctx;
    run_t               full;
    const char         *v = vname(version);
    int                 i;

    store_init(&st, time(NULL));
    s = store_iface(&st);
    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    sp_ctx_set_session_cache(sctx, SP_SESSION_CACHE_STORE, &s);
    cctx = client_ctx(version, NULL);

    full = full_run(cctx, sctx, "localhost", "store and tickets %s: %s", v,
                    "first");

    for (i = 0; i < STORE_SLOTS; i++) {
        if (st.e[i].used) {
            diag("store and tickets %s: entry of %zu-byte id", v,
                 st.e[i].id_len);
        }
    }

    diag("store and tickets %s: %u adds, %u with an empty id", v, st.adds,
         st.empty_ids);
    is_int(st.empty_ids, 0, "store and tickets: no add with an empty id");

    if (version == SP_TLS1_3) {
        is_int(st.adds, 0,
               "store and tickets TLSv1.3: stateless tickets not stored");
    }

    offer(cctx, sctx, "localhost", &full, 1, "store and tickets %s: %s", v,
          "resumed by ticket");

    run_free(&full);
    ok(error_queue_empty(), "store and tickets %s: OpenSSL error queue empty",
       v);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    store_free(&st);
}


/* ---- tickets ------------------------------------------------------------ */

static void
test_tickets(int version)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *client, *server;
    uint8_t   *sess = NULL;
    size_t     len = 0;
    run_t      r;
    const char *v = vname(version);

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_ctx(version, NULL);

    new_ends(sctx, cctx, &client, &server);

    /* step by step, to see when the client gets its session */
    move_records(client, server, 0);                /* ClientHello */
    move_records(server, client, 0);                /* server's flight */

    if (version == SP_TLS1_3) {
        ok(sp_pair_state(client) & SP_STATE_SECURE,
           "tickets %s: client secure after the server's flight", v);
        is_int(sp_pair_get_session(client, NULL, 0), SP_ERR_AGAIN,
               "tickets TLSv1.3: no resumable session before a ticket");
        move_records(client, server, 0);            /* client Finished */
        ok(sp_pair_state(server) & SP_STATE_SECURE,
           "tickets %s: server secure", v);
        ok(sp_enc_out_pending(server) > 0,
           "tickets %s: server has tickets to send", v);
        is_int(sp_pair_get_session(client, NULL, 0), SP_ERR_AGAIN,
               "tickets TLSv1.3: still none while they are in flight");
    }

    pump(client, server);
    ok((sp_pair_state(client) & SP_STATE_SECURE)
       && (sp_pair_state(server) & SP_STATE_SECURE),
       "tickets %s: handshake done", v);
    is_int(sp_pair_session_reused(client), 0, "tickets: full handshake");

    sess = export_session(client, &len);
    ok(sess != NULL && len > 0, "tickets %s: client has a session (%zu)",
       v, len);

    sp_pair_free(client);
    sp_pair_free(server);

    r = session_run(cctx, sctx, "localhost", sess, len);
    expect_run(&r, 1, "tickets %s: %s", v, "same context");
    ok(r.session != NULL, "tickets %s: the resumed client has a session", v);
    run_free(&r);

    free(sess);
    ok(error_queue_empty(), "tickets %s: OpenSSL error queue empty", v);

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* Without keys of its own every context has a random key. */
static void
test_random_keys(int version)
{
    sp_ctx     *x, *y, *cctx;
    offer_t     o[2];
    char        label[64];

    snprintf(label, sizeof(label), "random keys %s", vname(version));

    x = ctx_for(SP_SERVER, "server-ec", NULL);
    y = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_ctx(version, NULL);

    o[0] = (offer_t) { x, 1, "same context" };
    o[1] = (offer_t) { y, 0, "another context" };
    offers(cctx, x, label, o, 2);

    sp_ctx_unref(cctx);
    sp_ctx_unref(y);
    sp_ctx_unref(x);
}


/* Two contexts sharing a key (one from a file, one from bytes). */
static void
test_shared_key(int version, size_t keylen)
{
    sp_ctx     *a, *b, *cctx;
    uint8_t     key[80];
    const char *file, *v = vname(version);
    char        label[64];
    run_t       full, r;

    random_key(key, keylen);
    snprintf(label, sizeof(label), "shared %zu-byte key %s", keylen, v);
    file = tmp_file(keylen == 80 ? "k80" : "k48", key, keylen);

    a = ctx_for(SP_SERVER, "server-ec", NULL);
    b = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_ctx(version, NULL);

    is_int(sp_ctx_add_ticket_key_file(a, file), SP_OK, "key from a file");
    is_int(sp_ctx_add_ticket_key(b, key, keylen), SP_OK, "key from bytes");

    full = full_run(cctx, a, "localhost", "%s: %s", label, "first on A");

    r = session_run(cctx, b, "localhost", full.session, full.len);
    expect_run(&r, 1, "%s: %s", label, "A's ticket on B");
    run_free(&full);
    full = r;

    offer(cctx, a, "localhost", &full, 1, "%s: %s", label, "B's ticket on A");

    run_free(&full);
    ok(error_queue_empty(), "%s: OpenSSL error queue empty", label);

    sp_ctx_unref(cctx);
    sp_ctx_unref(b);
    sp_ctx_unref(a);
}


/* A [K1]; B [K2, K1]; C [K2]. */
static void
test_rotation(int version, size_t keylen)
{
    sp_ctx     *a, *b, *c, *cctx;
    uint8_t     k1[80], k2[80];
    const char *v = vname(version);
    char        label[64];
    run_t       full, onb;

    random_key(k1, keylen);
    random_key(k2, keylen);
    snprintf(label, sizeof(label), "rotation %zu %s", keylen, v);

    a = ctx_for(SP_SERVER, "server-ec", NULL);
    b = ctx_for(SP_SERVER, "server-ec", NULL);
    c = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_ctx(version, NULL);

    sp_ctx_add_ticket_key(a, k1, keylen);
    sp_ctx_add_ticket_key(b, k2, keylen);
    sp_ctx_add_ticket_key(b, k1, keylen);
    sp_ctx_add_ticket_key(c, k2, keylen);

    full = full_run(cctx, a, "localhost", "%s: %s", label, "first on A [K1]");

    onb = session_run(cctx, b, "localhost", full.session, full.len);
    expect_run(&onb, 1, "%s: %s", label, "A's ticket on B [K2, K1]");

    offer(cctx, c, "localhost", &full, 0, "%s: %s", label,
          "A's ticket on C [K2]");

    /* B renewed the ticket under K2, which C knows */
    offer(cctx, c, "localhost", &onb, 1, "%s: %s", label,
          "B's renewed ticket on C [K2]");

    run_free(&onb);
    run_free(&full);
    ok(error_queue_empty(), "%s: OpenSSL error queue empty", label);

    sp_ctx_unref(cctx);
    sp_ctx_unref(c);
    sp_ctx_unref(b);
    sp_ctx_unref(a);
}


static void
test_key_errors(void)
{
    sp_ctx     *sctx, *cctx;
    uint8_t     key[100];
    const char *file;
    run_t       full;

    random_key(key, sizeof(key));
    sctx = ctx_for(SP_SERVER, "server-ec", NULL);

    is_int(sp_ctx_add_ticket_key(sctx, key, 47), SP_ERR_INVALID,
           "key of 47 bytes is refused");
    ok(strstr(sp_ctx_error(sctx), "48 or 80") != NULL,
       "with a message: %s", sp_ctx_error(sctx));
    is_int(sp_ctx_add_ticket_key(sctx, key, 64), SP_ERR_INVALID,
           "key of 64 bytes is refused");
    is_int(sp_ctx_add_ticket_key(sctx, key, 0), SP_ERR_INVALID,
           "key of 0 bytes is refused");

    file = tmp_file("k47", key, 47);
    is_int(sp_ctx_add_ticket_key_file(sctx, file), SP_ERR_LOAD,
           "key file of 47 bytes: SP_ERR_LOAD");
    ok(strstr(sp_ctx_error(sctx), file) != NULL
       && strstr(sp_ctx_error(sctx), "47") != NULL,
       "names the file and the size: %s", sp_ctx_error(sctx));

    file = tmp_file("k100", key, 100);
    is_int(sp_ctx_add_ticket_key_file(sctx, file), SP_ERR_LOAD,
           "key file of 100 bytes: SP_ERR_LOAD");
    ok(strstr(sp_ctx_error(sctx), file) != NULL,
       "names the file: %s", sp_ctx_error(sctx));

    file = tmp_file("k0", key, 0);
    is_int(sp_ctx_add_ticket_key_file(sctx, file), SP_ERR_LOAD,
           "empty key file: SP_ERR_LOAD");

    is_int(sp_ctx_add_ticket_key_file(sctx, cert_path("no-such.key")),
           SP_ERR_LOAD, "missing key file: SP_ERR_LOAD");
    ok(strstr(sp_ctx_error(sctx), "cannot open") != NULL
       && strstr(sp_ctx_error(sctx), "no-such.key") != NULL,
       "says cannot open, names the file: %s", sp_ctx_error(sctx));

    /* none of that replaced the context's own random key */
    cctx = client_ctx(SP_TLS1_2, NULL);
    full = full_run(cctx, sctx, "localhost", "refused keys: %s%s", "first",
                    "");
    ok(full.session != NULL, "refused keys: client has a session");
    offer(cctx, sctx, "localhost", &full, 1, "refused keys: %s%s",
          "the random key still issues tickets", "");
    run_free(&full);

    ok(error_queue_empty(), "key errors: OpenSSL error queue empty");
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* ---- TLS 1.3 ticket count ----------------------------------------------- */

static int  raw_tickets;


static int
raw_new_session(SSL *ssl, SSL_SESSION *sess)
{
    (void) ssl;
    (void) sess;

    raw_tickets++;
    return 0;
}


/*
 * A plain OpenSSL TLS 1.3 client against a server pair of sctx, counting
 * NewSessionTicket messages; -1 when the handshake did not finish.
 */
static int
raw_count_tickets(sp_ctx *sctx)
{
    raw_t      raw;
    sp_pair   *server;
    uint8_t    buf[16384];
    int        n, rounds, idle = 0, finished = 0;
    size_t     moved, m;
    ssize_t    took;

    raw_tickets = 0;

    if (!raw_ctx(&raw, TLS_client_method(), NULL)) {
        raw_free(&raw);
        return -1;
    }

    SSL_CTX_set_min_proto_version(raw.ctx, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(raw.ctx, SSL_SESS_CACHE_CLIENT
                                            | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(raw.ctx, raw_new_session);

    if (!raw_ssl(&raw)) {
        raw_free(&raw);
        return -1;
    }

    server = sp_pair_new(sctx, NULL, NULL);

    for (rounds = 0; rounds < 100 && idle < 3; rounds++) {
        if (!SSL_is_init_finished(raw.ssl)) {
            SSL_do_handshake(raw.ssl);

        } else {
            finished = 1;
            SSL_read(raw.ssl, buf, sizeof(buf));
        }

        ERR_clear_error();
        moved = 0;

        while ((n = BIO_read(raw.wbio, buf, sizeof(buf))) > 0) {
            took = sp_enc_in(server, buf, (size_t) n);
            moved += (size_t) n;
            if (took != n) {
                diag("raw: server took %zd of %d", took, n);
                break;
            }
        }

        while ((m = sp_enc_out(server, buf, sizeof(buf))) > 0) {
            BIO_write(raw.rbio, buf, (int) m);
            moved += m;
        }

        idle = moved ? 0 : idle + 1;
    }

    ERR_clear_error();

    n = finished && (sp_pair_state(server) & SP_STATE_SECURE)
        ? raw_tickets : -1;

    raw_free(&raw);
    sp_pair_free(server);
    return n;
}


static void
test_ticket_count(void)
{
    static const unsigned  counts[] = { 0, 1, 2, 3 };
    sp_ctx                *sctx, *cctx;
    run_t                  full;
    size_t                 i;
    unsigned               n;
    int                    got;

    cctx = client_ctx(SP_TLS1_3, NULL);

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    is_int(raw_count_tickets(sctx), 1, "ticket count: default is 1");
    sp_ctx_unref(sctx);

    for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        n = counts[i];
        sctx = ctx_for(SP_SERVER, "server-ec", NULL);
        is_int(sp_ctx_set_ticket_count(sctx, n), SP_OK, "set ticket count");

        got = raw_count_tickets(sctx);
        ok(got == (int) n, "ticket count %u: a plain client got %d tickets",
           n, got);

        full = full_run(cctx, sctx, "localhost", "ticket count %s%s",
                        n ? "> 0" : "0", ": first");

        if (n == 0) {
            is_int(full.get, SP_ERR_AGAIN,
                   "ticket count 0: get_session stays SP_ERR_AGAIN");
            ok(full.session == NULL, "ticket count 0: nothing exported");

        } else {
            ok(full.session != NULL, "ticket count %u: client has a session",
               n);
            offer(cctx, sctx, "localhost", &full, 1, "ticket count %s%s",
                  n == 1 ? "1" : ">= 2", ": resumption");
        }

        run_free(&full);
        sp_ctx_unref(sctx);
    }

    /* tickets off: a plain TLS 1.3 client gets no stateless ticket */
    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    sp_ctx_set_session_tickets(sctx, 0);
    is_int(raw_count_tickets(sctx), 0,
           "tickets off, no store: a plain client gets no ticket");
    sp_ctx_unref(sctx);

    ok(error_queue_empty(), "ticket count: OpenSSL error queue empty");
    sp_ctx_unref(cctx);
}


/* ---- lifetime ----------------------------------------------------------- */

static void
test_timeout(void)
{
    test_store  st;
    sp_ctx     *sctx, *cctx;
    run_t       full, r;
    time_t      now = time(NULL);

    cctx = client_ctx(SP_TLS1_2, NULL);

    /* the test clock on the wall's time */
    store_init(&st, now);
    sctx = store_server("server-ec", NULL, &st);
    sp_ctx_set_clock(sctx, store_clock, &st);
    is_int(sp_ctx_set_session_timeout(sctx, 1), SP_OK, "timeout 1 s");

    full = full_run(cctx, sctx, "localhost", "timeout: %s%s", "first", "");
    is_int(st.adds, 1, "timeout: one add");
    ok(st.last_expires >= now + 1 && st.last_expires <= now + 3,
       "timeout: expires is now + 1 (%lld, now %lld)",
       (long long) st.last_expires, (long long) now);

    offer(cctx, sctx, "localhost", &full, 1, "timeout: %s%s",
          "within the lifetime", "");

    st.now += 5;
    r = session_run(cctx, sctx, "localhost", full.session, full.len);
    expect_run(&r, 0, "timeout: %s%s", "expired", "");
    ok(st.expired >= 1, "timeout: the store refused the expired entry");
    run_free(&r);
    run_free(&full);
    sp_ctx_unref(sctx);
    store_free(&st);

    /*
     * A host clock of another origin (a monotonic clock): the expiry the
     * store gets is in the host's time, as sp_session_store says.
     */
    store_init(&st, 1000);
    sctx = store_server("server-ec", NULL, &st);
    sp_ctx_set_clock(sctx, store_clock, &st);
    sp_ctx_set_session_timeout(sctx, 60);

    full = full_run(cctx, sctx, "localhost", "timeout, host clock: %s%s",
                    "first", "");
    ok(st.last_expires >= 1000 + 60 && st.last_expires <= 1000 + 62,
       "timeout, host clock at 1000: expires is 1060 (got %lld)",
       (long long) st.last_expires);

    st.now += 30;
    offer(cctx, sctx, "localhost", &full, 1, "timeout, host clock: %s%s",
          "after 30 of 60 s", "");

    st.now += 40;
    offer(cctx, sctx, "localhost", &full, 0, "timeout, host clock: %s%s",
          "after 70 of 60 s", "");

    run_free(&full);
    ok(error_queue_empty(), "timeout: OpenSSL error queue empty");
    sp_ctx_unref(sctx);
    store_free(&st);
    sp_ctx_unref(cctx);
}


/* ---- a session's own end (sp_session_expires) --------------------------- */

/* The entry the store took last. */
static const store_entry *
last_stored(const test_store *st)
{
    const store_entry  *last = NULL;
    int                 i;

    for (i = 0; i < STORE_SLOTS; i++) {
        if (st->e[i].used && (last == NULL || st->e[i].seq > last->seq)) {
            last = &st->e[i];
        }
    }

    return last;
}


static void
test_session_expires(void)
{
    test_store          st;
    sp_ctx             *sctx, *cctx;
    run_t               full;
    time_t              now = time(NULL), expires = 0;
    const store_entry  *e;
    uint8_t            *longer;

    /* a host clock of another origin: the session keeps the wall's */
    cctx = client_ctx(SP_TLS1_2, NULL);
    store_init(&st, 1000);
    sctx = store_server("server-ec", NULL, &st);
    sp_ctx_set_clock(sctx, store_clock, &st);
    sp_ctx_set_session_timeout(sctx, 60);

    full = full_run(cctx, sctx, "localhost", "expires: %s%s", "first", "");
    e = last_stored(&st);
    ok(e != NULL, "expires: a session stored");

    if (e == NULL) {
        goto done;
    }

    is_int(sp_session_expires(e->bytes, e->len, &expires), SP_OK,
           "expires: the stored bytes are a session");
    ok(expires >= now + 60 && expires <= time(NULL) + 60,
       "expires: made + 60 s in the wall clock (%lld, now %lld), not the "
       "host clock's %lld", (long long) expires, (long long) now,
       (long long) e->expires);

    /* not one session: refused, *expires untouched */
    expires = 7;
    is_int(sp_session_expires(e->bytes, e->len - 1, &expires),
           SP_ERR_INVALID, "expires: a session cut short is refused");

    longer = malloc(e->len + 1);
    if (longer != NULL) {
        memcpy(longer, e->bytes, e->len);
        longer[e->len] = 0;
        is_int(sp_session_expires(longer, e->len + 1, &expires),
               SP_ERR_INVALID, "expires: a byte after the session is refused");
        free(longer);
    }

    is_int(sp_session_expires((const uint8_t *) "garbage", 7, &expires),
           SP_ERR_INVALID, "expires: garbage is refused");
    is_int(sp_session_expires(NULL, 0, &expires), SP_ERR_INVALID,
           "expires: NULL is refused");
    is_int(sp_session_expires(e->bytes, e->len, NULL), SP_ERR_INVALID,
           "expires: nowhere to put it is refused");
    is_int((int) expires, 7, "expires: left as it was after a refusal");
    ok(error_queue_empty(), "expires: OpenSSL error queue empty");

done:
    run_free(&full);
    sp_ctx_unref(sctx);
    store_free(&st);
    sp_ctx_unref(cctx);
}


/* ---- contexts stay apart ------------------------------------------------ */

/* A server context sharing `key`, from fresh credentials. */
static sp_ctx *
keyed_server(const char *base, const char *ca, const uint8_t *key,
    int creds_request)
{
    sp_creds  *creds = creds_for(base, ca);
    sp_ctx    *sctx;

    if (creds == NULL) {
        return NULL;
    }

    if (creds_request >= 0) {
        sp_creds_set_request_cert(creds, creds_request);
    }

    sctx = sp_ctx_new(SP_SERVER, creds);
    sp_creds_unref(creds);
    sp_ctx_add_ticket_key(sctx, key, 80);
    return sctx;
}


static void
test_apart(int version)
{
    /* servers sharing one ticket key; the first is home */
    static const struct {
        const char  *base;
        const char  *ca;
        int          request;       /* the credentials' request_cert */
        int          want;          /* home's session resumed */
        const char  *what;
    } servers[] = {
        { "server-ec", NULL, -1, 0, NULL },
        { "server-ec", NULL, -1, 1, "same credentials, shared key" },
        { "server-rsa", NULL, -1, 0, "another certificate" },
        { "server-ec", "ca.crt", -1, 0, "same certificate, another CA" },
        { "server-ec", NULL, 1, 0,
          "same certificate, credentials request a certificate" },
    };

    sp_ctx   *sctx[5], *cctx;
    offer_t   o[4];
    uint8_t   key[80];
    char      label[64];
    size_t    i;

    random_key(key, sizeof(key));
    snprintf(label, sizeof(label), "apart %s", vname(version));
    cctx = client_ctx(version, NULL);

    for (i = 0; i < 5; i++) {
        sctx[i] = keyed_server(servers[i].base, servers[i].ca, key,
                               servers[i].request);
        if (i > 0) {
            o[i - 1] = (offer_t) { sctx[i], servers[i].want,
                                   servers[i].what };
        }
    }

    offers(cctx, sctx[0], label, o, 4);

    for (i = 0; i < 5; i++) {
        sp_ctx_unref(sctx[i]);
    }

    sp_ctx_unref(cctx);
}


/*
 * The same credentials (certificate and CA) under two contexts whose
 * policy differs: A does not ask for a certificate, B insists.  A client
 * with a good certificate must not slip into B on A's session, which
 * carries no certificate.
 */
static void
test_apart_ctx_policy(int version)
{
    sp_ctx     *a, *b, *cctx;
    sp_pair    *client, *server;
    uint8_t     key[80];
    run_t       full;
    const char *v = vname(version);
    int         err = 0;

    random_key(key, sizeof(key));
    cctx = client_ctx(version, "client");
    a = keyed_server("server-ec", "ca.crt", key, -1);
    b = keyed_server("server-ec", "ca.crt", key, -1);
    sp_ctx_set_request_cert(b, 1);
    sp_ctx_set_reject_unauthorized(b, 1);

    full = full_run(cctx, a, "localhost", "ctx policy %s: %s", v,
                    "first on A (not asking)");

    server = sp_pair_new(b, NULL, NULL);
    client = sp_pair_new_with_session(cctx, "localhost", full.session,
                                      full.len, &err);

    ok(client && handshake(client, server),
       "ctx policy %s: handshake on B (insisting) succeeds", v);
    if (sp_pair_error(server)) {
        diag("server: %s", sp_pair_error_message(server));
    }
    is_int(sp_pair_session_reused(server), 0,
           "ctx policy: B does not resume A's session");
    ok(sp_pair_authorized(server),
       "ctx policy %s: B authorized the client's certificate", v);

    sp_pair_free(client);
    sp_pair_free(server);
    run_free(&full);
    ok(error_queue_empty(), "ctx policy %s: OpenSSL error queue empty", v);

    sp_ctx_unref(b);
    sp_ctx_unref(a);
    sp_ctx_unref(cctx);
}


/* Through a shared store (TLS 1.2 ids): found, but not for this context. */
static void
test_apart_store(void)
{
    test_store  st;
    sp_ctx     *home, *other, *cctx;
    run_t       full, r;
    unsigned    hits;

    store_init(&st, time(NULL));
    home = store_server("server-ec", NULL, &st);
    other = store_server("server-rsa", NULL, &st);
    cctx = client_ctx(SP_TLS1_2, NULL);

    full = full_run(cctx, home, "localhost", "apart store: %s%s", "first", "");

    hits = st.hits;
    r = session_run(cctx, other, "localhost", full.session, full.len);
    expect_run(&r, 0, "apart store: %s%s", "another certificate", "");
    ok(st.hits > hits, "apart store: the store did hand the session out");
    run_free(&r);

    offer(cctx, home, "localhost", &full, 1, "apart store: %s%s", "back home",
          "");

    run_free(&full);
    ok(error_queue_empty(), "apart store: OpenSSL error queue empty");
    sp_ctx_unref(cctx);
    sp_ctx_unref(other);
    sp_ctx_unref(home);
    store_free(&st);
}


static void
test_apart_sni(int version)
{
    static const struct {
        const char  *name;          /* asked for */
        const char  *context;       /* then chosen */
        const char  *creds;
        const char  *what;
    } cross[] = {
        { "localhost", NULL, "sni: default credentials",
          "a.example.com's session offered for localhost" },
        { "a.example.com", "a.example.com",
          "sni: a.example.com's credentials",
          "the default name's session offered for a.example.com" },
    };

    sp_ctx       *sctx, *cctx;
    sp_creds     *creds;
    sp_pair      *client, *server;
    run_t         full_a, full_d;
    const run_t  *from;
    const char   *v = vname(version);
    size_t        i;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    creds = creds_for("sni-a", NULL);
    is_int(sp_ctx_add_context(sctx, "a.example.com", creds), SP_OK,
           "sni: add a.example.com");
    sp_creds_unref(creds);
    cctx = client_ctx(version, NULL);

    full_a = full_run(cctx, sctx, "a.example.com", "sni %s: %s", v,
                      "a.example.com first");
    full_d = full_run(cctx, sctx, "localhost", "sni %s: %s", v,
                      "default name first");

    offer(cctx, sctx, "a.example.com", &full_a, 1, "sni %s: %s", v,
          "a.example.com again");

    offer(cctx, sctx, "localhost", &full_d, 1, "sni %s: %s", v,
          "default name again");

    /* each name's session offered for the other name */
    for (i = 0; i < 2; i++) {
        from = i ? &full_d : &full_a;
        server = sp_pair_new(sctx, NULL, NULL);
        client = sp_pair_new_with_session(cctx, cross[i].name, from->session,
                                          from->len, NULL);
        ok(client && handshake(client, server), "sni %s: %s", v,
           cross[i].what);
        is_int(sp_pair_session_reused(server), 0, "sni: not resumed");
        is_str(sp_pair_context_name(server), cross[i].context,
               cross[i].creds);
        sp_pair_free(client);
        sp_pair_free(server);
    }

    run_free(&full_a);
    run_free(&full_d);
    ok(error_queue_empty(), "sni %s: OpenSSL error queue empty", v);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* ---- client-certificate sessions ---------------------------------------- */

typedef struct {
    int     secure;
    int     reused;
    int     authorized;
    char    error[64];
    char    subject[256];
    char    fingerprint[128];
    int     has_cert;
} auth_view;


static auth_view
auth_run(sp_ctx *cctx, sp_ctx *sctx, const uint8_t *sess, size_t len,
    uint8_t **out, size_t *out_len)
{
    auth_view      v;
    sp_pair       *client, *server;
    sp_peer_cert  *peer;
    const char    *e;

    memset(&v, 0, sizeof(v));
    server = sp_pair_new(sctx, NULL, NULL);
    client = sess ? sp_pair_new_with_session(cctx, "localhost", sess, len,
                                             NULL)
                  : sp_pair_new(cctx, "localhost", NULL);

    v.secure = client && handshake(client, server);
    if (!v.secure) {
        diag("auth_run: server %d \"%s\"", sp_pair_error(server),
             sp_pair_error_message(server));
    }

    v.reused = sp_pair_session_reused(server);
    v.authorized = sp_pair_authorized(server);
    e = sp_pair_authorization_error(server);
    snprintf(v.error, sizeof(v.error), "%s", e ? e : "(null)");

    peer = sp_pair_peer_cert(server);
    if (peer) {
        v.has_cert = 1;
        snprintf(v.subject, sizeof(v.subject), "%s", peer->subject_line);
        snprintf(v.fingerprint, sizeof(v.fingerprint), "%s",
                 peer->fingerprint);
        sp_peer_cert_free(peer);
    }

    if (out) {
        *out = client ? export_session(client, out_len) : NULL;
    }

    sp_pair_free(client);
    sp_pair_free(server);
    return v;
}


static void
test_client_cert(int version, const char *base, int authorized,
    const char *error, int use_store)
{
    test_store  st;
    sp_ctx     *sctx, *cctx;
    auth_view   full, res;
    uint8_t    *sess = NULL;
    size_t      len = 0;
    char        name[96];

    snprintf(name, sizeof(name), "client cert %s %s%s", base, vname(version),
             use_store ? " (store)" : "");

    store_init(&st, time(NULL));
    sctx = use_store ? store_server("server-ec", "ca.crt", &st)
                     : ctx_for(SP_SERVER, "server-ec", "ca.crt");
    sp_ctx_set_request_cert(sctx, 1);
    sp_ctx_set_reject_unauthorized(sctx, 0);
    cctx = client_ctx(version, base);

    full = auth_run(cctx, sctx, NULL, 0, &sess, &len);
    ok(full.secure && !full.reused, "%s: full handshake", name);
    is_int(full.authorized, authorized, "client cert: full: authorized");
    is_str(full.error, error, "client cert: full: authorization error");
    ok(full.has_cert, "%s: full: server has the certificate: %s", name,
       full.subject);
    ok(sess != NULL, "%s: client has a session", name);

    res = auth_run(cctx, sctx, sess, len, NULL, NULL);
    ok(res.secure && res.reused, "%s: resumed", name);
    is_int(res.authorized, full.authorized,
           "client cert: resumed: same authorized");
    is_str(res.error, full.error,
           "client cert: resumed: same authorization error");
    ok(res.has_cert, "%s: resumed: server still has the certificate", name);
    is_str(res.subject, full.subject, "client cert: resumed: same subject");
    is_str(res.fingerprint, full.fingerprint,
           "client cert: resumed: same fingerprint");

    free(sess);
    ok(error_queue_empty(), "%s: OpenSSL error queue empty", name);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    store_free(&st);
}


/* ---- sessions that are not ------------------------------------------------ */

static void
test_bad_sessions(void)
{
    static const uint8_t  garbage[] = "this is not a DER SSL_SESSION at all";
    sp_ctx               *sctx, *cctx;
    sp_pair              *pair;
    run_t                 full;
    int                   err;
    unsigned              before;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_ctx(SP_TLS1_2, NULL);
    before = sp_ctx_connections(cctx);

    err = 0;
    pair = sp_pair_new_with_session(cctx, "localhost", garbage,
                                    sizeof(garbage), &err);
    ok(pair == NULL, "garbage session: no pair");
    is_int(err, SP_ERR_INVALID, "garbage session: SP_ERR_INVALID");

    err = 0;
    pair = sp_pair_new_with_session(cctx, "localhost", garbage, 0, &err);
    ok(pair == NULL && err == SP_ERR_INVALID, "empty session: SP_ERR_INVALID");

    err = 0;
    pair = sp_pair_new_with_session(cctx, "localhost", NULL, 10, &err);
    ok(pair == NULL && err == SP_ERR_INVALID, "NULL session: SP_ERR_INVALID");

    full = session_run(cctx, sctx, "localhost", NULL, 0);
    ok(full.session != NULL, "bad sessions: a real session to misuse");

    err = 0;
    pair = sp_pair_new_with_session(cctx, "localhost", full.session,
                                    full.len > 8 ? full.len - 8 : 0, &err);
    ok(pair == NULL && err == SP_ERR_INVALID,
       "truncated session: SP_ERR_INVALID (%d)", err);
    sp_pair_free(pair);

    {
        uint8_t  *longer = malloc(full.len + 4);

        ok(longer != NULL, "trailing bytes: buffer");
        memcpy(longer, full.session, full.len);
        memcpy(longer + full.len, "junk", 4);
        err = 0;
        pair = sp_pair_new_with_session(cctx, "localhost", longer,
                                        full.len + 4, &err);
        ok(pair == NULL && err == SP_ERR_INVALID,
           "session + trailing bytes: SP_ERR_INVALID (%d)", err);
        sp_pair_free(pair);
        free(longer);
    }

    err = 0;
    pair = sp_pair_new_with_session(sctx, NULL, full.session, full.len, &err);
    ok(pair == NULL, "session on a server context: no pair");
    is_int(err, SP_ERR_INVALID, "session on a server context: SP_ERR_INVALID");
    sp_pair_free(pair);

    is_int(sp_ctx_connections(cctx), before, "bad sessions: nothing counted");
    is_int(sp_ctx_connections(sctx), 0, "bad sessions: nothing counted (s)");

    run_free(&full);
    ok(error_queue_empty(), "bad sessions: OpenSSL error queue empty");
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


/* TLS 1.2 with tickets on: the server still has a session id. */
static void
test_session_id_tickets(void)
{
    sp_ctx         *sctx, *cctx;
    sp_pair        *client, *server;
    const uint8_t  *id;
    size_t          len;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_ctx(SP_TLS1_2, NULL);
    new_ends(sctx, cctx, &client, &server);

    ok(handshake(client, server), "session id, tickets on: handshake");
    /*
     * OpenSSL gives a session that travels in a ticket an empty id
     * (RFC 5077): the pair says "none" the documented way.
     */
    id = sp_pair_session_id(server, &len);
    ok(id == NULL ? len == 0 : len == 32,
       "session id, tickets on: %s, %zu bytes", id ? "an id" : "none", len);

    sp_pair_free(client);
    sp_pair_free(server);
    ok(error_queue_empty(), "session id: OpenSSL error queue empty");
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


int
main(void)
{
    static const int  versions[] = { SP_TLS1_2, SP_TLS1_3 };
    size_t            i;
    char              cmd[600];

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/t_session.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }

    test_store_tls12();
    test_store_wrong_answer();
    test_store_trailing_bytes();
    test_store_eviction();
    test_cache_none();
    test_store_tls13();
    test_session_id_tickets();

    for (i = 0; i < 2; i++) {
        test_tickets(versions[i]);
        test_store_with_tickets(versions[i]);
        test_random_keys(versions[i]);
        test_shared_key(versions[i], 80);
        test_shared_key(versions[i], 48);
        test_rotation(versions[i], 80);
        test_rotation(versions[i], 48);
        test_apart(versions[i]);
        test_apart_ctx_policy(versions[i]);
        test_apart_sni(versions[i]);
        test_client_cert(versions[i], "client", 1, "(null)", 0);
        test_client_cert(versions[i], "client-self", 0,
                         "DEPTH_ZERO_SELF_SIGNED_CERT", 0);
    }

    test_client_cert(SP_TLS1_2, "client", 1, "(null)", 1);
    test_client_cert(SP_TLS1_2, "client-self", 0,
                     "DEPTH_ZERO_SELF_SIGNED_CERT", 1);

    test_key_errors();
    test_ticket_count();
    test_timeout();
    test_session_expires();
    test_apart_store();
    test_bad_sessions();

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        diag("could not remove %s", tmpdir);
    }

    return done_testing();
}
