/*
 * Server side of SNI: choose the credentials for a ClientHello's server
 * name.  It runs from the ClientHello callback (hello.c), before OpenSSL
 * picks the protocol version and cipher, so a context's own versions,
 * ciphers and TLS 1.3 suites apply; its certificates, CAs and settings
 * are installed on the pair's SSL (creds.c), the SSL_CTX stays the
 * default credentials'.  The user's callback is asked first,
 * then the table; no match keeps the default credentials, or ends the
 * handshake with unrecognized_name when the context rejects unknown names.
 * The choice is made once, on the first ClientHello: a second one (after a
 * HelloRetryRequest) must name the same.
 */

#include <string.h>

#include "internal.h"


/*
 * The host_name entry of a ClientHello's server_name extension, copied
 * into name[256] as a name to look up: one final dot stripped, the way
 * DNS and nginx's server_name matching read "example.com." (so that it
 * cannot step around the contexts of "example.com").  1 with a name; 0
 * when absent or malformed (OpenSSL refuses a malformed extension itself,
 * later); -1 for a name of empty labels ("..", ".a", "a..b", "."), with
 * the reason in *why.
 */
static int
client_hello_servername(SSL *ssl, char *name, const char **why)
{
    size_t                len, list, n;
    const unsigned char  *p;

    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len)
        || len < 2)
    {
        return 0;
    }

    list = ((size_t) p[0] << 8) | p[1];
    if (list != len - 2 || list < 3) {
        return 0;
    }

    p += 2;

    if (p[0] != TLSEXT_NAMETYPE_host_name) {
        return 0;
    }

    n = ((size_t) p[1] << 8) | p[2];
    if (n == 0 || n > 255 || n > list - 3 || memchr(p + 3, '\0', n)) {
        return 0;
    }

    memcpy(name, p + 3, n);

    if (name[n - 1] == '.') {
        n--;
    }

    name[n] = '\0';

    if (n == 0 || name[0] == '.' || name[n - 1] == '.'
        || strstr(name, "..") != NULL)
    {
        *why = "invalid server name in ClientHello: empty label";
        return -1;
    }

    return 1;
}


/*
 * The chosen credentials go on the pair's SSL, which holds the pair's
 * current ones (the default's, at first); a second ClientHello (after a
 * HelloRetryRequest) finds them there already.  Credentials of the
 * context's table live as long as the context, which the pair holds: the
 * pair only borrows them, and never writes to them, so a worker that
 * serves a name for the first time does not copy the page they share
 * with its master.  The callback's are borrowed only for the call: the
 * pair takes a reference.
 */
static int
apply_creds(sp_pair *pair, sp_creds *creds, int hold)
{
    if (sp_creds_prepare(creds) != SP_OK) {
        return 0;
    }

    if (creds == pair->creds) {
        return 1;
    }

    if (!sp_creds_install(creds, pair->creds, pair->ssl)) {
        return 0;
    }

    if (hold) {
        sp_creds_ref(creds);
    }

    if (pair->creds_held) {
        sp_creds_unref(pair->creds);
    }

    pair->creds = creds;
    pair->creds_held = hold;
    return 1;
}


/* The host's answer, taken up: its reference goes to *answer. */
static sp_creds *
take_answer(sp_pair *pair, sp_creds **answer)
{
    *answer = pair->answer_creds;
    pair->answer_creds = NULL;
    pair->creds_answered = 0;
    return *answer;
}


/*
 * The SNI callback's choice for `name`: credentials, NULL, or
 * SP_SNI_WAIT while the pair waits for the host's answer.  An answer
 * given from inside the callback is its choice; *answer holds the
 * reference the answer took, to drop once the pair took its own.
 */
static sp_creds *
ask_callback(sp_pair *pair, const char *name, sp_creds **answer)
{
    sp_ctx    *ctx = pair->ctx;
    sp_creds  *creds;

    sp_wait_begin(pair, SP_WAIT_CREDS);

    pair->in_sni_fn = 1;
    creds = ctx->sni_fn(pair, name, ctx->sni_arg);
    pair->in_sni_fn = 0;

    if (creds != SP_SNI_WAIT) {
        /* an answer given all the same is dropped: the return decides */
        pair->wait = SP_WAIT_NONE;
        sp_wait_drop_answers(pair);
        return creds;
    }

    if (sp_wait_end(pair)) {
        return SP_SNI_WAIT;
    }

    return take_answer(pair, answer);
}


/*
 * The name the client sent now, kept in pair->servername (OpenSSL reports
 * a resumed TLS 1.2 session's original name instead): 1 with a name, 0
 * without, -1 when the hello is refused (the alert in *alert).
 */
static int
take_servername(sp_pair *pair, int *alert)
{
    char  name[256];
    int   has_name;

    has_name = client_hello_servername(pair->ssl, name,
                                       &pair->hello_refused);

    if (has_name < 0) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return -1;
    }

    if (has_name) {
        pair->servername = strdup(name);
        if (pair->servername == NULL) {
            *alert = SSL_AD_INTERNAL_ERROR;
            return -1;
        }
    }

    return has_name;
}


/*
 * The chosen credentials serve the pair, described as `matched`: 1, or 0
 * when they cannot (the alert in *alert).  `hold`: see apply_creds().
 */
static int
serve_creds(sp_pair *pair, sp_creds *creds, int hold, const char *matched,
    int *alert)
{
    if (!apply_creds(pair, creds, hold)) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return 0;
    }

    pair->context_name = matched;
    sp_verify_apply(pair);
    return 1;
}


/*
 * No credentials for the name (or no name): the default's serve, unless
 * the context rejects unknown names.
 */
static int
serve_unknown_name(sp_pair *pair, int *alert)
{
    if (pair->ctx->reject_unknown_name) {
        pair->unknown_name = 1;
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return 0;
    }

    return 1;
}


/*
 * 1 when the credentials are chosen, 0 when the hello is refused (the
 * alert in *alert), -1 when the pair waits for the SNI callback's
 * answer: then, once the host answered, the ClientHello callback calls
 * again and the choice goes on from the answer.
 */
int
sp_sni_select(sp_pair *pair, int *alert)
{
    sp_creds    *creds = NULL, *answer = NULL;
    const char  *matched = NULL;
    int          has_name, ok;

    if (pair->creds_answered) {
        has_name = 1;
        creds = take_answer(pair, &answer);

    } else {
        has_name = take_servername(pair, alert);

        if (has_name < 0) {
            return 0;
        }

        if (has_name && pair->ctx->sni_fn) {
            creds = ask_callback(pair, pair->servername, &answer);

            if (creds == SP_SNI_WAIT) {
                return -1;
            }
        }
    }

    /* the pair takes its own reference to the callback's choice */
    if (creds != NULL) {
        ok = serve_creds(pair, creds, 1, "(callback)", alert);

        sp_creds_unref(answer);             /* NULL: nothing to drop */

        return ok;
    }

    /* the callback may have moved the pair (sp_pair_use_ctx): that
       context's table and policy apply from here on */
    if (has_name && pair->ctx->sni) {
        creds = sp_sni_table_find_in(pair->ctx->sni, pair->servername,
                                     sp_worker_sni_match(pair->worker),
                                     &matched, &pair->sni_gave_up);
    }

    if (creds == NULL) {
        return serve_unknown_name(pair, alert);
    }

    return serve_creds(pair, creds, 0, matched, alert);
}


/*
 * The second ClientHello of a TLS 1.3 handshake, after a
 * HelloRetryRequest: RFC 8446 lets it change only its key share, cookie
 * and early data, and OpenSSL 3.0 does not check the server name.  The
 * credentials and verification policy of the first hello's name are
 * installed and its name is reported, so a second hello that names
 * another (or none, or one where there was none) would be served by one
 * context and described as another: it ends the handshake instead.
 */
int
sp_sni_check_retry(sp_pair *pair, int *alert)
{
    char         name[256];
    int          has_name;
    const char  *why = NULL;

    has_name = client_hello_servername(pair->ssl, name, &why);

    if (has_name == 0 && pair->servername == NULL) {
        return 1;
    }

    if (has_name == 1 && pair->servername != NULL
        && strcmp(name, pair->servername) == 0)
    {
        return 1;
    }

    pair->hello_refused = "second ClientHello after a HelloRetryRequest "
                          "changed the server name";
    *alert = SSL_AD_ILLEGAL_PARAMETER;
    return 0;
}


/*
 * The selection is made; this only acknowledges a name we served, which
 * is what a client expects when its name chose the certificate.
 */
static int
servername_callback(SSL *ssl, int *alert, void *arg)
{
    sp_pair  *pair = sp_pair_from_ssl(ssl);

    (void) alert;
    (void) arg;

    if (pair == NULL || pair->ctx->role != SP_SERVER
        || SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) == NULL)
    {
        return SSL_TLSEXT_ERR_NOACK;
    }

    return SSL_TLSEXT_ERR_OK;
}


void
sp_sni_install(SSL_CTX *ssl_ctx)
{
    SSL_CTX_set_tlsext_servername_callback(ssl_ctx, servername_callback);
}
