/*
 * Peer certificate snapshots: every field of the generated test
 * certificates (run t/certs.sh into $SP_CERTS first), compared with what
 * the openssl command line says; names built here with UTF-8, unknown OIDs
 * and hostile bytes; DER parsing of garbage and of every truncation and
 * one-byte corruption of a real certificate; verify result names.
 */

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "securepair.h"
#include "cert.h"
#include "tap.h"
#include "x509_cli.h"


static const char  *certs;


static char *
path_of(const char *name)
{
    static char  buf[4096];

    snprintf(buf, sizeof(buf), "%s/%s", certs, name);
    return buf;
}


static X509 *
load(const char *name)
{
    return x509_load(path_of(name));
}


/*
 * A certificate file and its snapshot, each checked ("<file> loads",
 * "<file>: snapshot"); NULL, with nothing left to free, when either
 * fails.
 */
static sp_peer_cert *
snapshot_of(const char *file, X509 **x)
{
    sp_peer_cert  *c;

    *x = load(file);
    if (!ok(*x != NULL, "%s loads", file)) {
        return NULL;
    }

    c = sp_cert_snapshot(*x);
    if (!ok(c != NULL, "%s: snapshot", file)) {
        X509_free(*x);
        *x = NULL;
    }

    return c;
}


/*
 * What `openssl x509 -noout <args> -in <file>` prints after its '=', e.g.
 * the fingerprint from "sha1 Fingerprint=AB:CD...".  Static buffer.
 */
static const char *
openssl_says(const char *args, const char *name)
{
    return x509_cli_says(args, path_of(name));
}


static int
same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}


static int
same_names(const sp_name_entry *a, size_t na, const sp_name_entry *b,
    size_t nb)
{
    size_t  i;

    if (na != nb) {
        return 0;
    }

    for (i = 0; i < na; i++) {
        if (!same_str(a[i].key, b[i].key)
            || !same_str(a[i].value, b[i].value))
        {
            return 0;
        }
    }

    return 1;
}


static int
same_cert(const sp_peer_cert *a, const sp_peer_cert *b)
{
    return a && b
           && same_names(a->subject, a->subject_count,
                         b->subject, b->subject_count)
           && same_names(a->issuer, a->issuer_count,
                         b->issuer, b->issuer_count)
           && same_str(a->subject_line, b->subject_line)
           && same_str(a->issuer_line, b->issuer_line)
           && same_str(a->subjectaltname, b->subjectaltname)
           && same_str(a->valid_from, b->valid_from)
           && same_str(a->valid_to, b->valid_to)
           && a->valid_from_time == b->valid_from_time
           && a->valid_to_time == b->valid_to_time
           && same_str(a->serial_number, b->serial_number)
           && same_str(a->fingerprint, b->fingerprint)
           && same_str(a->fingerprint256, b->fingerprint256);
}


static void
check_names(const sp_name_entry *got, size_t n, const char *const *want,
    size_t nwant, const char *what)
{
    size_t  i;
    char    name[256];

    is_int(n, nwant, what);

    for (i = 0; i < n && i < nwant; i++) {
        snprintf(name, sizeof(name), "%s[%zu] key", what, i);
        is_str(got[i].key, want[2 * i], name);
        snprintf(name, sizeof(name), "%s[%zu] value", what, i);
        is_str(got[i].value, want[2 * i + 1], name);
    }
}


/* "Nov 11 09:52:22 2009 GMT", and the same instant as the time_t. */
static void
check_time(const char *got, time_t t, const char *what)
{
    regex_t     re;
    struct tm   tm;
    char        buf[64], name[256];
    int         match;

    regcomp(&re, "^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                 "[ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] "
                 "[0-9]{4} GMT$", REG_EXTENDED | REG_NOSUB);
    match = got && regexec(&re, got, 0, NULL, 0) == 0;
    regfree(&re);

    snprintf(name, sizeof(name), "%s has the form \"Mon DD HH:MM:SS YYYY "
             "GMT\" (%s)", what, got ? got : "NULL");
    ok(match, "%s", name);

    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%b %e %H:%M:%S %Y GMT", &tm);
    snprintf(name, sizeof(name), "%s agrees with its time_t", what);
    is_str(got, buf, name);
}


/* The first PEM certificate of a file, its lines as they stand.  Static. */
static const char *
first_pem(const char *file)
{
    static char   buf[65536];
    char          line[256];
    size_t        at;
    int           in;
    FILE         *f;

    f = fopen(path_of(file), "r");
    if (f == NULL) {
        return "(no file)";
    }

    at = 0;
    in = 0;
    buf[0] = '\0';

    while (fgets(line, sizeof(line), f) != NULL) {
        in = in || strcmp(line, "-----BEGIN CERTIFICATE-----\n") == 0;

        if (in && at + strlen(line) < sizeof(buf)) {
            at += (size_t) sprintf(buf + at, "%s", line);
        }

        if (in && strcmp(line, "-----END CERTIFICATE-----\n") == 0) {
            break;
        }
    }

    fclose(f);

    return buf;
}


/* Fields that are checked the same way for every file. */
static void
check_common(const char *file, X509 *x, sp_peer_cert *c)
{
    sp_peer_cert  *d;
    char           name[256], *line;

    snprintf(name, sizeof(name), "%s: SHA-1 fingerprint as openssl", file);
    is_str(c->fingerprint, openssl_says("-fingerprint -sha1", file), name);

    snprintf(name, sizeof(name), "%s: SHA-256 fingerprint as openssl", file);
    is_str(c->fingerprint256, openssl_says("-fingerprint -sha256", file),
           name);

    snprintf(name, sizeof(name), "%s: serial as openssl", file);
    is_str(c->serial_number, openssl_says("-serial", file), name);

    snprintf(name, sizeof(name), "%s: valid_from as openssl", file);
    is_str(c->valid_from, openssl_says("-startdate", file), name);

    snprintf(name, sizeof(name), "%s: valid_to as openssl", file);
    is_str(c->valid_to, openssl_says("-enddate", file), name);

    snprintf(name, sizeof(name), "%s: subject_dn as openssl -nameopt "
             "RFC2253", file);
    is_str(c->subject_dn, openssl_says("-subject -nameopt RFC2253", file),
           name);

    snprintf(name, sizeof(name), "%s: issuer_dn as openssl -nameopt RFC2253",
             file);
    is_str(c->issuer_dn, openssl_says("-issuer -nameopt RFC2253", file),
           name);

    snprintf(name, sizeof(name), "%s: pem is the file's first certificate",
             file);
    is_str(c->pem, first_pem(file), name);

    snprintf(name, sizeof(name), "%s: valid_from", file);
    check_time(c->valid_from, c->valid_from_time, name);
    snprintf(name, sizeof(name), "%s: valid_to", file);
    check_time(c->valid_to, c->valid_to_time, name);

    /* For plain ASCII names our line is OpenSSL's own one-line form. */
    line = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
    snprintf(name, sizeof(name), "%s: subject_line as X509_NAME_oneline",
             file);
    is_str(c->subject_line, line, name);
    OPENSSL_free(line);

    line = X509_NAME_oneline(X509_get_issuer_name(x), NULL, 0);
    snprintf(name, sizeof(name), "%s: issuer_line as X509_NAME_oneline",
             file);
    is_str(c->issuer_line, line, name);
    OPENSSL_free(line);

    d = x509_snapshot(x);
    snprintf(name, sizeof(name), "%s: the DER snapshot is the same", file);
    ok(same_cert(c, d), "%s", name);
    sp_peer_cert_free(d);

    ok(ERR_peek_error() == 0, "%s: error queue empty", file);
}


static const char *const  ca_names[] = {
    "C", "UK", "O", "securepair", "CN", "securepair test CA"
};

#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))


static void
test_client(void)
{
    static const char *const  subject[] = {
        "C", "UK", "ST", "Acme State", "L", "Acme Town", "O", "Acme",
        "OU", "Clients", "CN", "client"
    };

    sp_peer_cert  *c;
    X509          *x;

    c = snapshot_of("client.crt", &x);
    if (c == NULL) {
        return;
    }

    check_names(c->subject, c->subject_count, subject, NELTS(subject) / 2,
                "client.crt subject");
    check_names(c->issuer, c->issuer_count, ca_names, NELTS(ca_names) / 2,
                "client.crt issuer");
    check_client_crt_lines(c, "client.crt");
    is_str(sp_peer_cert_get(c->subject, c->subject_count, "CN"), "client",
           "client.crt: get CN");
    is_str(sp_peer_cert_get(c->subject, c->subject_count, "OU"), "Clients",
           "client.crt: get OU");
    is_str(sp_peer_cert_get(c->subject, c->subject_count, "emailAddress"),
           NULL, "client.crt: get of an absent key");
    is_int(c->valid_to_time - c->valid_from_time, 3650L * 86400,
           "client.crt: valid for 3650 days");
    ok(c->fingerprint && strlen(c->fingerprint) == 20 * 3 - 1,
       "client.crt: SHA-1 fingerprint length");
    ok(c->fingerprint256 && strlen(c->fingerprint256) == 32 * 3 - 1,
       "client.crt: SHA-256 fingerprint length");

    check_common("client.crt", x, c);

    sp_peer_cert_free(c);
    X509_free(x);
}


/*
 * What every test certificate is checked for: its CN, subjectaltname and
 * issuer CN, and the fields check_common() checks.
 */
static void
check_basics(const char *file, X509 *x, sp_peer_cert *c, const char *cn,
    const char *san, const char *issuer_cn)
{
    is_str(sp_peer_cert_get(c->subject, c->subject_count, "CN"), cn,
           tn("%s: CN", file));
    is_str(c->subjectaltname, san, tn("%s: subjectaltname", file));
    is_str(sp_peer_cert_get(c->issuer, c->issuer_count, "CN"), issuer_cn,
           tn("%s: issuer CN", file));

    check_common(file, x, c);
}


static void
test_server(const char *file)
{
    static const char *const  subject[] = {
        "C", "UK", "ST", "Acme State", "L", "Acme Town", "O", "Acme",
        "OU", "Test", "CN", "localhost"
    };

    sp_peer_cert  *c;
    X509          *x;
    char           name[256];

    c = snapshot_of(file, &x);
    if (c == NULL) {
        return;
    }

    snprintf(name, sizeof(name), "%s subject", file);
    check_names(c->subject, c->subject_count, subject, NELTS(subject) / 2,
                name);
    snprintf(name, sizeof(name), "%s issuer", file);
    check_names(c->issuer, c->issuer_count, ca_names, NELTS(ca_names) / 2,
                name);

    snprintf(name, sizeof(name), "%s: subject_line", file);
    is_str(c->subject_line,
           "/C=UK/ST=Acme State/L=Acme Town/O=Acme/OU=Test/CN=localhost",
           name);

    check_basics(file, x, c, "localhost",
                 "DNS:localhost, DNS:a.example.com, IP Address:127.0.0.1",
                 "securepair test CA");

    sp_peer_cert_free(c);
    X509_free(x);
}


/* A certificate that only needs a CN, SAN, issuer CN and the basics. */
static void
test_simple(const char *file, const char *cn, const char *san,
    const char *issuer_cn)
{
    X509          *x;
    sp_peer_cert  *c = snapshot_of(file, &x);

    if (c != NULL) {
        check_basics(file, x, c, cn, san, issuer_cn);
        sp_peer_cert_free(c);
        X509_free(x);
    }
}


static void
test_expired(void)
{
    sp_peer_cert  *c;
    X509          *x;

    c = snapshot_of("client-expired.crt", &x);
    if (c != NULL) {
        is_str(c->valid_from, "Jan  1 00:00:00 2020 GMT",
               "expired: valid_from, day padded with a space");
        is_str(c->valid_to, "Jan  2 00:00:00 2020 GMT", "expired: valid_to");
        is_int(c->valid_from_time, 1577836800, "expired: valid_from_time");
        is_int(c->valid_to_time, 1577923200, "expired: valid_to_time");
        is_str(c->serial_number, "1000", "expired: serial from openssl ca");
        is_str(c->subject_line, "/C=UK/O=Acme/CN=expired client",
               "expired: subject_line");
        check_common("client-expired.crt", x, c);
    }

    sp_peer_cert_free(c);
    X509_free(x);
}


static void
test_ca(void)
{
    sp_peer_cert  *c;
    X509          *x;

    x = load("ca.crt");
    c = sp_cert_snapshot(x);
    ok(c != NULL, "ca.crt: snapshot");

    if (c != NULL) {
        check_names(c->subject, c->subject_count, ca_names,
                    NELTS(ca_names) / 2, "ca.crt subject");
        is_str(c->subject_line, c->issuer_line, "ca.crt: self-issued");
        is_str(c->subjectaltname, NULL, "ca.crt: no subjectaltname");
        check_common("ca.crt", x, c);
    }

    sp_peer_cert_free(c);
    X509_free(x);
}


/* ---- certificates built here ------------------------------------------- */

static EVP_PKEY  *key;


/* An ASCII entry at the end of a name. */
static void
name_add(X509_NAME *name, const char *field, const char *value)
{
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                               (const unsigned char *) value, -1, -1, 0);
}


static void
add_gen(GENERAL_NAMES *gens, int type, const void *data, int len)
{
    GENERAL_NAME       *gen;
    ASN1_OCTET_STRING  *os;

    gen = GENERAL_NAME_new();
    os = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(os, data, len);

    if (type == GEN_IPADD) {
        GENERAL_NAME_set0_value(gen, type, os);

    } else {
        /* DNS, email and URI are IA5Strings. */
        os->type = V_ASN1_IA5STRING;
        GENERAL_NAME_set0_value(gen, type, os);
    }

    sk_GENERAL_NAME_push(gens, gen);
}


/*
 * Sign `x` after giving it the basics: serial, times, issuer, a key.
 * from/to are ASN.1 time strings ("991231235959Z", "20500615123456Z").
 * Its snapshot, checked as "<what>: snapshot".
 */
static sp_peer_cert *
finish(X509 *x, long serial, const char *from, const char *to,
    const char *what)
{
    ASN1_TIME     *t;
    sp_peer_cert  *c;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);

    t = ASN1_TIME_new();
    ASN1_TIME_set_string(t, from);
    X509_set1_notBefore(x, t);
    ASN1_TIME_set_string(t, to);
    X509_set1_notAfter(x, t);
    ASN1_TIME_free(t);

    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());

    c = sp_cert_snapshot(x);
    ok(c != NULL, "%s: snapshot", what);
    return c;
}


static void
test_built(void)
{
    static const unsigned char  v6[16] = {
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
    };
    static const unsigned char  v4[4] = { 10, 0, 0, 1 };
    static const unsigned char  bad_ip[5] = { 1, 2, 3, 4, 5 };

    GENERAL_NAMES  *gens;
    GENERAL_NAME   *gen;
    sp_peer_cert   *c, *d;
    X509_NAME      *name, *dn;
    struct tm       tm;
    X509           *x;

    key = EVP_EC_gen("P-256");
    ok(key != NULL, "built: a P-256 key");
    if (key == NULL) {
        return;
    }

    /* UTF-8, an unnamed OID, a repeated CN, and names of all kinds. */
    x = X509_new();
    name = X509_get_subject_name(x);
    name_add(name, "C", "FR");
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               (unsigned char *) "Zo\xc3\xab & Co", -1, -1,
                               0);
    name_add(name, "1.2.3.4", "odd");
    name_add(name, "CN", "first");
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_BMP,
                               (unsigned char *) "\0l\0a\0s\0t", 8, -1, 0);
    name_add(name, "emailAddress", "a@b.c");
    X509_set_issuer_name(x, name);

    gens = GENERAL_NAMES_new();
    add_gen(gens, GEN_DNS, "x.example.com", -1);
    add_gen(gens, GEN_DNS, "a.example.com, DNS:b.example.com", -1);
    add_gen(gens, GEN_DNS, "nul\0.example.com", 16);
    add_gen(gens, GEN_DNS, "q\"uo\\te\x80", -1);
    add_gen(gens, GEN_IPADD, v4, 4);
    add_gen(gens, GEN_IPADD, v6, 16);
    add_gen(gens, GEN_IPADD, bad_ip, 5);
    add_gen(gens, GEN_URI, "https://x.example.com/", -1);
    add_gen(gens, GEN_EMAIL, "e@x.example.com", -1);

    dn = X509_NAME_new();
    name_add(dn, "CN", "dir");
    name_add(dn, "O", "a,b");
    gen = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(gen, GEN_DIRNAME, dn);
    sk_GENERAL_NAME_push(gens, gen);

    gen = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(gen, GEN_RID, OBJ_txt2obj("1.2.3.4.5", 1));
    sk_GENERAL_NAME_push(gens, gen);

    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0);
    GENERAL_NAMES_free(gens);

    c = finish(x, 0x1ff, "991231235959Z", "20500615123456Z", "built");

    if (c != NULL) {
        is_int(c->subject_count, 6, "built: six subject entries");
        if (c->subject_count == 6) {
            is_str(c->subject[1].value, "Zo\xc3\xab & Co",
                   "built: UTF8String value");
            is_str(c->subject[2].key, "1.2.3.4",
                   "built: unknown attribute as its OID");
            is_str(c->subject[2].value, "odd", "built: its value");
            is_str(c->subject[4].value, "last", "built: value given as BMP");
            is_str(c->subject[5].key, "emailAddress",
                   "built: emailAddress short name");
        }
        is_str(sp_peer_cert_get(c->subject, c->subject_count, "CN"), "last",
               "built: get gives the last CN");
        is_str(c->subject_line, "/C=FR/O=Zo\xc3\xab & Co/1.2.3.4=odd"
               "/CN=first/CN=last/emailAddress=a@b.c", "built: subject_line");
        is_str(c->issuer_line, c->subject_line, "built: issuer_line");
        is_str(c->subjectaltname,
               "DNS:x.example.com, "
               "DNS:\"a.example.com, DNS:b.example.com\", "
               "DNS:\"nul\\u0000.example.com\", "
               "DNS:\"q\\\"uo\\\\te\\u0080\", "
               "IP Address:10.0.0.1, "
               "IP Address:2001:DB8:0:0:0:0:0:1, "
               "IP Address:<invalid>, "
               "URI:https://x.example.com/, "
               "email:e@x.example.com, "
               "DirName:\"/CN=dir/O=a,b\", "
               "Registered ID:1.2.3.4.5",
               "built: subjectaltname, hostile names quoted");
        is_str(c->serial_number, "01FF", "built: serial");
        is_str(c->valid_from, "Dec 31 23:59:59 1999 GMT",
               "built: UTCTime valid_from");
        is_int(c->valid_from_time, 946684799, "built: valid_from_time");
        is_str(c->valid_to, "Jun 15 12:34:56 2050 GMT",
               "built: GeneralizedTime valid_to");
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = 150;
        tm.tm_mon = 5;
        tm.tm_mday = 15;
        tm.tm_hour = 12;
        tm.tm_min = 34;
        tm.tm_sec = 56;
        is_int(c->valid_to_time, timegm(&tm), "built: valid_to_time");

        d = x509_snapshot(x);
        ok(same_cert(c, d), "built: the DER snapshot is the same");
        sp_peer_cert_free(d);
    }

    sp_peer_cert_free(c);
    X509_free(x);

    /*
     * A NUL inside the CN: C would read "evil.example"; the name is
     * refused whole, so no CN (not even an earlier one) is found.
     */
    x = X509_new();
    name = X509_get_subject_name(x);
    name_add(name, "CN", "good.example");
    X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_IA5STRING,
                               (unsigned char *) "evil.example\0.good", 18,
                               -1, 0);
    dn = X509_NAME_new();
    name_add(dn, "CN", "issuer");
    X509_set_issuer_name(x, dn);
    X509_NAME_free(dn);
    c = finish(x, 0, "20200101000000Z", "20200102000000Z", "NUL in CN");
    if (c != NULL) {
        is_int(c->subject_count, 0, "NUL in CN: no subject entries");
        is_str(c->subject_line, NULL, "NUL in CN: no subject_line");
        is_str(sp_peer_cert_get(c->subject, c->subject_count, "CN"), NULL,
               "NUL in CN: no CN at all");
        is_str(c->issuer_line, "/CN=issuer", "NUL in CN: issuer intact");
        is_str(c->subjectaltname, NULL, "no SAN extension: NULL");
        is_str(c->serial_number, "0", "serial zero");
        is_str(c->valid_from, "Jan  1 00:00:00 2020 GMT",
               "UTCTime 2020 from a GeneralizedTime string");
    }
    sp_peer_cert_free(c);
    X509_free(x);

    /* An empty subject is a valid name: no entries, an empty line. */
    x = X509_new();
    c = finish(x, 7, "20200101000000Z", "20200102000000Z", "empty names");
    if (c != NULL) {
        is_int(c->subject_count, 0, "empty subject: no entries");
        is_str(c->subject_line, "", "empty subject: empty line");
        is_str(c->issuer_line, "", "empty issuer: empty line");
    }
    sp_peer_cert_free(c);
    X509_free(x);

    ok(ERR_peek_error() == 0, "built: error queue empty");

    EVP_PKEY_free(key);
    key = NULL;
}


/* ---- hostile DER ------------------------------------------------------- */

static void
test_der(void)
{
    static const char  garbage[] = "this is not a certificate";

    unsigned char  *der, *copy;
    sp_peer_cert   *c;
    size_t          i, bad, parsed, queue;
    FILE           *f;
    X509           *x;
    char            buf[4096];
    int             len, bit;

    ok(sp_peer_cert_from_der(NULL, 10) == NULL, "from_der(NULL)");
    ok(sp_peer_cert_from_der(garbage, 0) == NULL, "from_der of 0 bytes");
    ok(sp_peer_cert_from_der(garbage, sizeof(garbage)) == NULL,
       "from_der of text");
    ok(ERR_peek_error() == 0, "from_der of text: error queue empty");

    f = fopen(path_of("garbage.pem"), "r");
    len = f ? (int) fread(buf, 1, sizeof(buf), f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    ok(len > 0 && sp_peer_cert_from_der(buf, (size_t) len) == NULL,
       "from_der of garbage.pem");

    /* An error the caller had before the call is still there after it. */
    ERR_raise_data(ERR_LIB_USER, 42, "mine");
    ok(sp_peer_cert_from_der(garbage, sizeof(garbage)) == NULL,
       "from_der with an error already queued");
    ok(ERR_GET_REASON(ERR_peek_error()) == 42
       && ERR_peek_error() == ERR_peek_last_error(),
       "the caller's error is kept, ours are dropped");
    ERR_clear_error();

    x = load("server-rsa.crt");
    der = NULL;
    len = x ? i2d_X509(x, &der) : -1;
    X509_free(x);
    ok(len > 0, "server-rsa.crt to DER");
    if (len <= 0) {
        return;
    }

    c = sp_peer_cert_from_der(der, (size_t) len);
    ok(c != NULL, "from_der of the whole certificate");
    sp_peer_cert_free(c);

    copy = malloc((size_t) len + 1);
    memcpy(copy, der, (size_t) len);
    copy[len] = 0;
    ok(sp_peer_cert_from_der(copy, (size_t) len + 1) == NULL,
       "a trailing byte is refused");

    /* Every truncation, each in a buffer of its exact size for ASan. */
    bad = 0;
    queue = 0;
    for (i = 1; i < (size_t) len; i++) {
        unsigned char  *p = malloc(i);

        memcpy(p, der, i);
        c = sp_peer_cert_from_der(p, i);
        if (c != NULL) {
            bad++;
            sp_peer_cert_free(c);
        }
        queue += ERR_peek_error() != 0;
        ERR_clear_error();
        free(p);
    }
    is_int(bad, 0, "every truncation is refused");
    is_int(queue, 0, "truncations leave the error queue empty");

    /*
     * Every byte corrupted three ways: the parser may accept some; the
     * snapshot must neither crash nor leak (ASan tells) nor leave errors.
     */
    parsed = 0;
    queue = 0;
    for (i = 0; i < (size_t) len; i++) {
        for (bit = 0; bit < 3; bit++) {
            memcpy(copy, der, (size_t) len);
            copy[i] ^= (bit == 0) ? 0x01 : (bit == 1) ? 0x80 : 0xff;
            c = sp_peer_cert_from_der(copy, (size_t) len);
            if (c != NULL) {
                parsed++;
                /* Touch every string so ASan sees them. */
                if (c->subjectaltname) {
                    (void) strlen(c->subjectaltname);
                }
                if (c->subject_line) {
                    (void) strlen(c->subject_line);
                }
                if (c->valid_from) {
                    (void) strlen(c->valid_from);
                }
                sp_peer_cert_free(c);
            }
            queue += ERR_peek_error() != 0;
            ERR_clear_error();
        }
    }
    ok(parsed > 0, "corruptions: %zu of %d parsed, none crashed", parsed,
       len * 3);
    is_int(queue, 0, "corruptions leave the error queue empty");

    free(copy);
    OPENSSL_free(der);
}


/* ---- verify names, lookups, free --------------------------------------- */

static void
test_verify_names(void)
{
    size_t  missing;
    long    code;

    is_str(sp_verify_error_name(X509_V_OK), NULL, "X509_V_OK: NULL");
    is_str(sp_verify_error_name(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
           "DEPTH_ZERO_SELF_SIGNED_CERT", "DEPTH_ZERO_SELF_SIGNED_CERT");
    is_str(sp_verify_error_name(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE),
           "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
           "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    is_str(sp_verify_error_name(X509_V_ERR_CERT_HAS_EXPIRED),
           "CERT_HAS_EXPIRED", "CERT_HAS_EXPIRED");
    is_str(sp_verify_error_name(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN),
           "SELF_SIGNED_CERT_IN_CHAIN", "SELF_SIGNED_CERT_IN_CHAIN");
    is_str(sp_verify_error_name(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT),
           "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT");
    is_str(sp_verify_error_name(
               X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
           "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
           "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
    is_str(sp_verify_error_name(X509_V_ERR_CERT_NOT_YET_VALID),
           "CERT_NOT_YET_VALID", "CERT_NOT_YET_VALID");
    is_str(sp_verify_error_name(X509_V_ERR_CERT_REVOKED), "CERT_REVOKED",
           "CERT_REVOKED");
    is_str(sp_verify_error_name(X509_V_ERR_CERT_UNTRUSTED), "CERT_UNTRUSTED",
           "CERT_UNTRUSTED");
    is_str(sp_verify_error_name(X509_V_ERR_CERT_REJECTED), "CERT_REJECTED",
           "CERT_REJECTED");
    is_str(sp_verify_error_name(X509_V_ERR_HOSTNAME_MISMATCH),
           "HOSTNAME_MISMATCH", "HOSTNAME_MISMATCH");
    is_str(sp_verify_error_name(X509_V_ERR_INVALID_CA), "INVALID_CA",
           "INVALID_CA");
    is_str(sp_verify_error_name(X509_V_ERR_PATH_LENGTH_EXCEEDED),
           "PATH_LENGTH_EXCEEDED", "PATH_LENGTH_EXCEEDED");
    is_str(sp_verify_error_name(X509_V_ERR_INVALID_PURPOSE),
           "INVALID_PURPOSE", "INVALID_PURPOSE");
    is_str(sp_verify_error_name(X509_V_ERR_CERT_SIGNATURE_FAILURE),
           "CERT_SIGNATURE_FAILURE", "CERT_SIGNATURE_FAILURE");
    is_str(sp_verify_error_name(X509_V_ERR_EE_KEY_TOO_SMALL),
           "EE_KEY_TOO_SMALL", "EE_KEY_TOO_SMALL");
    is_str(sp_verify_error_name(X509_V_ERR_UNSPECIFIED), "UNSPECIFIED",
           "X509_V_ERR_UNSPECIFIED");
    is_str(sp_verify_error_name(100000), "UNSPECIFIED", "unknown code");
    is_str(sp_verify_error_name(-5), "UNSPECIFIED", "negative code");

    /* Every code of OpenSSL 3.0 (1..94) has its own name. */
    missing = 0;
    for (code = 2; code <= X509_V_ERR_EC_KEY_EXPLICIT_PARAMS; code++) {
        if (strcmp(sp_verify_error_name(code), "UNSPECIFIED") == 0) {
            diag("no name for verify code %ld", code);
            missing++;
        }
    }
    is_int(missing, 0, "every OpenSSL 3.0 verify code is named");
}


static void
test_get(void)
{
    static const sp_name_entry  list[] = {
        { "CN", "one" }, { "O", "org" }, { "CN", "two" }, { "OU", "u" }
    };

    is_str(sp_peer_cert_get(list, 4, "CN"), "two", "get: the last CN");
    is_str(sp_peer_cert_get(list, 2, "CN"), "one", "get: within n only");
    is_str(sp_peer_cert_get(list, 4, "O"), "org", "get: O");
    is_str(sp_peer_cert_get(list, 4, "cn"), NULL, "get: keys are exact");
    is_str(sp_peer_cert_get(list, 4, "C"), NULL, "get: absent key");
    is_str(sp_peer_cert_get(list, 0, "CN"), NULL, "get: n == 0");
    is_str(sp_peer_cert_get(NULL, 4, "CN"), NULL, "get: NULL list");
    is_str(sp_peer_cert_get(list, 4, NULL), NULL, "get: NULL key");

    sp_peer_cert_free(NULL);
    ok(1, "sp_peer_cert_free(NULL) is a no-op");
    ok(sp_cert_snapshot(NULL) == NULL, "sp_cert_snapshot(NULL) is NULL");
}


int
main(void)
{
    certs = getenv("SP_CERTS");
    if (certs == NULL || *certs == '\0') {
        certs = "build/certs";    /* where `make test` puts them */
    }

    test_client();
    test_server("server-rsa.crt");
    test_server("server-ec.crt");
    test_ca();
    test_expired();
    test_simple("sni-a.crt", "a.example.com", "DNS:a.example.com",
                "securepair test CA");
    test_simple("sni-wild.crt", "*.example.com", "DNS:*.example.com",
                "securepair test CA");
    test_simple("sni-trail.crt", "www.example.net", "DNS:www.example.net",
                "securepair test CA");
    test_simple("sni-re.crt", "api.example.net", "DNS:api.example.net",
                "securepair test CA");
    test_simple("client-self.crt", "self-signed client", NULL,
                "self-signed client");
    test_simple("client-wrongca.crt", "wrong CA client",
                "email:wrongca@example.com", "securepair other CA");
    test_simple("client-chain.crt", "chain client", "email:chain@example.com",
                "securepair untrusted CA");
    test_simple("weak-rsa1024.crt", "weak rsa 1024", NULL, "weak rsa 1024");
    test_built();
    test_der();
    test_verify_names();
    test_get();

    return done_testing();
}
