/*
 * Private to the SNI table (sni.c): its regexes, tried in the order added
 * on PCRE2's interpreter, under limits for the whole name (sni_regex.c
 * says why both).
 */

#ifndef SP_SNI_REGEX_H
#define SP_SNI_REGEX_H

#include <stddef.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>


typedef struct {
    pcre2_code          *code;      /* as searched: see sni_regex.c */
    char                *name;      /* as added, "~" included */
    void                *value;
} sni_regex_t;

typedef struct {
    sni_regex_t         *items;
    size_t               n;
    size_t               nalloc;
    pcre2_match_context *match_ctx;     /* the limits */
} sni_regexes_t;


/* 0; -1 an invalid or duplicate regex; -2 out of memory (err says) */
int sni_regexes_add(sni_regexes_t *list, const char *name, void *value,
    char *err, size_t errlen);

/*
 * The first regex that matches servername[len], or NULL; *gave_up (may be
 * NULL) gets the first one that reached a limit.
 */
const sni_regex_t *sni_regexes_find(const sni_regexes_t *list,
    const char *servername, size_t len, pcre2_match_data *md,
    const char **gave_up);

void sni_regexes_free(sni_regexes_t *list, void (*free_value)(void *value));

/* The table's error message (sni.c). */
void sni_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


#endif /* SP_SNI_REGEX_H */
