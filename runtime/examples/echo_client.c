/*
 * echo_client: Node's tls.connect() example, over securepair.
 *
 *     echo_client HOST PORT SERVERNAME CA [message]
 *
 * Connects, verifies the server against CA and SERVERNAME (which is also
 * sent as SNI), reports the verdict and the server's certificate on stderr,
 * copies whatever the server sends to stdout, sends the message (default
 * "hello from securepair") and waits for it to come back.  Then it sends
 * close_notify, waits for the server's, and exits 0.  Any failure: the
 * reason on stderr and exit 1.
 *
 * As in echo_server.c the pair never touches the socket: the loop below
 * moves records between the non-blocking socket (tcp.c connects it) and
 * the pair.  Built with tcp.c: cc echo_client.c tcp.c -lsecurepair.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "securepair.h"
#include "tcp.h"


#define TIMEOUT_MS  10000           /* for any single wait */
#define GOT_MAX     (1024 * 1024)   /* what we keep of the server's bytes */


static time_t
host_clock(void *arg)
{
    (void) arg;
    return time(NULL);
}


static int
fail(const char *what)
{
    fprintf(stderr, "echo_client: %s\n", what);
    return 1;
}


/* Sends the pair's records as far as the socket takes them. */
static int
send_records(int fd, sp_pair *pair)
{
    size_t          len;
    ssize_t         n;
    const uint8_t  *out;

    while ((out = sp_enc_out_buf(pair, &len)) != NULL) {
        n = send(fd, out, len, MSG_NOSIGNAL);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }

        sp_enc_out_consume(pair, (size_t) n);
    }

    return 0;
}


/* Node's 'secureConnect': the verdict and the server's certificate. */
static void
report_server(sp_pair *pair)
{
    sp_peer_cert  *cert;

    if (sp_pair_authorized(pair)) {
        fprintf(stderr, "authorized: yes\n");

    } else {
        fprintf(stderr, "authorized: no (%s)\n",
                sp_pair_authorization_error(pair)
                ? sp_pair_authorization_error(pair) : "not verified");
    }

    cert = sp_pair_peer_cert(pair);
    if (cert != NULL) {
        fprintf(stderr, "subject: %s\nfingerprint: %s\n",
                cert->subject_line, cert->fingerprint);
        sp_peer_cert_free(cert);
    }

    fprintf(stderr, "protocol: %s, cipher: %s\n",
            sp_pair_protocol(pair), sp_pair_cipher(pair));
}


static int
run(int fd, sp_pair *pair, const char *msg)
{
    int             shut = 0, echoed = 0;
    char           *got, buf[16384];
    size_t          msg_len = strlen(msg), msg_sent = 0, got_len = 0, room;
    ssize_t         n;
    uint8_t        *in;
    unsigned        events, state;
    struct pollfd   pfd;

    got = malloc(GOT_MAX);
    if (got == NULL) {
        return fail("out of memory");
    }

    for ( ;; ) {
        events = sp_pair_events(pair);

        if (sp_pair_error(pair) != SP_OK) {
            if (sp_pair_error(pair) == SP_ERR_UNAUTHORIZED) {
                fprintf(stderr, "authorized: no (%s)\n",
                        sp_pair_authorization_error(pair));
            }

            /* The alert we may have produced goes out before we leave. */
            (void) send_records(fd, pair);
            free(got);
            return fail(sp_pair_error_message(pair));
        }

        if (events & SP_EVENT_SECURE) {
            report_server(pair);
        }

        /* The message, as far as the pair takes it now. */
        while ((sp_pair_state(pair) & SP_STATE_SECURE) && msg_sent < msg_len
               && (n = sp_clear_write(pair, msg + msg_sent,
                                      msg_len - msg_sent)) > 0)
        {
            msg_sent += (size_t) n;
        }

        /* Everything decrypted so far, until the pair needs more input. */
        while ((n = sp_clear_read(pair, buf, sizeof(buf))) > 0) {
            fwrite(buf, 1, (size_t) n, stdout);

            if (got_len + (size_t) n > GOT_MAX) {
                free(got);
                return fail("the server sends too much");
            }

            memcpy(got + got_len, buf, (size_t) n);
            got_len += (size_t) n;
        }

        fflush(stdout);

        if (!echoed && msg_sent == msg_len
            && memmem(got, got_len, msg, msg_len) != NULL)
        {
            echoed = 1;
        }

        /* Done, or the server ended first (n == 0: its close_notify, or
           the transport's end). */
        if ((echoed || n == 0) && !shut) {
            shut = 1;
            (void) sp_pair_shutdown(pair);
        }

        if (send_records(fd, pair) != 0) {
            free(got);
            return fail(strerror(errno));
        }

        state = sp_pair_state(pair);

        /* Closed both ways, or failed, with every record sent. */
        if (state & SP_STATE_CLOSED) {
            if (sp_pair_error(pair) != SP_OK) {
                continue;               /* reported at the top */
            }

            break;
        }

        pfd.fd = fd;
        pfd.events = ((state & SP_STATE_RECV_RECORDS) ? POLLIN : 0)
                     | ((state & SP_STATE_SEND_RECORDS) ? POLLOUT : 0);

        n = poll(&pfd, 1, TIMEOUT_MS);
        if (n == 0) {
            free(got);
            return fail(echoed ? "timed out waiting for close_notify"
                               : "timed out waiting for the echo");
        }

        if (n < 0 || !(pfd.revents & (POLLIN | POLLERR | POLLHUP))) {
            continue;                   /* EINTR, or only POLLOUT */
        }

        /* Zero-copy: the kernel writes records into the pair's buffer. */
        in = sp_enc_in_buf(pair, &room);
        if (in == NULL) {
            continue;
        }

        n = recv(fd, in, room, 0);

        if (n > 0) {
            (void) sp_enc_in_commit(pair, (size_t) n);

        } else if (n == 0) {
            (void) sp_enc_in_eof(pair);     /* judged by the pair */

        } else if (errno != EAGAIN && errno != EINTR) {
            free(got);
            return fail(strerror(errno));
        }
    }

    free(got);

    if (!echoed) {
        return fail("the server closed the connection before the echo");
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int        fd, err, rc;
    sp_ctx    *ctx;
    sp_pair   *pair;
    sp_creds  *creds;

    if (argc != 5 && argc != 6) {
        fprintf(stderr,
                "usage: echo_client HOST PORT SERVERNAME CA [message]\n");
        return 2;
    }

    if (argc == 6 && argv[5][0] == '\0') {
        return fail("the message must not be empty");
    }

    creds = sp_creds_new();
    if (creds == NULL) {
        return fail("out of memory");
    }

    if (sp_creds_add_ca_file(creds, argv[4]) != SP_OK) {
        rc = fail(sp_creds_error(creds));
        sp_creds_unref(creds);
        return rc;
    }

    /* A client context rejects an unauthorized server by default. */
    ctx = sp_ctx_new(SP_CLIENT, creds);
    sp_creds_unref(creds);

    if (ctx == NULL) {
        return fail("out of memory");
    }

    sp_ctx_set_clock(ctx, host_clock, NULL);

    fd = tcp_connect("echo_client", argv[1], argv[2]);
    if (fd == -1) {
        sp_ctx_unref(ctx);
        return 1;
    }

    /* The ClientHello is ready in sp_enc_out_* at once. */
    pair = sp_pair_new(ctx, argv[3], &err);

    if (pair == NULL) {
        rc = fail(sp_strerror(err));

    } else {
        rc = run(fd, pair, argc == 6 ? argv[5] : "hello from securepair");
        sp_pair_free(pair);
    }

    close(fd);
    sp_ctx_unref(ctx);
    return rc;
}
