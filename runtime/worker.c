/*
 * Workers: the state that changes as a host's pairs come and go, kept
 * apart from the contexts (which never change once used) so that
 * threads share contexts without a lock.  A worker counts its live
 * pairs, in all and by context (max_connections), and keeps the buffers
 * they give back for the next ones.  sp_pair_new() uses a process-wide
 * default worker; a host that drives pairs on several threads gives
 * each its own (sp_pair_new_in).
 */

#include <stdlib.h>

#include "internal.h"


/* A new worker: no pairs, empty stashes that keep so many spares. */
#define SP_WORKER_INIT  {                                                   \
    .in_spares = { .max = SP_ENC_IN_SPARES },                               \
    .out_spares = { .max = SP_ENC_OUT_SPARES },                             \
    .hs_bufs = { .max = SP_HS_BUF_RESERVE },                                \
}

static sp_worker  sp_default_worker = SP_WORKER_INIT;


static void
worker_release(sp_worker *w)
{
    sp_stash_trim(&w->in_spares, 0);
    sp_stash_trim(&w->out_spares, 0);
    sp_stash_trim(&w->hs_bufs, 0);
    sp_sni_match_free(w->sni_match);
    w->sni_match = NULL;
    free(w->counts);
    w->counts = NULL;
    w->ncounts = 0;
    w->nalloc = 0;
}


/* The default worker's buffers go when the library does. */
__attribute__((destructor))
static void
worker_default_free(void)
{
    worker_release(&sp_default_worker);
}


sp_worker *
sp_worker_default(void)
{
    return &sp_default_worker;
}


sp_worker *
sp_worker_new(void)
{
    sp_worker  *w;

    w = malloc(sizeof(sp_worker));
    if (w != NULL) {
        *w = (sp_worker) SP_WORKER_INIT;
    }

    return w;
}


/*
 * A worker freed while pairs still use it (a host that exits with
 * connections open) goes with the last of them.
 */
void
sp_worker_free(sp_worker *w)
{
    if (w == NULL || w == &sp_default_worker) {
        return;
    }

    if (w->connections) {
        w->freed = 1;
        return;
    }

    worker_release(w);
    free(w);
}


unsigned
sp_worker_connections(const sp_worker *w, const sp_ctx *ctx)
{
    size_t  i;

    if (w == NULL) {
        w = &sp_default_worker;
    }

    if (ctx == NULL) {
        return w->connections;
    }

    for (i = 0; i < w->ncounts; i++) {
        if (w->counts[i].ctx == ctx) {
            return w->counts[i].n;
        }
    }

    return 0;
}


/*
 * Counts a new pair of ctx: SP_ERR_MAX_CONNECTIONS when the worker has
 * the context's maximum already.  A worker serves a few contexts, so a
 * short array searched in order does.
 */
int
sp_worker_attach(sp_worker *w, const sp_ctx *ctx)
{
    size_t         i, n;
    sp_ctx_count  *counts;

    for (i = 0; i < w->ncounts; i++) {
        if (w->counts[i].ctx == ctx) {
            break;
        }
    }

    if (i < w->ncounts) {
        if (ctx->max_connections && w->counts[i].n >= ctx->max_connections)
        {
            return SP_ERR_MAX_CONNECTIONS;
        }

        w->counts[i].n++;
        w->connections++;
        return SP_OK;
    }

    if (w->ncounts == w->nalloc) {
        n = w->nalloc ? w->nalloc * 2 : 4;

        counts = realloc(w->counts, n * sizeof(sp_ctx_count));
        if (counts == NULL) {
            return SP_ERR_NOMEM;
        }

        w->counts = counts;
        w->nalloc = n;
    }

    w->counts[w->ncounts].ctx = ctx;
    w->counts[w->ncounts].n = 1;
    w->ncounts++;
    w->connections++;
    return SP_OK;
}


/*
 * Uncounts a pair of ctx; the pools shrink to what the pairs left alive
 * may use again.
 */
void
sp_worker_detach(sp_worker *w, const sp_ctx *ctx)
{
    size_t  i;

    for (i = 0; i < w->ncounts; i++) {
        if (w->counts[i].ctx == ctx) {
            break;
        }
    }

    if (i == w->ncounts) {
        return;
    }

    w->connections--;

    /* a context without pairs leaves no entry behind: it may be freed */
    if (--w->counts[i].n == 0) {
        w->counts[i] = w->counts[--w->ncounts];
    }

    sp_stash_trim(&w->in_spares, w->connections);
    sp_stash_trim(&w->out_spares, w->connections);
    sp_stash_trim(&w->hs_bufs, w->connections);

    if (w->freed && w->connections == 0) {
        w->freed = 0;
        sp_worker_free(w);
    }
}


/* The worker's match data for regex SNI names, made at first use. */
sp_sni_match *
sp_worker_sni_match(sp_worker *w)
{
    if (w->sni_match == NULL) {
        w->sni_match = sp_sni_match_new();
    }

    return w->sni_match;
}


/*
 * The handshake buffer reserve (SP_HS_BUF_SIZE): a handshake that ends
 * takes back the block OpenSSL just freed (sp_worker_hs_keep); one that
 * starts gives a block back for OpenSSL to take (sp_worker_hs_give).
 */
void
sp_worker_hs_keep(sp_worker *w)
{
    void  *buf;

    if (w->hs_bufs.n >= w->hs_bufs.max || w->hs_bufs.n >= w->connections) {
        return;
    }

    buf = malloc(SP_HS_BUF_SIZE);
    if (buf != NULL) {
        sp_stash_put(&w->hs_bufs, buf, w->connections);
    }
}


void
sp_worker_hs_give(sp_worker *w)
{
    free(sp_stash_pop(&w->hs_bufs));
}
