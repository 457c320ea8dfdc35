/*
 * The SNI table.
 *
 * Exact names, leading wildcards and trailing wildcards live in three
 * open-addressing hash tables (linear probing, power-of-two sizes, never
 * more than half full, no deletion).  A leading wildcard "*.example.com" is
 * stored as its suffix ".example.com", a trailing one "www.example.*" as its
 * prefix "www.example.", so a lookup probes one key per dot of the
 * servername and never scans.  Keys are lowercased ASCII.
 *
 * The hash is FNV-1a with a final avalanche step.  Exact and trailing keys
 * are hashed front to back, leading keys back to front: then one pass each
 * way over the servername yields the hash of every candidate prefix and
 * suffix, and a lookup costs O(length) whatever the number of labels.
 *
 * Regexes are a plain array tried in order; they share one match data block
 * (the table is single-threaded) so a lookup never allocates.  A regex
 * runs under match and depth limits far below PCRE2's defaults: the names
 * come from the network, and a pattern that backtracks badly would
 * otherwise let one ClientHello of 255 bytes hold the worker (`^(a|aa)+$`
 * backtracks until PCRE2's limit of ten million steps; ours stops it a
 * hundred times sooner).  A regex that reaches a limit does not match;
 * the caller hears which one gave up.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "sni.h"


#define SNI_NAME_MAX    255
#define SNI_FNV_BASIS   2166136261u
#define SNI_FNV_PRIME   16777619u

/*
 * A name of 255 bytes against any sensible pattern needs a few thousand
 * steps at most: these stop only runaway backtracking.
 */
#define SNI_MATCH_LIMIT  100000
#define SNI_DEPTH_LIMIT  10000


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

typedef struct {
    pcre2_code          *code;
    char                *name;
    void                *value;
} sni_regex_t;

struct sp_sni_table {
    sni_hash_t           exact;
    sni_hash_t           leading;   /* ".example.com", hashed backwards */
    sni_hash_t           trailing;  /* "www.example." */
    sni_regex_t         *regexes;
    size_t               nregexes;
    size_t               nalloc;
    pcre2_match_data    *match_data;
    pcre2_match_context *match_ctx;     /* the limits */
    void               (*free_value)(void *value);
};


static unsigned char
sni_lower(unsigned char c)
{
    /* not tolower(): server names are ASCII and the locale must not matter */
    return (c >= 'A' && c <= 'Z') ? (unsigned char) (c | 0x20) : c;
}


static uint32_t
sni_hash_step(uint32_t h, unsigned char c)
{
    return (h ^ c) * SNI_FNV_PRIME;
}


static uint32_t
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


static uint32_t
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


static const sni_slot_t *
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


static void
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


static void sni_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


static void
sni_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
}


sp_sni_table *
sp_sni_table_new(void (*free_value)(void *value))
{
    sp_sni_table  *table;

    table = calloc(1, sizeof(sp_sni_table));
    if (table == NULL) {
        return NULL;
    }

    table->free_value = free_value;

    return table;
}


void
sp_sni_table_free(sp_sni_table *table)
{
    size_t  i;

    if (table == NULL) {
        return;
    }

    sni_hash_free(&table->exact, table->free_value);
    sni_hash_free(&table->leading, table->free_value);
    sni_hash_free(&table->trailing, table->free_value);

    for (i = 0; i < table->nregexes; i++) {
        if (table->free_value != NULL) {
            table->free_value(table->regexes[i].value);
        }

        pcre2_code_free(table->regexes[i].code);
        free(table->regexes[i].name);
    }

    free(table->regexes);
    pcre2_match_data_free(table->match_data);
    pcre2_match_context_free(table->match_ctx);
    free(table);
}


static int
sni_add_regex(sp_sni_table *table, const char *name, void *value, char *err,
    size_t errlen)
{
    int           errcode;
    char          msg[256], *copy;
    size_t        i, n, erroff;
    pcre2_code   *code;
    sni_regex_t  *regexes;

    if (name[1] == '\0') {
        sni_error(err, errlen, "invalid regex \"%s\": empty pattern", name);
        return -1;
    }

    /*
     * Regexes are compared as written: case matters in escapes (\d, \D),
     * so a case-insensitive comparison could call different patterns equal.
     */
    for (i = 0; i < table->nregexes; i++) {
        if (strcmp(table->regexes[i].name, name) == 0) {
            sni_error(err, errlen, "duplicate server name \"%s\"", name);
            return -1;
        }
    }

    code = pcre2_compile((PCRE2_SPTR) (name + 1), PCRE2_ZERO_TERMINATED,
                         PCRE2_CASELESS, &errcode, &erroff, NULL);
    if (code == NULL) {
        if (errcode == PCRE2_ERROR_HEAP_FAILED) {
            sni_error(err, errlen, "out of memory");
            return -2;
        }

        pcre2_get_error_message(errcode, (PCRE2_UCHAR *) msg, sizeof(msg));

        sni_error(err, errlen, "invalid regex \"%s\": %s at offset %zu",
                  name, msg, erroff);
        return -1;
    }

    /* JIT is an optimisation: without it (or on failure) matching works */
    (void) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);

    /* one ovector pair: we only ask whether it matched, not where */
    if (table->match_data == NULL) {
        table->match_data = pcre2_match_data_create(1, NULL);
        if (table->match_data == NULL) {
            goto nomem;
        }
    }

    if (table->match_ctx == NULL) {
        table->match_ctx = pcre2_match_context_create(NULL);
        if (table->match_ctx == NULL) {
            goto nomem;
        }

        pcre2_set_match_limit(table->match_ctx, SNI_MATCH_LIMIT);
        pcre2_set_depth_limit(table->match_ctx, SNI_DEPTH_LIMIT);
    }

    if (table->nregexes == table->nalloc) {
        n = table->nalloc ? table->nalloc * 2 : 4;

        regexes = realloc(table->regexes, n * sizeof(sni_regex_t));
        if (regexes == NULL) {
            goto nomem;
        }

        table->regexes = regexes;
        table->nalloc = n;
    }

    copy = strdup(name);
    if (copy == NULL) {
        goto nomem;
    }

    table->regexes[table->nregexes].code = code;
    table->regexes[table->nregexes].name = copy;
    table->regexes[table->nregexes].value = value;
    table->nregexes++;

    return 0;

nomem:

    pcre2_code_free(code);
    sni_error(err, errlen, "out of memory");
    return -2;
}


int
sp_sni_table_add(sp_sni_table *table, const char *name, void *value,
    char *err, size_t errlen)
{
    int                leading, trailing, backwards;
    char               key[SNI_NAME_MAX + 1], bad[32], *copy;
    size_t             i, len, keylen, start, end;
    uint32_t           hash;
    sni_hash_t        *ht;
    unsigned char      c;
    sni_slot_t         slot;
    const char        *why;
    const sni_slot_t  *dup;

    if (name == NULL || name[0] == '\0') {
        sni_error(err, errlen, "invalid server name \"\": empty name");
        return -1;
    }

    if (name[0] == '~') {
        return sni_add_regex(table, name, value, err, errlen);
    }

    len = strlen(name);

    if (len > SNI_NAME_MAX) {
        /* the start is enough to recognise it and keeps the reason */
        sni_error(err, errlen, "invalid server name \"%.32s...\": "
                  "longer than 255 bytes", name);
        return -1;
    }

    if (strcmp(name, "*") == 0) {
        sni_error(err, errlen, "invalid server name \"%s\": %s", name,
                  "a lone \"*\" is not a wildcard, use \"*.domain\"");
        return -1;
    }

    leading = (len >= 2 && name[0] == '*' && name[1] == '.');
    trailing = (len >= 2 && name[len - 2] == '.' && name[len - 1] == '*');

    if (leading && trailing) {
        sni_error(err, errlen, "invalid server name \"%s\": %s", name,
                  "both a leading and a trailing wildcard");
        return -1;
    }

    /* the labels between the wildcard parts, if any */
    start = leading ? 2 : 0;
    end = trailing ? len - 2 : len;
    why = NULL;

    if (start == end) {
        why = "no labels besides the wildcard";
    }

    for (i = start; i < end && why == NULL; i++) {
        c = (unsigned char) name[i];

        if (c == '*') {
            why = "\"*\" is allowed only as a leading \"*.\" "
                  "or a trailing \".*\"";

        } else if (c == '.') {
            if (i == start || i + 1 == end || name[i + 1] == '.') {
                why = "empty label";
            }

        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                     || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            snprintf(bad, sizeof(bad),
                     (c > 0x20 && c < 0x7f) ? "invalid character '%c'"
                                            : "invalid character \\x%02x",
                     c);
            why = bad;
        }
    }

    if (why != NULL) {
        sni_error(err, errlen, "invalid server name \"%s\": %s", name, why);
        return -1;
    }

    /* "*.example.com" -> ".example.com", "www.example.*" -> "www.example." */
    if (leading) {
        ht = &table->leading;
        start = 1;
        end = len;
        backwards = 1;

    } else if (trailing) {
        ht = &table->trailing;
        start = 0;
        end = len - 1;
        backwards = 0;

    } else {
        ht = &table->exact;
        start = 0;
        end = len;
        backwards = 0;
    }

    keylen = end - start;

    for (i = 0; i < keylen; i++) {
        key[i] = (char) sni_lower((unsigned char) name[start + i]);
    }

    key[keylen] = '\0';
    hash = sni_hash(key, keylen, backwards);

    dup = sni_hash_find(ht, key, keylen, hash);
    if (dup != NULL) {
        sni_error(err, errlen,
                  "duplicate server name \"%s\" (already added as \"%s\")",
                  name, dup->name);
        return -1;
    }

    copy = malloc(len + 1 + keylen + 1);
    if (copy == NULL) {
        goto nomem;
    }

    if (sni_hash_reserve(ht) != 0) {
        free(copy);
        goto nomem;
    }

    memcpy(copy, name, len + 1);
    memcpy(copy + len + 1, key, keylen + 1);

    slot.key = copy + len + 1;
    slot.name = copy;
    slot.value = value;
    slot.hash = hash;
    slot.keylen = (uint32_t) keylen;

    sni_hash_place(ht->slots, ht->size, &slot);
    ht->used++;

    return 0;

nomem:

    sni_error(err, errlen, "out of memory");
    return -2;
}


void *
sp_sni_table_find(const sp_sni_table *table, const char *servername,
    const char **matched, const char **gave_up)
{
    int                rc;
    char               buf[SNI_NAME_MAX];
    size_t             i, j, len, ndots;
    uint32_t           h, fwd[SNI_NAME_MAX], rev[SNI_NAME_MAX];
    unsigned char      dots[SNI_NAME_MAX];
    const sni_slot_t  *s;

    if (matched != NULL) {
        *matched = NULL;
    }

    if (gave_up != NULL) {
        *gave_up = NULL;
    }

    if (servername == NULL) {
        return NULL;
    }

    len = strnlen(servername, SNI_NAME_MAX + 1);
    if (len > SNI_NAME_MAX) {
        return NULL;
    }

    /*
     * Lowercase, hash front to back, and note where the dots are with the
     * hash of the prefix ending at each: the trailing wildcard keys.
     */
    h = SNI_FNV_BASIS;
    ndots = 0;

    for (i = 0; i < len; i++) {
        buf[i] = (char) sni_lower((unsigned char) servername[i]);
        h = sni_hash_step(h, (unsigned char) buf[i]);

        if (buf[i] == '.') {
            dots[ndots] = (unsigned char) i;
            fwd[ndots] = h;
            ndots++;
        }
    }

    s = sni_hash_find(&table->exact, buf, len, sni_hash_final(h));
    if (s != NULL) {
        goto found;
    }

    if (table->leading.used > 0) {
        /* hash back to front: the suffix starting at each dot */
        h = SNI_FNV_BASIS;
        j = ndots;

        for (i = len; i-- > 0; /* void */) {
            h = sni_hash_step(h, (unsigned char) buf[i]);

            if (buf[i] == '.') {
                rev[--j] = h;
            }
        }

        /* the first dot gives the longest suffix; "*." needs a label */
        for (j = 0; j < ndots; j++) {
            if (dots[j] == 0) {
                continue;
            }

            s = sni_hash_find(&table->leading, buf + dots[j], len - dots[j],
                              sni_hash_final(rev[j]));
            if (s != NULL) {
                goto found;
            }
        }
    }

    if (table->trailing.used > 0) {
        /* the last dot gives the longest prefix; ".*" needs a label */
        for (j = ndots; j-- > 0; /* void */) {
            if ((size_t) dots[j] + 1 == len) {
                continue;
            }

            s = sni_hash_find(&table->trailing, buf, (size_t) dots[j] + 1,
                              sni_hash_final(fwd[j]));
            if (s != NULL) {
                goto found;
            }
        }
    }

    for (i = 0; i < table->nregexes; i++) {
        rc = pcre2_match(table->regexes[i].code, (PCRE2_SPTR) servername, len,
                         0, 0, table->match_data, table->match_ctx);

        /* 0 means "matched, ovector too small": still a match */
        if (rc >= 0) {
            if (matched != NULL) {
                *matched = table->regexes[i].name;
            }

            return table->regexes[i].value;
        }

        /* a limit reached (or any failure to decide) is no match */
        if (rc != PCRE2_ERROR_NOMATCH && gave_up != NULL && *gave_up == NULL)
        {
            *gave_up = table->regexes[i].name;
        }
    }

    return NULL;

found:

    if (matched != NULL) {
        *matched = s->name;
    }

    return s->value;
}


size_t
sp_sni_table_count(const sp_sni_table *table)
{
    return table->exact.used + table->leading.used + table->trailing.used
           + table->nregexes;
}
