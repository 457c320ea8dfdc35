/*
 * Fuzz harness: the pair's invariants, checked after every runtime call,
 * and the checks of a peer-certificate snapshot (see common.h).
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "common.h"


/* ---- pair invariants --------------------------------------------------- */

/* Every record a pair may ever hold at once, generously. */
#define FZ_OUT_BOUND  (1024 * 1024)


void
fz_track_init(fz_track *t, sp_pair *pair, sp_role role)
{
    memset(t, 0, sizeof(*t));
    t->pair = pair;
    t->role = role;
}


static int
valid_pair_error(int err)
{
    switch (err) {
    case SP_ERR_NOMEM:
    case SP_ERR_HANDSHAKE:
    case SP_ERR_PEER_ALERT:
    case SP_ERR_UNAUTHORIZED:
    case SP_ERR_RENEG_LIMIT:
    case SP_ERR_TRUNCATED:
    case SP_ERR_UNKNOWN_NAME:
    case SP_ERR_INTERNAL:
        return 1;
    }

    return 0;
}


/* The sticky error, what the call returned, the alerts. */
static void
check_error(fz_track *t, const char *op, long ret, int err, unsigned ev,
    size_t out)
{
    sp_pair  *p = t->pair;
    int       a;

    /* errors are sticky, named, and announced once */
    if (t->error) {
        FZ_ASSERT(err == t->error, "%s: sticky error %d became %d", op,
                  t->error, err);
        FZ_ASSERT(ret == FZ_NO_RET || ret == t->error
                  || strcmp(op, "sp_clear_write") == 0 || ret >= 0,
                  "%s on a failed pair returned %ld, not its error %d",
                  op, ret, t->error);
        FZ_ASSERT(!(ev & SP_EVENT_ERROR), "%s: second SP_EVENT_ERROR", op);
        FZ_ASSERT(out <= t->out_at_error,
                  "%s: failed pair produced records (%zu > %zu bytes)", op,
                  out, t->out_at_error);
    }

    if (err) {
        FZ_ASSERT(valid_pair_error(err), "%s: unexpected pair error %d (%s)",
                  op, err, sp_strerror(err));
        FZ_ASSERT(sp_pair_error_message(p) != NULL
                  && sp_pair_error_message(p)[0] != '\0',
                  "%s: error %d without a message", op, err);

        if (!t->error) {
            FZ_ASSERT(ev & SP_EVENT_ERROR, "%s: failed (%d: %s) without "
                      "SP_EVENT_ERROR", op, err, sp_pair_error_message(p));
            FZ_ASSERT(ret == FZ_NO_RET || ret > 0 || ret == err,
                      "%s failed the pair with %d (%s) but returned %ld", op,
                      err, sp_pair_error_message(p), ret);
            t->error = err;
            t->out_at_error = out;
        }

        if (err == SP_ERR_PEER_ALERT) {
            FZ_ASSERT(sp_pair_alert_received(p) >= 0,
                      "%s: SP_ERR_PEER_ALERT with no alert received", op);
        }

        if (err == SP_ERR_UNAUTHORIZED) {
            FZ_ASSERT(sp_pair_authorization_error(p) != NULL,
                      "%s: SP_ERR_UNAUTHORIZED without authorization_error",
                      op);
        }

    } else {
        FZ_ASSERT(!(ev & SP_EVENT_ERROR), "%s: SP_EVENT_ERROR but no error",
                  op);
    }

    /* what a call may return besides the sticky error */
    if (ret != FZ_NO_RET && ret < 0 && !err) {
        FZ_ASSERT(ret == SP_ERR_AGAIN || ret == SP_ERR_INVALID
                  || ret == SP_ERR_CLOSED || ret == SP_ERR_TRANSPORT,
                  "%s returned %ld (%s) but the pair has no error", op, ret,
                  sp_strerror((int) ret));
    }

    a = sp_pair_alert_sent(p);
    FZ_ASSERT(a >= -1 && a <= 255, "%s: alert_sent %d", op, a);
    a = sp_pair_alert_received(p);
    FZ_ASSERT(a >= -1 && a <= 255, "%s: alert_received %d", op, a);
}


/* The state bits, alone and against the error and the buffers. */
static void
check_state(fz_track *t, const char *op, int err, unsigned st,
    size_t out, size_t pending, size_t queued)
{
    sp_pair  *p = t->pair;

    /* state bits */
    FZ_ASSERT((st & ~0xffu) == 0, "%s: unknown state bits 0x%x", op, st);
    FZ_ASSERT(!(st & SP_STATE_WAITING)
              || ((st & SP_STATE_HANDSHAKING) && !err),
              "%s: WAITING outside a handshake (0x%x)", op, st);
    {
        const uint8_t  *key;
        size_t          key_len;
        sp_wait         w = sp_pair_waiting(p, &key, &key_len);

        FZ_ASSERT(!!(st & SP_STATE_WAITING) == (w != SP_WAIT_NONE)
                  && (w == SP_WAIT_NONE) == (key == NULL)
                  && (key == NULL) == (key_len == 0),
                  "%s: WAITING is %d, sp_pair_waiting says %d (%zu bytes)",
                  op, !!(st & SP_STATE_WAITING), (int) w, key_len);
    }
    FZ_ASSERT(!(st & SP_STATE_CLOSED) || st == SP_STATE_CLOSED,
              "%s: CLOSED with other bits (0x%x)", op, st);
    FZ_ASSERT(!!(st & SP_STATE_SEND_RECORDS) == (out > 0),
              "%s: SEND_RECORDS is %d with %zu bytes pending (state 0x%x)",
              op, !!(st & SP_STATE_SEND_RECORDS), out, st);
    FZ_ASSERT(!((st & SP_STATE_HANDSHAKING) && (st & SP_STATE_SECURE)),
              "%s: HANDSHAKING and SECURE (0x%x)", op, st);

    if (err) {
        FZ_ASSERT(st == (out ? SP_STATE_SEND_RECORDS : SP_STATE_CLOSED),
                  "%s: failed pair in state 0x%x with %zu bytes to send", op,
                  st, out);
        FZ_ASSERT(pending == 0 && queued == 0,
                  "%s: failed pair still has %zu readable, %zu queued", op,
                  pending, queued);
    }

    if (st & SP_STATE_CLOSED) {
        t->was_closed = 1;
        FZ_ASSERT(pending == 0, "%s: CLOSED but %zu bytes of cleartext "
                  "are readable (state hides CLEAR_READ)", op, pending);
    }

    if (!(st & SP_STATE_HANDSHAKING)) {
        t->handshake_over = 1;
    } else {
        FZ_ASSERT(!t->handshake_over, "%s: HANDSHAKING came back", op);
    }

    /* closed both ways: SEND_RECORDS alone until the last record is out */
    if (!err && st == SP_STATE_SEND_RECORDS) {
        FZ_ASSERT(p->shutdown_sent && (p->peer_closed || p->in_eof),
                  "%s: SEND_RECORDS alone on a pair that is neither failed "
                  "nor closed", op);
    }

    if (st & SP_STATE_SECURE) {
        t->was_secure = 1;
    } else if (t->was_secure && !err && !(st & SP_STATE_CLOSED)
               && st != SP_STATE_SEND_RECORDS)
    {
        fz_die("%s: SECURE went away without an error (0x%x)", op, st);
    }

    if (!err && !(st & SP_STATE_CLOSED)) {
        FZ_ASSERT(!!(st & SP_STATE_CLEAR_READ) == (pending > 0),
                  "%s: CLEAR_READ is %d with %zu bytes pending", op,
                  !!(st & SP_STATE_CLEAR_READ), pending);
    }
}


/* Each event once, and in its order. */
static void
check_events(fz_track *t, const char *op, int err, unsigned st,
    unsigned ev)
{
    sp_pair  *p = t->pair;

    /* events */
    if (ev & SP_EVENT_SECURE) {
        t->secure_events++;
        FZ_ASSERT(t->secure_events == 1, "%s: second SP_EVENT_SECURE", op);
        t->reused = sp_pair_session_reused(p);
        FZ_ASSERT((st & SP_STATE_SECURE) || err || (st & SP_STATE_CLOSED),
                  "%s: SP_EVENT_SECURE in state 0x%x", op, st);
    }

    if (ev & SP_EVENT_END) {
        t->end_events++;
        FZ_ASSERT(t->end_events == 1, "%s: second SP_EVENT_END", op);
    }

    if (ev & SP_EVENT_RENEGOTIATED) {
        FZ_ASSERT(t->was_secure, "%s: RENEGOTIATED before SECURE", op);
    }

    /* a bare transport end: an end, marked as such */
    if (ev & SP_EVENT_TRUNCATED) {
        FZ_ASSERT((ev & SP_EVENT_END) && sp_pair_truncated(p),
                  "%s: SP_EVENT_TRUNCATED without END, or unmarked (0x%x)",
                  op, ev);
    }

    if (ev & SP_EVENT_WAITING) {
        FZ_ASSERT(!t->was_secure, "%s: WAITING after SECURE", op);
    }

    FZ_ASSERT((ev & ~0x3fu) == 0, "%s: unknown event bits 0x%x", op, ev);
    t->events |= ev;
}


/* What the pair holds stays within its limits. */
static void
check_bounds(fz_track *t, const char *op, size_t out, size_t pending,
    size_t queued)
{
    sp_pair  *p = t->pair;

    /* bounds */
    FZ_ASSERT(out <= FZ_OUT_BOUND, "%s: %zu bytes of records pending", op,
              out);
    FZ_ASSERT(pending <= 16384, "%s: %zu bytes of cleartext in one record",
              op, pending);
    FZ_ASSERT(queued <= p->ctx->clear_queue_limit,
              "%s: %zu bytes queued over the limit %zu", op, queued,
              p->ctx->clear_queue_limit);
    FZ_ASSERT(p->enc_in.end - p->enc_in.start <= SP_ENC_IN_SIZE
              && p->enc_in.size <= SP_ENC_IN_SIZE,
              "%s: encrypted input buffer grew to %zu", op, p->enc_in.size);
    FZ_ASSERT(sp_ctx_connections(p->ctx) >= 1, "%s: connections %u", op,
              sp_ctx_connections(p->ctx));
}


void
fz_check(fz_track *t, const char *op, long ret)
{
    sp_pair   *p = t->pair;
    unsigned   st, ev;
    int        err;
    size_t     out, pending, queued;

    fz_check_err_queue(op);

    err = sp_pair_error(p);
    st = sp_pair_state(p);
    ev = sp_pair_events(p);
    out = sp_enc_out_pending(p);
    pending = sp_clear_pending(p);
    queued = sp_clear_queued(p);

    fz_check_err_queue("sp_pair_state/sp_clear_pending");

    check_error(t, op, ret, err, ev, out);
    check_state(t, op, err, st, out, pending, queued);
    check_events(t, op, err, st, ev);
    check_bounds(t, op, out, pending, queued);

    if ((ev & (SP_EVENT_SECURE | SP_EVENT_RENEGOTIATED)) && !err) {
        fz_check_facts(t);
    }
}


static int
in_list(const char *s, const char *const *list, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(s, list[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
check_cstr(const char *what, const char *s, size_t max)
{
    size_t  n;

    if (s == NULL) {
        return;
    }

    n = strlen(s);
    FZ_ASSERT(n >= 1 && n <= max, "%s has length %zu", what, n);
}


void
fz_check_facts(fz_track *t)
{
    static const char *const  versions[] = {
        "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
    };
    sp_pair       *p = t->pair;
    const char    *s, *e, *r;
    sp_peer_cert  *cert;
    int            secure;

    secure = (sp_pair_state(p) & SP_STATE_SECURE) != 0;

    s = sp_pair_protocol(p);
    if (secure) {
        FZ_ASSERT(s != NULL && in_list(s, versions, 4),
                  "protocol \"%s\"", s ? s : "(null)");
        s = sp_pair_cipher(p);
        FZ_ASSERT(s != NULL && s[0] != '\0', "no cipher when secure");
    }

    s = sp_pair_alpn_protocol(p);
    check_cstr("alpn protocol", s, 255);
    if (s != NULL && t->role == SP_SERVER) {
        FZ_ASSERT(in_list(s, fz_server_alpn, fz_server_nalpn),
                  "server selected ALPN \"%s\" not in its list", s);
    }
    if (s != NULL && t->role == SP_CLIENT) {
        FZ_ASSERT(in_list(s, fz_client_alpn, fz_client_nalpn),
                  "client accepted ALPN \"%s\" it did not offer", s);
    }

    check_cstr("npn protocol", sp_pair_npn_protocol(p), 255);
    check_cstr("servername", sp_pair_servername(p), 255);

    s = sp_pair_context_name(p);
    if (s != NULL) {
        FZ_ASSERT(t->role == SP_SERVER
                  && (in_list(s, fz_sni_names, fz_sni_nnames)
                      || strcmp(s, "(callback)") == 0),
                  "context name \"%s\"", s);
    }

    FZ_ASSERT(sp_pair_authorized(p) == 0 || sp_pair_authorized(p) == 1,
              "authorized %d", sp_pair_authorized(p));
    e = sp_pair_authorization_error(p);
    r = sp_pair_authorization_reason(p);
    if (sp_pair_authorized(p)) {
        FZ_ASSERT(e == NULL, "authorized with error %s", e);
    }
    FZ_ASSERT((e == NULL) == (r == NULL), "authorization error %s, reason %s",
              e ? e : "(null)", r ? r : "(null)");

    (void) sp_pair_session_reused(p);
    (void) sp_pair_renegotiations(p);

    cert = sp_pair_peer_cert(p);
    fz_check_err_queue("sp_pair_peer_cert");
    if (cert != NULL) {
        fz_check_peer_cert(cert);
        sp_peer_cert_free(cert);
    }
}


void
fz_pair_done(fz_track *t, sp_ctx *ctx)
{
    fz_check_facts(t);
    fz_check_err_queue("facts");

    if (getenv("SP_FUZZ_VERBOSE") != NULL) {
        fz_summary(t, stderr);
    }

    sp_pair_free(t->pair);
    fz_check_err_queue("sp_pair_free");
    FZ_ASSERT(sp_ctx_connections(ctx) == 0, "connections %u after free",
              sp_ctx_connections(ctx));
}


void
fz_summary(fz_track *t, void *file)
{
    sp_pair  *p = t->pair;

    fprintf(file, "fuzz: %s: state 0x%02x events 0x%x%s%s renegotiations %u"
            " protocol %s alpn %s npn %s context %s error %d%s%s\n",
            t->role == SP_SERVER ? "server" : "client", sp_pair_state(p),
            t->events, t->was_secure ? " (was secure)" : "",
            t->was_closed ? " (closed)" : "", sp_pair_renegotiations(p),
            sp_pair_protocol(p) ? sp_pair_protocol(p) : "-",
            sp_pair_alpn_protocol(p) ? sp_pair_alpn_protocol(p) : "-",
            sp_pair_npn_protocol(p) ? sp_pair_npn_protocol(p) : "-",
            sp_pair_context_name(p) ? sp_pair_context_name(p) : "-",
            t->error, t->error ? ": " : "",
            t->error ? sp_pair_error_message(p) : "");
}


/* ---- peer certificate snapshots ---------------------------------------- */

/* Well-formed UTF-8, no NUL (the string ends there), no overlongs. */
static int
valid_utf8(const unsigned char *s, int allow_control)
{
    unsigned  c, n, i, cp, min;

    while ((c = *s++) != 0) {
        if (c < 0x80) {
            if (!allow_control && (c < 0x20 || c == 0x7f)) {
                return 0;
            }
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1; cp = c & 0x1f; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2; cp = c & 0x0f; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }

        for (i = 0; i < n; i++) {
            if ((s[i] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }

        s += n;
    }

    return 1;
}


static void
check_name(const char *what, const sp_name_entry *list, size_t n,
    const char *line)
{
    fz_buf  built = { 0 };
    size_t  i;

    if (n > 0) {
        FZ_ASSERT(list != NULL, "%s: %zu entries but no array", what, n);
        FZ_ASSERT(line != NULL, "%s: entries without a line", what);
    } else {
        FZ_ASSERT(list == NULL, "%s: an array of 0 entries", what);
    }

    if (line == NULL) {
        FZ_ASSERT(n == 0, "%s: no line but %zu entries", what, n);
        return;
    }

    for (i = 0; i < n; i++) {
        FZ_ASSERT(list[i].key != NULL && list[i].key[0] != '\0',
                  "%s[%zu]: empty key", what, i);
        FZ_ASSERT(list[i].value != NULL, "%s[%zu]: NULL value", what, i);
        FZ_ASSERT(valid_utf8((const unsigned char *) list[i].key, 0),
                  "%s[%zu]: key is not printable UTF-8", what, i);
        FZ_ASSERT(valid_utf8((const unsigned char *) list[i].value, 1),
                  "%s[%zu] (%s): value is not valid UTF-8", what, i,
                  list[i].key);

        fz_buf_add(&built, "/", 1);
        fz_buf_add(&built, list[i].key, strlen(list[i].key));
        fz_buf_add(&built, "=", 1);
        fz_buf_add(&built, list[i].value, strlen(list[i].value));
    }

    fz_buf_add(&built, "", 1);

    FZ_ASSERT(strcmp((char *) built.data, line) == 0,
              "%s: line \"%s\" is not its entries \"%s\"", what, line,
              (char *) built.data);

    /* the last entry of a key wins */
    for (i = 0; i < n; i++) {
        const char  *v = sp_peer_cert_get(list, n, list[i].key);
        size_t       j, last = i;

        for (j = i + 1; j < n; j++) {
            if (strcmp(list[j].key, list[i].key) == 0) {
                last = j;
            }
        }

        FZ_ASSERT(v == list[last].value, "%s: sp_peer_cert_get(%s) is not "
                  "the last entry", what, list[i].key);
    }

    fz_buf_free(&built);
}


static void
check_printable(const char *what, const char *s)
{
    const unsigned char  *p;

    if (s == NULL) {
        return;
    }

    FZ_ASSERT(s[0] != '\0', "%s is empty", what);

    for (p = (const unsigned char *) s; *p; p++) {
        FZ_ASSERT(*p >= 0x20 && *p < 0x7f, "%s has byte 0x%02x: \"%s\"",
                  what, *p, s);
    }
}


static void
check_fingerprint(const char *what, const char *s, size_t bytes)
{
    size_t  i;

    if (s == NULL) {
        return;
    }

    FZ_ASSERT(strlen(s) == bytes * 3 - 1, "%s has length %zu", what,
              strlen(s));

    for (i = 0; s[i]; i++) {
        if (i % 3 == 2) {
            FZ_ASSERT(s[i] == ':', "%s: \"%s\"", what, s);
        } else {
            FZ_ASSERT((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A'
                      && s[i] <= 'F'), "%s: \"%s\"", what, s);
        }
    }
}


void
fz_check_peer_cert(const sp_peer_cert *c)
{
    const char  *s;

    check_name("subject", c->subject, c->subject_count, c->subject_line);
    check_name("issuer", c->issuer, c->issuer_count, c->issuer_line);

    if (c->subjectaltname != NULL) {
        /* quoted names: printable, UTF-8 only inside DirName */
        FZ_ASSERT(valid_utf8((const unsigned char *) c->subjectaltname, 0),
                  "subjectaltname is not printable UTF-8: \"%s\"",
                  c->subjectaltname);
        FZ_ASSERT(c->subjectaltname[0] != '\0', "subjectaltname is empty");
    }

    check_printable("valid_from", c->valid_from);
    check_printable("valid_to", c->valid_to);
    FZ_ASSERT(c->valid_from != NULL || c->valid_from_time == 0,
              "valid_from_time without valid_from");
    FZ_ASSERT(c->valid_to != NULL || c->valid_to_time == 0,
              "valid_to_time without valid_to");

    s = c->serial_number;
    if (s != NULL) {
        if (*s == '-') {
            s++;
        }
        FZ_ASSERT(*s != '\0', "serial \"%s\"", c->serial_number);
        for (; *s; s++) {
            FZ_ASSERT((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F'),
                      "serial \"%s\"", c->serial_number);
        }
    }

    check_fingerprint("fingerprint", c->fingerprint, 20);
    check_fingerprint("fingerprint256", c->fingerprint256, 32);

    /* RFC 2253 escapes control bytes and those above 0x7f: one line */
    check_printable("subject_dn", c->subject_dn);
    check_printable("issuer_dn", c->issuer_dn);

    FZ_ASSERT(c->pem != NULL, "no pem");
    FZ_ASSERT(strncmp(c->pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0
              && strlen(c->pem) > 28 + 26
              && strcmp(c->pem + strlen(c->pem) - 26,
                        "-----END CERTIFICATE-----\n") == 0,
              "pem is not one PEM certificate: \"%s\"", c->pem);
}
