/*
 * Stashes: buffers of one size a worker keeps for the next pair rather
 * than give back to malloc (why each pool exists: internal.h,
 * SP_ENC_IN_SPARES, SP_ENC_OUT_SPARES, SP_HS_BUF_SIZE).  One mechanism
 * for the three, with the same two bounds: a fixed number, and no more
 * than the worker's live pairs, so an idle worker holds nothing.
 */

#include <stdlib.h>

#include "internal.h"


/* Keeps buf while under both bounds, else frees it. */
void
sp_stash_put(sp_stash *s, void *buf, unsigned live)
{
    if (s->n >= s->max || s->n >= live) {
        free(buf);
        return;
    }

    *(void **) buf = s->head;
    s->head = buf;
    s->n++;
}


/* A kept buffer, or NULL. */
void *
sp_stash_pop(sp_stash *s)
{
    void  *buf = s->head;

    if (buf != NULL) {
        s->head = *(void **) buf;
        s->n--;
    }

    return buf;
}


/* Frees the buffers beyond `keep`. */
void
sp_stash_trim(sp_stash *s, unsigned keep)
{
    while (s->n > keep) {
        free(sp_stash_pop(s));
    }
}
