/*
 * Reading the files credentials and contexts are loaded from, whole, and
 * wiping what was read once it is parsed: a key file's bytes should not
 * linger in freed memory.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"


/*
 * Reads a whole file of at most `max` bytes; the error names the file,
 * the field it was for, and says why not.  A file over `max` is not
 * read: *len is its size, for a caller with words of its own for that.
 * Four system calls: thousands of contexts each read two files.
 */
int
sp_read_file(sp_error_slot *e, sp_field field, const char *path,
    size_t max, char **data, size_t *len)
{
    int           fd;
    char         *buf;
    size_t        size, got;
    ssize_t       n;
    struct stat   st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return sp_error_set(e, SP_ERR_LOAD, field, path, 0,
                            "cannot open: %s", strerror(errno));
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sp_error_set(e, SP_ERR_LOAD, field, path, 0,
                            "cannot read: not a regular file");
    }

    if ((size_t) st.st_size > max) {
        close(fd);
        *len = (size_t) st.st_size;
        return sp_error_set(e, SP_ERR_LOAD, field, path, 0,
                            "file too large: over %zu bytes", max);
    }

    size = (size_t) st.st_size;

    buf = malloc(size + 1);
    if (buf == NULL) {
        close(fd);
        return SP_ERR_NOMEM;
    }

    for (got = 0; got < size; got += (size_t) n) {
        n = read(fd, buf + got, size - got);

        if (n == 0) {
            break;
        }

        if (n < 0 && errno != EINTR) {
            sp_free_pem(buf, got);
            close(fd);
            return sp_error_set(e, SP_ERR_LOAD, field, path, 0,
                                "cannot read: %s", strerror(errno));
        }

        if (n < 0) {
            n = 0;
        }
    }

    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return SP_OK;
}


void
sp_free_pem(char *data, size_t len)
{
    if (data) {
        OPENSSL_cleanse(data, len);
        free(data);
    }
}
