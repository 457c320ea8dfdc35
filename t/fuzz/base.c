/*
 * Fuzz harness: failing loudly, growable buffers, the verbosity switch
 * (see common.h).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"
#include "common.h"


/* ---- failing ----------------------------------------------------------- */

void
fz_die(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "\nfuzz: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");

    if (ERR_peek_error() != 0) {
        fprintf(stderr, "fuzz: OpenSSL error queue:\n");
        ERR_print_errors_fp(stderr);
    }

    fflush(stderr);
    __builtin_trap();
}


void
fz_check_err_queue(const char *after)
{
    if (ERR_peek_error() != 0) {
        fz_die("OpenSSL error queue not empty after %s", after);
    }
}


/* ---- bytes ------------------------------------------------------------- */

void
fz_buf_add(fz_buf *b, const void *p, size_t n)
{
    size_t    size;
    uint8_t  *data;

    if (n == 0) {
        return;
    }

    if (b->len + n > b->size) {
        size = b->size ? b->size : 256;
        while (size < b->len + n) {
            size *= 2;
        }

        data = realloc(b->data, size);
        if (data == NULL) {
            fz_die("harness out of memory");
        }

        b->data = data;
        b->size = size;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;
}


void
fz_buf_free(fz_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}


/* ---- verbosity --------------------------------------------------------- */

/* Read once from the environment. */
int
fz_verbosity(void)
{
    static int  v = -1;

    if (v < 0) {
        const char  *e = getenv("SP_FUZZ_VERBOSE");

        v = e ? atoi(e) : 0;
    }

    return v;
}
