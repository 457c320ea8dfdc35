/*
 * Key logging (Node's 'keylog' event): each secret of each handshake, as
 * a line of the NSS key log format, handed to the host, which may write
 * it where a packet analyser (Wireshark) finds it.
 *
 * OpenSSL formats a line only when an SSL_CTX has a callback, so the
 * callback goes on the default credentials' SSL_CTX only once a context
 * asks for the lines: without key logging a handshake costs nothing more.
 * Another context on the same SSL_CTX then has its pairs looked at, and
 * their lines dropped.
 */

#include <string.h>

#include "internal.h"


static void
keylog_line(const SSL *ssl, const char *line)
{
    sp_pair  *pair;

    pair = sp_pair_from_ssl(ssl);

    if (pair != NULL && pair->ctx->keylog_fn != NULL) {
        pair->ctx->keylog_fn(pair, line, strlen(line), pair->ctx->keylog_arg);
    }
}


int
sp_ctx_set_keylog(sp_ctx *ctx, sp_keylog_fn fn, void *arg)
{
    if (sp_ctx_check_open(ctx, "sp_ctx_set_keylog") != SP_OK) {
        return SP_ERR_INVALID;
    }

    /* turning it off leaves the callback: it finds no function */
    if (fn != NULL) {
        SSL_CTX_set_keylog_callback(ctx->creds->ssl_ctx, keylog_line);
    }

    ctx->keylog_fn = fn;
    ctx->keylog_arg = arg;
    return SP_OK;
}
