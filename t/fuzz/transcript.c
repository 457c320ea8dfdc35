/*
 * Fuzz harness: recording a conversation between a client and the server
 * under test, and replaying it with the invariants checked (see common.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "common.h"


/* ---- recording --------------------------------------------------------- */

typedef struct {
    fz_transcript  *t;
    sp_pair        *c, *s;
    fz_track        tc, ts;
} fz_rec;


/* Records moved from one side to the other, logged; then the receiver
   reads what it can, as a host would. */
static size_t
rec_move(fz_rec *r, int to_server)
{
    fz_track        *from = to_server ? &r->tc : &r->ts;
    fz_track        *to = to_server ? &r->ts : &r->tc;
    fz_buf          *log = to_server ? &r->t->c2s : &r->t->s2c;
    int              stream = to_server ? FZ_RNG_SERVER : FZ_RNG_CLIENT;
    const uint8_t   *out;
    uint8_t         *in;
    size_t           len, room, n, moved = 0;
    int              rc;

    for ( ;; ) {
        out = sp_enc_out_buf(from->pair, &len);
        if (out == NULL) {
            break;
        }

        fz_rng_select(stream);
        in = sp_enc_in_buf(to->pair, &room);
        fz_check(to, "sp_enc_in_buf", FZ_NO_RET);
        if (in == NULL) {
            break;
        }

        n = len < room ? len : room;
        memcpy(in, out, n);
        fz_buf_add(log, out, n);

        sp_enc_out_consume(from->pair, n);
        fz_check(from, "sp_enc_out_consume", FZ_NO_RET);

        moved += n;
        rc = sp_enc_in_commit(to->pair, n);
        fz_check(to, "sp_enc_in_commit", rc);

        if (rc != SP_OK) {
            break;
        }
    }

    fz_rng_select(stream);
    fz_read_all(to, NULL);

    return moved;
}


static void
rec_pump(fz_rec *r)
{
    size_t  moved;
    int     rounds = 0;

    do {
        moved = rec_move(r, 1);
        moved += rec_move(r, 0);
    } while (moved && ++rounds < 1000);
}


static void
rec_act(fz_rec *r, int client, int action)
{
    fz_transcript  *t = r->t;
    fz_track       *tr = client ? &r->tc : &r->ts;
    fz_step        *steps = client ? t->client_steps : t->server_steps;
    size_t         *nsteps = client ? &t->nclient_steps : &t->nserver_steps;
    const fz_buf   *heard = client ? &t->s2c : &t->c2s;

    if (*nsteps < FZ_MAX_STEPS) {
        steps[*nsteps].off = heard->len;
        steps[*nsteps].action = action;
        (*nsteps)++;
    }

    fz_rng_select(client ? FZ_RNG_CLIENT : FZ_RNG_SERVER);
    fz_act(tr, action, NULL);
    fz_read_all(tr, NULL);

    rec_pump(r);
}


static int
both_secure(fz_rec *r)
{
    return (sp_pair_state(r->c) & SP_STATE_SECURE)
           && (sp_pair_state(r->s) & SP_STATE_SECURE);
}


void
fz_record(const fz_client_cfg *cfg, fz_transcript *t)
{
    int  err;

    err = fz_record_ex(cfg, fz_server_ctx(FZ_SERVER_LENIENT), FZ_SERVER_SEED,
                       NULL, 0, t, NULL);
    FZ_ASSERT(err == SP_OK, "client sp_pair_new: %d", err);
}


/* A client pair of `cctx`, offering `session` when not NULL. */
static sp_pair *
client_pair_new(sp_ctx *cctx, const fz_client_cfg *cfg,
    const uint8_t *session, size_t len, int *err)
{
    if (session == NULL) {
        return sp_pair_new(cctx, cfg->servername, err);
    }

    return sp_pair_new_with_session(cctx, cfg->servername, session, len,
                                    err);
}


/* Both sides secure: what the configuration does next, writes, a key
   update, renegotiations. */
static void
rec_converse(fz_rec *r, const fz_client_cfg *cfg)
{
    int  i;

    rec_act(r, 1, FZ_ACT_WRITE);
    rec_act(r, 0, FZ_ACT_WRITE);

    if (cfg->key_update) {
        rec_act(r, 1, FZ_ACT_KEY_UPDATE);
        rec_act(r, 0, FZ_ACT_WRITE);
    }

    for (i = 0; i < cfg->renegotiations && both_secure(r); i++) {
        rec_act(r, 0, FZ_ACT_CLOCK);
        rec_act(r, 1, FZ_ACT_RENEG);
        rec_act(r, 1, FZ_ACT_WRITE);
        rec_act(r, 0, FZ_ACT_WRITE);
    }
}


/* The client's session, as a host would keep it (a TLS 1.3 client has its
   tickets by now); left as it was when there is none. */
static void
rec_keep_session(fz_rec *r, fz_buf *session_out)
{
    uint8_t  *der;
    ssize_t   n;

    n = sp_pair_get_session(r->c, NULL, 0);
    fz_check_err_queue("sp_pair_get_session");

    if (n <= 0) {
        FZ_ASSERT(n == SP_ERR_AGAIN, "sp_pair_get_session: %zd", n);
        return;
    }

    der = malloc((size_t) n);
    FZ_ASSERT(der != NULL, "harness out of memory");
    FZ_ASSERT(sp_pair_get_session(r->c, der, (size_t) n) == n,
              "sp_pair_get_session changed its size");
    fz_check_err_queue("sp_pair_get_session");
    session_out->len = 0;
    fz_buf_add(session_out, der, (size_t) n);
    free(der);
}


int
fz_record_ex(const fz_client_cfg *cfg, sp_ctx *sctx, uint64_t server_seed,
    const uint8_t *session, size_t len, fz_transcript *t,
    fz_buf *session_out)
{
    fz_rec    r;
    sp_ctx   *cctx;
    int       err;

    memset(t, 0, sizeof(*t));
    t->cfg = cfg;

    fz_rng_reset(FZ_RNG_SERVER, server_seed);
    fz_rng_reset(FZ_RNG_CLIENT, FZ_CLIENT_SEED);
    fz_now = 1000;
    fz_server_forget_sessions();

    cctx = fz_client_ctx(cfg, 0);

    memset(&r, 0, sizeof(r));
    r.t = t;

    fz_rng_select(FZ_RNG_CLIENT);
    r.c = client_pair_new(cctx, cfg, session, len, &err);
    fz_check_err_queue(session ? "sp_pair_new_with_session" : "sp_pair_new");

    if (r.c == NULL) {
        FZ_ASSERT(err != SP_OK, "no client pair, but SP_OK");
        FZ_ASSERT(sp_ctx_connections(cctx) == 0, "a refused pair counts "
                  "in connections (%u)", sp_ctx_connections(cctx));
        sp_ctx_unref(cctx);
        return err;
    }

    FZ_ASSERT(err == SP_OK, "client pair made, but err %d", err);
    fz_track_init(&r.tc, r.c, SP_CLIENT);
    fz_check(&r.tc, "sp_pair_new", FZ_NO_RET);
    t->hello_len = sp_enc_out_pending(r.c);
    FZ_ASSERT(t->hello_len > 0, "a new client pair has no ClientHello");

    fz_rng_select(FZ_RNG_SERVER);
    r.s = sp_pair_new(sctx, NULL, &err);
    FZ_ASSERT(r.s != NULL, "server sp_pair_new: %d", err);
    fz_track_init(&r.ts, r.s, SP_SERVER);
    fz_check(&r.ts, "sp_pair_new", FZ_NO_RET);

    rec_pump(&r);

    if (both_secure(&r)) {
        t->reused_client = sp_pair_session_reused(r.c);
        t->reused_server = sp_pair_session_reused(r.s);

        rec_converse(&r, cfg);

        t->secure = both_secure(&r) && !sp_pair_error(r.c)
                    && !sp_pair_error(r.s);

        if (session_out != NULL && t->secure) {
            rec_keep_session(&r, session_out);
        }

        rec_act(&r, 1, FZ_ACT_SHUTDOWN);
        rec_act(&r, 0, FZ_ACT_SHUTDOWN);
    }

    t->client_error = sp_pair_error(r.c);
    t->server_error = sp_pair_error(r.s);
    snprintf(t->client_message, sizeof(t->client_message), "%s",
             sp_pair_error_message(r.c));
    snprintf(t->server_message, sizeof(t->server_message), "%s",
             sp_pair_error_message(r.s));

    if (fz_verbosity() >= 1) {
        fz_summary(&r.tc, stderr);
        fz_summary(&r.ts, stderr);
    }

    sp_pair_free(r.c);
    sp_pair_free(r.s);
    FZ_ASSERT(sp_ctx_connections(cctx) == 0 && sp_ctx_connections(sctx) == 0,
              "connections %u and %u after free", sp_ctx_connections(cctx),
              sp_ctx_connections(sctx));
    sp_ctx_unref(cctx);
    ERR_clear_error();
    return SP_OK;
}


size_t
fz_record_all(fz_transcript *t, size_t room, const char *target)
{
    size_t  i, exact = 0;

    FZ_ASSERT(fz_nclient_cfgs <= room, "%zu client configurations, room "
              "for %zu", fz_nclient_cfgs, room);

    for (i = 0; i < fz_nclient_cfgs; i++) {
        fz_record(&fz_client_cfgs[i], &t[i]);
        if (fz_replay_check(&t[i]) == NULL) {
            exact++;
        }
    }

    fprintf(stderr, "%s: %zu recorded conversations, %zu replay exactly\n",
            target, fz_nclient_cfgs, exact);

    ERR_clear_error();
    return fz_nclient_cfgs;
}


void
fz_transcript_free(fz_transcript *t)
{
    fz_buf_free(&t->c2s);
    fz_buf_free(&t->s2c);
}


const char *
fz_replay_check(const fz_transcript *t)
{
    return fz_replay_check_ex(t, fz_server_ctx(FZ_SERVER_LENIENT), NULL, 0);
}


/* One side's recorded bytes to a fresh pair of the other side, its host
   acting as it did when recorded; what the pair sends goes to `out`
   (NULL: nowhere). */
static void
replay_feed(fz_track *tr, int stream, const fz_step *steps, size_t nsteps,
    const fz_buf *in, fz_buf *out)
{
    fz_feeder  f;

    memset(&f, 0, sizeof(f));
    f.t = tr;
    f.stream = stream;
    f.steps = steps;
    f.nsteps = nsteps;
    f.out = out;
    fz_feed(&f, in->data, in->len);
}


const char *
fz_replay_check_ex(const fz_transcript *t, sp_ctx *sctx,
    const uint8_t *session, size_t len)
{
    static char  why[256];
    fz_track     tr;
    fz_buf       out = { 0 };
    sp_pair     *p;
    sp_ctx      *cctx;
    size_t       i;
    int          err, secure;

    /* the client's bytes to a fresh server */
    fz_rng_reset(FZ_RNG_SERVER, FZ_SERVER_SEED);
    fz_now = 1000;
    fz_server_forget_sessions();
    fz_rng_select(FZ_RNG_SERVER);

    p = sp_pair_new(sctx, NULL, &err);
    FZ_ASSERT(p != NULL, "server sp_pair_new: %d", err);
    fz_track_init(&tr, p, SP_SERVER);

    replay_feed(&tr, FZ_RNG_SERVER, t->server_steps, t->nserver_steps,
                &t->c2s, NULL);

    secure = tr.was_secure && !tr.error;
    sp_pair_free(p);

    if (t->secure && !secure) {
        snprintf(why, sizeof(why), "server replay did not complete "
                 "(error %d)", tr.error);
        return why;
    }

    /* the server's bytes to a fresh client */
    fz_rng_reset(FZ_RNG_CLIENT, FZ_CLIENT_SEED);
    cctx = fz_client_ctx(t->cfg, 0);
    fz_rng_select(FZ_RNG_CLIENT);

    p = client_pair_new(cctx, t->cfg, session, len, &err);
    FZ_ASSERT(p != NULL, "client sp_pair_new: %d", err);
    fz_track_init(&tr, p, SP_CLIENT);

    fz_drain(&tr, 0, &out);
    replay_feed(&tr, FZ_RNG_CLIENT, t->client_steps, t->nclient_steps,
                &t->s2c, &out);

    secure = tr.was_secure && !tr.error;
    sp_pair_free(p);
    sp_ctx_unref(cctx);

    why[0] = '\0';

    if (t->secure && !secure) {
        snprintf(why, sizeof(why), "client replay did not complete "
                 "(error %d)", tr.error);

    } else if (out.len < t->c2s.len) {
        snprintf(why, sizeof(why), "client replay sent %zu bytes, "
                 "recorded %zu", out.len, t->c2s.len);

    } else {
        for (i = 0; i < t->c2s.len; i++) {
            if (out.data[i] != t->c2s.data[i]) {
                snprintf(why, sizeof(why), "client replay differs at byte "
                         "%zu of %zu", i, t->c2s.len);
                break;
            }
        }
    }

    fz_buf_free(&out);
    ERR_clear_error();

    return why[0] ? why : NULL;
}
