/*
 * Peer certificate snapshots (Node's getPeerCertificate()).
 *
 * A snapshot copies everything it needs out of the X509, so it outlives the
 * connection.  Every string in it is its own malloc() block (a name entry's
 * key and value share one), and sp_peer_cert_free() frees whatever is not
 * NULL: a snapshot half built when memory ran out frees the same way.
 * Names and subjectaltname are read in cert_names.c.
 *
 * Certificates come from the network, so nothing here trusts their content:
 * strings that would be truncated by a NUL or that are not valid in their
 * ASN.1 type are refused instead of being cut or guessed.
 */

/* timegm() and strdup() under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "securepair.h"
#include "cert.h"


static int sp_cert_time(const ASN1_TIME *t, char **str, time_t *when);
static int sp_cert_serial(X509 *x, char **out);
static int sp_cert_digest(X509 *x, const EVP_MD *md, char **out);
static int sp_cert_time_print(BIO *bio, const void *t);
static int sp_cert_dn_print(BIO *bio, const void *name);
static int sp_cert_pem_print(BIO *bio, const void *x);
static int sp_cert_print(const void *obj,
    int (*print)(BIO *bio, const void *obj), char **out);
static int sp_cert_bio_text(BIO *bio, char **out);


sp_peer_cert *
sp_cert_snapshot(X509 *x)
{
    sp_peer_cert  *cert;
    int            rc;

    if (x == NULL) {
        return NULL;
    }

    cert = calloc(1, sizeof(sp_peer_cert));
    if (cert == NULL) {
        return NULL;
    }

    /*
     * Hostile certificates make OpenSSL queue errors that are none of the
     * caller's business; the mark lets us drop ours and only ours.
     */
    ERR_set_mark();

    rc = sp_cert_name(X509_get_subject_name(x), &cert->subject,
                      &cert->subject_count, &cert->subject_line);
    if (rc == 0) {
        rc = sp_cert_name(X509_get_issuer_name(x), &cert->issuer,
                          &cert->issuer_count, &cert->issuer_line);
    }
    if (rc == 0) {
        rc = sp_cert_san(x, &cert->subjectaltname);
    }
    if (rc == 0) {
        rc = sp_cert_time(X509_get0_notBefore(x), &cert->valid_from,
                          &cert->valid_from_time);
    }
    if (rc == 0) {
        rc = sp_cert_time(X509_get0_notAfter(x), &cert->valid_to,
                          &cert->valid_to_time);
    }
    if (rc == 0) {
        rc = sp_cert_serial(x, &cert->serial_number);
    }
    if (rc == 0) {
        rc = sp_cert_digest(x, EVP_sha1(), &cert->fingerprint);
    }
    if (rc == 0) {
        rc = sp_cert_digest(x, EVP_sha256(), &cert->fingerprint256);
    }
    if (rc == 0) {
        rc = sp_cert_print(X509_get_subject_name(x), sp_cert_dn_print,
                           &cert->subject_dn);
    }
    if (rc == 0) {
        rc = sp_cert_print(X509_get_issuer_name(x), sp_cert_dn_print,
                           &cert->issuer_dn);
    }
    if (rc == 0) {
        rc = sp_cert_print(x, sp_cert_pem_print, &cert->pem);
    }

    ERR_pop_to_mark();

    if (rc != 0) {
        sp_peer_cert_free(cert);
        return NULL;
    }

    return cert;
}


sp_peer_cert *
sp_peer_cert_from_der(const void *der, size_t len)
{
    const unsigned char  *p;
    sp_peer_cert         *cert;
    X509                 *x;

    if (der == NULL || len == 0 || len > LONG_MAX) {
        return NULL;
    }

    ERR_set_mark();

    p = der;
    x = d2i_X509(NULL, &p, (long) len);

    /* Bytes after the certificate mean it was not one DER certificate. */
    if (x == NULL || p != (const unsigned char *) der + len) {
        X509_free(x);
        ERR_pop_to_mark();
        return NULL;
    }

    cert = sp_cert_snapshot(x);
    X509_free(x);

    ERR_pop_to_mark();

    return cert;
}


const char *
sp_peer_cert_get(const sp_name_entry *list, size_t n, const char *key)
{
    const char  *value;
    size_t       i;

    if (list == NULL || key == NULL) {
        return NULL;
    }

    /*
     * A name may repeat a key (two CNs, two OUs); as nginx and most Node
     * code, the last one is the most specific.
     */
    value = NULL;

    for (i = 0; i < n; i++) {
        if (list[i].key != NULL && strcmp(list[i].key, key) == 0) {
            value = list[i].value;
        }
    }

    return value;
}


void
sp_peer_cert_free(sp_peer_cert *cert)
{
    if (cert == NULL) {
        return;
    }

    sp_cert_free_names(cert->subject, cert->subject_count);
    sp_cert_free_names(cert->issuer, cert->issuer_count);
    free(cert->subject_line);
    free(cert->issuer_line);
    free(cert->subjectaltname);
    free(cert->valid_from);
    free(cert->valid_to);
    free(cert->serial_number);
    free(cert->fingerprint);
    free(cert->fingerprint256);
    free(cert->subject_dn);
    free(cert->issuer_dn);
    free(cert->pem);
    free(cert);
}


/* ---- times, serial, fingerprints --------------------------------------- */

/*
 * "Jan  1 00:00:00 2020 GMT", the day padded with a space: exactly what
 * ASN1_TIME_print() writes, which is what Node shows.  Both the string and
 * the time_t come from OpenSSL's one parser, so they always agree; either
 * both are set or the string is NULL and the time 0.
 */
static int
sp_cert_time(const ASN1_TIME *t, char **str, time_t *when)
{
    struct tm   tm;
    time_t      sec;

    *str = NULL;
    *when = 0;

    /* ASN1_TIME_to_tm(NULL) would give the current time. */
    if (t == NULL) {
        return 0;
    }

    memset(&tm, 0, sizeof(struct tm));

    if (!ASN1_TIME_to_tm(t, &tm)) {
        return 0;
    }

    sec = timegm(&tm);

    if (sp_cert_print(t, sp_cert_time_print, str) != 0) {
        return -1;
    }

    *when = (*str != NULL) ? sec : 0;

    return 0;
}


static int
sp_cert_time_print(BIO *bio, const void *t)
{
    return ASN1_TIME_print(bio, t) > 0;
}


/*
 * RFC 2253, as nginx's $ssl_client_s_dn (1.11.6 and later) writes it with
 * the same call: the last RDN first, separators and control or non-ASCII
 * bytes escaped, so the line is text that means what the name means.
 */
static int
sp_cert_dn_print(BIO *bio, const void *name)
{
    return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0;
}


/* The certificate as PEM, as nginx's $ssl_client_raw_cert. */
static int
sp_cert_pem_print(BIO *bio, const void *x)
{
    return PEM_write_bio_X509(bio, (X509 *) x) == 1;
}


/*
 * What print() writes of obj, as a malloc()'d string: 0 (*out NULL when
 * obj is NULL, print() fails, or writes nothing or a NUL), -1 out of
 * memory.
 */
static int
sp_cert_print(const void *obj, int (*print)(BIO *bio, const void *obj),
    char **out)
{
    BIO  *bio;

    *out = NULL;

    if (obj == NULL) {
        return 0;
    }

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return -1;
    }

    if (!print(bio, obj)) {
        BIO_free(bio);
        return 0;
    }

    return sp_cert_bio_text(bio, out);
}


/*
 * A memory BIO's bytes as a malloc()'d string, and the BIO freed: 0 (*out
 * NULL when the BIO is empty or holds a NUL), -1 out of memory.
 */
static int
sp_cert_bio_text(BIO *bio, char **out)
{
    char  *data;
    long   len;

    *out = NULL;

    len = BIO_get_mem_data(bio, &data);

    if (len <= 0 || memchr(data, '\0', (size_t) len) != NULL) {
        BIO_free(bio);
        return 0;
    }

    *out = malloc((size_t) len + 1);
    if (*out == NULL) {
        BIO_free(bio);
        return -1;
    }

    memcpy(*out, data, (size_t) len);
    (*out)[len] = '\0';

    BIO_free(bio);

    return 0;
}


/* Upper-case hex as BN_bn2hex() writes it ("-" first when negative). */
static int
sp_cert_serial(X509 *x, char **out)
{
    const ASN1_INTEGER  *serial;
    BIGNUM              *bn;
    char                *hex;

    *out = NULL;

    serial = X509_get0_serialNumber(x);
    if (serial == NULL) {
        return 0;
    }

    bn = ASN1_INTEGER_to_BN(serial, NULL);
    if (bn == NULL) {
        return 0;
    }

    hex = BN_bn2hex(bn);
    BN_free(bn);

    if (hex == NULL) {
        return 0;
    }

    /* Our strings are malloc()'d; OpenSSL's allocator may not be malloc. */
    *out = strdup(hex);
    OPENSSL_free(hex);

    return (*out == NULL) ? -1 : 0;
}


/* "AB:CD:...": the digest of the DER, upper-case hex joined by colons. */
static int
sp_cert_digest(X509 *x, const EVP_MD *md, char **out)
{
    static const char  hex[] = "0123456789ABCDEF";
    unsigned char      buf[EVP_MAX_MD_SIZE];
    unsigned int       n, i;
    char              *p;

    *out = NULL;

    if (md == NULL || !X509_digest(x, md, buf, &n) || n == 0) {
        return 0;
    }

    p = malloc((size_t) n * 3);
    if (p == NULL) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        p[3 * i] = hex[buf[i] >> 4];
        p[3 * i + 1] = hex[buf[i] & 0x0f];
        p[3 * i + 2] = (i + 1 < n) ? ':' : '\0';
    }

    *out = p;

    return 0;
}
