/*
 * Fuzz harness: the harness PRNG, OpenSSL's randomness and the clock
 * made deterministic, so that a recorded conversation replays byte for
 * byte (see common.h).
 */

/* RAND_set_rand_method() is deprecated in 3.0 but is exactly what a
   deterministic harness needs. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "internal.h"
#include "common.h"


/* ---- harness PRNG: splitmix64 ------------------------------------------ */

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t  z;

    z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


uint64_t
fz_prng_next(fz_prng *p)
{
    return splitmix(&p->s);
}


unsigned
fz_prng_below(fz_prng *p, unsigned n)
{
    return (unsigned) (fz_prng_next(p) % n);
}


/* ---- OpenSSL's randomness ---------------------------------------------- */

static uint64_t  rng_state[FZ_RNG_STREAMS];
static int       rng_current;


static int
rng_bytes(unsigned char *buf, int num)
{
    uint64_t  v = 0;
    int       i;

    for (i = 0; i < num; i++) {
        if (i % 8 == 0) {
            v = splitmix(&rng_state[rng_current]);
        }

        buf[i] = (unsigned char) (v >> (8 * (i % 8)));
    }

    return 1;
}


static int
rng_seed(const void *buf, int num)
{
    (void) buf;
    (void) num;
    return 1;
}


static int
rng_add(const void *buf, int num, double entropy)
{
    (void) buf;
    (void) num;
    (void) entropy;
    return 1;
}


static int
rng_status(void)
{
    return 1;
}


static RAND_METHOD  rng_method = {
    rng_seed, rng_bytes, NULL, rng_add, rng_bytes, rng_status
};


void
fz_rng_install(void)
{
    int  i;

    for (i = 0; i < FZ_RNG_STREAMS; i++) {
        rng_state[i] = 0;
    }

    rng_current = FZ_RNG_INIT;

    if (!RAND_set_rand_method(&rng_method)) {
        fz_die("RAND_set_rand_method failed");
    }

    ERR_clear_error();
}


void
fz_rng_reset(int stream, uint64_t seed)
{
    rng_state[stream] = seed;
}


void
fz_rng_select(int stream)
{
    rng_current = stream;
}


/* ---- time ------------------------------------------------------------- */

static time_t  frozen_time;


/*
 * OpenSSL 3.0 reads the wall clock with time(): session and ticket
 * timestamps (a TLS 1.2 ticket is inside the server's Finished, and so
 * inside every later handshake), certificate validity.  This definition
 * interposes libc's for the whole program; once frozen, every input and
 * every process sees the same second.
 */
time_t
time(time_t *t)
{
    struct timespec  ts;
    time_t           now;

    if (frozen_time) {
        now = frozen_time;
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        now = ts.tv_sec;
    }

    if (t != NULL) {
        *t = now;
    }

    return now;
}


void
fz_time_freeze(void)
{
    BIO        *bio;
    X509       *ca;
    struct tm   tm;
    char       *pem;
    size_t      len;

    pem = fz_read_cert("ca.crt", &len);
    bio = BIO_new_mem_buf(pem, (int) len);
    ca = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    if (ca == NULL || !ASN1_TIME_to_tm(X509_get0_notBefore(ca), &tm)) {
        fz_die("cannot read the notBefore of ca.crt");
    }

    /* a day into the test certificates' lives: valid, and not now */
    frozen_time = timegm(&tm) + 86400;

    X509_free(ca);
    BIO_free(bio);
    free(pem);
    ERR_clear_error();
}
