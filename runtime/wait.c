/*
 * A pair that waits for its host: what it waits for, and the host's
 * answers (securepair.h, "Waiting for the host").  The ClientHello
 * callback (hello.c) starts a wait and takes the answers up when the
 * host drives the pair again.
 */

#include "internal.h"


sp_wait
sp_pair_waiting(const sp_pair *pair, const uint8_t **key, size_t *len)
{
    (void) pair;

    *key = NULL;
    *len = 0;
    return SP_WAIT_NONE;
}


int
sp_pair_answer_session(sp_pair *pair, const uint8_t *session, size_t len)
{
    (void) session;
    (void) len;

    return pair->error ? pair->error : SP_ERR_INVALID;
}


int
sp_pair_answer_creds(sp_pair *pair, sp_creds *creds)
{
    (void) creds;

    return pair->error ? pair->error : SP_ERR_INVALID;
}
