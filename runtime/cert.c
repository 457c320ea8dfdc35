/*
 * Peer certificate snapshots (Node's getPeerCertificate()) and the names of
 * verify results (Node's authorizationError).
 *
 * A snapshot copies everything it needs out of the X509, so it outlives the
 * connection.  Every string in it is its own malloc() block (a name entry's
 * key and value share one), and sp_peer_cert_free() frees whatever is not
 * NULL: a snapshot half built when memory ran out frees the same way.
 *
 * Certificates come from the network, so nothing here trusts their content:
 * strings that would be truncated by a NUL or that are not valid in their
 * ASN.1 type are refused instead of being cut or guessed, and names in
 * subjectaltname that could be confused with the list syntax are quoted.
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
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "securepair.h"
#include "cert.h"


/* A growing string; once an allocation fails it stays failed. */
typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
    int      nomem;
} sp_cert_str;


static void sp_cert_str_add(sp_cert_str *s, const void *p, size_t n);
static void sp_cert_str_adds(sp_cert_str *s, const char *p);
static char *sp_cert_str_done(sp_cert_str *s);
static void sp_cert_str_quoted(sp_cert_str *s, const unsigned char *p,
    size_t n, int utf8);
static int sp_cert_name(const X509_NAME *name, sp_name_entry **entries,
    size_t *count, char **line);
static int sp_cert_name_line(const X509_NAME *name, sp_cert_str *line,
    sp_name_entry *entries, size_t *count);
static char *sp_cert_obj_text(const ASN1_OBJECT *obj, int no_name);
static int sp_cert_san(X509 *x, char **out);
static void sp_cert_general_name(sp_cert_str *s, const GENERAL_NAME *gen);
static int sp_cert_time(const ASN1_TIME *t, char **str, time_t *when);
static int sp_cert_serial(X509 *x, char **out);
static int sp_cert_digest(X509 *x, const EVP_MD *md, char **out);
static void sp_cert_free_names(sp_name_entry *entries, size_t count);


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
    free(cert);
}


static void
sp_cert_free_names(sp_name_entry *entries, size_t count)
{
    size_t  i;

    if (entries == NULL) {
        return;
    }

    /* The value lives in the key's block: see sp_cert_name_line(). */
    for (i = 0; i < count; i++) {
        free((void *) entries[i].key);
    }

    free(entries);
}


/* ---- names ------------------------------------------------------------- */

/*
 * Fill the entries and the "/C=UK/CN=x" line of a name.  Returns -1 only
 * when out of memory.  A name that cannot be shown faithfully leaves the
 * array empty and the line NULL: a consumer looking for the CN must not
 * find an earlier one because the last one was unreadable.
 */
static int
sp_cert_name(const X509_NAME *name, sp_name_entry **entries, size_t *count,
    char **line)
{
    sp_name_entry  *list;
    sp_cert_str     str;
    size_t          n;
    int             total, rc;

    *entries = NULL;
    *count = 0;
    *line = NULL;

    if (name == NULL) {
        return 0;
    }

    total = X509_NAME_entry_count(name);
    if (total < 0) {
        return 0;
    }

    list = NULL;

    if (total > 0) {
        list = calloc((size_t) total, sizeof(sp_name_entry));
        if (list == NULL) {
            return -1;
        }
    }

    memset(&str, 0, sizeof(sp_cert_str));
    n = 0;

    rc = sp_cert_name_line(name, &str, list, &n);

    if (rc != 0) {
        sp_cert_free_names(list, n);
        free(str.data);
        return rc < 0 ? -1 : 0;
    }

    *line = sp_cert_str_done(&str);
    if (*line == NULL) {
        sp_cert_free_names(list, n);
        return -1;
    }

    *entries = list;
    *count = n;

    return 0;
}


/*
 * The entries of a name into `entries` (room for all of them; NULL when
 * the caller only wants the line) and the line into `line`.  *count is how
 * many entries were filled, also on failure, so that they can be freed.
 * Returns 0, 1 when the name cannot be represented, -1 when out of memory.
 */
static int
sp_cert_name_line(const X509_NAME *name, sp_cert_str *line,
    sp_name_entry *entries, size_t *count)
{
    const X509_NAME_ENTRY  *ne;
    const ASN1_OBJECT      *obj;
    const char             *sn;
    unsigned char          *utf8;
    size_t                  klen;
    char                   *key, *block;
    int                     i, total, vlen, nid;

    total = X509_NAME_entry_count(name);

    for (i = 0; i < total; i++) {
        ne = X509_NAME_get_entry(name, i);
        if (ne == NULL) {
            return 1;
        }

        obj = X509_NAME_ENTRY_get_object(ne);
        nid = OBJ_obj2nid(obj);
        sn = (nid != NID_undef) ? OBJ_nid2sn(nid) : NULL;

        key = NULL;

        if (sn == NULL) {
            /* An attribute OpenSSL has no name for: its dotted OID. */
            key = sp_cert_obj_text(obj, 1);
            if (key == NULL) {
                return 1;
            }
            sn = key;
        }

        utf8 = NULL;
        vlen = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ne));

        /*
         * Not a string type, or bytes invalid for it; or a NUL that would
         * cut "CN=evil.example\0.good.example" short in C.
         */
        if (vlen < 0
            || (vlen > 0 && memchr(utf8, '\0', (size_t) vlen) != NULL))
        {
            OPENSSL_free(utf8);
            free(key);
            return 1;
        }

        sp_cert_str_adds(line, "/");
        sp_cert_str_adds(line, sn);
        sp_cert_str_adds(line, "=");
        sp_cert_str_add(line, utf8, (size_t) vlen);

        if (entries != NULL) {
            /* One block per entry: "key\0value\0". */
            klen = strlen(sn);
            block = malloc(klen + 1 + (size_t) vlen + 1);

            if (block == NULL) {
                OPENSSL_free(utf8);
                free(key);
                return -1;
            }

            memcpy(block, sn, klen + 1);
            if (vlen > 0) {
                memcpy(block + klen + 1, utf8, (size_t) vlen);
            }
            block[klen + 1 + vlen] = '\0';

            entries[*count].key = block;
            entries[*count].value = block + klen + 1;
            (*count)++;
        }

        OPENSSL_free(utf8);
        free(key);

        if (line->nomem) {
            return -1;
        }
    }

    return 0;
}


/* An OID as text (dotted when no_name), malloc'd; NULL on failure. */
static char *
sp_cert_obj_text(const ASN1_OBJECT *obj, int no_name)
{
    char  *text;
    int    len;

    if (obj == NULL) {
        return NULL;
    }

    /* OBJ_obj2txt() says how long the text is when given no room. */
    len = OBJ_obj2txt(NULL, 0, obj, no_name);
    if (len <= 0) {
        return NULL;
    }

    text = malloc((size_t) len + 1);
    if (text == NULL) {
        return NULL;
    }

    if (OBJ_obj2txt(text, len + 1, obj, no_name) != len) {
        free(text);
        return NULL;
    }

    return text;
}


/* ---- subjectaltname ---------------------------------------------------- */

/*
 * Node's format: "DNS:localhost, IP Address:127.0.0.1, email:a@b".  NULL
 * when the certificate has no names, or its extension does not parse (or
 * appears twice).  Returns -1 only when out of memory.
 */
static int
sp_cert_san(X509 *x, char **out)
{
    GENERAL_NAMES  *gens;
    sp_cert_str     str;
    int             i, n, crit;

    *out = NULL;

    gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        return 0;
    }

    n = sk_GENERAL_NAME_num(gens);
    if (n <= 0) {
        GENERAL_NAMES_free(gens);
        return 0;
    }

    memset(&str, 0, sizeof(sp_cert_str));

    for (i = 0; i < n; i++) {
        if (i > 0) {
            sp_cert_str_adds(&str, ", ");
        }

        sp_cert_general_name(&str, sk_GENERAL_NAME_value(gens, i));
    }

    GENERAL_NAMES_free(gens);

    *out = sp_cert_str_done(&str);

    return (*out == NULL) ? -1 : 0;
}


static void
sp_cert_general_name(sp_cert_str *s, const GENERAL_NAME *gen)
{
    const ASN1_STRING  *str;
    const char         *prefix;
    sp_cert_str         dn;
    unsigned char      *p;
    size_t              n;
    char                buf[64], *text;
    int                 i;

    prefix = NULL;
    str = NULL;

    switch (gen->type) {

    case GEN_DNS:
        prefix = "DNS:";
        str = gen->d.dNSName;
        break;

    case GEN_EMAIL:
        prefix = "email:";
        str = gen->d.rfc822Name;
        break;

    case GEN_URI:
        prefix = "URI:";
        str = gen->d.uniformResourceIdentifier;
        break;

    case GEN_IPADD:
        sp_cert_str_adds(s, "IP Address:");
        str = gen->d.iPAddress;
        p = (str != NULL) ? str->data : NULL;

        /* As OpenSSL and Node print them: IPv6 uncompressed, upper hex. */
        if (p == NULL) {
            sp_cert_str_adds(s, "<invalid>");

        } else if (str->length == 4) {
            snprintf(buf, sizeof(buf), "%u.%u.%u.%u",
                     p[0], p[1], p[2], p[3]);
            sp_cert_str_adds(s, buf);

        } else if (str->length == 16) {
            for (i = 0; i < 8; i++) {
                snprintf(buf, sizeof(buf), i ? ":%X" : "%X",
                         (unsigned) ((p[2 * i] << 8) | p[2 * i + 1]));
                sp_cert_str_adds(s, buf);
            }

        } else {
            sp_cert_str_adds(s, "<invalid>");
        }

        return;

    case GEN_RID:
        sp_cert_str_adds(s, "Registered ID:");
        text = sp_cert_obj_text(gen->d.registeredID, 0);
        if (text == NULL) {
            sp_cert_str_adds(s, "<invalid>");
            return;
        }
        sp_cert_str_quoted(s, (unsigned char *) text, strlen(text), 0);
        free(text);
        return;

    case GEN_DIRNAME:
        sp_cert_str_adds(s, "DirName:");
        memset(&dn, 0, sizeof(sp_cert_str));
        n = 0;

        if (gen->d.directoryName == NULL
            || sp_cert_name_line(gen->d.directoryName, &dn, NULL, &n) != 0
            || dn.nomem)
        {
            free(dn.data);
            sp_cert_str_adds(s, "<invalid>");
            return;
        }

        sp_cert_str_quoted(s, (unsigned char *) dn.data, dn.len, 1);
        free(dn.data);
        return;

    case GEN_OTHERNAME:
        sp_cert_str_adds(s, "othername:<unsupported>");
        return;

    case GEN_X400:
        sp_cert_str_adds(s, "X400Name:<unsupported>");
        return;

    case GEN_EDIPARTY:
        sp_cert_str_adds(s, "EdiPartyName:<unsupported>");
        return;

    default:
        sp_cert_str_adds(s, "<unsupported>");
        return;
    }

    sp_cert_str_adds(s, prefix);

    if (str == NULL || str->data == NULL) {
        sp_cert_str_adds(s, "<invalid>");
        return;
    }

    sp_cert_str_quoted(s, str->data, (size_t) str->length, 0);
}


/*
 * A value as is when it is plain, or as a JSON string (as Node does) when
 * it holds a comma, a quote, a backslash, an apostrophe or a control byte:
 * otherwise "DNS:a, DNS:b" inside one name would read as two names.  With
 * utf8, bytes >= 0x80 are UTF-8 text and kept; without it (IA5String
 * names) they are escaped too.
 */
static void
sp_cert_str_quoted(sp_cert_str *s, const unsigned char *p, size_t n,
    int utf8)
{
    size_t  i;
    char    buf[8];
    int     safe;

    safe = 1;

    for (i = 0; i < n && safe; i++) {
        switch (p[i]) {
        case '"':
        case '\\':
        case ',':
        case '\'':
            safe = 0;
            break;
        default:
            if (p[i] < 0x20 || p[i] == 0x7f || (!utf8 && p[i] > 0x7f)) {
                safe = 0;
            }
        }
    }

    if (safe) {
        sp_cert_str_add(s, p, n);
        return;
    }

    sp_cert_str_adds(s, "\"");

    for (i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            buf[0] = '\\';
            buf[1] = (char) p[i];
            sp_cert_str_add(s, buf, 2);

        } else if (p[i] < 0x20 || p[i] == 0x7f || (!utf8 && p[i] > 0x7f)) {
            snprintf(buf, sizeof(buf), "\\u%04x", p[i]);
            sp_cert_str_adds(s, buf);

        } else {
            sp_cert_str_add(s, &p[i], 1);
        }
    }

    sp_cert_str_adds(s, "\"");
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
    BIO        *bio;
    char       *data;
    long        len;

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

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return -1;
    }

    if (ASN1_TIME_print(bio, t) <= 0) {
        BIO_free(bio);
        return 0;
    }

    len = BIO_get_mem_data(bio, &data);
    if (len <= 0) {
        BIO_free(bio);
        return 0;
    }

    *str = malloc((size_t) len + 1);
    if (*str == NULL) {
        BIO_free(bio);
        return -1;
    }

    memcpy(*str, data, (size_t) len);
    (*str)[len] = '\0';
    *when = sec;

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


/* ---- strings ----------------------------------------------------------- */

static void
sp_cert_str_add(sp_cert_str *s, const void *p, size_t n)
{
    size_t   need, size;
    char    *data;

    if (s->nomem) {
        return;
    }

    if (n > SIZE_MAX - s->len - 1) {
        s->nomem = 1;
        return;
    }

    need = s->len + n + 1;

    if (need > s->size) {
        size = s->size ? s->size : 64;

        while (size < need) {
            size = (size > SIZE_MAX / 2) ? need : size * 2;
        }

        data = realloc(s->data, size);
        if (data == NULL) {
            s->nomem = 1;
            return;
        }

        s->data = data;
        s->size = size;
    }

    if (n > 0) {
        memcpy(s->data + s->len, p, n);
    }

    s->len += n;
    s->data[s->len] = '\0';
}


static void
sp_cert_str_adds(sp_cert_str *s, const char *p)
{
    sp_cert_str_add(s, p, strlen(p));
}


/*
 * The finished string, "" when nothing was added; NULL (and nothing to
 * free) when out of memory.
 */
static char *
sp_cert_str_done(sp_cert_str *s)
{
    if (s->nomem) {
        free(s->data);
        s->data = NULL;
        return NULL;
    }

    if (s->data == NULL) {
        return strdup("");
    }

    return s->data;
}


/* ---- verify results ---------------------------------------------------- */

typedef struct {
    long         code;
    const char  *name;
} sp_verify_name;


#define SP_V(name)  { X509_V_ERR_##name, #name }

static const sp_verify_name  sp_verify_names[] = {
    SP_V(UNSPECIFIED),
    SP_V(UNABLE_TO_GET_ISSUER_CERT),
    SP_V(UNABLE_TO_GET_CRL),
    SP_V(UNABLE_TO_DECRYPT_CERT_SIGNATURE),
    SP_V(UNABLE_TO_DECRYPT_CRL_SIGNATURE),
    SP_V(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY),
    SP_V(CERT_SIGNATURE_FAILURE),
    SP_V(CRL_SIGNATURE_FAILURE),
    SP_V(CERT_NOT_YET_VALID),
    SP_V(CERT_HAS_EXPIRED),
    SP_V(CRL_NOT_YET_VALID),
    SP_V(CRL_HAS_EXPIRED),
    SP_V(ERROR_IN_CERT_NOT_BEFORE_FIELD),
    SP_V(ERROR_IN_CERT_NOT_AFTER_FIELD),
    SP_V(ERROR_IN_CRL_LAST_UPDATE_FIELD),
    SP_V(ERROR_IN_CRL_NEXT_UPDATE_FIELD),
    SP_V(OUT_OF_MEM),
    SP_V(DEPTH_ZERO_SELF_SIGNED_CERT),
    SP_V(SELF_SIGNED_CERT_IN_CHAIN),
    SP_V(UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
    SP_V(UNABLE_TO_VERIFY_LEAF_SIGNATURE),
    SP_V(CERT_CHAIN_TOO_LONG),
    SP_V(CERT_REVOKED),
    SP_V(NO_ISSUER_PUBLIC_KEY),
    SP_V(PATH_LENGTH_EXCEEDED),
    SP_V(INVALID_PURPOSE),
    SP_V(CERT_UNTRUSTED),
    SP_V(CERT_REJECTED),
    SP_V(SUBJECT_ISSUER_MISMATCH),
    SP_V(AKID_SKID_MISMATCH),
    SP_V(AKID_ISSUER_SERIAL_MISMATCH),
    SP_V(KEYUSAGE_NO_CERTSIGN),
    SP_V(UNABLE_TO_GET_CRL_ISSUER),
    SP_V(UNHANDLED_CRITICAL_EXTENSION),
    SP_V(KEYUSAGE_NO_CRL_SIGN),
    SP_V(UNHANDLED_CRITICAL_CRL_EXTENSION),
    SP_V(INVALID_NON_CA),
    SP_V(PROXY_PATH_LENGTH_EXCEEDED),
    SP_V(KEYUSAGE_NO_DIGITAL_SIGNATURE),
    SP_V(PROXY_CERTIFICATES_NOT_ALLOWED),
    SP_V(INVALID_EXTENSION),
    SP_V(INVALID_POLICY_EXTENSION),
    SP_V(NO_EXPLICIT_POLICY),
    SP_V(DIFFERENT_CRL_SCOPE),
    SP_V(UNSUPPORTED_EXTENSION_FEATURE),
    SP_V(UNNESTED_RESOURCE),
    SP_V(PERMITTED_VIOLATION),
    SP_V(EXCLUDED_VIOLATION),
    SP_V(SUBTREE_MINMAX),
    SP_V(APPLICATION_VERIFICATION),
    SP_V(UNSUPPORTED_CONSTRAINT_TYPE),
    SP_V(UNSUPPORTED_CONSTRAINT_SYNTAX),
    SP_V(UNSUPPORTED_NAME_SYNTAX),
    SP_V(CRL_PATH_VALIDATION_ERROR),
    SP_V(PATH_LOOP),
    SP_V(SUITE_B_INVALID_VERSION),
    SP_V(SUITE_B_INVALID_ALGORITHM),
    SP_V(SUITE_B_INVALID_CURVE),
    SP_V(SUITE_B_INVALID_SIGNATURE_ALGORITHM),
    SP_V(SUITE_B_LOS_NOT_ALLOWED),
    SP_V(SUITE_B_CANNOT_SIGN_P_384_WITH_P_256),
    SP_V(HOSTNAME_MISMATCH),
    SP_V(EMAIL_MISMATCH),
    SP_V(IP_ADDRESS_MISMATCH),
    SP_V(DANE_NO_MATCH),
    SP_V(EE_KEY_TOO_SMALL),
    SP_V(CA_KEY_TOO_SMALL),
    SP_V(CA_MD_TOO_WEAK),
    SP_V(INVALID_CALL),
    SP_V(STORE_LOOKUP),
    SP_V(NO_VALID_SCTS),
    SP_V(PROXY_SUBJECT_NAME_VIOLATION),
    SP_V(OCSP_VERIFY_NEEDED),
    SP_V(OCSP_VERIFY_FAILED),
    SP_V(OCSP_CERT_UNKNOWN),
    SP_V(UNSUPPORTED_SIGNATURE_ALGORITHM),
    SP_V(SIGNATURE_ALGORITHM_MISMATCH),
    SP_V(SIGNATURE_ALGORITHM_INCONSISTENCY),
    SP_V(INVALID_CA),
    SP_V(PATHLEN_INVALID_FOR_NON_CA),
    SP_V(PATHLEN_WITHOUT_KU_KEY_CERT_SIGN),
    SP_V(KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA),
    SP_V(ISSUER_NAME_EMPTY),
    SP_V(SUBJECT_NAME_EMPTY),
    SP_V(MISSING_AUTHORITY_KEY_IDENTIFIER),
    SP_V(MISSING_SUBJECT_KEY_IDENTIFIER),
    SP_V(EMPTY_SUBJECT_ALT_NAME),
    SP_V(EMPTY_SUBJECT_SAN_NOT_CRITICAL),
    SP_V(CA_BCONS_NOT_CRITICAL),
    SP_V(AUTHORITY_KEY_IDENTIFIER_CRITICAL),
    SP_V(SUBJECT_KEY_IDENTIFIER_CRITICAL),
    SP_V(CA_CERT_MISSING_KEY_USAGE),
    SP_V(EXTENSIONS_REQUIRE_VERSION_3),
    SP_V(EC_KEY_EXPLICIT_PARAMS),

    /* Added after 3.0; known when built against a newer OpenSSL. */
#ifdef X509_V_ERR_RPK_UNTRUSTED
    SP_V(RPK_UNTRUSTED),
#endif
#ifdef X509_V_ERR_OCSP_RESP_INVALID
    SP_V(OCSP_RESP_INVALID),
#endif
#ifdef X509_V_ERR_OCSP_SIGNATURE_FAILURE
    SP_V(OCSP_SIGNATURE_FAILURE),
#endif
#ifdef X509_V_ERR_OCSP_NOT_YET_VALID
    SP_V(OCSP_NOT_YET_VALID),
#endif
#ifdef X509_V_ERR_OCSP_HAS_EXPIRED
    SP_V(OCSP_HAS_EXPIRED),
#endif
#ifdef X509_V_ERR_OCSP_NO_RESPONSE
    SP_V(OCSP_NO_RESPONSE),
#endif
};

#undef SP_V


const char *
sp_verify_error_name(long verify_result)
{
    size_t  i;

    if (verify_result == X509_V_OK) {
        return NULL;
    }

    for (i = 0; i < sizeof(sp_verify_names) / sizeof(sp_verify_names[0]);
         i++)
    {
        if (sp_verify_names[i].code == verify_result) {
            return sp_verify_names[i].name;
        }
    }

    return "UNSPECIFIED";
}
