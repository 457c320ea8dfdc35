/*
 * Private: peer certificate snapshots and verify result names, shared by
 * the pair code and the public sp_peer_cert_* functions in cert.c, and
 * what cert.c and cert_names.c share.
 */

#ifndef SP_CERT_H
#define SP_CERT_H

#include <openssl/x509.h>

#include "securepair.h"

/*
 * An owned snapshot of `x` (free with sp_peer_cert_free()), independent of
 * the certificate's lifetime.  NULL when x is NULL or out of memory.  A
 * field that cannot be represented faithfully (a name with a NUL or invalid
 * string, an unparsable extension or time) is NULL rather than guessed.
 * The error queue is left as it was found.
 */
sp_peer_cert *sp_cert_snapshot(X509 *x);

/* A growing string; once an allocation fails it stays failed. */
typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
    int      nomem;
} sp_cert_str;

void sp_cert_str_add(sp_cert_str *s, const void *p, size_t n);
void sp_cert_str_adds(sp_cert_str *s, const char *p);
char *sp_cert_str_done(sp_cert_str *s);

/* cert_names.c: subject or issuer as entries and a line; subjectaltname */
int sp_cert_name(const X509_NAME *name, sp_name_entry **entries,
    size_t *count, char **line);
int sp_cert_san(X509 *x, char **out);
void sp_cert_free_names(sp_name_entry *entries, size_t count);

/*
 * verify_names.c: Node's name for a verify result, OpenSSL's X509_V_ERR_*
 * constant without the prefix ("CERT_HAS_EXPIRED").  NULL for X509_V_OK, "UNSPECIFIED" for a
 * code we do not know.  The string is static.
 */
const char *sp_verify_error_name(long verify_result);

#endif /* SP_CERT_H */
