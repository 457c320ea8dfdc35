/*
 * The encrypted side through the host's own read and write
 * (sp_enc_read_from, sp_enc_write_to, sp_clear_write_to): pairs over a
 * memory "socket" that reads and writes short, would block, ends and
 * fails on demand; mixed with the buffer calls on the same pair; the
 * flow control of the buffer calls kept.
 */

#include <openssl/ssl.h>

#include "pump.h"
#include "raw_client.h"


/* One direction of a socket: what one pair wrote and the other reads. */
typedef struct {
    uint8_t   *data;
    size_t     start;
    size_t     len;
    size_t     size;
    size_t     cap;        /* bytes it holds at most: a write beyond blocks */
    size_t     chunk;      /* at most this per read or write; 0: no limit */
    int        eof;        /* the writer is gone: reads end once empty */
    int        fail;       /* every call fails */
    unsigned   reads;
    unsigned   writes;
    size_t     most_room;  /* the largest room a read offered */
    size_t     most_iov;   /* the most iovecs a write was given */
} sock_t;


static void
sock_init(sock_t *s, size_t cap, size_t chunk)
{
    memset(s, 0, sizeof(*s));
    s->cap = cap;
    s->chunk = chunk;
}


/*
 * What every call of the socket does first: counts itself in *calls,
 * keeps the most it was ever offered in *most, and says whether the
 * socket fails.
 */
static int
sock_enter(const sock_t *s, unsigned *calls, size_t *most, size_t offered)
{
    (*calls)++;

    if (offered > *most) {
        *most = offered;
    }

    return s->fail;
}


static ssize_t
sock_read(void *arg, void *buf, size_t len)
{
    size_t   n;
    sock_t  *s = arg;

    if (sock_enter(s, &s->reads, &s->most_room, len)) {
        return -100;
    }

    if (s->len == 0) {
        return s->eof ? 0 : SP_ERR_AGAIN;
    }

    n = len < s->len ? len : s->len;
    if (s->chunk && n > s->chunk) {
        n = s->chunk;
    }

    memcpy(buf, s->data + s->start, n);
    s->start += n;
    s->len -= n;
    return (ssize_t) n;
}


/* Puts up to len bytes in; returns how many. */
static size_t
sock_put(sock_t *s, const void *data, size_t len)
{
    size_t  room;

    room = s->cap - s->len;
    if (len > room) {
        len = room;
    }

    if (len == 0) {
        return 0;
    }

    if (s->start + s->len + len > s->size) {
        if (s->len) {
            memmove(s->data, s->data + s->start, s->len);
        }

        s->start = 0;

        if (s->len + len > s->size) {
            s->size = (s->len + len) * 2;
            s->data = realloc(s->data, s->size);
        }
    }

    memcpy(s->data + s->start + s->len, data, len);
    s->len += len;
    return len;
}


static ssize_t
sock_write(void *arg, const struct iovec *iov, int iovcnt)
{
    int      i;
    size_t   n, total = 0, want;
    sock_t  *s = arg;

    if (sock_enter(s, &s->writes, &s->most_iov, (size_t) iovcnt)) {
        return -100;
    }

    for (i = 0; i < iovcnt; i++) {
        want = iov[i].iov_len;
        if (s->chunk && total + want > s->chunk) {
            want = s->chunk - total;
        }

        n = sock_put(s, iov[i].iov_base, want);
        total += n;

        if (n < iov[i].iov_len) {
            break;
        }
    }

    return total ? (ssize_t) total : SP_ERR_AGAIN;
}


static void
sock_free(sock_t *s)
{
    free(s->data);
    s->data = NULL;
}


/* A client and a server pair, and the socket's two directions. */
typedef struct {
    sp_ctx    *sctx;
    sp_ctx    *cctx;
    sp_pair   *client;
    sp_pair   *server;
    sock_t     c2s;
    sock_t     s2c;
} duo_t;


/* version 0: OpenSSL's range */
static void
duo_new(duo_t *d, const char *key, int version, size_t cap, size_t chunk)
{
    d->sctx = ctx_for(SP_SERVER, key, NULL);
    d->cctx = client_for(NULL, "ca.crt", version);
    d->server = sp_pair_new(d->sctx, NULL, NULL);
    d->client = sp_pair_new(d->cctx, "localhost", NULL);
    sock_init(&d->c2s, cap, chunk);
    sock_init(&d->s2c, cap, chunk);
}


static void
duo_free(duo_t *d)
{
    sock_free(&d->c2s);
    sock_free(&d->s2c);
    sp_pair_free(d->client);
    sp_pair_free(d->server);
    sp_ctx_unref(d->cctx);
    sp_ctx_unref(d->sctx);
}


/*
 * One host step for a pair: send what waits, read what came, send what
 * that made.  Returns 1 when anything moved.
 */
static int
step(sp_pair *p, sock_t *in, sock_t *out)
{
    ssize_t  a, b, c;

    a = sp_enc_write_to(p, sock_write, out);
    b = sp_enc_read_from(p, sock_read, in);
    c = sp_enc_write_to(p, sock_write, out);

    return a > 0 || b > 0 || c > 0;
}


static int
direct_pump(duo_t *d)
{
    int  rounds = 0, moved;

    do {
        moved = step(d->client, &d->s2c, &d->c2s);
        moved |= step(d->server, &d->c2s, &d->s2c);
    } while (moved && ++rounds < 100000);

    return (sp_pair_state(d->client) & SP_STATE_SECURE)
           && (sp_pair_state(d->server) & SP_STATE_SECURE);
}


static void
test_handshake(const char *key, int version, size_t cap, size_t chunk)
{
    duo_t       d;
    char        buf[64];
    ssize_t     n;
    const char *t = tn("handshake %s %s, socket of %zu, %zu at a time",
                       key, version == SP_TLS1_3 ? "TLS 1.3" : "TLS 1.2",
                       cap, chunk);

    duo_new(&d, key, version, cap, chunk);

    ok(direct_pump(&d), "%s: secure", t);
    ok(sp_pair_authorized(d.client), "%s: client authorized the server", t);
    is_int(sp_pair_error(d.server) | sp_pair_error(d.client), 0,
           tn("%s: no error", t));

    n = sp_clear_write_to(d.client, "hello", 5, sock_write, &d.c2s);
    is_int(n, 5, tn("%s: the client writes straight to the socket", t));
    direct_pump(&d);
    n = sp_clear_read(d.server, buf, sizeof(buf));
    ok(n == 5 && memcmp(buf, "hello", 5) == 0, "%s: the server reads it", t);
    ok(error_queue_empty(), "%s: error queue empty", t);

    duo_free(&d);
}


/*
 * The host's step with the buffer calls: records out into the socket,
 * one receive from it (a record's worth or less).
 */
static ssize_t
buffer_step(sp_pair *p, sock_t *in, sock_t *out)
{
    size_t          len, room;
    ssize_t         n;
    uint8_t        *buf, tmp[20000];
    const uint8_t  *rec;

    while ((rec = sp_enc_out_buf(p, &len)) != NULL) {
        len = sock_put(out, rec, len);
        if (len == 0) {
            break;
        }
        sp_enc_out_consume(p, len);
    }

    buf = sp_enc_in_buf(p, &room);
    if (buf == NULL) {
        return 0;
    }

    n = sock_read(in, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
    memcpy(buf, tmp, n > 0 ? (size_t) n : 0);
    sp_enc_in_commit(p, n > 0 ? (size_t) n : 0);
    return n;
}


/*
 * 1 MiB each way.  mix: each step picks the buffer calls or the direct
 * ones at random, for each pair.
 */
static void
test_bulk(size_t cap, size_t chunk, int mix)
{
    duo_t       d;
    sp_pair    *p[2];
    sock_t     *s[2];         /* s[i]: what p[i] writes */
    size_t      total = 1024 * 1024, sent[2] = {0, 0}, got[2] = {0, 0};
    size_t      len, most_pending = 0;
    uint8_t    *data, *in[2];
    int         i, rounds = 0, bad = 0, direct;
    ssize_t     n;
    const char *t = tn("bulk, socket of %zu, %zu at a time%s", cap, chunk,
                       mix ? ", mixed with the buffer calls" : "");

    duo_new(&d, "server-ec", 0, cap, chunk);
    p[0] = d.client;
    p[1] = d.server;
    s[0] = &d.c2s;
    s[1] = &d.s2c;

    data = malloc(total);
    in[0] = malloc(total);
    in[1] = malloc(total);
    srand(7 + (unsigned) cap + mix);
    for (len = 0; len < total; len++) {
        data[len] = (uint8_t) rand();
    }

    ok(direct_pump(&d), "%s: handshake", t);

    while ((sent[0] < total || sent[1] < total
            || got[0] < total || got[1] < total) && rounds++ < 200000)
    {
        for (i = 0; i < 2; i++) {
            direct = !mix || rand() % 2;

            /* a host that sends what waits before it writes more */
            if (direct && sp_enc_out_pending(p[i]) > 0) {
                (void) sp_enc_write_to(p[i], sock_write, s[i]);

                if (sp_enc_out_pending(p[i]) > 0) {
                    goto receive;
                }
            }

            if (sent[i] < total) {
                len = 1 + (size_t) rand() % 70000;
                if (len > total - sent[i]) {
                    len = total - sent[i];
                }

                n = direct
                    ? sp_clear_write_to(p[i], data + sent[i], len,
                                        sock_write, s[i])
                    : sp_clear_write(p[i], data + sent[i], len);

                if (n > 0) {
                    sent[i] += (size_t) n;
                } else if (n != SP_ERR_AGAIN) {
                    bad++;
                }
            }

        receive:

            if (direct) {
                if (sp_enc_out_pending(p[i]) > most_pending) {
                    most_pending = sp_enc_out_pending(p[i]);
                }

                sp_enc_write_to(p[i], sock_write, s[i]);
                n = sp_enc_read_from(p[i], sock_read, s[1 - i]);

            } else {
                n = buffer_step(p[i], s[1 - i], s[i]);
            }

            if (n < 0 && n != SP_ERR_AGAIN) {
                bad++;
            }

            len = 1 + (size_t) rand() % 40000;
            if (len > total - got[i]) {
                len = total - got[i];
            }

            if (len && (n = sp_clear_read(p[i], in[i] + got[i], len)) > 0) {
                got[i] += (size_t) n;
            } else if (len && n != SP_ERR_AGAIN) {
                bad++;
            }
        }
    }

    is_int(bad, 0, tn("%s: no errors", t));
    is_int(got[0], total, tn("%s: client got 1 MiB", t));
    is_int(got[1], total, tn("%s: server got 1 MiB", t));
    ok(memcmp(in[0], data, total) == 0, "%s: server to client byte-exact", t);
    ok(memcmp(in[1], data, total) == 0, "%s: client to server byte-exact", t);
    ok(error_queue_empty(), "%s: error queue empty", t);

    if (!mix) {
        /* a write that blocks leaves at most the rest of one record */
        ok(most_pending <= 16384 + 256,
           "%s: at most one record waited (%zu bytes)", t, most_pending);
        ok(d.c2s.most_iov <= 16, "%s: at most 16 iovecs a write (%zu)", t,
           d.c2s.most_iov);
    }

    if (cap > 1024 * 1024 && chunk == 0) {
        ok(d.c2s.most_room >= 64 * 1024,
           "%s: OpenSSL's read buffer grew (%zu offered)", t,
           d.c2s.most_room);
        ok(d.c2s.most_room <= 128 * 1024 + 1024,
           "%s: to 128 KiB at most (%zu offered)", t, d.c2s.most_room);
    }

    free(data);
    free(in[0]);
    free(in[1]);
    duo_free(&d);
}


/* A full socket: the call takes one record, the rest of it waits. */
static void
test_would_block(void)
{
    duo_t     d;
    uint8_t   data[40000];
    char      got[200000];
    ssize_t   n;
    unsigned  writes;
    size_t    pending;

    duo_new(&d, "server-ec", 0, 1 << 20, 0);
    memset(data, 'x', sizeof(data));

    ok(direct_pump(&d), "would block: handshake");

    d.s2c.cap = d.s2c.len + 1000;
    n = sp_clear_write_to(d.server, data, sizeof(data), sock_write, &d.s2c);
    pending = sp_enc_out_pending(d.server);
    is_int(n, 16384, "would block: one record taken of 40000 bytes");
    ok(pending > 16384 - 1000 && pending < 16384,
       "would block: the rest of its record waits (%zu)", pending);
    ok(sp_pair_state(d.server) & SP_STATE_SEND_RECORDS,
       "would block: state says so");

    writes = d.s2c.writes;
    is_int(sp_enc_write_to(d.server, sock_write, &d.s2c), SP_ERR_AGAIN,
           "would block: sp_enc_write_to says so");
    n = sp_clear_write_to(d.server, data, sizeof(data), sock_write, &d.s2c);
    is_int(n, 16384, "would block: the next call takes one record");
    is_int(d.s2c.writes, writes + 2,
           "would block: in one write with the rest of the first");
    ok(sp_enc_out_pending(d.server) > pending + 16384,
       "would block: both wait (%zu)", sp_enc_out_pending(d.server));

    while (sp_clear_write_to(d.server, data, sizeof(data), sock_write,
                             &d.s2c) > 0)
    {
        /* until the pair holds all it may */
    }

    ok(sp_enc_out_pending(d.server) >= 64 * 1024
       && sp_enc_out_pending(d.server) < 64 * 1024 + 16384 + 256,
       "would block: no more than sp_clear_write would hold (%zu)",
       sp_enc_out_pending(d.server));

    d.s2c.cap = 1 << 20;
    is_int(sp_enc_write_to(d.server, sock_write, &d.s2c) > 0, 1,
           "would block: with room, what waits goes");
    writes = d.s2c.writes;
    n = sp_clear_write_to(d.server, data, sizeof(data), sock_write, &d.s2c);
    is_int(n, sizeof(data), "would block: and all is taken");
    is_int(d.s2c.writes, writes + 3, "would block: one write a record");
    is_int(sp_enc_out_pending(d.server), 0, "would block: nothing waits");
    direct_pump(&d);
    n = (ssize_t) read_all(d.client, got, sizeof(got));
    ok(n > 40000 && (n - 40000) % 16384 == 0 && got[n - 1] == 'x',
       "would block: the client reads every byte (%zd)", n);
    ok(error_queue_empty(), "would block: error queue empty");

    duo_free(&d);
}


/* The transport's end: during the handshake, after it, after close_notify. */
static void
test_eof(void)
{
    duo_t     d;
    char      buf[64];
    ssize_t   n;
    unsigned  ev;

    /* half a ClientHello, then the end */
    duo_new(&d, "server-ec", 0, 1 << 20, 0);
    sp_enc_write_to(d.client, sock_write, &d.c2s);
    d.c2s.len /= 2;
    d.c2s.eof = 1;
    n = sp_enc_read_from(d.server, sock_read, &d.c2s);
    ok(n > 0 || n == SP_ERR_TRUNCATED, "eof: half a hello read (%zd)", n);
    if (n > 0) {
        n = sp_enc_read_from(d.server, sock_read, &d.c2s);
    }
    is_int(n, SP_ERR_TRUNCATED, "eof: in the handshake, truncated");
    is_int(sp_pair_error(d.server), SP_ERR_TRUNCATED, "eof: and sticky");
    duo_free(&d);

    /* a bare end once secure: the end of input, not a failure */
    duo_new(&d, "server-ec", 0, 1 << 20, 0);
    ok(direct_pump(&d), "eof: handshake");
    sp_pair_events(d.server);
    sp_clear_write_to(d.client, "partial", 7, sock_write, &d.c2s);
    d.c2s.eof = 1;
    n = sp_enc_read_from(d.server, sock_read, &d.c2s);
    ok(n > 0, "eof: the record is read (%zd)", n);
    n = sp_enc_read_from(d.server, sock_read, &d.c2s);
    is_int(n, 0, "eof: then the end");
    is_int(sp_pair_error(d.server), 0, "eof: no error");
    is_int(read_all(d.server, buf, sizeof(buf)), 7, "eof: the data is read");
    is_int(sp_clear_read(d.server, buf, sizeof(buf)), 0, "eof: then 0");
    ev = sp_pair_events(d.server);
    ok((ev & SP_EVENT_END) && (ev & SP_EVENT_TRUNCATED),
       "eof: an end, marked truncated (events 0x%x)", ev);
    is_int(sp_enc_read_from(d.server, sock_read, &d.c2s), 0,
           "eof: the end stays 0");
    ok(!(sp_pair_state(d.server) & SP_STATE_RECV_RECORDS),
       "eof: no more input wanted");
    is_int(sp_clear_write_to(d.server, "late", 4, sock_write, &d.s2c), 4,
           "eof: still writable");
    duo_free(&d);

    /* close_notify, then the end: clean */
    duo_new(&d, "server-ec", 0, 1 << 20, 0);
    direct_pump(&d);
    sp_pair_events(d.server);
    is_int(sp_pair_shutdown(d.client), SP_OK, "close: client shuts down");
    sp_enc_write_to(d.client, sock_write, &d.c2s);
    d.c2s.eof = 1;
    while (sp_enc_read_from(d.server, sock_read, &d.c2s) > 0) {
        /* to the end */
    }
    is_int(sp_clear_read(d.server, buf, sizeof(buf)), 0,
           "close: read gives 0");
    is_int(sp_pair_truncated(d.server), 0, "close: not truncated");
    ok(sp_pair_events(d.server) & SP_EVENT_END, "close: an end");
    is_int(sp_pair_shutdown(d.server), SP_OK, "close: the server answers");
    is_int(sp_enc_write_to(d.server, sock_write, &d.s2c) > 0, 1,
           "close: its close_notify goes");
    is_int(sp_pair_state(d.server), SP_STATE_CLOSED, "close: closed");
    ok(error_queue_empty(), "eof: error queue empty");
    duo_free(&d);
}


/* A failing transport is the host's: the pair goes on when it does. */
static void
test_errors(void)
{
    duo_t     d;
    char      buf[64];
    size_t    pending;

    duo_new(&d, "server-ec", 0, 1 << 20, 0);

    d.c2s.fail = 1;
    is_int(sp_enc_write_to(d.client, sock_write, &d.c2s), SP_ERR_TRANSPORT,
           "errors: a failed write says so");
    ok(sp_enc_out_pending(d.client) > 0, "errors: the hello still waits");
    d.c2s.fail = 0;
    sp_enc_write_to(d.client, sock_write, &d.c2s);

    d.c2s.fail = 1;
    is_int(sp_enc_read_from(d.server, sock_read, &d.c2s), SP_ERR_TRANSPORT,
           "errors: a failed read says so");
    is_int(sp_pair_error(d.server), 0, "errors: the pair has not failed");
    d.c2s.fail = 0;
    ok(direct_pump(&d), "errors: then the handshake");

    d.s2c.fail = 1;
    is_int(sp_clear_write_to(d.server, "abc", 3, sock_write, &d.s2c), 3,
           "errors: a record written to a failing socket is taken");
    pending = sp_enc_out_pending(d.server);
    ok(pending > 3, "errors: and waits (%zu)", pending);
    is_int(sp_enc_write_to(d.server, sock_write, &d.s2c), SP_ERR_TRANSPORT,
           "errors: sending it says the socket failed");
    is_int(sp_enc_out_pending(d.server), pending, "errors: it still waits");
    d.s2c.fail = 0;
    is_int(sp_clear_write_to(d.server, "def", 3, sock_write, &d.s2c), 3,
           "errors: once the socket works, writes go on");
    is_int(sp_enc_out_pending(d.server), 0,
           "errors: what waited went first, with them");
    direct_pump(&d);
    ok(read_all(d.client, buf, sizeof(buf)) == 6
       && memcmp(buf, "abcdef", 6) == 0,
       "errors: the client reads both, in order");
    is_int(sp_pair_error(d.server) | sp_pair_error(d.client), 0,
           "errors: no pair failed");
    ok(error_queue_empty(), "errors: error queue empty");

    duo_free(&d);
}


/* Moves what the raw client wrote into the socket. */
static void
raw_out(BIO *wbio, sock_t *s)
{
    int      k;
    uint8_t  buf[16384];

    while ((k = BIO_read(wbio, buf, sizeof(buf))) > 0) {
        sock_put(s, buf, (size_t) k);
    }
}


/*
 * The 128 KiB mark: a peer that sends key updates and never reads makes
 * records the pair must send; once 128 KiB wait it reads no more, and
 * the host's read function is not even called.
 */
static void
test_mark(void)
{
    duo_t      d;
    raw_t      raw;
    ssize_t    n;
    size_t     len;
    unsigned   i, reads, state;
    const uint8_t  *out;

    duo_new(&d, "server-ec", 0, 64 << 20, 0);
    raw_ctx(&raw, TLS_client_method(), NULL);
    SSL_CTX_set_min_proto_version(raw.ctx, TLS1_3_VERSION);
    raw_ssl(&raw);

    for (i = 0; i < 20 && !SSL_is_init_finished(raw.ssl); i++) {
        SSL_do_handshake(raw.ssl);
        raw_out(raw.wbio, &d.c2s);
        sp_enc_read_from(d.server, sock_read, &d.c2s);
        while ((out = sp_enc_out_buf(d.server, &len)) != NULL) {
            BIO_write(raw.rbio, out, (int) len);
            sp_enc_out_consume(d.server, len);
        }
    }

    ok(SSL_is_init_finished(raw.ssl)
       && (sp_pair_state(d.server) & SP_STATE_SECURE),
       "mark: handshake with a raw client");

    for (i = 0; i < 12000; i++) {
        if (SSL_key_update(raw.ssl, SSL_KEY_UPDATE_REQUESTED) != 1
            || SSL_do_handshake(raw.ssl) != 1)
        {
            break;
        }
        raw_out(raw.wbio, &d.c2s);
    }

    /* the host only reads, never sends */
    do {
        n = sp_enc_read_from(d.server, sock_read, &d.c2s);
    } while (n > 0);

    state = sp_pair_state(d.server);
    is_int(n, SP_ERR_AGAIN, "mark: the pair stops reading");
    ok(d.c2s.len > 0, "mark: the client's records wait (%zu bytes)",
       d.c2s.len);
    ok(sp_enc_out_pending(d.server) >= 128 * 1024,
       "mark: at 128 KiB or more of output (%zu)",
       sp_enc_out_pending(d.server));
    ok(sp_enc_out_pending(d.server) < (128 + 128 + 64) * 1024,
       "mark: and not far beyond it (%zu)", sp_enc_out_pending(d.server));
    ok(!(state & SP_STATE_RECV_RECORDS) && (state & SP_STATE_SEND_RECORDS),
       "mark: state says send, not receive (0x%x)", state);
    reads = d.c2s.reads;
    is_int(sp_enc_read_from(d.server, sock_read, &d.c2s), SP_ERR_AGAIN,
           "mark: a read now takes nothing");
    is_int(d.c2s.reads, reads, "mark: and does not call the host's read");

    /* the host sends: reading resumes, and everything gets through */
    for (i = 0; i < 100000 && d.c2s.len > 0; i++) {
        sp_enc_write_to(d.server, sock_write, &d.s2c);
        sp_enc_read_from(d.server, sock_read, &d.c2s);
    }
    sp_enc_write_to(d.server, sock_write, &d.s2c);
    is_int(d.c2s.len, 0, "mark: once sent, all the client's records are read");
    is_int(sp_pair_error(d.server), 0, "mark: no error");
    ok(error_queue_empty(), "mark: error queue empty");

    raw_free(&raw);
    duo_free(&d);
}


/* test_handshake()'s cases: the server's key, the version, cap, chunk. */
static const struct {
    const char  *key;
    int          version;
    size_t       cap;
    size_t       chunk;
} handshake_cases[] = {
    { "server-rsa", SP_TLS1_2, 1 << 20, 0 },
    { "server-ec", SP_TLS1_3, 1 << 20, 0 },
    { "server-ec", SP_TLS1_3, 1 << 20, 1 },
    { "server-rsa", SP_TLS1_2, 100, 7 },
    { "server-ec", SP_TLS1_3, 1000, 0 },
};

/* test_bulk()'s cases: cap, chunk, mix. */
static const struct {
    size_t       cap;
    size_t       chunk;
    int          mix;
} bulk_cases[] = {
    { 64 << 20, 0, 0 }, { 70000, 0, 0 }, { 30000, 777, 0 },
    { 100000, 0, 1 }, { 20000, 3000, 1 },
};


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(handshake_cases) / sizeof(handshake_cases[0]);
         i++)
    {
        test_handshake(handshake_cases[i].key, handshake_cases[i].version,
                       handshake_cases[i].cap, handshake_cases[i].chunk);
    }

    for (i = 0; i < sizeof(bulk_cases) / sizeof(bulk_cases[0]); i++) {
        test_bulk(bulk_cases[i].cap, bulk_cases[i].chunk, bulk_cases[i].mix);
    }

    test_would_block();
    test_eof();
    test_errors();
    test_mark();

    return done_testing();
}
