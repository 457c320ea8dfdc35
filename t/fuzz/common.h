/*
 * Shared by the fuzz targets and the seed recorder (t/fuzz/record.c).
 *
 *   - a deterministic random source for OpenSSL with one stream per side,
 *     so that a handshake recorded once replays byte for byte: the server
 *     fuzzer feeds a recorded client flight to a fresh server whose
 *     randomness is the recording server's, and the whole handshake (not
 *     only the ClientHello) is explored;
 *   - the test certificates (build/certs, see t/certs.sh);
 *   - the server configuration under test and the client configurations
 *     whose conversations are recorded;
 *   - the pair invariants checked after every call.
 *
 * Everything here is our own harness code: nothing of it is installed.
 * One header for all of it; the code is in a file a concern:
 *
 *   base.c          failing, growable buffers, the verbosity switch
 *   input.c         the input reader, record boundaries, edits
 *   determinism.c   the harness PRNG, OpenSSL's randomness, the clock
 *   setup.c         certificates, the server under test, client configs
 *   invariants.c    the pair's invariants, peer-certificate snapshots
 *   pump.c          draining, host actions, feeding a pair
 *   transcript.c    recording conversations and replaying them
 */

#ifndef SP_FUZZ_COMMON_H
#define SP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "securepair.h"


/* ---- failing ----------------------------------------------------------- */

/* Print "fuzz: <what>" (and OpenSSL's queue) and trap: a finding. */
void fz_die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                 noreturn));

#define FZ_ASSERT(cond, ...)                                                \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fz_die(__VA_ARGS__);                                            \
        }                                                                   \
    } while (0)

/* OpenSSL's error queue must be empty after every runtime call. */
void fz_check_err_queue(const char *after);

/* SP_FUZZ_VERBOSE (t/fuzz/README): 0 quiet, 1 a line per input, 2 every
   host action, 3 every chunk fed. */
int fz_verbosity(void);


/* ---- bytes ------------------------------------------------------------- */

typedef struct {
    uint8_t  *data;
    size_t    len;
    size_t    size;
} fz_buf;

void fz_buf_add(fz_buf *b, const void *p, size_t n);
void fz_buf_free(fz_buf *b);

/* Reads the input from the front; past the end every read gives 0. */
typedef struct {
    const uint8_t  *p;
    size_t          left;
} fz_reader;

unsigned fz_byte(fz_reader *r);
unsigned fz_u16(fz_reader *r);


/* ---- a small PRNG for harness decisions (not OpenSSL's) ---------------- */

typedef struct {
    uint64_t  s;
} fz_prng;

uint64_t fz_prng_next(fz_prng *p);
unsigned fz_prng_below(fz_prng *p, unsigned n);   /* 0..n-1, n > 0 */


/* ---- OpenSSL's randomness ---------------------------------------------- */

enum {
    FZ_RNG_INIT = 0,      /* contexts, credentials */
    FZ_RNG_SERVER,
    FZ_RNG_CLIENT,
    FZ_RNG_STREAMS
};

/* Installs the deterministic RAND_METHOD; every stream at seed 0. */
void fz_rng_install(void);
void fz_rng_reset(int stream, uint64_t seed);
void fz_rng_select(int stream);

#define FZ_SERVER_SEED  0x5e5e5e5eULL
#define FZ_CLIENT_SEED  0xc1c1c1c1ULL


/* ---- time -------------------------------------------------------------- */

/*
 * Freezes time() (determinism.c interposes libc's) at the notBefore of ca.crt
 * plus a day: the same second in every process.  fz_server_init() does it.
 */
void fz_time_freeze(void);


/* ---- certificates ------------------------------------------------------ */

/* Finds build/certs ($SP_CERTS, ./build/certs, or beside the program). */
void fz_certs_init(const char *argv0);
const char *fz_cert_path(const char *name);

/* The whole file, NUL-terminated; dies when missing. */
char *fz_read_cert(const char *name, size_t *len);

/* Credentials from "<base>.key"/"<base>.crt" (NULL: none) and a CA file
   (NULL: none), loaded from memory; dies on failure. */
sp_creds *fz_creds(const char *base, const char *ca);


/* ---- the server under test --------------------------------------------- */

/*
 * Default credentials server-ec + server-rsa with ca.crt, request_cert,
 * NPN and ALPN lists, SNI contexts "a.example.com", "*.example.com",
 * "www.example.*" and a regex, each with credentials of its own (versions,
 * ciphers, CA, policy), renegotiation limit 2 in 10 s on a fake clock.
 *
 *   FZ_SERVER_LENIENT   reject_unauthorized off, unknown names accepted
 *   FZ_SERVER_STRICT    reject_unauthorized on, reject_unknown_name on,
 *                       no renegotiation, a small clear queue
 */
enum {
    FZ_SERVER_LENIENT = 0,
    FZ_SERVER_STRICT,
    FZ_SERVER_VARIANTS
};

extern time_t  fz_now;                    /* the fake clock */

void fz_server_init(void);                /* once; uses FZ_RNG_INIT */
sp_ctx *fz_server_ctx(int variant);

/*
 * A new context of that configuration over the same credentials, for a
 * target that changes its settings (sessions, ticket keys); its random
 * ticket key is drawn from the selected random stream.  The caller
 * unrefs it.
 */
sp_ctx *fz_server_ctx_new(int variant);

/* Forgets cached sessions so that inputs do not depend on each other. */
void fz_server_forget_sessions(void);

extern const char *const  fz_server_alpn[];
extern const size_t       fz_server_nalpn;
extern const char *const  fz_sni_names[];
extern const size_t       fz_sni_nnames;


/* ---- recorded conversations -------------------------------------------- */

typedef struct {
    const char  *name;
    const char  *servername;
    int          max_version;     /* 0 or SP_TLS1_2 */
    const char  *ciphers;         /* TLS <= 1.2 list, NULL: default */
    const char  *groups;          /* NULL: default */
    int          npn;
    int          alpn;
    int          client_cert;
    int          renegotiations;  /* client-initiated, TLS 1.2 */
    int          key_update;      /* TLS 1.3 KeyUpdate (update_requested) */
} fz_client_cfg;

extern const fz_client_cfg  fz_client_cfgs[];
extern const size_t         fz_nclient_cfgs;
extern const char *const    fz_client_alpn[];
extern const size_t         fz_client_nalpn;

/* A client context for a configuration, built afresh (FZ_RNG_INIT). */
sp_ctx *fz_client_ctx(const fz_client_cfg *cfg, int reject_unauthorized);

/* What a host does to a pair besides moving records. */
enum {
    FZ_ACT_NONE = 0,
    FZ_ACT_WRITE,          /* a short request or response */
    FZ_ACT_WRITE_BIG,      /* 40000 bytes */
    FZ_ACT_KEY_UPDATE,     /* TLS 1.3: KeyUpdate(update_requested), write */
    FZ_ACT_RENEG,          /* sp_pair_renegotiate() */
    FZ_ACT_SHUTDOWN,       /* sp_pair_shutdown() */
    FZ_ACT_CLOCK,          /* the fake clock jumps 100 s */
    FZ_ACT_SET_TIME,       /* sp_pair_set_time() */
    FZ_ACT_PARTIAL_DRAIN,  /* leave records unsent for a while */
    FZ_ACTIONS
};

/* Do `action` at this many bytes of input. */
typedef struct {
    size_t  off;
    int     action;
} fz_step;

#define FZ_MAX_STEPS  32

typedef struct {
    const fz_client_cfg  *cfg;
    fz_buf                c2s;       /* every byte the client sent */
    fz_buf                s2c;       /* every byte the server sent */
    size_t                hello_len; /* the client's first flight */
    int                   secure;    /* both sides completed */
    int                   reused_client;  /* sp_pair_session_reused() of
                                             each side when both first
                                             were secure */
    int                   reused_server;
    int                   client_error;   /* sp_pair_error() of each side */
    int                   server_error;   /* at the end, and its message */
    char                  client_message[256];
    char                  server_message[256];
    fz_step               client_steps[FZ_MAX_STEPS];   /* offsets: s2c */
    size_t                nclient_steps;
    fz_step               server_steps[FZ_MAX_STEPS];   /* offsets: c2s */
    size_t                nserver_steps;
} fz_transcript;

/*
 * Runs client configuration `cfg` against a lenient server pair in memory,
 * each side on its own random stream seeded as the fuzzers seed it, and
 * records both directions and what each host did when.
 */
void fz_record(const fz_client_cfg *cfg, fz_transcript *t);
void fz_transcript_free(fz_transcript *t);

/*
 * fz_record() of every client configuration into t[0..room), each checked
 * with fz_replay_check(); says on stderr, after `target`, how many replay
 * exactly.  Returns how many were recorded (fz_nclient_cfgs).
 */
size_t fz_record_all(fz_transcript *t, size_t room, const char *target);

/*
 * The same against a server pair of `server_ctx` whose random stream
 * starts at `server_seed` (fz_record: FZ_SERVER_SEED), the client
 * offering `session` (sp_pair_new_with_session; NULL: none).  Once the
 * conversation is secure, before the shutdowns, the client's session is
 * exported into *session_out (unless NULL; left empty when there is
 * none).  Returns SP_OK, or the error of a client pair that could not be
 * made (then nothing was recorded).
 */
int fz_record_ex(const fz_client_cfg *cfg, sp_ctx *server_ctx,
    uint64_t server_seed, const uint8_t *session, size_t len,
    fz_transcript *t, fz_buf *session_out);

/*
 * Replays a transcript to a fresh server (the client's bytes) and to a
 * fresh client (the server's bytes).  Returns NULL when both completed and
 * the client's output is byte for byte the recorded one, else why not.
 */
const char *fz_replay_check(const fz_transcript *t);
const char *fz_replay_check_ex(const fz_transcript *t, sp_ctx *server_ctx,
    const uint8_t *session, size_t len);

/* Offsets of the TLS record headers in a byte stream (at most max). */
size_t fz_record_offsets(const uint8_t *p, size_t len, size_t *off,
    size_t max);

/*
 * Applies 4-byte edits to a copy of `orig` (see README): XOR, insert,
 * delete, overwrite, at an absolute position or in a record header.
 */
void fz_apply_edits(const uint8_t *orig, size_t len, const uint8_t *edits,
    size_t nedits, fz_buf *out);

/* ---- input headers of server_pair and client_pair ---------------------- */

/*
 * Byte 0: bits 0-1 mode, bit 2 variant (server: FZ_SERVER_STRICT; client:
 * reject_unauthorized), bit 3 sp_enc_in_eof() at the end, bits 4-7 which
 * recorded conversation (client: which client configuration).
 * Byte 1: the feed byte (fz_feeder).  Then the payload.
 */
#define FZ_MODE_RAW          0    /* the payload is the peer's bytes */
#define FZ_MODE_AFTER_HELLO  1    /* server: a recorded ClientHello first */
#define FZ_MODE_EDIT         2    /* the payload edits a recorded stream */

#define FZ_HDR(mode, variant, eof, idx) \
    ((uint8_t) ((mode) | (variant) << 2 | (eof) << 3 | (idx) << 4))

#define FZ_MAX_EDITS  64


/* ---- pair invariants --------------------------------------------------- */

typedef struct {
    sp_pair   *pair;
    sp_role    role;
    int        error;              /* the sticky error once seen */
    unsigned   events;             /* all events seen */
    int        handshake_over;     /* HANDSHAKING was seen cleared */
    int        was_secure;
    int        was_closed;
    size_t     out_at_error;       /* sp_enc_out_pending() when it failed */
    unsigned   secure_events;
    unsigned   end_events;
    int        reused;             /* sp_pair_session_reused() at
                                      SP_EVENT_SECURE */
} fz_track;

void fz_track_init(fz_track *t, sp_pair *pair, sp_role role);

/*
 * After every runtime call on the pair: `op` names it, `ret` is what it
 * returned (FZ_NO_RET for void calls).  Dies on a broken invariant.
 */
#define FZ_NO_RET  0x7fffffffL
void fz_check(fz_track *t, const char *op, long ret);

/* What the pair negotiated, once secure: strings, lists, peer cert. */
void fz_check_facts(fz_track *t);

/* One line: state, events, error, negotiated protocol (SP_FUZZ_VERBOSE). */
void fz_summary(fz_track *t, void *file);

/* The end of a pair target's input: the facts, the summary when
   SP_FUZZ_VERBOSE is set, the pair freed and no connection left in ctx. */
void fz_pair_done(fz_track *t, sp_ctx *ctx);

/* A peer certificate snapshot: strings, counts, formats. */
void fz_check_peer_cert(const sp_peer_cert *c);

/* Drains sp_enc_out_* (all of it, or up to max when max > 0). */
size_t fz_drain(fz_track *t, size_t max, fz_buf *keep);

/* Reads every byte of cleartext available now, in random-sized reads. */
size_t fz_read_all(fz_track *t, fz_prng *prng);

/* Performs a host action on the pair (on the selected random stream). */
void fz_act(fz_track *t, int action, fz_prng *prng);


/* ---- feeding a pair ---------------------------------------------------- */

/*
 * The feed byte of an input: bits 0-1 the chunking (0 all at once, 1 fixed
 * size 1 + param, 2 random sizes up to 1 + 8 * param, 3 random up to
 * 4096), bit 2 random host actions between chunks, bits 3-7 param.
 */
typedef struct {
    fz_track       *t;
    int             stream;         /* the pair's OpenSSL random stream */
    const fz_step  *steps;          /* scripted actions, NULL: none */
    size_t          nsteps;
    unsigned        feed;
    int             eof;            /* sp_enc_in_eof() at the end */
    fz_buf         *out;            /* keeps what the pair sent, or NULL */

    /*
     * The host's answer to a pair that waits (SP_STATE_WAITING), or
     * NULL: given after `delay` chunks more (at once when the input has
     * run out or the pair takes no more), then the pair is driven.
     */
    int           (*answer)(void *arg, sp_pair *pair);
    void           *answer_arg;
    unsigned        delay;
    unsigned        waited;
} fz_feeder;

void fz_feed(fz_feeder *f, const uint8_t *p, size_t len);

#endif /* SP_FUZZ_COMMON_H */
