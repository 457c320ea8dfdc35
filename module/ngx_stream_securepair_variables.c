/*
 * $securepair_* variables: what the session's pair negotiated, for
 * log_format, map and proxy_pass.  An absent value is "not found".  A
 * handshake that failed or timed out still tells what it knew, so that the
 * access log says whom it refused and why: the servername, the verdict,
 * the peer's certificate, the protocol and cipher once chosen, what the
 * client offered.  What only a completed handshake has (NPN, ALPN, the
 * session, renegotiations) is not found then.
 *
 * One table: each variable names the getter that reads it and what that
 * getter reads (a fact of the pair, a field of the peer's snapshot, a
 * list the client offered); one handler finds the session's pair and
 * hands it the entry.
 */


#include "ngx_stream_securepair_module.h"


typedef struct ngx_stream_securepair_var_s  ngx_stream_securepair_var_t;

typedef ngx_int_t (*ngx_stream_securepair_get_pt)(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    const ngx_stream_securepair_var_t *var);

typedef const char *(*ngx_stream_securepair_fact_pt)(const sp_pair *pair);
typedef size_t (*ngx_stream_securepair_list_pt)(const sp_pair *pair,
    char *buf, size_t len);

struct ngx_stream_securepair_var_s {
    ngx_str_t                       name;
    ngx_stream_securepair_get_pt    get;
    ngx_uint_t                      flags;
    ngx_stream_securepair_fact_pt   fact;     /* ..._get_fact */
    ngx_stream_securepair_list_pt   list;     /* ..._get_list */
    size_t                          field;    /* ..._get_peer: offset in
                                                 sp_peer_cert */
};

#define NGX_SP_VAR_NOCACHE  0x01              /* changes while it lives */
#define NGX_SP_VAR_SECURE   0x02              /* a completed handshake's */
#define NGX_SP_VAR_SERVER   0x04              /* of the server, not of a
                                                 session's pair */

#define ngx_sp_field(name)  offsetof(sp_peer_cert, name)
#define NGX_SP_PEER_CN      ((size_t) -1)     /* the subject's last CN */


static ngx_int_t ngx_stream_securepair_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);


/* A value of len bytes at p, already in the session's pool. */
static ngx_int_t
ngx_stream_securepair_value(ngx_stream_variable_value_t *v, u_char *p,
    size_t len, ngx_uint_t cacheable)
{
    v->data = p;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = !cacheable;
    v->not_found = 0;

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

    return ngx_stream_securepair_value(v, p, len, 1);
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

    return ngx_stream_securepair_value(v, p, ngx_sprintf(p, "%ui", n) - p,
                                       0);
}


static const char *
ngx_stream_securepair_authorized(const sp_pair *pair)
{
    return sp_pair_authorized(pair) ? "true" : "false";
}


static const char *
ngx_stream_securepair_reused(const sp_pair *pair)
{
    return sp_pair_session_reused(pair) ? "r" : ".";
}


static ngx_int_t
ngx_stream_securepair_get_fact(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    const ngx_stream_securepair_var_t *var)
{
    return ngx_stream_securepair_set(s, v, var->fact(ctx->pair));
}


/*
 * What the client offered, formatted by the runtime straight into the
 * pool: asked for its length first, so nothing is kept for sessions
 * whose log never names it.
 */
static ngx_int_t
ngx_stream_securepair_get_list(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    const ngx_stream_securepair_var_t *var)
{
    size_t   len;
    u_char  *p;

    len = var->list(ctx->pair, NULL, 0);

    if (len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(s->connection->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_stream_securepair_value(v, p,
                                       var->list(ctx->pair, (char *) p,
                                                 len + 1), 1);
}


/*
 * The session id in lower-case hex, as $ssl_session_id, written as the
 * runtime writes its lists (the whole length; the text when it fits).
 */
static size_t
ngx_stream_securepair_session_hex(const sp_pair *pair, char *buf,
    size_t len)
{
    size_t          n;
    const uint8_t  *id;

    id = sp_pair_session_id(pair, &n);

    if (id == NULL) {
        return 0;
    }

    if (buf != NULL && len > 2 * n) {
        *ngx_hex_dump((u_char *) buf, (u_char *) id, n) = '\0';
    }

    return 2 * n;
}


static ngx_int_t
ngx_stream_securepair_get_renegs(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    const ngx_stream_securepair_var_t *var)
{
    return ngx_stream_securepair_set_count(s, v,
                                      sp_pair_renegotiations(ctx->pair));
}


/*
 * The server's live connections in this worker, also without a pair (ctx
 * may be NULL): those of the server where the session is counted, when
 * server_name moved it to another.
 */
static ngx_int_t
ngx_stream_securepair_get_conns(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    const ngx_stream_securepair_var_t *var)
{
    sp_ctx                            *sctx;
    ngx_stream_securepair_srv_conf_t  *spcf;

    spcf = ngx_stream_get_module_srv_conf(s, ngx_stream_securepair_module);

    sctx = (ctx && ctx->counted) ? ctx->counted : spcf->ctx;

    if (sctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_stream_securepair_set_count(s, v,
               sp_worker_connections(ngx_stream_securepair_worker, sctx));
}


/* ---- the peer's certificate ------------------------------------------- */

/*
 * The session's snapshot of the peer's certificate: a snapshot parses the
 * certificate, takes two digests and writes its PEM, once for all the
 * variables a log line reads, not once for each.  A renegotiation may
 * bring another.
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
ngx_stream_securepair_get_peer(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    const ngx_stream_securepair_var_t *var)
{
    const char    *value;
    sp_peer_cert  *cert;

    cert = ngx_stream_securepair_peer(ctx);

    if (cert == NULL) {
        value = NULL;

    } else if (var->field == NGX_SP_PEER_CN) {
        value = sp_peer_cert_get(cert->subject, cert->subject_count, "CN");

    } else {
        value = *(char **) ((u_char *) cert + var->field);
    }

    return ngx_stream_securepair_set(s, v, value);
}


/* The PEM escaped as a URI component, as $ssl_client_escaped_cert. */
static ngx_int_t
ngx_stream_securepair_get_escaped(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    const ngx_stream_securepair_var_t *var)
{
    size_t         len, size;
    u_char        *pem, *p;
    sp_peer_cert  *cert;

    cert = ngx_stream_securepair_peer(ctx);
    pem = (cert != NULL) ? (u_char *) cert->pem : NULL;

    if (pem == NULL) {
        return ngx_stream_securepair_set(s, v, NULL);
    }

    len = ngx_strlen(pem);
    size = len + 2 * ngx_escape_uri(NULL, pem, len, NGX_ESCAPE_URI_COMPONENT);

    p = ngx_pnalloc(s->connection->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_escape_uri(p, pem, len, NGX_ESCAPE_URI_COMPONENT);

    return ngx_stream_securepair_value(v, p, size, 1);
}


/*
 * Whole days until the certificate expires, 0 within the last day or
 * after it, as $ssl_client_v_remain: read afresh, since time passes.
 */
static ngx_int_t
ngx_stream_securepair_get_v_remain(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, ngx_stream_securepair_ctx_t *ctx,
    const ngx_stream_securepair_var_t *var)
{
    time_t         now, end;
    sp_peer_cert  *cert;

    cert = ngx_stream_securepair_peer(ctx);

    if (cert == NULL || cert->valid_to == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    now = ngx_time();
    end = cert->valid_to_time;

    return ngx_stream_securepair_set_count(s, v, (end < now + 86400)
                                                 ? 0
                                                 : (end - now) / 86400);
}


/* In the README's order; nginx's $ssl_ counterparts are named there. */
static ngx_stream_securepair_var_t  ngx_stream_securepair_vars[] = {

    { ngx_string("securepair_authorized"), ngx_stream_securepair_get_fact,
      NGX_SP_VAR_NOCACHE, ngx_stream_securepair_authorized, NULL, 0 },
    { ngx_string("securepair_authorization_error"),
      ngx_stream_securepair_get_fact, NGX_SP_VAR_NOCACHE,
      sp_pair_authorization_error, NULL, 0 },
    { ngx_string("securepair_servername"), ngx_stream_securepair_get_fact,
      0, sp_pair_servername, NULL, 0 },
    { ngx_string("securepair_npn_protocol"), ngx_stream_securepair_get_fact,
      NGX_SP_VAR_SECURE, sp_pair_npn_protocol, NULL, 0 },
    { ngx_string("securepair_alpn_protocol"),
      ngx_stream_securepair_get_fact, NGX_SP_VAR_SECURE,
      sp_pair_alpn_protocol, NULL, 0 },
    { ngx_string("securepair_protocol"), ngx_stream_securepair_get_fact, 0,
      sp_pair_protocol, NULL, 0 },
    { ngx_string("securepair_cipher"), ngx_stream_securepair_get_fact, 0,
      sp_pair_cipher, NULL, 0 },
    { ngx_string("securepair_client_ciphers"),
      ngx_stream_securepair_get_list, 0, NULL, sp_pair_client_ciphers, 0 },
    { ngx_string("securepair_client_curves"), ngx_stream_securepair_get_list,
      0, NULL, sp_pair_client_groups, 0 },
    { ngx_string("securepair_session_reused"),
      ngx_stream_securepair_get_fact, NGX_SP_VAR_SECURE,
      ngx_stream_securepair_reused, NULL, 0 },
    { ngx_string("securepair_session_id"), ngx_stream_securepair_get_list,
      NGX_SP_VAR_SECURE, NULL, ngx_stream_securepair_session_hex, 0 },

    { ngx_string("securepair_peer_subject"), ngx_stream_securepair_get_peer,
      0, NULL, NULL, ngx_sp_field(subject_line) },
    { ngx_string("securepair_peer_issuer"), ngx_stream_securepair_get_peer,
      0, NULL, NULL, ngx_sp_field(issuer_line) },
    { ngx_string("securepair_peer_s_dn"), ngx_stream_securepair_get_peer, 0,
      NULL, NULL, ngx_sp_field(subject_dn) },
    { ngx_string("securepair_peer_i_dn"), ngx_stream_securepair_get_peer, 0,
      NULL, NULL, ngx_sp_field(issuer_dn) },
    { ngx_string("securepair_peer_cn"), ngx_stream_securepair_get_peer, 0,
      NULL, NULL, NGX_SP_PEER_CN },
    { ngx_string("securepair_peer_subjectaltname"),
      ngx_stream_securepair_get_peer, 0, NULL, NULL,
      ngx_sp_field(subjectaltname) },
    { ngx_string("securepair_peer_serial"), ngx_stream_securepair_get_peer,
      0, NULL, NULL, ngx_sp_field(serial_number) },
    { ngx_string("securepair_peer_valid_from"),
      ngx_stream_securepair_get_peer, 0, NULL, NULL,
      ngx_sp_field(valid_from) },
    { ngx_string("securepair_peer_valid_to"), ngx_stream_securepair_get_peer,
      0, NULL, NULL, ngx_sp_field(valid_to) },
    { ngx_string("securepair_peer_v_remain"),
      ngx_stream_securepair_get_v_remain, NGX_SP_VAR_NOCACHE, NULL, NULL,
      0 },
    { ngx_string("securepair_peer_fingerprint"),
      ngx_stream_securepair_get_peer, 0, NULL, NULL,
      ngx_sp_field(fingerprint) },
    { ngx_string("securepair_peer_fingerprint256"),
      ngx_stream_securepair_get_peer, 0, NULL, NULL,
      ngx_sp_field(fingerprint256) },
    { ngx_string("securepair_peer_cert"), ngx_stream_securepair_get_peer, 0,
      NULL, NULL, ngx_sp_field(pem) },
    { ngx_string("securepair_peer_escaped_cert"),
      ngx_stream_securepair_get_escaped, 0, NULL, NULL, 0 },

    { ngx_string("securepair_renegotiations"),
      ngx_stream_securepair_get_renegs,
      NGX_SP_VAR_NOCACHE|NGX_SP_VAR_SECURE, NULL, NULL, 0 },
    { ngx_string("securepair_connections"), ngx_stream_securepair_get_conns,
      NGX_SP_VAR_NOCACHE|NGX_SP_VAR_SERVER, NULL, NULL, 0 },

    { ngx_null_string, NULL, 0, NULL, NULL, 0 }
};


ngx_int_t
ngx_stream_securepair_add_variables(ngx_conf_t *cf)
{
    ngx_stream_variable_t        *var;
    ngx_stream_securepair_var_t  *v;

    for (v = ngx_stream_securepair_vars; v->name.len; v++) {
        var = ngx_stream_add_variable(cf, &v->name,
                                      (v->flags & NGX_SP_VAR_NOCACHE)
                                      ? NGX_STREAM_VAR_NOCACHEABLE : 0);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = ngx_stream_securepair_variable;
        var->data = (uintptr_t) v;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_stream_securepair_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    ngx_stream_securepair_ctx_t        *ctx;
    const ngx_stream_securepair_var_t  *var;

    var = (const ngx_stream_securepair_var_t *) data;
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_securepair_module);

    if (var->flags & NGX_SP_VAR_SERVER) {
        return var->get(s, v, ctx, var);
    }

    if (ctx == NULL || ctx->pair == NULL
        || (!ctx->secure && (var->flags & NGX_SP_VAR_SECURE)))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    return var->get(s, v, ctx, var);
}
