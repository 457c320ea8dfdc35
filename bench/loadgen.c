/*
 * loadgen: a TLS load generator for the securepair benchmarks and the
 * stress suite.  OpenSSL client, epoll, one thread, non-blocking sockets,
 * loopback.  Every loop is bounded: by a count of connections, by a
 * per-connection deadline and by an overall deadline (--timeout).
 *
 *   loadgen MODE --port P [options]
 *
 * Modes:
 *   handshake  N connections (-n), C at a time (-c): a full handshake (no
 *              resumption), a --size byte echo (16), close.  With sessions
 *              (below), resumed handshakes instead.
 *   verify     the same, with random payloads of random sizes echoed back
 *              and checked with SHA-256 per connection.
 *   bulk       N connections push (--dir up), pull (down) or both (both)
 *              --bytes each through a proxy to a sink / source / echo
 *              backend.  up waits for the sink's one-byte acknowledgement.
 *   idle       N connections, one exchange each, then held.  Prints a line
 *              "ready=1 ..." once all are established, then holds them
 *              until SIGUSR1, SIGINT or SIGTERM, or --hold seconds.
 *   garbage    hostile first bytes (--kind random|http|sslv2|truncated|
 *              oversized|badrecord|all), then waits for the server to close.
 *   slowloris  a ClientHello trickled one byte per --interval seconds;
 *              counts the connections the server closes within --duration.
 *   reset      RST (SO_LINGER 0) mid-handshake and mid-transfer (--kind
 *              hs|data|all).
 *   noread     complete the handshake, send for --duration, never read.
 *   reneg      TLS 1.2, then client renegotiations in a loop with an echo
 *              between each, until the server refuses or --reneg-max.
 *
 * Each mode is one entry of the table `modes`: flags and parameters for
 * what it allows and how it ends, hooks for the steps where it differs
 * (after the connect, once secure, the exchange, after it, its fields of
 * the result line).
 *
 * Sessions (handshake mode): each of the C connection slots keeps the newest
 * session the server gave it (SSL_CTX_sess_set_new_cb; a TLS 1.3 session
 * comes with a NewSessionTicket after the handshake, so a connection that
 * has none yet after its echo reads on until one arrives).
 *   --sess-out F   write each slot's session to F (PEM) at the end; run it
 *                  with -n C -c C: one full handshake per slot.
 *   --sess-in F    every connection offers its slot's session (slot k
 *                  starts with the k-th session of F, modulo their number)
 *                  and counts whether the server resumed it; a new session
 *                  from the server replaces the slot's, as a browser does.
 *   --min-reuse P  with --sess-in: exit status 3, with a message, when
 *                  fewer than P % of the connections that succeeded were
 *                  resumed (a resumption run that silently does full
 *                  handshakes measures the wrong thing).
 *
 * Output: one line of key=value pairs on stdout (idle prints a "ready=1"
 * line first).  The exit status is 0 when the run completed (failures are
 * counted in the line), 2 for bad usage, 1 when it could not run at all,
 * 3 when --min-reuse was not reached.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>


#define CHUNK        16384
#define RBUF_SIZE    65536
#define MAX_EVENTS   512
#define SCAN_EVERY   0.05      /* seconds between deadline scans */
#define MAX_NAMES    1000000
#define TICKET_WAIT  5.0       /* seconds a --sess-out connection waits for
                                  its session after the echo */


enum dir { D_UP, D_DOWN, D_BOTH };

enum gkind {
    G_RANDOM, G_HTTP, G_SSLV2, G_TRUNCATED, G_OVERSIZED, G_BADRECORD, G_NKINDS
};

static const char *gkind_names[] = {
    "random", "http", "sslv2", "truncated", "oversized", "badrecord"
};

enum rkind { R_HS, R_DATA, R_NKINDS };

static const char *rkind_names[] = { "hs", "data" };

enum state {
    S_FREE,
    S_CONNECTING,
    S_HANDSHAKE,
    S_STREAM,         /* writing and reading the exchange */
    S_HOLD,           /* idle: established, held */
    S_RENEG,          /* reneg: a renegotiation in progress */
    S_TICKET,         /* --sess-out: the exchange is done, no session yet */
    S_RAW_SEND,       /* garbage / slowloris: raw bytes out */
    S_RAW_WAIT,       /* garbage: waiting for the server to close */
    S_RST_WAIT        /* reset hs: waiting for the server's first flight */
};


typedef struct {
    enum state      state;
    int             fd;
    SSL            *ssl;
    uint32_t        events;       /* registered with epoll */
    int             want;         /* WANT_IN / WANT_OUT from the last I/O */

    uint64_t        to_send, to_recv, sent, rcvd;
    int             check;        /* hash both directions and compare */
    EVP_MD_CTX     *htx, *hrx;
    unsigned char  *wbuf;         /* per-connection chunk (check mode) */
    const unsigned char *wptr;
    size_t          wlen;         /* pending write, retried as is */

    double          t_start, t_secure, deadline, t_next;
    int             deadline_ok;  /* reaching the deadline is success */
    uint64_t        rng;
    int             kind;
    int             renegs;
    int             established;
    int             peer_gone;    /* no close_notify: the peer is gone */
    int             got_session;  /* the server gave this one a session */
    int             offered;      /* it offered its slot's session */
    int             reused;       /* and the server resumed it */
    int             http;         /* the exchange is http_req and its
                                     response */

    unsigned char  *raw;
    size_t          raw_len, raw_off;
} conn;

#define WANT_IN   1
#define WANT_OUT  2


/*
 * A mode is an entry of the table `modes` (below the steps): flags and
 * parameters for what differs by a test, hooks for what differs by a step.
 * The loops ask the entry of the mode being run (`M`), never its name: a
 * new mode is a new entry.  A NULL hook does the common thing.
 */
typedef struct {
    const char          *name;
    unsigned             flags;        /* MODE_* */
    const char *const   *kinds;        /* --kind names, rotated over the
                                          connections; NULL: none */
    int                  nkinds;
    uint64_t             rst_after;    /* reset once this many bytes of the
                                          exchange are out; 0: never */

    /* After the TCP connect: 1 when the mode took the connection (raw
       bytes), 0 to go on to the handshake (or --plain exchange). */
    int                (*connected)(conn *c);

    /* The handshake waits for the server's first flight: 1 when the mode
       took the connection. */
    int                (*hello_out)(conn *c);

    /* Secure (or connected, with --plain); NULL: the exchange. */
    void               (*secure)(conn *c);

    /* The exchange: sets to_send, to_recv, check; NULL: none. */
    void               (*exchange)(conn *c);

    /* The exchange is complete and checked; NULL: the connection
       succeeded. */
    void               (*exchanged)(conn *c);

    /* The mode's own fields of the result line. */
    void               (*report)(void);
} mode;

#define MODE_PLAIN       0x001   /* --plain allowed */
#define MODE_SESSIONS    0x002   /* --sess-in, --sess-out allowed */
#define MODE_RENEG       0x004   /* TLS 1.2, client renegotiation on */
#define MODE_NO_NOTIFY   0x008   /* ends without close_notify */
#define MODE_HELLO       0x010   /* sends a ClientHello of its own, raw */
#define MODE_TRICKLE     0x020   /* raw bytes one per --interval */
#define MODE_OPEN_OK     0x040   /* still open at its deadline: counted in
                                    timeouts, not failed */
#define MODE_HOLD        0x080   /* all connections at once, held after
                                    their exchange; "ready=1" */
#define MODE_RAND_CHUNKS 0x100   /* writes of random sizes */
#define MODE_CLOSE_OK    0x200   /* a write the server refuses is its
                                    closing: counted, not failed */

static const mode  *M;           /* the mode being run */


static struct {
    const char     *host;
    int             port;
    long            n;
    long            c;
    int             tls_min, tls_max;
    const char     *ciphers, *suites, *groups, *sigalgs;
    const char     *cert, *key, *sni, *sni_file, *alpn;
    long long       bytes;
    enum dir        dir;
    size_t          size;
    size_t          max_payload;
    double          timeout, conn_timeout, hold, duration, interval;
    int             reneg_max;
    int             kind;          /* -1: all, rotating */
    unsigned long   seed;
    int             plain;
    int             http;
    int             src_ips;
    const char     *fail_log;
    const char     *sess_in, *sess_out;
    double          min_reuse;     /* percent; < 0: not checked */
} o = {
    .host = "127.0.0.1", .n = 1000, .c = 32, .bytes = 1 << 20,
    .dir = D_UP, .size = 16, .max_payload = 262144, .timeout = 300,
    .conn_timeout = 30, .hold = 600, .duration = 30, .interval = 1.0,
    .reneg_max = 10, .kind = -1, .seed = 0, .src_ips = 16, .min_reuse = -1
};


static struct {
    long       started, finished, ok, failed, inflight, established;
    long       err_connect, err_handshake, err_io, err_timeout, err_mismatch,
               err_eof, err_nosession, lost;
    long       offered, reused, sessions_received, sessions_loaded,
               sessions_written;
    uint64_t   bytes_sent, bytes_recv, bytes_verified;
    long       closed_by_server, timeouts, resets, renegs, reneg_refused,
               reneg_max_seen;
    long       kind_count[G_NKINDS], kind_closed[G_NKINDS];
    double     close_time_sum, close_time_max;
    double    *hs_lat;
    long       nlat;
    char       version[32], cipher[64], group[32];
    char       first_error[160];
} st;


static FILE            *fail_log;
static int              ep = -1;
static int              sigfd = -1;
static conn            *slots;
static long             nslots;
static long            *free_list;
static long             nfree;
static SSL_CTX         *ctx;
static unsigned char   *static_data;
static unsigned char    rbuf[RBUF_SIZE];
static struct sockaddr_in  dst;
static char           **names;
static long             nnames;
static unsigned char   *hello;
static size_t           hello_len;
static uint64_t         grng;
static int              stop_now;
static double           t0;
static char             sigfd_tag;
static SSL_SESSION    **slot_sess;     /* each slot's newest session */
static SSL_SESSION    **sess_pool;     /* --sess-in, as read */
static const char       http_req[] =
    "GET / HTTP/1.0\r\nHost: localhost\r\nUser-Agent: loadgen\r\n\r\n";


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static uint64_t
xrand(uint64_t *s)
{
    /* xorshift64* */
    uint64_t  x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}


static void
fill_random(uint64_t *s, unsigned char *p, size_t n)
{
    uint64_t  v;
    size_t    i;

    for (i = 0; i + 8 <= n; i += 8) {
        v = xrand(s);
        memcpy(p + i, &v, 8);
    }

    if (i < n) {
        v = xrand(s);
        memcpy(p + i, &v, n - i);
    }
}


static void
note_error(const char *what, const char *detail)
{
    if (st.first_error[0] == '\0') {
        snprintf(st.first_error, sizeof(st.first_error), "%s:%s", what,
                 detail ? detail : "");
        /* key=value output: no spaces */
        for (char *p = st.first_error; *p; p++) {
            if (*p == ' ' || *p == '=') {
                *p = '_';
            }
        }
    }
}


static void
ssl_note_error(const char *what)
{
    char           buf[128];
    unsigned long  e = ERR_peek_error();

    if (e) {
        ERR_error_string_n(e, buf, sizeof(buf));
        note_error(what, buf);
    } else {
        note_error(what, errno ? strerror(errno) : "eof");
    }

    ERR_clear_error();
}


static void
usage(void)
{
    fprintf(stderr,
"usage: loadgen MODE --port P [options]\n"
"modes: handshake verify bulk idle garbage slowloris reset noread reneg\n"
"  --host A            server address (127.0.0.1)\n"
"  --port P            server port\n"
"  -n, --conns N       connections in total (1000)\n"
"  -c, --concurrency C connections at a time (32)\n"
"  --tls V             1.2, 1.3 or any (any)\n"
"  --ciphers L         TLS <= 1.2 cipher list\n"
"  --suites L          TLS 1.3 cipher suites\n"
"  --groups L          key exchange groups (X25519:P-256)\n"
"  --sigalgs L         signature algorithms\n"
"  --cert F --key F    client certificate and key\n"
"  --sni NAME          SNI name\n"
"  --sni-file F        SNI names, one a line, picked at random\n"
"  --alpn L            comma-separated ALPN protocols\n"
"  --plain             plain TCP, no TLS (reference runs)\n"
"  --http              handshake: send an HTTP/1.0 GET instead of the echo\n"
"                      and read the response to its end (an http server)\n"
"  --size B            echo size for handshake / idle (16)\n"
"  --sess-out F        handshake: write each slot's newest session to F\n"
"  --sess-in F         handshake: offer the sessions of F, count reuse\n"
"  --min-reuse P       with --sess-in: exit 3 below P %% resumed\n"
"  --bytes B           bulk / noread bytes per connection (1 MiB)\n"
"  --dir D             bulk direction: up, down, both (up)\n"
"  --max-payload B     verify: largest payload per connection (256 KiB)\n"
"  --kind K            garbage: random http sslv2 truncated oversized\n"
"                      badrecord all; reset: hs data all (all)\n"
"  --interval S        slowloris: seconds between bytes (1)\n"
"  --duration S        slowloris / noread: seconds (30)\n"
"  --reneg-max N       reneg: renegotiations per connection at most (10)\n"
"  --hold S            idle: hold at most S seconds (600)\n"
"  --conn-timeout S    per-connection deadline (30)\n"
"  --timeout S         whole run deadline (300)\n"
"  --src-ips K         spread sources over 127.0.0.10.. K addresses (16)\n"
"  --seed N            random seed (time)\n"
"  --fail-log F        one line per failed connection: epoch time, local\n"
"                      address:port, error kind, state, age and age when\n"
"                      secure in seconds (-1: never), for the stress\n"
"                      driver to match with the server's access log\n");
    exit(2);
}


static int
parse_tls(const char *v)
{
    if (strcmp(v, "1.2") == 0) {
        o.tls_min = o.tls_max = TLS1_2_VERSION;
    } else if (strcmp(v, "1.3") == 0) {
        o.tls_min = o.tls_max = TLS1_3_VERSION;
    } else if (strcmp(v, "any") == 0) {
        o.tls_min = o.tls_max = 0;
    } else {
        return -1;
    }

    return 0;
}


static long long
parse_size(const char *v)
{
    char       *end;
    long long   n;

    n = strtoll(v, &end, 10);
    if (n < 0 || end == v) {
        fprintf(stderr, "loadgen: bad size \"%s\"\n", v);
        exit(2);
    }

    switch (*end) {
    case 'k': case 'K': n <<= 10; end++; break;
    case 'm': case 'M': n <<= 20; end++; break;
    case 'g': case 'G': n <<= 30; end++; break;
    }

    if (*end != '\0') {
        fprintf(stderr, "loadgen: bad size \"%s\"\n", v);
        exit(2);
    }

    return n;
}


/* ---- TLS client context --------------------------------------------- */


static int
alpn_wire(const char *list, unsigned char *out, size_t room)
{
    size_t       len = 0, n;
    const char  *p = list, *comma;

    while (*p) {
        comma = strchr(p, ',');
        n = comma ? (size_t) (comma - p) : strlen(p);

        if (n == 0 || n > 255 || len + n + 1 > room) {
            return -1;
        }

        out[len++] = (unsigned char) n;
        memcpy(out + len, p, n);
        len += n;
        p += n + (comma != NULL);
    }

    return (int) len;
}


/*
 * A session from the server (TLS 1.2: at the end of a full handshake;
 * TLS 1.3: each NewSessionTicket): the connection's slot keeps the newest.
 * Returning 1 keeps the reference OpenSSL passes.
 */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
    conn  *c = SSL_get_app_data(ssl);
    long   k;

    if (c == NULL || slot_sess == NULL) {
        return 0;
    }

    k = c - slots;

    if (slot_sess[k] != NULL) {
        SSL_SESSION_free(slot_sess[k]);
    }

    slot_sess[k] = sess;
    c->got_session = 1;
    st.sessions_received++;
    return 1;
}


static SSL_CTX *
make_ctx(void)
{
    SSL_CTX  *c;

    c = SSL_CTX_new(TLS_client_method());
    if (c == NULL) {
        return NULL;
    }

    if (o.sess_in || o.sess_out) {
        /* sessions go to the slots, never to OpenSSL's own client cache */
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT
                                          | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, new_session);

    } else {
        /* no resumption: every connection is a full handshake */
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS
                        | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (M->flags & MODE_RENEG) {
        /* OpenSSL 3 clients renegotiate only when asked to */
        SSL_CTX_clear_options(c, SSL_OP_NO_RENEGOTIATION);
    }

    if ((o.tls_min && !SSL_CTX_set_min_proto_version(c, o.tls_min))
        || (o.tls_max && !SSL_CTX_set_max_proto_version(c, o.tls_max)))
    {
        fprintf(stderr, "loadgen: protocol version refused\n");
        return NULL;
    }

    if (o.ciphers && !SSL_CTX_set_cipher_list(c, o.ciphers)) {
        fprintf(stderr, "loadgen: bad --ciphers\n");
        return NULL;
    }

    if (o.suites && !SSL_CTX_set_ciphersuites(c, o.suites)) {
        fprintf(stderr, "loadgen: bad --suites\n");
        return NULL;
    }

    if (o.groups && !SSL_CTX_set1_groups_list(c, o.groups)) {
        fprintf(stderr, "loadgen: bad --groups\n");
        return NULL;
    }

    if (o.sigalgs && !SSL_CTX_set1_sigalgs_list(c, o.sigalgs)) {
        fprintf(stderr, "loadgen: bad --sigalgs\n");
        return NULL;
    }

    if (o.cert || o.key) {
        if (!o.cert || !o.key
            || SSL_CTX_use_certificate_chain_file(c, o.cert) != 1
            || SSL_CTX_use_PrivateKey_file(c, o.key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(c) != 1)
        {
            fprintf(stderr, "loadgen: cannot use --cert / --key\n");
            ERR_print_errors_fp(stderr);
            return NULL;
        }
    }

    if (o.alpn) {
        unsigned char  wire[1024];
        int            len = alpn_wire(o.alpn, wire, sizeof(wire));

        if (len <= 0 || SSL_CTX_set_alpn_protos(c, wire, (unsigned) len)) {
            fprintf(stderr, "loadgen: bad --alpn\n");
            return NULL;
        }
    }

    return c;
}


static const char *
pick_sni(uint64_t *rng)
{
    if (nnames) {
        return names[xrand(rng) % (uint64_t) nnames];
    }

    return o.sni;
}


static int
load_names(const char *file)
{
    FILE   *f;
    char    line[512];
    size_t  len;
    long    cap = 1024;

    f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
        return -1;
    }

    names = malloc(cap * sizeof(char *));

    while (names && nnames < MAX_NAMES && fgets(line, sizeof(line), f)) {
        len = strcspn(line, "\r\n");
        line[len] = '\0';

        if (len == 0) {
            continue;
        }

        if (nnames == cap) {
            char  **n2;

            cap *= 2;
            n2 = realloc(names, cap * sizeof(char *));
            if (n2 == NULL) {
                break;
            }
            names = n2;
        }

        names[nnames] = strdup(line);
        if (names[nnames] == NULL) {
            break;
        }
        nnames++;
    }

    fclose(f);

    if (nnames == 0) {
        fprintf(stderr, "loadgen: %s: no names\n", file);
        return -1;
    }

    return 0;
}


/* --sess-in: every session of the file, shared out over the slots. */
static int
load_sessions(const char *file)
{
    BIO          *b;
    SSL_SESSION  *s;
    long          cap = 64, k;

    b = BIO_new_file(file, "r");
    if (b == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
        return -1;
    }

    sess_pool = malloc(cap * sizeof(SSL_SESSION *));

    while (sess_pool
           && (s = PEM_read_bio_SSL_SESSION(b, NULL, NULL, NULL)) != NULL)
    {
        if (st.sessions_loaded == cap) {
            SSL_SESSION  **p2;

            cap *= 2;
            p2 = realloc(sess_pool, cap * sizeof(SSL_SESSION *));
            if (p2 == NULL) {
                SSL_SESSION_free(s);
                break;
            }
            sess_pool = p2;
        }

        sess_pool[st.sessions_loaded++] = s;
    }

    /* the end of the file leaves a "no start line" behind */
    ERR_clear_error();
    BIO_free(b);

    if (st.sessions_loaded == 0) {
        fprintf(stderr, "loadgen: %s: no sessions\n", file);
        return -1;
    }

    for (k = 0; k < nslots; k++) {
        slot_sess[k] = sess_pool[k % st.sessions_loaded];
        SSL_SESSION_up_ref(slot_sess[k]);
    }

    for (k = 0; k < st.sessions_loaded; k++) {
        SSL_SESSION_free(sess_pool[k]);
    }
    free(sess_pool);
    sess_pool = NULL;

    return 0;
}


/* --sess-out: each slot's newest session, PEM, one after the other. */
static int
write_sessions(const char *file)
{
    BIO   *b;
    long   k;

    b = BIO_new_file(file, "w");
    if (b == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
        return -1;
    }

    for (k = 0; k < nslots; k++) {
        if (slot_sess[k] == NULL) {
            continue;
        }

        if (!PEM_write_bio_SSL_SESSION(b, slot_sess[k])) {
            BIO_free(b);
            fprintf(stderr, "loadgen: %s: cannot write a session\n", file);
            return -1;
        }

        st.sessions_written++;
    }

    if (BIO_flush(b) != 1) {
        BIO_free(b);
        fprintf(stderr, "loadgen: %s: cannot write\n", file);
        return -1;
    }

    BIO_free(b);

    return 0;
}


/* A real ClientHello, from a client over memory BIOs. */
static int
make_hello(void)
{
    SSL          *s;
    BIO          *rb, *wb;
    char         *p;
    long          n;

    s = SSL_new(ctx);
    rb = BIO_new(BIO_s_mem());
    wb = BIO_new(BIO_s_mem());

    if (s == NULL || rb == NULL || wb == NULL) {
        return -1;
    }

    SSL_set_bio(s, rb, wb);
    SSL_set_connect_state(s);

    if (o.sni || nnames) {
        SSL_set_tlsext_host_name(s, pick_sni(&grng));
    }

    (void) SSL_do_handshake(s);

    n = BIO_get_mem_data(wb, &p);
    if (n <= 0) {
        SSL_free(s);
        return -1;
    }

    hello = malloc((size_t) n);
    if (hello == NULL) {
        SSL_free(s);
        return -1;
    }

    memcpy(hello, p, (size_t) n);
    hello_len = (size_t) n;
    SSL_free(s);
    ERR_clear_error();
    return 0;
}


/* ---- connections ---------------------------------------------------- */


static void
set_events(conn *c, uint32_t ev)
{
    struct epoll_event  e;

    if (c->events == ev) {
        return;
    }

    e.events = ev;
    e.data.ptr = c;

    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) != 0) {
        note_error("epoll_ctl", strerror(errno));
    }

    c->events = ev;
}


static void
events_from_want(conn *c)
{
    uint32_t  ev = 0;

    if (c->want & WANT_IN) {
        ev |= EPOLLIN;
    }

    if (c->want & WANT_OUT) {
        ev |= EPOLLOUT;
    }

    set_events(c, ev);
}


static void
conn_release(conn *c, int rst)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }

    if (c->fd >= 0) {
        if (rst) {
            struct linger  l = { 1, 0 };

            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }

        close(c->fd);          /* also leaves the epoll set */
        c->fd = -1;
    }

    EVP_MD_CTX_free(c->htx);
    EVP_MD_CTX_free(c->hrx);
    c->htx = c->hrx = NULL;
    free(c->wbuf);
    c->wbuf = NULL;
    free(c->raw);
    c->raw = NULL;
    c->state = S_FREE;
    free_list[nfree++] = c - slots;
}


/* The failure log: which connection failed, when and how, so that a
   driver can tell a connection lost with a killed worker (absent from
   the server's access log) from one the server dropped. */
static void
log_failure(conn *c, long *err)
{
    struct sockaddr_in  a;
    socklen_t           len = sizeof(a);
    struct timeval      tv;
    char                addr[INET_ADDRSTRLEN] = "-";
    int                 port = 0;
    const char         *kind;

    if (fail_log == NULL) {
        return;
    }

    if (c->fd >= 0 && getsockname(c->fd, (struct sockaddr *) &a, &len) == 0) {
        inet_ntop(AF_INET, &a.sin_addr, addr, sizeof(addr));
        port = ntohs(a.sin_port);
    }

    kind = err == &st.err_connect ? "connect"
           : err == &st.err_handshake ? "handshake"
           : err == &st.err_io ? "io"
           : err == &st.err_timeout ? "timeout"
           : err == &st.err_mismatch ? "mismatch"
           : err == &st.err_eof ? "eof" : "other";

    gettimeofday(&tv, NULL);
    fprintf(fail_log, "%ld.%06ld %s:%d %s %d %.6f %.6f\n",
            (long) tv.tv_sec, (long) tv.tv_usec, addr, port, kind,
            (int) c->state,
            now() - c->t_start, c->t_secure ? c->t_secure - c->t_start : -1);
}


/* Ends a connection; `err` points at the counter to bump, NULL when ok. */
static void
conn_done(conn *c, long *err, int rst)
{
    if (!c->established) {
        st.inflight--;
    }

    if (err == NULL) {
        st.ok++;
        st.reused += c->reused;
    } else {
        st.failed++;
        (*err)++;
        log_failure(c, err);
    }

    if (c->ssl && !rst && err == NULL && !(M->flags & MODE_NO_NOTIFY)
        && !c->peer_gone)
    {
        /* close_notify, best effort, not waited for */
        SSL_shutdown(c->ssl);
        ERR_clear_error();
    }

    st.finished++;
    conn_release(c, rst);
}


static int
conn_start(void)
{
    int                 fd, one = 1;
    long                i;
    conn               *c;
    struct epoll_event  e;
    struct sockaddr_in  src;

    if (nfree == 0) {
        return -1;
    }

    i = free_list[--nfree];
    c = &slots[i];
    memset(c, 0, sizeof(*c));
    c->fd = -1;

    st.started++;
    st.inflight++;

    /* hostile kinds in turn, decided here so that they rotate evenly */
    if (M->kinds) {
        c->kind = o.kind >= 0 ? o.kind : (int) ((st.started - 1) % M->nkinds);
    }

    c->t_start = now();
    c->deadline = c->t_start + o.conn_timeout;
    c->rng = grng ^ (uint64_t) st.started * 0x9E3779B97F4A7C15ULL;
    xrand(&c->rng);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_error("socket", strerror(errno));
        c->state = S_CONNECTING;
        conn_done(c, &st.err_connect, 0);
        return 0;
    }

    c->fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    /* many short connections: spread them over source addresses */
    if (o.src_ips > 1 && dst.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f00000a + (st.started % o.src_ips));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof(one));
        if (bind(fd, (struct sockaddr *) &src, sizeof(src)) != 0) {
            note_error("bind", strerror(errno));
        }
    }

    c->state = S_CONNECTING;

    e.events = EPOLLOUT;
    e.data.ptr = c;
    c->events = EPOLLOUT;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        note_error("epoll_ctl", strerror(errno));
        conn_done(c, &st.err_connect, 0);
        return 0;
    }

    if (connect(fd, (struct sockaddr *) &dst, sizeof(dst)) != 0
        && errno != EINPROGRESS)
    {
        note_error("connect", strerror(errno));
        conn_done(c, &st.err_connect, 0);
        return 0;
    }

    return 0;
}


/* I/O through TLS or plain TCP: > 0 bytes, 0 would block (c->want set),
   -1 error, -2 end of stream. */
static ssize_t
io_write(conn *c, const void *buf, size_t len)
{
    int      n, e;
    ssize_t  w;

    if (c->ssl == NULL) {
        w = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (w > 0) {
            return w;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->want |= WANT_OUT;
            return 0;
        }
        note_error("send", strerror(errno));
        return -1;
    }

    ERR_clear_error();
    n = SSL_write(c->ssl, buf, (int) len);
    if (n > 0) {
        return n;
    }

    e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_WRITE) {
        c->want |= WANT_OUT;
        return 0;
    }
    if (e == SSL_ERROR_WANT_READ) {
        c->want |= WANT_IN;
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return -2;
    }

    ssl_note_error("SSL_write");
    return -1;
}


static ssize_t
io_read(conn *c, void *buf, size_t len)
{
    int      n, e;
    ssize_t  r;

    if (c->ssl == NULL) {
        r = recv(c->fd, buf, len, 0);
        if (r > 0) {
            return r;
        }
        if (r == 0) {
            return -2;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->want |= WANT_IN;
            return 0;
        }
        note_error("recv", strerror(errno));
        return -1;
    }

    ERR_clear_error();
    n = SSL_read(c->ssl, buf, (int) len);
    if (n > 0) {
        return n;
    }

    e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ) {
        c->want |= WANT_IN;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        c->want |= WANT_OUT;
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN
        || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
    {
        ERR_clear_error();
        return -2;
    }

    ssl_note_error("SSL_read");
    return -1;
}


static void
record_secure(conn *c)
{
    double  t = now();

    c->t_secure = t;

    if (st.hs_lat && st.nlat < o.n) {
        st.hs_lat[st.nlat++] = t - c->t_start;
    }

    if (c->ssl && st.version[0] == '\0') {
        const char  *g = NULL;
        int          nid = SSL_get_negotiated_group(c->ssl);

        if (nid != NID_undef) {
            g = OBJ_nid2sn(nid);
        }

        snprintf(st.version, sizeof(st.version), "%s",
                 SSL_get_version(c->ssl));
        snprintf(st.cipher, sizeof(st.cipher), "%s",
                 SSL_get_cipher_name(c->ssl));
        snprintf(st.group, sizeof(st.group), "%s", g ? g : "-");
    }
}


static void stream_begin(conn *c);
static void conn_step(conn *c);
static void reneg_step(conn *c);
static void ticket_step(conn *c);


/* After the connection is up (and secure): what the mode does. */
static void
app_begin(conn *c)
{
    if (M->secure) {
        M->secure(c);
        return;
    }

    stream_begin(c);
}


static void
stream_begin(conn *c)
{
    c->sent = c->rcvd = 0;
    c->wlen = 0;
    c->check = 0;

    if (M->exchange) {
        M->exchange(c);
    }

    if (c->check) {
        if (c->htx == NULL) {
            c->htx = EVP_MD_CTX_new();
            c->hrx = EVP_MD_CTX_new();
        }
        if (c->wbuf == NULL) {
            c->wbuf = malloc(CHUNK);
        }
        if (c->htx == NULL || c->hrx == NULL || c->wbuf == NULL
            || !EVP_DigestInit_ex(c->htx, EVP_sha256(), NULL)
            || !EVP_DigestInit_ex(c->hrx, EVP_sha256(), NULL))
        {
            conn_done(c, &st.err_io, 0);
            return;
        }
    }

    c->state = S_STREAM;
}


/* The exchange is complete and checked. */
static void
stream_done(conn *c)
{
    unsigned char  a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned       la = 0, lb = 0;

    if (c->check) {
        EVP_DigestFinal_ex(c->htx, a, &la);
        EVP_DigestFinal_ex(c->hrx, b, &lb);

        if (la != lb || memcmp(a, b, la) != 0) {
            note_error("mismatch", "sha256");
            conn_done(c, &st.err_mismatch, 0);
            return;
        }

        st.bytes_verified += c->rcvd;
    }

    if (M->exchanged) {
        M->exchanged(c);
        return;
    }

    conn_done(c, NULL, 0);
}


/* --sess-out: reads until the server's NewSessionTicket has come. */
static void
ticket_step(conn *c)
{
    int  n, e;

    ERR_clear_error();
    n = SSL_read(c->ssl, rbuf, sizeof(rbuf));

    if (c->got_session) {
        conn_done(c, NULL, 0);
        return;
    }

    if (n > 0) {
        note_error("protocol", "data instead of a session ticket");
        conn_done(c, &st.err_mismatch, 0);
        return;
    }

    e = SSL_get_error(c->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        set_events(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        return;
    }

    ERR_clear_error();
    note_error("session", "the server closed without giving a session");
    conn_done(c, &st.err_nosession, 0);
}


static void
stream_step(conn *c)
{
    ssize_t  n;
    size_t   chunk;
    int      progress;

    for (int rounds = 0; rounds < 64; rounds++) {
        progress = 0;
        c->want = 0;

        /* read first: the peer may be waiting for us to drain */
        if (c->rcvd < c->to_recv) {
            n = io_read(c, rbuf, sizeof(rbuf));

            if (n > 0) {
                if ((uint64_t) n > c->to_recv - c->rcvd) {
                    note_error("protocol", "more bytes than sent");
                    conn_done(c, &st.err_mismatch, 0);
                    return;
                }
                if (c->check) {
                    EVP_DigestUpdate(c->hrx, rbuf, (size_t) n);
                }
                c->rcvd += (uint64_t) n;
                st.bytes_recv += (uint64_t) n;
                progress = 1;

            } else if (n == -2 && o.http && c->rcvd > 0
                       && c->sent >= c->to_send)
            {
                /* the response ended with the connection: done */
                c->to_recv = c->rcvd;
                stream_done(c);
                return;

            } else if (n == -2) {
                note_error("eof", "server closed early");
                conn_done(c, &st.err_eof, 0);
                return;

            } else if (n < 0) {
                conn_done(c, &st.err_io, 0);
                return;
            }
        }

        if (c->sent < c->to_send) {
            if (c->wlen == 0) {
                chunk = CHUNK;

                if (M->flags & MODE_RAND_CHUNKS) {
                    chunk = 1 + xrand(&c->rng) % CHUNK;
                }

                if (chunk > c->to_send - c->sent) {
                    chunk = (size_t) (c->to_send - c->sent);
                }

                if (c->check) {
                    fill_random(&c->rng, c->wbuf, chunk);
                    c->wptr = c->wbuf;
                } else if (c->http) {
                    c->wptr = (const unsigned char *) http_req;
                } else {
                    c->wptr = static_data;
                }

                c->wlen = chunk;
            }

            n = io_write(c, c->wptr, c->wlen);

            if (n > 0) {
                if (c->check) {
                    EVP_DigestUpdate(c->htx, c->wptr, (size_t) n);
                }
                c->sent += (uint64_t) n;
                st.bytes_sent += (uint64_t) n;
                c->wptr += n;
                c->wlen -= (size_t) n;
                progress = 1;

            } else if (n < 0) {
                if (M->flags & MODE_CLOSE_OK) {
                    /* the server closed on us: bounded, as it should */
                    st.closed_by_server++;
                    c->peer_gone = 1;
                    conn_done(c, NULL, 0);
                    return;
                }
                conn_done(c, n == -2 ? &st.err_eof : &st.err_io, 0);
                return;
            }

            if (M->rst_after && c->sent >= M->rst_after) {
                /* mid-transfer: part of it is out, reset now */
                st.resets++;
                conn_done(c, NULL, 1);
                return;
            }
        }

        if (c->sent >= c->to_send && c->rcvd >= c->to_recv) {
            stream_done(c);
            return;
        }

        if (!progress) {
            break;
        }
    }

    if (progress) {
        /* yielded after many rounds, with more to do: come back for it */
        if (c->sent < c->to_send) {
            c->want |= WANT_OUT;
        }
        if (c->rcvd < c->to_recv) {
            c->want |= WANT_IN;
        }
    }

    if (c->want == 0) {
        c->want = WANT_IN;
    }

    events_from_want(c);
}


static void
hold_step(conn *c)
{
    ssize_t  n;

    /* held idle: anything from the server is its closing */
    c->want = 0;
    n = io_read(c, rbuf, sizeof(rbuf));

    if (n > 0) {
        return;
    }

    if (n == 0) {
        events_from_want(c);
        return;
    }

    st.lost++;
    st.established--;
    conn_done(c, &st.err_eof, 0);
}


static void
reneg_step(conn *c)
{
    int  n, e;

    ERR_clear_error();
    n = SSL_do_handshake(c->ssl);

    if (n == 1 && !SSL_renegotiate_pending(c->ssl)) {
        c->renegs++;
        st.renegs++;
        if (c->renegs > st.reneg_max_seen) {
            st.reneg_max_seen = c->renegs;
        }
        stream_begin(c);
        conn_step(c);
        return;
    }

    if (n == 1) {
        /* the server has not answered yet: read to drive it */
        c->want = WANT_IN;
        events_from_want(c);
        return;
    }

    e = SSL_get_error(c->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want = e == SSL_ERROR_WANT_READ ? WANT_IN : WANT_OUT;
        events_from_want(c);
        return;
    }

    /* refused: the server sent an alert or closed */
    ERR_clear_error();
    st.reneg_refused++;
    st.closed_by_server++;
    conn_done(c, NULL, 0);
}


static void
make_garbage(conn *c)
{
    size_t          n, i;
    unsigned char  *r;
    static const char  http[] =
        "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: loadgen\r\n\r\n";

    switch (c->kind) {

    case G_RANDOM:
        n = 1 + xrand(&c->rng) % 4096;
        r = malloc(n);
        if (r) {
            fill_random(&c->rng, r, n);
        }
        break;

    case G_HTTP:
        n = sizeof(http) - 1;
        r = malloc(n);
        if (r) {
            memcpy(r, http, n);
        }
        break;

    case G_SSLV2:
        /*
         * An SSL 2.0 CLIENT-HELLO: two-byte header with the top bit set,
         * msg type 1, version 0x0002, three SSLv2 cipher specs, no
         * session id, a 16-byte challenge.
         */
        {
            static const unsigned char  specs[] = {
                0x01, 0x00, 0x80,      /* RC4_128_WITH_MD5 */
                0x07, 0x00, 0xc0,      /* DES_192_EDE3_CBC_WITH_MD5 */
                0x03, 0x00, 0x80       /* RC2_128_CBC_WITH_MD5 */
            };
            size_t  body = 9 + sizeof(specs) + 16;

            n = 2 + body;
            r = malloc(n);
            if (r) {
                r[0] = (unsigned char) (0x80 | (body >> 8));
                r[1] = (unsigned char) body;
                r[2] = 0x01;
                r[3] = 0x00;
                r[4] = 0x02;
                r[5] = 0x00;
                r[6] = sizeof(specs);
                r[7] = 0x00;
                r[8] = 0x00;
                r[9] = 0x00;
                r[10] = 16;
                memcpy(r + 11, specs, sizeof(specs));
                fill_random(&c->rng, r + 11 + sizeof(specs), 16);
            }
        }
        break;

    case G_TRUNCATED:
        /* a real hello cut short, then end of stream */
        n = 1 + xrand(&c->rng) % (hello_len - 1);
        r = malloc(n);
        if (r) {
            memcpy(r, hello, n);
        }
        break;

    case G_OVERSIZED:
    default:
        /*
         * Alternately a record longer than TLS allows (2^14 + 2048 is the
         * most for ciphertext, a plaintext hello gets 2^14), and a
         * ClientHello claiming 16 MB in well-formed records.
         */
        if (xrand(&c->rng) & 1) {
            n = 5 + 0x4801;
            r = malloc(n);
            if (r) {
                r[0] = 0x16; r[1] = 0x03; r[2] = 0x01;
                r[3] = 0x48; r[4] = 0x01;
                memcpy(r + 5, hello + 5, 4);
                fill_random(&c->rng, r + 9, n - 9);
            }
        } else {
            n = 5 + 16384;
            r = malloc(n);
            if (r) {
                r[0] = 0x16; r[1] = 0x03; r[2] = 0x01;
                r[3] = 0x40; r[4] = 0x00;
                r[5] = 0x01; r[6] = 0xff; r[7] = 0xff; r[8] = 0xff;
                r[9] = 0x03; r[10] = 0x03;
                for (i = 11; i < n; i++) {
                    r[i] = (unsigned char) i;
                }
            }
        }
        break;
    }

    if (r == NULL) {
        n = 0;
    }

    c->raw = r;
    c->raw_len = n;
    c->raw_off = 0;
}


static void
raw_send_step(conn *c)
{
    ssize_t  n;
    size_t   len;

    while (c->raw_off < c->raw_len) {
        len = c->raw_len - c->raw_off;

        if (M->flags & MODE_TRICKLE) {
            double  t = now();

            if (t < c->t_next) {
                set_events(c, EPOLLIN | EPOLLRDHUP);
                return;
            }

            len = 1;
            c->t_next = t + o.interval;
        }

        n = send(c->fd, c->raw + c->raw_off, len, MSG_NOSIGNAL);

        if (n > 0) {
            c->raw_off += (size_t) n;
            st.bytes_sent += (uint64_t) n;
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(c, EPOLLOUT);
            return;
        }

        /* the server closed already: that is what we wanted to see */
        goto closed;
    }

    if (M->flags & MODE_TRICKLE) {
        /* everything trickled in and the server still has not closed */
        c->state = S_RAW_WAIT;
        set_events(c, EPOLLIN | EPOLLRDHUP);
        return;
    }

    if (c->kind == G_TRUNCATED) {
        shutdown(c->fd, SHUT_WR);
    }

    c->state = S_RAW_WAIT;
    set_events(c, EPOLLIN | EPOLLRDHUP);
    return;

closed:

    st.closed_by_server++;
    st.kind_closed[c->kind]++;
    {
        double  d = now() - c->t_start;

        st.close_time_sum += d;
        if (d > st.close_time_max) {
            st.close_time_max = d;
        }
    }
    conn_done(c, NULL, 0);
}


/* Waits for the server to close: reads and drops whatever it sends. */
static void
raw_wait_step(conn *c)
{
    ssize_t  n;
    int      i;

    for (i = 0; i < 16; i++) {
        n = recv(c->fd, rbuf, sizeof(rbuf), 0);

        if (n > 0) {
            st.bytes_recv += (uint64_t) n;
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if ((M->flags & MODE_TRICKLE) && c->raw_off < c->raw_len) {
                c->state = S_RAW_SEND;
            }
            return;
        }

        /* EOF or reset: closed by the server */
        st.closed_by_server++;
        st.kind_closed[c->kind]++;
        {
            double  d = now() - c->t_start;

            st.close_time_sum += d;
            if (d > st.close_time_max) {
                st.close_time_max = d;
            }
        }
        conn_done(c, NULL, 0);
        return;
    }
}


static int
ssl_attach(conn *c)
{
    const char  *name;

    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd)) {
        ssl_note_error("SSL_new");
        return -1;
    }

    SSL_set_connect_state(c->ssl);
    SSL_set_app_data(c->ssl, c);

    if (o.sess_in && slot_sess[c - slots] != NULL) {
        if (!SSL_set_session(c->ssl, slot_sess[c - slots])) {
            ssl_note_error("SSL_set_session");
            return -1;
        }
        c->offered = 1;
        st.offered++;
    }

    name = pick_sni(&c->rng);
    if (name && !SSL_set_tlsext_host_name(c->ssl, name)) {
        ssl_note_error("SNI");
        return -1;
    }

    return 0;
}


static void
connected(conn *c)
{
    int        err = 0;
    socklen_t  len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
        note_error("connect", strerror(err ? err : errno));
        conn_done(c, &st.err_connect, 0);
        return;
    }

    if (M->connected && M->connected(c)) {
        return;
    }

    if (o.plain) {
        c->established = 0;
        app_begin(c);
        return;
    }

    if (ssl_attach(c) != 0) {
        conn_done(c, &st.err_handshake, 0);
        return;
    }

    c->state = S_HANDSHAKE;
}


static void
handshake_step(conn *c)
{
    int  n, e;

    ERR_clear_error();
    n = SSL_do_handshake(c->ssl);

    if (n == 1) {
        c->reused = c->offered && SSL_session_reused(c->ssl);
        record_secure(c);
        app_begin(c);
        return;
    }

    e = SSL_get_error(c->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (e == SSL_ERROR_WANT_READ && M->hello_out && M->hello_out(c)) {
            return;
        }

        set_events(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        return;
    }

    ssl_note_error("handshake");
    conn_done(c, &st.err_handshake, 0);
}


static void
conn_step(conn *c)
{
    switch (c->state) {
    case S_CONNECTING:
        connected(c);
        if (c->state == S_HANDSHAKE) {
            handshake_step(c);
        } else if (c->state == S_STREAM) {
            stream_step(c);
        } else if (c->state == S_RAW_SEND) {
            raw_send_step(c);
        }
        return;

    case S_HANDSHAKE:
        handshake_step(c);
        if (c->state == S_STREAM) {
            stream_step(c);
        } else if (c->state == S_RAW_SEND) {
            raw_send_step(c);
        }
        return;

    case S_STREAM:
        stream_step(c);
        return;

    case S_HOLD:
        hold_step(c);
        return;

    case S_RENEG:
        reneg_step(c);
        return;

    case S_TICKET:
        ticket_step(c);
        return;

    case S_RAW_SEND:
        if (M->flags & MODE_TRICKLE) {
            /* an event while trickling: the server may have closed */
            raw_wait_step(c);
            if (c->state != S_RAW_SEND) {
                return;
            }
        }
        raw_send_step(c);
        return;

    case S_RAW_WAIT:
        raw_wait_step(c);
        return;

    case S_RST_WAIT:
        st.resets++;
        conn_done(c, NULL, 1);
        return;

    case S_FREE:
        return;
    }
}


/* Deadlines and slowloris ticks. */
static void
scan(double t)
{
    long   i;
    conn  *c;

    for (i = 0; i < nslots; i++) {
        c = &slots[i];

        if (c->state == S_FREE) {
            continue;
        }

        if ((M->flags & MODE_TRICKLE) && c->state == S_RAW_SEND
            && t >= c->t_next && t < c->deadline)
        {
            raw_send_step(c);
            if (c->state == S_FREE) {
                continue;
            }
        }

        if (t < c->deadline) {
            continue;
        }

        if (c->deadline_ok) {
            conn_done(c, NULL, 0);
            continue;
        }

        if (M->flags & MODE_OPEN_OK) {
            /* still open at the end of the run: counted, not a failure */
            st.timeouts++;
            conn_done(c, NULL, 0);
            continue;
        }

        if (c->state == S_RAW_WAIT) {
            st.timeouts++;
        }

        if (c->state == S_TICKET) {
            note_error("session", "no session ticket within the wait");
            conn_done(c, &st.err_nosession, 0);
            continue;
        }

        note_error("timeout", "connection deadline");
        conn_done(c, &st.err_timeout, 0);
    }
}


/* ---- the modes ---------------------------------------------------------- */


/* handshake: the echo, or with --http one request and its response; with
   --sess-out, waits for the session the server may still be sending */
static void
handshake_exchange(conn *c)
{
    if (o.http) {
        /* one request; the response is read to the server's close */
        c->to_send = sizeof(http_req) - 1;
        c->to_recv = UINT64_MAX;
        c->http = 1;
        return;
    }

    c->to_send = c->to_recv = o.size;
    c->check = 1;
}


static void
handshake_exchanged(conn *c)
{
    if (o.sess_out && !c->got_session) {
        /* TLS 1.3: the ticket may still be on its way */
        c->state = S_TICKET;
        if (c->deadline > now() + TICKET_WAIT) {
            c->deadline = now() + TICKET_WAIT;
        }
        ticket_step(c);
        return;
    }

    conn_done(c, NULL, 0);
}


static void
handshake_report(void)
{
    printf(" offered=%ld reused=%ld sessions_in=%ld sessions_received=%ld"
           " sessions_out=%ld err_nosession=%ld", st.offered, st.reused,
           st.sessions_loaded, st.sessions_received, st.sessions_written,
           st.err_nosession);
}


/* idle and reneg: a --size echo, checked */
static void
echo_exchange(conn *c)
{
    c->to_send = c->to_recv = o.size;
    c->check = 1;
}


/* verify: a random payload of a random size, checked */
static void
verify_exchange(conn *c)
{
    c->to_send = c->to_recv = 1 + xrand(&c->rng) % o.max_payload;
    c->check = 1;
}


/* bulk: --bytes up (the sink acknowledges with one byte), down, or both */
static void
bulk_exchange(conn *c)
{
    c->to_send = o.dir == D_DOWN ? 0 : (uint64_t) o.bytes;
    c->to_recv = o.dir == D_UP ? 1 : (uint64_t) o.bytes;
}


/* idle: held once the echo is done, until the end of the run */
static void
idle_exchanged(conn *c)
{
    c->established = 1;
    st.inflight--;
    st.established++;
    c->state = S_HOLD;
    c->deadline = INFINITY;
    set_events(c, EPOLLIN | EPOLLRDHUP);
}


static void
idle_report(void)
{
    printf(" established=%ld lost=%ld", st.established, st.lost);
}


/* garbage: hostile first bytes instead of a ClientHello (but badrecord) */
static int
garbage_connected(conn *c)
{
    st.kind_count[c->kind]++;

    if (c->kind == G_BADRECORD) {
        return 0;     /* a real handshake first */
    }

    make_garbage(c);
    if (c->raw == NULL) {
        conn_done(c, &st.err_io, 0);
        return 1;
    }

    c->state = S_RAW_SEND;
    return 1;
}


/* badrecord: a valid handshake, then a record of garbage */
static void
garbage_secure(conn *c)
{
    unsigned char  *r = malloc(5 + 256);

    if (r == NULL) {
        conn_done(c, &st.err_io, 0);
        return;
    }

    r[0] = 0x17;
    r[1] = 0x03;
    r[2] = 0x03;
    r[3] = 0x01;
    r[4] = 0x00;
    fill_random(&c->rng, r + 5, 256);
    c->raw = r;
    c->raw_len = 5 + 256;
    c->raw_off = 0;
    c->state = S_RAW_SEND;
    set_events(c, EPOLLOUT);
}


static void
close_times_report(void)
{
    printf(" close_avg_s=%.3f close_max_s=%.3f",
           st.closed_by_server ? st.close_time_sum / st.closed_by_server : 0,
           st.close_time_max);
}


static void
garbage_report(void)
{
    int  i;

    printf(" closed_by_server=%ld timeouts=%ld", st.closed_by_server,
           st.timeouts);
    for (i = 0; i < G_NKINDS; i++) {
        printf(" %s=%ld/%ld", gkind_names[i], st.kind_closed[i],
               st.kind_count[i]);
    }
    close_times_report();
}


/* slowloris: a real ClientHello, trickled until --duration */
static int
slowloris_connected(conn *c)
{
    c->kind = 0;
    c->raw = malloc(hello_len);
    if (c->raw == NULL) {
        conn_done(c, &st.err_io, 0);
        return 1;
    }

    memcpy(c->raw, hello, hello_len);
    c->raw_len = hello_len;
    c->raw_off = 0;
    c->t_next = 0;
    c->deadline = c->t_start + o.duration;
    c->state = S_RAW_SEND;
    return 1;
}


static void
slowloris_report(void)
{
    printf(" closed_by_server=%ld still_open=%ld", st.closed_by_server,
           st.timeouts);
    close_times_report();
}


/* reset, kind hs: the ClientHello is out, reset once the server answers */
static int
reset_hello_out(conn *c)
{
    if (c->kind != R_HS) {
        return 0;
    }

    c->state = S_RST_WAIT;
    set_events(c, EPOLLIN);
    return 1;
}


/* reset, kind data: push a little (rst_after), then reset at once */
static void
reset_secure(conn *c)
{
    if (c->kind == R_DATA) {
        c->to_send = 65536;
        c->to_recv = 0;
        c->state = S_STREAM;
        return;
    }

    stream_begin(c);
}


static void
reset_exchanged(conn *c)
{
    st.resets++;
    conn_done(c, NULL, 1);
}


static void
reset_report(void)
{
    printf(" resets=%ld", st.resets);
}


/* noread: --bytes sent for --duration, nothing read */
static void
noread_exchange(conn *c)
{
    c->to_send = (uint64_t) o.bytes;
    c->to_recv = 0;
    c->deadline = now() + o.duration;
    c->deadline_ok = 1;
}


static void
noread_report(void)
{
    printf(" closed_by_server=%ld", st.closed_by_server);
}


/* reneg: after each echo a renegotiation, until --reneg-max or refused */
static void
reneg_exchanged(conn *c)
{
    if (c->renegs >= o.reneg_max) {
        conn_done(c, NULL, 0);
        return;
    }

    ERR_clear_error();
    if (!SSL_renegotiate(c->ssl)) {
        ssl_note_error("SSL_renegotiate");
        conn_done(c, &st.err_handshake, 0);
        return;
    }

    c->state = S_RENEG;
    reneg_step(c);
}


static void
reneg_report(void)
{
    printf(" renegs=%ld reneg_max=%ld refused=%ld", st.renegs,
           st.reneg_max_seen, st.reneg_refused);
}


static const mode  modes[] = {
    { .name = "handshake", .flags = MODE_PLAIN | MODE_SESSIONS,
      .exchange = handshake_exchange, .exchanged = handshake_exchanged,
      .report = handshake_report },

    { .name = "verify", .flags = MODE_RAND_CHUNKS,
      .exchange = verify_exchange },

    { .name = "bulk", .flags = MODE_PLAIN,
      .exchange = bulk_exchange },

    { .name = "idle", .flags = MODE_PLAIN | MODE_HOLD,
      .exchange = echo_exchange, .exchanged = idle_exchanged,
      .report = idle_report },

    { .name = "garbage", .flags = MODE_NO_NOTIFY | MODE_HELLO,
      .kinds = gkind_names, .nkinds = G_NKINDS,
      .connected = garbage_connected, .secure = garbage_secure,
      .report = garbage_report },

    { .name = "slowloris", .flags = MODE_HELLO | MODE_TRICKLE | MODE_OPEN_OK,
      .connected = slowloris_connected, .report = slowloris_report },

    { .name = "reset", .flags = MODE_NO_NOTIFY,
      .kinds = rkind_names, .nkinds = R_NKINDS, .rst_after = 16384,
      .hello_out = reset_hello_out, .secure = reset_secure,
      .exchanged = reset_exchanged, .report = reset_report },

    { .name = "noread", .flags = MODE_PLAIN | MODE_CLOSE_OK,
      .exchange = noread_exchange, .report = noread_report },

    { .name = "reneg", .flags = MODE_RENEG | MODE_NO_NOTIFY,
      .exchange = echo_exchange, .exchanged = reneg_exchanged,
      .report = reneg_report },
};


static void
parse_args(int argc, char **argv)
{
    int          i, opt;
    const char  *kind = "all";

    static struct option longopts[] = {
        { "host", 1, 0, 'H' }, { "port", 1, 0, 'p' },
        { "conns", 1, 0, 'n' }, { "concurrency", 1, 0, 'c' },
        { "tls", 1, 0, 'T' }, { "ciphers", 1, 0, 'C' },
        { "suites", 1, 0, 'S' }, { "groups", 1, 0, 'G' },
        { "sigalgs", 1, 0, 'A' }, { "cert", 1, 0, 'e' }, { "key", 1, 0, 'k' },
        { "sni", 1, 0, 's' }, { "sni-file", 1, 0, 'f' },
        { "alpn", 1, 0, 'a' }, { "plain", 0, 0, 'P' },
        { "http", 0, 0, 'W' },
        { "size", 1, 0, 'z' }, { "bytes", 1, 0, 'b' }, { "dir", 1, 0, 'd' },
        { "max-payload", 1, 0, 'm' }, { "kind", 1, 0, 'K' },
        { "interval", 1, 0, 'i' }, { "duration", 1, 0, 'D' },
        { "reneg-max", 1, 0, 'r' }, { "hold", 1, 0, 'h' },
        { "conn-timeout", 1, 0, 'o' }, { "timeout", 1, 0, 't' },
        { "src-ips", 1, 0, 'I' }, { "seed", 1, 0, 'R' },
        { "fail-log", 1, 0, 'F' },
        { "sess-in", 1, 0, 'x' }, { "sess-out", 1, 0, 'y' },
        { "min-reuse", 1, 0, 'u' },
        { 0, 0, 0, 0 }
    };

    if (argc < 2) {
        usage();
    }

    for (i = 0; i < (int) (sizeof(modes) / sizeof(modes[0])); i++) {
        if (strcmp(argv[1], modes[i].name) == 0) {
            M = &modes[i];
            break;
        }
    }

    if (M == NULL) {
        fprintf(stderr, "loadgen: unknown mode \"%s\"\n", argv[1]);
        usage();
    }

    optind = 2;

    while ((opt = getopt_long(argc, argv, "n:c:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'H': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'n': o.n = atol(optarg); break;
        case 'c': o.c = atol(optarg); break;
        case 'T':
            if (parse_tls(optarg) != 0) {
                usage();
            }
            break;
        case 'C': o.ciphers = optarg; break;
        case 'S': o.suites = optarg; break;
        case 'G': o.groups = optarg; break;
        case 'A': o.sigalgs = optarg; break;
        case 'e': o.cert = optarg; break;
        case 'k': o.key = optarg; break;
        case 's': o.sni = optarg; break;
        case 'f': o.sni_file = optarg; break;
        case 'a': o.alpn = optarg; break;
        case 'P': o.plain = 1; break;
        case 'W': o.http = 1; break;
        case 'z': o.size = (size_t) parse_size(optarg); break;
        case 'b': o.bytes = parse_size(optarg); break;
        case 'd':
            if (strcmp(optarg, "up") == 0) {
                o.dir = D_UP;
            } else if (strcmp(optarg, "down") == 0) {
                o.dir = D_DOWN;
            } else if (strcmp(optarg, "both") == 0) {
                o.dir = D_BOTH;
            } else {
                usage();
            }
            break;
        case 'm': o.max_payload = (size_t) parse_size(optarg); break;
        case 'K': kind = optarg; break;
        case 'i': o.interval = atof(optarg); break;
        case 'D': o.duration = atof(optarg); break;
        case 'r': o.reneg_max = atoi(optarg); break;
        case 'h': o.hold = atof(optarg); break;
        case 'o': o.conn_timeout = atof(optarg); break;
        case 't': o.timeout = atof(optarg); break;
        case 'I': o.src_ips = atoi(optarg); break;
        case 'R': o.seed = strtoul(optarg, NULL, 10); break;
        case 'F': o.fail_log = optarg; break;
        case 'x': o.sess_in = optarg; break;
        case 'y': o.sess_out = optarg; break;
        case 'u': o.min_reuse = atof(optarg); break;
        default: usage();
        }
    }

    if (optind != argc || o.port <= 0 || o.port > 65535 || o.n <= 0
        || o.c <= 0 || o.timeout <= 0 || o.conn_timeout <= 0
        || o.src_ips < 1 || o.src_ips > 200 || o.interval <= 0
        || o.duration <= 0 || o.hold <= 0 || o.max_payload == 0)
    {
        usage();
    }

    if (o.size == 0 || o.size > (1 << 20)) {
        fprintf(stderr, "loadgen: --size must be 1 byte to 1 MiB\n");
        exit(2);
    }

    o.kind = -1;

    if (strcmp(kind, "all") != 0) {
        for (i = 0; i < M->nkinds; i++) {
            if (strcmp(kind, M->kinds[i]) == 0) {
                o.kind = i;
            }
        }

        if (M->kinds == NULL) {
            fprintf(stderr, "loadgen: --kind only for garbage and reset\n");
            exit(2);
        }

        if (o.kind < 0) {
            fprintf(stderr, "loadgen: unknown kind \"%s\"\n", kind);
            exit(2);
        }
    }

    if (M->flags & MODE_RENEG) {
        o.tls_min = o.tls_max = TLS1_2_VERSION;
    }

    if (o.plain && !(M->flags & MODE_PLAIN)) {
        fprintf(stderr, "loadgen: --plain only for handshake, bulk, idle "
                "and noread\n");
        exit(2);
    }

    if ((o.sess_in || o.sess_out) && (!(M->flags & MODE_SESSIONS) || o.plain
                                      || o.http))
    {
        fprintf(stderr, "loadgen: --sess-in and --sess-out only for TLS "
                "handshake mode\n");
        exit(2);
    }

    if (o.min_reuse >= 0 && (o.sess_in == NULL || o.min_reuse > 100)) {
        fprintf(stderr, "loadgen: --min-reuse is a percentage, with "
                "--sess-in\n");
        exit(2);
    }
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}


static void
report(double elapsed, int timed_out)
{
    struct rusage  ru;
    double         avg = 0, p50 = 0, p99 = 0;

    getrusage(RUSAGE_SELF, &ru);

    if (st.nlat) {
        double  sum = 0;

        for (long j = 0; j < st.nlat; j++) {
            sum += st.hs_lat[j];
        }
        avg = sum / st.nlat;
        qsort(st.hs_lat, st.nlat, sizeof(double), cmp_double);
        p50 = st.hs_lat[(st.nlat - 1) / 2];
        p99 = st.hs_lat[(long) ceil(st.nlat * 0.99) - 1];
    }

    printf("mode=%s port=%d conns=%ld started=%ld ok=%ld failed=%ld "
           "err_connect=%ld err_handshake=%ld err_io=%ld err_timeout=%ld "
           "err_mismatch=%ld err_eof=%ld",
           M->name, o.port, o.n, st.started, st.ok, st.failed,
           st.err_connect, st.err_handshake, st.err_io, st.err_timeout,
           st.err_mismatch, st.err_eof);

    printf(" bytes_sent=%llu bytes_recv=%llu bytes_verified=%llu",
           (unsigned long long) st.bytes_sent,
           (unsigned long long) st.bytes_recv,
           (unsigned long long) st.bytes_verified);

    printf(" elapsed=%.6f rate=%.1f mbps=%.1f", elapsed,
           elapsed > 0 ? st.ok / elapsed : 0,
           elapsed > 0 ? (st.bytes_sent + st.bytes_recv) / elapsed / 1e6
                       : 0);

    printf(" hs_avg_ms=%.3f hs_p50_ms=%.3f hs_p99_ms=%.3f", avg * 1e3,
           p50 * 1e3, p99 * 1e3);

    if (M->report) {
        M->report();
    }

    printf(" version=%s cipher=%s group=%s",
           st.version[0] ? st.version : "-", st.cipher[0] ? st.cipher : "-",
           st.group[0] ? st.group : "-");

    printf(" client_cpu=%.3f timed_out=%d first_error=%s\n",
           ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
           timed_out, st.first_error[0] ? st.first_error : "-");

    fflush(stdout);
}


int
main(int argc, char **argv)
{
    int                  i, n, timed_out = 0, ready_printed = 0, rc = 0;
    long                 k;
    double               t, t_end, t_scan, t_hold_end = INFINITY;
    sigset_t             mask;
    struct rlimit        rl;
    struct epoll_event   evs[MAX_EVENTS], e;

    parse_args(argc, argv);

    if (o.fail_log) {
        fail_log = fopen(o.fail_log, "a");
        if (fail_log == NULL) {
            fprintf(stderr, "loadgen: %s: %s\n", o.fail_log, strerror(errno));
            return 2;
        }
        setvbuf(fail_log, NULL, _IOLBF, 0);
    }

    signal(SIGPIPE, SIG_IGN);

    /* many idle connections: as many descriptors as we are allowed */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    grng = o.seed ? o.seed : (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
    xrand(&grng);

    memset(&dst, 0, sizeof(dst));
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t) o.port);
    if (inet_pton(AF_INET, o.host, &dst.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
        return 2;
    }

    static_data = malloc(CHUNK);
    if (static_data == NULL) {
        return 1;
    }
    fill_random(&grng, static_data, CHUNK);

    if (o.sni_file && load_names(o.sni_file) != 0) {
        return 1;
    }

    if (!o.plain) {
        ctx = make_ctx();
        if (ctx == NULL) {
            ERR_print_errors_fp(stderr);
            return 1;
        }
    }

    if ((M->flags & MODE_HELLO) && make_hello() != 0) {
        fprintf(stderr, "loadgen: cannot make a ClientHello\n");
        return 1;
    }

    nslots = (M->flags & MODE_HOLD) ? o.n : o.c;
    if (nslots > o.n) {
        nslots = o.n;
    }

    slots = calloc((size_t) nslots, sizeof(conn));
    free_list = malloc((size_t) nslots * sizeof(long));
    st.hs_lat = malloc((size_t) o.n * sizeof(double));
    if (slots == NULL || free_list == NULL || st.hs_lat == NULL) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }

    for (k = nslots - 1; k >= 0; k--) {
        slots[k].fd = -1;
        free_list[nfree++] = k;
    }

    if (o.sess_in || o.sess_out) {
        slot_sess = calloc((size_t) nslots, sizeof(SSL_SESSION *));
        if (slot_sess == NULL) {
            fprintf(stderr, "loadgen: out of memory\n");
            return 1;
        }

        if (o.sess_in && load_sessions(o.sess_in) != 0) {
            return 1;
        }
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("loadgen: epoll_create1");
        return 1;
    }

    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) {
        perror("loadgen: signalfd");
        return 1;
    }
    e.events = EPOLLIN;
    e.data.ptr = &sigfd_tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, sigfd, &e);

    t0 = now();
    t_end = t0 + o.timeout;
    t_scan = t0 + SCAN_EVERY;

    for (;;) {
        t = now();

        if (t >= t_end) {
            timed_out = 1;
            break;
        }

        if (stop_now) {
            break;
        }

        /* start what the concurrency allows */
        while (st.started < o.n && st.inflight < o.c && nfree > 0) {
            conn_start();
        }

        if (M->flags & MODE_HOLD) {
            if (!ready_printed && st.started == o.n && st.inflight == 0) {
                printf("ready=1 established=%ld failed=%ld elapsed=%.6f\n",
                       st.established, st.failed, now() - t0);
                fflush(stdout);
                ready_printed = 1;
                t_hold_end = now() + o.hold;
            }

            if (ready_printed && now() >= t_hold_end) {
                break;
            }

        } else if (st.finished >= o.n) {
            break;
        }

        n = epoll_wait(ep, evs, MAX_EVENTS, 20);

        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            break;
        }

        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == &sigfd_tag) {
                struct signalfd_siginfo  si;

                while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                    stop_now = 1;
                }
                continue;
            }

            conn  *c = evs[i].data.ptr;

            if (c->state == S_FREE) {
                continue;
            }

            if (c->state == S_CONNECTING
                && (evs[i].events & (EPOLLERR | EPOLLHUP)))
            {
                connected(c);   /* reports the error */
                continue;
            }

            conn_step(c);
        }

        t = now();
        if (t >= t_scan) {
            scan(t);
            t_scan = t + SCAN_EVERY;
        }
    }

    t = now() - t0;

    /* whatever is still open ends here; held idle ones count as ok */
    for (k = 0; k < nslots; k++) {
        conn  *c = &slots[k];

        if (c->state == S_FREE) {
            continue;
        }

        if (c->state == S_HOLD || c->deadline_ok) {
            conn_done(c, NULL, 0);
        } else if (M->flags & MODE_OPEN_OK) {
            st.timeouts++;
            conn_done(c, NULL, 0);
        } else {
            if (timed_out || stop_now) {
                note_error("timeout", "run deadline");
            }
            conn_done(c, &st.err_timeout, 0);
        }
    }

    if (o.sess_out && write_sessions(o.sess_out) != 0) {
        return 1;
    }

    report(t, timed_out);

    if (o.min_reuse >= 0
        && (st.ok == 0 || st.reused < o.min_reuse / 100 * st.ok))
    {
        fprintf(stderr, "loadgen: only %ld of %ld connections resumed the "
                "session they offered (--min-reuse %g %%)\n", st.reused,
                st.ok, o.min_reuse);
        rc = 3;
    }

    if (slot_sess) {
        for (k = 0; k < nslots; k++) {
            SSL_SESSION_free(slot_sess[k]);
        }
        free(slot_sess);
    }

    SSL_CTX_free(ctx);
    return rc;
}
