/*
 * loadgen's modes: hostile raw bytes (garbage, slowloris) and the table of
 * modes, one entry a mode: its flags and parameters, and the hooks where
 * it differs from the common steps.  A new mode is a new entry here.
 */

#include "loadgen.h"


static const char *const  gkind_names[] = {
    "random", "http", "sslv2", "truncated", "oversized", "badrecord"
};

static const char *const  rkind_names[] = { "hs", "data" };


/* The hostile first bytes of each kind: a buffer of *n bytes, NULL when
   out of memory.  badrecord has none: it sends a real hello first. */

static unsigned char *
copy_of(const void *p, size_t n)
{
    unsigned char  *r = malloc(n);

    if (r) {
        memcpy(r, p, n);
    }

    return r;
}


static unsigned char *
garbage_random(conn *c, size_t *n)
{
    unsigned char  *r;

    *n = 1 + xrand(&c->rng) % 4096;
    r = malloc(*n);
    if (r) {
        fill_random(&c->rng, r, *n);
    }

    return r;
}


static unsigned char *
garbage_http(conn *c, size_t *n)
{
    static const char  http[] =
        "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: loadgen\r\n\r\n";

    (void) c;
    *n = sizeof(http) - 1;
    return copy_of(http, *n);
}


/*
 * An SSL 2.0 CLIENT-HELLO: two-byte header with the top bit set, msg type
 * 1, version 0x0002, three SSLv2 cipher specs, no session id, a 16-byte
 * challenge.
 */
static unsigned char *
garbage_sslv2(conn *c, size_t *n)
{
    unsigned char  *r;
    static const unsigned char  specs[] = {
        0x01, 0x00, 0x80,      /* RC4_128_WITH_MD5 */
        0x07, 0x00, 0xc0,      /* DES_192_EDE3_CBC_WITH_MD5 */
        0x03, 0x00, 0x80       /* RC2_128_CBC_WITH_MD5 */
    };
    size_t  body = 9 + sizeof(specs) + 16;

    *n = 2 + body;
    r = malloc(*n);
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

    return r;
}


/* a real hello cut short, then end of stream */
static unsigned char *
garbage_truncated(conn *c, size_t *n)
{
    *n = 1 + xrand(&c->rng) % (hello_len - 1);
    return copy_of(hello, *n);
}


/*
 * Alternately a record longer than TLS allows (2^14 + 2048 is the most for
 * ciphertext, a plaintext hello gets 2^14), and a ClientHello claiming
 * 16 MB in well-formed records.
 */
static unsigned char *
garbage_oversized(conn *c, size_t *n)
{
    size_t          i;
    unsigned char  *r;

    if (xrand(&c->rng) & 1) {
        *n = 5 + 0x4801;
        r = malloc(*n);
        if (r) {
            r[0] = 0x16; r[1] = 0x03; r[2] = 0x01;
            r[3] = 0x48; r[4] = 0x01;
            memcpy(r + 5, hello + 5, 4);
            fill_random(&c->rng, r + 9, *n - 9);
        }
        return r;
    }

    *n = 5 + 16384;
    r = malloc(*n);
    if (r) {
        r[0] = 0x16; r[1] = 0x03; r[2] = 0x01;
        r[3] = 0x40; r[4] = 0x00;
        r[5] = 0x01; r[6] = 0xff; r[7] = 0xff; r[8] = 0xff;
        r[9] = 0x03; r[10] = 0x03;
        for (i = 11; i < *n; i++) {
            r[i] = (unsigned char) i;
        }
    }

    return r;
}


static unsigned char *(*const  garbage_of[G_NKINDS])(conn *c, size_t *n) = {
    [G_RANDOM] = garbage_random,
    [G_HTTP] = garbage_http,
    [G_SSLV2] = garbage_sslv2,
    [G_TRUNCATED] = garbage_truncated,
    [G_OVERSIZED] = garbage_oversized,
    [G_BADRECORD] = garbage_oversized,    /* not used: a real hello first */
};


static void
make_garbage(conn *c)
{
    size_t          n = 0;
    unsigned char  *r;

    r = garbage_of[c->kind](c, &n);
    if (r == NULL) {
        n = 0;
    }

    c->raw = r;
    c->raw_len = n;
    c->raw_off = 0;
}


/* The server closed on hostile bytes: what it should do, and how soon. */
static void
raw_closed(conn *c)
{
    double  d = now() - c->t_start;

    st.closed_by_server++;
    st.kind_closed[c->kind]++;
    st.close_time_sum += d;
    if (d > st.close_time_max) {
        st.close_time_max = d;
    }

    conn_done(c, NULL, 0);
}


void
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

    raw_closed(c);
}


/* Waits for the server to close: reads and drops whatever it sends. */
void
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
        raw_closed(c);
        return;
    }
}


/* handshake: the echo, or with --http one request and its response; with
   --sess-out, waits for the session the server may still be sending */
static void
handshake_exchange(conn *c)
{
    if (o.http) {
        /* one request; the response is read to the server's close */
        c->to_send = http_req_len;
        c->to_recv = UINT64_MAX;
        c->data = (const unsigned char *) http_req;
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
    c->raw = copy_of(hello, hello_len);
    if (c->raw == NULL) {
        conn_done(c, &st.err_io, 0);
        return 1;
    }

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


/* stall: --size bytes sent, then nothing read while the server sends */
static void
stall_exchange(conn *c)
{
    c->to_send = o.size;
    c->to_recv = 0;
}


/* held without reading: no events wanted (errors still come) */
static void
stall_exchanged(conn *c)
{
    idle_exchanged(c);
    set_events(c, 0);
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


/*
 * http: HTTP/1.1 keep-alive, as a browser talks to a site: on each
 * connection --requests requests of --size bytes, one at a time, each
 * answered by bench/backend's http mode with its head and --bytes of
 * body.  The response is checked to start with that head, which is the
 * backend's own (http_response() there), and to be exactly that long.
 */
static unsigned char  *http_request;
static size_t          http_request_len;
static char            http_head[128];
static size_t          http_head_len;


static int
http_setup(void)
{
    static const char  start[] =
        "GET /bench HTTP/1.1\r\nHost: backend\r\nUser-Agent: loadgen\r\n"
        "X-Pad: ";
    size_t  room = sizeof(start) - 1 + 4;

    if (o.size < room || o.size > CHUNK || o.bytes <= 0) {
        fprintf(stderr, "loadgen: http wants --size %zu to %d and --bytes\n",
                room, CHUNK);
        return 2;
    }

    http_request_len = o.size;
    http_request = malloc(http_request_len);
    if (http_request == NULL) {
        return 1;
    }

    /* the head padded to --size bytes: "X-Pad: aaa...\r\n\r\n" */
    memcpy(http_request, start, sizeof(start) - 1);
    memset(http_request + sizeof(start) - 1, 'a', o.size - room);
    memcpy(http_request + o.size - 4, "\r\n\r\n", 4);

    http_head_len = (size_t) snprintf(http_head, sizeof(http_head),
                                      "HTTP/1.1 200 OK\r\nContent-Length: "
                                      "%llu\r\nConnection: keep-alive\r\n"
                                      "\r\n", (unsigned long long) o.bytes);
    return 0;
}


static void
http_exchange(conn *c)
{
    c->to_send = http_request_len;
    c->to_recv = http_head_len + (uint64_t) o.bytes;
    c->data = http_request;
    c->expect = http_head;
    c->expect_len = http_head_len;
}


/* a response complete: the next request, or the end of the connection */
static void
http_exchanged(conn *c)
{
    c->requests++;
    st.requests++;

    if (c->requests < o.requests) {
        stream_begin(c);
        stream_step(c);
        return;
    }

    conn_done(c, NULL, 0);
}


static void
http_report(void)
{
    printf(" requests=%ld", st.requests);
}


/*
 * fleet: a fleet of hosts behind a round-robin balancer (--hosts, all on
 * --port): connection i goes to host i mod N.  The client that makes it
 * is one of --clients picked at random among those with no connection
 * open, as returning clients come back in no order; it offers the session
 * it got last, from whichever host (one connection at a time: a TLS 1.3
 * session resumes only once, and the next one comes with the connection
 * that used it).  With --sess-out the clients come in turn instead, one
 * connection each, to collect a session apiece (the file says which host
 * made each, so that offers of a session another host made are counted
 * from the first).  A host that keeps its sessions to itself resumes an
 * offer when the client comes back to the host it was on: about 1 in N.
 */
static struct sockaddr_in  *fleet;
static int                  nfleet;


static int
fleet_setup(void)
{
    char        *list, *p, *comma;
    const int    cap = 8;

    /* a client with no connection open is always there */
    if (o.sess_out == NULL && o.clients && o.clients <= o.c) {
        fprintf(stderr, "loadgen: fleet: more --clients than -c\n");
        return 2;
    }

    list = strdup(o.hosts);
    fleet = calloc((size_t) cap, sizeof(struct sockaddr_in));
    if (list == NULL || fleet == NULL) {
        return 1;
    }

    for (p = list; p != NULL; p = comma) {
        comma = strchr(p, ',');
        if (comma) {
            *comma++ = '\0';
        }

        if (nfleet == cap) {
            fprintf(stderr, "loadgen: --hosts: %d at most\n", cap);
            free(list);
            return 2;
        }

        fleet[nfleet].sin_family = AF_INET;
        fleet[nfleet].sin_port = htons((uint16_t) o.port);
        if (inet_pton(AF_INET, p, &fleet[nfleet].sin_addr) != 1) {
            fprintf(stderr, "loadgen: --hosts: \"%s\" is not an IPv4 "
                    "address\n", p);
            free(list);
            return 2;
        }
        nfleet++;
    }

    free(list);
    return 0;
}


static int
client_open(long k)
{
    long  i;

    for (i = 0; i < nslots; i++) {
        if (slots[i].state != S_FREE && slots[i].client == k) {
            return 1;
        }
    }

    return 0;
}


static const struct sockaddr_in *
fleet_route(conn *c)
{
    long  i = st.started - 1, k;

    c->host = (int) (i % nfleet);

    if (o.sess_out) {
        k = i % nclients;

    } else {
        k = (long) (xrand(&grng) % (uint64_t) nclients);
        while (client_open(k)) {
            k = (k + 1) % nclients;
        }
    }

    c->client = k;
    return &fleet[c->host];
}


static void
fleet_report(void)
{
    handshake_report();
    printf(" hosts=%d clients=%ld offered_elsewhere=%ld reused_elsewhere=%ld",
           nfleet, nclients, st.offered_elsewhere, st.reused_elsewhere);
}


const mode  modes[] = {
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

    { .name = "stall", .flags = MODE_HOLD,
      .exchange = stall_exchange, .exchanged = stall_exchanged,
      .report = idle_report },

    { .name = "http", .flags = MODE_PLAIN,
      .exchange = http_exchange, .exchanged = http_exchanged,
      .report = http_report, .setup = http_setup },

    { .name = "fleet", .flags = MODE_SESSIONS,
      .exchange = handshake_exchange, .exchanged = handshake_exchanged,
      .report = fleet_report, .setup = fleet_setup, .route = fleet_route },
};

const size_t  nmodes = sizeof(modes) / sizeof(modes[0]);
