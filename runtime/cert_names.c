/*
 * The names of a peer certificate: subject and issuer as entries and as a
 * "/C=UK/CN=..." line, and subjectaltname as Node writes it, with names
 * that could be confused with the list syntax quoted.  Certificates come
 * from the network: a string cut by a NUL or invalid in its ASN.1 type is
 * refused, never cut or guessed.
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


static void sp_cert_str_quoted(sp_cert_str *s, const unsigned char *p,
    size_t n, int utf8);
static int sp_cert_name_line(const X509_NAME *name, sp_cert_str *line,
    sp_name_entry *entries, size_t *count);
static char *sp_cert_obj_text(const ASN1_OBJECT *obj, int no_name);
static void sp_cert_general_name(sp_cert_str *s, const GENERAL_NAME *gen);


void
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
int
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


/* A name entry in one block, "key\0value\0": 0, or -1 out of memory. */
static int
sp_cert_entry_set(sp_name_entry *entry, const char *key,
    const unsigned char *value, size_t vlen)
{
    char    *block;
    size_t   klen;

    klen = strlen(key);

    block = malloc(klen + 1 + vlen + 1);
    if (block == NULL) {
        return -1;
    }

    memcpy(block, key, klen + 1);

    if (vlen > 0) {
        memcpy(block + klen + 1, value, vlen);
    }

    block[klen + 1 + vlen] = '\0';

    entry->key = block;
    entry->value = block + klen + 1;
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
    char                   *key;
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
            if (sp_cert_entry_set(&entries[*count], sn, utf8, (size_t) vlen)
                != 0)
            {
                OPENSSL_free(utf8);
                free(key);
                return -1;
            }

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
int
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


/* As OpenSSL and Node print them: IPv6 uncompressed, upper hex. */
static void
sp_cert_ip_address(sp_cert_str *s, const ASN1_OCTET_STRING *str)
{
    int             i;
    char            buf[64];
    unsigned char  *p;

    sp_cert_str_adds(s, "IP Address:");
    p = (str != NULL) ? str->data : NULL;

    if (p == NULL) {
        sp_cert_str_adds(s, "<invalid>");

    } else if (str->length == 4) {
        snprintf(buf, sizeof(buf), "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
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
}


static void
sp_cert_registered_id(sp_cert_str *s, const ASN1_OBJECT *obj)
{
    char  *text;

    sp_cert_str_adds(s, "Registered ID:");

    text = sp_cert_obj_text(obj, 0);
    if (text == NULL) {
        sp_cert_str_adds(s, "<invalid>");
        return;
    }

    sp_cert_str_quoted(s, (unsigned char *) text, strlen(text), 0);
    free(text);
}


static void
sp_cert_dir_name(sp_cert_str *s, const X509_NAME *name)
{
    size_t       n;
    sp_cert_str  dn;

    sp_cert_str_adds(s, "DirName:");
    memset(&dn, 0, sizeof(sp_cert_str));
    n = 0;

    if (name == NULL || sp_cert_name_line(name, &dn, NULL, &n) != 0
        || dn.nomem)
    {
        free(dn.data);
        sp_cert_str_adds(s, "<invalid>");
        return;
    }

    sp_cert_str_quoted(s, (unsigned char *) dn.data, dn.len, 1);
    free(dn.data);
}


static void
sp_cert_general_name(sp_cert_str *s, const GENERAL_NAME *gen)
{
    const char         *prefix;
    const ASN1_STRING  *str;

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
        sp_cert_ip_address(s, gen->d.iPAddress);
        return;

    case GEN_RID:
        sp_cert_registered_id(s, gen->d.registeredID);
        return;

    case GEN_DIRNAME:
        sp_cert_dir_name(s, gen->d.directoryName);
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


/* ---- strings ----------------------------------------------------------- */

void
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


void
sp_cert_str_adds(sp_cert_str *s, const char *p)
{
    sp_cert_str_add(s, p, strlen(p));
}


/*
 * The finished string, "" when nothing was added; NULL (and nothing to
 * free) when out of memory.
 */
char *
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
