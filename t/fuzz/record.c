/*
 * record CORPUS TRANSCRIPTS: records the conversations of every client
 * configuration of common.c with the fuzzed server, in memory through
 * runtime pairs, checks that each replays exactly, and writes
 *
 *   CORPUS/server_pair/<name>-*            seeds for fuzz_server_pair
 *   CORPUS/client_pair/<name>-*            seeds for fuzz_client_pair
 *   TRANSCRIPTS/<index>-<name>.c2s, .s2c   the raw byte streams
 *   TRANSCRIPTS/<index>-<name>.hello       the client's first flight
 *
 * Exits non-zero when a conversation does not replay (the harness would
 * then explore less than it should).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"


static const char  *outdir, *tdir;


static void
mkdir_p(const char *sub)
{
    char  path[4096];

    snprintf(path, sizeof(path), "%s/%s", outdir, sub);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "record: mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }
}


static void
write_file(const char *sub, const char *name, const uint8_t hdr[2],
    const void *a, size_t alen, const void *b, size_t blen)
{
    char   path[4096];
    FILE  *f;

    if (sub == NULL) {
        snprintf(path, sizeof(path), "%s/%s", tdir, name);
    } else {
        snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
    }
    f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "record: %s: %s\n", path, strerror(errno));
        exit(1);
    }

    if (hdr != NULL) {
        fwrite(hdr, 1, 2, f);
    }
    if (alen) {
        fwrite(a, 1, alen, f);
    }
    if (blen) {
        fwrite(b, 1, blen, f);
    }

    fclose(f);
}


int
main(int argc, char **argv)
{
    fz_transcript   t;
    const char     *why;
    uint8_t         hdr[2], edit[8];
    char            name[256];
    size_t          i, bad = 0;
    unsigned        feed;
    static const unsigned  feeds[] = { 0x00, 0x01, 0x02 | 0x04 | 0x10 << 3,
                                       0x03, 0x03 | 0x04 };

    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS TRANSCRIPTS\n", argv[0]);
        return 2;
    }

    outdir = argv[1];
    tdir = argv[2];
    if ((mkdir(outdir, 0755) != 0 && errno != EEXIST)
        || (mkdir(tdir, 0755) != 0 && errno != EEXIST))
    {
        fprintf(stderr, "record: mkdir: %s\n", strerror(errno));
        return 1;
    }
    mkdir_p("server_pair");
    mkdir_p("client_pair");

    fz_rng_install();
    fz_certs_init(argv[0]);
    fz_server_init();

    for (i = 0; i < fz_nclient_cfgs; i++) {
        const fz_client_cfg  *cfg = &fz_client_cfgs[i];

        fz_record(cfg, &t);
        why = fz_replay_check(&t);

        printf("  %-24s c2s %6zu  s2c %6zu  %s  %s\n", cfg->name, t.c2s.len,
               t.s2c.len, t.secure ? "secure" : "fails ",
               why ? why : "replays exactly");
        if (why != NULL) {
            bad++;
        }

        snprintf(name, sizeof(name), "%zu-%s.c2s", i, cfg->name);
        write_file(NULL, name, NULL, t.c2s.data, t.c2s.len, NULL, 0);
        snprintf(name, sizeof(name), "%zu-%s.s2c", i, cfg->name);
        write_file(NULL, name, NULL, t.s2c.data, t.s2c.len, NULL, 0);
        snprintf(name, sizeof(name), "%zu-%s.hello", i, cfg->name);
        write_file(NULL, name, NULL, t.c2s.data, t.hello_len, NULL, 0);

        /* server: the whole client stream, fed in several ways */
        for (feed = 0; feed < sizeof(feeds) / sizeof(feeds[0]); feed++) {
            hdr[0] = FZ_HDR(FZ_MODE_RAW, 0, feed & 1, i);
            hdr[1] = (uint8_t) feeds[feed];
            snprintf(name, sizeof(name), "%s-raw-%u", cfg->name, feed);
            write_file("server_pair", name, hdr, t.c2s.data, t.c2s.len,
                       NULL, 0);
        }

        hdr[0] = FZ_HDR(FZ_MODE_RAW, 1, 1, i);
        hdr[1] = 0;
        snprintf(name, sizeof(name), "%s-raw-strict", cfg->name);
        write_file("server_pair", name, hdr, t.c2s.data, t.c2s.len, NULL, 0);

        hdr[0] = FZ_HDR(FZ_MODE_AFTER_HELLO, 0, 0, i);
        hdr[1] = 0;
        snprintf(name, sizeof(name), "%s-after-hello", cfg->name);
        write_file("server_pair", name, hdr, t.c2s.data + t.hello_len,
                   t.c2s.len - t.hello_len, NULL, 0);

        /* edits: none (an exact replay with the host's script), then one
           XOR in the first record's length */
        hdr[0] = FZ_HDR(FZ_MODE_EDIT, 0, 0, i);
        hdr[1] = 0;
        snprintf(name, sizeof(name), "%s-replay", cfg->name);
        write_file("server_pair", name, hdr, NULL, 0, NULL, 0);
        snprintf(name, sizeof(name), "%s-replay", cfg->name);
        write_file("client_pair", name, hdr, NULL, 0, NULL, 0);

        edit[0] = 4;  edit[1] = 0;  edit[2] = 3;  edit[3] = 0x40;
        edit[4] = 4 | 3;  edit[5] = 1;  edit[6] = 5;  edit[7] = 0x16;
        snprintf(name, sizeof(name), "%s-edited", cfg->name);
        write_file("server_pair", name, hdr, edit, 8, NULL, 0);
        write_file("client_pair", name, hdr, edit, 8, NULL, 0);

        /* client: the whole server stream after its ClientHello */
        for (feed = 0; feed < sizeof(feeds) / sizeof(feeds[0]); feed++) {
            hdr[0] = FZ_HDR(FZ_MODE_RAW, feed & 1, feed & 1, i);
            hdr[1] = (uint8_t) feeds[feed];
            snprintf(name, sizeof(name), "%s-raw-%u", cfg->name, feed);
            write_file("client_pair", name, hdr, t.s2c.data, t.s2c.len,
                       NULL, 0);
        }

        fz_transcript_free(&t);
    }

    if (bad) {
        fprintf(stderr, "record: %zu conversations do not replay exactly\n",
                bad);
        return 1;
    }

    return 0;
}
