/*
 * record CORPUS TRANSCRIPTS: records the conversations of every client
 * configuration of setup.c with the fuzzed server, in memory through
 * runtime pairs, checks that each replays exactly, and writes
 *
 *   CORPUS/server_pair/<name>-*            seeds for fuzz_server_pair
 *   CORPUS/client_pair/<name>-*            seeds for fuzz_client_pair
 *   CORPUS/sessions/...                    seeds for fuzz_sessions, from
 *                                          the sessions of resume.c
 *   TRANSCRIPTS/<index>-<name>.c2s, .s2c   the raw byte streams
 *   TRANSCRIPTS/<index>-<name>.hello       the client's first flight
 *
 * Exits non-zero when a conversation (or a resumption) does not replay
 * (the harness would then explore less than it should).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "resume.h"


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


/* ---- fuzz_sessions ------------------------------------------------------ */

static void
sess_seed(const char *name, uint8_t hdr0, uint8_t feed, const void *a,
    size_t alen, const void *b, size_t blen)
{
    uint8_t  hdr[2];

    hdr[0] = hdr0;
    hdr[1] = feed;
    write_file("sessions", name, hdr, a, alen, b, blen);
}


/* Key material alone (the first configuration), of every size that
   matters, from memory and from a file. */
static void
sessions_key_seeds(void)
{
    static const size_t  sizes[] = { 0, 1, 16, 47, 48, 49, 79, 80, 81, 96,
                                     160, 1000 };
    uint8_t              op[1100];
    char                 name[64];
    size_t               i, n;
    int                  file;

    for (file = 0; file < 2; file++) {
        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            n = 0;
            op[n++] = 0;                                /* no resumption */
            op[n++] = FZ_KEY_BYTES | (file ? FZ_KEY_FILE : 0);
            op[n++] = (uint8_t) (sizes[i] >> 8);
            op[n++] = (uint8_t) sizes[i];
            memset(op + n, 0x40 + (int) i, sizes[i]);
            n += sizes[i];

            snprintf(name, sizeof(name), "keys-%s-%zu",
                     file ? "file" : "mem", sizes[i]);
            sess_seed(name, FZ_SESS_HDR(FZ_SESS_KEYS, 0, 0, 0), 0, op, n,
                      NULL, 0);
        }
    }

    op[0] = 0;
    op[1] = FZ_KEY_FILE | FZ_KEY_MISSING;
    sess_seed("keys-missing-file", FZ_SESS_HDR(FZ_SESS_KEYS, 0, 0, 0), 0, op,
              2, NULL, 0);

    /* many keys: 48 and 80 bytes, then the issuing key last */
    n = 0;
    op[n++] = 1;
    for (i = 0; i < 8; i++) {
        op[n++] = (i & 1) ? FZ_KEY_80 : FZ_KEY_48;
        memset(op + n, 0x60 + (int) i, (i & 1) ? 80 : 48);
        n += (i & 1) ? 80 : 48;
    }
    op[n++] = FZ_KEY_ISSUING;
    sess_seed("keys-many-then-issuing", FZ_SESS_HDR(FZ_SESS_KEYS, 0, 0, 0),
              0, op, n, NULL, 0);
}


static void
sessions_seeds(void)
{
    static const char *const  kinds[FZ_KINDS] = { "tickets", "store" };
    static const uint8_t      finds[] = {
        FZ_SPEC_FIND(FZ_FIND_MISS), FZ_SPEC_FIND(FZ_FIND_EMPTY),
        FZ_SPEC_FIND(FZ_FIND_OVERLONG)
    };
    static const char *const  find_names[] = { "miss", "empty", "overlong" };
    const fz_resume          *r;
    const fz_store_entry     *e;
    uint8_t                   spec[3], op[128];
    char                      name[128];
    const char               *cname;
    size_t                    i, j, n;
    int                       kind, idx;

    mkdir_p("sessions");
    sessions_key_seeds();

    for (kind = 0; kind < FZ_KINDS; kind++) {
        for (i = 0; i < fz_nclient_cfgs; i++) {
            idx = fz_resume_index(kind, i);
            if (idx < 0) {
                continue;
            }

            r = &fz_resumes[kind][i];
            cname = r->cfg->name;

            /* the client's session: as exported, raw, cut in half */
            spec[0] = 0;
            snprintf(name, sizeof(name), "client-%s-%s", kinds[kind], cname);
            sess_seed(name, FZ_SESS_HDR(FZ_SESS_CLIENT, kind, 0, idx), 0,
                      spec, 1, NULL, 0);

            spec[0] = FZ_SPEC_RAW;
            snprintf(name, sizeof(name), "client-%s-%s-raw", kinds[kind],
                     cname);
            sess_seed(name, FZ_SESS_HDR(FZ_SESS_CLIENT, kind, 0, idx), 0,
                      spec, 1, r->session.data, r->session.len);

            spec[0] = FZ_SPEC_TRUNCATE;
            spec[1] = (uint8_t) ((r->session.len / 2) >> 8);
            spec[2] = (uint8_t) (r->session.len / 2);
            snprintf(name, sizeof(name), "client-%s-%s-half", kinds[kind],
                     cname);
            sess_seed(name, FZ_SESS_HDR(FZ_SESS_CLIENT, kind, 0, idx), 0,
                      spec, 3, NULL, 0);

            if (kind == FZ_KIND_TICKETS) {
                /* the issuing key alone; after a new key (rotation); the
                   context's own random key */
                n = 0;
                op[n++] = 1;
                op[n++] = FZ_KEY_ISSUING;
                snprintf(name, sizeof(name), "keys-%s-issuing", cname);
                sess_seed(name, FZ_SESS_HDR(FZ_SESS_KEYS, 0, 0, idx), 0, op,
                          n, NULL, 0);

                n = 1;
                op[n++] = FZ_KEY_80;
                memset(op + n, 0x5a, 80);
                n += 80;
                op[n++] = FZ_KEY_ISSUING | FZ_KEY_FILE;
                snprintf(name, sizeof(name), "keys-%s-rotated", cname);
                sess_seed(name, FZ_SESS_HDR(FZ_SESS_KEYS, 0, 0, idx), 0, op,
                          n, NULL, 0);

                snprintf(name, sizeof(name), "keys-%s-random", cname);
                sess_seed(name, FZ_SESS_HDR(FZ_SESS_KEYS, 0, 0, idx), 0, op,
                          1, NULL, 0);
                continue;
            }

            /* the store: the entry as stored, replayed and live, in
               chunks, raw, and find() failing in every way */
            spec[0] = 0;
            snprintf(name, sizeof(name), "store-%s", cname);
            sess_seed(name, FZ_SESS_HDR(FZ_SESS_STORE, 0, 0, idx), 0, spec,
                      1, NULL, 0);
            snprintf(name, sizeof(name), "store-%s-chunks-eof", cname);
            sess_seed(name, FZ_SESS_HDR(FZ_SESS_STORE, 0, 1, idx),
                      0x02 | 0x10 << 3, spec, 1, NULL, 0);
            snprintf(name, sizeof(name), "live-%s", cname);
            sess_seed(name, FZ_SESS_HDR(FZ_SESS_LIVE, 0, 0, idx), 0, spec, 1,
                      NULL, 0);

            if (r->found >= 0) {
                e = &r->store.e[r->found];
                spec[0] = FZ_SPEC_RAW;
                snprintf(name, sizeof(name), "store-%s-raw", cname);
                sess_seed(name, FZ_SESS_HDR(FZ_SESS_STORE, 0, 0, idx), 0,
                          spec, 1, e->bytes, e->len);
                snprintf(name, sizeof(name), "live-%s-raw", cname);
                sess_seed(name, FZ_SESS_HDR(FZ_SESS_LIVE, 0, 0, idx), 0,
                          spec, 1, e->bytes, e->len);
            }

            for (j = 0; j < sizeof(finds); j++) {
                snprintf(name, sizeof(name), "store-%s-%s", cname,
                         find_names[j]);
                sess_seed(name, FZ_SESS_HDR(FZ_SESS_STORE, 0, 0, idx), 0,
                          &finds[j], 1, NULL, 0);
                snprintf(name, sizeof(name), "live-%s-%s", cname,
                         find_names[j]);
                sess_seed(name, FZ_SESS_HDR(FZ_SESS_LIVE, 0, 0, idx), 0,
                          &finds[j], 1, NULL, 0);
            }
        }
    }
}


int
main(int argc, char **argv)
{
    fz_transcript   t;
    const char     *why;
    uint8_t         hdr[2], edit[8];
    char            name[256];
    size_t          i, n, want = 0, bad = 0;
    int             kind;
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

    /*
     * sessions: every one must resume and replay, but for a ticket: a
     * client that renegotiated holds the renegotiation's session, and a
     * renegotiation, which never resumes one
     * (SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION), gets no ticket
     * from OpenSSL
     */
    (void) fz_resume_init(1);
    n = 0;

    for (i = 0; i < fz_nclient_cfgs; i++) {
        for (kind = 0; kind < FZ_KINDS; kind++) {
            if (fz_resume_index(kind, i) < 0
                || (kind == FZ_KIND_TICKETS
                    && fz_client_cfgs[i].renegotiations > 0))
            {
                continue;
            }

            want++;
            n += fz_resumes[kind][i].reused && fz_resumes[kind][i].exact;
        }
    }

    if (n != want) {
        fprintf(stderr, "record: %zu of %zu sessions do not resume and "
                "replay exactly\n", want - n, want);
        return 1;
    }

    sessions_seeds();

    return 0;
}
