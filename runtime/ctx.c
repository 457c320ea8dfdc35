/*
 * Contexts: a server's or a client's configuration, shared by its pairs.
 */

#include <stdlib.h>
#include <string.h>

#include "internal.h"


#define SP_CLEAR_QUEUE_DEFAULT  65536


sp_ctx *
sp_ctx_new(sp_role role, sp_creds *creds)
{
    sp_ctx  *ctx;

    if (creds == NULL || (role != SP_SERVER && role != SP_CLIENT)) {
        return NULL;
    }

    ctx = calloc(1, sizeof(sp_ctx));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->refs = 1;
    ctx->role = role;
    ctx->creds = sp_creds_ref(creds);

    /* Node's defaults: a client insists on a trusted server, a server
       does not ask. */
    ctx->reject_unauthorized = (role == SP_CLIENT);
    ctx->reneg_limit = 3;
    ctx->reneg_window = 600;
    ctx->clear_queue_limit = SP_CLEAR_QUEUE_DEFAULT;

    /*
     * Credentials that cannot serve (no system store to trust, an
     * SSL_CTX OpenSSL refuses) fail here, with their error, rather than
     * every handshake later; pairs start from the default credentials'
     * SSL_CTX, whose making prepares (freezes) them.
     */
    if (sp_creds_ssl_ctx(creds) == NULL
        || (role == SP_SERVER && sp_session_ctx_init(ctx) != SP_OK))
    {
        sp_creds_unref(ctx->creds);
        free(ctx);
        return NULL;
    }

    return ctx;
}


/* Pairs on several threads take and drop references: atomically. */
SP_REF_FUNCTION(sp_ctx, sp_ctx_ref)


void
sp_ctx_unref(sp_ctx *ctx)
{
    if (ctx == NULL || !sp_refs_drop(&ctx->refs)) {
        return;
    }

    sp_sni_table_free(ctx->sni);
    sp_creds_index_free(ctx->creds_index);
    sp_proto_list_free(&ctx->npn);
    sp_proto_list_free(&ctx->alpn);
    sp_session_ctx_free(ctx);
    sp_creds_unref(ctx->creds);
    sp_error_clear(&ctx->error);
    free(ctx);
}


/*
 * A context is frozen by its first pair (sp_pair_create): threads then
 * read it without a lock, so a change after that would race with them.
 * Every setter asks here first.
 */
SP_FROZEN_CHECK(sp_ctx, sp_ctx_check_open,
                "the context has made pairs and no longer changes")


/* The checks of a setter of a time that must be positive. */
int
sp_ctx_check_seconds(sp_ctx *ctx, const char *call, time_t seconds,
    sp_field field, const char *what)
{
    if (sp_ctx_check_open(ctx, call) != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (seconds <= 0) {
        return sp_error_set(&ctx->error, SP_ERR_INVALID, field, NULL, 0,
                            "%s must be positive", what);
    }

    return SP_OK;
}


int
sp_ctx_frozen(const sp_ctx *ctx)
{
    return __atomic_load_n(&ctx->frozen, __ATOMIC_ACQUIRE);
}


SP_ERROR_READERS(sp_ctx, sp_ctx_error, sp_ctx_error_info)


SP_CTX_SET_FLAG(sp_ctx_set_request_cert, request_cert)
SP_CTX_SET_FLAG(sp_ctx_set_reject_unauthorized, reject_unauthorized)


int
sp_ctx_set_npn(sp_ctx *ctx, const char *const *names, size_t n)
{
    int  rc;

    if (sp_ctx_check_open(ctx, "sp_ctx_set_npn") != SP_OK) {
        return SP_ERR_INVALID;
    }

    rc = sp_proto_list_set(&ctx->npn, names, n, &ctx->error, SP_FIELD_NPN);

    if (rc == SP_OK && ctx->role == SP_CLIENT && n) {
        sp_protocols_install_client(ctx->creds->ssl_ctx);
    }

    return rc;
}


int
sp_ctx_set_alpn(sp_ctx *ctx, const char *const *names, size_t n)
{
    if (sp_ctx_check_open(ctx, "sp_ctx_set_alpn") != SP_OK) {
        return SP_ERR_INVALID;
    }

    return sp_proto_list_set(&ctx->alpn, names, n, &ctx->error,
                             SP_FIELD_ALPN);
}


static void
release_creds(void *creds)
{
    sp_creds_unref(creds);
}


int
sp_ctx_add_context(sp_ctx *ctx, const char *name, sp_creds *creds)
{
    int            rc;
    char           err[SP_ERRLEN];
    unsigned char  id[SP_ID_LEN];

    if (sp_ctx_check_open(ctx, "sp_ctx_add_context") != SP_OK) {
        return SP_ERR_INVALID;
    }

    if (ctx->role != SP_SERVER || name == NULL || creds == NULL) {
        return sp_error_set(&ctx->error, SP_ERR_INVALID,
                            ctx->role != SP_SERVER ? SP_FIELD_ROLE
                            : SP_FIELD_CONTEXT_NAME, NULL, 0,
                            "SNI contexts need a server, a name and "
                            "credentials");
    }

    /* credentials that cannot serve are refused now, not at handshakes */
    rc = sp_creds_prepare(creds);
    if (rc != SP_OK) {
        sp_error_copy(&ctx->error, sp_creds_error_info(creds));
        return rc;
    }

    if (ctx->sni == NULL) {
        ctx->sni = sp_sni_table_new(release_creds);
        if (ctx->sni == NULL) {
            return SP_ERR_NOMEM;
        }
    }

    rc = sp_sni_table_add(ctx->sni, name, creds, err, sizeof(err));
    if (rc == -2) {
        return SP_ERR_NOMEM;
    }

    if (rc != 0) {
        return sp_error_set(&ctx->error, SP_ERR_INVALID,
                            SP_FIELD_CONTEXT_NAME, NULL, 0, "%s", err);
    }

    sp_creds_ref(creds);

    /* held by the table now; an index that cannot grow only shares less */
    if (sp_creds_content_id(creds, id)) {
        (void) sp_creds_index_add(&ctx->creds_index, id, creds);
    }

    return SP_OK;
}


sp_creds *
sp_ctx_find_same_creds(sp_ctx *ctx, sp_creds *creds)
{
    unsigned char  id[SP_ID_LEN];

    if (ctx->creds_index == NULL || !sp_creds_content_id(creds, id)) {
        return NULL;
    }

    return sp_creds_index_find(ctx->creds_index, id);
}


sp_creds *
sp_ctx_find_context(sp_ctx *ctx, const char *servername)
{
    if (ctx->sni == NULL || servername == NULL) {
        return NULL;
    }

    return sp_sni_table_find(ctx->sni, servername, NULL, NULL);
}


SP_CTX_SET_CALLBACK(sp_ctx_set_sni_callback, sp_sni_fn, sni_fn, sni_arg)
SP_CTX_SET_FLAG(sp_ctx_set_reject_unknown_name, reject_unknown_name)


int
sp_ctx_set_reneg_limit(sp_ctx *ctx, unsigned limit, time_t window)
{
    if (sp_ctx_check_seconds(ctx, "sp_ctx_set_reneg_limit", window,
                             SP_FIELD_RENEG_WINDOW, "renegotiation window")
        != SP_OK)
    {
        return SP_ERR_INVALID;
    }

    ctx->reneg_limit = limit;
    ctx->reneg_window = window;
    return SP_OK;
}


SP_CTX_SET_CALLBACK(sp_ctx_set_clock, sp_clock_fn, clock_fn, clock_arg)
SP_CTX_SET_COUNT(sp_ctx_set_max_connections, max_connections)


unsigned
sp_ctx_connections(const sp_ctx *ctx)
{
    return sp_worker_connections(NULL, ctx);
}


SP_CTX_SETTER(sp_ctx_set_clear_queue_limit, (sp_ctx *ctx, size_t bytes),
              ctx->clear_queue_limit = bytes)
