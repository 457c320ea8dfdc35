/*
 * fuzz_sni_table: builds an SNI table (runtime/sni.h) of exact, leading
 * wildcard, trailing wildcard and regex names generated from the input by
 * a small grammar (sni_ref.h), then looks servernames up, and compares
 * every answer with the slow reference of sni_ref.h: which names are
 * accepted, which entry a servername selects, what *matched says.  A
 * difference is a finding.  Also: the count, and that every value the
 * table kept is released exactly once (and no refused one).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "sni.h"
#include "sni_ref.h"


static int  values[REF_MAX];
static int  freed[REF_MAX];


static void
count_free(void *value)
{
    freed[(int *) value - values]++;
}


/* For messages: the string with bytes outside printable ASCII escaped. */
static const char *
show(const char *s)
{
    static char  buf[4][1200];
    static int   next;
    char        *p = buf[next++ % 4];
    size_t       i, o = 0;

    if (s == NULL) {
        return "(null)";
    }

    for (i = 0; s[i] && o < 1100; i++) {
        unsigned char  c = (unsigned char) s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            p[o++] = (char) c;
        } else {
            o += (size_t) snprintf(p + o, 8, "\\x%02x", c);
        }
    }

    p[o] = '\0';
    return p;
}


static void
lookup(fz_reader *r, sp_sni_table *tab, ref_table *ref, fz_buf *sn)
{
    const ref_entry  *e;
    const char       *matched, *name, *gave_up;
    void             *v, *want;
    int               unsure;

    ref_gen_lookup(r, sn, ref);
    name = (const char *) sn->data;

    e = ref_find(ref, name, &unsure);
    matched = "not touched";
    v = sp_sni_table_find(tab, name, &matched, &gave_up);

    /* the reference runs PCRE2 without our match limits */
    if (unsure || gave_up != NULL) {
        return;
    }

    want = e ? &values[e->index] : NULL;

    if (v != want) {
        fz_die("sp_sni_table_find(\"%s\") selects \"%s\", the reference "
               "\"%s\"", show(name),
               v ? show(matched) : "(nothing)",
               e ? show(e->name) : "(nothing)");
    }

    if (v != NULL) {
        FZ_ASSERT(matched != NULL && strcmp(matched, e->name) == 0,
                  "sp_sni_table_find(\"%s\"): *matched is \"%s\", not the "
                  "name added \"%s\"", show(name), show(matched),
                  show(e->name));
    } else {
        FZ_ASSERT(matched == NULL, "sp_sni_table_find(\"%s\"): no match "
                  "but *matched is \"%s\"", show(name), show(matched));
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ref_table  ref;
    fz_reader         r = { data, size };
    fz_buf            name = { 0 }, sn = { 0 };
    sp_sni_table     *tab;
    const char       *matched;
    char              err[512];
    unsigned          i, nadd, nlook;
    size_t            added = 0;
    int               expect, rc, accepted[REF_MAX];

    tab = sp_sni_table_new(count_free);
    FZ_ASSERT(tab != NULL, "sp_sni_table_new");
    memset(freed, 0, sizeof(freed));
    memset(accepted, 0, sizeof(accepted));

    nadd = 1 + fz_byte(&r) % 48;

    for (i = 0; i < nadd; i++) {
        ref_gen_name(&r, &name, &ref);

        expect = ref_add(&ref, (const char *) name.data, (int) i);
        err[0] = '\0';
        rc = sp_sni_table_add(tab, (const char *) name.data, &values[i], err,
                              sizeof(err));

        FZ_ASSERT(rc == 0 || rc == -1, "sp_sni_table_add(\"%s\") returned "
                  "%d", show((const char *) name.data), rc);

        if (rc != 0) {
            FZ_ASSERT(err[0] != '\0', "sp_sni_table_add(\"%s\") refused "
                      "without a message", show((const char *) name.data));
        }

        if ((rc == 0) != (expect == 1)) {
            fz_die("sp_sni_table_add(\"%s\") %s, the reference %s it (%s)",
                   show((const char *) name.data),
                   rc == 0 ? "accepts" : "refuses",
                   expect == 1 ? "accepts" : "refuses",
                   rc == 0 ? "no message" : show(err));
        }

        if (rc == 0) {
            accepted[i] = 1;
            added++;
        }

        FZ_ASSERT(sp_sni_table_count(tab) == added, "count %zu, added %zu",
                  sp_sni_table_count(tab), added);

        if (fz_byte(&r) & 1) {
            lookup(&r, tab, &ref, &sn);
        }
    }

    nlook = 8 + fz_byte(&r) % 64;
    for (i = 0; i < nlook && r.left > 0; i++) {
        lookup(&r, tab, &ref, &sn);
    }

    matched = "not touched";
    FZ_ASSERT(sp_sni_table_find(tab, NULL, &matched, NULL) == NULL
              && matched == NULL, "a NULL servername matched");

    sp_sni_table_free(tab);

    for (i = 0; i < nadd; i++) {
        FZ_ASSERT(freed[i] == accepted[i], "value #%u (%s) released %d "
                  "times", i, accepted[i] ? "kept" : "refused", freed[i]);
    }

    ref_free(&ref);
    fz_buf_free(&name);
    fz_buf_free(&sn);
    return 0;
}
