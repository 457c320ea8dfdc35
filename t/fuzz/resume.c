/*
 * Session material for fuzz_sessions and its seeds: see resume.h.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "common.h"
#include "resume.h"


/* The session lifetime of the contexts (the runtime's default). */
#define FZ_SESSION_TIMEOUT  300

#define FZ_TIME_MAX \
    ((time_t) (((uintmax_t) 1 << (sizeof(time_t) * CHAR_BIT - 1)) - 1))


/* ---- the store ---------------------------------------------------------- */

static int
store_add(void *arg, const uint8_t *id, size_t id_len,
    const uint8_t *session, size_t len, time_t expires)
{
    fz_store             *st = arg;
    fz_store_entry       *e;
    SSL_SESSION          *sess;
    const unsigned char  *p = session;
    const uint8_t        *sid;
    unsigned              sid_len;
    size_t                i;
    long                  timeout;
    time_t                want;

    st->adds++;

    FZ_ASSERT(id_len >= 1 && id_len <= 32, "store add(): an id of %zu "
              "bytes", id_len);
    FZ_ASSERT(len > 0 && len <= 64 * 1024, "store add(): a session of %zu "
              "bytes", len);
    /* what the runtime stores, it must be able to read back */
    sess = d2i_SSL_SESSION(NULL, &p, (long) len);
    FZ_ASSERT(sess != NULL, "store add(): the session does not parse");
    FZ_ASSERT(p == session + len, "store add(): %zu bytes after the "
              "session", (size_t) (session + len - p));
    sid = SSL_SESSION_get_id(sess, &sid_len);
    FZ_ASSERT(sid_len == id_len && memcmp(sid, id, id_len) == 0,
              "store add(): the session's id is not the id it is stored "
              "under");

    /*
     * The expiry is in the host's time: its clock plus the session's
     * lifetime (the context's for a new session; a TLS 1.3 ticket made
     * while resuming keeps the lifetime of the session it came from).
     */
    timeout = SSL_SESSION_get_timeout(sess);
    if (__builtin_add_overflow(fz_now, timeout, &want)) {
        /* past the end of time_t: as far as it goes */
        want = timeout > 0 ? FZ_TIME_MAX : -FZ_TIME_MAX - 1;
    }
    FZ_ASSERT(expires == want,
              "store add(): expires at %lld, the host's clock is %lld and "
              "the session lives %ld s", (long long) expires,
              (long long) fz_now, timeout);
    FZ_ASSERT(timeout == FZ_SESSION_TIMEOUT || st->finds > 0,
              "store add(): a new session lives %ld s", timeout);
    SSL_SESSION_free(sess);
    ERR_clear_error();

    /*
     * An id seen since the last reset is replaced; one of the kept entries
     * is shadowed (find() looks from the newest), so that what an input
     * stores never reaches the next input.
     */
    for (i = st->keep; i < st->n; i++) {
        if (st->e[i].id_len == id_len && memcmp(st->e[i].id, id, id_len) == 0)
        {
            break;
        }
    }

    if (i == st->n) {
        if (st->n == FZ_STORE_MAX) {
            return -1;                  /* full: a store may refuse */
        }
        st->n++;
    }

    e = &st->e[i];
    free(e->bytes);
    e->bytes = malloc(len);
    FZ_ASSERT(e->bytes != NULL, "harness out of memory");
    memcpy(e->bytes, session, len);
    e->len = len;
    memcpy(e->id, id, id_len);
    e->id_len = id_len;
    e->expires = expires;
    return 0;
}


static void
apply_fields(const uint8_t *fields, size_t n, const uint8_t *orig,
    size_t len, fz_buf *out)
{
    SSL_SESSION          *sess;
    const unsigned char  *p = orig;
    unsigned char        *der = NULL;
    uint8_t               bytes[256];
    char                  name[64];
    uint64_t              v;
    size_t                i, k, blen;
    int                   dlen;

    out->len = 0;
    sess = len ? d2i_SSL_SESSION(NULL, &p, (long) len) : NULL;

    if (sess == NULL) {
        ERR_clear_error();
        fz_buf_add(out, orig, len);
        return;
    }

    for (i = 0; i < n; i++, fields += 9) {
        for (v = 0, k = 1; k < 9; k++) {
            v = v << 8 | fields[k];
        }

        blen = v & 0xff;
        for (k = 0; k < blen; k++) {
            bytes[k] = fields[1 + k % 8];
        }

        switch (fields[0] % FZ_FIELDS) {
        case FZ_FIELD_TIMEOUT:
            (void) SSL_SESSION_set_timeout(sess, (long) v);
            break;
        case FZ_FIELD_TIME:
            (void) SSL_SESSION_set_time(sess, (long) v);
            break;
        case FZ_FIELD_VERSION:
            (void) SSL_SESSION_set_protocol_version(sess, (int) (v & 0xffff));
            break;
        case FZ_FIELD_ID:
            (void) SSL_SESSION_set1_id(sess, bytes, (unsigned) blen);
            break;
        case FZ_FIELD_ID_CONTEXT:
            (void) SSL_SESSION_set1_id_context(sess, bytes, (unsigned) blen);
            break;
        case FZ_FIELD_MASTER_KEY:
            (void) SSL_SESSION_set1_master_key(sess, bytes, blen);
            break;
        case FZ_FIELD_HOSTNAME:
            for (k = 0; k < (v & 0x3f); k++) {
                name[k] = (char) (fields[1 + k % 8] | 1);
            }
            name[k] = '\0';
            (void) SSL_SESSION_set1_hostname(sess, (v & 0x3f) ? name : NULL);
            break;
        case FZ_FIELD_ALPN:
            (void) SSL_SESSION_set1_alpn_selected(sess, blen ? bytes : NULL,
                                                  blen);
            break;
        case FZ_FIELD_EARLY_DATA:
            (void) SSL_SESSION_set_max_early_data(sess, (uint32_t) v);
            break;
        default:
            (void) SSL_SESSION_set1_ticket_appdata(sess, bytes, blen);
            break;
        }
    }

    dlen = i2d_SSL_SESSION(sess, &der);
    if (dlen > 0) {
        fz_buf_add(out, der, (size_t) dlen);
    } else {
        fz_buf_add(out, orig, len);
    }

    OPENSSL_free(der);
    SSL_SESSION_free(sess);
    ERR_clear_error();
}


void
fz_store_bytes(const fz_store *st, const uint8_t *orig, size_t len,
    fz_buf *out)
{
    fz_buf  base = { 0 };

    if (st->use_raw) {
        orig = st->raw;
        len = st->raw_len;
    }

    if (st->nfields) {
        apply_fields(st->fields, st->nfields, orig, len, &base);
        orig = base.data;
        len = base.len;
    }

    fz_apply_edits(orig, len, st->edits, st->nedits, out);

    if (st->truncate) {
        out->len = st->trunc_len % (out->len + 1);
    }

    fz_buf_free(&base);
}


static int
store_find(void *arg, const uint8_t *id, size_t id_len, uint8_t *buf,
    size_t *len)
{
    fz_store        *st = arg;
    fz_store_entry  *e = NULL;
    size_t           i;

    st->finds++;
    st->last_entry = -1;

    FZ_ASSERT(id_len >= 1 && id_len <= 32, "store find(): an id of %zu "
              "bytes", id_len);
    FZ_ASSERT(buf != NULL && *len >= 16 * 1024, "store find(): room for "
              "%zu bytes", *len);

    for (i = st->n; i-- > 0; ) {
        if (st->e[i].id_len == id_len && memcmp(st->e[i].id, id, id_len) == 0)
        {
            e = &st->e[i];
            st->last_entry = (int) i;
            break;
        }
    }

    switch (st->behaviour) {

    case FZ_FIND_MISS:
        return -1;

    case FZ_FIND_EMPTY:
        *len = 0;
        st->served++;
        st->last.len = 0;
        st->last_original = 0;
        return 0;

    case FZ_FIND_OVERLONG:
        *len += 1;
        st->served++;
        st->last.len = 0;
        st->last_original = 0;
        return 0;
    }

    if (e == NULL && !st->use_raw) {
        return -1;
    }

    fz_store_bytes(st, e ? e->bytes : NULL, e ? e->len : 0, &st->last);

    if (st->last.len > *len) {
        return -1;
    }

    st->last_original = e != NULL && st->last.len == e->len
                        && memcmp(st->last.data, e->bytes, e->len) == 0;

    if (st->last.len) {
        memcpy(buf, st->last.data, st->last.len);
    }
    *len = st->last.len;
    st->served++;
    return 0;
}


/* find()'s answer, later or from inside: what the store serves. */
static int
store_find_async(void *arg, sp_pair *pair, const uint8_t *id, size_t id_len)
{
    static uint8_t   buf[64 * 1024 + 1];
    fz_store        *st = arg;
    size_t           len = sizeof(buf) - 1;
    int              rc;

    FZ_ASSERT(st->pending == NULL, "find_async() asked twice");
    FZ_ASSERT(sp_pair_state(pair) & SP_STATE_WAITING,
              "find_async() asked by a pair that does not wait");

    rc = store_find(st, id, id_len, buf, &len);

    /* what a two-level host reads of an answer before it copies it */
    if (rc == 0) {
        time_t  expires;
        int     e = sp_session_expires(buf, len, &expires);

        FZ_ASSERT(e == SP_OK || e == SP_ERR_INVALID,
                  "sp_session_expires() returned %d", e);
    }

    /* a miss said at once, as a store that knows it has nothing */
    if (rc != 0 && st->behaviour == FZ_FIND_MISS) {
        return -1;
    }

    /* an overlong answer is passed on: the pair must not read it */
    if (rc != 0) {
        len = 0;
    }

    if (st->at_once) {
        FZ_ASSERT(sp_pair_answer_session(pair, len ? buf : NULL, len)
                  == SP_OK, "an answer from inside find_async() refused");
        return 0;
    }

    st->answer.len = 0;
    fz_buf_add(&st->answer, buf, len <= 64 * 1024 ? len : 0);
    st->answer_found = len > 0;
    st->pending = pair;
    return 0;
}


int
fz_store_answer(void *arg, sp_pair *pair)
{
    fz_store  *st = arg;

    FZ_ASSERT(st->pending == pair, "the host answers a pair it never "
              "heard of");
    st->pending = NULL;

    return sp_pair_answer_session(pair,
                                  st->answer_found ? st->answer.data : NULL,
                                  st->answer.len);
}


sp_session_store
fz_store_iface(fz_store *st)
{
    sp_session_store  s;

    s.add = store_add;
    s.find = store_find;
    s.arg = st;
    s.find_async = store_find_async;
    return s;
}


void
fz_store_reset(fz_store *st)
{
    size_t  i;

    for (i = st->keep; i < st->n; i++) {
        free(st->e[i].bytes);
        memset(&st->e[i], 0, sizeof(st->e[i]));
    }

    st->n = st->keep;
    st->adds = st->finds = st->served = 0;
    st->last.len = 0;
    st->last_original = 0;
    st->last_entry = -1;
    st->behaviour = FZ_FIND_SERVE;
    st->use_raw = 0;
    st->raw = st->edits = st->fields = NULL;
    st->raw_len = st->nedits = st->nfields = 0;
    st->truncate = 0;
    st->trunc_len = 0;
    st->async = 0;
    st->at_once = 0;
    st->answer.len = 0;
    st->answer_found = 0;
    st->pending = NULL;
}


void
fz_store_free(fz_store *st)
{
    st->keep = 0;
    fz_store_reset(st);
    fz_buf_free(&st->last);
    fz_buf_free(&st->answer);
}


/* ---- contexts ----------------------------------------------------------- */

/* Fixed keys, so that sessions and seeds are the same in every process. */
const uint8_t  fz_ticket_key80[80] = {
    'f', 'u', 'z', 'z', '-', 't', 'i', 'c', 'k', 'e', 't', '-', 'k', '8',
    '0', '!',
    0x6b, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
    0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
    0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
    0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf
};

const uint8_t  fz_ticket_key48[48] = {
    'f', 'u', 'z', 'z', '-', 't', 'i', 'c', 'k', 'e', 't', '-', 'k', '4',
    '8', '!',
    0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41, 0x40, 0x3f, 0x3e, 0x3d,
    0x3c, 0x3b, 0x3a, 0x39,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb,
    0xcc, 0xcd, 0xce, 0xcf
};


sp_ctx *
fz_resume_server_ctx(int kind, fz_store *st)
{
    sp_session_store  iface;
    sp_ctx           *ctx;

    fz_rng_reset(FZ_RNG_INIT, 0x3333);
    fz_rng_select(FZ_RNG_INIT);

    ctx = fz_server_ctx_new(FZ_SERVER_LENIENT);

    if (kind == FZ_KIND_TICKETS) {
        if (sp_ctx_add_ticket_key(ctx, fz_ticket_key80, 80) != SP_OK
            || sp_ctx_add_ticket_key(ctx, fz_ticket_key48, 48) != SP_OK)
        {
            fz_die("ticket keys: %s", sp_ctx_error(ctx));
        }

    } else {
        iface = fz_store_iface(st);
        if (sp_ctx_set_session_tickets(ctx, 0) != SP_OK
            || sp_ctx_set_session_cache(ctx, st->async ? SP_SESSION_CACHE_ASYNC
                                                       : SP_SESSION_CACHE_STORE,
                                        &iface)
               != SP_OK)
        {
            fz_die("session store: %s", sp_ctx_error(ctx));
        }
    }

    fz_check_err_queue("fz_resume_server_ctx");
    return ctx;
}


/* ---- recording ---------------------------------------------------------- */

fz_resume  fz_resumes[FZ_KINDS][16];

static fz_resume  *have[FZ_KINDS][16];
static size_t      nhave[FZ_KINDS];


fz_resume *
fz_resume_pick(int kind, unsigned idx)
{
    return nhave[kind] ? have[kind][idx % nhave[kind]] : NULL;
}


int
fz_resume_index(int kind, size_t cfg)
{
    size_t  i;

    for (i = 0; i < nhave[kind]; i++) {
        if (have[kind][i] == &fz_resumes[kind][cfg]) {
            return (int) i;
        }
    }

    return -1;
}


size_t
fz_resume_init(int verbose)
{
    static const char *const  kinds[FZ_KINDS] = { "tickets", "store" };
    fz_transcript             full;
    fz_resume                *r;
    const char               *why;
    sp_ctx                   *ctx;
    size_t                    i, good = 0;
    int                       kind, err;

    for (kind = 0; kind < FZ_KINDS; kind++) {
        nhave[kind] = 0;

        for (i = 0; i < fz_nclient_cfgs && i < 16; i++) {
            r = &fz_resumes[kind][i];
            memset(r, 0, sizeof(*r));
            r->cfg = &fz_client_cfgs[i];
            r->kind = kind;
            r->found = -1;

            /*
             * A full handshake: the client's session, the store's.  Its
             * server draws other random bytes than every later one, or
             * a later full handshake would make the same session ids.
             */
            ctx = fz_resume_server_ctx(kind, &r->store);
            err = fz_record_ex(r->cfg, ctx, FZ_SERVER_SEED ^ 0xf0110000ULL,
                               NULL, 0, &full, &r->session);
            FZ_ASSERT(err == SP_OK, "%s: client pair: %d", r->cfg->name, err);
            fz_transcript_free(&full);
            sp_ctx_unref(ctx);
            r->store.keep = r->store.n;
            fz_store_reset(&r->store);

            if (r->session.len > 0) {
                have[kind][nhave[kind]++] = r;

            } else {
                if (verbose) {
                    fprintf(stderr, "  %-8s %-24s no session\n", kinds[kind],
                            r->cfg->name);
                }
                continue;
            }

            /* the conversation that resumes it */
            ctx = fz_resume_server_ctx(kind, &r->store);
            err = fz_record_ex(r->cfg, ctx, FZ_SERVER_SEED, r->session.data,
                               r->session.len, &r->resumed, NULL);
            FZ_ASSERT(err == SP_OK, "%s: its own session refused: %d",
                      r->cfg->name, err);
            sp_ctx_unref(ctx);

            r->reused = r->resumed.secure && r->resumed.reused_client
                        && r->resumed.reused_server;
            r->found = r->store.finds ? r->store.last_entry : -1;
            fz_store_reset(&r->store);

            ctx = fz_resume_server_ctx(kind, &r->store);
            why = fz_replay_check_ex(&r->resumed, ctx, r->session.data,
                                     r->session.len);
            sp_ctx_unref(ctx);
            fz_store_reset(&r->store);

            r->exact = why == NULL;
            if (r->reused && r->exact) {
                good++;
            }

            if (verbose) {
                fprintf(stderr, "  %-8s %-24s session %5zu  stored %zu  "
                        "c2s %6zu  %s  %s\n", kinds[kind], r->cfg->name,
                        r->session.len, r->store.n, r->resumed.c2s.len,
                        r->reused ? "resumed" : (r->resumed.secure
                                                 ? "full   " : "fails  "),
                        why ? why : "replays exactly");
            }
        }
    }

    ERR_clear_error();
    return good;
}
