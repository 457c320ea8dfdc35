/*
 * A TLS 1.3 client that changes its server name between its two
 * ClientHellos, as a hostile client can after a HelloRetryRequest: the
 * first hello offers an X25519 key share (a server that takes P-256 only
 * answers with a retry request), the second names `second`.  Then it
 * writes `request` and prints what came back.
 *
 *   hello_retry_client port first second [cert key] [request]
 *
 * A name "-" sends no SNI.  Prints "hellos: N", "handshake: ok" or
 * "handshake: fail", "alert: <description>" when the server sent one, and
 * "response: <bytes>" with what it read until the server closed.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>


static int          hellos;
static const char  *alert;


static void
on_message(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
    const unsigned char  *p = buf;

    (void) version;
    (void) ssl;
    (void) arg;

    if (write_p && content_type == SSL3_RT_HANDSHAKE && len > 0
        && p[0] == SSL3_MT_CLIENT_HELLO)
    {
        hellos++;
    }

    if (!write_p && content_type == SSL3_RT_ALERT && len == 2) {
        alert = SSL_alert_desc_string_long(p[1]);
    }
}


/* Sends what OpenSSL wrote; 0 when the socket failed. */
static int
flush(int fd, BIO *wbio)
{
    char     buf[16384];
    int      n;
    ssize_t  sent, off;

    while ((n = BIO_read(wbio, buf, sizeof(buf))) > 0) {
        for (off = 0; off < n; off += sent) {
            sent = send(fd, buf + off, (size_t) (n - off), MSG_NOSIGNAL);
            if (sent <= 0) {
                return 0;
            }
        }
    }

    return 1;
}


/* Reads what the server sent within a few seconds; 0 at its end. */
static int
receive(int fd, BIO *rbio)
{
    char           buf[16384];
    ssize_t        n;
    struct pollfd  pfd = { fd, POLLIN, 0 };

    if (poll(&pfd, 1, 5000) <= 0) {
        return 0;
    }

    n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
        return 0;
    }

    BIO_write(rbio, buf, (int) n);
    return 1;
}


int
main(int argc, char **argv)
{
    int                 fd, n, retried = 0;
    BIO                *rbio, *wbio;
    SSL                *ssl;
    SSL_CTX            *ctx;
    const char         *first, *second, *request;
    char                buf[4096];
    struct sockaddr_in  sin;

    if (argc != 4 && argc != 5 && argc != 6 && argc != 7) {
        fprintf(stderr, "usage: %s port first second [cert key] "
                "[request]\n", argv[0]);
        return 2;
    }

    first = strcmp(argv[2], "-") ? argv[2] : NULL;
    second = strcmp(argv[3], "-") ? argv[3] : NULL;
    request = (argc == 5) ? argv[4] : (argc == 7) ? argv[6] : "x\n";

    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);

    if (!SSL_CTX_set1_groups_list(ctx, "X25519:P-256")) {
        return 2;
    }

    if (argc >= 6
        && (SSL_CTX_use_certificate_chain_file(ctx, argv[4]) != 1
            || SSL_CTX_use_PrivateKey_file(ctx, argv[5], SSL_FILETYPE_PEM)
               != 1))
    {
        fprintf(stderr, "cannot load %s / %s\n", argv[4], argv[5]);
        return 2;
    }

    ssl = SSL_new(ctx);
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);
    SSL_set_msg_callback(ssl, on_message);

    if (first != NULL) {
        SSL_set_tlsext_host_name(ssl, first);
    }

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short) atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        fprintf(stderr, "connect: %s\n", strerror(errno));
        return 2;
    }

    for ( ;; ) {
        n = SSL_do_handshake(ssl);

        if (!flush(fd, wbio) || n == 1) {
            break;
        }

        if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ) {
            break;
        }

        if (!receive(fd, rbio)) {
            break;
        }

        /* the server's first answer is in: the second hello is next */
        if (!retried) {
            retried = 1;
            SSL_set_tlsext_host_name(ssl, second);
        }
    }

    printf("hellos: %d\n", hellos);
    printf("handshake: %s\n", n == 1 ? "ok" : "fail");

    if (n == 1) {
        SSL_write(ssl, request, (int) strlen(request));
        flush(fd, wbio);
        printf("response: ");

        for ( ;; ) {
            n = SSL_read(ssl, buf, sizeof(buf));

            if (n > 0) {
                fwrite(buf, 1, (size_t) n, stdout);
                continue;
            }

            if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ
                || !receive(fd, rbio))
            {
                break;
            }
        }

        printf("\n");
    }

    if (alert != NULL) {
        printf("alert: %s\n", alert);
    }

    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return 0;
}
