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
 * The hash (sni_hash.c) is FNV-1a with a final avalanche step.  Exact and
 * trailing keys are hashed front to back, leading keys back to front: then
 * one pass each way over the servername yields the hash of every candidate
 * prefix and suffix, and a lookup costs O(length) whatever the number of
 * labels.
 *
 * Regexes are a plain array tried in order, under limits for the whole
 * name (sni_regex.c); they match into the caller's match data, so that
 * threads can share the table.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sni.h"
#include "sni_hash.h"
#include "sni_regex.h"


#define SNI_NAME_MAX    255


struct sp_sni_table {
    sni_hash_t           exact;
    sni_hash_t           leading;   /* ".example.com", hashed backwards */
    sni_hash_t           trailing;  /* "www.example." */
    sni_regexes_t        regexes;
    void               (*free_value)(void *value);
};


void
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
    if (table == NULL) {
        return;
    }

    sni_hash_free(&table->exact, table->free_value);
    sni_hash_free(&table->leading, table->free_value);
    sni_hash_free(&table->trailing, table->free_value);

    sni_regexes_free(&table->regexes, table->free_value);
    free(table);
}


/*
 * What a match writes to: one ovector pair (we only ask whether it
 * matched, not where).  Never part of the table, which threads share.
 */
sp_sni_match *
sp_sni_match_new(void)
{
    return (sp_sni_match *) pcre2_match_data_create(1, NULL);
}


void
sp_sni_match_free(sp_sni_match *match)
{
    pcre2_match_data_free((pcre2_match_data *) match);
}










/*
 * Why a name that is not a regex is invalid, or NULL: `bad` has room for
 * a reason naming a character.
 */
static const char *
sni_name_invalid(const char *name, size_t len, char *bad, size_t badlen)
{
    int            leading, trailing;
    size_t         i, start, end;
    unsigned char  c;

    if (strcmp(name, "*") == 0) {
        return "a lone \"*\" is not a wildcard, use \"*.domain\"";
    }

    leading = (len >= 2 && name[0] == '*' && name[1] == '.');
    trailing = (len >= 2 && name[len - 2] == '.' && name[len - 1] == '*');

    if (leading && trailing) {
        return "both a leading and a trailing wildcard";
    }

    /* the labels between the wildcard parts, if any */
    start = leading ? 2 : 0;
    end = trailing ? len - 2 : len;

    if (start == end) {
        return "no labels besides the wildcard";
    }

    for (i = start; i < end; i++) {
        c = (unsigned char) name[i];

        if (c == '*') {
            return "\"*\" is allowed only as a leading \"*.\" "
                   "or a trailing \".*\"";
        }

        if (c == '.') {
            if (i == start || i + 1 == end || name[i + 1] == '.') {
                return "empty label";
            }

        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                     || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            snprintf(bad, badlen,
                     (c > 0x20 && c < 0x7f) ? "invalid character '%c'"
                                            : "invalid character \\x%02x",
                     c);
            return bad;
        }
    }

    return NULL;
}


int
sp_sni_table_add(sp_sni_table *table, const char *name, void *value,
    char *err, size_t errlen)
{
    int                backwards;
    char               key[SNI_NAME_MAX + 1], bad[32];
    size_t             i, len, keylen, start;
    uint32_t           hash;
    sni_hash_t        *ht;
    const char        *why;
    const sni_slot_t  *dup;

    if (name == NULL || name[0] == '\0') {
        sni_error(err, errlen, "invalid server name \"\": empty name");
        return -1;
    }

    if (name[0] == '~') {
        return sni_regexes_add(&table->regexes, name, value, err, errlen);
    }

    len = strlen(name);

    if (len > SNI_NAME_MAX) {
        /* the start is enough to recognise it and keeps the reason */
        sni_error(err, errlen, "invalid server name \"%.32s...\": "
                  "longer than 255 bytes", name);
        return -1;
    }

    why = sni_name_invalid(name, len, bad, sizeof(bad));
    if (why != NULL) {
        sni_error(err, errlen, "invalid server name \"%s\": %s", name, why);
        return -1;
    }

    /* "*.example.com" -> ".example.com", "www.example.*" -> "www.example." */
    start = 0;
    keylen = len;
    backwards = 0;

    if (name[0] == '*') {
        ht = &table->leading;
        start = 1;
        keylen = len - 1;
        backwards = 1;

    } else if (name[len - 1] == '*') {
        ht = &table->trailing;
        keylen = len - 1;

    } else {
        ht = &table->exact;
    }

    for (i = 0; i < keylen; i++) {
        key[i] = (char) sni_lower((unsigned char) name[start + i]);
    }

    hash = sni_hash(key, keylen, backwards);

    dup = sni_hash_find(ht, key, keylen, hash);
    if (dup != NULL) {
        sni_error(err, errlen,
                  "duplicate server name \"%s\" (already added as \"%s\")",
                  name, dup->name);
        return -1;
    }

    if (sni_hash_add(ht, name, key, keylen, hash, value) != 0) {
        sni_error(err, errlen, "out of memory");
        return -2;
    }

    return 0;
}


/*
 * The longest leading wildcard for a lowercased servername: the suffix
 * starting at each dot, hashed back to front in one pass; the first dot
 * gives the longest suffix, and "*." needs a label in front.
 */
static const sni_slot_t *
sni_find_leading(const sp_sni_table *table, const char *buf, size_t len,
    const unsigned char *dots, size_t ndots)
{
    size_t             i, j;
    uint32_t           h, rev[SNI_NAME_MAX];
    const sni_slot_t  *s;

    h = SNI_FNV_BASIS;
    j = ndots;

    for (i = len; i-- > 0; /* void */) {
        h = sni_hash_step(h, (unsigned char) buf[i]);

        if (buf[i] == '.') {
            rev[--j] = h;
        }
    }

    for (j = 0; j < ndots; j++) {
        if (dots[j] == 0) {
            continue;
        }

        s = sni_hash_find(&table->leading, buf + dots[j], len - dots[j],
                          sni_hash_final(rev[j]));
        if (s != NULL) {
            return s;
        }
    }

    return NULL;
}


/*
 * The longest trailing wildcard: the prefix ending at each dot, whose
 * hashes the caller took front to back; the last dot gives the longest
 * prefix, and ".*" needs a label behind.
 */
static const sni_slot_t *
sni_find_trailing(const sp_sni_table *table, const char *buf, size_t len,
    const unsigned char *dots, const uint32_t *fwd, size_t ndots)
{
    size_t             j;
    const sni_slot_t  *s;

    for (j = ndots; j-- > 0; /* void */) {
        if ((size_t) dots[j] + 1 == len) {
            continue;
        }

        s = sni_hash_find(&table->trailing, buf, (size_t) dots[j] + 1,
                          sni_hash_final(fwd[j]));
        if (s != NULL) {
            return s;
        }
    }

    return NULL;
}




void *
sp_sni_table_find(const sp_sni_table *table, const char *servername,
    const char **matched, const char **gave_up)
{
    void          *value;
    sp_sni_match  *match = NULL;

    if (table->regexes.n) {
        match = sp_sni_match_new();
        if (match == NULL) {
            if (matched != NULL) {
                *matched = NULL;
            }

            if (gave_up != NULL) {
                *gave_up = NULL;
            }

            return NULL;
        }
    }

    value = sp_sni_table_find_in(table, servername, match, matched, gave_up);
    sp_sni_match_free(match);
    return value;
}


void *
sp_sni_table_find_in(const sp_sni_table *table, const char *servername,
    sp_sni_match *match, const char **matched, const char **gave_up)
{
    char                buf[SNI_NAME_MAX];
    size_t              i, len, ndots;
    uint32_t            h, fwd[SNI_NAME_MAX];
    unsigned char       dots[SNI_NAME_MAX];
    const sni_slot_t   *s;
    const sni_regex_t  *re;

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

    if (s == NULL && table->leading.used > 0) {
        s = sni_find_leading(table, buf, len, dots, ndots);
    }

    if (s == NULL && table->trailing.used > 0) {
        s = sni_find_trailing(table, buf, len, dots, fwd, ndots);
    }

    if (s != NULL) {
        if (matched != NULL) {
            *matched = s->name;
        }

        return s->value;
    }

    if (table->regexes.n == 0 || match == NULL) {
        return NULL;
    }

    re = sni_regexes_find(&table->regexes, servername, len,
                          (pcre2_match_data *) match, gave_up);
    if (re == NULL) {
        return NULL;
    }

    if (matched != NULL) {
        *matched = re->name;
    }

    return re->value;
}


size_t
sp_sni_table_count(const sp_sni_table *table)
{
    return table->exact.used + table->leading.used + table->trailing.used
           + table->regexes.n;
}
