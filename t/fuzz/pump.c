/*
 * Fuzz harness: moving bytes: draining a pair's encrypted output, the
 * host's actions (read, write, key update, ...), feeding input to a pair
 * (see common.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "common.h"


/* ---- draining ---------------------------------------------------------- */

size_t
fz_drain(fz_track *t, size_t max, fz_buf *keep)
{
    const uint8_t  *out;
    size_t          len, n, i, count, total, pending, take;
    struct iovec    iov[8];

    out = sp_enc_out_buf(t->pair, &len);
    pending = sp_enc_out_pending(t->pair);
    FZ_ASSERT((out == NULL) == (len == 0), "sp_enc_out_buf: %p with %zu",
              (const void *) out, len);
    FZ_ASSERT((len == 0) == (pending == 0) && len <= pending,
              "sp_enc_out_buf gives %zu, pending says %zu", len, pending);

    /* the blocks as iovecs: the first is what sp_enc_out_buf gave */
    count = sp_enc_out_iov(t->pair, iov, 8);
    total = 0;

    for (i = 0; i < count; i++) {
        FZ_ASSERT(iov[i].iov_len > 0, "empty iovec %zu", i);
        total += iov[i].iov_len;
    }

    FZ_ASSERT(count == 0 || (iov[0].iov_base == out && iov[0].iov_len == len),
              "sp_enc_out_iov starts at %p+%zu, sp_enc_out_buf at %p+%zu",
              count ? iov[0].iov_base : NULL, count ? iov[0].iov_len : 0,
              (const void *) out, len);
    FZ_ASSERT(total <= pending && (count == 8 || total == pending),
              "iovecs hold %zu of %zu", total, pending);

    n = (max && total > max) ? max : total;

    if (n == 0) {
        return 0;
    }

    if (keep != NULL) {
        for (i = 0, take = n; take; i++) {
            len = iov[i].iov_len < take ? iov[i].iov_len : take;
            fz_buf_add(keep, iov[i].iov_base, len);
            take -= len;
        }
    }

    sp_enc_out_consume(t->pair, n);
    fz_check(t, "sp_enc_out_consume", FZ_NO_RET);

    FZ_ASSERT(sp_enc_out_pending(t->pair) == pending - n,
              "consumed %zu of %zu, %zu left", n, pending,
              sp_enc_out_pending(t->pair));
    return n;
}


/*
 * The host's write function for sp_enc_write_to(): takes a random part
 * of what it is given (none: would block), now and then fails.
 */
typedef struct {
    fz_prng   *prng;
    fz_buf    *keep;
    size_t     taken;
    unsigned   calls;
} fz_transport_out;


static ssize_t
write_fn(void *arg, const struct iovec *iov, int iovcnt)
{
    int                i;
    size_t             room, n, total = 0;
    fz_transport_out  *w = arg;

    w->calls++;

    switch (fz_prng_below(w->prng, 8)) {
    case 0:
        return SP_ERR_AGAIN;
    case 1:
        return -7;              /* the transport failed */
    case 2:
    case 3:
        room = 1 + fz_prng_below(w->prng, 20000);
        break;
    default:
        room = (size_t) -1;
    }

    for (i = 0; i < iovcnt && total < room; i++) {
        FZ_ASSERT(iov[i].iov_len > 0, "empty iovec %d of %d", i, iovcnt);
        n = iov[i].iov_len < room - total ? iov[i].iov_len : room - total;

        if (w->keep != NULL) {
            fz_buf_add(w->keep, iov[i].iov_base, n);
        }

        total += n;
    }

    w->taken += total;
    return (ssize_t) total;
}


/* Drains through sp_enc_write_to() and the host's write function. */
static void
drain_direct(fz_track *t, fz_prng *prng, fz_buf *keep)
{
    size_t            pending;
    ssize_t           r;
    fz_transport_out  w = { prng, keep, 0, 0 };

    pending = sp_enc_out_pending(t->pair);
    r = sp_enc_write_to(t->pair, write_fn, &w);

    /* a transport's answer, also on a failed pair: its alert must go */
    fz_check(t, "sp_enc_write_to", FZ_NO_RET);
    FZ_ASSERT(r >= 0 || r == SP_ERR_AGAIN || r == SP_ERR_TRANSPORT,
              "sp_enc_write_to returned %zd", r);

    FZ_ASSERT(r == (ssize_t) w.taken || (w.taken == 0 && r < 0),
              "sp_enc_write_to returned %zd, the function took %zu", r,
              w.taken);
    FZ_ASSERT(sp_enc_out_pending(t->pair) == pending - w.taken,
              "sp_enc_write_to: %zu pending, %zu written, %zu left", pending,
              w.taken, sp_enc_out_pending(t->pair));
    FZ_ASSERT(pending > 0 || (r == 0 && w.calls == 0),
              "sp_enc_write_to with nothing to send returned %zd after %u "
              "calls", r, w.calls);
}


/* ---- host actions ------------------------------------------------------ */

static const char  client_request[] =
    "GET / HTTP/1.1\r\nHost: fuzz.example.com\r\n\r\n";
static const char  server_response[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";


size_t
fz_read_all(fz_track *t, fz_prng *prng)
{
    static uint8_t  buf[16384];
    size_t          total = 0, size;
    unsigned        st;
    ssize_t         r;
    int             i;

    for (i = 0; i < 100000; i++) {
        size = sizeof(buf);
        if (prng != NULL && fz_prng_below(prng, 4) == 0) {
            size = 1 + fz_prng_below(prng, 64);
        }

        st = sp_pair_state(t->pair);
        r = sp_clear_read(t->pair, buf, size);
        fz_check(t, "sp_clear_read", (long) r);

        FZ_ASSERT(r <= (ssize_t) size, "sp_clear_read returned %zd > %zu",
                  r, size);

        if ((st & SP_STATE_CLEAR_READ) && !sp_pair_error(t->pair)) {
            FZ_ASSERT(r > 0, "CLEAR_READ was set but sp_clear_read "
                      "returned %zd", r);
        }

        if (r == 0) {
            FZ_ASSERT(t->events & SP_EVENT_END, "sp_clear_read returned 0 "
                      "(the end) without SP_EVENT_END");
        }

        if (r <= 0) {
            break;
        }

        total += (size_t) r;
    }

    return total;
}


static void
write_checked(fz_track *t, const void *data, size_t len)
{
    ssize_t  r;
    size_t   before = sp_clear_queued(t->pair);

    r = sp_clear_write(t->pair, data, len);
    fz_check(t, "sp_clear_write", (long) r);

    FZ_ASSERT(r <= (ssize_t) len, "sp_clear_write took %zd of %zu", r, len);
    FZ_ASSERT(r != 0, "sp_clear_write returned 0 for %zu bytes", len);

    if (r > 0 && sp_clear_queued(t->pair) > before) {
        FZ_ASSERT(sp_clear_queued(t->pair) - before <= (size_t) r,
                  "queue grew by more than was written");
    }
}


static const char *const  act_names[FZ_ACTIONS] = {
    "none", "write", "write-big", "key-update", "renegotiate", "shutdown",
    "clock", "set-time", "partial-drain"
};

void
fz_act(fz_track *t, int action, fz_prng *prng)
{
    static uint8_t  big[40000];
    sp_pair        *p = t->pair;
    const char     *msg;
    int             rc;

    if (fz_verbosity() >= 2 && action > 0 && action < FZ_ACTIONS) {
        fprintf(stderr, "fuzz: %s: %s (state 0x%02x)\n",
                t->role == SP_SERVER ? "server" : "client", act_names[action],
                sp_pair_state(p));
    }

    switch (action) {

    case FZ_ACT_WRITE:
        msg = (t->role == SP_CLIENT) ? client_request : server_response;
        write_checked(t, msg, strlen(msg));
        break;

    case FZ_ACT_WRITE_BIG:
        if (big[0] == 0) {
            memset(big, 'B', sizeof(big));
        }
        write_checked(t, big, sizeof(big));
        break;

    case FZ_ACT_KEY_UPDATE:
        /* the harness asks OpenSSL directly: the API has no KeyUpdate */
        ERR_clear_error();
        if (!sp_pair_error(p) && (sp_pair_state(p) & SP_STATE_SECURE)
            && SSL_version(p->ssl) == TLS1_3_VERSION)
        {
            (void) SSL_key_update(p->ssl, SSL_KEY_UPDATE_REQUESTED);
        }
        ERR_clear_error();
        fz_act(t, FZ_ACT_WRITE, prng);
        break;

    case FZ_ACT_RENEG:
        rc = sp_pair_renegotiate(p);
        fz_check(t, "sp_pair_renegotiate", rc);
        break;

    case FZ_ACT_SHUTDOWN:
        rc = sp_pair_shutdown(p);
        fz_check(t, "sp_pair_shutdown", rc);
        break;

    case FZ_ACT_CLOCK:
        fz_now += prng ? (time_t) fz_prng_below(prng, 20) : 100;
        break;

    case FZ_ACT_SET_TIME:
        sp_pair_set_time(p, fz_now + (prng ? fz_prng_below(prng, 30) : 0));
        fz_check(t, "sp_pair_set_time", FZ_NO_RET);
        break;

    case FZ_ACT_PARTIAL_DRAIN:
        fz_drain(t, 1 + (prng ? fz_prng_below(prng, 100) : 0), NULL);
        break;
    }
}


/* ---- feeding ----------------------------------------------------------- */

/*
 * A pair that waits for its host gets the answer once it waited `delay`
 * chunks, or at once (`now`); the host then drives it.  1 when it
 * answered.
 */
static int
host_answers(fz_feeder *f, int now)
{
    fz_track  *t = f->t;
    int        rc;

    if (f->answer == NULL || !(sp_pair_state(t->pair) & SP_STATE_WAITING)) {
        return 0;
    }

    if (!now && f->waited++ < f->delay) {
        return 0;
    }

    f->waited = 0;

    if (fz_verbosity() >= 2) {
        fprintf(stderr, "fuzz: the host answers (state 0x%02x)\n",
                sp_pair_state(t->pair));
    }

    rc = f->answer(f->answer_arg, t->pair);
    fz_check(t, "the host's answer", rc);
    FZ_ASSERT(rc == SP_OK, "an answer to a waiting pair returned %d", rc);
    FZ_ASSERT(!(sp_pair_state(t->pair) & SP_STATE_WAITING)
              && (sp_pair_state(t->pair) & SP_STATE_HANDSHAKING),
              "the answer completed something by itself (state 0x%x)",
              sp_pair_state(t->pair));

    rc = sp_pair_drive(t->pair);
    fz_check(t, "sp_pair_drive", rc);
    return 1;
}


/* How many bytes the next chunk has, by the feed byte's chunking. */
static size_t
chunk_size(fz_feeder *f, fz_prng *prng, size_t left)
{
    unsigned  param = f->feed >> 3;

    switch (f->feed & 3) {
    case 0:
        return left;
    case 1:
        return 1 + param;
    case 2:
        return 1 + fz_prng_below(prng, 1 + 8 * param);
    default:
        return 1 + fz_prng_below(prng, 4096);
    }
}


/* The host's read function for sp_enc_read_from(): a chunk's bytes, in
   reads of a random size, then "would block"; now and then it fails. */
typedef struct {
    const uint8_t  *p;
    size_t          left;
    size_t          most;
    int             fail;
    unsigned        calls;
} fz_transport_in;


static ssize_t
read_fn(void *arg, void *buf, size_t len)
{
    size_t            n;
    fz_transport_in  *r = arg;

    r->calls++;

    if (r->fail) {
        return -7;
    }

    if (r->left == 0) {
        return SP_ERR_AGAIN;
    }

    n = len < r->left ? len : r->left;
    if (n > r->most) {
        n = r->most;
    }

    memcpy(buf, r->p, n);
    r->p += n;
    r->left -= n;
    return (ssize_t) n;
}


/* Gives the pair a chunk through its reads of the host's transport. */
static size_t
feed_direct(fz_track *t, fz_prng *prng, const uint8_t *p, size_t n)
{
    size_t           pending;
    ssize_t          r;
    fz_transport_in  rd = { p, n, 0, 0, 0 };

    rd.most = 1 + fz_prng_below(prng, (unsigned) n);
    rd.fail = fz_prng_below(prng, 32) == 0;
    pending = sp_enc_out_pending(t->pair);

    r = sp_enc_read_from(t->pair, read_fn, &rd);
    fz_check(t, "sp_enc_read_from", (long) r);

    FZ_ASSERT(r <= 0 || (size_t) r == n - rd.left,
              "sp_enc_read_from returned %zd, the function gave %zu", r,
              n - rd.left);
    FZ_ASSERT(pending < SP_ENC_IN_STOP || rd.calls == 0,
              "sp_enc_read_from read with %zu bytes of records waiting",
              pending);
    FZ_ASSERT(!rd.fail || rd.calls == 0 || r == SP_ERR_TRANSPORT
              || r == sp_pair_error(t->pair),
              "sp_enc_read_from returned %zd for a failed read", r);

    return n - rd.left;
}


/* Gives the pair a chunk, by copy (sp_enc_in), in place (sp_enc_in_buf
   and commit) or through its own reads (sp_enc_read_from), at random;
   returns how many bytes it took. */
static size_t
feed_chunk(fz_track *t, fz_prng *prng, const uint8_t *p, size_t n)
{
    unsigned   st, way;
    size_t     room, took = 0;
    uint8_t   *buf;
    ssize_t    r;
    int        rc;

    way = fz_prng_below(prng, 3);

    if (way == 2) {
        return feed_direct(t, prng, p, n);
    }

    if (way == 1) {
        r = sp_enc_in(t->pair, p, n);
        fz_check(t, "sp_enc_in", (long) r);
        FZ_ASSERT(r <= (ssize_t) n, "sp_enc_in took %zd of %zu", r, n);
        return r > 0 ? (size_t) r : 0;
    }

    st = sp_pair_state(t->pair);
    buf = sp_enc_in_buf(t->pair, &room);
    fz_check(t, "sp_enc_in_buf", FZ_NO_RET);

    FZ_ASSERT((buf == NULL) == (room == 0),
              "sp_enc_in_buf: %p with %zu", (void *) buf, room);
    FZ_ASSERT(room <= SP_ENC_IN_SIZE, "sp_enc_in_buf: room %zu", room);
    FZ_ASSERT(!!(st & SP_STATE_RECV_RECORDS) == (buf != NULL),
              "RECV_RECORDS is %d but sp_enc_in_buf gives %zu bytes",
              !!(st & SP_STATE_RECV_RECORDS), room);

    if (buf != NULL) {
        took = n < room ? n : room;
        memcpy(buf, p, took);
        rc = sp_enc_in_commit(t->pair, took);
        fz_check(t, "sp_enc_in_commit", rc);
    }

    return took;
}


void
fz_feed(fz_feeder *f, const uint8_t *p, size_t len)
{
    fz_track  *t = f->t;
    fz_prng    prng;
    size_t     off = 0, step = 0, n, took;
    int        rc, stalls = 0;

    prng.s = 0x5eed0000ULL + f->feed;

    fz_rng_select(f->stream);

    for (;;) {
        while (step < f->nsteps && f->steps[step].off <= off) {
            /* the recorded host acted on a pair that had its answer */
            host_answers(f, 1);
            fz_act(t, f->steps[step].action, NULL);
            fz_read_all(t, NULL);
            fz_drain(t, 0, f->out);
            step++;
        }

        if (off >= len) {
            if (host_answers(f, 1)) {
                continue;
            }

            break;
        }

        n = chunk_size(f, &prng, len - off);

        if (n > len - off) {
            n = len - off;
        }

        if (step < f->nsteps && f->steps[step].off - off < n) {
            n = f->steps[step].off - off;
        }

        took = feed_chunk(t, &prng, p + off, n);
        off += took;

        if (fz_verbosity() >= 3) {
            fprintf(stderr, "fuzz: fed %zu bytes, %zu of %zu (state 0x%02x)\n",
                    took, off, len, sp_pair_state(t->pair));
        }

        /* a host that does not always read at once (random actions on) */
        if (!(f->feed & 4) || took == 0 || fz_prng_below(&prng, 4) != 0) {
            fz_read_all(t, &prng);
        }

        if ((f->feed & 4) && fz_prng_below(&prng, 4) == 0) {
            fz_act(t, 1 + (int) fz_prng_below(&prng, FZ_ACTIONS - 1), &prng);
            fz_read_all(t, &prng);
        }

        switch (fz_prng_below(&prng, 8)) {
        case 0:
            break;
        case 1:
        case 2:
            drain_direct(t, &prng, f->out);
            break;
        default:
            fz_drain(t, 0, f->out);
        }

        if (host_answers(f, took == 0)) {
            took = 1;       /* not a stall */
        }

        if (took == 0) {
            fz_drain(t, 0, f->out);

            if (++stalls > 2) {
                break;
            }

        } else {
            stalls = 0;
        }
    }

    /* and may see the transport end before it read the last records */
    if (!(f->feed & 4) || !f->eof || fz_prng_below(&prng, 2) == 0) {
        fz_read_all(t, NULL);
    }

    if (f->eof) {
        rc = sp_enc_in_eof(t->pair);
        fz_check(t, "sp_enc_in_eof", rc);
        fz_read_all(t, NULL);
    }

    fz_drain(t, 0, f->out);
}
