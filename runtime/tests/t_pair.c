/*
 * The SecurePair engine: handshakes, bulk data, queued cleartext, close
 * and truncation, garbage input, connection accounting.
 */

#include "pump.h"


static void
test_handshake(const char *key, int version)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server, *client;
    char       name[128], buf[64];
    unsigned   ev;
    ssize_t    n;

    sctx = ctx_for(SP_SERVER, key, NULL);
    cctx = client_for(NULL, "ca.crt", version);

    new_ends(sctx, cctx, &client, &server);

    snprintf(name, sizeof(name), "%s %s", key,
             version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2");

    ok(sp_pair_state(client) & SP_STATE_SEND_RECORDS,
       "%s: client hello ready at once", name);
    ok(sp_pair_state(server) & SP_STATE_HANDSHAKING,
       "%s: server handshaking", name);
    ok(handshake(client, server), "%s: handshake completes", name);
    is_str(sp_pair_protocol(client),
           version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2", "protocol");
    ok(sp_pair_cipher(server) != NULL, "%s: cipher %s", name,
       sp_pair_cipher(server));
    ok(sp_pair_authorized(client), "%s: client authorized server", name);
    is_str(sp_pair_authorization_error(client), NULL, "no auth error");
    ok(!sp_pair_authorized(server), "%s: server did not ask: not authorized",
       name);
    is_str(sp_pair_authorization_error(server), NULL,
           "server did not ask: no error");
    is_str(sp_pair_servername(server), "localhost", "server saw SNI");

    ev = sp_pair_events(server);
    ok(ev & SP_EVENT_SECURE, "%s: server secure event", name);
    ok(sp_pair_events(server) == 0, "%s: events clear once read", name);
    ok(sp_pair_events(client) & SP_EVENT_SECURE, "client secure event");

    ok(sp_clear_write(client, "hello", 5) == 5, "%s: client writes", name);
    pump(client, server);
    n = sp_clear_read(server, buf, sizeof(buf));
    ok(n == 5 && memcmp(buf, "hello", 5) == 0, "%s: server reads", name);
    ok(sp_clear_read(server, buf, sizeof(buf)) == SP_ERR_AGAIN,
       "%s: then nothing", name);
    finish_ends(name, client, server, cctx, sctx);
}


/* 1 MiB each way in random chunk sizes, checked byte for byte. */
static void
test_bulk(void)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server, *client;
    size_t     total = 1024 * 1024, sent[2] = {0, 0}, got[2] = {0, 0};
    uint8_t   *data, *in[2];
    sp_pair   *p[2];
    int        i, rounds = 0, bad = 0;
    ssize_t    n;
    size_t     chunk;

    open_ends("server-ec", &sctx, &cctx, &client, &server);

    data = malloc(total);
    in[0] = malloc(total);
    in[1] = malloc(total);
    srand(42);
    for (size_t k = 0; k < total; k++) {
        data[k] = (uint8_t) rand();
    }

    ok(handshake(client, server), "bulk: handshake");

    p[0] = client;
    p[1] = server;

    while ((sent[0] < total || sent[1] < total
            || got[0] < total || got[1] < total) && rounds++ < 100000)
    {
        for (i = 0; i < 2; i++) {
            if (sent[i] < total) {
                chunk = 1 + (size_t) rand() % 70000;
                if (chunk > total - sent[i]) {
                    chunk = total - sent[i];
                }

                n = sp_clear_write(p[i], data + sent[i], chunk);
                if (n > 0) {
                    sent[i] += (size_t) n;
                } else if (n != SP_ERR_AGAIN) {
                    bad++;
                }
            }
        }

        move_records(client, server, 1 + (size_t) rand() % 20000);
        move_records(server, client, 1 + (size_t) rand() % 20000);

        for (i = 0; i < 2; i++) {
            chunk = 1 + (size_t) rand() % 40000;
            if (chunk > total - got[i]) {
                chunk = total - got[i];
            }

            if (chunk == 0) {
                continue;
            }

            n = sp_clear_read(p[i], in[i] + got[i], chunk);
            if (n > 0) {
                got[i] += (size_t) n;
            } else if (n != SP_ERR_AGAIN) {
                bad++;
            }
        }
    }

    is_int(bad, 0, "bulk: no errors");
    is_int(got[0], total, "bulk: client got 1 MiB");
    is_int(got[1], total, "bulk: server got 1 MiB");
    ok(memcmp(in[0], data, total) == 0, "bulk: server->client byte-exact");
    ok(memcmp(in[1], data, total) == 0, "bulk: client->server byte-exact");
    ok(error_queue_empty(), "bulk: error queue empty");

    free(data);
    free(in[0]);
    free(in[1]);
    free_ends(client, server, cctx, sctx);
}


/*
 * Records wait in blocks: sp_enc_out_buf() gives the first, the iovecs
 * give them in order, and consuming crosses blocks.
 */
static void
test_enc_out_blocks(void)
{
    sp_ctx        *sctx, *cctx;
    sp_pair       *server, *client;
    size_t         total = 65536, len, pending, sum, i, count, got, off;
    uint8_t       *data, *data2, *wire, *in;
    const uint8_t *out;
    struct iovec   iov[16];
    ssize_t        n;

    open_ends("server-ec", &sctx, &cctx, &client, &server);
    ok(handshake(client, server), "blocks: handshake");

    data = malloc(total);
    for (i = 0; i < total; i++) {
        data[i] = (uint8_t) (i * 7 + 3);
    }

    for (off = 0; off < total; off += (size_t) n) {
        n = sp_clear_write(client, data + off, total - off);
        if (n <= 0) {
            break;
        }
    }
    is_int(off, total, "blocks: 64 KiB taken, a record at a time");

    pending = sp_enc_out_pending(client);
    out = sp_enc_out_buf(client, &len);
    ok(out != NULL && len > 0 && len < pending,
       "blocks: the first block (%zu) is part of what waits (%zu)", len,
       pending);

    count = sp_enc_out_iov(client, iov, 16);
    sum = 0;
    for (i = 0; i < count; i++) {
        sum += iov[i].iov_len;
    }
    ok(count >= 4, "blocks: 64 KiB of records in %zu blocks", count);
    ok(iov[0].iov_base == out && iov[0].iov_len == len,
       "blocks: the first iovec is sp_enc_out_buf's");
    is_int(sum, pending, "blocks: the iovecs hold all that waits");
    is_int(sp_enc_out_iov(client, iov, 2), 2, "blocks: no more than asked");

    /* the wire: the blocks in order, then consumed across blocks */
    wire = malloc(pending);
    count = sp_enc_out_iov(client, iov, 16);
    for (i = 0, off = 0; i < count; i++) {
        memcpy(wire + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }

    sp_enc_out_consume(client, len + 100);
    is_int(sp_enc_out_pending(client), pending - len - 100,
           "blocks: a consume crosses into the second block");
    out = sp_enc_out_buf(client, &len);
    ok(out != NULL && memcmp(out, wire + (pending - sp_enc_out_pending(client)),
                             len) == 0,
       "blocks: the rest of the second block comes next");

    off = pending - sp_enc_out_pending(client);
    n = (ssize_t) sp_enc_out(client, wire + off, pending);
    is_int(n, (ssize_t) (pending - off), "blocks: sp_enc_out copies the rest");
    is_int(sp_enc_out_pending(client), 0, "blocks: nothing waits");
    ok(sp_enc_out_buf(client, &len) == NULL && len == 0,
       "blocks: no block left");

    /* the server reads what the wire carried, as its buffer allows */
    off = 0;
    got = 0;
    data2 = malloc(total);
    for (i = 0; i < 1000 && got < total; i++) {
        if (off < pending && (in = sp_enc_in_buf(server, &len)) != NULL) {
            len = len < pending - off ? len : pending - off;
            memcpy(in, wire + off, len);
            off += len;
            sp_enc_in_commit(server, len);
        }

        while (got < total
               && (n = sp_clear_read(server, data2 + got, total - got)) > 0)
        {
            got += (size_t) n;
        }
    }
    ok(got == total && memcmp(data2, data, total) == 0,
       "blocks: the server reads 64 KiB byte-exact");
    ok(error_queue_empty(), "blocks: error queue empty");

    free(data);
    free(data2);
    free(wire);
    free_ends(client, server, cctx, sctx);
}


/*
 * Moves `total` bytes of `seed`'s pattern from client to server, filling
 * each receive room while records wait (so the room grows to its most,
 * the largest room offered kept in *most when not NULL); 1 when the
 * server read exactly that pattern.
 */
static int
transfer(sp_pair *client, sp_pair *server, unsigned seed, size_t total,
    size_t *most)
{
    uint8_t   *data, *in, buf[16384];
    size_t     sent = 0, got = 0, room, len, j;
    ssize_t    n;
    int        i, same = 1;

    data = malloc(total);
    if (data == NULL) {
        return 0;
    }

    for (j = 0; j < total; j++) {
        data[j] = (uint8_t) (j * 7 + seed);
    }

    for (i = 0; i < 10000 && got < total; i++) {
        while (sent < total
               && (n = sp_clear_write(client, data + sent, total - sent)) > 0)
        {
            sent += (size_t) n;
        }

        while (sp_enc_out_pending(client)
               && (in = sp_enc_in_buf(server, &room)) != NULL)
        {
            if (most && room > *most) {
                *most = room;
            }

            len = sp_enc_out(client, in, room);
            if (sp_enc_in_commit(server, len) != SP_OK || len < room) {
                break;
            }
        }

        while ((n = sp_clear_read(server, buf, sizeof(buf))) > 0) {
            if (got + (size_t) n > total
                || memcmp(buf, data + got, (size_t) n) != 0)
            {
                same = 0;
            }
            got += (size_t) n;
        }

        /* as a host does: one more receive, which finds nothing */
        if (sp_enc_in_buf(server, &room) != NULL) {
            sp_enc_in_commit(server, 0);
        }
    }

    free(data);
    return same && got == total;
}


/*
 * The receive buffer starts small and doubles, up to 128 KiB, each time
 * the transport fills all the room it was given.
 */
static void
test_enc_in_growth(void)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server, *client;
    uint8_t   *in;
    size_t     first, most = 0;

    open_ends("server-ec", &sctx, &cctx, &client, &server);
    ok(handshake(client, server), "growth: handshake");

    in = sp_enc_in_buf(server, &first);
    ok(in != NULL && first == 16384, "growth: 16 KiB of room at first (%zu)",
       first);
    sp_enc_in_commit(server, 0);

    ok(transfer(client, server, 1, 512 * 1024, &most),
       "growth: 512 KiB sent and read, in order");
    ok(most > 65536 && most <= 131072,
       "growth: the room grew to more than 64 KiB, at most 128 KiB (%zu)",
       most);
    ok(!sp_pair_error(server), "growth: no error");

    free_ends(client, server, cctx, sctx);
}


/*
 * Busy connections hand their emptied full-size receive buffers to one
 * another through the context: what each reads is still its own stream.
 */
static void
test_enc_in_spares(void)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server[3], *client[3];
    int        i, round, all = 1;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = ctx_for(SP_CLIENT, NULL, "ca.crt");

    for (i = 0; i < 3; i++) {
        server[i] = sp_pair_new(sctx, NULL, NULL);
        client[i] = sp_pair_new(cctx, "localhost", NULL);
        ok(handshake(client[i], server[i]), "spares: handshake %d", i);
    }

    for (round = 0; round < 4; round++) {
        for (i = 0; i < 3; i++) {
            if (!transfer(client[i], server[i], (unsigned) (round * 3 + i),
                          384 * 1024, NULL))
            {
                all = 0;
                diag("spares: round %d, connection %d differs", round, i);
            }
        }

        if (round == 1) {
            /* one leaves while the others go on */
            sp_pair_free(client[0]);
            sp_pair_free(server[0]);
            server[0] = sp_pair_new(sctx, NULL, NULL);
            client[0] = sp_pair_new(cctx, "localhost", NULL);
            ok(handshake(client[0], server[0]), "spares: a new connection");
        }
    }

    ok(all, "spares: 4 rounds x 3 connections x 384 KiB, each its own bytes");

    for (i = 0; i < 3; i++) {
        ok(!sp_pair_error(server[i]), "spares: server %d fine", i);
        sp_pair_free(client[i]);
        sp_pair_free(server[i]);
    }

    is_int(sp_ctx_connections(sctx), 0, "spares: no connections left");
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


static void
test_queued_cleartext(void)
{
    sp_ctx   *sctx, *cctx;
    sp_pair  *server, *client;
    char      buf[64];
    size_t    n;

    open_ends("server-rsa", &sctx, &cctx, &client, &server);

    ok(sp_clear_write(client, "early ", 6) == 6, "client queues before hs");
    ok(sp_clear_write(client, "bird", 4) == 4, "client queues more");
    is_int(sp_clear_queued(client), 10, "10 bytes queued");
    ok(sp_clear_write(server, "welcome!", 8) == 8, "server queues greeting");

    ok(handshake(client, server), "queued: handshake");
    pump(client, server);
    is_int(sp_clear_queued(client), 0, "queue flushed after handshake");

    n = read_all(server, buf, sizeof(buf));
    ok(n == 10 && memcmp(buf, "early bird", 10) == 0,
       "server reads queued bytes in order");
    n = read_all(client, buf, sizeof(buf));
    ok(n == 8 && memcmp(buf, "welcome!", 8) == 0, "client reads greeting");

    /* The queue is bounded. */
    sp_pair_free(client);
    sp_ctx_unref(cctx);
    cctx = ctx_for(SP_CLIENT, NULL, "ca.crt");
    sp_ctx_set_clear_queue_limit(cctx, 100);
    client = sp_pair_new(cctx, "localhost", NULL);
    {
        static char  big[300];

        is_int(sp_clear_write(client, big, sizeof(big)), 100,
               "queue takes up to its limit");
        is_int(sp_clear_write(client, big, sizeof(big)), SP_ERR_AGAIN,
               "then says again");
        ok(!(sp_pair_state(client) & SP_STATE_CLEAR_WRITE),
           "full queue: not writable");
    }

    free_ends(client, server, cctx, sctx);
}


static void
test_close(void)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server, *client;
    char       buf[64];
    unsigned   ev;

    /* clean close: close_notify then eof */
    open_ends("server-ec", &sctx, &cctx, &client, &server);
    handshake(client, server);
    sp_pair_events(server);

    sp_clear_write(client, "bye", 3);
    is_int(sp_pair_shutdown(client), SP_OK, "client shuts down");
    is_int(sp_clear_write(client, "x", 1), SP_ERR_CLOSED,
           "no writes after shutdown");
    pump(client, server);
    is_int(read_all(server, buf, sizeof(buf)), 3, "data before end kept");
    is_int(sp_clear_read(server, buf, sizeof(buf)), 0, "then read gives 0");
    ok(sp_pair_events(server) & SP_EVENT_END, "server sees end event");
    is_int(sp_enc_in_eof(server), SP_OK, "eof after close_notify is clean");
    is_int(sp_pair_error(server), 0, "no error on clean close");
    is_int(sp_pair_shutdown(server), SP_OK, "server answers close_notify");
    ok(sp_pair_state(server) & SP_STATE_SEND_RECORDS,
       "server close_notify waits to be sent");
    pump(client, server);
    ok(sp_pair_state(server) == SP_STATE_CLOSED, "server closed");
    sp_pair_free(client);
    sp_pair_free(server);

    /* a bare transport end once secure: the end of input, not a failure */
    new_ends(sctx, cctx, &client, &server);
    handshake(client, server);
    sp_pair_events(server);
    sp_clear_write(client, "partial", 7);
    pump(client, server);
    is_int(sp_enc_in_eof(server), SP_OK, "eof without close_notify: no error");
    is_int(sp_pair_truncated(server), 0, "not ended while data is unread");
    is_int(read_all(server, buf, sizeof(buf)), 7, "data still read");
    is_int(sp_clear_read(server, buf, sizeof(buf)), 0,
           "then read gives 0: the end of input");
    ev = sp_pair_events(server);
    ok((ev & SP_EVENT_END) && (ev & SP_EVENT_TRUNCATED)
       && !(ev & SP_EVENT_ERROR),
       "an end, marked truncated, not an error (events 0x%x)", ev);
    is_int(sp_pair_truncated(server), 1, "sp_pair_truncated says so");
    is_int(sp_pair_error(server), 0, "no sticky error");
    is_int(sp_pair_alert_sent(server), -1, "no alert sent");
    ok(sp_enc_out_pending(server) == 0, "nothing to send: no alert");
    ok(!(sp_pair_state(server) & SP_STATE_RECV_RECORDS),
       "no more input wanted");
    ok(sp_pair_state(server) & SP_STATE_CLEAR_WRITE, "still writable");
    is_int(sp_clear_read(server, buf, sizeof(buf)), 0, "the end stays 0");
    sp_pair_free(client);
    sp_pair_free(server);

    /* a record cut in the middle by the transport's end: the same end */
    new_ends(sctx, cctx, &client, &server);
    handshake(client, server);
    sp_clear_write(client, "lost in transit", 15);
    {
        const uint8_t  *out;
        size_t          len;

        out = sp_enc_out_buf(client, &len);
        ok(out != NULL && len > 10, "client has a record");
        is_int((int) sp_enc_in(server, out, len - 10), (int) len - 10,
               "part of it arrives");
    }
    is_int(sp_enc_in_eof(server), SP_OK, "then eof: no error");
    is_int(sp_clear_read(server, buf, sizeof(buf)), 0,
           "the cut record is not data: read gives 0");
    is_int(sp_pair_truncated(server), 1, "truncated");
    ok(sp_enc_out_pending(server) == 0, "no alert");
    sp_pair_free(client);
    sp_pair_free(server);

    /* our close_notify first, then the peer just closes: a clean end */
    new_ends(sctx, cctx, &client, &server);
    handshake(client, server);
    is_int(sp_pair_shutdown(server), SP_OK, "server says goodbye first");
    pump(client, server);
    is_int(sp_enc_in_eof(server), SP_OK, "client closes the transport");
    is_int(sp_clear_read(server, buf, sizeof(buf)), 0, "read gives 0");
    is_int(sp_pair_truncated(server), 0,
           "no answer to our close_notify is no truncation");
    ok(sp_pair_state(server) == SP_STATE_CLOSED, "server closed");
    is_int(sp_clear_read(client, buf, sizeof(buf)), 0,
           "client read its close_notify");
    is_int(sp_pair_truncated(client), 0, "client saw a clean end");
    sp_pair_free(client);
    sp_pair_free(server);

    /* eof during the handshake */
    new_ends(sctx, cctx, &client, &server);
    move_records(client, server, 10);
    is_int(sp_enc_in_eof(server), SP_ERR_TRUNCATED,
           "eof mid-handshake: truncated");
    sp_pair_free(client);
    sp_pair_free(server);

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
    ok(error_queue_empty(), "close: error queue empty");
}


/*
 * A TCP half-close: the client sends its request and shuts down its write
 * side with no close_notify; the server still answers, the client reads
 * the whole answer, then the server's close_notify.
 */
static void
test_half_close(int version)
{
    sp_ctx      *sctx, *cctx;
    sp_pair     *server, *client;
    char         name[64], buf[64];
    static char  big[100000], got[100000];
    ssize_t      n;
    size_t       i, sent, total;

    snprintf(name, sizeof(name), "half-close %s",
             version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2");

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (char) ('a' + i % 26);
    }

    sctx = ctx_for(SP_SERVER, "server-rsa", NULL);
    cctx = client_for(NULL, "ca.crt", version);

    new_ends(sctx, cctx, &client, &server);
    ok(handshake(client, server), "%s: handshake", name);

    sp_clear_write(client, "request", 7);
    pump(client, server);
    ok(sp_enc_in_eof(server) == SP_OK, "%s: bare eof, no error", name);
    ok(read_all(server, buf, sizeof(buf)) == 7, "%s: request read", name);
    ok(sp_clear_read(server, buf, sizeof(buf)) == 0,
           "%s: then the end of input", name);
    ok(sp_pair_truncated(server) == 1, "%s: truncated", name);

    /* the answer, more than the pair holds at once */
    sent = 0;
    total = 0;

    while (sent < sizeof(big)) {
        n = sp_clear_write(server, big + sent, sizeof(big) - sent);

        if (n == SP_ERR_AGAIN) {
            move_records(server, client, 0);
            total += read_all(client, got + total, sizeof(got) - total);
            continue;
        }

        if (n < 0) {
            break;
        }

        sent += (size_t) n;
    }

    ok((int) sent == (int) sizeof(big), "%s: the server writes it all",
           name);
    ok(sp_pair_shutdown(server) == SP_OK,
           "%s: then says goodbye", name);
    move_records(server, client, 0);
    total += read_all(client, got + total, sizeof(got) - total);

    ok(total == sizeof(big) && memcmp(got, big, sizeof(big)) == 0,
       "%s: the client reads the whole answer (%zu bytes)", name, total);
    ok(sp_clear_read(client, buf, sizeof(buf)) == 0,
           "%s: then the server's close_notify", name);
    ok(sp_pair_truncated(client) == 0, "%s: a clean end for the client",
           name);
    ok(sp_pair_error(client) == 0, "%s: client: no error", name);
    ok(sp_pair_alert_received(client) == -1, "%s: client: no alert",
           name);
    ok(sp_pair_error(server) == 0, "%s: server: no error", name);
    ok(sp_pair_state(server) == SP_STATE_CLOSED, "%s: server closed", name);

    free_ends(client, server, cctx, sctx);
    ok(error_queue_empty(), "%s: error queue empty", name);
}


static void
test_garbage(void)
{
    sp_ctx    *sctx;
    sp_pair   *server;
    ssize_t    n;
    const char  http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    uint8_t    junk[4096];
    size_t     i;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);

    server = sp_pair_new(sctx, NULL, NULL);
    n = sp_enc_in(server, http, sizeof(http) - 1);
    ok(n < 0 || sp_pair_error(server) == SP_ERR_HANDSHAKE,
       "plain HTTP on the TLS port fails the handshake");
    ok(sp_pair_events(server) & SP_EVENT_ERROR, "error event");
    diag("%s", sp_pair_error_message(server));
    ok(sp_enc_in(server, "more", 4) < 0, "input refused after failure");
    sp_pair_free(server);

    srand(7);
    for (i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t) rand();
    }

    /* a plausible record header with garbage inside */
    junk[0] = 22;
    junk[1] = 3;
    junk[2] = 1;
    junk[3] = 0x02;
    junk[4] = 0x00;

    server = sp_pair_new(sctx, NULL, NULL);
    sp_enc_in(server, junk, sizeof(junk));
    is_int(sp_pair_error(server), SP_ERR_HANDSHAKE,
           "garbage ClientHello fails the handshake");
    ok(sp_pair_alert_sent(server) >= 0, "we sent alert %d",
       sp_pair_alert_sent(server));
    ok(sp_pair_state(server) & (SP_STATE_SEND_RECORDS | SP_STATE_CLOSED),
       "the alert is there to send, or the pair is closed");
    sp_pair_free(server);

    sp_ctx_unref(sctx);
    ok(error_queue_empty(), "garbage: error queue empty");
}


static void
test_max_connections(void)
{
    sp_ctx   *sctx;
    sp_pair  *a, *b, *c;
    int       err;

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    sp_ctx_set_max_connections(sctx, 2);

    a = sp_pair_new(sctx, NULL, &err);
    b = sp_pair_new(sctx, NULL, &err);
    is_int(sp_ctx_connections(sctx), 2, "two connections counted");
    c = sp_pair_new(sctx, NULL, &err);
    ok(c == NULL && err == SP_ERR_MAX_CONNECTIONS, "third refused");
    sp_pair_free(a);
    is_int(sp_ctx_connections(sctx), 1, "freeing one: count drops");
    c = sp_pair_new(sctx, NULL, &err);
    ok(c != NULL && err == SP_OK, "room again after a free");

    sp_pair_free(b);
    sp_pair_free(c);
    is_int(sp_ctx_connections(sctx), 0, "all freed: zero");

    /* a pair keeps its context alive */
    a = sp_pair_new(sctx, NULL, NULL);
    sp_ctx_unref(sctx);
    ok(sp_pair_state(a) & SP_STATE_HANDSHAKING, "context released, pair ok");
    sp_pair_free(a);
}


int
main(void)
{
    test_handshake("server-rsa", SP_TLS1_2);
    test_handshake("server-rsa", SP_TLS1_3);
    test_handshake("server-ec", SP_TLS1_2);
    test_handshake("server-ec", SP_TLS1_3);
    test_bulk();
    test_enc_out_blocks();
    test_enc_in_growth();
    test_enc_in_spares();
    test_queued_cleartext();
    test_close();
    test_half_close(SP_TLS1_2);
    test_half_close(SP_TLS1_3);
    test_garbage();
    test_max_connections();

    return done_testing();
}
