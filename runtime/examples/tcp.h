/*
 * The sockets of the two examples, which have nothing to do with TLS:
 * the first address of HOST:PORT that takes a listening socket
 * (echo_server) or a connection (echo_client).  Either is non-blocking
 * and close-on-exec; -1 when no address would, the reason said on stderr
 * after `prog`.
 */

#ifndef EXAMPLES_TCP_H
#define EXAMPLES_TCP_H

int tcp_listen(const char *prog, const char *host, const char *port);
int tcp_connect(const char *prog, const char *host, const char *port);

#endif /* EXAMPLES_TCP_H */
