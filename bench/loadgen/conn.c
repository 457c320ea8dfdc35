/*
 * loadgen: a connection's life.  conn_start() connects; conn_step() moves
 * it on at every event, by its state; scan() ends what passed its
 * deadline; conn_done() counts and releases it.  What a mode does
 * differently is asked of its entry (modes.c), never of its name.
 */

#include "loadgen.h"


double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


uint64_t
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


void
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


void
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


void
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


void
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


void
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
void
conn_done(conn *c, long *err, int rst)
{
    if (!c->established) {
        st.inflight--;
    }

    if (err == NULL) {
        st.ok++;
        st.reused += c->reused;
        st.reused_elsewhere += c->reused && c->elsewhere;
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


int
conn_start(void)
{
    int                 fd, one = 1;
    long                i;
    conn               *c;
    struct epoll_event  e;
    struct sockaddr_in  src;
    const struct sockaddr_in  *to = &dst;

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
    c->client = i;

    if (M->route) {
        to = M->route(c);
    }

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_error("socket", strerror(errno));
        c->state = S_CONNECTING;
        conn_done(c, &st.err_connect, 0);
        return 0;
    }

    c->fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (o.rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof(o.rcvbuf));
    }

    /* many short connections: spread them over source addresses */
    if (o.src_ips > 1 && to->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
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

    if (connect(fd, (const struct sockaddr *) to, sizeof(*to)) != 0
        && errno != EINPROGRESS)
    {
        note_error("connect", strerror(errno));
        conn_done(c, &st.err_connect, 0);
        return 0;
    }

    return 0;
}


void
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


void
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
void
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
