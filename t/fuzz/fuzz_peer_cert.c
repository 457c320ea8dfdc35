/*
 * fuzz_peer_cert: sp_peer_cert_from_der() over arbitrary DER.
 *
 * When it returns a snapshot, every string is valid NUL-terminated text of
 * its documented form, the counts match the arrays, each name line is its
 * entries, and the snapshot agrees with OpenSSL's own parse (entry counts,
 * serial, fingerprints).  It returns NULL only when OpenSSL does not take
 * the input as exactly one certificate.  The error queue stays empty.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common.h"


static void
expect_digest(X509 *x, const EVP_MD *md, const char *got, const char *what)
{
    unsigned char  buf[EVP_MAX_MD_SIZE];
    unsigned int   n, i;
    char           want[EVP_MAX_MD_SIZE * 3 + 1];

    if (!X509_digest(x, md, buf, &n)) {
        ERR_clear_error();
        return;
    }

    for (i = 0; i < n; i++) {
        snprintf(want + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", buf[i]);
    }

    FZ_ASSERT(got != NULL && strcmp(got, want) == 0, "%s \"%s\", want "
              "\"%s\"", what, got ? got : "(null)", want);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_peer_cert         *c;
    X509                 *x;
    const unsigned char  *p;
    const ASN1_INTEGER   *serial;
    BIGNUM               *bn;
    char                 *hex;

    ERR_clear_error();

    c = sp_peer_cert_from_der(data, size);
    fz_check_err_queue("sp_peer_cert_from_der");

    /* OpenSSL's view of the same bytes */
    p = data;
    x = size ? d2i_X509(NULL, &p, (long) size) : NULL;
    if (x != NULL && p != data + size) {
        X509_free(x);
        x = NULL;
    }
    ERR_clear_error();

    FZ_ASSERT((c != NULL) == (x != NULL), "sp_peer_cert_from_der %s a "
              "certificate OpenSSL %s", c ? "took" : "refused",
              x ? "parses" : "refuses");

    if (c == NULL) {
        X509_free(x);
        return 0;
    }

    fz_check_peer_cert(c);

    if (c->subject_line != NULL) {
        FZ_ASSERT(c->subject_count
                  == (size_t) X509_NAME_entry_count(X509_get_subject_name(x)),
                  "subject: %zu entries, OpenSSL %d", c->subject_count,
                  X509_NAME_entry_count(X509_get_subject_name(x)));
    }

    if (c->issuer_line != NULL) {
        FZ_ASSERT(c->issuer_count
                  == (size_t) X509_NAME_entry_count(X509_get_issuer_name(x)),
                  "issuer: %zu entries, OpenSSL %d", c->issuer_count,
                  X509_NAME_entry_count(X509_get_issuer_name(x)));
    }

    serial = X509_get0_serialNumber(x);
    bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
    hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex != NULL) {
        FZ_ASSERT(c->serial_number != NULL
                  && strcmp(c->serial_number, hex) == 0,
                  "serial \"%s\", OpenSSL \"%s\"",
                  c->serial_number ? c->serial_number : "(null)", hex);
    }
    OPENSSL_free(hex);
    BN_free(bn);

    expect_digest(x, EVP_sha1(), c->fingerprint, "fingerprint");
    expect_digest(x, EVP_sha256(), c->fingerprint256, "fingerprint256");

    ERR_clear_error();
    X509_free(x);
    sp_peer_cert_free(c);
    return 0;
}
