/*
 * flood: a TLS client that writes records each of which makes the server
 * write, and does not read them, for t/security.t.
 *
 *   flood hello PORT N SECONDS
 *       TLS 1.2 (AES-128-GCM), then N renegotiation ClientHellos sealed
 *       with the client's keys, sent one after another (OpenSSL's own
 *       client stops at the first refusal); meanwhile counts the alert
 *       records the server sends, until it closes or SECONDS pass.
 *       Prints: hellos=<sent> alerts=<received> closed=<0|1> ms=<elapsed>
 *
 *   flood keyupdate PORT N SECONDS
 *       TLS 1.3, then up to N key updates that request one back, never
 *       reading, until N are made, SECONDS pass, or the socket takes
 *       nothing for a second (the server stopped reading).
 *       Prints: updates=<made> stalled=<0|1> unsent=<bytes of them not
 *       yet sent> ms=<elapsed>, then holds the connection open until a
 *       line on stdin.  "resume" reads (and sends the rest) until the
 *       server has answered every key update but the last (OpenSSL
 *       answers one when it next reads or writes), sends "ping\n", reads
 *       until it comes back and prints answers=<key updates answered>
 *       echo=<0|1>.  Then waits for stdin to end.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "records.h"


/* key updates received from the server (the message callback) */
static unsigned  answers;


static void
count_answers(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
    (void) version;
    (void) ssl;
    (void) arg;

    if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0
        && *(const unsigned char *) buf == SSL3_MT_KEY_UPDATE)
    {
        answers++;
    }
}


static double
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}


/*
 * Small socket buffers: the server's answers then stay with the server
 * instead of in the kernel's buffers between two processes on loopback
 * (megabytes of them), where no memory of the server would show them.
 */
static int
connect_to(int port)
{
    int                 fd, size = 4096;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }

    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }

    return fd;
}


/* A blocking handshake of the given version; the socket is then
   non-blocking. */
static SSL *
handshake(int fd, int version)
{
    SSL      *ssl;
    SSL_CTX  *ctx;

    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        return NULL;
    }

    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
    SSL_CTX_set_cipher_list(ctx, REC_GCM_CIPHERS);

    ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);

    if (ssl == NULL || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_free(ssl);
        return NULL;
    }

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return ssl;
}


/* Reads what the server sent, counting whole alert records. */
static int
drain(int fd, uint8_t *buf, size_t size, size_t *have, unsigned *alerts)
{
    ssize_t  n;
    size_t   i, rlen;

    for ( ;; ) {
        n = read(fd, buf + *have, size - *have);

        if (n == 0) {
            return 1;
        }

        if (n < 0) {
            return errno == EAGAIN ? 0 : 1;
        }

        *have += (size_t) n;

        /* whole records are counted, a part waits for the rest */
        for (i = 0; i + 5 <= *have; i += 5 + rlen) {
            rlen = (size_t) buf[i + 3] << 8 | buf[i + 4];

            if (i + 5 + rlen > *have) {
                break;
            }
        }

        *alerts += rec_count_alerts(buf, i);
        memmove(buf, buf + i, *have - i);
        *have -= i;
    }
}


static int
flood_hello(int fd, unsigned count, double deadline, double start)
{
    SSL            *ssl;
    size_t          hlen, len, sent, have, rec;
    ssize_t         n;
    uint8_t         hello[64], *out, in[65536];
    unsigned        alerts, hellos;
    rec_keys        k;
    int             closed;
    struct pollfd   pfd;

    ssl = handshake(fd, TLS1_2_VERSION);
    if (ssl == NULL || !rec_client_keys(ssl, &k)) {
        fprintf(stderr, "flood: no TLS 1.2 AES-128-GCM connection\n");
        return 1;
    }

    hlen = rec_client_hello(hello);
    rec = hlen + REC_OVERHEAD;
    out = malloc(count * rec);
    if (out == NULL) {
        return 1;
    }

    for (len = 0; len < count * rec; len += rec) {
        rec_seal(&k, 22, hello, hlen, out + len);
    }

    sent = 0;
    have = 0;
    alerts = 0;
    closed = 0;

    while (!closed && now_ms() < deadline) {
        pfd.fd = fd;
        pfd.events = POLLIN | (sent < len ? POLLOUT : 0);

        if (poll(&pfd, 1, 100) < 0) {
            break;
        }

        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            closed = drain(fd, in, sizeof(in), &have, &alerts);
        }

        if (!closed && sent < len && (pfd.revents & POLLOUT)) {
            n = write(fd, out + sent, len - sent);

            if (n < 0 && errno != EAGAIN) {
                closed = 1;
            }

            if (n > 0) {
                sent += (size_t) n;
            }
        }
    }

    hellos = (unsigned) (sent / rec);
    printf("hellos=%u alerts=%u closed=%d ms=%.0f\n", hellos, alerts, closed,
           now_ms() - start);

    free(out);
    SSL_free(ssl);
    return 0;
}


/*
 * In keyupdate mode OpenSSL writes records into memory and they go to the
 * socket from here: OpenSSL's own client finishes a half-written record
 * before it reads, and at the stall that record waits for a server that
 * waits for the client to read.
 */
typedef struct {
    BIO      *mem;              /* what OpenSSL wrote */
    uint8_t   buf[16384];       /* taken from it, not yet sent */
    size_t    pos;
    size_t    len;
} out_t;


/* Sends what it can; returns bytes still unsent, or -1 on an error. */
static long
out_flush(out_t *o, int fd)
{
    int      n;
    ssize_t  w;

    for ( ;; ) {
        if (o->pos == o->len) {
            n = BIO_read(o->mem, o->buf, sizeof(o->buf));
            if (n <= 0) {
                return 0;
            }

            o->pos = 0;
            o->len = (size_t) n;
        }

        w = write(fd, o->buf + o->pos, o->len - o->pos);

        if (w < 0) {
            return errno == EAGAIN ? (long) (o->len - o->pos
                                             + BIO_pending(o->mem))
                                   : -1;
        }

        o->pos += (size_t) w;
    }
}


/*
 * Reads what the server sent until it has answered `want` key updates,
 * then sends "ping\n" and reads on until it comes back: 1, or 0 at the
 * deadline or on an error.
 */
static int
echo(SSL *ssl, int fd, out_t *o, unsigned want, double deadline)
{
    int             rc, e, sent = 0;
    long            unsent;
    char            got[256];
    size_t          have = 0;
    struct pollfd   pfd;

    while (now_ms() < deadline) {
        unsent = out_flush(o, fd);
        if (unsent < 0) {
            return 0;
        }

        if (!sent && answers >= want) {
            sent = SSL_write(ssl, "ping\n", 5) == 5;
            continue;
        }

        /* application data is only the greeting and the echo */
        rc = SSL_read(ssl, got + have, sizeof(got) - 1 - have);

        if (rc > 0) {
            have += (size_t) rc;
            got[have] = '\0';

            if (strstr(got, "ping\n") != NULL) {
                return 1;
            }

            if (have == sizeof(got) - 1) {
                return 0;
            }

            continue;
        }

        e = SSL_get_error(ssl, rc);

        if (e != SSL_ERROR_WANT_READ) {
            ERR_print_errors_fp(stderr);
            return 0;
        }

        pfd.fd = fd;
        pfd.events = POLLIN | (unsent ? POLLOUT : 0);
        poll(&pfd, 1, 100);
    }

    return 0;
}


static int
flood_keyupdate(int fd, unsigned count, double deadline, double start)
{
    SSL            *ssl;
    int             ok, stalled = 0;
    long            unsent = 0;
    char            line[64];
    out_t           out;
    unsigned        updates = 0;
    struct pollfd   pfd;

    ssl = handshake(fd, TLS1_3_VERSION);
    if (ssl == NULL) {
        fprintf(stderr, "flood: no TLS 1.3 connection\n");
        return 1;
    }

    memset(&out, 0, sizeof(out_t));
    out.mem = BIO_new(BIO_s_mem());
    if (out.mem == NULL) {
        return 1;
    }

    SSL_set0_wbio(ssl, out.mem);
    SSL_set_msg_callback(ssl, count_answers);

    while (updates < count && now_ms() < deadline) {
        unsent = out_flush(&out, fd);
        if (unsent < 0) {
            perror("flood: write");
            break;
        }

        /* a few records ahead of the socket, no more */
        if (unsent < 4096) {
            if (SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1
                || SSL_do_handshake(ssl) != 1)
            {
                ERR_print_errors_fp(stderr);
                break;
            }

            updates++;
            continue;
        }

        pfd.fd = fd;
        pfd.events = POLLOUT;

        if (poll(&pfd, 1, 1000) == 0) {
            stalled = 1;
            break;
        }
    }

    printf("updates=%u stalled=%d unsent=%ld ms=%.0f\n", updates, stalled,
           unsent, now_ms() - start);
    fflush(stdout);

    if (fgets(line, sizeof(line), stdin) != NULL
        && strncmp(line, "resume", 6) == 0)
    {
        /* OpenSSL sends its answer to a key update when it next reads or
           writes: the answer to the last one waits for the ping */
        ok = echo(ssl, fd, &out, updates ? updates - 1 : 0,
                  now_ms() + 10000);
        printf("answers=%u echo=%d\n", answers, ok);
        fflush(stdout);
    }

    while (fgets(line, sizeof(line), stdin) != NULL) {
        /* held open until the test is done */
    }

    SSL_free(ssl);
    return 0;
}


int
main(int argc, char **argv)
{
    int       fd, port;
    double    start;
    unsigned  count;

    if (argc != 5) {
        fprintf(stderr, "usage: flood hello|keyupdate PORT N SECONDS\n");
        return 2;
    }

    port = atoi(argv[2]);
    count = (unsigned) strtoul(argv[3], NULL, 10);
    start = now_ms();

    fd = connect_to(port);
    if (fd < 0) {
        perror("flood: connect");
        return 1;
    }

    if (strcmp(argv[1], "hello") == 0) {
        return flood_hello(fd, count, start + atof(argv[4]) * 1000, start);
    }

    return flood_keyupdate(fd, count, start + atof(argv[4]) * 1000, start);
}
