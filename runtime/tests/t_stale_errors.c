/*
 * OpenSSL's error queue is per thread and shared with the host: an error
 * the host (or another library) left on it must not make a pair's call
 * fail, since SSL_get_error() reads the queue, and every call of ours
 * leaves it empty.  The pair empties it only when it is not empty
 * already (sp_clear_errors): these are the cases where it is not.
 */

#include "pump.h"


/* an error of someone else's, left on the thread's queue */
static void
stale_error(void)
{
    ERR_raise_data(ERR_LIB_USER, 1, "left by the host");
}


static void
test_stale_errors(int version)
{
    sp_ctx    *sctx, *cctx;
    sp_pair   *server, *client;
    char       name[32], buf[64];
    ssize_t    n;

    snprintf(name, sizeof(name), "%s",
             version == SP_TLS1_3 ? "TLSv1.3" : "TLSv1.2");

    sctx = ctx_for(SP_SERVER, "server-ec", NULL);
    cctx = client_for(NULL, "ca.crt", version);

    stale_error();
    client = sp_pair_new(cctx, "localhost", NULL);
    ok(client != NULL && sp_pair_error(client) == SP_OK,
       "%s: a client pair made over a stale error", name);
    ok(error_queue_empty(), "%s: and the queue emptied", name);

    stale_error();
    server = sp_pair_new(sctx, NULL, NULL);
    ok(server != NULL, "%s: a server pair made over a stale error", name);
    ok(error_queue_empty(), "%s: and the queue emptied", name);

    stale_error();
    ok(handshake(client, server), "%s: handshake over a stale error", name);
    ok(error_queue_empty(), "%s: queue empty after the handshake", name);

    stale_error();
    ok(sp_clear_write(client, "hello", 5) == 5,
       "%s: write over a stale error", name);
    ok(error_queue_empty(), "%s: queue empty after the write", name);
    pump(client, server);

    stale_error();
    n = sp_clear_read(server, buf, sizeof(buf));
    ok(n == 5 && memcmp(buf, "hello", 5) == 0,
       "%s: read over a stale error", name);
    ok(error_queue_empty(), "%s: queue empty after the read", name);

    stale_error();
    ok(sp_clear_read(server, buf, sizeof(buf)) == SP_ERR_AGAIN,
       "%s: nothing more to read is not a failure", name);
    ok(sp_pair_error(server) == SP_OK, "%s: the pair has no error", name);
    ok(error_queue_empty(), "%s: queue empty after it", name);

    stale_error();
    ok(sp_pair_shutdown(server) == SP_OK,
       "%s: close_notify over a stale error", name);
    ok(error_queue_empty(), "%s: queue empty after the shutdown", name);
    pump(client, server);
    ok(sp_pair_events(client) & SP_EVENT_END, "%s: the client saw the end",
       name);

    stale_error();
    sp_pair_free(client);
    sp_pair_free(server);
    ok(error_queue_empty(), "%s: queue empty after the frees", name);

    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);
}


int
main(void)
{
    test_stale_errors(SP_TLS1_2);
    test_stale_errors(SP_TLS1_3);

    return done_testing();
}
