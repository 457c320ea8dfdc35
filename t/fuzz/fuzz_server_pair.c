/*
 * fuzz_server_pair: a server pair (t/fuzz/setup.c: two keys, client
 * certificates requested, NPN/ALPN, four SNI contexts, a renegotiation
 * limit on a fake clock) fed a client's bytes.
 *
 * Input: FZ_HDR byte, feed byte, payload (see common.h):
 *   FZ_MODE_RAW          the payload is the client's byte stream
 *   FZ_MODE_AFTER_HELLO  a recorded ClientHello, then the payload
 *   FZ_MODE_EDIT         a recorded client stream (a complete TLS 1.2 or
 *                        1.3 conversation), edited by the payload; the
 *                        server host acts as it did when recorded
 *   3                    raw, and the host's SNI callback answers later
 *                        (SP_SNI_WAIT): from inside when the feed byte's
 *                        bits 3-4 are 0, else after that many chunks
 *                        less one, with the table's credentials for the
 *                        name or NULL (the table decides), by turns
 *
 * OpenSSL's randomness is the recording server's, so an unedited stream
 * replays to the end: the edits explore every message, not only the
 * ClientHello.  Invariants are checked after every call (invariants.c).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "common.h"


static fz_transcript  transcripts[16];
static size_t         ntranscripts;

/* the same contexts with an SNI callback that answers later (mode 3) */
static sp_ctx        *waiting_ctx[FZ_SERVER_VARIANTS];

static struct {
    sp_ctx          *ctx;
    int              at_once;
    unsigned         answers;
    sp_pair         *pending;
} host;


static sp_creds *
host_creds(const char *name)
{
    /* the table's, or NULL: the table decides the same */
    return host.answers++ & 1 ? NULL
                              : sp_ctx_find_context(host.ctx, name);
}


static sp_creds *
sni_wait(sp_pair *pair, const char *servername, void *arg)
{
    (void) arg;

    FZ_ASSERT(host.pending == NULL, "the SNI callback asked twice");

    if (host.at_once) {
        FZ_ASSERT(sp_pair_answer_creds(pair, host_creds(servername))
                  == SP_OK, "an answer from inside the SNI callback refused");
        return SP_SNI_WAIT;
    }

    host.pending = pair;
    return SP_SNI_WAIT;
}


static int
sni_answer(void *arg, sp_pair *pair)
{
    const uint8_t  *key;
    size_t          len;
    char            name[256];

    (void) arg;

    FZ_ASSERT(host.pending == pair, "an answer to a pair never asked");
    host.pending = NULL;

    FZ_ASSERT(sp_pair_waiting(pair, &key, &len) == SP_WAIT_CREDS
              && len > 0 && len < sizeof(name),
              "the pair waits for no credentials");
    memcpy(name, key, len);
    name[len] = '\0';

    return sp_pair_answer_creds(pair, host_creds(name));
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int  v;

    (void) argc;

    fz_rng_install();
    fz_certs_init((*argv)[0]);
    fz_server_init();
    ntranscripts = fz_record_all(transcripts, 16, "fuzz_server_pair");

    for (v = 0; v < FZ_SERVER_VARIANTS; v++) {
        waiting_ctx[v] = fz_server_ctx_new(v);
        sp_ctx_set_sni_callback(waiting_ctx[v], sni_wait, NULL);
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fz_transcript  *tr;
    fz_feeder             f;
    fz_track              t;
    fz_buf                in = { 0 };
    sp_pair              *pair;
    sp_ctx               *ctx;
    const uint8_t        *payload;
    size_t                len, nedits;
    unsigned              mode, st;
    int                   err;

    if (size < 2) {
        return 0;
    }

    mode = data[0] & 3;
    tr = &transcripts[(data[0] >> 4) % ntranscripts];
    payload = data + 2;
    len = size - 2;

    memset(&f, 0, sizeof(f));
    f.stream = FZ_RNG_SERVER;
    f.feed = data[1];
    f.eof = (data[0] >> 3) & 1;

    if (mode == FZ_MODE_AFTER_HELLO) {
        fz_buf_add(&in, tr->c2s.data, tr->hello_len);
        fz_buf_add(&in, payload, len);
        payload = in.data;
        len = in.len;

    } else if (mode == FZ_MODE_EDIT) {
        nedits = len / 4 < FZ_MAX_EDITS ? len / 4 : FZ_MAX_EDITS;
        fz_apply_edits(tr->c2s.data, tr->c2s.len, payload, nedits, &in);
        payload = in.data;
        len = in.len;
        f.steps = tr->server_steps;
        f.nsteps = tr->nserver_steps;
    }

    fz_rng_reset(FZ_RNG_SERVER, FZ_SERVER_SEED);
    fz_rng_select(FZ_RNG_SERVER);
    fz_now = 1000;
    fz_server_forget_sessions();
    ERR_clear_error();

    ctx = fz_server_ctx((data[0] >> 2) & 1);

    if (mode == 3) {
        ctx = waiting_ctx[(data[0] >> 2) & 1];
        host.ctx = ctx;
        host.at_once = ((data[1] >> 3) & 3) == 0;
        host.pending = NULL;
        f.answer = sni_answer;
        f.delay = ((data[1] >> 3) & 3) - 1;
    }

    pair = sp_pair_new(ctx, NULL, &err);
    FZ_ASSERT(pair != NULL && err == SP_OK, "sp_pair_new: %d", err);
    FZ_ASSERT(sp_ctx_connections(ctx) == 1, "connections %u",
              sp_ctx_connections(ctx));

    fz_track_init(&t, pair, SP_SERVER);
    fz_check(&t, "sp_pair_new", FZ_NO_RET);

    st = sp_pair_state(pair);
    FZ_ASSERT(st == (SP_STATE_HANDSHAKING | SP_STATE_RECV_RECORDS
                     | SP_STATE_CLEAR_WRITE),
              "a new server pair is in state 0x%x", st);

    f.t = &t;
    fz_feed(&f, payload, len);

    FZ_ASSERT(host.pending == NULL || t.error || sp_pair_error(pair),
              "the pair waits still at the end");
    host.pending = NULL;

    fz_pair_done(&t, ctx);

    fz_buf_free(&in);
    return 0;
}
