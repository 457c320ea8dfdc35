/*
 * fuzz_creds: PEM-ish input to the credential loaders.
 *
 * Input: a flags byte, then sections separated by "\n%%\n":
 *   passphrases (one a line) %% key PEM %% certificate PEM %% CA PEM
 * flags bits 0-1: how many passphrases to set (0..3); bit 2: add the
 * key/certificate; bit 3: add the CA; bit 4: then cipher list and TLS 1.3
 * suites from the passphrase lines; bit 5: then a context over the
 * credentials (sp_ctx_new, which prepares the store).
 *
 * Never crashes; every call returns SP_OK or a documented error, with a
 * message when it fails; the OpenSSL error queue is empty after each.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "common.h"


#define SEP      "\n%%\n"
#define SEP_LEN  4


static int
load_error(int rc)
{
    return rc == SP_ERR_LOAD || rc == SP_ERR_INVALID || rc == SP_ERR_NOMEM;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    fz_rng_install();
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char  *sec[4], *p, *end, *next;
    size_t       len[4], i, n, npass;
    char        *lines[3], *copy, *nl;
    unsigned     flags;
    sp_creds    *creds;
    sp_ctx      *ctx;
    int          rc;

    if (size < 1) {
        return 0;
    }

    flags = data[0];
    p = (const char *) data + 1;
    end = (const char *) data + size;

    for (i = 0; i < 4; i++) {
        next = p < end ? memmem(p, (size_t) (end - p), SEP, SEP_LEN) : NULL;
        sec[i] = p;
        len[i] = (size_t) ((next ? next : end) - p);
        p = next ? next + SEP_LEN : end;
    }

    ERR_clear_error();

    creds = sp_creds_new();
    FZ_ASSERT(creds != NULL, "sp_creds_new");
    FZ_ASSERT(sp_creds_error(creds)[0] == '\0', "a new creds has an error");

    /* passphrases: the first lines of section 0 (NUL-terminated copies) */
    copy = malloc(len[0] + 1);
    memcpy(copy, sec[0], len[0]);
    copy[len[0]] = '\0';

    npass = flags & 3;
    lines[0] = copy;
    for (n = 1; n < 3; n++) {
        nl = strchr(lines[n - 1], '\n');
        lines[n] = nl ? (*nl = '\0', nl + 1) : copy + len[0];
    }

    rc = sp_creds_set_passphrases(creds, (const char *const *) lines, npass);
    fz_check_err_queue("sp_creds_set_passphrases");
    FZ_ASSERT(rc == SP_OK, "sp_creds_set_passphrases: %d", rc);

    if (flags & 4) {
        rc = sp_creds_add_key_cert_mem(creds, sec[1], len[1], sec[2], len[2]);
        fz_check_err_queue("sp_creds_add_key_cert_mem");

        FZ_ASSERT(rc == SP_OK || load_error(rc),
                  "sp_creds_add_key_cert_mem returned %d", rc);
        if (rc != SP_OK) {
            FZ_ASSERT(sp_creds_error(creds)[0] != '\0',
                      "sp_creds_add_key_cert_mem failed (%d) without a "
                      "message", rc);
        }
    }

    if (flags & 8) {
        rc = sp_creds_add_ca_mem(creds, sec[3], len[3]);
        fz_check_err_queue("sp_creds_add_ca_mem");

        FZ_ASSERT(rc == SP_OK || load_error(rc),
                  "sp_creds_add_ca_mem returned %d", rc);
        if (rc != SP_OK) {
            FZ_ASSERT(sp_creds_error(creds)[0] != '\0',
                      "sp_creds_add_ca_mem failed (%d) without a message",
                      rc);
        }
    }

    if (flags & 0x10) {
        rc = sp_creds_set_ciphers(creds, lines[0]);
        fz_check_err_queue("sp_creds_set_ciphers");
        FZ_ASSERT(rc == SP_OK || (rc == SP_ERR_INVALID
                                  && sp_creds_error(creds)[0] != '\0'),
                  "sp_creds_set_ciphers: %d", rc);

        rc = sp_creds_set_ciphersuites(creds, lines[1]);
        fz_check_err_queue("sp_creds_set_ciphersuites");
        FZ_ASSERT(rc == SP_OK || (rc == SP_ERR_INVALID
                                  && sp_creds_error(creds)[0] != '\0'),
                  "sp_creds_set_ciphersuites: %d", rc);

        rc = sp_creds_set_session_id_context(creds, lines[2],
                                             strlen(lines[2]));
        fz_check_err_queue("sp_creds_set_session_id_context");
        FZ_ASSERT((rc == SP_OK) == (strlen(lines[2]) >= 1
                                    && strlen(lines[2]) <= 32),
                  "sp_creds_set_session_id_context(%zu bytes): %d",
                  strlen(lines[2]), rc);
    }

    if (flags & 0x20) {
        ctx = sp_ctx_new(SP_SERVER, creds);
        fz_check_err_queue("sp_ctx_new");
        FZ_ASSERT(ctx != NULL, "sp_ctx_new");
        sp_ctx_unref(ctx);
    }

    sp_creds_unref(creds);
    fz_check_err_queue("sp_creds_unref");

    free(copy);
    return 0;
}
