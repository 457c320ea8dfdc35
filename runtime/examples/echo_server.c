/*
 * echo_server: the echo server of Node's tls documentation, over securepair.
 *
 *     echo_server HOST PORT KEY CERT [CA]
 *
 * Every client gets "welcome!\n" once its handshake is done, then each byte
 * it sends comes back.  With CA the server asks for a client certificate
 * (Node: requestCert: true, rejectUnauthorized: false) and logs whether the
 * client was authorized.  One line per connection goes to stderr when it
 * closes.  SIGINT or SIGTERM stops the server; it exits 0.
 *
 * The pairs never touch a socket: this file is the host.  It moves records
 * between each non-blocking socket and its pair, and cleartext from the
 * pair's output back into its input.  The sans-IO contract, as done below:
 *
 *   - after every sp_* call, send what sp_enc_out_buf() has (client_send);
 *   - recv() straight into sp_enc_in_buf(), then sp_enc_in_commit(), and
 *     sp_enc_in_eof() when recv() says the transport ended (client_recv);
 *   - read cleartext until SP_ERR_AGAIN: decrypted bytes may wait inside
 *     the pair with no new input (client_echo);
 *   - close only once sp_pair_state() says SP_STATE_CLOSED, so that a
 *     failed pair's alert and our close_notify go out first (client_run).
 *
 * The listening socket comes from tcp.c, which echo_client.c shares:
 * cc echo_server.c tcp.c -lsecurepair.
 */

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "securepair.h"
#include "tcp.h"


#define WELCOME     "welcome!\n"

/*
 * A client whose pair holds this many unsent record bytes is not read from
 * until it takes them.  With the pair's own input bound (it has room for
 * 128 KiB of records at most) and `held`, a client that never reads costs
 * some 250 KiB, however much it sends.
 */
#define OUT_HIGH    65536


typedef struct client_s  client_t;

struct client_s {
    client_t       *next;
    int             fd;
    sp_pair        *pair;
    size_t          slot;           /* index in the poll array */
    char            peer[80];       /* "127.0.0.1:51234" */
    int             sock_errno;     /* a failed send() or recv() */
    unsigned        secure:1;       /* the handshake completed */
    unsigned        ended:1;        /* the client's close_notify arrived */
    unsigned        shut:1;         /* we called sp_pair_shutdown() */
    unsigned        over:1;         /* to be closed */

    /* Cleartext read from the pair but not yet taken back by it. */
    size_t          held_start;
    size_t          held_end;
    char            held[16384];
};


static volatile sig_atomic_t  stopping;
static int                    with_ca;


static void
on_signal(int signo)
{
    (void) signo;
    stopping = 1;
}


/* The host owns the clock; the pair asks it when a renegotiation starts. */
static time_t
host_clock(void *arg)
{
    (void) arg;
    return time(NULL);
}


static sp_ctx *
server_ctx(const char *key, const char *cert, const char *ca)
{
    sp_ctx    *ctx;
    sp_creds  *creds;

    creds = sp_creds_new();
    if (creds == NULL) {
        fprintf(stderr, "echo_server: out of memory\n");
        return NULL;
    }

    if (sp_creds_add_key_cert_file(creds, key, cert) != SP_OK
        || (ca != NULL && sp_creds_add_ca_file(creds, ca) != SP_OK))
    {
        fprintf(stderr, "echo_server: %s\n", sp_creds_error(creds));
        sp_creds_unref(creds);
        return NULL;
    }

    ctx = sp_ctx_new(SP_SERVER, creds);
    sp_creds_unref(creds);            /* the context holds its reference */

    if (ctx == NULL) {
        fprintf(stderr, "echo_server: out of memory\n");
        return NULL;
    }

    if (ca != NULL) {
        sp_ctx_set_request_cert(ctx, 1);
        sp_ctx_set_reject_unauthorized(ctx, 0);
    }

    sp_ctx_set_clock(ctx, host_clock, NULL);
    return ctx;
}


static void
peer_name(int fd, char *buf, size_t len)
{
    char                     host[64], port[16];
    socklen_t                slen = sizeof(struct sockaddr_storage);
    struct sockaddr_storage  sa;

    if (getpeername(fd, (struct sockaddr *) &sa, &slen) != 0
        || getnameinfo((struct sockaddr *) &sa, slen, host, sizeof(host),
                       port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV)
           != 0)
    {
        snprintf(buf, len, "?");
        return;
    }

    snprintf(buf, len, sa.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
             host, port);
}


static int
socket_error(int fd)
{
    int        err = 0;
    socklen_t  len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0) {
        err = ECONNRESET;
    }

    return err;
}


static const char *
or_dash(const char *s)
{
    return s ? s : "-";
}


/* The connection's one log line, then its end. */
static void
client_close(client_t *c, const char *why)
{
    sp_pair     *p = c->pair;
    const char  *err;

    if (why == NULL) {
        why = c->sock_errno ? strerror(c->sock_errno)
              : sp_pair_error(p) ? sp_pair_error_message(p)
              : "clean end";
    }

    if (c->secure) {
        err = sp_pair_authorization_error(p);

        fprintf(stderr, "%s servername=%s protocol=%s cipher=%s "
                "authorized=%s%s%s%s: %s\n",
                c->peer, or_dash(sp_pair_servername(p)),
                or_dash(sp_pair_protocol(p)), or_dash(sp_pair_cipher(p)),
                sp_pair_authorized(p) ? "yes" : "no",
                with_ca && err ? " (" : "", with_ca && err ? err : "",
                with_ca && err ? ")" : "", why);

    } else {
        fprintf(stderr, "%s no handshake: %s\n", c->peer, why);
    }

    sp_pair_free(p);
    close(c->fd);
    free(c);
}


static void
accept_clients(int lfd, sp_ctx *ctx, client_t **clients)
{
    int        fd, err;
    client_t  *c;

    for ( ;; ) {
        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED)
            {
                fprintf(stderr, "echo_server: accept: %s\n", strerror(errno));
            }
            return;
        }

        c = calloc(1, sizeof(client_t));
        if (c == NULL) {
            close(fd);
            continue;
        }

        /* A server pair just waits for the ClientHello: nothing to send. */
        c->pair = sp_pair_new(ctx, NULL, &err);
        if (c->pair == NULL) {
            fprintf(stderr, "echo_server: %s\n", sp_strerror(err));
            free(c);
            close(fd);
            continue;
        }

        c->fd = fd;
        peer_name(fd, c->peer, sizeof(c->peer));
        c->next = *clients;
        *clients = c;
    }
}


/*
 * Records from the socket go straight into the pair's input buffer: no copy
 * on our side.  recv() == 0 is the transport's end, which the pair judges
 * (a cut handshake fails; once secure it is the end of the client's data,
 * with or without close_notify: sp_pair_truncated() tells).
 */
static void
client_recv(client_t *c)
{
    size_t    room;
    ssize_t   n;
    uint8_t  *buf;

    buf = sp_enc_in_buf(c->pair, &room);
    if (buf == NULL) {
        return;                 /* the pair takes no input now */
    }

    n = recv(c->fd, buf, room, 0);

    if (n > 0) {
        /* Runs the engine; a failure shows in sp_pair_error() and in the
           pair's state, and its alert in sp_enc_out_*. */
        (void) sp_enc_in_commit(c->pair, (size_t) n);

    } else if (n == 0) {
        (void) sp_enc_in_eof(c->pair);

    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c->sock_errno = errno;
    }
}


/* Sends what records the pair has; 1 when some went, -1 on error. */
static int
client_send(client_t *c)
{
    int             sent = 0;
    size_t          len;
    ssize_t         n;
    const uint8_t  *out;

    while ((out = sp_enc_out_buf(c->pair, &len)) != NULL) {
        n = send(c->fd, out, len, MSG_NOSIGNAL);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;          /* the socket is full: wait for POLLOUT */
            }

            c->sock_errno = errno;
            return -1;
        }

        sp_enc_out_consume(c->pair, (size_t) n);   /* partial sends too */
        sent = 1;
    }

    return sent;
}


/*
 * The echo (Node: cleartextStream.pipe(cleartextStream)): cleartext read
 * from the pair is written back into it.  The pair takes less, or nothing
 * (SP_ERR_AGAIN), while its records wait to be sent; we then keep the rest
 * in `held` and read no more until it is taken.
 */
static void
client_echo(client_t *c)
{
    ssize_t  n;

    for ( ;; ) {
        while (c->held_start < c->held_end) {
            n = sp_clear_write(c->pair, c->held + c->held_start,
                               c->held_end - c->held_start);
            if (n < 0) {
                return;         /* SP_ERR_AGAIN: send first; or failed */
            }

            c->held_start += (size_t) n;
        }

        c->held_start = 0;
        c->held_end = 0;

        if (c->ended) {
            /* The client's 'end' ends our side too, after the echo. */
            if (!c->shut) {
                c->shut = 1;
                (void) sp_pair_shutdown(c->pair);
            }

            return;
        }

        /* Until SP_ERR_AGAIN: decrypted bytes may wait with no new input. */
        n = sp_clear_read(c->pair, c->held, sizeof(c->held));

        if (n > 0) {
            c->held_end = (size_t) n;

        } else if (n == 0) {
            c->ended = 1;       /* close_notify, or the transport's end */

        } else {
            return;             /* SP_ERR_AGAIN, or the pair failed */
        }
    }
}


/*
 * After any I/O: react to events, echo, send.  Returns 1 when the
 * connection is over: a socket error, or the pair is SP_STATE_CLOSED
 * (closed both ways or failed, and every record, an alert too, sent).
 */
static int
client_run(client_t *c)
{
    int       sent;
    unsigned  events;

    if (c->sock_errno) {
        return 1;
    }

    events = sp_pair_events(c->pair);

    if (events & SP_EVENT_SECURE) {
        /* Node's 'secure': greet before echoing anything. */
        c->secure = 1;
        memcpy(c->held, WELCOME, sizeof(WELCOME) - 1);
        c->held_start = 0;
        c->held_end = sizeof(WELCOME) - 1;
    }

    do {
        client_echo(c);
        sent = client_send(c);

        /* Sending all made room in the pair for what we still hold. */
    } while (sent > 0 && c->held_start < c->held_end
             && sp_enc_out_pending(c->pair) == 0);

    if (sent < 0) {
        return 1;
    }

    return (sp_pair_state(c->pair) & SP_STATE_CLOSED) != 0;
}


static short
client_interest(client_t *c)
{
    short     ev = 0;
    unsigned  state = sp_pair_state(c->pair);

    if (state & SP_STATE_SEND_RECORDS) {
        ev |= POLLOUT;          /* client_send() found the socket full */
    }

    /* RECV_RECORDS: the pair has room, and still wants input. */
    if ((state & SP_STATE_RECV_RECORDS)
        && sp_enc_out_pending(c->pair) < OUT_HIGH)
    {
        ev |= POLLIN;
    }

    return ev;
}


int
main(int argc, char **argv)
{
    int              lfd, rc = 1;
    short            re;
    size_t           n, cap = 0;
    sp_ctx          *ctx;
    sigset_t         block, unblocked;
    client_t        *clients = NULL, *c, **cp;
    struct pollfd   *pfds = NULL, *p;
    struct sigaction sa;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: echo_server HOST PORT KEY CERT [CA]\n");
        return 2;
    }

    with_ca = (argc == 6);

    ctx = server_ctx(argv[3], argv[4], with_ca ? argv[5] : NULL);
    if (ctx == NULL) {
        return 1;
    }

    lfd = tcp_listen("echo_server", argv[1], argv[2]);
    if (lfd == -1) {
        sp_ctx_unref(ctx);
        return 1;
    }

    /* The signals are delivered only inside ppoll(): no wakeup is lost
       between testing `stopping` and sleeping. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &unblocked);

    fprintf(stderr, "echo_server: listening on %s port %s\n",
            argv[1], argv[2]);

    while (!stopping) {
        n = 1;
        for (c = clients; c != NULL; c = c->next) {
            n++;
        }

        if (n > cap) {
            p = realloc(pfds, n * 2 * sizeof(struct pollfd));
            if (p == NULL) {
                fprintf(stderr, "echo_server: out of memory\n");
                goto done;
            }

            pfds = p;
            cap = n * 2;
        }

        pfds[0].fd = lfd;
        pfds[0].events = POLLIN;
        n = 1;

        for (c = clients; c != NULL; c = c->next) {
            c->slot = n;
            pfds[n].fd = c->fd;
            pfds[n].events = client_interest(c);
            pfds[n].revents = 0;
            n++;
        }

        if (ppoll(pfds, n, NULL, &unblocked) == -1) {
            if (errno == EINTR) {
                continue;
            }

            fprintf(stderr, "echo_server: poll: %s\n", strerror(errno));
            goto done;
        }

        for (c = clients; c != NULL; c = c->next) {
            re = pfds[c->slot].revents;

            if (re & POLLIN) {
                client_recv(c);

            } else if (re & (POLLERR | POLLHUP)) {
                /* Reset while we were not reading: nothing more can go. */
                c->sock_errno = socket_error(c->fd);
            }

            c->over = (re != 0 && client_run(c));
        }

        for (cp = &clients; *cp != NULL; ) {
            c = *cp;

            if (c->over) {
                *cp = c->next;
                client_close(c, NULL);

            } else {
                cp = &c->next;
            }
        }

        /* Accepted last: the new clients had no slot in this poll. */
        if (pfds[0].revents & POLLIN) {
            accept_clients(lfd, ctx, &clients);
        }
    }

    rc = 0;

done:

    /* Stopping: a best-effort close_notify, then free every pair. */
    while (clients != NULL) {
        c = clients;
        clients = c->next;

        if (c->secure && !c->shut && sp_pair_error(c->pair) == SP_OK) {
            (void) sp_pair_shutdown(c->pair);
            (void) client_send(c);
        }

        client_close(c, "server stopping");
    }

    free(pfds);
    close(lfd);
    sp_ctx_unref(ctx);

    fprintf(stderr, "echo_server: stopped\n");
    return rc;
}
