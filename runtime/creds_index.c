/*
 * A context's index of the credentials it serves, by content: the SHA-256
 * of what decides how they serve (sp_creds_content_id).  A host that
 * builds credentials per SNI name asks it for an equal one already
 * added, so that names on the same files share one credentials however
 * the host names the files.  Open addressing, linear probing, at most
 * half full, no deletion: credentials stay in a context until it goes.
 */

#include <stdlib.h>
#include <string.h>

#include "internal.h"


#define SP_INDEX_MIN  16


typedef struct {
    unsigned char        id[SP_ID_LEN];
    sp_creds            *creds;         /* NULL: free; borrowed from the
                                           SNI table, which holds them */
} sp_creds_slot;

struct sp_creds_index {
    sp_creds_slot       *slots;
    size_t               size;          /* a power of two */
    size_t               count;
};


static sp_creds_slot *
index_slot(sp_creds_slot *slots, size_t size, const unsigned char *id)
{
    size_t  i;

    memcpy(&i, id, sizeof(i));

    for (i &= size - 1; slots[i].creds != NULL; i = (i + 1) & (size - 1)) {
        if (memcmp(slots[i].id, id, SP_ID_LEN) == 0) {
            break;
        }
    }

    return &slots[i];
}


static int
index_grow(sp_creds_index *ix)
{
    size_t          size, i;
    sp_creds_slot  *slots;

    size = ix->size ? ix->size * 2 : SP_INDEX_MIN;

    slots = calloc(size, sizeof(sp_creds_slot));
    if (slots == NULL) {
        return SP_ERR_NOMEM;
    }

    for (i = 0; i < ix->size; i++) {
        if (ix->slots[i].creds != NULL) {
            *index_slot(slots, size, ix->slots[i].id) = ix->slots[i];
        }
    }

    free(ix->slots);
    ix->slots = slots;
    ix->size = size;
    return SP_OK;
}


sp_creds *
sp_creds_index_find(const sp_creds_index *ix, const unsigned char *id)
{
    if (ix == NULL || ix->size == 0) {
        return NULL;
    }

    return index_slot(ix->slots, ix->size, id)->creds;
}


/* Indexes creds under id unless credentials are there already. */
int
sp_creds_index_add(sp_creds_index **ixp, const unsigned char *id,
    sp_creds *creds)
{
    sp_creds_slot   *slot;
    sp_creds_index  *ix;

    if (*ixp == NULL) {
        *ixp = calloc(1, sizeof(sp_creds_index));
        if (*ixp == NULL) {
            return SP_ERR_NOMEM;
        }
    }

    ix = *ixp;

    if (2 * (ix->count + 1) > ix->size && index_grow(ix) != SP_OK) {
        return SP_ERR_NOMEM;
    }

    slot = index_slot(ix->slots, ix->size, id);

    if (slot->creds == NULL) {
        memcpy(slot->id, id, SP_ID_LEN);
        slot->creds = creds;
        ix->count++;
    }

    return SP_OK;
}


void
sp_creds_index_free(sp_creds_index *ix)
{
    if (ix) {
        free(ix->slots);
        free(ix);
    }
}
