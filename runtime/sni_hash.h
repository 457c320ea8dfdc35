/*
 * Private to the SNI table (sni.c): open-addressing hash tables of names
 * (linear probing, power-of-two sizes, never more than half full, no
 * deletion) and the hash they use.
 *
 * The hash is FNV-1a with a final avalanche step, computed a byte at a
 * time so that the table can hash every prefix or suffix of a servername
 * in one pass: sni_hash_step() per byte, sni_hash_final() for a key's
 * hash.  Keys are lowercased ASCII.
 */

#ifndef SP_SNI_HASH_H
#define SP_SNI_HASH_H

#include <stddef.h>
#include <stdint.h>


#define SNI_FNV_BASIS   2166136261u
#define SNI_FNV_PRIME   16777619u


typedef struct {
    const char          *key;       /* NULL marks a free slot */
    char                *name;      /* as added; one allocation with key */
    void                *value;
    uint32_t             hash;
    uint32_t             keylen;
} sni_slot_t;

typedef struct {
    sni_slot_t          *slots;
    size_t               size;      /* 0 or a power of two */
    size_t               used;
} sni_hash_t;


static inline unsigned char
sni_lower(unsigned char c)
{
    /* not tolower(): server names are ASCII and the locale must not matter */
    return (c >= 'A' && c <= 'Z') ? (unsigned char) (c | 0x20) : c;
}


static inline uint32_t
sni_hash_step(uint32_t h, unsigned char c)
{
    return (h ^ c) * SNI_FNV_PRIME;
}


uint32_t sni_hash_final(uint32_t h);

/* A key's hash, front to back or back to front. */
uint32_t sni_hash(const char *key, size_t len, int backwards);

const sni_slot_t *sni_hash_find(const sni_hash_t *ht, const char *key,
    size_t len, uint32_t hash);

/*
 * Adds `name` (copied) under `key` (len bytes, copied, not there yet)
 * with its hash.  Returns 0, or -1 when out of memory.
 */
int sni_hash_add(sni_hash_t *ht, const char *name, const char *key,
    size_t keylen, uint32_t hash, void *value);

/* Frees the slots and names, and each value with free_value if any. */
void sni_hash_free(sni_hash_t *ht, void (*free_value)(void *value));

#endif /* SP_SNI_HASH_H */
