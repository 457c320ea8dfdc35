/*
 * A program outside the tree, built against an installed securepair with
 * `pkg-config --cflags --libs securepair`: a client and a server pair
 * complete a handshake in memory and carry one message.
 *
 *   outside CERTS_DIR    prints "securepair VERSION: hello over TLSv1.3"
 */

#include <securepair.h>

#include <stdio.h>
#include <string.h>


static int
fail(const char *what, const char *why)
{
    fprintf(stderr, "outside: %s: %s\n", what, why ? why : "?");
    return 1;
}


/* moves whatever `from` has to send into `to` */
static void
move(sp_pair *from, sp_pair *to)
{
    unsigned char  buf[16384];
    size_t         n;

    while ((n = sp_enc_out(from, buf, sizeof(buf))) > 0) {
        sp_enc_in(to, buf, n);
    }
}


int
main(int argc, char **argv)
{
    char       key[512], cert[512], ca[512], got[64];
    int        err, i, rc = 1;
    ssize_t    n;
    sp_creds  *screds, *ccreds;
    sp_ctx    *sctx = NULL, *cctx = NULL;
    sp_pair   *server = NULL, *client = NULL;

    if (argc != 2) {
        return fail("usage", "outside CERTS_DIR");
    }

    snprintf(key, sizeof(key), "%s/server-rsa.key", argv[1]);
    snprintf(cert, sizeof(cert), "%s/server-rsa.crt", argv[1]);
    snprintf(ca, sizeof(ca), "%s/ca.crt", argv[1]);

    screds = sp_creds_new();
    ccreds = sp_creds_new();

    if (screds == NULL || ccreds == NULL) {
        return fail("sp_creds_new", "out of memory");
    }

    if (sp_creds_add_key_cert_file(screds, key, cert) != SP_OK) {
        return fail("server credentials", sp_creds_error(screds));
    }

    if (sp_creds_add_ca_file(ccreds, ca) != SP_OK) {
        return fail("client credentials", sp_creds_error(ccreds));
    }

    sctx = sp_ctx_new(SP_SERVER, screds);
    cctx = sp_ctx_new(SP_CLIENT, ccreds);
    sp_creds_unref(screds);
    sp_creds_unref(ccreds);

    if (sctx == NULL || cctx == NULL) {
        return fail("sp_ctx_new", "out of memory");
    }

    server = sp_pair_new(sctx, NULL, &err);
    client = sp_pair_new(cctx, "localhost", &err);

    if (server == NULL || client == NULL) {
        return fail("sp_pair_new", sp_strerror(err));
    }

    for (i = 0; i < 10; i++) {
        move(client, server);
        move(server, client);

        if ((sp_pair_state(client) & SP_STATE_SECURE)
            && (sp_pair_state(server) & SP_STATE_SECURE))
        {
            break;
        }
    }

    if (!(sp_pair_state(client) & SP_STATE_SECURE)) {
        fail("handshake", sp_pair_error_message(client));
        goto done;
    }

    if (!sp_pair_authorized(client)) {
        fail("server certificate", sp_pair_authorization_error(client));
        goto done;
    }

    sp_clear_write(client, "hello", 5);
    move(client, server);

    n = sp_clear_read(server, got, sizeof(got) - 1);
    if (n != 5) {
        fail("sp_clear_read", sp_pair_error_message(server));
        goto done;
    }

    got[n] = '\0';
    printf("securepair %s: %s over %s\n", SP_VERSION, got,
           sp_pair_protocol(server));
    rc = 0;

done:

    sp_pair_free(client);
    sp_pair_free(server);
    sp_ctx_unref(cctx);
    sp_ctx_unref(sctx);

    return rc;
}
