/*
 * fuzz_client_pair: a client pair (servername, NPN/ALPN, ca.crt, a client
 * certificate for some configurations) fed a server's bytes after its
 * ClientHello.
 *
 * Input: FZ_HDR byte, feed byte, payload (see common.h); bits 4-7 of the
 * first byte pick the client configuration, bit 2 reject_unauthorized:
 *   FZ_MODE_RAW (and 1, 3)  the payload is the server's byte stream
 *   FZ_MODE_EDIT            the server's recorded stream for that
 *                           configuration, edited by the payload; the
 *                           client host acts (writes, renegotiates) as it
 *                           did when recorded
 *
 * The client's randomness (and so its ClientHello and key shares) is the
 * recording client's, so an unedited server stream replays to the end.
 * The client context is built afresh for every input: an RSA key's
 * blinding draws randomness on first use, and a key used by an earlier
 * input would shift the stream.
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
    ntranscripts = fz_record_all(transcripts, 16, "fuzz_client_pair");
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fz_transcript  *tr;
    const fz_client_cfg  *cfg;
    fz_feeder             f;
    fz_track              t;
    fz_buf                in = { 0 };
    sp_pair              *pair;
    sp_ctx               *ctx;
    const uint8_t        *payload;
    size_t                len, nedits;
    unsigned              st;
    int                   err;

    if (size < 2) {
        return 0;
    }

    tr = &transcripts[(data[0] >> 4) % ntranscripts];
    cfg = tr->cfg;
    payload = data + 2;
    len = size - 2;

    memset(&f, 0, sizeof(f));
    f.stream = FZ_RNG_CLIENT;
    f.feed = data[1];
    f.eof = (data[0] >> 3) & 1;

    if ((data[0] & 3) == FZ_MODE_EDIT) {
        nedits = len / 4 < FZ_MAX_EDITS ? len / 4 : FZ_MAX_EDITS;
        fz_apply_edits(tr->s2c.data, tr->s2c.len, payload, nedits, &in);
        payload = in.data;
        len = in.len;
        f.steps = tr->client_steps;
        f.nsteps = tr->nclient_steps;
    }

    fz_rng_reset(FZ_RNG_CLIENT, FZ_CLIENT_SEED);
    ERR_clear_error();
    ctx = fz_client_ctx(cfg, (data[0] >> 2) & 1);
    fz_rng_select(FZ_RNG_CLIENT);

    pair = sp_pair_new(ctx, cfg->servername, &err);
    FZ_ASSERT(pair != NULL && err == SP_OK, "sp_pair_new: %d", err);
    FZ_ASSERT(sp_ctx_connections(ctx) == 1, "connections %u",
              sp_ctx_connections(ctx));

    fz_track_init(&t, pair, SP_CLIENT);
    fz_check(&t, "sp_pair_new", FZ_NO_RET);

    st = sp_pair_state(pair);
    FZ_ASSERT(st == (SP_STATE_HANDSHAKING | SP_STATE_SEND_RECORDS
                     | SP_STATE_RECV_RECORDS | SP_STATE_CLEAR_WRITE),
              "a new client pair is in state 0x%x", st);
    FZ_ASSERT(fz_drain(&t, 0, NULL) > 0, "no ClientHello");

    f.t = &t;
    fz_feed(&f, payload, len);

    fz_pair_done(&t, ctx);
    sp_ctx_unref(ctx);

    fz_buf_free(&in);
    return 0;
}
