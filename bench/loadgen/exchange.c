/*
 * loadgen: what a connection does once it is up: the exchange (written and
 * read, hashed when checked), the wait for a session ticket, the idle hold
 * and renegotiation.
 */

#include "loadgen.h"


/* I/O through TLS or plain TCP: > 0 bytes, 0 would block (c->want set),
   -1 error, -2 end of stream. */
static ssize_t
io_write(conn *c, const void *buf, size_t len)
{
    int      n, e;
    ssize_t  w;

    if (c->ssl == NULL) {
        w = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (w > 0) {
            return w;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->want |= WANT_OUT;
            return 0;
        }
        note_error("send", strerror(errno));
        return -1;
    }

    ERR_clear_error();
    n = SSL_write(c->ssl, buf, (int) len);
    if (n > 0) {
        return n;
    }

    e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_WRITE) {
        c->want |= WANT_OUT;
        return 0;
    }
    if (e == SSL_ERROR_WANT_READ) {
        c->want |= WANT_IN;
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return -2;
    }

    ssl_note_error("SSL_write");
    return -1;
}


static ssize_t
io_read(conn *c, void *buf, size_t len)
{
    int      n, e;
    ssize_t  r;

    if (c->ssl == NULL) {
        r = recv(c->fd, buf, len, 0);
        if (r > 0) {
            return r;
        }
        if (r == 0) {
            return -2;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->want |= WANT_IN;
            return 0;
        }
        note_error("recv", strerror(errno));
        return -1;
    }

    ERR_clear_error();
    n = SSL_read(c->ssl, buf, (int) len);
    if (n > 0) {
        return n;
    }

    e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ) {
        c->want |= WANT_IN;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        c->want |= WANT_OUT;
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN
        || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
    {
        ERR_clear_error();
        return -2;
    }

    ssl_note_error("SSL_read");
    return -1;
}


void
record_secure(conn *c)
{
    double  t = now();

    c->t_secure = t;

    if (st.hs_lat && st.nlat < o.n) {
        st.hs_lat[st.nlat++] = t - c->t_start;
    }

    if (c->ssl && st.version[0] == '\0') {
        const char  *g = NULL;
        int          nid = SSL_get_negotiated_group(c->ssl);

        if (nid != NID_undef) {
            g = OBJ_nid2sn(nid);
        }

        snprintf(st.version, sizeof(st.version), "%s",
                 SSL_get_version(c->ssl));
        snprintf(st.cipher, sizeof(st.cipher), "%s",
                 SSL_get_cipher_name(c->ssl));
        snprintf(st.group, sizeof(st.group), "%s", g ? g : "-");
    }
}


/* After the connection is up (and secure): what the mode does. */
void
app_begin(conn *c)
{
    if (M->secure) {
        M->secure(c);
        return;
    }

    stream_begin(c);
}


void
stream_begin(conn *c)
{
    c->sent = c->rcvd = 0;
    c->wlen = 0;
    c->check = 0;

    if (M->exchange) {
        M->exchange(c);
    }

    if (c->check) {
        if (c->htx == NULL) {
            c->htx = EVP_MD_CTX_new();
            c->hrx = EVP_MD_CTX_new();
        }
        if (c->wbuf == NULL) {
            c->wbuf = malloc(CHUNK);
        }
        if (c->htx == NULL || c->hrx == NULL || c->wbuf == NULL
            || !EVP_DigestInit_ex(c->htx, EVP_sha256(), NULL)
            || !EVP_DigestInit_ex(c->hrx, EVP_sha256(), NULL))
        {
            conn_done(c, &st.err_io, 0);
            return;
        }
    }

    c->state = S_STREAM;
}


/* The exchange is complete and checked. */
static void
stream_done(conn *c)
{
    unsigned char  a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned       la = 0, lb = 0;

    if (c->check) {
        EVP_DigestFinal_ex(c->htx, a, &la);
        EVP_DigestFinal_ex(c->hrx, b, &lb);

        if (la != lb || memcmp(a, b, la) != 0) {
            note_error("mismatch", "sha256");
            conn_done(c, &st.err_mismatch, 0);
            return;
        }

        st.bytes_verified += c->rcvd;
    }

    if (M->exchanged) {
        M->exchanged(c);
        return;
    }

    conn_done(c, NULL, 0);
}


/* --sess-out: reads until the server's NewSessionTicket has come. */
void
ticket_step(conn *c)
{
    int  n, e;

    ERR_clear_error();
    n = SSL_read(c->ssl, rbuf, sizeof(rbuf));

    if (c->got_session) {
        conn_done(c, NULL, 0);
        return;
    }

    if (n > 0) {
        note_error("protocol", "data instead of a session ticket");
        conn_done(c, &st.err_mismatch, 0);
        return;
    }

    e = SSL_get_error(c->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        set_events(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        return;
    }

    ERR_clear_error();
    note_error("session", "the server closed without giving a session");
    conn_done(c, &st.err_nosession, 0);
}


/* One read of the exchange: 1 bytes came, 0 none yet, -1 the step is
   over (the connection ended, or the exchange did). */
static int
stream_read(conn *c)
{
    ssize_t  n;

    n = io_read(c, rbuf, sizeof(rbuf));

    if (n > 0) {
        if ((uint64_t) n > c->to_recv - c->rcvd) {
            note_error("protocol", "more bytes than sent");
            conn_done(c, &st.err_mismatch, 0);
            return -1;
        }
        if (c->check) {
            EVP_DigestUpdate(c->hrx, rbuf, (size_t) n);
        }
        if (c->rcvd < c->expect_len) {
            size_t  k = c->expect_len - (size_t) c->rcvd;

            if (k > (size_t) n) {
                k = (size_t) n;
            }
            if (memcmp(rbuf, c->expect + c->rcvd, k) != 0) {
                note_error("protocol", "not the response expected");
                conn_done(c, &st.err_mismatch, 0);
                return -1;
            }
        }
        c->rcvd += (uint64_t) n;
        st.bytes_recv += (uint64_t) n;
        return 1;
    }

    if (n == -2 && o.http && c->rcvd > 0 && c->sent >= c->to_send) {
        /* the response ended with the connection: done */
        c->to_recv = c->rcvd;
        stream_done(c);
        return -1;
    }

    if (n == -2) {
        note_error("eof", "server closed early");
        conn_done(c, &st.err_eof, 0);
        return -1;
    }

    if (n < 0) {
        conn_done(c, &st.err_io, 0);
        return -1;
    }

    return 0;
}


/* One write of the exchange (a chunk, retried as is until it is out):
   1 bytes went, 0 none yet, -1 the connection ended. */
static int
stream_write(conn *c)
{
    ssize_t  n;
    size_t   chunk;

    if (c->wlen == 0) {
        chunk = CHUNK;

        if (M->flags & MODE_RAND_CHUNKS) {
            chunk = 1 + xrand(&c->rng) % CHUNK;
        }

        if (chunk > c->to_send - c->sent) {
            chunk = (size_t) (c->to_send - c->sent);
        }

        if (c->check) {
            fill_random(&c->rng, c->wbuf, chunk);
            c->wptr = c->wbuf;
        } else {
            c->wptr = c->data ? c->data : static_data;
        }

        c->wlen = chunk;
    }

    n = io_write(c, c->wptr, c->wlen);

    if (n > 0) {
        if (c->check) {
            EVP_DigestUpdate(c->htx, c->wptr, (size_t) n);
        }
        c->sent += (uint64_t) n;
        st.bytes_sent += (uint64_t) n;
        c->wptr += n;
        c->wlen -= (size_t) n;

    } else if (n < 0) {
        if (M->flags & MODE_CLOSE_OK) {
            /* the server closed on us: bounded, as it should */
            st.closed_by_server++;
            c->peer_gone = 1;
            conn_done(c, NULL, 0);
            return -1;
        }
        conn_done(c, n == -2 ? &st.err_eof : &st.err_io, 0);
        return -1;
    }

    if (M->rst_after && c->sent >= M->rst_after) {
        /* mid-transfer: part of it is out, reset now */
        st.resets++;
        conn_done(c, NULL, 1);
        return -1;
    }

    return n > 0;
}


void
stream_step(conn *c)
{
    int  r, progress = 0;

    for (int rounds = 0; rounds < 64; rounds++) {
        progress = 0;
        c->want = 0;

        /* read first: the peer may be waiting for us to drain */
        if (c->rcvd < c->to_recv) {
            r = stream_read(c);
            if (r < 0) {
                return;
            }
            progress |= r;
        }

        if (c->sent < c->to_send) {
            r = stream_write(c);
            if (r < 0) {
                return;
            }
            progress |= r;
        }

        if (c->sent >= c->to_send && c->rcvd >= c->to_recv) {
            stream_done(c);
            return;
        }

        if (!progress) {
            break;
        }
    }

    if (progress) {
        /* yielded after many rounds, with more to do: come back for it */
        if (c->sent < c->to_send) {
            c->want |= WANT_OUT;
        }
        if (c->rcvd < c->to_recv) {
            c->want |= WANT_IN;
        }
    }

    if (c->want == 0) {
        c->want = WANT_IN;
    }

    events_from_want(c);
}


void
hold_step(conn *c)
{
    ssize_t  n;

    /* held idle: anything from the server is its closing */
    c->want = 0;
    n = io_read(c, rbuf, sizeof(rbuf));

    if (n > 0) {
        return;
    }

    if (n == 0) {
        events_from_want(c);
        return;
    }

    st.lost++;
    st.established--;
    conn_done(c, &st.err_eof, 0);
}


void
reneg_step(conn *c)
{
    int  n, e;

    ERR_clear_error();
    n = SSL_do_handshake(c->ssl);

    if (n == 1 && !SSL_renegotiate_pending(c->ssl)) {
        c->renegs++;
        st.renegs++;
        if (c->renegs > st.reneg_max_seen) {
            st.reneg_max_seen = c->renegs;
        }
        stream_begin(c);
        conn_step(c);
        return;
    }

    if (n == 1) {
        /* the server has not answered yet: read to drive it */
        c->want = WANT_IN;
        events_from_want(c);
        return;
    }

    e = SSL_get_error(c->ssl, n);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want = e == SSL_ERROR_WANT_READ ? WANT_IN : WANT_OUT;
        events_from_want(c);
        return;
    }

    /* refused: the server sent an alert or closed */
    ERR_clear_error();
    st.reneg_refused++;
    st.closed_by_server++;
    conn_done(c, NULL, 0);
}
