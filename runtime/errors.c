/*
 * Errors: their names, and the one way a loading or configuration call
 * records what failed (sp_error_set), as data the host can act on.
 *
 * An error slot costs a few words until it is used: thousands of SNI
 * credentials each carry one, and almost none of them ever fails.  The
 * message and origin live in one allocation made when an error is set.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"


const char *
sp_strerror(int err)
{
    switch (err) {
    case SP_OK:                  return "no error";
    case SP_ERR_AGAIN:           return "try again";
    case SP_ERR_NOMEM:           return "out of memory";
    case SP_ERR_INVALID:         return "invalid argument";
    case SP_ERR_LOAD:            return "load error";
    case SP_ERR_HANDSHAKE:       return "handshake failed";
    case SP_ERR_PEER_ALERT:      return "peer sent a fatal alert";
    case SP_ERR_UNAUTHORIZED:    return "peer certificate not authorized";
    case SP_ERR_RENEG_LIMIT:     return "renegotiation limit exceeded";
    case SP_ERR_TRUNCATED:       return "connection truncated";
    case SP_ERR_CLOSED:          return "connection closed";
    case SP_ERR_MAX_CONNECTIONS: return "too many connections";
    case SP_ERR_UNKNOWN_NAME:    return "unrecognized server name";
    case SP_ERR_INTERNAL:        return "internal error";
    case SP_ERR_TRANSPORT:       return "transport failed";
    }

    return "unknown error";
}


/*
 * The reason of the oldest entry on OpenSSL's error queue in words
 * ("tlsv1 alert unknown ca"), then the queue is emptied: every runtime call
 * leaves it clean for the host.
 */
void
sp_openssl_reason(char *buf, size_t len)
{
    unsigned long  e;
    const char    *reason;

    e = ERR_peek_error();
    reason = e ? ERR_reason_error_string(e) : NULL;

    if (reason == NULL) {
        snprintf(buf, len, e ? "OpenSSL error 0x%lx" : "unknown reason", e);
    } else {
        snprintf(buf, len, "%s", reason);
    }

    ERR_clear_error();
}


void
sp_error_clear(sp_error_slot *e)
{
    free(e->text);
    memset(e, 0, sizeof(sp_error_slot));
}


const sp_error *
sp_error_get(const sp_error_slot *e)
{
    static const sp_error  none = { SP_OK, SP_FIELD_NONE, 0, NULL, "", "" };

    return e->info.message ? &e->info : &none;
}


/*
 * Keeps code, field, item and copies of origin and the reason; the message
 * is "origin: reason", or the reason alone.  Out of memory, the message
 * is the code's name: the code and field still say what failed.
 */
static int
error_store(sp_error_slot *e, int code, sp_field field, const char *origin,
    int item, const char *reason)
{
    char    *text;
    size_t   olen, rlen;

    olen = origin ? strlen(origin) : 0;
    rlen = strlen(reason);

    /* "origin: reason\0origin\0" */
    text = malloc(olen + 2 + rlen + 1 + olen + 1);

    sp_error_clear(e);

    e->info.code = code;
    e->info.field = field;
    e->info.item = item;

    if (text == NULL) {
        e->info.message = sp_strerror(code);
        e->info.reason = e->info.message;
        return code;
    }

    if (origin) {
        memcpy(text, origin, olen);
        memcpy(text + olen, ": ", 2);
        memcpy(text + olen + 2, reason, rlen + 1);
        e->info.reason = text + olen + 2;
        e->info.origin = memcpy(text + olen + 2 + rlen + 1, origin, olen + 1);

    } else {
        memcpy(text, reason, rlen + 1);
        e->info.reason = text;
    }

    e->text = text;
    e->info.message = text;
    return code;
}


int
sp_error_set(sp_error_slot *e, int code, sp_field field, const char *origin,
    int item, const char *fmt, ...)
{
    char     reason[SP_ERRLEN];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);

    ERR_clear_error();
    return error_store(e, code, field, origin, item, reason);
}


int
sp_error_ssl(sp_error_slot *e, int code, sp_field field, const char *origin,
    int item, const char *fmt, ...)
{
    char     reason[SP_ERRLEN];
    size_t   n;
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);

    n = strlen(reason);

    if (n + 2 < sizeof(reason)) {
        memcpy(reason + n, ": ", 3);
        n += 2;
    }

    sp_openssl_reason(reason + n, sizeof(reason) - n);
    return error_store(e, code, field, origin, item, reason);
}


int
sp_error_copy(sp_error_slot *dst, const sp_error *src)
{
    return error_store(dst, src->code, src->field, src->origin, src->item,
                       src->reason);
}


/*
 * The answer of a setter on an object that no longer changes (a context
 * that has made pairs, credentials that serve a context): SP_OK while
 * `frozen` is 0, else SP_ERR_INVALID and "call: why".  The flag is read
 * atomically: the thread that froze the object need not be the one that
 * asks.
 */
int
sp_error_if_frozen(const int *frozen, sp_error_slot *e, const char *call,
    const char *why)
{
    if (!__atomic_load_n(frozen, __ATOMIC_ACQUIRE)) {
        return SP_OK;
    }

    return sp_error_set(e, SP_ERR_INVALID, SP_FIELD_NONE, NULL, 0, "%s: %s",
                        call, why);
}
