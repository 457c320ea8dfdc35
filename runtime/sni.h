/*
 * The SNI table: server names (exact, *.leading, trailing.*, ~regex) mapped
 * to opaque values.  Exact and wildcard lookups are hash lookups, so their
 * cost does not grow with the number of names; regexes are tried in the
 * order added, after every other kind.
 */

#ifndef SP_SNI_H
#define SP_SNI_H

#include <stddef.h>

typedef struct sp_sni_table sp_sni_table;

/* free_value (may be NULL) is called on each value when the table is freed. */
sp_sni_table *sp_sni_table_new(void (*free_value)(void *value));
void sp_sni_table_free(sp_sni_table *table);

/*
 * Add `name` -> value.  Returns 0, or -1 with a message in err ("invalid
 * server name \"a.*.com\": ...", "duplicate server name ...", "invalid
 * regex ...: <PCRE2's words> at offset N") or -2 when out of memory.  On
 * failure the table does not keep the value.
 */
int sp_sni_table_add(sp_sni_table *table, const char *name, void *value,
    char *err, size_t errlen);

/*
 * The value for a servername by precedence (exact, longest leading
 * wildcard, longest trailing wildcard, regexes in order added), or NULL.
 * Case-insensitive.  *matched (may be NULL) gets the name as added.  A
 * regex runs under match and depth limits (25,000 and 10,000, PCRE2's
 * are ten million) for the whole name, not each starting position (see
 * sni.c): one that reaches them counts as no match, and
 * *gave_up (may be NULL) gets the first such regex as added, else NULL.
 */
void *sp_sni_table_find(const sp_sni_table *table, const char *servername,
    const char **matched, const char **gave_up);

/*
 * The same with the caller's match data, which PCRE2's interpreter keeps
 * its backtracking frames in, from one lookup to the next (allocated at
 * the first, grown by a deeper one): threads that share the table each
 * match into their own.
 * match may be NULL only when the table has no regex.
 */
typedef struct sp_sni_match  sp_sni_match;

sp_sni_match *sp_sni_match_new(void);
void sp_sni_match_free(sp_sni_match *match);
void *sp_sni_table_find_in(const sp_sni_table *table, const char *servername,
    sp_sni_match *match, const char **matched, const char **gave_up);

size_t sp_sni_table_count(const sp_sni_table *table);

#endif /* SP_SNI_H */
