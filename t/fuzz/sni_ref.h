/*
 * A slow reference for SNI context names, written from the documented
 * rules (runtime/securepair.h sp_ctx_add_context, runtime/sni.h), not
 * from runtime/sni.c:
 *
 *   a.example.com        exact
 *   *.example.com        leading wildcard: one or more labels in front
 *   www.example.*        trailing wildcard: one or more labels behind
 *   ~regex               PCRE2, matched case-insensitively
 *
 *   Names are case-insensitive.  Invalid: "", "*", "foo*bar", "a.*.com",
 *   a bad regex; a name added twice.  Precedence: exact, the longest
 *   leading wildcard, the longest trailing wildcard, regexes in the order
 *   added.
 *
 * Where the documentation is silent we take what DNS and the runtime's
 * messages say: a label is 1+ of [A-Za-z0-9_-]; a non-regex name is at
 * most 255 bytes; regexes are duplicates only when written identically
 * (case matters in escapes such as \d and \D); a servername longer than
 * 255 bytes (more than SNI can carry) matches nothing.
 *
 * A linear scan over every entry: simple enough to trust.
 */

#ifndef SP_FUZZ_SNI_REF_H
#define SP_FUZZ_SNI_REF_H

#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>


enum {
    REF_EXACT,
    REF_LEADING,
    REF_TRAILING,
    REF_REGEX
};

#define REF_MAX  128

typedef struct {
    int          kind;
    char        *name;           /* as added */
    char         core[256];      /* lowercased labels, no wildcard */
    size_t       core_len;
    pcre2_code  *re;
    int          index;          /* the caller's id */
} ref_entry;

typedef struct {
    ref_entry          e[REF_MAX];
    size_t             n;
    pcre2_match_data  *md;
} ref_table;


static inline char
ref_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}


static inline int
ref_label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


/*
 * Whether `name` is a valid name; fills kind, core (lowercased) and, for
 * a regex, the compiled pattern (the caller frees it).
 */
static inline int
ref_parse(const char *name, ref_entry *out)
{
    size_t       len, i, n;
    const char  *s;
    int          errcode;
    PCRE2_SIZE   erroff;

    memset(out, 0, sizeof(*out));
    len = strlen(name);

    if (len == 0) {
        return 0;
    }

    if (name[0] == '~') {
        if (len == 1) {
            return 0;
        }

        out->kind = REF_REGEX;
        out->re = pcre2_compile((PCRE2_SPTR) name + 1, len - 1,
                                PCRE2_CASELESS, &errcode, &erroff, NULL);
        return out->re != NULL;
    }

    if (len > 255) {
        return 0;
    }

    s = name;
    n = len;
    out->kind = REF_EXACT;

    if (n >= 2 && s[0] == '*' && s[1] == '.') {
        out->kind = REF_LEADING;
        s += 2;
        n -= 2;
    }

    if (n >= 2 && s[n - 2] == '.' && s[n - 1] == '*') {
        if (out->kind == REF_LEADING) {
            return 0;                      /* "*.x.*" */
        }
        out->kind = REF_TRAILING;
        n -= 2;
    }

    /* labels separated by single dots, nothing else */
    if (n == 0) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (i == 0 || i + 1 == n || s[i + 1] == '.') {
                return 0;
            }
        } else if (!ref_label_char(s[i])) {
            return 0;
        }
        out->core[i] = ref_lower(s[i]);
    }

    out->core[n] = '\0';
    out->core_len = n;
    return 1;
}


static inline int
ref_is_dup(const ref_table *t, const char *name, const ref_entry *e)
{
    size_t  i;

    for (i = 0; i < t->n; i++) {
        if (t->e[i].kind != e->kind) {
            continue;
        }

        if (e->kind == REF_REGEX ? strcmp(t->e[i].name, name) == 0
                                 : strcmp(t->e[i].core, e->core) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* 1 when the reference accepts the name (and keeps it), 0 when not. */
static inline int
ref_add(ref_table *t, const char *name, int index)
{
    ref_entry  e;

    if (t->n == REF_MAX) {
        return -1;
    }

    if (!ref_parse(name, &e)) {
        return 0;
    }

    if (ref_is_dup(t, name, &e)) {
        pcre2_code_free(e.re);
        return 0;
    }

    e.name = strdup(name);
    e.index = index;
    t->e[t->n++] = e;
    return 1;
}


/*
 * The entry a servername selects, or NULL.  *unsure is set when PCRE2
 * could not decide (a match limit): the caller then skips the comparison.
 */
static inline const ref_entry *
ref_find(ref_table *t, const char *sn, int *unsure)
{
    char              low[256];
    size_t            len, i, cl;
    const ref_entry  *best;
    int               rc;

    *unsure = 0;
    len = strlen(sn);

    if (len > 255) {
        return NULL;
    }

    for (i = 0; i < len; i++) {
        low[i] = ref_lower(sn[i]);
    }
    low[len] = '\0';

    for (i = 0; i < t->n; i++) {
        if (t->e[i].kind == REF_EXACT && strcmp(t->e[i].core, low) == 0) {
            return &t->e[i];
        }
    }

    /* "<one or more labels>.<core>": a non-empty front, then a dot */
    best = NULL;
    for (i = 0; i < t->n; i++) {
        cl = t->e[i].core_len;
        if (t->e[i].kind == REF_LEADING && len >= cl + 2
            && low[len - cl - 1] == '.'
            && memcmp(low + len - cl, t->e[i].core, cl) == 0
            && (best == NULL || cl > best->core_len))
        {
            best = &t->e[i];
        }
    }
    if (best != NULL) {
        return best;
    }

    /* "<core>.<one or more labels>" */
    for (i = 0; i < t->n; i++) {
        cl = t->e[i].core_len;
        if (t->e[i].kind == REF_TRAILING && len >= cl + 2 && low[cl] == '.'
            && memcmp(low, t->e[i].core, cl) == 0
            && (best == NULL || cl > best->core_len))
        {
            best = &t->e[i];
        }
    }
    if (best != NULL) {
        return best;
    }

    if (t->md == NULL) {
        t->md = pcre2_match_data_create(1, NULL);
    }

    for (i = 0; i < t->n; i++) {
        if (t->e[i].kind != REF_REGEX) {
            continue;
        }

        rc = pcre2_match(t->e[i].re, (PCRE2_SPTR) sn, len, 0, 0, t->md,
                         NULL);
        if (rc >= 0) {
            return &t->e[i];
        }
        if (rc != PCRE2_ERROR_NOMATCH) {
            *unsure = 1;
            return NULL;
        }
    }

    return NULL;
}


static inline void
ref_free(ref_table *t)
{
    size_t  i;

    for (i = 0; i < t->n; i++) {
        free(t->e[i].name);
        pcre2_code_free(t->e[i].re);
    }

    pcre2_match_data_free(t->md);
    t->n = 0;
    t->md = NULL;
}


/* ---- generating names from the input ----------------------------------- */

static const char *const  ref_labels[] = {
    "a", "b", "c", "www", "api", "x", "example", "com", "net", "org",
    "A", "WWW", "Example", "1", "x-y", "_t", "ab", "a1", "mail", "co",
    "COM", "api7", "y", "Z"
};

#define REF_NLABELS  (sizeof(ref_labels) / sizeof(ref_labels[0]))


static inline void
ref_gen_labels(fz_reader *r, fz_buf *b, unsigned max)
{
    static const char  chars[] = "abcAB-_0z.";
    unsigned           i, k, n, c;

    n = 1 + fz_byte(r) % max;

    for (i = 0; i < n; i++) {
        if (i > 0) {
            fz_buf_add(b, ".", 1);
        }

        c = fz_byte(r);

        if (c < 224) {
            fz_buf_add(b, ref_labels[c % REF_NLABELS],
                       strlen(ref_labels[c % REF_NLABELS]));
        } else {
            /* a made-up label, now and then with a stray dot in it */
            for (k = 0; k < 1 + c % 4; k++) {
                fz_buf_add(b, &chars[fz_byte(r) % (sizeof(chars) - 1)], 1);
            }
        }
    }
}


/* A regex from a small grammar: bounded, never catastrophic (at most one
   unbounded repetition, no nested quantifiers). */
static inline void
ref_gen_regex(fz_reader *r, fz_buf *b)
{
    static const char *const  atoms[] = {
        "\\.", "[a-z]", "[0-9]", "(www|api|a)", ".", "\\d", "[^.]",
        "(?:x|y)", "[A-Z]", "-"
    };
    unsigned  i, n, a, q, unbounded = 0, c;

    c = fz_byte(r);
    fz_buf_add(b, "~", 1);

    if (c & 1) {
        fz_buf_add(b, "^", 1);
    }

    n = 1 + (c >> 1) % 5;

    for (i = 0; i < n; i++) {
        a = fz_byte(r);

        if (a % 12 < 10) {
            fz_buf_add(b, atoms[a % 10], strlen(atoms[a % 10]));
        } else {
            fz_buf_add(b, ref_labels[(a >> 4) % REF_NLABELS],
                       strlen(ref_labels[(a >> 4) % REF_NLABELS]));
        }

        q = fz_byte(r) % 7;

        if (q == 3) {
            fz_buf_add(b, "?", 1);
        } else if (q == 4) {
            fz_buf_add(b, "{1,3}", 5);
        } else if (q >= 5 && !unbounded) {
            fz_buf_add(b, q == 5 ? "+" : "*", 1);
            unbounded = 1;
        }
    }

    if (c & 0x80) {
        fz_buf_add(b, "$", 1);
    }
}


static const char *const  ref_bad_names[] = {
    "", "*", "*.*", "a.*.com", "foo*bar", "*.a.*", ".a", "a.", "a..b",
    "*.", ".*", "~", "~(", "~[a-", "~a{2,1}", "~\\", "a b", "a.b/c",
    "\xc3\xa9.com", "*.*.com", "**.a", "a.**", "*a.com", "a*.com",
    "~(?<n>a)\\k<m>", "*..a", "a..*", "-.a", "a.-", "~)"
};

#define REF_NBAD  (sizeof(ref_bad_names) / sizeof(ref_bad_names[0]))


/* Upper- or lower-cases some ASCII letters, as the input says. */
static inline void
ref_flip_case(fz_reader *r, char *s)
{
    unsigned  mask = fz_byte(r);
    size_t    i;

    for (i = 0; s[i]; i++) {
        if ((mask >> (i % 8)) & 1) {
            if (s[i] >= 'a' && s[i] <= 'z') {
                s[i] = (char) (s[i] - 'a' + 'A');
            } else if (s[i] >= 'A' && s[i] <= 'Z') {
                s[i] = (char) (s[i] - 'A' + 'a');
            }
        }
    }
}


/* A name to add: mostly valid, sometimes not, sometimes a duplicate. */
static inline void
ref_gen_name(fz_reader *r, fz_buf *b, const ref_table *t)
{
    unsigned  k, n, i, c;

    b->len = 0;
    k = fz_byte(r) % 11;

    switch (k) {
    case 0: case 1: case 2:
        ref_gen_labels(r, b, 4);
        break;
    case 3:
        fz_buf_add(b, "*.", 2);
        ref_gen_labels(r, b, 3);
        break;
    case 4:
        ref_gen_labels(r, b, 3);
        fz_buf_add(b, ".*", 2);
        break;
    case 5:
        ref_gen_regex(r, b);
        break;
    case 6:
        /* raw bytes from the input */
        n = fz_byte(r) % 48;
        for (i = 0; i < n; i++) {
            c = fz_byte(r);
            if (c == 0) {
                break;
            }
            fz_buf_add(b, &(char) { (char) c }, 1);
        }
        break;
    case 7:
        c = fz_byte(r) % REF_NBAD;
        fz_buf_add(b, ref_bad_names[c], strlen(ref_bad_names[c]));
        break;
    case 8:
        /* long: 250..260 bytes of labels */
        n = 250 + fz_byte(r) % 11;
        for (i = 0; i < n; i++) {
            fz_buf_add(b, (i % 10 == 9 && i + 1 < n) ? "." : "a", 1);
        }
        break;
    default:
        /* a duplicate, its case changed */
        if (t->n > 0) {
            const char  *name = t->e[fz_byte(r) % t->n].name;

            fz_buf_add(b, name, strlen(name));
            fz_buf_add(b, "", 1);
            ref_flip_case(r, (char *) b->data);
            b->len--;
        } else {
            ref_gen_labels(r, b, 2);
        }
        break;
    }

    fz_buf_add(b, "", 1);
}


/* A servername to look up: mostly derived from the names added. */
static inline void
ref_gen_lookup(fz_reader *r, fz_buf *b, const ref_table *t)
{
    const ref_entry  *e;
    unsigned          k, n, i, c;

    b->len = 0;
    k = fz_byte(r) % 8;

    if (t->n == 0 && k < 4) {
        k = 4;
    }

    e = t->n ? &t->e[fz_byte(r) % t->n] : NULL;

    switch (k) {
    case 0: case 1:
        /* what the entry stands for */
        if (e->kind == REF_LEADING) {
            ref_gen_labels(r, b, 3);
            fz_buf_add(b, ".", 1);
            fz_buf_add(b, e->core, e->core_len);
        } else if (e->kind == REF_TRAILING) {
            fz_buf_add(b, e->core, e->core_len);
            fz_buf_add(b, ".", 1);
            ref_gen_labels(r, b, 3);
        } else if (e->kind == REF_EXACT) {
            fz_buf_add(b, e->core, e->core_len);
        } else {
            ref_gen_labels(r, b, 4);
        }
        break;
    case 2:
        /* the entry's own text: "*.x" and "x.*" as servernames */
        fz_buf_add(b, e->name, strlen(e->name));
        break;
    case 3:
        /* near misses: a dot in front or behind, the bare core */
        c = fz_byte(r) % 4;
        if (c == 0) {
            fz_buf_add(b, ".", 1);
        }
        fz_buf_add(b, e->core, e->core_len);
        if (c == 1) {
            fz_buf_add(b, ".", 1);
        }
        if (c == 2) {
            fz_buf_add(b, "..", 2);
            ref_gen_labels(r, b, 1);
        }
        break;
    case 4: case 5:
        ref_gen_labels(r, b, 6);
        break;
    case 6:
        n = fz_byte(r) * 2;
        for (i = 0; i < n; i++) {
            c = fz_byte(r);
            if (c == 0) {
                break;
            }
            fz_buf_add(b, &(char) { (char) c }, 1);
        }
        break;
    default:
        /* around the length limit */
        n = 250 + fz_byte(r) % 11;
        for (i = 0; i < n; i++) {
            fz_buf_add(b, (i % 4 == 3) ? "." : "a", 1);
        }
        fz_buf_add(b, ".example.com", 12);
        break;
    }

    fz_buf_add(b, "", 1);

    if (fz_byte(r) & 1) {
        ref_flip_case(r, (char *) b->data);
    }
}

#endif /* SP_FUZZ_SNI_REF_H */
