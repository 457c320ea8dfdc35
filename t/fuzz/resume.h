/*
 * Session material for fuzz_sessions (and its seeds, written by
 * record.c): a host session store in memory that can be told to answer
 * find() with other bytes, the ticket keys sessions are issued under, and
 * for every client configuration of setup.c and each kind of session
 * (tickets, store) a full handshake, the client's exported session, what
 * the store was given, and the recorded conversation that resumes it.
 *
 * Harness code only: nothing of it is installed.
 */

#ifndef SP_FUZZ_RESUME_H
#define SP_FUZZ_RESUME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "securepair.h"
#include "common.h"


/* ---- a host session store ---------------------------------------------- */

#define FZ_STORE_MAX  16

typedef struct {
    uint8_t   id[32];
    size_t    id_len;
    uint8_t  *bytes;
    size_t    len;
    time_t    expires;
} fz_store_entry;

/* How find() answers (bits 2-3 of a session spec, see fuzz_sessions.c). */
enum {
    FZ_FIND_SERVE = 0,    /* the entry of that id, edited and truncated as
                             told, or the raw bytes whatever the id */
    FZ_FIND_MISS,         /* -1, as for an unknown or expired id */
    FZ_FIND_EMPTY,        /* 0 with *len 0 */
    FZ_FIND_OVERLONG      /* 0 with *len past the room, nothing copied (a
                             broken store: the runtime must not read it) */
};

typedef struct {
    fz_store_entry   e[FZ_STORE_MAX];
    size_t           n;
    size_t           keep;          /* entries fz_store_reset() keeps */

    /* since the last reset */
    unsigned         adds;
    unsigned         finds;
    unsigned         served;        /* finds that returned 0 */
    fz_buf           last;          /* bytes the last of them served */
    int              last_original; /* ... an entry exactly as stored */
    int              last_entry;    /* index of the entry found, or -1 */

    /* what find() does (reset: serve entries as stored) */
    int              behaviour;
    int              use_raw;
    const uint8_t   *raw;
    size_t           raw_len;
    const uint8_t   *fields;        /* FZ_FIELD_* edits, 9 bytes each */
    size_t           nfields;
    const uint8_t   *edits;         /* fz_apply_edits() format */
    size_t           nedits;
    int              truncate;
    size_t           trunc_len;     /* modulo the length + 1 */

    /*
     * find_async() instead of find() (SP_SESSION_CACHE_ASYNC): the same
     * answer, given from inside it when `at_once`, else kept for
     * fz_store_answer(), which the feeder calls after its delay.  A
     * context made while `async` is set asks this way.
     */
    int              async;
    int              at_once;
    fz_buf           answer;
    int              answer_found;
    sp_pair         *pending;
} fz_store;

/*
 * Every add() is checked: an id of 1 to 32 bytes, a session that parses
 * back with that id, an expiry of the host's clock plus the timeout.
 */
sp_session_store fz_store_iface(fz_store *st);

/* The kept answer to the pair that waits (a feeder's answer function). */
int fz_store_answer(void *arg, sp_pair *pair);

/* Back to the kept entries, the counts zero, find() serving as stored. */
void fz_store_reset(fz_store *st);
void fz_store_free(fz_store *st);

/*
 * The bytes find() serves for an entry under the current settings: the
 * entry (or the raw bytes), its fields set through OpenSSL's setters
 * when it parses, then edited, then truncated.
 */
void fz_store_bytes(const fz_store *st, const uint8_t *orig, size_t len,
    fz_buf *out);

/*
 * Field edits: a field byte, then an 8-byte big-endian value v; byte
 * strings are v & 0xff bytes long (hostname v & 0x3f), made of v's bytes.
 */
enum {
    FZ_FIELD_TIMEOUT = 0, /* SSL_SESSION_set_timeout(v) */
    FZ_FIELD_TIME,        /* SSL_SESSION_set_time(v) */
    FZ_FIELD_VERSION,     /* SSL_SESSION_set_protocol_version(v & 0xffff) */
    FZ_FIELD_ID,          /* SSL_SESSION_set1_id() */
    FZ_FIELD_ID_CONTEXT,  /* SSL_SESSION_set1_id_context() */
    FZ_FIELD_MASTER_KEY,  /* SSL_SESSION_set1_master_key() */
    FZ_FIELD_HOSTNAME,    /* SSL_SESSION_set1_hostname() */
    FZ_FIELD_ALPN,        /* SSL_SESSION_set1_alpn_selected() */
    FZ_FIELD_EARLY_DATA,  /* SSL_SESSION_set_max_early_data(v) */
    FZ_FIELD_APPDATA,     /* SSL_SESSION_set1_ticket_appdata() */
    FZ_FIELDS
};

#define FZ_MAX_FIELDS  8


/* ---- sessions of every configuration ----------------------------------- */

enum {
    FZ_KIND_TICKETS = 0,  /* tickets under fz_ticket_key80 (first, it
                             encrypts) and fz_ticket_key48, no store */
    FZ_KIND_STORE,        /* no tickets, the host's store (TLS 1.2 session
                             ids, TLS 1.3 tickets naming a stored session) */
    FZ_KINDS
};

extern const uint8_t  fz_ticket_key80[80];
extern const uint8_t  fz_ticket_key48[48];

typedef struct {
    const fz_client_cfg  *cfg;
    int                   kind;
    fz_buf                session;   /* the client's, after a full
                                        handshake (empty: none) */
    fz_store              store;     /* what add() was given then */
    fz_transcript         resumed;   /* a new client offering `session` */
    int                   reused;    /* ... and both sides resumed */
    int                   found;     /* the store entry it was found as */
    int                   exact;     /* `resumed` replays exactly */
} fz_resume;

/*
 * Indexed by kind and client configuration; fz_resume_init() records
 * them all (after fz_server_init()) and prints one line each when
 * `verbose`.  Returns how many resume and replay exactly.
 */
extern fz_resume  fz_resumes[FZ_KINDS][16];

size_t fz_resume_init(int verbose);

/*
 * The sessions with a client session of a kind (configurations that fail
 * have none), as byte 0 of an input picks them: idx modulo their number.
 * fz_resume_index() is the idx of a configuration, -1 when it has none.
 */
fz_resume *fz_resume_pick(int kind, unsigned idx);
int fz_resume_index(int kind, size_t cfg);

/*
 * A fresh server context (setup.c's lenient configuration) set up for a
 * kind: tickets with the two keys, or the store `st` and no tickets.
 * Drawn from FZ_RNG_INIT, reset first.  The caller unrefs it.
 */
sp_ctx *fz_resume_server_ctx(int kind, fz_store *st);

/* ---- fuzz_sessions inputs (see fuzz_sessions.c) ----------------------- */

enum {
    FZ_SESS_KEYS = 0,     /* ticket key material, then maybe resume */
    FZ_SESS_CLIENT,       /* sp_pair_new_with_session() of these bytes */
    FZ_SESS_STORE,        /* find() answers, a replayed resumption */
    FZ_SESS_LIVE          /* find() answers, a live client resuming */
};

#define FZ_SESS_HDR(mode, kind, eof, idx) \
    ((uint8_t) ((mode) | (kind) << 2 | (eof) << 3 | (idx) << 4))

/* The first byte of a session spec. */
#define FZ_SPEC_RAW        0x01   /* raw bytes follow, not edits */
#define FZ_SPEC_TRUNCATE   0x02   /* a u16 length follows */
#define FZ_SPEC_FIND(b)    ((b) << 2)   /* FZ_FIND_* */
#define FZ_SPEC_FIELDS     0x10   /* a count, then field edits follow */

/* Key operations of FZ_SESS_KEYS. */
#define FZ_KEY_BYTES       0x00   /* u16 length, then the bytes */
#define FZ_KEY_48          0x01   /* 48 bytes follow */
#define FZ_KEY_80          0x02   /* 80 bytes follow */
#define FZ_KEY_ISSUING     0x03   /* fz_ticket_key80 */
#define FZ_KEY_FILE        0x04   /* through a key file */
#define FZ_KEY_MISSING     0x08   /* ... that does not exist */
#define FZ_KEY_SECOND      0x10   /* FZ_KEY_ISSUING: fz_ticket_key48 */
#define FZ_KEY_FLIP        0x20   /* FZ_KEY_ISSUING: pos, xor follow */

#endif /* SP_FUZZ_RESUME_H */
