/*
 * The table of objects parsed from PEM and shared by every credentials
 * loaded from the same bytes (the same key and certificate with the same
 * passphrases; the same CAs added in the same order): ten thousand SNI
 * contexts naming one certificate parse it once.  An object is found by
 * a SHA-256 of what it was loaded from, never by a file name, so a file
 * changed between two loads is parsed again; it lives exactly as long as
 * some credentials hold it: the table never keeps one alive.  The table
 * is state shared between threads, behind a lock.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"


#define SP_TABLE_MIN  64


static pthread_mutex_t   sp_table_lock = PTHREAD_MUTEX_INITIALIZER;
static sp_shared       **sp_table;
static size_t            sp_table_size;     /* buckets, a power of two */
static size_t            sp_table_count;


static size_t
bucket(const unsigned char *id, size_t size)
{
    size_t  h;

    memcpy(&h, id, sizeof(h));
    return h & (size - 1);
}


static void
table_grow(void)
{
    size_t      size, i, b;
    sp_shared  **table, *obj, *next;

    size = sp_table_size ? sp_table_size * 2 : SP_TABLE_MIN;

    table = calloc(size, sizeof(sp_shared *));
    if (table == NULL) {
        return;     /* longer chains, still correct */
    }

    for (i = 0; i < sp_table_size; i++) {
        for (obj = sp_table[i]; obj; obj = next) {
            next = obj->next;
            b = bucket(obj->id, size);
            obj->next = table[b];
            table[b] = obj;
        }
    }

    free(sp_table);
    sp_table = table;
    sp_table_size = size;
}


/* Under the lock: the object with this id, with a new reference. */
static sp_shared *
table_find_locked(const unsigned char *id)
{
    sp_shared  *obj;

    if (sp_table_size == 0) {
        return NULL;
    }

    for (obj = sp_table[bucket(id, sp_table_size)]; obj; obj = obj->next) {
        if (memcmp(obj->id, id, SP_ID_LEN) == 0) {
            obj->refs++;
            return obj;
        }
    }

    return NULL;
}


static sp_shared *
table_find(const unsigned char *id)
{
    sp_shared  *obj;

    pthread_mutex_lock(&sp_table_lock);
    obj = table_find_locked(id);
    pthread_mutex_unlock(&sp_table_lock);

    return obj;
}


/*
 * Shares a new object (one reference, the caller's) and returns it, or,
 * when another thread shared the same meanwhile, frees it and returns
 * that one.  NULL when out of memory (the object is freed).
 */
static sp_shared *
table_add(sp_shared *obj)
{
    size_t      b;
    sp_shared  *found;

    pthread_mutex_lock(&sp_table_lock);

    found = table_find_locked(obj->id);

    if (found == NULL) {
        if (sp_table_count >= sp_table_size) {
            table_grow();
        }

        if (sp_table_size) {
            b = bucket(obj->id, sp_table_size);
            obj->refs = 1;
            obj->next = sp_table[b];
            sp_table[b] = obj;
            sp_table_count++;
        }
    }

    pthread_mutex_unlock(&sp_table_lock);

    if (found != NULL || sp_table_size == 0) {
        obj->free(obj);
        return found;
    }

    return obj;
}




/*
 * The object shared under `id`: the one in the table, with a new
 * reference, or a new one of `size` bytes (its sp_shared first, the rest
 * zero) that `parse` fills from `arg` before it is shared.  When parse
 * fails the new object goes (with `free`) and its error is returned.
 */
int
sp_shared_get(const unsigned char *id, size_t size,
    void (*free_obj)(sp_shared *obj), int (*parse)(sp_shared *obj, void *arg),
    void *arg, sp_shared **out)
{
    int         rc;
    sp_shared  *obj;

    obj = table_find(id);
    if (obj != NULL) {
        *out = obj;
        return SP_OK;
    }

    obj = calloc(1, size);
    if (obj == NULL) {
        return SP_ERR_NOMEM;
    }

    memcpy(obj->id, id, SP_ID_LEN);
    obj->free = free_obj;

    rc = parse(obj, arg);
    if (rc != SP_OK) {
        free_obj(obj);
        return rc;
    }

    obj = table_add(obj);
    if (obj == NULL) {
        return SP_ERR_NOMEM;
    }

    *out = obj;
    return SP_OK;
}


/* Another reference to an object someone already holds. */
void
sp_shared_ref(sp_shared *obj)
{
    pthread_mutex_lock(&sp_table_lock);
    obj->refs++;
    pthread_mutex_unlock(&sp_table_lock);
}


void
sp_shared_unref(sp_shared *obj)
{
    sp_shared  **p;
    unsigned     refs;

    if (obj == NULL) {
        return;
    }

    pthread_mutex_lock(&sp_table_lock);

    refs = --obj->refs;

    if (refs == 0) {
        for (p = &sp_table[bucket(obj->id, sp_table_size)]; *p;
             p = &(*p)->next)
        {
            if (*p == obj) {
                *p = obj->next;
                sp_table_count--;
                break;
            }
        }
    }

    pthread_mutex_unlock(&sp_table_lock);

    if (refs == 0) {
        obj->free(obj);
    }
}


__attribute__((destructor))
static void
table_free(void)
{
    /* objects still held are their holders' to free */
    if (sp_table_count == 0) {
        free(sp_table);
        sp_table = NULL;
        sp_table_size = 0;
    }
}
