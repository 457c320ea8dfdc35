/*
 * Error names and message helpers.
 */

#include <stdarg.h>
#include <stdio.h>
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
    }

    return "unknown error";
}


void
sp_set_error(char *buf, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(buf, SP_ERRLEN, fmt, ap);
    va_end(ap);
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
