/*
 * Private: peer certificate snapshots and verify result names, shared by
 * the pair code and the public sp_peer_cert_* functions in cert.c.
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

/*
 * Node's name for a verify result: OpenSSL's X509_V_ERR_* constant without
 * the prefix ("CERT_HAS_EXPIRED").  NULL for X509_V_OK, "UNSPECIFIED" for a
 * code we do not know.  The string is static.
 */
const char *sp_verify_error_name(long verify_result);

#endif /* SP_CERT_H */
