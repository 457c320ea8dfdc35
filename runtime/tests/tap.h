/*
 * A tiny TAP producer for the runtime's C tests: `prove` reads the output.
 * ok() records one test point; done_testing() prints the plan and makes the
 * exit status non-zero when any point failed.
 */

#ifndef SP_TAP_H
#define SP_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run, tap_failed;

static int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list  ap;

    tap_run++;
    printf("%sok %d - ", pass ? "" : "not ", tap_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");

    if (!pass) {
        tap_failed++;
        printf("#   Failed at %s line %d\n", file, line);
    }

    fflush(stdout);
    return pass;
}

/* A formatted test name; a few rotating buffers are enough. */
static inline const char *
tn(const char *fmt, ...)
{
    static char  buf[8][256];
    static int   next;
    char        *p = buf[next++ % 8];
    va_list      ap;

    va_start(ap, fmt);
    vsnprintf(p, 256, fmt, ap);
    va_end(ap);

    return p;
}


#define ok(cond, ...)  tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, name)                                              \
    do {                                                                     \
        long long g_ = (long long) (got), w_ = (long long) (want);           \
        if (!ok(g_ == w_, "%s", name)) {                                     \
            printf("#   got %lld, expected %lld\n", g_, w_);                 \
        }                                                                    \
    } while (0)

#define is_str(got, want, name)                                              \
    do {                                                                     \
        const char *g_ = (got), *w_ = (want);                                \
        if (!ok((g_ == NULL && w_ == NULL)                                   \
                || (g_ && w_ && strcmp(g_, w_) == 0), "%s", name))           \
        {                                                                    \
            printf("#   got \"%s\", expected \"%s\"\n",                      \
                   g_ ? g_ : "(null)", w_ ? w_ : "(null)");                  \
        }                                                                    \
    } while (0)

static void
diag(const char *fmt, ...)
{
    va_list  ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static int
done_testing(void)
{
    printf("1..%d\n", tap_run);
    return tap_failed ? 1 : 0;
}

#endif /* SP_TAP_H */
