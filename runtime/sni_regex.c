/*
 * The SNI table's regexes (sni.c), tried in the order added.
 *
 * They run on PCRE2's interpreter, not its JIT: PCRE2 10.42's JIT (Debian
 * 12's) misses matches, such as "(www|api|a)-*[a-z]" on "api7.com", and a
 * miss serves the wrong context.  The caller's match data keeps the
 * interpreter's backtracking frames from one lookup to the next.
 *
 * A regex runs under match and depth limits far below PCRE2's defaults:
 * the names come from the network, and a pattern that backtracks badly
 * would otherwise let one ClientHello of 255 bytes hold the worker
 * (`^(a|aa)+$` backtracks until PCRE2's limit of ten million steps; ours
 * stops it four hundred times sooner).  PCRE2 counts its limit afresh at
 * each starting position, so a regex that is not anchored is searched as
 * an anchored one behind a lazy "(?s:.*?)": the limit then bounds the
 * whole name, not each of its 255 positions ("(.+)\.(.+)\.example\.com$"
 * on a dotted name of 251 bytes: some 17 ms before, 0.3 ms now).  A regex
 * that reaches a limit does not match; the caller hears which one gave up.
 */

#include <stdlib.h>
#include <string.h>

#include "sni_regex.h"


/*
 * A name that a sensible pattern matches is found in a few hundred steps;
 * the limits stop runaway backtracking, in about 0.3 ms of PCRE2's
 * interpreter for the whole name.
 */
#define SNI_MATCH_LIMIT  25000
#define SNI_DEPTH_LIMIT  10000


/* Room for one more regex, and the limits every match runs under. */
static int
sni_regex_room(sni_regexes_t *list)
{
    size_t        n;
    sni_regex_t  *items;

    if (list->match_ctx == NULL) {
        list->match_ctx = pcre2_match_context_create(NULL);
        if (list->match_ctx == NULL) {
            return -1;
        }

        pcre2_set_match_limit(list->match_ctx, SNI_MATCH_LIMIT);
        pcre2_set_depth_limit(list->match_ctx, SNI_DEPTH_LIMIT);
    }

    if (list->n == list->nalloc) {
        n = list->nalloc ? list->nalloc * 2 : 4;

        items = realloc(list->items, n * sizeof(sni_regex_t));
        if (items == NULL) {
            return -1;
        }

        list->items = items;
        list->nalloc = n;
    }

    return 0;
}


/*
 * Whether a pattern may be put inside "(?s:.*?)(?:...)": not one with a
 * (*VERB), since settings such as (*UCP) must open the pattern and
 * (*SKIP), (*PRUNE) or (*THEN) act otherwise in an anchored search; nor one
 * that calls itself as a whole, which would then call the prefix too.
 */
static int
sni_regex_wrappable(const char *pattern)
{
    /* the ways to call group 0 ("(?+0)" and the like do not compile) */
    static const char *const  whole[] = {
        "(?R", "(?0", "\\g<0>", "\\g'0'"
    };
    size_t  i;

    if (strstr(pattern, "(*") != NULL) {
        return 0;
    }

    for (i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        if (strstr(pattern, whole[i]) != NULL) {
            return 0;
        }
    }

    return 1;
}


/*
 * The compiled pattern as it is searched: `plain` itself when PCRE2 found
 * it anchored (every branch starts with ^ or \A), else the pattern
 * behind a lazy prefix, anchored, so that one match limit covers every
 * starting position (see the top).  A pattern the prefix does not suit
 * stays as it is, with PCRE2's limit per position.
 */
static pcre2_code *
sni_regex_searched(const char *pattern, pcre2_code *plain)
{
    int          errcode;
    char        *wrapped;
    size_t       len, erroff;
    uint32_t     options;
    pcre2_code  *code;

    static const char  prefix[] = "(?s:.*?)(?:";

    if (pcre2_pattern_info(plain, PCRE2_INFO_ALLOPTIONS, &options) != 0
        || (options & PCRE2_ANCHORED) || !sni_regex_wrappable(pattern))
    {
        return plain;
    }

    len = strlen(pattern);
    wrapped = malloc(sizeof(prefix) + len + 1);
    if (wrapped == NULL) {
        return NULL;
    }

    memcpy(wrapped, prefix, sizeof(prefix) - 1);
    memcpy(wrapped + sizeof(prefix) - 1, pattern, len);
    memcpy(wrapped + sizeof(prefix) - 1 + len, ")", 2);

    code = pcre2_compile((PCRE2_SPTR) wrapped, PCRE2_ZERO_TERMINATED,
                         PCRE2_CASELESS | PCRE2_ANCHORED, &errcode, &erroff,
                         NULL);
    free(wrapped);

    if (code == NULL) {
        /* (?x) comments that eat the ")", say: the pattern as written */
        return errcode == PCRE2_ERROR_HEAP_FAILED ? NULL : plain;
    }

    pcre2_code_free(plain);
    return code;
}


int
sni_regexes_add(sni_regexes_t *list, const char *name, void *value,
    char *err, size_t errlen)
{
    int           errcode;
    char          msg[256], *copy;
    size_t        i, erroff;
    pcre2_code   *code, *searched;

    if (name[1] == '\0') {
        sni_error(err, errlen, "invalid regex \"%s\": empty pattern", name);
        return -1;
    }

    /*
     * Regexes are compared as written: case matters in escapes (\d, \D),
     * so a case-insensitive comparison could call different patterns equal.
     */
    for (i = 0; i < list->n; i++) {
        if (strcmp(list->items[i].name, name) == 0) {
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

    /* no pcre2_jit_compile(): see the top */
    searched = sni_regex_searched(name + 1, code);
    if (searched == NULL) {
        goto nomem;
    }

    code = searched;

    if (sni_regex_room(list) != 0) {
        goto nomem;
    }

    copy = strdup(name);
    if (copy == NULL) {
        goto nomem;
    }

    list->items[list->n].code = code;
    list->items[list->n].name = copy;
    list->items[list->n].value = value;
    list->n++;

    return 0;

nomem:

    pcre2_code_free(code);
    sni_error(err, errlen, "out of memory");
    return -2;
}


/* The first regex, in the order added, that matches the servername. */
const sni_regex_t *
sni_regexes_find(const sni_regexes_t *list, const char *servername,
    size_t len, pcre2_match_data *md, const char **gave_up)
{
    int     rc;
    size_t  i;

    for (i = 0; i < list->n; i++) {
        rc = pcre2_match(list->items[i].code, (PCRE2_SPTR) servername, len,
                         0, 0, md, list->match_ctx);

        /* 0 means "matched, ovector too small": still a match */
        if (rc >= 0) {
            return &list->items[i];
        }

        /* a limit reached (or any failure to decide) is no match */
        if (rc != PCRE2_ERROR_NOMATCH && gave_up != NULL && *gave_up == NULL)
        {
            *gave_up = list->items[i].name;
        }
    }

    return NULL;
}


void
sni_regexes_free(sni_regexes_t *list, void (*free_value)(void *value))
{
    size_t  i;

    for (i = 0; i < list->n; i++) {
        if (free_value != NULL) {
            free_value(list->items[i].value);
        }

        pcre2_code_free(list->items[i].code);
        free(list->items[i].name);
    }

    free(list->items);
    pcre2_match_context_free(list->match_ctx);
}
