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


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;

    fz_rng_install();
    fz_certs_init((*argv)[0]);
    fz_server_init();
    ntranscripts = fz_record_all(transcripts, 16, "fuzz_server_pair");
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

    fz_pair_done(&t, ctx);

    fz_buf_free(&in);
    return 0;
}
