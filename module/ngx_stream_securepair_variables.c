
/*
 * $securepair_* variables: what the session's pair negotiated, for
 * log_format, map and proxy_pass.  An absent value is "not found".  A
 * handshake that failed or timed out still tells what it knew, so that the
 * access log says whom it refused and why: the servername, the verdict,
 * the peer's certificate, the protocol and cipher once chosen.  What only
 * a completed handshake has (NPN, ALPN, the session, renegotiations) is
 * not found then.
 */


#include "ngx_stream_securepair_module.h"


typedef enum {
    NGX_SP_VAR_AUTHORIZED = 0,
    NGX_SP_VAR_AUTHORIZATION_ERROR,
    NGX_SP_VAR_SERVERNAME,
    NGX_SP_VAR_NPN,
    NGX_SP_VAR_ALPN,
    NGX_SP_VAR_PROTOCOL,
    NGX_SP_VAR_CIPHER,
    NGX_SP_VAR_SESSION_REUSED,
    NGX_SP_VAR_RENEGOTIATIONS,
    NGX_SP_VAR_CONNECTIONS,
    NGX_SP_VAR_PEER_SUBJECT,
    NGX_SP_VAR_PEER_ISSUER,
    NGX_SP_VAR_PEER_CN,
    NGX_SP_VAR_PEER_VALID_FROM,
    NGX_SP_VAR_PEER_VALID_TO,
    NGX_SP_VAR_PEER_FINGERPRINT,
    NGX_SP_VAR_SESSION_ID
} ngx_stream_securepair_var_e;


static ngx_int_t ngx_stream_securepair_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);


static ngx_stream_variable_t  ngx_stream_securepair_vars[] = {

    { ngx_string("securepair_authorized"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_AUTHORIZED,
      NGX_STREAM_VAR_NOCACHEABLE, 0 },

    { ngx_string("securepair_authorization_error"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_AUTHORIZATION_ERROR,
      NGX_STREAM_VAR_NOCACHEABLE, 0 },

    { ngx_string("securepair_servername"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_SERVERNAME, 0, 0 },

    { ngx_string("securepair_npn_protocol"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_NPN, 0, 0 },

    { ngx_string("securepair_alpn_protocol"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_ALPN, 0, 0 },

    { ngx_string("securepair_protocol"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_PROTOCOL, 0, 0 },

    { ngx_string("securepair_cipher"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_CIPHER, 0, 0 },

    { ngx_string("securepair_session_reused"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_SESSION_REUSED, 0, 0 },

    { ngx_string("securepair_renegotiations"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_RENEGOTIATIONS,
      NGX_STREAM_VAR_NOCACHEABLE, 0 },

    { ngx_string("securepair_connections"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_CONNECTIONS,
      NGX_STREAM_VAR_NOCACHEABLE, 0 },

    { ngx_string("securepair_peer_subject"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_PEER_SUBJECT, 0, 0 },

    { ngx_string("securepair_peer_issuer"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_PEER_ISSUER, 0, 0 },

    { ngx_string("securepair_peer_cn"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_PEER_CN, 0, 0 },

    { ngx_string("securepair_peer_valid_from"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_PEER_VALID_FROM, 0, 0 },

    { ngx_string("securepair_peer_valid_to"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_PEER_VALID_TO, 0, 0 },

    { ngx_string("securepair_peer_fingerprint"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_PEER_FINGERPRINT, 0, 0 },

    { ngx_string("securepair_session_id"), NULL,
      ngx_stream_securepair_variable, NGX_SP_VAR_SESSION_ID, 0, 0 },

      ngx_stream_null_variable
};


ngx_int_t
ngx_stream_securepair_add_variables(ngx_conf_t *cf)
{
    ngx_stream_variable_t  *var, *v;

    for (v = ngx_stream_securepair_vars; v->name.len; v++) {
        var = ngx_stream_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* Copies a runtime string into the session pool: the value outlives it. */
static ngx_int_t
ngx_stream_securepair_set(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, const char *value)
{
    size_t   len;
    u_char  *p;

    if (value == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = ngx_strlen(value);

    p = ngx_pnalloc(s->connection->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, value, len);

    v->data = p;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* The session id in lower-case hex, as nginx's $ssl_session_id. */
static ngx_int_t
ngx_stream_securepair_session_id(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, sp_pair *pair)
{
    size_t          len;
    u_char         *p;
    const uint8_t  *id;

    id = sp_pair_session_id(pair, &len);

    if (id == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(s->connection->pool, 2 * len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_hex_dump(p, (u_char *) id, len) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * The session's snapshot of the peer's certificate: a snapshot parses the
 * certificate and takes two digests, once for all the variables a log
 * line reads, not once for each.  A renegotiation may bring another.
 */
static sp_peer_cert *
ngx_stream_securepair_peer(ngx_stream_securepair_ctx_t *ctx)
{
    ngx_uint_t  n;

    n = sp_pair_renegotiations(ctx->pair);

    if (ctx->peer_taken && ctx->peer_renegotiations == n) {
        return ctx->peer;
    }

    sp_peer_cert_free(ctx->peer);

    ctx->peer = sp_pair_peer_cert(ctx->pair);
    ctx->peer_taken = 1;
    ctx->peer_renegotiations = n;

    return ctx->peer;
}


static ngx_int_t
ngx_stream_securepair_peer_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    uintptr_t data)
{
    const char    *value;
    sp_peer_cert  *cert;

    cert = ngx_stream_securepair_peer(ctx);

    if (cert == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_SP_VAR_PEER_SUBJECT:
        value = cert->subject_line;
        break;

    case NGX_SP_VAR_PEER_ISSUER:
        value = cert->issuer_line;
        break;

    case NGX_SP_VAR_PEER_CN:
        value = sp_peer_cert_get(cert->subject, cert->subject_count, "CN");
        break;

    case NGX_SP_VAR_PEER_VALID_FROM:
        value = cert->valid_from;
        break;

    case NGX_SP_VAR_PEER_VALID_TO:
        value = cert->valid_to;
        break;

    default: /* NGX_SP_VAR_PEER_FINGERPRINT */
        value = cert->fingerprint;
        break;
    }

    return ngx_stream_securepair_set(s, v, value);
}


/* A count, read afresh each time: it changes while the session lives. */
static ngx_int_t
ngx_stream_securepair_set_count(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_uint_t n)
{
    u_char  *p;

    p = ngx_pnalloc(s->connection->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%ui", n) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* What only a completed handshake has: not found after a failed one. */
static ngx_uint_t
ngx_stream_securepair_needs_secure(uintptr_t data)
{
    switch (data) {

    case NGX_SP_VAR_NPN:
    case NGX_SP_VAR_ALPN:
    case NGX_SP_VAR_SESSION_REUSED:
    case NGX_SP_VAR_SESSION_ID:
    case NGX_SP_VAR_RENEGOTIATIONS:
        return 1;
    }

    return 0;
}


/* The facts the pair gives as strings (NULL: none). */
static const char *
ngx_stream_securepair_fact(sp_pair *pair, uintptr_t data)
{
    switch (data) {

    case NGX_SP_VAR_AUTHORIZED:
        return sp_pair_authorized(pair) ? "true" : "false";

    case NGX_SP_VAR_AUTHORIZATION_ERROR:
        return sp_pair_authorization_error(pair);

    case NGX_SP_VAR_SERVERNAME:
        return sp_pair_servername(pair);

    case NGX_SP_VAR_NPN:
        return sp_pair_npn_protocol(pair);

    case NGX_SP_VAR_ALPN:
        return sp_pair_alpn_protocol(pair);

    case NGX_SP_VAR_PROTOCOL:
        return sp_pair_protocol(pair);

    case NGX_SP_VAR_CIPHER:
        return sp_pair_cipher(pair);

    default: /* NGX_SP_VAR_SESSION_REUSED */
        return sp_pair_session_reused(pair) ? "r" : ".";
    }
}


static ngx_int_t
ngx_stream_securepair_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    sp_ctx                            *sctx;
    ngx_stream_securepair_ctx_t       *ctx;
    ngx_stream_securepair_srv_conf_t  *spcf;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);

    if (data == NGX_SP_VAR_CONNECTIONS) {
        spcf = ngx_stream_get_module_srv_conf(s,
                                              ngx_stream_securepair_module);

        /* where the session is counted, when server_name moved it */
        sctx = (ctx && ctx->counted) ? ctx->counted : spcf->ctx;

        if (sctx == NULL) {
            v->not_found = 1;
            return NGX_OK;
        }

        return ngx_stream_securepair_set_count(s, v,
                   sp_worker_connections(ngx_stream_securepair_worker,
                                         sctx));
    }

    if (ctx == NULL || ctx->pair == NULL
        || (!ctx->secure && ngx_stream_securepair_needs_secure(data)))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_SP_VAR_SESSION_ID:
        return ngx_stream_securepair_session_id(s, v, ctx->pair);

    case NGX_SP_VAR_RENEGOTIATIONS:
        return ngx_stream_securepair_set_count(s, v,
                                      sp_pair_renegotiations(ctx->pair));

    case NGX_SP_VAR_PEER_SUBJECT:
    case NGX_SP_VAR_PEER_ISSUER:
    case NGX_SP_VAR_PEER_CN:
    case NGX_SP_VAR_PEER_VALID_FROM:
    case NGX_SP_VAR_PEER_VALID_TO:
    case NGX_SP_VAR_PEER_FINGERPRINT:
        return ngx_stream_securepair_peer_variable(s, v, ctx, data);
    }

    return ngx_stream_securepair_set(s, v,
                                     ngx_stream_securepair_fact(ctx->pair,
                                                                data));
}
