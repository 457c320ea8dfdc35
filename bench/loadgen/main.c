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
 *   stall      N connections send --size bytes and never read what comes
 *              back (a backend that streams fills their sockets); prints
 *              "ready=1 ..." and holds them as idle does.
 *   reneg      TLS 1.2, then client renegotiations in a loop with an echo
 *              between each, until the server refuses or --reneg-max.
 *   http       HTTP/1.1 keep-alive through a proxy to bench/backend's http
 *              mode: on each connection --requests requests of --size
 *              bytes, one at a time, each answered with --bytes of body.
 *   fleet      handshake mode against a fleet behind a round-robin
 *              balancer: connection i goes to host i of --hosts in turn,
 *              made by one of --clients clients picked at random (with
 *              --sess-out: each in turn), who offers the session it got
 *              last, from whichever host; counts the offers of a session
 *              another host made (offered_elsewhere) and how many of
 *              those resumed (reused_elsewhere).
 *
 * Each mode is one entry of the table `modes` (modes.c): flags and
 * parameters for what it allows and how it ends, hooks for the steps where
 * it differs (after the connect, once secure, the exchange, after it, its
 * fields of the result line).  The parts: bench/loadgen/loadgen.h.
 *
 * Sessions (handshake and fleet modes): each of the C connection slots (in
 * fleet mode each client) keeps the newest
 * session the server gave it (SSL_CTX_sess_set_new_cb; a TLS 1.3 session
 * comes with a NewSessionTicket after the handshake, so a connection that
 * has none yet after its echo reads on until one arrives).
 *   --sess-out F   write each slot's session to F (PEM) at the end; run it
 *                  with -n C -c C: one full handshake per slot.
 *   --sess-in F    every connection offers its slot's session (slot k
 *                  starts with the k-th session of F, modulo their number)
 *                  and counts whether the server resumed it; a new session
 *                  from the server replaces the slot's, as a browser does.
 *   --sess-once    with --sess-in: connection j offers the j-th session
 *                  of F, each once (a TLS 1.3 session resumes only once),
 *                  and the server's new ones are not offered: every offer
 *                  is of a session F holds, made by whichever server.
 *   --sess-every   with --sess-out: every session the server gave, in
 *                  order, not only each slot's newest (sessions for
 *                  --sess-once: one a connection).
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

#include "loadgen.h"


/* what every part shares (loadgen.h) */
const mode      *M;
options          o = {
    .host = "127.0.0.1", .n = 1000, .c = 32, .bytes = 1 << 20,
    .dir = D_UP, .size = 16, .max_payload = 262144, .timeout = 300,
    .conn_timeout = 30, .hold = 600, .duration = 30, .interval = 1.0,
    .reneg_max = 10, .requests = 100, .kind = -1, .seed = 0, .src_ips = 16,
    .min_reuse = -1
};
stats            st;

FILE            *fail_log;
int              ep = -1;
conn            *slots;
long             nslots;
long            *free_list;
long             nfree;
SSL_CTX         *ctx;
unsigned char   *static_data;
unsigned char    rbuf[RBUF_SIZE];
struct sockaddr_in  dst;
unsigned char   *hello;
size_t           hello_len;
uint64_t         grng;
SSL_SESSION    **client_sess;
int             *client_host;
long             nclients;
const char       http_req[] =
    "GET / HTTP/1.0\r\nHost: localhost\r\nUser-Agent: loadgen\r\n\r\n";
const size_t     http_req_len = sizeof(http_req) - 1;

static int       sigfd = -1;
static int       stop_now;
static double    t0;
static char      sigfd_tag;


static void
usage(void)
{
    fprintf(stderr,
"usage: loadgen MODE --port P [options]\n"
"modes: handshake verify bulk idle garbage slowloris reset noread reneg\n"
"       stall http fleet\n"
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
"  --size B            echo size for handshake / idle (16); http: request\n"
"                      size\n"
"  --requests N        http: requests per connection (100)\n"
"  --sess-out F        handshake: write each slot's newest session to F\n"
"  --sess-in F         handshake: offer the sessions of F, count reuse\n"
"  --sess-once         with --sess-in: each session of F offered once\n"
"  --sess-every        with --sess-out: every session, not each slot's last\n"
"  --hosts A,B,...     fleet: the hosts, in turn (on --port)\n"
"  --clients K         fleet: clients, one picked at random for each\n"
"                      connection (-c)\n"
"  --min-reuse P       with --sess-in: exit 3 below P %% resumed\n"
"  --bytes B           bulk / noread bytes per connection, http body\n"
"                      size (1 MiB)\n"
"  --dir D             bulk direction: up, down, both (up)\n"
"  --max-payload B     verify: largest payload per connection (256 KiB)\n"
"  --kind K            garbage: random http sslv2 truncated oversized\n"
"                      badrecord all; reset: hs data all (all)\n"
"  --interval S        slowloris: seconds between bytes (1)\n"
"  --duration S        slowloris / noread: seconds (30)\n"
"  --reneg-max N       reneg: renegotiations per connection at most (10)\n"
"  --hold S            idle, stall: hold at most S seconds (600)\n"
"  --rcvbuf B          socket receive buffer (the system's)\n"
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


static const struct option  longopts[] = {
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
    { "min-reuse", 1, 0, 'u' }, { "rcvbuf", 1, 0, 'B' },
    { "requests", 1, 0, 'q' }, { "sess-once", 0, 0, 'j' },
    { "sess-every", 0, 0, 'v' },
    { "hosts", 1, 0, 'w' }, { "clients", 1, 0, 'l' },
    { 0, 0, 0, 0 }
};


/* The options together: what the mode allows, sizes and limits. */
static void
check_args(const char *kind)
{
    int  i;

    if (o.port <= 0 || o.port > 65535 || o.n <= 0
        || o.c <= 0 || o.timeout <= 0 || o.conn_timeout <= 0
        || o.src_ips < 1 || o.src_ips > 200 || o.interval <= 0
        || o.duration <= 0 || o.hold <= 0 || o.max_payload == 0
        || o.requests <= 0)
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
        fprintf(stderr, "loadgen: --plain only for handshake, bulk, idle, "
                "noread and http\n");
        exit(2);
    }

    if ((o.sess_in || o.sess_out) && (!(M->flags & MODE_SESSIONS) || o.plain
                                      || o.http))
    {
        fprintf(stderr, "loadgen: --sess-in and --sess-out only for TLS "
                "handshake and fleet modes\n");
        exit(2);
    }

    if ((o.sess_once && o.sess_in == NULL)
        || (o.sess_every && o.sess_out == NULL))
    {
        fprintf(stderr, "loadgen: --sess-once goes with --sess-in, "
                "--sess-every with --sess-out\n");
        exit(2);
    }

    if ((o.hosts != NULL) != (M->route != NULL) || o.clients < 0
        || (o.clients && M->route == NULL))
    {
        fprintf(stderr, "loadgen: fleet mode wants --hosts (and --clients), "
                "the others neither\n");
        exit(2);
    }

    if (o.min_reuse >= 0 && (o.sess_in == NULL || o.min_reuse > 100)) {
        fprintf(stderr, "loadgen: --min-reuse is a percentage, with "
                "--sess-in\n");
        exit(2);
    }
}


static void
parse_args(int argc, char **argv)
{
    int          i, opt;
    const char  *kind = "all";

    if (argc < 2) {
        usage();
    }

    for (i = 0; i < (int) nmodes; i++) {
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
        case 'B': o.rcvbuf = (int) parse_size(optarg); break;
        case 'q': o.requests = atol(optarg); break;
        case 'j': o.sess_once = 1; break;
        case 'v': o.sess_every = 1; break;
        case 'w': o.hosts = optarg; break;
        case 'l': o.clients = atol(optarg); break;
        default: usage();
        }
    }

    if (optind != argc) {
        usage();
    }

    check_args(kind);
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


/* Opens what the run needs before its first connection; an exit status
   when it cannot (1, or 2 for bad usage), else 0. */
static int
setup_run(void)
{
    struct rlimit  rl;

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

    grng = o.seed ? o.seed
                  : (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
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

    if (M->setup) {
        return M->setup();
    }

    return 0;
}


/* The connection slots (and their sessions), epoll and the signals. */
static int
setup_slots(void)
{
    long                k;
    sigset_t            mask;
    struct epoll_event  e;

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

    nclients = o.clients ? o.clients : nslots;
    client_host = malloc((size_t) nclients * sizeof(int));
    if (client_host == NULL) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }

    for (k = 0; k < nclients; k++) {
        client_host[k] = -1;
    }

    if (o.sess_in || o.sess_out) {
        client_sess = calloc((size_t) nclients, sizeof(SSL_SESSION *));
        if (client_sess == NULL) {
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

    return 0;
}


/* The event loop, until every connection has ended (MODE_HOLD: --hold
   after all are established), a signal or --timeout; 1 for the last. */
static int
run_loop(void)
{
    int                 i, n, ready_printed = 0;
    double              t, t_end, t_scan, t_hold_end = INFINITY;
    struct epoll_event  evs[MAX_EVENTS];

    t0 = now();
    t_end = t0 + o.timeout;
    t_scan = t0 + SCAN_EVERY;

    for (;;) {
        t = now();

        if (t >= t_end) {
            return 1;
        }

        if (stop_now) {
            return 0;
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
                return 0;
            }

        } else if (st.finished >= o.n) {
            return 0;
        }

        n = epoll_wait(ep, evs, MAX_EVENTS, 20);

        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            return 0;
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
}


/* Whatever is still open ends here; held idle ones count as ok. */
static void
end_all(int timed_out)
{
    long  k;

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
}


int
main(int argc, char **argv)
{
    int     timed_out, rc;
    long    k;
    double  t;

    parse_args(argc, argv);

    rc = setup_run();
    if (rc == 0) {
        rc = setup_slots();
    }
    if (rc != 0) {
        return rc;
    }

    timed_out = run_loop();
    t = now() - t0;
    end_all(timed_out);

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

    if (client_sess) {
        for (k = 0; k < nclients; k++) {
            SSL_SESSION_free(client_sess[k]);
        }
        free(client_sess);
    }
    free(client_host);
    free_sessions();

    SSL_CTX_free(ctx);
    return rc;
}
