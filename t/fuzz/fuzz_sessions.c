/*
 * fuzz_sessions: the sessions API (runtime/session.c): ticket key
 * material, a client's exported session given back to
 * sp_pair_new_with_session(), and what a host session store's find()
 * returns to a server during a handshake.
 *
 * At start-up, for every client configuration of setup.c and each kind
 * of session (tickets under a known key, or the host's store with
 * tickets off), a full handshake gives the client's session and what the
 * store was given, and a second conversation resuming it is recorded
 * (resume.c).  Real sessions are then mutated, not only random bytes.
 *
 * Input: byte 0 bits 0-1 the mode, bit 2 the kind (mode 1) or a store
 * that answers through find_async() (modes 2 and 3: see async_store), bit 3
 * sp_enc_in_eof() at the end (mode 2), bits 4-7 which configuration;
 * byte 1 the feed byte (mode 2, fz_feeder); then the payload.
 *
 *   0 keys     a flags byte (bit 0: resume afterwards), then key
 *              operations on a fresh server context, at most 64:
 *                op bits 0-1  0: u16 length, then that many bytes;
 *                             1: 48 bytes; 2: 80 bytes (fewer when the
 *                             input ends); 3: the key the sessions were
 *                             issued under (bit 4: the 48-byte second
 *                             key; bit 5: then byte [pos] ^= val, from
 *                             two more bytes)
 *                op bit 2     sp_ctx_add_ticket_key_file() of a file
 *                             holding them (bit 3: a missing file)
 *              Exactly 48 and 80 bytes are accepted; anything else is
 *              refused with SP_ERR_INVALID (SP_ERR_LOAD from a file) and
 *              a message naming the size (and the file).  The context's
 *              keys are the ones accepted, in order, parsed as nginx's
 *              ssl_session_ticket_key (name, then AES and HMAC keys for
 *              48 bytes, HMAC and AES keys for 80); before any, its own
 *              random key.  Resuming afterwards: the handshake always
 *              completes (TICKET_BAD_AES too: a full handshake); it
 *              resumes exactly when the first key of that name is the
 *              issuing key; the client's new ticket is under the first
 *              key.
 *   1 client   a session spec: the client's session of that kind and
 *              configuration, edited and truncated, or raw bytes, given
 *              to sp_pair_new_with_session(), which must refuse with
 *              SP_ERR_INVALID exactly what OpenSSL cannot parse; a pair
 *              made talks to a live server of that kind; the session
 *              unchanged must resume.
 *   2 store    a session spec for the store's find(): the entry asked
 *              for, edited and truncated, or raw bytes, or a miss, an
 *              empty answer, an answer longer than the room; the
 *              recorded client conversation resuming a stored session is
 *              replayed to a server (fed as the feed byte says).  A
 *              session that does not parse is never resumed; the entry
 *              unchanged resumes and the replay completes.
 *   3 live     the same find() answers to a server talking to a live
 *              client offering the real session: whatever find() gives
 *              that is not a session, the handshake completes, without
 *              resuming ("a handshake never fails because of the cache").
 *
 * A session spec: a byte s (bit 0: raw bytes follow, instead of edits;
 * bit 1: truncate to a u16 that follows, modulo the length + 1; bits 2-3
 * find()'s behaviour; bit 4: a count and field edits follow, set through
 * OpenSSL's setters on the session parsed: resume.h FZ_FIELD_*; bits 5-7:
 * when an asynchronous store answers), then the
 * raw bytes or 4-byte edits (fz_apply_edits) to the real session.
 *
 * Everywhere: invariants.c's pair invariants after every call, the OpenSSL
 * error queue empty, every store add() checked (resume.c), no leak.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "common.h"
#include "resume.h"


#define MAX_KEY_OPS  64

static int         keyfd = -1;
static char        keypath[64];
static const char  missing[] = "/nonexistent/fuzz-ticket-key";


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t  i, n[FZ_KINDS], good;
    int     k;

    (void) argc;

    fz_rng_install();
    fz_certs_init((*argv)[0]);
    fz_server_init();

    good = fz_resume_init(getenv("SP_FUZZ_VERBOSE") != NULL);

    for (k = 0; k < FZ_KINDS; k++) {
        n[k] = 0;
        for (i = 0; i < fz_nclient_cfgs; i++) {
            n[k] += fz_resume_index(k, i) >= 0;
        }
    }

    fprintf(stderr, "fuzz_sessions: %zu + %zu sessions (tickets + store), "
            "%zu resume and replay exactly\n", n[0], n[1], good);

    if (n[0] == 0 || n[1] == 0) {
        fz_die("no sessions to start from");
    }

    /* ticket key files live in memory */
    keyfd = memfd_create("fuzz-ticket-key", 0);
    if (keyfd < 0) {
        fz_die("memfd_create failed");
    }
    snprintf(keypath, sizeof(keypath), "/proc/self/fd/%d", keyfd);

    ERR_clear_error();
    return 0;
}


static int
parses(const uint8_t *p, size_t len)
{
    SSL_SESSION    *sess;
    const uint8_t  *end = p + len;

    if (len == 0) {
        return 0;
    }

    sess = d2i_SSL_SESSION(NULL, &p, (long) len);
    SSL_SESSION_free(sess);
    ERR_clear_error();

    /* a session and nothing else, as the runtime reads one */
    return sess != NULL && p == end;
}


/* ---- mode 0: ticket keys ------------------------------------------------ */

typedef struct {
    uint8_t  b[80];
    size_t   len;
} key_model;


static void
check_keys(const sp_ctx *ctx, const key_model *m, size_t n)
{
    const sp_ticket_key  *k;
    size_t                i;

    if (n == 0) {
        FZ_ASSERT(ctx->random_ticket_key && ctx->nticket_keys == 1,
                  "no key accepted, yet %zu keys (random %d)",
                  ctx->nticket_keys, ctx->random_ticket_key);
        return;
    }

    FZ_ASSERT(!ctx->random_ticket_key && ctx->nticket_keys == n,
              "%zu keys accepted, the context has %zu (random %d)", n,
              ctx->nticket_keys, ctx->random_ticket_key);

    for (i = 0; i < n; i++) {
        k = &ctx->ticket_keys[i];

        /* nginx's ssl_session_ticket_key: 16 bytes of name, then AES-128
           and HMAC keys of 16 bytes, or HMAC and AES-256 keys of 32 */
        FZ_ASSERT(k->size == m[i].len, "key %zu: size %zu, added %zu", i,
                  k->size, m[i].len);
        FZ_ASSERT(memcmp(k->name, m[i].b, 16) == 0, "key %zu: name", i);

        if (m[i].len == 48) {
            FZ_ASSERT(memcmp(k->aes_key, m[i].b + 16, 16) == 0
                      && memcmp(k->hmac_key, m[i].b + 32, 16) == 0,
                      "key %zu (48 bytes): AES or HMAC key", i);
        } else {
            FZ_ASSERT(memcmp(k->hmac_key, m[i].b + 16, 32) == 0
                      && memcmp(k->aes_key, m[i].b + 48, 32) == 0,
                      "key %zu (80 bytes): HMAC or AES key", i);
        }
    }
}


/*
 * What becomes of a ticket issued under fz_ticket_key80 on a server with
 * these keys: the first key of its name decides (session.c).
 */
enum {
    TICKET_UNKNOWN,       /* no key of that name: a full handshake */
    TICKET_RESUMES,       /* the issuing key itself */
    TICKET_BAD_HMAC,      /* that name, another HMAC key: a full handshake */
    TICKET_BAD_AES        /* that name and HMAC key, another AES key: the
                             HMAC verifies, the decryption fails */
};


static int
ticket_fate(const sp_ctx *ctx)
{
    const sp_ticket_key  *k;
    size_t                i;

    for (i = 0; i < ctx->nticket_keys; i++) {
        k = &ctx->ticket_keys[i];

        if (memcmp(k->name, fz_ticket_key80, 16) != 0) {
            continue;
        }

        /* a 48-byte key's 16-byte HMAC key never acts as this 32-byte one
           (HMAC pads with zeros, and its last 16 bytes are not zero) */
        if (k->size != 80
            || memcmp(k->hmac_key, fz_ticket_key80 + 16, 32) != 0)
        {
            return TICKET_BAD_HMAC;
        }

        return memcmp(k->aes_key, fz_ticket_key80 + 48, 32) == 0
               ? TICKET_RESUMES : TICKET_BAD_AES;
    }

    return TICKET_UNKNOWN;
}


static void
add_key(sp_ctx *ctx, fz_reader *r, key_model *m, size_t *n)
{
    const uint8_t  *p;
    uint8_t         buf[80];
    const char     *path, *msg;
    unsigned        op, src;
    size_t          len, pos;
    char            want[64];
    int             rc, file, ok;

    op = fz_byte(r);
    src = op & 3;
    file = (op & FZ_KEY_FILE) != 0;
    path = (op & FZ_KEY_MISSING) ? missing : keypath;

    if (src == FZ_KEY_ISSUING) {
        len = (op & FZ_KEY_SECOND) ? 48 : 80;
        memcpy(buf, (op & FZ_KEY_SECOND) ? fz_ticket_key48 : fz_ticket_key80,
               len);

        if (op & FZ_KEY_FLIP) {
            pos = fz_byte(r) % len;
            buf[pos] ^= (uint8_t) (fz_byte(r) ? : 0xff);
        }

        p = buf;

    } else {
        len = src == FZ_KEY_BYTES ? fz_u16(r)
                                  : (src == FZ_KEY_48 ? 48 : 80);
        if (len > r->left) {
            len = r->left;
        }

        p = r->p;
        r->p += len;
        r->left -= len;
    }

    ok = (len == 48 || len == 80);
    sp_error_clear(&ctx->error);        /* what this call says, alone */

    if (file) {
        if (ftruncate(keyfd, 0) != 0
            || (len && pwrite(keyfd, p, len, 0) != (ssize_t) len))
        {
            fz_die("writing the key file failed");
        }

        rc = sp_ctx_add_ticket_key_file(ctx, path);
        fz_check_err_queue("sp_ctx_add_ticket_key_file");
        msg = sp_ctx_error(ctx);

        if (path == missing) {
            FZ_ASSERT(rc == SP_ERR_LOAD && strstr(msg, missing) != NULL,
                      "a missing key file: %d \"%s\"", rc, msg);
            return;
        }

        if (ok) {
            FZ_ASSERT(rc == SP_OK, "a key file of %zu bytes refused: %d "
                      "\"%s\"", len, rc, msg);
        } else {
            if (len > 80) {
                snprintf(want, sizeof(want), "not over 80");
            } else {
                snprintf(want, sizeof(want), "not %zu", len);
            }
            FZ_ASSERT(rc == SP_ERR_LOAD && strstr(msg, keypath) != NULL
                      && strstr(msg, want) != NULL,
                      "a key file of %zu bytes: %d \"%s\"", len, rc, msg);
        }

    } else {
        rc = sp_ctx_add_ticket_key(ctx, p, len);
        fz_check_err_queue("sp_ctx_add_ticket_key");
        msg = sp_ctx_error(ctx);

        if (ok) {
            FZ_ASSERT(rc == SP_OK, "a key of %zu bytes refused: %d \"%s\"",
                      len, rc, msg);
        } else {
            snprintf(want, sizeof(want), "not %zu", len);
            FZ_ASSERT(rc == SP_ERR_INVALID && strstr(msg, want) != NULL,
                      "a key of %zu bytes: %d \"%s\"", len, rc, msg);
        }
    }

    if (ok) {
        memcpy(m[*n].b, p, len);
        m[*n].len = len;
        (*n)++;
    }
}


static void
check_ticket_name(const fz_buf *session, const sp_ctx *ctx)
{
    SSL_SESSION          *sess;
    const unsigned char  *p = session->data, *tick;
    size_t                tlen;

    sess = d2i_SSL_SESSION(NULL, &p, (long) session->len);
    FZ_ASSERT(sess != NULL, "sp_pair_get_session() exported %zu bytes that "
              "do not parse", session->len);

    if (SSL_SESSION_has_ticket(sess)) {
        SSL_SESSION_get0_ticket(sess, &tick, &tlen);
        FZ_ASSERT(tlen >= 16 && memcmp(tick, ctx->ticket_keys[0].name, 16)
                                == 0,
                  "the client's new ticket is not under the first key");
    }

    SSL_SESSION_free(sess);
    ERR_clear_error();
}


static void
mode_keys(fz_resume *res, const uint8_t *data, size_t size)
{
    key_model      m[MAX_KEY_OPS];
    fz_transcript  t;
    fz_reader      r;
    fz_buf         out = { 0 };
    sp_ctx        *ctx;
    size_t         n = 0, ops;
    unsigned       flags;
    int            err, expect, fate;

    r.p = data;
    r.left = size;
    flags = fz_byte(&r);

    fz_rng_reset(FZ_RNG_INIT, 0x4444);
    fz_rng_select(FZ_RNG_INIT);
    ctx = fz_server_ctx_new(FZ_SERVER_LENIENT);
    check_keys(ctx, m, 0);

    for (ops = 0; r.left > 0 && ops < MAX_KEY_OPS; ops++) {
        add_key(ctx, &r, m, &n);
        check_keys(ctx, m, n);
    }

    if (flags & 1) {
        fate = ticket_fate(ctx);
        expect = res->reused && fate == TICKET_RESUMES;

        err = fz_record_ex(res->cfg, ctx, FZ_SERVER_SEED, res->session.data,
                           res->session.len, &t, &out);
        FZ_ASSERT(err == SP_OK, "its own session refused: %d", err);

        /*
         * A ticket whose HMAC verifies but whose decryption fails (that
         * name and HMAC key, another AES key) must give a full handshake
         * (regressions/sessions/ticket-bad-aes-*): OpenSSL 3.0 leaves
         * "bad decrypt" on the error queue, which session.c clears.
         */
        FZ_ASSERT(t.secure == res->resumed.secure,
                  "%s: the handshake failed under these keys (fate %d): "
                  "client %d \"%s\", server %d \"%s\"",
                  res->cfg->name, fate, t.client_error, t.client_message,
                  t.server_error, t.server_message);
        FZ_ASSERT(t.reused_server == expect && t.reused_client == expect,
                  "%s: resumed %d/%d (server/client) under these keys "
                  "(fate %d), expected %d", res->cfg->name,
                  t.reused_server, t.reused_client, fate, expect);

        if (out.len) {
            check_ticket_name(&out, ctx);
        }

        if (getenv("SP_FUZZ_VERBOSE") != NULL) {
            fprintf(stderr, "fuzz: %zu keys, ticket fate %d, resumed "
                    "%d/%d\n", n, fate, t.reused_server, t.reused_client);
        }

        fz_transcript_free(&t);
        fz_buf_free(&out);
    }

    sp_ctx_unref(ctx);
    fz_check_err_queue("sp_ctx_unref");
}


/* ---- session specs ------------------------------------------------------ */

/* Sets the store's find() answers from a spec; returns the spec byte. */
static unsigned
read_spec(fz_store *st, const uint8_t *data, size_t size)
{
    fz_reader  r;
    unsigned   s;
    size_t     n, nedits;

    r.p = data;
    r.left = size;
    s = fz_byte(&r);

    st->behaviour = (int) ((s >> 2) & 3);

    if (s & FZ_SPEC_TRUNCATE) {
        st->truncate = 1;
        st->trunc_len = fz_u16(&r);
    }

    if (s & FZ_SPEC_FIELDS) {
        n = fz_byte(&r) % (FZ_MAX_FIELDS + 1);
        if (n * 9 > r.left) {
            n = r.left / 9;
        }
        st->fields = r.p;
        st->nfields = n;
        r.p += n * 9;
        r.left -= n * 9;
    }

    if (s & FZ_SPEC_RAW) {
        st->use_raw = 1;
        st->raw = r.p;
        st->raw_len = r.left;

    } else {
        nedits = r.left / 4 < FZ_MAX_EDITS ? r.left / 4 : FZ_MAX_EDITS;
        st->edits = r.p;
        st->nedits = nedits;
    }

    return s;
}


/* ---- mode 1: the client's session --------------------------------------- */

static void
mode_client(fz_resume *res, const uint8_t *data, size_t size)
{
    static const uint8_t  none[1];
    fz_store              spec;
    fz_transcript         t;
    fz_buf                bytes = { 0 }, out = { 0 };
    sp_ctx               *ctx;
    int                   err, ok, same;

    /* the spec as the store would apply it, to the client's session */
    memset(&spec, 0, sizeof(spec));
    fz_store_reset(&spec);
    read_spec(&spec, data, size);
    fz_store_bytes(&spec, res->session.data, res->session.len, &bytes);

    ok = parses(bytes.data ? bytes.data : none, bytes.len);
    same = bytes.len == res->session.len && bytes.len > 0
           && memcmp(bytes.data, res->session.data, bytes.len) == 0;

    fz_store_reset(&res->store);
    ctx = fz_resume_server_ctx(res->kind, &res->store);

    err = fz_record_ex(res->cfg, ctx, FZ_SERVER_SEED,
                       bytes.data ? bytes.data : none, bytes.len, &t, &out);

    if (ok) {
        FZ_ASSERT(err == SP_OK, "sp_pair_new_with_session refused a "
                  "session of %zu bytes that parses: %d", bytes.len, err);
    } else {
        FZ_ASSERT(err == SP_ERR_INVALID, "sp_pair_new_with_session of %zu "
                  "bytes that do not parse: %d", bytes.len, err);
    }

    if (err == SP_OK && same && res->reused) {
        FZ_ASSERT(t.secure && t.reused_client && t.reused_server,
                  "%s: its own session unchanged did not resume "
                  "(secure %d, resumed %d/%d)", res->cfg->name, t.secure,
                  t.reused_client, t.reused_server);
    }

    if (out.len) {
        FZ_ASSERT(parses(out.data, out.len), "sp_pair_get_session() "
                  "exported %zu bytes that do not parse", out.len);
    }

    if (getenv("SP_FUZZ_VERBOSE") != NULL) {
        fprintf(stderr, "fuzz: client session of %zu bytes (%s): %d, "
                "resumed %d/%d\n", bytes.len,
                same ? "as exported" : (ok ? "a session" : "not a session"),
                err, t.reused_server, t.reused_client);
    }

    if (err == SP_OK) {
        fz_transcript_free(&t);
    }

    sp_ctx_unref(ctx);
    fz_store_reset(&res->store);
    fz_buf_free(&bytes);
    fz_buf_free(&out);
    fz_buf_free(&spec.last);
}


/* ---- mode 2: find() during a replayed handshake ------------------------- */

/*
 * Header bit 2 (modes 2 and 3): the store answers through find_async();
 * the spec byte's bits 5-7: 0 from inside it, else after 0 to 3 chunks
 * more (bits 6-7) of the client's bytes.
 */
static void
async_store(fz_store *st, unsigned hdr, unsigned s)
{
    st->async = (hdr >> 2) & 1;
    st->at_once = (s >> 5) == 0;
}


static void
mode_store(fz_resume *res, unsigned hdr, unsigned feed, const uint8_t *data,
    size_t size)
{
    fz_store   *st = &res->store;
    fz_feeder   f;
    fz_track    t;
    sp_pair    *pair;
    sp_ctx     *ctx;
    unsigned    s;
    int         err, served_session, reused;

    fz_store_reset(st);
    s = read_spec(st, data, size);
    async_store(st, hdr, s);
    ctx = fz_resume_server_ctx(FZ_KIND_STORE, st);

    fz_rng_reset(FZ_RNG_SERVER, FZ_SERVER_SEED);
    fz_rng_select(FZ_RNG_SERVER);
    fz_now = 1000;

    pair = sp_pair_new(ctx, NULL, &err);
    FZ_ASSERT(pair != NULL && err == SP_OK, "sp_pair_new: %d", err);
    fz_track_init(&t, pair, SP_SERVER);
    fz_check(&t, "sp_pair_new", FZ_NO_RET);

    memset(&f, 0, sizeof(f));
    f.t = &t;
    f.stream = FZ_RNG_SERVER;
    f.feed = feed;
    f.eof = (hdr >> 3) & 1;
    f.steps = res->resumed.server_steps;
    f.nsteps = res->resumed.nserver_steps;
    f.answer = fz_store_answer;
    f.answer_arg = st;
    f.delay = s >> 6;
    fz_feed(&f, res->resumed.c2s.data, res->resumed.c2s.len);
    FZ_ASSERT(st->pending == NULL || t.error,
              "the pair waits still at the end (state 0x%x)",
              sp_pair_state(pair));

    fz_check_facts(&t);
    fz_check_err_queue("facts");

    /* the first handshake's: a TLS 1.2 renegotiation never resumes */
    served_session = st->served && parses(st->last.data, st->last.len);
    reused = t.was_secure ? t.reused : SSL_session_reused(pair->ssl);

    if (!served_session) {
        FZ_ASSERT(!reused, "%s: resumed, but find() served no session "
                  "(%u finds, %u served, %zu bytes)", res->cfg->name,
                  st->finds, st->served, st->last.len);
    }

    if (st->last_original && st->finds == 1 && res->reused && res->exact
        && !(feed & 4))
    {
        FZ_ASSERT(t.was_secure && !t.error && reused,
                  "%s: the stored session unchanged: secure %d, error %d, "
                  "resumed %d", res->cfg->name, t.was_secure, t.error,
                  reused);
    }

    if (getenv("SP_FUZZ_VERBOSE") != NULL) {
        fprintf(stderr, "fuzz: store: %u finds, %u served (%zu bytes, %s), "
                "resumed %d\n", st->finds, st->served, st->last.len,
                st->last_original ? "as stored"
                                  : (served_session ? "a session"
                                                    : "not a session"),
                reused);
        fz_summary(&t, stderr);
    }

    sp_pair_free(pair);
    fz_check_err_queue("sp_pair_free");
    sp_ctx_unref(ctx);
    fz_store_reset(st);
}


/* ---- mode 3: find() with a live client ---------------------------------- */

static void
mode_live(fz_resume *res, unsigned hdr, const uint8_t *data, size_t size)
{
    fz_store       *st = &res->store;
    fz_transcript   t;
    fz_buf          out = { 0 };
    sp_ctx         *ctx;
    int             err, served_session;

    fz_store_reset(st);
    async_store(st, hdr, read_spec(st, data, size));

    /* the live pump has no host to answer later: from inside */
    st->at_once = 1;
    ctx = fz_resume_server_ctx(FZ_KIND_STORE, st);

    err = fz_record_ex(res->cfg, ctx, FZ_SERVER_SEED, res->session.data,
                       res->session.len, &t, &out);
    FZ_ASSERT(err == SP_OK, "its own session refused: %d", err);

    served_session = st->served && parses(st->last.data, st->last.len);

    if (!served_session) {
        FZ_ASSERT(t.secure == res->resumed.secure && !t.reused_server
                  && !t.reused_client,
                  "%s: find() served no session (%u finds, %u served, %zu "
                  "bytes): secure %d, resumed %d/%d", res->cfg->name,
                  st->finds, st->served, st->last.len, t.secure,
                  t.reused_server, t.reused_client);
    }

    if (st->last_original && st->finds == 1 && res->reused) {
        FZ_ASSERT(t.secure && t.reused_server && t.reused_client,
                  "%s: the stored session unchanged: secure %d, resumed "
                  "%d/%d", res->cfg->name, t.secure, t.reused_server,
                  t.reused_client);
    }

    if (out.len) {
        FZ_ASSERT(parses(out.data, out.len), "sp_pair_get_session() "
                  "exported %zu bytes that do not parse", out.len);
    }

    if (getenv("SP_FUZZ_VERBOSE") != NULL) {
        fprintf(stderr, "fuzz: store: %u finds, %u served (%zu bytes, %s), "
                "%u adds, resumed %d/%d\n", st->finds, st->served,
                st->last.len, st->last_original ? "as stored"
                              : (served_session ? "a session"
                                                : "not a session"),
                st->adds, t.reused_server, t.reused_client);
    }

    fz_transcript_free(&t);
    fz_buf_free(&out);
    sp_ctx_unref(ctx);
    fz_store_reset(st);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_resume  *res;
    unsigned    mode, kind, idx;

    if (size < 2) {
        return 0;
    }

    mode = data[0] & 3;
    kind = (mode == FZ_SESS_KEYS) ? FZ_KIND_TICKETS
           : (mode == FZ_SESS_CLIENT) ? (data[0] >> 2) & 1 : FZ_KIND_STORE;
    idx = data[0] >> 4;
    res = fz_resume_pick((int) kind, idx);

    fz_now = 1000;
    ERR_clear_error();

    switch (mode) {
    case FZ_SESS_KEYS:
        mode_keys(res, data + 2, size - 2);
        break;
    case FZ_SESS_CLIENT:
        mode_client(res, data + 2, size - 2);
        break;
    case FZ_SESS_STORE:
        mode_store(res, data[0], data[1], data + 2, size - 2);
        break;
    default:
        mode_live(res, data[0], data + 2, size - 2);
        break;
    }

    fz_check_err_queue("the input");
    return 0;
}
