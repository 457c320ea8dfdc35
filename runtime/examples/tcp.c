/*
 * tcp.c: the address walk both examples make (tcp.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp.h"


static int
listen_at(int fd, const struct addrinfo *ai)
{
    int  on = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

    return bind(fd, ai->ai_addr, ai->ai_addrlen) == 0
           && listen(fd, 128) == 0;
}


/* A blocking connect() keeps this short; the rest is non-blocking. */
static int
connect_at(int fd, const struct addrinfo *ai)
{
    return connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
}


static int
tcp_open(const char *prog, const char *host, const char *port, int passive)
{
    int               fd = -1, rc;
    struct addrinfo   hints, *res, *ai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;

    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: %s:%s: %s\n", prog, host, port,
                gai_strerror(rc));
        return -1;
    }

    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd == -1) {
            continue;
        }

        if (passive ? listen_at(fd, ai) : connect_at(fd, ai)) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            break;
        }

        close(fd);
        fd = -1;
    }

    if (fd == -1) {
        fprintf(stderr, "%s: %s:%s: %s\n", prog, host, port,
                strerror(errno));
    }

    freeaddrinfo(res);
    return fd;
}


int
tcp_listen(const char *prog, const char *host, const char *port)
{
    return tcp_open(prog, host, port, 1);
}


int
tcp_connect(const char *prog, const char *host, const char *port)
{
    return tcp_open(prog, host, port, 0);
}
