/*
 * micro: the runtime alone, in memory.  Two securepair pairs back to back
 * (a client pair and a server pair, records moved between them by this
 * program) against a bare OpenSSL program doing the same over memory BIOs,
 * in the same run, alternating A B B A.
 *
 *   micro --cert F --key F --ca F [--handshakes N] [--bytes B]
 *         [--rounds R] [--tls 1.2|1.3] [--sni N]
 *
 * Handshake: N full handshakes (no resumption; the server's TLS 1.3
 * tickets are delivered to and read by the client), CPU time of the whole
 * process (CLOCK_PROCESS_CPUTIME_ID) per handshake, and of the server's
 * calls alone (CLOCK_THREAD_CPUTIME_ID around each of them).
 *
 * Bulk: B bytes of cleartext client -> server (up) and server -> client
 * (down) over one connection in 16 KiB writes; MB of cleartext per
 * process CPU-second (both ends: encryption and decryption).
 *
 * Both sides move records the same way: the bytes a side wrote are copied
 * once into the other side's input.  The bare server uses OpenSSL's
 * defaults (2 TLS 1.3 tickets) with its session cache off, as securepair's
 * default; both clients verify the server's chain and name.
 *
 * With --sni N, instead: the SNI table alone.  A server context with one
 * SNI context against one with N (N - 1 exact names and a wildcard), all
 * sharing one set of credentials so that only the lookup differs; the
 * server's CPU per handshake for the first, the last, a random and a
 * wildcard name, each measured between two runs of the one-context server.
 *
 * Output: key=value lines, one per measurement, then "summary" lines.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <securepair.h>


#define CHUNK  16384


static const char  *cert_file, *key_file, *ca_file;
static long         handshakes = 2000;
static long long    bulk_bytes = 256LL << 20;
static int          rounds = 4;
static int          version = SP_TLS1_3;
static long         sni_n = 0;

static unsigned char  chunk[CHUNK];
static unsigned char  sink[65536];

static double  server_cpu;    /* accumulated around server calls */
static int     timing;        /* only while handshaking: a clock read is a
                                 system call, too dear per bulk record */


static double
cpu_process(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static double
cpu_thread(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void
die(const char *what)
{
    fprintf(stderr, "micro: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}


/* ---- securepair ------------------------------------------------------ */


static sp_ctx  *sp_sctx, *sp_cctx;


static void
sp_setup(void)
{
    sp_creds  *sc, *cc;

    sc = sp_creds_new();
    if (sc == NULL || sp_creds_add_key_cert_file(sc, key_file, cert_file)
        || sp_creds_set_versions(sc, version, version))
    {
        die(sc ? sp_creds_error(sc) : "sp_creds_new");
    }

    sp_sctx = sp_ctx_new(SP_SERVER, sc);
    sp_creds_unref(sc);

    cc = sp_creds_new();
    if (cc == NULL || sp_creds_add_ca_file(cc, ca_file)
        || sp_creds_set_versions(cc, version, version))
    {
        die(cc ? sp_creds_error(cc) : "sp_creds_new");
    }

    sp_cctx = sp_ctx_new(SP_CLIENT, cc);
    sp_creds_unref(cc);

    if (sp_sctx == NULL || sp_cctx == NULL) {
        die("sp_ctx_new");
    }
}


/* Moves every record from one pair to the other; bytes moved. */
static size_t
sp_move(sp_pair *from, sp_pair *to, int to_is_server)
{
    size_t          len, room, n, total = 0;
    uint8_t        *in;
    const uint8_t  *out;
    double          t = 0;

    while ((out = sp_enc_out_buf(from, &len)) != NULL) {
        in = sp_enc_in_buf(to, &room);
        if (in == NULL) {
            break;
        }

        n = len < room ? len : room;
        memcpy(in, out, n);

        if (to_is_server && timing) {
            t = cpu_thread();
        }

        sp_enc_in_commit(to, n);

        if (to_is_server && timing) {
            server_cpu += cpu_thread() - t;
        }

        sp_enc_out_consume(from, n);
        total += n;
    }

    return total;
}


static void
sp_handshake_with(sp_ctx *sctx, sp_ctx *cctx, const char *name,
    const char *want_context)
{
    int          err, i;
    double       t;
    sp_pair     *c, *s;
    size_t       moved;
    const char  *got;

    c = sp_pair_new(cctx, name, &err);

    t = cpu_thread();
    s = sp_pair_new(sctx, NULL, &err);
    server_cpu += cpu_thread() - t;

    if (c == NULL || s == NULL) {
        die("sp_pair_new");
    }

    for (i = 0; i < 64; i++) {
        moved = sp_move(c, s, 1);
        moved += sp_move(s, c, 0);

        if (moved == 0) {
            break;
        }
    }

    if (!(sp_pair_state(c) & SP_STATE_SECURE)
        || !(sp_pair_state(s) & SP_STATE_SECURE))
    {
        fprintf(stderr, "micro: securepair handshake failed: %s / %s\n",
                sp_pair_error_message(c), sp_pair_error_message(s));
        exit(1);
    }

    if (want_context) {
        got = sp_pair_context_name(s);
        if (got == NULL || strcmp(got, want_context) != 0) {
            fprintf(stderr, "micro: SNI \"%s\" chose \"%s\", not \"%s\"\n",
                    name, got ? got : "(default)", want_context);
            exit(1);
        }
    }

    sp_pair_free(c);

    t = cpu_thread();
    sp_pair_free(s);
    server_cpu += cpu_thread() - t;
}


static void
sp_handshake_once(void)
{
    sp_handshake_with(sp_sctx, sp_cctx, "localhost", NULL);
}


static double
sp_bulk(int up)
{
    int        err, i;
    ssize_t    n;
    sp_pair   *c, *s, *w, *r;
    long long  sent = 0, got = 0;
    double     t;

    c = sp_pair_new(sp_cctx, "localhost", &err);
    s = sp_pair_new(sp_sctx, NULL, &err);

    for (i = 0; i < 64; i++) {
        if (sp_move(c, s, 1) + sp_move(s, c, 0) == 0) {
            break;
        }
    }

    /* drain anything left (tickets) */
    while (sp_clear_read(c, sink, sizeof(sink)) > 0) { }

    w = up ? c : s;
    r = up ? s : c;

    t = cpu_process();

    while (got < bulk_bytes) {
        if (sent < bulk_bytes) {
            n = sp_clear_write(w, chunk, CHUNK);
            if (n > 0) {
                sent += n;
            } else if (n != SP_ERR_AGAIN) {
                die("sp_clear_write");
            }
        }

        sp_move(w, r, r == s);

        while ((n = sp_clear_read(r, sink, sizeof(sink))) > 0) {
            got += n;
        }

        if (n != SP_ERR_AGAIN && n <= 0) {
            die("sp_clear_read");
        }
    }

    t = cpu_process() - t;

    sp_pair_free(c);
    sp_pair_free(s);
    return t;
}


/* ---- bare OpenSSL over memory BIOs ------------------------------------ */


static SSL_CTX  *bare_sctx, *bare_cctx;


static void
bare_setup(void)
{
    bare_sctx = SSL_CTX_new(TLS_server_method());
    bare_cctx = SSL_CTX_new(TLS_client_method());

    if (bare_sctx == NULL || bare_cctx == NULL
        || SSL_CTX_use_certificate_chain_file(bare_sctx, cert_file) != 1
        || SSL_CTX_use_PrivateKey_file(bare_sctx, key_file,
                                       SSL_FILETYPE_PEM) != 1
        || !SSL_CTX_set_min_proto_version(bare_sctx, version)
        || !SSL_CTX_set_max_proto_version(bare_sctx, version)
        || !SSL_CTX_set_min_proto_version(bare_cctx, version)
        || !SSL_CTX_set_max_proto_version(bare_cctx, version)
        || SSL_CTX_load_verify_locations(bare_cctx, ca_file, NULL) != 1)
    {
        die("bare setup");
    }

    SSL_CTX_set_session_cache_mode(bare_sctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(bare_cctx, SSL_VERIFY_PEER, NULL);
}


typedef struct {
    SSL  *ssl;
    BIO  *rb, *wb;
} bare_end;


static void
bare_new(bare_end *e, SSL_CTX *ctx, int server)
{
    e->ssl = SSL_new(ctx);
    e->rb = BIO_new(BIO_s_mem());
    e->wb = BIO_new(BIO_s_mem());

    if (e->ssl == NULL || e->rb == NULL || e->wb == NULL) {
        die("bare_new");
    }

    SSL_set_bio(e->ssl, e->rb, e->wb);

    if (server) {
        SSL_set_accept_state(e->ssl);
    } else {
        SSL_set_connect_state(e->ssl);
        SSL_set_tlsext_host_name(e->ssl, "localhost");
        SSL_set1_host(e->ssl, "localhost");
    }
}


/* Copies what one end wrote into the other's input, once. */
static size_t
bare_move(bare_end *from, bare_end *to)
{
    char  *p;
    long   n;

    n = BIO_get_mem_data(from->wb, &p);
    if (n <= 0) {
        return 0;
    }

    if (BIO_write(to->rb, p, (int) n) != n) {
        die("BIO_write");
    }

    (void) BIO_reset(from->wb);
    return (size_t) n;
}


static int
bare_drive(SSL *ssl)
{
    int  n;

    if (SSL_is_init_finished(ssl)) {
        /* after the handshake: read what came (tickets) */
        n = SSL_read(ssl, sink, sizeof(sink));
    } else {
        n = SSL_do_handshake(ssl);
    }

    if (n <= 0) {
        int  e = SSL_get_error(ssl, n);

        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            die("bare handshake");
        }
    }

    ERR_clear_error();
    return n;
}


static void
bare_handshake_once(void)
{
    int       i;
    double    t;
    bare_end  c, s;
    size_t    moved;

    bare_new(&c, bare_cctx, 0);

    t = cpu_thread();
    bare_new(&s, bare_sctx, 1);
    server_cpu += cpu_thread() - t;

    bare_drive(c.ssl);

    for (i = 0; i < 64; i++) {
        moved = bare_move(&c, &s);

        if (moved) {
            t = cpu_thread();
            bare_drive(s.ssl);
            server_cpu += cpu_thread() - t;
        }

        if (bare_move(&s, &c)) {
            moved = 1;
            bare_drive(c.ssl);
        }

        if (moved == 0) {
            break;
        }
    }

    if (!SSL_is_init_finished(c.ssl) || !SSL_is_init_finished(s.ssl)) {
        die("bare handshake did not finish");
    }

    SSL_free(c.ssl);

    t = cpu_thread();
    SSL_free(s.ssl);
    server_cpu += cpu_thread() - t;
}


static double
bare_bulk(int up)
{
    int        i, n;
    bare_end   c, s, *w, *r;
    long long  sent = 0, got = 0;
    double     t;

    bare_new(&c, bare_cctx, 0);
    bare_new(&s, bare_sctx, 1);
    bare_drive(c.ssl);

    for (i = 0; i < 64; i++) {
        size_t  m = 0;

        if (bare_move(&c, &s)) {
            bare_drive(s.ssl);
            m = 1;
        }
        if (bare_move(&s, &c)) {
            bare_drive(c.ssl);
            m = 1;
        }
        if (!m) {
            break;
        }
    }

    w = up ? &c : &s;
    r = up ? &s : &c;

    t = cpu_process();

    while (got < bulk_bytes) {
        if (sent < bulk_bytes) {
            n = SSL_write(w->ssl, chunk, CHUNK);
            if (n > 0) {
                sent += n;
            } else {
                die("SSL_write");
            }
        }

        bare_move(w, r);

        while ((n = SSL_read(r->ssl, sink, sizeof(sink))) > 0) {
            got += n;
        }

        ERR_clear_error();
    }

    t = cpu_process() - t;

    SSL_free(c.ssl);
    SSL_free(s.ssl);
    return t;
}


/* ---- SNI table -------------------------------------------------------- */


static sp_ctx *
sni_server(long n, sp_creds *shared)
{
    long       i;
    char       name[64];
    sp_creds  *dc;
    sp_ctx    *ctx;

    dc = sp_creds_new();
    if (dc == NULL || sp_creds_add_key_cert_file(dc, key_file, cert_file)
        || sp_creds_set_versions(dc, version, version))
    {
        die("sni creds");
    }

    ctx = sp_ctx_new(SP_SERVER, dc);
    sp_creds_unref(dc);
    if (ctx == NULL) {
        die("sni ctx");
    }

    for (i = 0; i < (n > 1 ? n - 1 : 1); i++) {
        snprintf(name, sizeof(name), "h%ld.sni.bench", i);
        if (sp_ctx_add_context(ctx, name, shared) != SP_OK) {
            die(sp_ctx_error(ctx));
        }
    }

    if (n > 1 && sp_ctx_add_context(ctx, "*.w.sni.bench", shared) != SP_OK) {
        die(sp_ctx_error(ctx));
    }

    return ctx;
}


static void
sni_run(void)
{
    int          r, k;
    long         i;
    double       t, base = 0, cost[4] = { 0 };
    long         nbase = 0, ncost[4] = { 0 };
    char         name[64];
    uint64_t     rng = 88172645463325252ULL;
    sp_creds    *shared, *cc;
    sp_ctx      *one, *many, *cctx;
    static const char  *kinds[4] = { "first", "last", "random", "wildcard" };

    shared = sp_creds_new();
    if (shared == NULL
        || sp_creds_add_key_cert_file(shared, key_file, cert_file)
        || sp_creds_set_versions(shared, version, version))
    {
        die("sni shared creds");
    }

    t = cpu_process();
    one = sni_server(1, shared);
    many = sni_server(sni_n, shared);
    t = cpu_process() - t;
    printf("sni contexts=%ld build_cpu_s=%.3f\n", sni_n, t);

    /* a client that does not insist: the names are not the certificate's */
    cc = sp_creds_new();
    if (cc == NULL || sp_creds_add_ca_file(cc, ca_file)
        || sp_creds_set_versions(cc, version, version))
    {
        die("sni client creds");
    }
    cctx = sp_ctx_new(SP_CLIENT, cc);
    sp_creds_unref(cc);
    sp_ctx_set_reject_unauthorized(cctx, 0);

    for (i = 0; i < 20; i++) {
        sp_handshake_with(one, cctx, "h0.sni.bench", "h0.sni.bench");
        sp_handshake_with(many, cctx, "h0.sni.bench", "h0.sni.bench");
    }

    timing = 1;

    for (r = 0; r < rounds; r++) {
        for (k = 0; k < 4; k++) {
            server_cpu = 0;
            for (i = 0; i < handshakes; i++) {
                sp_handshake_with(one, cctx, "h0.sni.bench", "h0.sni.bench");
            }
            base += server_cpu;
            nbase += handshakes;

            server_cpu = 0;
            for (i = 0; i < handshakes; i++) {
                const char  *want = name;

                switch (k) {
                case 0:
                    snprintf(name, sizeof(name), "h0.sni.bench");
                    break;
                case 1:
                    snprintf(name, sizeof(name), "h%ld.sni.bench",
                             sni_n > 1 ? sni_n - 2 : 0);
                    break;
                case 2:
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    snprintf(name, sizeof(name), "h%llu.sni.bench",
                             (unsigned long long)
                             (rng % (uint64_t) (sni_n > 1 ? sni_n - 1 : 1)));
                    break;
                default:
                    snprintf(name, sizeof(name), "x%ld.w.sni.bench", i);
                    want = sni_n > 1 ? "*.w.sni.bench" : NULL;
                    break;
                }

                sp_handshake_with(many, cctx, name, want);
            }
            cost[k] += server_cpu;
            ncost[k] += handshakes;
        }
    }

    timing = 0;

    for (k = 0; k < 4; k++) {
        printf("sni kind=%s contexts=%ld server_us_per_hs=%.2f "
               "base_us_per_hs=%.2f ratio=%.4f\n", kinds[k], sni_n,
               cost[k] / ncost[k] * 1e6, base / nbase * 1e6,
               (cost[k] / ncost[k]) / (base / nbase));
    }

    sp_ctx_unref(one);
    sp_ctx_unref(many);
    sp_ctx_unref(cctx);
    sp_creds_unref(shared);
}


/* ---- driver ----------------------------------------------------------- */


typedef struct {
    double  hs_cpu, hs_server, up_cpu, down_cpu;
    long    hs_n;
    long long  up_bytes, down_bytes;
} totals;


static void
run_one(const char *name, int sp, totals *tot)
{
    long    i;
    double  t, up, down;

    /* handshakes */
    server_cpu = 0;
    timing = 1;
    t = cpu_process();

    for (i = 0; i < handshakes; i++) {
        if (sp) {
            sp_handshake_once();
        } else {
            bare_handshake_once();
        }
    }

    t = cpu_process() - t;
    timing = 0;
    tot->hs_cpu += t;
    tot->hs_server += server_cpu;
    tot->hs_n += handshakes;

    printf("impl=%s what=handshake n=%ld cpu_s=%.6f us_per_hs=%.2f "
           "server_us_per_hs=%.2f\n", name, handshakes, t,
           t / handshakes * 1e6, server_cpu / handshakes * 1e6);

    up = sp ? sp_bulk(1) : bare_bulk(1);
    down = sp ? sp_bulk(0) : bare_bulk(0);
    tot->up_cpu += up;
    tot->down_cpu += down;
    tot->up_bytes += bulk_bytes;
    tot->down_bytes += bulk_bytes;

    printf("impl=%s what=bulk bytes=%lld up_cpu_s=%.6f down_cpu_s=%.6f "
           "up_mb_per_cpu_s=%.1f down_mb_per_cpu_s=%.1f\n", name,
           bulk_bytes, up, down, bulk_bytes / up / 1e6,
           bulk_bytes / down / 1e6);
    fflush(stdout);
}


int
main(int argc, char **argv)
{
    int     i, r;
    totals  sp = { 0 }, bare = { 0 };

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cert") == 0) {
            cert_file = argv[i + 1];
        } else if (strcmp(argv[i], "--key") == 0) {
            key_file = argv[i + 1];
        } else if (strcmp(argv[i], "--ca") == 0) {
            ca_file = argv[i + 1];
        } else if (strcmp(argv[i], "--handshakes") == 0) {
            handshakes = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--bytes") == 0) {
            bulk_bytes = atoll(argv[i + 1]);
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rounds = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--sni") == 0) {
            sni_n = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--tls") == 0) {
            version = strcmp(argv[i + 1], "1.2") == 0 ? SP_TLS1_2 : SP_TLS1_3;
        } else {
            break;
        }
    }

    if (i != argc || !cert_file || !key_file || !ca_file || handshakes < 1
        || handshakes > 1000000 || bulk_bytes < CHUNK
        || bulk_bytes > (64LL << 30) || rounds < 1 || rounds > 100
        || sni_n < 0 || sni_n > 10000000)
    {
        fprintf(stderr, "usage: micro --cert F --key F --ca F "
                "[--handshakes N] [--bytes B] [--rounds R] [--tls 1.2|1.3] "
                "[--sni N]\n");
        return 2;
    }

    for (i = 0; i < CHUNK; i++) {
        chunk[i] = (unsigned char) (i * 7 + 1);
    }

    if (sni_n) {
        sni_run();
        return 0;
    }

    sp_setup();
    bare_setup();

    /* warm both up (first-use initialisation is not what we measure) */
    for (i = 0; i < 20; i++) {
        sp_handshake_once();
        bare_handshake_once();
    }

    for (r = 0; r < rounds; r++) {
        /* A B B A ... */
        if (r % 2 == 0) {
            run_one("securepair", 1, &sp);
            run_one("bare", 0, &bare);
        } else {
            run_one("bare", 0, &bare);
            run_one("securepair", 1, &sp);
        }
    }

    printf("summary impl=securepair handshakes=%ld us_per_hs=%.2f "
           "server_us_per_hs=%.2f up_mb_per_cpu_s=%.1f "
           "down_mb_per_cpu_s=%.1f\n", sp.hs_n, sp.hs_cpu / sp.hs_n * 1e6,
           sp.hs_server / sp.hs_n * 1e6, sp.up_bytes / sp.up_cpu / 1e6,
           sp.down_bytes / sp.down_cpu / 1e6);
    printf("summary impl=bare handshakes=%ld us_per_hs=%.2f "
           "server_us_per_hs=%.2f up_mb_per_cpu_s=%.1f "
           "down_mb_per_cpu_s=%.1f\n", bare.hs_n,
           bare.hs_cpu / bare.hs_n * 1e6, bare.hs_server / bare.hs_n * 1e6,
           bare.up_bytes / bare.up_cpu / 1e6,
           bare.down_bytes / bare.down_cpu / 1e6);
    printf("summary ratio hs=%.3f server_hs=%.3f up=%.3f down=%.3f\n",
           (sp.hs_cpu / sp.hs_n) / (bare.hs_cpu / bare.hs_n),
           (sp.hs_server / sp.hs_n) / (bare.hs_server / bare.hs_n),
           (sp.up_bytes / sp.up_cpu) / (bare.up_bytes / bare.up_cpu),
           (sp.down_bytes / sp.down_cpu) / (bare.down_bytes / bare.down_cpu));

    SSL_CTX_free(bare_sctx);
    SSL_CTX_free(bare_cctx);
    sp_ctx_unref(sp_sctx);
    sp_ctx_unref(sp_cctx);
    return 0;
}
