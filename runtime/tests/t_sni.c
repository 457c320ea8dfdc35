/*
 * Unit tests for the SNI table (runtime/sni.c): name kinds, precedence,
 * case, validation, ownership of values, and that lookups do not scan.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sni.h"
#include "tap.h"


#define BIG  100000

static int  freed[64], freed_total;
static int  vals[64];


static void
count_free(void *value)
{
    freed[(int *) value - vals]++;
    freed_total++;
}


/* Look servername up and compare the name matched (NULL: no match). */

static void
check(sp_sni_table *t, const char *servername, const char *want)
{
    void        *v;
    const char  *matched;

    matched = "not touched";
    v = sp_sni_table_find(t, servername, &matched, NULL);

    if (want == NULL) {
        ok(v == NULL && matched == NULL, "\"%s\" matches nothing",
           servername);
        if (matched != NULL) {
            diag("got \"%s\"", matched);
        }
        return;
    }

    if (!ok(v != NULL && matched != NULL && strcmp(matched, want) == 0,
            "\"%s\" -> \"%s\"", servername, want))
    {
        diag("got \"%s\"", matched ? matched : "(null)");
    }
}


typedef struct {
    const char  *servername;
    const char  *want;          /* the name matched, NULL: none */
} find_case;

#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))


static void
check_all(sp_sni_table *t, const find_case *cases, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        check(t, cases[i].servername, cases[i].want);
    }
}


/* Add with a fresh value that must never be freed. */

static int
add(sp_sni_table *t, const char *name, char *err, size_t errlen)
{
    static int  dummy;

    return sp_sni_table_add(t, name, &dummy, err, errlen);
}


static void
test_kinds(void)
{
    static const find_case  kinds[] = {
        { "a.example.com", "a.example.com" },
        { "b.example.com", NULL },
        { "example.com", NULL },
        { "a.example.com.x", NULL },

        { "x.example.org", "*.example.org" },
        { "y.x.example.org", "*.example.org" },
        { "a.b.c.d.example.org", "*.example.org" },
        { "example.org", NULL },
        { "xexample.org", NULL },
        { ".example.org", NULL },

        { "www.example.com", "www.example.*" },
        { "www.example.co.uk", "www.example.*" },
        { "www.example", NULL },
        { "www.example.", NULL },
        { "www.examplex.com", NULL },
        { "x.www.example.com", NULL },
    };

    static const find_case  regexes[] = {
        { "api.example.net", "~^(api|www)\\.example\\.net$" },
        { "www.example.net", "~^(api|www)\\.example\\.net$" },
        { "ftp.example.net", NULL },
        { "api.example.net.evil", NULL },

        { "", NULL },
    };

    sp_sni_table  *t;
    char           err[256];

    t = sp_sni_table_new(NULL);

    is_int(add(t, "a.example.com", err, sizeof(err)), 0, "add exact");
    is_int(add(t, "*.example.org", err, sizeof(err)), 0, "add leading");
    is_int(add(t, "www.example.*", err, sizeof(err)), 0, "add trailing");
    is_int(sp_sni_table_count(t), 3, "count is 3");

    check_all(t, kinds, NELTS(kinds));

    /* a trailing wildcard beats a regex: this one is on its own */
    sp_sni_table_free(t);
    t = sp_sni_table_new(NULL);

    is_int(add(t, "~^(api|www)\\.example\\.net$", err, sizeof(err)), 0,
           "add regex");
    is_int(sp_sni_table_count(t), 1, "count is 1");

    check_all(t, regexes, NELTS(regexes));
    ok(sp_sni_table_find(t, "api.example.net", NULL, NULL) != NULL,
       "matched may be NULL");
    ok(sp_sni_table_find(t, NULL, NULL, NULL) == NULL, "NULL servername");

    sp_sni_table_free(t);
}


static void
test_precedence(void)
{
    static const find_case  order[] = {
        { "a.b.c.example.com", "a.b.c.example.com" },  /* exact first */
        { "x.c.example.com", "*.c.example.com" },      /* longer leading */
        { "x.d.example.com", "*.example.com" },
        { "z.b.c.example.com", "*.c.example.com" },    /* leading > trail */
        { "a.b.c.example.org", "a.b.c.example.*" },    /* longer trailing */
        { "b.x.org", "b.*" },                          /* trailing > regex */
        { "q.org", "~\\.org$" },                       /* regex order */
        { "q.net", "~^q" },
        { "c.net", NULL },
    };

    sp_sni_table  *t;
    char           err[256];
    const char   **n;
    int            rc;

    static const char  *names[] = {
        "~\\.org$",                 /* regexes first: order matters only */
        "~^q",                      /* among regexes */
        "b.*",
        "a.*",
        "a.b.c.example.*",
        "*.example.com",
        "*.c.example.com",
        "a.b.c.example.com",
        "z.b.*",
        NULL
    };

    t = sp_sni_table_new(NULL);
    rc = 0;

    for (n = names; *n; n++) {
        rc |= add(t, *n, err, sizeof(err));
    }

    is_int(rc, 0, "precedence names added");

    check_all(t, order, NELTS(order));

    sp_sni_table_free(t);
}


static void
test_case(void)
{
    static const find_case  cases[] = {
        { "mixed.example.com", "MiXeD.Example.COM" },
        { "MIXED.EXAMPLE.COM", "MiXeD.Example.COM" },
        { "X.uPPer.org", "*.Upper.ORG" },
        { "www.trail.NET", "WWW.Trail.*" },
        { "ABC.Com", "~^abc\\.com$" },
    };

    sp_sni_table  *t;
    char           err[256];

    t = sp_sni_table_new(NULL);

    add(t, "MiXeD.Example.COM", err, sizeof(err));
    add(t, "*.Upper.ORG", err, sizeof(err));
    add(t, "WWW.Trail.*", err, sizeof(err));
    add(t, "~^abc\\.com$", err, sizeof(err));

    check_all(t, cases, NELTS(cases));

    sp_sni_table_free(t);
}


static void
test_invalid(void)
{
    sp_sni_table  *t;
    char           err[256], quoted[300], longname[300];
    size_t         i;
    int            rc;

    static const struct {
        const char  *name;
        const char  *why;
    } bad[] = {
        { "", "empty name" },
        { "*", "lone \"*\"" },
        { "foo*bar", "only as a leading" },
        { "a.*.com", "only as a leading" },
        { "*.*.com", "only as a leading" },
        { "*example.com", "only as a leading" },
        { "www.example*", "only as a leading" },
        { "*.example.*", "both a leading and a trailing" },
        { "a..b", "empty label" },
        { ".a.b", "empty label" },
        { "a.b.", "empty label" },
        { "*..a", "empty label" },
        { "*.", "no labels" },
        { ".*", "no labels" },
        { "a b.com", "invalid character \\x20" },
        { "a/b.com", "invalid character '/'" },
        { "caf\xc3\xa9.com", "invalid character \\xc3" },
        { "~", "empty pattern" },
        { "~(", "missing closing parenthesis at offset 1" },
        { "~a[b", "missing terminating ]" },
    };

    t = sp_sni_table_new(count_free);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        rc = sp_sni_table_add(t, bad[i].name, &vals[0], err, sizeof(err));
        snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i].name);

        if (!ok(rc == -1 && strstr(err, bad[i].why) != NULL
                && strstr(err, quoted) != NULL,
                "\"%s\" rejected: %s", bad[i].name, bad[i].why))
        {
            diag("rc %d, err: %s", rc, err);
        }
    }

    ok(strstr(err, "invalid regex") != NULL, "regex error says so: %s", err);

    memset(longname, 'a', 256);
    longname[256] = '\0';
    longname[100] = '.';
    rc = sp_sni_table_add(t, longname, &vals[0], err, sizeof(err));
    ok(rc == -1 && strstr(err, "longer than 255") != NULL,
       "256-byte name rejected");

    longname[255] = '\0';
    is_int(sp_sni_table_add(t, longname, &vals[1], err, sizeof(err)), 0,
           "255-byte name accepted");
    check(t, longname, longname);

    rc = sp_sni_table_add(t, "under_score-1.example.com", &vals[2], err,
                          sizeof(err));
    is_int(rc, 0, "'_' and '-' allowed");

    /* errors survive a small or absent buffer */
    is_int(sp_sni_table_add(t, "a..b", &vals[0], err, 8), -1,
           "error into an 8-byte buffer");
    is_int(strlen(err), 7, "message truncated");
    is_int(sp_sni_table_add(t, "a..b", &vals[0], NULL, 0), -1,
           "error without a buffer");
    is_int(sp_sni_table_add(t, NULL, &vals[0], NULL, 0), -1, "NULL name");

    is_int(sp_sni_table_count(t), 2, "invalid names not counted");
    sp_sni_table_free(t);

    is_int(freed[0], 0, "rejected values never freed");
    is_int(freed[1] + freed[2], 2, "accepted values freed");
    memset(freed, 0, sizeof(freed));
    freed_total = 0;
}


static void
test_duplicates_and_free(void)
{
    sp_sni_table  *t;
    char           err[256];
    int            i, n;

    static const struct {
        const char  *name;
        int          rc;
    } adds[] = {
        { "a.com", 0 },
        { "A.COM", -1 },
        { "*.a.com", 0 },            /* other kinds: not duplicates */
        { "*.A.Com", -1 },
        { "a.*", 0 },
        { "A.*", -1 },
        { "~^a\\.com$", 0 },
        { "~^a\\.com$", -1 },
        { "~^A\\.com$", 0 },         /* regexes compare as written */
        { "b.com", 0 },
    };

    n = sizeof(adds) / sizeof(adds[0]);
    t = sp_sni_table_new(count_free);

    for (i = 0; i < n; i++) {
        err[0] = '\0';

        if (!ok(sp_sni_table_add(t, adds[i].name, &vals[i], err, sizeof(err))
                == adds[i].rc
                && (adds[i].rc == 0 || strstr(err, "duplicate server name")),
                "add \"%s\" -> %d", adds[i].name, adds[i].rc))
        {
            diag("err: %s", err);
        }
    }

    sp_sni_table_add(t, "A.COM", &vals[1], err, sizeof(err));
    ok(strstr(err, "\"A.COM\"") && strstr(err, "already added as \"a.com\""),
       "duplicate message names both: %s", err);

    check(t, "a.com", "a.com");
    ok(sp_sni_table_find(t, "A.com", NULL, NULL) == &vals[0],
       "first value kept");
    is_int(sp_sni_table_count(t), 6, "count 6");

    sp_sni_table_free(t);

    for (i = 0; i < n; i++) {
        if (adds[i].rc == 0) {
            is_int(freed[i], 1, adds[i].name);
        } else {
            is_int(freed[i], 0, adds[i].name);
        }
    }

    is_int(freed_total, 6, "free_value called once per value");

    sp_sni_table_free(NULL);
    ok(1, "freeing NULL is a no-op");
}


static double
cpu_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static char  queries[1024][48];


/* Best of three runs of 200,000 lookups cycling through queries[]. */

static double
time_lookups(sp_sni_table *t, unsigned long *hits)
{
    int     run, i;
    double  best, start, d;

    best = 1e9;

    for (run = 0; run < 3; run++) {
        *hits = 0;
        start = cpu_now();

        for (i = 0; i < 200000; i++) {
            *hits += sp_sni_table_find(t, queries[i & 1023], NULL, NULL) != NULL;
        }

        d = cpu_now() - start;
        best = d < best ? d : best;
    }

    return best;
}


static void
test_scale(void)
{
    sp_sni_table   *big, *one;
    char            name[64], err[256];
    const char     *matched;
    void           *v;
    int             i, rc, bad;
    double          t1, tbig;
    uint32_t        rnd;
    unsigned long   hits, want;

    big = sp_sni_table_new(NULL);
    rc = 0;

    for (i = 0; i < BIG; i++) {
        snprintf(name, sizeof(name), "n%d.example.com", i);
        rc |= sp_sni_table_add(big, name, (void *) (uintptr_t) (i + 1),
                               err, sizeof(err));
        snprintf(name, sizeof(name), "*.n%d.example.com", i);
        rc |= sp_sni_table_add(big, name, (void *) (uintptr_t) (BIG + i + 1),
                               err, sizeof(err));
    }

    is_int(rc, 0, "200,000 names added");
    is_int(sp_sni_table_count(big), 2 * BIG, "count 200,000");

    check(big, "n0.example.com", "n0.example.com");
    check(big, "n99999.example.com", "n99999.example.com");
    check(big, "N50000.Example.Com", "n50000.example.com");
    check(big, "x.n0.example.com", "*.n0.example.com");
    check(big, "a.b.n99999.example.com", "*.n99999.example.com");
    check(big, "n100000.example.com", NULL);
    check(big, "x.n100000.example.com", NULL);
    check(big, "example.com", NULL);

    /* pseudo-random names, exact and wildcard, with the values they map to */
    rnd = 12345;
    bad = 0;

    for (i = 0; i < 1000; i++) {
        rnd = rnd * 1103515245u + 12345u;
        snprintf(name, sizeof(name), "n%u.example.com", (rnd >> 8) % BIG);
        v = sp_sni_table_find(big, name, &matched, NULL);
        bad += v != (void *) (uintptr_t) ((rnd >> 8) % BIG + 1)
               || strcmp(matched, name) != 0;

        snprintf(name, sizeof(name), "h%d.n%u.example.com", i,
                 (rnd >> 8) % BIG);
        v = sp_sni_table_find(big, name, NULL, NULL);
        bad += v != (void *) (uintptr_t) (BIG + (rnd >> 8) % BIG + 1);
    }

    is_int(bad, 0, "2,000 random lookups right");

    /* a third exact hits, a third wildcard hits, a third misses */
    for (i = 0; i < 1024; i++) {
        rnd = rnd * 1103515245u + 12345u;
        snprintf(queries[i], sizeof(queries[i]),
                 i % 3 == 0 ? "n%u.example.com"
                 : i % 3 == 1 ? "www.n%u.example.com" : "m%u.example.org",
                 (rnd >> 8) % BIG);
    }

    /*
     * The small table has one name of each kind the big one has: a lookup
     * skips a kind with no names at all, and that saving is not what is
     * measured here.
     */
    one = sp_sni_table_new(NULL);
    sp_sni_table_add(one, "n0.example.com", &vals[0], err, sizeof(err));
    sp_sni_table_add(one, "*.n0.example.com", &vals[0], err, sizeof(err));

    t1 = time_lookups(one, &hits);
    tbig = time_lookups(big, &hits);

    for (i = 0, want = 0; i < 200000; i++) {
        want += (i & 1023) % 3 != 2;
    }

    is_int(hits, want, "hits in the big table");
    diag("200,000 lookups: 2 names %.2f ms, 200,000 names %.2f ms, "
         "ratio %.2f", t1 * 1e3, tbig * 1e3, tbig / t1);
    ok(tbig < 3 * t1, "lookup cost does not grow with the table");

    sp_sni_table_free(one);
    sp_sni_table_free(big);
}


/*
 * A regex that backtracks badly runs under a match limit far below
 * PCRE2's: on a name that needs some hundreds of thousands of steps it
 * gives up (no match, and the caller hears which regex), where PCRE2's
 * default would have said "no match" only after that work; the next
 * regexes are still tried.
 */
static void
test_regex_limit(void)
{
    char           err[256], name[256];
    size_t         i;
    const char    *matched, *gave_up;
    sp_sni_table  *t;

    static const char  slow[] = "~^([a-z]|[a-z][a-z])+\\.example\\.com$";

    t = sp_sni_table_new(NULL);
    is_int(add(t, slow, err, sizeof(err)), 0, "add a backtracking regex");

    matched = gave_up = "not touched";
    ok(sp_sni_table_find(t, "ab.example.com", &matched, &gave_up) != NULL,
       "it matches a plain name");
    is_str(matched, slow, "matched");
    is_str(gave_up, NULL, "nothing gave up");

    check(t, "a-b.example.com", NULL);

    /* 28 letters and a bad one: fib(28) ways to split them */
    snprintf(name, sizeof(name), "%s!.example.com",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaa");

    matched = gave_up = "not touched";
    ok(sp_sni_table_find(t, name, &matched, &gave_up) == NULL,
       "a hostile name: no match");
    is_str(matched, NULL, "nothing matched");
    is_str(gave_up, slow, "the regex gave up at its limit");

    /* the longest a name can be: still cut short */
    memset(name, 'a', 241);
    strcpy(name + 241, "!.example.com");
    ok(sp_sni_table_find(t, name, NULL, &gave_up) == NULL
       && gave_up != NULL && strcmp(gave_up, slow) == 0,
       "a hostile name of 254 bytes: the regex gave up");

    is_int(add(t, "~example\\.com$", err, sizeof(err)), 0,
           "add a second regex");
    ok(sp_sni_table_find(t, name, &matched, &gave_up) != NULL,
       "the next regex is still tried");
    is_str(matched, "~example\\.com$", "and matches");
    is_str(gave_up, slow, "the first one gave up");

    sp_sni_table_free(t);

    /*
     * The limit covers the whole name, not each starting position (PCRE2
     * alone counts afresh at each): an unanchored regex that backtracks at
     * every position of a long dotted name gives up, where PCRE2 would
     * have spent some 17 ms on its 251 positions.  A long name it matches
     * is found, as is a short one.
     */
    t = sp_sni_table_new(NULL);
    is_int(add(t, "~(.+)\\.(.+)\\.example\\.com$", err, sizeof(err)), 0,
           "add an unanchored greedy regex");

    for (i = 0; i < 240; i += 2) {
        name[i] = 'a';
        name[i + 1] = '.';
    }

    strcpy(name + 240, "example.org");
    matched = gave_up = "not touched";
    ok(sp_sni_table_find(t, name, &matched, &gave_up) == NULL,
       "a dotted name of 251 bytes it misses: no match");
    is_str(gave_up, "~(.+)\\.(.+)\\.example\\.com$",
           "the limit for the whole name was reached");

    strcpy(name + 240, "example.com");
    check(t, name, "~(.+)\\.(.+)\\.example\\.com$");
    check(t, "x.y.example.com", "~(.+)\\.(.+)\\.example\\.com$");

    /*
     * Patterns that stay as written: (*VERB)s, a call of the whole.  In an
     * anchored search (*SKIP) would end the match instead of moving on.
     */
    is_int(add(t, "~(*UCP)api\\.", err, sizeof(err)), 0,
           "add a regex that opens with a (*VERB)");
    check(t, "x.api.test", "~(*UCP)api\\.");
    is_int(add(t, "~q+(*SKIP)z", err, sizeof(err)), 0,
           "add a regex with (*SKIP)");
    check(t, "qqc.qz", "~q+(*SKIP)z");
    is_int(add(t, "~<(?R)?>", err, sizeof(err)), 0,
           "add a regex that calls itself");
    check(t, "x<<>>", "~<(?R)?>");
    check(t, "x<<>", "~<(?R)?>");
    check(t, "x<<", NULL);

    sp_sni_table_free(t);
}


/*
 * Regexes whose matches PCRE2 10.42's JIT misses: a capturing group of
 * alternatives, a repeat, then a character that only the shorter
 * alternative leaves room for ("api7.com": "api" then "7" fails, "a" then
 * "p" matches).  The table must find what the interpreter finds, or a name
 * is served by the wrong context.
 */
static void
test_regex_jit_misses(void)
{
    char           err[256];
    size_t         i;
    sp_sni_table  *t;

    static const struct {
        const char  *name;
        const char  *regex;     /* the one it selects, NULL: none */
    } cases[] = {
        { "api7.com", "~(www|api|a)-*[a-z]" },
        { "API7.COM", "~(www|api|a)-*[a-z]" },
        { "-z.api7.COM", "~(www|api|a)-*[a-z]" },
        { "1", "~(1|)b*1" },
        { "x.1", "~(1|)b*1" },
        { "7.0", NULL }
    };

    t = sp_sni_table_new(NULL);
    is_int(add(t, "~(www|api|a)-*[a-z]", err, sizeof(err)), 0,
           "add a regex of alternatives and a repeat");
    is_int(add(t, "~(1|)b*1", err, sizeof(err)), 0,
           "add one with an empty alternative");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check(t, cases[i].name, cases[i].regex);
    }

    sp_sni_table_free(t);
}


int
main(void)
{
    test_kinds();
    test_precedence();
    test_case();
    test_invalid();
    test_duplicates_and_free();
    test_regex_limit();
    test_regex_jit_misses();
    test_scale();

    return done_testing();
}
