/*
 * The three kinds of state: a context that no longer changes once it has
 * made a pair, worker objects that count and recycle for their own pairs
 * only, and pairs made from one context on two threads at once, each
 * thread with its own worker.  Last, the handshake-buffer reserve: the
 * block a worker keeps is the one OpenSSL takes for the next handshake.
 */

#include <pthread.h>

#include "pump.h"
#include "internal.h"


#define THREAD_PAIRS   40


/* ---- a context is frozen by its first pair ----------------------------- */

static void
test_frozen(void)
{
    static const char  *const h2[] = { "h2" };

    sp_ctx   *sctx, *cctx;
    sp_pair  *server;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = ctx_for(SP_CLIENT, NULL, "ca.crt");

    ok(!sp_ctx_frozen(sctx), "frozen: not before a pair");
    is_int(sp_ctx_set_alpn(sctx, h2, 1), SP_OK,
           "frozen: a setter works before the first pair");

    server = sp_pair_new(sctx, NULL, NULL);
    ok(server != NULL, "frozen: a pair");
    ok(sp_ctx_frozen(sctx), "frozen: after the first pair");

    is_int(sp_ctx_set_alpn(sctx, NULL, 0), SP_ERR_INVALID,
           "frozen: sp_ctx_set_alpn refused");
    ok(strstr(sp_ctx_error(sctx), "sp_ctx_set_alpn") != NULL
       && strstr(sp_ctx_error(sctx), "no longer changes") != NULL,
       "frozen: and says so: \"%s\"", sp_ctx_error(sctx));
    is_int(sp_ctx_set_request_cert(sctx, 1), SP_ERR_INVALID,
           "frozen: sp_ctx_set_request_cert refused");
    is_int(sp_ctx_set_reject_unauthorized(sctx, 1), SP_ERR_INVALID,
           "frozen: sp_ctx_set_reject_unauthorized refused");
    is_int(sp_ctx_set_npn(sctx, h2, 1), SP_ERR_INVALID,
           "frozen: sp_ctx_set_npn refused");
    is_int(sp_ctx_add_context(sctx, "a.example.com", NULL), SP_ERR_INVALID,
           "frozen: sp_ctx_add_context refused");
    is_int(sp_ctx_set_sni_callback(sctx, NULL, NULL), SP_ERR_INVALID,
           "frozen: sp_ctx_set_sni_callback refused");
    is_int(sp_ctx_set_reject_unknown_name(sctx, 1), SP_ERR_INVALID,
           "frozen: sp_ctx_set_reject_unknown_name refused");
    is_int(sp_ctx_set_reneg_limit(sctx, 1, 1), SP_ERR_INVALID,
           "frozen: sp_ctx_set_reneg_limit refused");
    is_int(sp_ctx_set_clock(sctx, NULL, NULL), SP_ERR_INVALID,
           "frozen: sp_ctx_set_clock refused");
    is_int(sp_ctx_set_max_connections(sctx, 1), SP_ERR_INVALID,
           "frozen: sp_ctx_set_max_connections refused");
    is_int(sp_ctx_set_clear_queue_limit(sctx, 1), SP_ERR_INVALID,
           "frozen: sp_ctx_set_clear_queue_limit refused");
    is_int(sp_ctx_set_session_cache(sctx, SP_SESSION_CACHE_OFF, NULL),
           SP_ERR_INVALID, "frozen: sp_ctx_set_session_cache refused");
    is_int(sp_ctx_set_session_timeout(sctx, 10), SP_ERR_INVALID,
           "frozen: sp_ctx_set_session_timeout refused");
    is_int(sp_ctx_set_session_tickets(sctx, 0), SP_ERR_INVALID,
           "frozen: sp_ctx_set_session_tickets refused");
    is_int(sp_ctx_set_ticket_count(sctx, 2), SP_ERR_INVALID,
           "frozen: sp_ctx_set_ticket_count refused");
    is_int(sp_ctx_add_ticket_key(sctx, "0123456789012345678901234567890"
                                 "12345678901234567", 48), SP_ERR_INVALID,
           "frozen: sp_ctx_add_ticket_key refused");
    is_int(sp_ctx_add_ticket_key_file(sctx, "/nonexistent"), SP_ERR_INVALID,
           "frozen: sp_ctx_add_ticket_key_file refused");

    /* freeing its pairs does not thaw it: another thread may make one */
    sp_pair_free(server);
    ok(sp_ctx_frozen(sctx), "frozen: still, with no pair left");
    is_int(sp_ctx_set_alpn(sctx, NULL, 0), SP_ERR_INVALID,
           "frozen: still refused");

    /* the client context is untouched by the server's pairs */
    ok(!sp_ctx_frozen(cctx), "frozen: another context is not");
    is_int(sp_ctx_set_alpn(cctx, h2, 1), SP_OK,
           "frozen: another context still changes");

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    ok(error_queue_empty(), "frozen: error queue empty");
}


/* ---- credentials are frozen once they serve a context ------------------ */

/* A setter on frozen credentials: refused, and the message names it. */
static void
creds_refused(sp_creds *creds, int rc, const char *call)
{
    is_int(rc, SP_ERR_INVALID, tn("frozen creds: %s refused", call));
    ok(strstr(sp_creds_error(creds), call) != NULL
       && strstr(sp_creds_error(creds), "no longer change") != NULL,
       tn("frozen creds: and says so: \"%s\"", sp_creds_error(creds)));
}


static sp_creds  *sni_answer;
static int        sni_asked;


static sp_creds *
sni_pick(sp_pair *pair, const char *servername, void *arg)
{
    (void) pair;
    (void) servername;
    (void) arg;

    sni_asked++;
    return sni_answer;
}


static void
test_frozen_creds(void)
{
    static const char *const  pass[] = { "secret" };

    sp_ctx        *sctx, *cctx;
    sp_pair       *client, *server;
    sp_creds      *creds, *sni, *picked;
    sp_peer_cert  *peer;

    creds = creds_for("server-rsa", "ca.crt");
    is_int(sp_creds_set_ciphers(creds, "ECDHE-RSA-AES128-GCM-SHA256"), SP_OK,
           "frozen creds: a setter works before they serve");

    sctx = sp_ctx_new(SP_SERVER, creds);
    ok(sctx != NULL, "frozen creds: a context's default");

    creds_refused(creds, sp_creds_set_passphrases(creds, pass, 1),
                  "sp_creds_set_passphrases");
    creds_refused(creds, sp_creds_add_key_cert_file(creds,
                      cert_path("server-ec.key"), cert_path("server-ec.crt")),
                  "sp_creds_add_key_cert_file");
    creds_refused(creds, sp_creds_add_key_cert_mem(creds, "k", 1, "c", 1),
                  "sp_creds_add_key_cert_mem");
    creds_refused(creds, sp_creds_add_ca_file(creds, cert_path("ca2.crt")),
                  "sp_creds_add_ca_file");
    creds_refused(creds, sp_creds_add_ca_mem(creds, "pem", 3),
                  "sp_creds_add_ca_mem");
    creds_refused(creds, sp_creds_set_ciphers(creds, "AES256-SHA"),
                  "sp_creds_set_ciphers");
    creds_refused(creds, sp_creds_set_versions(creds, SP_TLS1_3, 0),
                  "sp_creds_set_versions");
    creds_refused(creds, sp_creds_set_ciphersuites(creds,
                      "TLS_AES_256_GCM_SHA384"), "sp_creds_set_ciphersuites");
    creds_refused(creds, sp_creds_set_session_id_context(creds, "sid", 3),
                  "sp_creds_set_session_id_context");
    creds_refused(creds, sp_creds_set_request_cert(creds, 1),
                  "sp_creds_set_request_cert");
    creds_refused(creds, sp_creds_set_reject_unauthorized(creds, 1),
                  "sp_creds_set_reject_unauthorized");
    creds_refused(creds, sp_creds_add_trusted_file(creds,
                      cert_path("ca2.crt")), "sp_creds_add_trusted_file");
    creds_refused(creds, sp_creds_add_crl_file(creds, cert_path("ca.crl")),
                  "sp_creds_add_crl_file");
    creds_refused(creds, sp_creds_set_verify_depth(creds, 1),
                  "sp_creds_set_verify_depth");
    creds_refused(creds, sp_creds_set_ecdh_curve(creds, "X25519"),
                  "sp_creds_set_ecdh_curve");
    creds_refused(creds, sp_creds_set_dhparam_file(creds,
                      cert_path("dh2048.pem")), "sp_creds_set_dhparam_file");
    creds_refused(creds, sp_creds_set_dhparam_mem(creds, "pem", 3),
                  "sp_creds_set_dhparam_mem");
    creds_refused(creds, sp_creds_set_honor_cipher_order(creds, 1),
                  "sp_creds_set_honor_cipher_order");
    creds_refused(creds, sp_creds_add_conf_command(creds, "Options",
                      "-SessionTicket"), "sp_creds_add_conf_command");

    /* forgetting secrets changes no configuration: still allowed */
    sp_creds_wipe_passphrases(creds);
    ok(1, "frozen creds: sp_creds_wipe_passphrases allowed");

    /* nothing refused took effect: a client that has a certificate is
       not asked for it */
    cctx = ctx_for(SP_CLIENT, "client", "ca.crt");
    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server) && sp_pair_authorized(client),
       "frozen creds: the context serves as configured before");
    peer = sp_pair_peer_cert(server);
    ok(peer == NULL, "frozen creds: and asks no client certificate");
    sp_peer_cert_free(peer);
    sp_pair_free(client);
    sp_pair_free(server);

    /* credentials of an SNI context freeze when it is added */
    sni = creds_for("sni-a", NULL);
    sp_ctx_unref(sctx);
    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    is_int(sp_ctx_add_context(sctx, "sni-a.example.com", sni), SP_OK,
           "frozen creds: an SNI context");
    creds_refused(sni, sp_creds_set_ciphers(sni, "AES256-SHA"),
                  "sp_creds_set_ciphers");

    /* and those an SNI callback returns, once a pair has used them */
    picked = creds_for("server-rsa", NULL);
    sni_answer = picked;
    sp_ctx_set_sni_callback(sctx, sni_pick, NULL);
    is_int(sp_creds_set_request_cert(picked, 0), SP_OK,
           "frozen creds: the callback's before a pair asks");
    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server) && sni_asked == 1,
       "frozen creds: the callback chose them");
    creds_refused(picked, sp_creds_set_request_cert(picked, 1),
                  "sp_creds_set_request_cert");
    sp_pair_free(client);
    sp_pair_free(server);

    sp_creds_unref(picked);
    sp_creds_unref(sni);
    sp_creds_unref(creds);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    ok(error_queue_empty(), "frozen creds: error queue empty");
}


/* ---- workers count their own pairs ------------------------------------- */

/*
 * Each worker counts its own live pairs: asked for the context or for
 * every context (the first worker one way, the second the other, each
 * time), and the default worker those sp_pair_new() made.
 */
static void
count_pairs(sp_worker *w1, sp_worker *w2, sp_ctx *sctx, unsigned want)
{
    is_int(sp_worker_connections(w1, want ? sctx : NULL), want,
           tn("workers: first counts %u", want));
    is_int(sp_worker_connections(w2, want ? NULL : sctx), want,
           tn("workers: second counts %u", want));
    is_int(sp_ctx_connections(sctx), want,
           tn("workers: default counts %u of its own", want));
}


static void
test_workers(void)
{
    int         err;
    sp_ctx     *sctx;
    sp_pair    *a, *b, *c, *d;
    sp_worker  *w1, *w2;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    sp_ctx_set_max_connections(sctx, 1);

    w1 = sp_worker_new();
    w2 = sp_worker_new();
    ok(w1 != NULL && w2 != NULL, "workers: two");

    a = sp_pair_new_in(sctx, w1, NULL, &err);
    ok(a != NULL && err == SP_OK, "workers: a pair in the first");
    b = sp_pair_new_in(sctx, w1, NULL, &err);
    ok(b == NULL && err == SP_ERR_MAX_CONNECTIONS,
       "workers: the first is full (max 1)");
    c = sp_pair_new_in(sctx, w2, NULL, &err);
    ok(c != NULL && err == SP_OK, "workers: the limit holds per worker");
    d = sp_pair_new(sctx, NULL, &err);
    ok(d != NULL && err == SP_OK, "workers: and in the default one");

    count_pairs(w1, w2, sctx, 1);

    sp_pair_free(a);
    sp_pair_free(c);
    sp_pair_free(d);
    count_pairs(w1, w2, sctx, 0);

    sp_worker_free(w1);
    sp_worker_free(w2);
    sp_worker_free(NULL);
    sp_ctx_unref(sctx);
}


/* ---- two threads, one context each way, a worker each ------------------ */

/* both threads start together, so that their pairs overlap */
static pthread_barrier_t  start;


typedef struct {
    sp_ctx      *sctx;
    sp_ctx      *cctx;
    pthread_t    tid;
    int          secure;        /* pairs that completed their handshake */
    int          echoed;        /* pairs whose bytes arrived intact */
    int          regex;         /* servers that chose the regex context */
    unsigned     left;          /* the worker's pairs at the end */
} thread_job;


static void *
thread_run(void *arg)
{
    int          i;
    char         msg[32], buf[32];
    size_t       len;
    thread_job  *job = arg;
    sp_pair     *server, *client;
    sp_worker   *w;

    pthread_barrier_wait(&start);

    w = sp_worker_new();
    if (w == NULL) {
        return NULL;
    }

    for (i = 0; i < THREAD_PAIRS; i++) {
        server = sp_pair_new_in(job->sctx, w, NULL, NULL);
        client = sp_pair_new_in(job->cctx, w, "localhost", NULL);

        if (server != NULL && client != NULL && handshake(client, server)) {
            job->secure++;

            len = (size_t) snprintf(msg, sizeof(msg), "pair %d", i);
            sp_clear_write(client, msg, len);
            pump(client, server);

            if (read_all(server, buf, sizeof(buf)) == len
                && memcmp(buf, msg, len) == 0)
            {
                job->echoed++;
            }

            if (sp_pair_context_name(server) != NULL
                && strcmp(sp_pair_context_name(server), "~^local") == 0)
            {
                job->regex++;
            }
        }

        sp_pair_free(client);
        sp_pair_free(server);
    }

    job->left = sp_worker_connections(w, NULL);
    sp_worker_free(w);
    return NULL;
}


static void
test_threads(void)
{
    int          i;
    sp_ctx      *sctx, *cctx;
    sp_creds    *creds;
    thread_job   jobs[2];

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = ctx_for(SP_CLIENT, NULL, "ca.crt");

    /* a regex name: its match data is the worker's, not the table's */
    creds = creds_for("server-rsa", NULL);
    is_int(sp_ctx_add_context(sctx, "~^local", creds), SP_OK,
           "threads: a regex SNI context");
    sp_creds_unref(creds);

    memset(jobs, 0, sizeof(jobs));
    pthread_barrier_init(&start, NULL, 2);

    for (i = 0; i < 2; i++) {
        jobs[i].sctx = sctx;
        jobs[i].cctx = cctx;
        ok(pthread_create(&jobs[i].tid, NULL, thread_run, &jobs[i]) == 0,
           "threads: thread %d started", i);
    }

    for (i = 0; i < 2; i++) {
        pthread_join(jobs[i].tid, NULL);
        is_int(jobs[i].secure, THREAD_PAIRS,
               tn("threads: %d: every handshake", i));
        is_int(jobs[i].echoed, THREAD_PAIRS,
               tn("threads: %d: every message", i));
        is_int(jobs[i].regex, THREAD_PAIRS,
               tn("threads: %d: every server by the regex name", i));
        is_int(jobs[i].left, 0, tn("threads: %d: no pair left", i));
    }

    pthread_barrier_destroy(&start);
    is_int(sp_ctx_connections(sctx), 0,
           "threads: none in the default worker");

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    ok(error_queue_empty(), "threads: error queue empty");
}


/* ---- the handshake-buffer reserve ------------------------------------- */

/*
 * The blocks of SP_HS_BUF_SIZE bytes OpenSSL asked for since the last
 * reset: handshake message buffers.  OpenSSL's allocations go through
 * these hooks, installed before its first one.
 */
static void      *hs_blocks[8];
static unsigned   hs_nblocks;
static int        hs_watch;     /* set once the threads are gone */


static void
hs_note(void *p, size_t n)
{
    if (hs_watch && n == SP_HS_BUF_SIZE && p != NULL && hs_nblocks < 8) {
        hs_blocks[hs_nblocks++] = p;
    }
}


static int
hs_taken(const void *p)
{
    unsigned  i;

    for (i = 0; i < hs_nblocks; i++) {
        if (hs_blocks[i] == p) {
            return 1;
        }
    }

    return 0;
}


static void *
hook_malloc(size_t n, const char *file, int line)
{
    void  *p = malloc(n);

    (void) file;
    (void) line;

    hs_note(p, n);
    return p;
}


static void *
hook_realloc(void *old, size_t n, const char *file, int line)
{
    void  *p = realloc(old, n);

    (void) file;
    (void) line;

    hs_note(p, n);
    return p;
}


static void
hook_free(void *p, const char *file, int line)
{
    (void) file;
    (void) line;

    free(p);
}


#if defined(__SANITIZE_ADDRESS__)
#define SP_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SP_ASAN  1
#endif
#endif


/*
 * What the reserve (internal.h, SP_HS_BUF_SIZE) is for: a pair that
 * finishes its handshake leaves a block of OpenSSL's message-buffer size
 * in its worker, and the next handshake frees it right before OpenSSL
 * allocates that buffer, so OpenSSL gets the same pages back.  If OpenSSL
 * changes the buffer's size, or malloc stops giving back the block just
 * freed, the reserve saves nothing and this fails: then it should go.
 * ASan's allocator never hands a freed block straight back.
 */
static void
test_hs_reserve(int hooked)
{
    int         i;
    sp_ctx     *sctx, *cctx;
    sp_pair    *server[3], *client[3];
    sp_worker  *w, *wc;
    void       *kept;

#ifdef SP_ASAN
    hooked = 0;
#endif

    if (!hooked) {
        ok(1, "# SKIP hs reserve: malloc is not glibc's or not hooked");
        return;
    }

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = ctx_for(SP_CLIENT, NULL, "ca.crt");

    hs_watch = 1;

    /* servers in one worker, as in an nginx worker process */
    w = sp_worker_new();
    wc = sp_worker_new();

    server[0] = sp_pair_new_in(sctx, w, NULL, NULL);
    client[0] = sp_pair_new_in(cctx, wc, "localhost", NULL);
    ok(handshake(client[0], server[0]), "hs reserve: handshake");
    ok(hs_nblocks > 0, "hs reserve: OpenSSL's message buffer is %d bytes",
       SP_HS_BUF_SIZE);
    is_int(w->hs_bufs.n, 1, "hs reserve: the server kept a block");

    for (i = 1; i < 3; i++) {
        kept = w->hs_bufs.head;
        hs_nblocks = 0;
        server[i] = sp_pair_new_in(sctx, w, NULL, NULL);
        client[i] = sp_pair_new_in(cctx, wc, "localhost", NULL);
        ok(handshake(client[i], server[i]), tn("hs reserve: handshake %d", i));
        ok(kept != NULL && hs_taken(kept),
           tn("hs reserve: handshake %d: its buffer is the block kept", i));
        is_int(w->hs_bufs.n, 1, tn("hs reserve: handshake %d: one kept", i));
    }

    for (i = 0; i < 3; i++) {
        sp_pair_free(client[i]);
        sp_pair_free(server[i]);
    }

    is_int(w->hs_bufs.n, 0, "hs reserve: none kept without pairs");

    sp_worker_free(wc);
    sp_worker_free(w);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


int
main(void)
{
    int  hooked;

    hooked = CRYPTO_set_mem_functions(hook_malloc, hook_realloc, hook_free);

    test_frozen();
    test_frozen_creds();
    test_workers();
    test_threads();
    test_hs_reserve(hooked);

    return done_testing();
}
