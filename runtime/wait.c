/*
 * A pair that waits for its host: what it waits for, and the host's
 * answers (securepair.h, "Waiting for the host").  The ClientHello
 * callback (hello.c) asks, through sni_select.c and session.c, and
 * returns "retry" to OpenSSL while the pair waits; when the host has
 * answered and drives the pair, OpenSSL calls it again and the answers
 * are taken up: the credentials there, the session by OpenSSL's own
 * lookup (session.c's get-session callback).
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"


/*
 * Set before the host's function is called, so that it may answer from
 * inside.
 */
void
sp_wait_begin(sp_pair *pair, sp_wait what)
{
    pair->wait = what;
}


/*
 * The host's function said it answers later: 1 when the pair waits, 0
 * when it answered already.
 */
int
sp_wait_end(sp_pair *pair)
{
    if (pair->wait == SP_WAIT_NONE) {
        return 0;
    }

    pair->events |= SP_EVENT_WAITING;
    return 1;
}


void
sp_wait_drop_answers(sp_pair *pair)
{
    if (pair->answer_session != NULL) {
        OPENSSL_cleanse(pair->answer_session, pair->answer_len);
        free(pair->answer_session);
        pair->answer_session = NULL;
        pair->answer_len = 0;
    }

    if (pair->answer_creds != NULL) {
        sp_creds_unref(pair->answer_creds);
        pair->answer_creds = NULL;
    }

    pair->creds_answered = 0;
}


sp_wait
sp_pair_waiting(const sp_pair *pair, const uint8_t **key, size_t *len)
{
    *key = NULL;
    *len = 0;

    if (pair->error) {
        return SP_WAIT_NONE;
    }

    switch (pair->wait) {

    case SP_WAIT_SESSION:
        *key = pair->wait_id;
        *len = pair->wait_id_len;
        break;

    case SP_WAIT_CREDS:
        *key = (const uint8_t *) pair->servername;
        *len = strlen(pair->servername);
        break;

    default:
        break;
    }

    return pair->wait;
}


int
sp_pair_answer_session(sp_pair *pair, const uint8_t *session, size_t len)
{
    if (pair->error) {
        return pair->error;
    }

    if (pair->wait != SP_WAIT_SESSION) {
        return SP_ERR_INVALID;
    }

    pair->wait = SP_WAIT_NONE;

    /* no room for the copy, or too long to be a session: not found */
    if (session != NULL && len > 0 && len <= SP_SESSION_MAX) {
        pair->answer_session = malloc(len);

        if (pair->answer_session != NULL) {
            memcpy(pair->answer_session, session, len);
            pair->answer_len = len;
        }
    }

    return SP_OK;
}


int
sp_pair_answer_creds(sp_pair *pair, sp_creds *creds)
{
    if (pair->error) {
        return pair->error;
    }

    if (pair->wait != SP_WAIT_CREDS || creds == SP_SNI_WAIT) {
        return SP_ERR_INVALID;
    }

    pair->wait = SP_WAIT_NONE;
    pair->answer_creds = creds ? sp_creds_ref(creds) : NULL;
    pair->creds_answered = 1;
    return SP_OK;
}
