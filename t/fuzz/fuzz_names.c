/*
 * fuzz_names: arbitrary names through the public API.
 *
 * Input: a flags byte, then names separated by NUL bytes.
 *   - sp_ctx_add_context() of each name on a fresh server context: never
 *     crashes; accepted exactly when the reference (sni_ref.h) accepts it;
 *     refused with SP_ERR_INVALID and a message; an accepted exact name is
 *     then found by sp_ctx_find_context();
 *   - sp_ctx_set_npn() / sp_ctx_set_alpn() with the names as a list, on a
 *     server and a client context: accepted exactly when every name is 1
 *     to 255 bytes and the list fits 65535 bytes of wire format, and then
 *     the wire format is the names length-prefixed, in order;
 *   - flag 0x10: up to 4 names as a client's servername; the ClientHello
 *     goes to a server pair of the same context, whose selected SNI
 *     context must be what the table gives for that name (flag 0x20: the
 *     server rejects unknown names, and must then fail with
 *     SP_ERR_UNKNOWN_NAME exactly when the table has no match).
 * The OpenSSL error queue is empty after every call.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"
#include "common.h"
#include "sni_ref.h"


#define MAX_NAMES  64

static sp_creds  *creds;          /* no key: enough for names */
static sp_ctx    *client_ctx;     /* a fresh one per input: a context
                                     that made pairs no longer changes */


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    fz_rng_install();
    fz_rng_select(FZ_RNG_CLIENT);

    creds = sp_creds_new();
    if (creds == NULL) {
        fz_die("setup failed");
    }

    ERR_clear_error();
    return 0;
}


static void
check_list(sp_ctx *ctx, const char *which, int rc, const sp_proto_list *l,
    char **names, size_t n)
{
    size_t  i, len, total = 0, pos = 0;
    int     valid = 1;

    fz_check_err_queue(which);

    for (i = 0; i < n; i++) {
        len = strlen(names[i]);
        if (len == 0 || len > 255) {
            valid = 0;
        }
        total += 1 + len;
    }

    if (total > 0xffff) {
        valid = 0;
    }

    if (!valid) {
        FZ_ASSERT(rc == SP_ERR_INVALID, "%s: invalid list accepted (%d)",
                  which, rc);
        FZ_ASSERT(sp_ctx_error(ctx)[0] != '\0', "%s: no message", which);
        return;
    }

    FZ_ASSERT(rc == SP_OK, "%s: valid list of %zu refused (%d): %s", which,
              n, rc, sp_ctx_error(ctx));
    FZ_ASSERT(l->len == total, "%s: wire length %zu, want %zu", which,
              l->len, total);

    for (i = 0; i < n; i++) {
        len = strlen(names[i]);
        FZ_ASSERT(l->data[pos] == len
                  && memcmp(l->data + pos + 1, names[i], len) == 0,
                  "%s: name #%zu differs in wire format", which, i);
        pos += 1 + len;
    }
}


/* The client's ClientHello for `name`, to a server pair of `sctx`. */
static void
hello_to_server(sp_ctx *sctx, const char *name, int reject_unknown)
{
    sp_pair      *c, *s;
    fz_track      tc, ts;
    const char   *matched = NULL;
    const void   *want;
    char          norm[256];
    uint8_t       buf[4096];
    size_t        n, len;
    ssize_t       r;
    int           err, sent_sni, invalid;

    c = sp_pair_new(client_ctx, name, &err);
    fz_check_err_queue("client sp_pair_new");

    if (c == NULL) {
        FZ_ASSERT(err == SP_ERR_INVALID, "client sp_pair_new(\"%.64s\"): %d",
                  name, err);
        return;
    }

    fz_track_init(&tc, c, SP_CLIENT);
    fz_check(&tc, "sp_pair_new", FZ_NO_RET);

    s = sp_pair_new(sctx, NULL, &err);
    FZ_ASSERT(s != NULL, "server sp_pair_new: %d", err);
    fz_track_init(&ts, s, SP_SERVER);

    while ((n = sp_enc_out(c, buf, sizeof(buf))) > 0) {
        fz_check(&tc, "sp_enc_out", FZ_NO_RET);
        r = sp_enc_in(s, buf, n);
        fz_check(&ts, "sp_enc_in", (long) r);
        if (r < 0) {
            break;
        }
    }

    /* OpenSSL sends no SNI for an IP address or an empty name */
    sent_sni = sp_pair_servername(c) != NULL
               && SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name)
                  != NULL;

    /*
     * The server reads the name as DNS does: one final dot dropped, a
     * name of empty labels refused (sni_select.c).
     */
    want = NULL;
    invalid = 0;

    if (sent_sni) {
        len = strlen(name);
        FZ_ASSERT(len < sizeof(norm), "SNI of %zu bytes sent", len);
        memcpy(norm, name, len + 1);

        if (len > 0 && norm[len - 1] == '.') {
            norm[--len] = '\0';
        }

        invalid = len == 0 || norm[0] == '.' || norm[len - 1] == '.'
                  || strstr(norm, "..") != NULL;

        if (!invalid) {
            want = sp_sni_table_find(sctx->sni, norm, &matched, NULL);
        }
    }

    if (invalid) {
        FZ_ASSERT(sp_pair_error(s) == SP_ERR_HANDSHAKE
                  && sp_pair_alert_sent(s) == SSL_AD_UNRECOGNIZED_NAME,
                  "SNI \"%.64s\" of empty labels: server error %d (%s)",
                  name, sp_pair_error(s), sp_pair_error_message(s));
    }

    FZ_ASSERT(sp_pair_context_name(s) == (want ? matched : NULL),
              "SNI \"%.64s\": the server selected \"%s\", the table gives "
              "\"%s\"", name, sp_pair_context_name(s) ? sp_pair_context_name(s)
                                                      : "(default)",
              want ? matched : "(default)");

    if (reject_unknown && !invalid) {
        FZ_ASSERT((sp_pair_error(s) == SP_ERR_UNKNOWN_NAME) == (want == NULL),
                  "SNI \"%.64s\" (%s): server error %d (%s)", name,
                  want ? "known" : "unknown", sp_pair_error(s),
                  sp_pair_error_message(s));
    }

    sp_pair_free(c);
    sp_pair_free(s);
    fz_check_err_queue("sp_pair_free");
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ref_table  ref;
    char             *copy, *names[MAX_NAMES];
    size_t            i, n = 0, pos;
    unsigned          flags;
    sp_ctx           *sctx;
    int               rc, expect, hellos = 0;

    if (size < 1) {
        return 0;
    }

    flags = data[0];

    /* names: the rest, split at NUL bytes */
    copy = malloc(size);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';

    for (pos = 0; pos < size && n < MAX_NAMES; ) {
        names[n++] = copy + pos;
        pos += strlen(copy + pos) + 1;
        if (pos >= size - 1 + (size == 1)) {
            break;
        }
    }

    ERR_clear_error();

    sctx = sp_ctx_new(SP_SERVER, creds);
    FZ_ASSERT(sctx != NULL, "sp_ctx_new");
    client_ctx = sp_ctx_new(SP_CLIENT, creds);
    FZ_ASSERT(client_ctx != NULL, "sp_ctx_new");

    if (flags & 0x20) {
        sp_ctx_set_reject_unknown_name(sctx, 1);
    }

    for (i = 0; i < n; i++) {
        sp_ctx_error(sctx);
        rc = sp_ctx_add_context(sctx, names[i], creds);
        fz_check_err_queue("sp_ctx_add_context");

        expect = ref_add(&ref, names[i], (int) i);

        FZ_ASSERT(rc == SP_OK || rc == SP_ERR_INVALID,
                  "sp_ctx_add_context(\"%.64s\") returned %d", names[i], rc);

        if (rc != SP_OK) {
            FZ_ASSERT(sp_ctx_error(sctx)[0] != '\0',
                      "sp_ctx_add_context(\"%.64s\"): no message", names[i]);
        }

        if (expect >= 0 && (rc == SP_OK) != (expect == 1)) {
            fz_die("sp_ctx_add_context(\"%.64s\") %s, the reference %s it "
                   "(%s)", names[i], rc == SP_OK ? "accepts" : "refuses",
                   expect ? "accepts" : "refuses", sp_ctx_error(sctx));
        }

        if (rc == SP_OK && names[i][0] != '~' && names[i][0] != '*'
            && strstr(names[i], ".*") == NULL)
        {
            FZ_ASSERT(sp_ctx_find_context(sctx, names[i]) == creds,
                      "exact name \"%.64s\" added but not found", names[i]);
        }
    }

    (void) sp_ctx_find_context(sctx, n ? names[0] : "x");
    fz_check_err_queue("sp_ctx_find_context");

    if (flags & 1) {
        rc = sp_ctx_set_npn(sctx, (const char *const *) names, n);
        check_list(sctx, "server npn", rc, &sctx->npn, names, n);
    }

    if (flags & 2) {
        rc = sp_ctx_set_alpn(sctx, (const char *const *) names, n);
        check_list(sctx, "server alpn", rc, &sctx->alpn, names, n);
    }

    if (flags & 4) {
        rc = sp_ctx_set_npn(client_ctx, (const char *const *) names, n);
        check_list(client_ctx, "client npn", rc, &client_ctx->npn, names, n);
    }

    if (flags & 8) {
        rc = sp_ctx_set_alpn(client_ctx, (const char *const *) names, n);
        check_list(client_ctx, "client alpn", rc, &client_ctx->alpn, names,
                   n);
    }

    if (flags & 0x10) {
        for (i = 0; i < n && hellos < 4; i++, hellos++) {
            hello_to_server(sctx, names[i], (flags & 0x20) != 0);
        }
    }

    sp_ctx_unref(client_ctx);
    client_ctx = NULL;
    sp_ctx_unref(sctx);
    fz_check_err_queue("sp_ctx_unref");

    ref_free(&ref);
    free(copy);
    return 0;
}
