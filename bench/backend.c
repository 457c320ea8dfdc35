/*
 * backend: a plain TCP backend for the benchmarks, on epoll, one thread.
 *
 *   backend MODE --port P [--ack N] [--bytes N] [--timeout S]
 *
 *   echo    sends back every byte it reads
 *   sink    reads and drops; with --ack N, sends one byte 'A' each time a
 *           connection has delivered another N bytes (the load generator's
 *           "all my bytes arrived")
 *   source  sends --bytes N bytes to each connection (0: until the peer
 *           goes), then half-closes and drops what it reads
 *   http    an HTTP/1.1 keep-alive server: to every request (a head that
 *           ends with an empty line; bodies are not read) it answers
 *           "HTTP/1.1 200 OK", "Content-Length: N" and --bytes N bytes of
 *           body (http_head() below: loadgen's http mode expects exactly
 *           these bytes), in order, for as long as the peer keeps the
 *           connection
 *
 * Listens on 127.0.0.1 only.  Prints "ready mode=... port=..." once
 * listening.  Runs until SIGINT / SIGTERM or --timeout seconds (3600).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
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


#define BUF_SIZE     16384
#define MAX_EVENTS   512


enum { ECHO, SINK, SOURCE, HTTP };

typedef struct {
    int            fd;
    uint32_t       events;
    unsigned char *buf;           /* echo: bytes read, not yet sent */
    size_t         start, end;
    uint64_t       count;         /* sink: bytes read; source: bytes sent */
    uint64_t       owed;          /* sink, http: answers owed and sent */
    uint64_t       acked;
    size_t         sent;          /* of the answer being sent */
    uint32_t       match;        /* http: the end of a request head seen so
                                    far, as the last 4 bytes read */
    int            rd_closed;
    int            wr_closed;
} bconn;


static int            mode;
static uint64_t       ack_every;
static uint64_t       source_bytes;
static int            ep;
static unsigned char  data[BUF_SIZE];
static unsigned char  drop[65536];
static unsigned char *answer = (unsigned char *) "A";   /* sink's, or */
static size_t         answer_len = 1;                   /* http's */
static char           listen_tag, signal_tag;


static void
set_events(bconn *c, uint32_t ev)
{
    struct epoll_event  e;

    if (c->events == ev) {
        return;
    }

    e.events = ev;
    e.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}


static void
bclose(bconn *c)
{
    close(c->fd);
    free(c->buf);
    free(c);
}


/* Returns 0 to keep the connection, -1 when it is closed. */
static int
echo_step(bconn *c)
{
    ssize_t  n;

    for (int i = 0; i < 64; i++) {
        if (c->end > c->start) {
            n = send(c->fd, c->buf + c->start, c->end - c->start,
                     MSG_NOSIGNAL);
            if (n > 0) {
                c->start += (size_t) n;
                if (c->start == c->end) {
                    c->start = c->end = 0;
                }
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                bclose(c);
                return -1;
            }
            set_events(c, EPOLLOUT);
            return 0;
        }

        if (c->rd_closed) {
            bclose(c);
            return -1;
        }

        n = recv(c->fd, c->buf, BUF_SIZE, 0);
        if (n > 0) {
            c->start = 0;
            c->end = (size_t) n;
            continue;
        }
        if (n == 0) {
            c->rd_closed = 1;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            set_events(c, EPOLLIN);
            return 0;
        }
        bclose(c);
        return -1;
    }

    /* busy: come back on the next round */
    set_events(c, c->end > c->start ? EPOLLOUT : EPOLLIN);
    return 0;
}


/*
 * One send of source and answer: the bytes sent; 0 when the socket is
 * full (the connection then waits to write, and reads what comes
 * meanwhile); -1 when the connection is gone, closed here.
 */
static ssize_t
send_some(bconn *c, const void *p, size_t len)
{
    ssize_t  n;

    n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
        return n;
    }

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_events(c, EPOLLIN | EPOLLOUT);
        return 0;
    }

    bclose(c);
    return -1;
}


static int
source_step(bconn *c)
{
    ssize_t   n;
    size_t    len;

    for (int i = 0; i < 64; i++) {
        /* drop whatever the peer sends; its end is ours */
        n = recv(c->fd, drop, sizeof(drop), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            bclose(c);
            return -1;
        }

        if (c->wr_closed) {
            set_events(c, EPOLLIN);
            return 0;
        }

        len = BUF_SIZE;
        if (source_bytes && source_bytes - c->count < len) {
            len = (size_t) (source_bytes - c->count);
        }

        if (len == 0) {
            shutdown(c->fd, SHUT_WR);
            c->wr_closed = 1;
            set_events(c, EPOLLIN);
            return 0;
        }

        n = send_some(c, data, len);
        if (n <= 0) {
            return (int) n;
        }
        c->count += (uint64_t) n;
    }

    set_events(c, EPOLLIN | EPOLLOUT);
    return 0;
}


/* The answer of http mode, a response's head and body, made once. */
static int
http_response(void)
{
    char    head[128];
    size_t  n;

    n = (size_t) snprintf(head, sizeof(head),
                          "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n"
                          "Connection: keep-alive\r\n\r\n",
                          (unsigned long long) source_bytes);

    answer_len = n + source_bytes;
    answer = malloc(answer_len);
    if (answer == NULL) {
        return -1;
    }

    memcpy(answer, head, n);
    for (size_t i = n; i < answer_len; i++) {
        answer[i] = (unsigned char) (i * 131 + 7);
    }

    return 0;
}


/* Counts the request heads in what was read: each ends "\r\n\r\n". */
static void
http_scan(bconn *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c->match = c->match << 8 | p[i];
        if (c->match == 0x0d0a0d0a) {
            c->owed++;
        }
    }
}


/*
 * sink and http: reads, and answers what was asked, in order: sink an 'A'
 * for every --ack bytes, http the response to every request head.
 */
static int
answer_step(bconn *c)
{
    ssize_t  n;

    for (int i = 0; i < 64; i++) {
        if (c->owed > c->acked) {
            n = send_some(c, answer + c->sent, answer_len - c->sent);
            if (n <= 0) {
                return (int) n;
            }
            c->sent += (size_t) n;
            if (c->sent == answer_len) {
                c->sent = 0;
                c->acked++;
            }
            continue;
        }

        n = recv(c->fd, drop, sizeof(drop), 0);
        if (n > 0) {
            c->count += (uint64_t) n;
            if (mode == HTTP) {
                http_scan(c, drop, (size_t) n);
            } else if (ack_every) {
                c->owed = c->count / ack_every;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(c, EPOLLIN);
            return 0;
        }
        bclose(c);
        return -1;
    }

    set_events(c, c->owed > c->acked ? EPOLLIN | EPOLLOUT : EPOLLIN);
    return 0;
}


static void
step(bconn *c)
{
    switch (mode) {
    case ECHO: echo_step(c); break;
    case SINK:
    case HTTP: answer_step(c); break;
    default: source_step(c); break;
    }
}


static void
usage(void)
{
    fprintf(stderr, "usage: backend echo|sink|source|http --port P "
            "[--ack N] [--bytes N] [--timeout S]\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int                  lfd, sfd, fd, one = 1, i, n, port = 0;
    double               timeout = 3600;
    time_t               end;
    sigset_t             mask;
    struct rlimit        rl;
    struct sockaddr_in   a;
    struct epoll_event   e, evs[MAX_EVENTS];

    if (argc < 2) {
        usage();
    }

    if (strcmp(argv[1], "echo") == 0) {
        mode = ECHO;
    } else if (strcmp(argv[1], "sink") == 0) {
        mode = SINK;
    } else if (strcmp(argv[1], "source") == 0) {
        mode = SOURCE;
    } else if (strcmp(argv[1], "http") == 0) {
        mode = HTTP;
    } else {
        usage();
    }

    for (i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--ack") == 0) {
            ack_every = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--bytes") == 0) {
            source_bytes = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--timeout") == 0) {
            timeout = atof(argv[i + 1]);
        } else {
            usage();
        }
    }

    if (i != argc || port <= 0 || port > 65535 || timeout <= 0) {
        usage();
    }

    signal(SIGPIPE, SIG_IGN);

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    for (i = 0; i < BUF_SIZE; i++) {
        data[i] = (unsigned char) (i * 131 + 7);
    }

    if (mode == HTTP && http_response() != 0) {
        fprintf(stderr, "backend: out of memory\n");
        return 1;
    }

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (bind(lfd, (struct sockaddr *) &a, sizeof(a)) != 0
        || listen(lfd, 4096) != 0)
    {
        fprintf(stderr, "backend: port %d: %s\n", port, strerror(errno));
        return 1;
    }

    ep = epoll_create1(EPOLL_CLOEXEC);

    e.events = EPOLLIN;
    e.data.ptr = &listen_tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);

    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    e.events = EPOLLIN;
    e.data.ptr = &signal_tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);

    printf("ready mode=%s port=%d\n", argv[1], port);
    fflush(stdout);

    end = time(NULL) + (time_t) timeout;

    while (time(NULL) < end) {
        n = epoll_wait(ep, evs, MAX_EVENTS, 1000);

        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == &signal_tag) {
                return 0;
            }

            if (evs[i].data.ptr == &listen_tag) {
                /* a bounded batch of accepts per wakeup */
                for (int k = 0; k < 256; k++) {
                    bconn  *c;

                    fd = accept4(lfd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        break;
                    }

                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                               sizeof(one));

                    c = calloc(1, sizeof(bconn));
                    if (c == NULL
                        || (mode == ECHO
                            && (c->buf = malloc(BUF_SIZE)) == NULL))
                    {
                        free(c);
                        close(fd);
                        continue;
                    }

                    c->fd = fd;
                    c->events = mode == SOURCE ? EPOLLIN | EPOLLOUT
                                               : EPOLLIN;
                    e.events = c->events;
                    e.data.ptr = c;

                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
                        bclose(c);
                    }
                }
                continue;
            }

            step(evs[i].data.ptr);
        }
    }

    return 0;
}
