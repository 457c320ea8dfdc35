/*
 * The SNI table's hash tables of names (sni_hash.h).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sni_hash.h"


uint32_t
sni_hash_final(uint32_t h)
{
    /* FNV-1a's low bits are weak for short keys and we index by them */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;

    return h;
}


uint32_t
sni_hash(const char *key, size_t len, int backwards)
{
    size_t    i;
    uint32_t  h;

    h = SNI_FNV_BASIS;

    for (i = 0; i < len; i++) {
        h = sni_hash_step(h, (unsigned char) key[backwards ? len - 1 - i : i]);
    }

    return sni_hash_final(h);
}


const sni_slot_t *
sni_hash_find(const sni_hash_t *ht, const char *key, size_t len,
    uint32_t hash)
{
    size_t             i, mask;
    const sni_slot_t  *s;

    if (ht->used == 0) {
        return NULL;
    }

    mask = ht->size - 1;

    for (i = hash & mask; /* void */; i = (i + 1) & mask) {
        s = &ht->slots[i];

        if (s->key == NULL) {
            return NULL;
        }

        if (s->hash == hash && s->keylen == len
            && memcmp(s->key, key, len) == 0)
        {
            return s;
        }
    }
}


static void
sni_hash_place(sni_slot_t *slots, size_t size, const sni_slot_t *slot)
{
    size_t  i, mask;

    mask = size - 1;

    for (i = slot->hash & mask; slots[i].key != NULL; i = (i + 1) & mask) {
        /* void */
    }

    slots[i] = *slot;
}


/* Make room for one more key; the caller has checked it is not there. */
static int
sni_hash_reserve(sni_hash_t *ht)
{
    size_t       i, size;
    sni_slot_t  *slots;

    if ((ht->used + 1) * 2 <= ht->size) {
        return 0;
    }

    size = ht->size ? ht->size * 2 : 16;

    if (size > SIZE_MAX / sizeof(sni_slot_t)) {
        return -1;
    }

    slots = calloc(size, sizeof(sni_slot_t));
    if (slots == NULL) {
        return -1;
    }

    for (i = 0; i < ht->size; i++) {
        if (ht->slots[i].key != NULL) {
            sni_hash_place(slots, size, &ht->slots[i]);
        }
    }

    free(ht->slots);
    ht->slots = slots;
    ht->size = size;

    return 0;
}


int
sni_hash_add(sni_hash_t *ht, const char *name, const char *key,
    size_t keylen, uint32_t hash, void *value)
{
    char        *copy;
    size_t       len;
    sni_slot_t   slot;

    len = strlen(name);

    copy = malloc(len + 1 + keylen + 1);
    if (copy == NULL) {
        return -1;
    }

    if (sni_hash_reserve(ht) != 0) {
        free(copy);
        return -1;
    }

    memcpy(copy, name, len + 1);
    memcpy(copy + len + 1, key, keylen);
    copy[len + 1 + keylen] = '\0';

    slot.key = copy + len + 1;
    slot.name = copy;
    slot.value = value;
    slot.hash = hash;
    slot.keylen = (uint32_t) keylen;

    sni_hash_place(ht->slots, ht->size, &slot);
    ht->used++;

    return 0;
}


void
sni_hash_free(sni_hash_t *ht, void (*free_value)(void *value))
{
    size_t  i;

    for (i = 0; i < ht->size; i++) {
        if (ht->slots[i].key != NULL) {
            if (free_value != NULL) {
                free_value(ht->slots[i].value);
            }

            free(ht->slots[i].name);
        }
    }

    free(ht->slots);
}
