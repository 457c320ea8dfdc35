/*
 * bench/loadgen's parts (the tool itself is described in main.c):
 *
 *   main.c       options, the result line, the event loop
 *   conn.c       a connection's life: connect, handshake, step, deadlines
 *   exchange.c   what a connection sends and reads once it is up
 *   modes.c      the table of modes and what each does differently
 *   tls.c        the client context, sessions, SNI names, a raw ClientHello
 */

#ifndef LOADGEN_H
#define LOADGEN_H

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

enum rkind { R_HS, R_DATA, R_NKINDS };

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
    long            client;       /* whose session it offers and keeps:
                                     its slot, but in fleet mode */
    int             host;         /* fleet: the index of its host */
    int             got_session;  /* the server gave this one a session */
    int             offered;      /* it offered its client's session */
    int             elsewhere;    /* fleet: a session another host made */
    int             reused;       /* and the server resumed it */
    const unsigned char *data;    /* what the exchange sends (NULL:
                                     static_data), a chunk at most */
    const char     *expect;       /* what every response starts with */
    size_t          expect_len;
    long            requests;     /* http: requests answered */

    unsigned char  *raw;
    size_t          raw_len, raw_off;
} conn;

#define WANT_IN   1
#define WANT_OUT  2


/*
 * A mode is an entry of the table `modes` (modes.c): flags and
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

    /* Before the first connection: 0, or an exit status. */
    int                (*setup)(void);

    /* Before the connect: where it goes, and which client makes it
       (c->client); NULL: --host, and the connection's slot. */
    const struct sockaddr_in *(*route)(conn *c);
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

typedef struct {
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
    int             rcvbuf;        /* SO_RCVBUF, 0: the system's */
    int             reneg_max;
    long            requests;      /* http: requests per connection */
    int             kind;          /* -1: all, rotating */
    unsigned long   seed;
    int             plain;
    int             http;
    int             src_ips;
    const char     *fail_log;
    const char     *sess_in, *sess_out;
    int             sess_once;     /* each session of --sess-in offered
                                      once, the server's not kept */
    int             sess_every;    /* --sess-out: every session given */
    double          min_reuse;     /* percent; < 0: not checked */
    const char     *hosts;         /* fleet: the hosts, comma-separated */
    long            clients;       /* fleet: clients (0: -c of them) */
} options;


typedef struct {
    long       started, finished, ok, failed, inflight, established;
    long       err_connect, err_handshake, err_io, err_timeout, err_mismatch,
               err_eof, err_nosession, lost;
    long       offered, reused, sessions_received, sessions_loaded,
               sessions_written, requests, offered_elsewhere,
               reused_elsewhere;
    uint64_t   bytes_sent, bytes_recv, bytes_verified;
    long       closed_by_server, timeouts, resets, renegs, reneg_refused,
               reneg_max_seen;
    long       kind_count[G_NKINDS], kind_closed[G_NKINDS];
    double     close_time_sum, close_time_max;
    double    *hs_lat;
    long       nlat;
    char       version[32], cipher[64], group[32];
    char       first_error[160];
} stats;


extern const mode      *M;             /* the mode being run */
extern const mode       modes[];       /* every mode (modes.c) */
extern const size_t     nmodes;
extern options          o;
extern stats            st;

extern FILE            *fail_log;
extern int              ep;
extern conn            *slots;
extern long             nslots;
extern long            *free_list;
extern long             nfree;
extern SSL_CTX         *ctx;
extern unsigned char   *static_data;   /* --bytes payloads */
extern unsigned char    rbuf[RBUF_SIZE];
extern struct sockaddr_in  dst;
extern unsigned char   *hello;         /* a real ClientHello (MODE_HELLO) */
extern size_t           hello_len;
extern uint64_t         grng;
extern SSL_SESSION    **client_sess;   /* each client's newest session */
extern int             *client_host;   /* the host that made it (fleet),
                                          -1: unknown (--sess-in) */
extern long             nclients;      /* the slots, but in fleet mode */
extern const char       http_req[];     /* --http: the request */
extern const size_t     http_req_len;


/* conn.c */
double now(void);
uint64_t xrand(uint64_t *s);
void fill_random(uint64_t *s, unsigned char *p, size_t n);
void note_error(const char *what, const char *detail);
void ssl_note_error(const char *what);
void set_events(conn *c, uint32_t ev);
void events_from_want(conn *c);
void conn_done(conn *c, long *err, int rst);
int conn_start(void);
void connected(conn *c);
void conn_step(conn *c);
void scan(double t);

/* exchange.c */
void app_begin(conn *c);
void stream_begin(conn *c);
void stream_step(conn *c);
void ticket_step(conn *c);
void hold_step(conn *c);
void reneg_step(conn *c);
void record_secure(conn *c);

/* modes.c */
void raw_send_step(conn *c);
void raw_wait_step(conn *c);

/* tls.c */
SSL_CTX *make_ctx(void);
int ssl_attach(conn *c);
int load_names(const char *file);
int load_sessions(const char *file);
int write_sessions(const char *file);
void free_sessions(void);
int make_hello(void);

#endif /* LOADGEN_H */
