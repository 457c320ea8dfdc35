/*
 * loadgen: the TLS client context, the sessions of --sess-in/--sess-out,
 * the SNI names of --sni-file and a real ClientHello for the raw modes.
 */

#include "loadgen.h"


static char           **names;
static long             nnames;
static SSL_SESSION    **sess_pool;     /* --sess-in, as read */
static long             sess_next;     /* --sess-once: the next to offer */
static SSL_SESSION    **every;         /* --sess-every: all, in order */
static long             nevery, every_cap;


static int
alpn_wire(const char *list, unsigned char *out, size_t room)
{
    size_t       len = 0, n;
    const char  *p = list, *comma;

    while (*p) {
        comma = strchr(p, ',');
        n = comma ? (size_t) (comma - p) : strlen(p);

        if (n == 0 || n > 255 || len + n + 1 > room) {
            return -1;
        }

        out[len++] = (unsigned char) n;
        memcpy(out + len, p, n);
        len += n;
        p += n + (comma != NULL);
    }

    return (int) len;
}


/*
 * A session from the server (TLS 1.2: at the end of a full handshake;
 * TLS 1.3: each NewSessionTicket): the connection's client keeps the
 * newest; --sess-every keeps them all, --sess-once none.  Returning 1
 * keeps the reference OpenSSL passes.
 */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
    conn  *c = SSL_get_app_data(ssl);
    long   k;

    if (c == NULL || client_sess == NULL) {
        return 0;
    }

    c->got_session = 1;
    st.sessions_received++;

    if (o.sess_once) {
        return 0;
    }

    if (o.sess_every) {
        if (nevery == every_cap) {
            SSL_SESSION  **e2;

            every_cap = every_cap ? every_cap * 2 : 256;
            e2 = realloc(every, (size_t) every_cap * sizeof(SSL_SESSION *));
            if (e2 == NULL) {
                return 0;
            }
            every = e2;
        }

        every[nevery++] = sess;
        return 1;
    }

    k = c->client;

    if (client_sess[k] != NULL) {
        SSL_SESSION_free(client_sess[k]);
    }

    client_sess[k] = sess;
    client_host[k] = c->host;
    return 1;
}


SSL_CTX *
make_ctx(void)
{
    SSL_CTX  *c;

    c = SSL_CTX_new(TLS_client_method());
    if (c == NULL) {
        return NULL;
    }

    if (o.sess_in || o.sess_out) {
        /* sessions go to the slots, never to OpenSSL's own client cache */
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT
                                          | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, new_session);

    } else {
        /* no resumption: every connection is a full handshake */
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS
                        | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (M->flags & MODE_RENEG) {
        /* OpenSSL 3 clients renegotiate only when asked to */
        SSL_CTX_clear_options(c, SSL_OP_NO_RENEGOTIATION);
    }

    if ((o.tls_min && !SSL_CTX_set_min_proto_version(c, o.tls_min))
        || (o.tls_max && !SSL_CTX_set_max_proto_version(c, o.tls_max)))
    {
        fprintf(stderr, "loadgen: protocol version refused\n");
        return NULL;
    }

    if (o.ciphers && !SSL_CTX_set_cipher_list(c, o.ciphers)) {
        fprintf(stderr, "loadgen: bad --ciphers\n");
        return NULL;
    }

    if (o.suites && !SSL_CTX_set_ciphersuites(c, o.suites)) {
        fprintf(stderr, "loadgen: bad --suites\n");
        return NULL;
    }

    if (o.groups && !SSL_CTX_set1_groups_list(c, o.groups)) {
        fprintf(stderr, "loadgen: bad --groups\n");
        return NULL;
    }

    if (o.sigalgs && !SSL_CTX_set1_sigalgs_list(c, o.sigalgs)) {
        fprintf(stderr, "loadgen: bad --sigalgs\n");
        return NULL;
    }

    if (o.cert || o.key) {
        if (!o.cert || !o.key
            || SSL_CTX_use_certificate_chain_file(c, o.cert) != 1
            || SSL_CTX_use_PrivateKey_file(c, o.key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(c) != 1)
        {
            fprintf(stderr, "loadgen: cannot use --cert / --key\n");
            ERR_print_errors_fp(stderr);
            return NULL;
        }
    }

    if (o.alpn) {
        unsigned char  wire[1024];
        int            len = alpn_wire(o.alpn, wire, sizeof(wire));

        if (len <= 0 || SSL_CTX_set_alpn_protos(c, wire, (unsigned) len)) {
            fprintf(stderr, "loadgen: bad --alpn\n");
            return NULL;
        }
    }

    return c;
}


static const char *
pick_sni(uint64_t *rng)
{
    if (nnames) {
        return names[xrand(rng) % (uint64_t) nnames];
    }

    return o.sni;
}


int
load_names(const char *file)
{
    FILE   *f;
    char    line[512];
    size_t  len;
    long    cap = 1024;

    f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
        return -1;
    }

    names = malloc(cap * sizeof(char *));

    while (names && nnames < MAX_NAMES && fgets(line, sizeof(line), f)) {
        len = strcspn(line, "\r\n");
        line[len] = '\0';

        if (len == 0) {
            continue;
        }

        if (nnames == cap) {
            char  **n2;

            cap *= 2;
            n2 = realloc(names, cap * sizeof(char *));
            if (n2 == NULL) {
                break;
            }
            names = n2;
        }

        names[nnames] = strdup(line);
        if (names[nnames] == NULL) {
            break;
        }
        nnames++;
    }

    fclose(f);

    if (nnames == 0) {
        fprintf(stderr, "loadgen: %s: no names\n", file);
        return -1;
    }

    return 0;
}


/* The host of each session of a file, in order: fleet mode writes a line
   "host N" before each (write_sessions); -1 where there is none.  An
   array of n, NULL when out of memory or unreadable. */
static int *
session_hosts(const char *file, long n)
{
    FILE  *f;
    char   line[256];
    int   *h, host = -1;
    long   j = 0;

    h = malloc((size_t) n * sizeof(int));
    f = fopen(file, "r");
    if (h == NULL || f == NULL) {
        free(h);
        if (f) {
            fclose(f);
        }
        return NULL;
    }

    while (j < n && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "host %d", &host) == 1) {
            continue;
        }

        if (strncmp(line, "-----BEGIN SSL SESSION", 22) == 0) {
            h[j++] = host;
            host = -1;
        }
    }

    while (j < n) {
        h[j++] = -1;
    }

    fclose(f);
    return h;
}


/* --sess-in: every session of the file, shared out over the clients. */
int
load_sessions(const char *file)
{
    BIO          *b;
    SSL_SESSION  *s;
    long          cap = 64, k;
    int          *hosts;

    b = BIO_new_file(file, "r");
    if (b == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
        return -1;
    }

    sess_pool = malloc(cap * sizeof(SSL_SESSION *));

    while (sess_pool
           && (s = PEM_read_bio_SSL_SESSION(b, NULL, NULL, NULL)) != NULL)
    {
        if (st.sessions_loaded == cap) {
            SSL_SESSION  **p2;

            cap *= 2;
            p2 = realloc(sess_pool, cap * sizeof(SSL_SESSION *));
            if (p2 == NULL) {
                SSL_SESSION_free(s);
                break;
            }
            sess_pool = p2;
        }

        sess_pool[st.sessions_loaded++] = s;
    }

    /* the end of the file leaves a "no start line" behind */
    ERR_clear_error();
    BIO_free(b);

    if (st.sessions_loaded == 0) {
        fprintf(stderr, "loadgen: %s: no sessions\n", file);
        return -1;
    }

    if (o.sess_once) {
        return 0;           /* offered from the pool, in order */
    }

    hosts = session_hosts(file, st.sessions_loaded);

    for (k = 0; k < nclients; k++) {
        client_sess[k] = sess_pool[k % st.sessions_loaded];
        SSL_SESSION_up_ref(client_sess[k]);
        client_host[k] = hosts ? hosts[k % st.sessions_loaded] : -1;
    }

    free(hosts);

    for (k = 0; k < st.sessions_loaded; k++) {
        SSL_SESSION_free(sess_pool[k]);
    }
    free(sess_pool);
    sess_pool = NULL;

    return 0;
}


/* --sess-out: each client's newest session (--sess-every: every one), PEM,
   one after the other. */
int
write_sessions(const char *file)
{
    BIO   *b;
    long   k;

    b = BIO_new_file(file, "w");
    if (b == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
        return -1;
    }

    for (k = 0; k < (o.sess_every ? nevery : nclients); k++) {
        SSL_SESSION  *s = o.sess_every ? every[k] : client_sess[k];

        if (s == NULL) {
            continue;
        }

        /* fleet: the host that made it, for --sess-in */
        if (M->route && !o.sess_every
            && BIO_printf(b, "host %d\n", client_host[k]) <= 0)
        {
            BIO_free(b);
            fprintf(stderr, "loadgen: %s: cannot write\n", file);
            return -1;
        }

        if (!PEM_write_bio_SSL_SESSION(b, s)) {
            BIO_free(b);
            fprintf(stderr, "loadgen: %s: cannot write a session\n", file);
            return -1;
        }

        st.sessions_written++;
    }

    if (BIO_flush(b) != 1) {
        BIO_free(b);
        fprintf(stderr, "loadgen: %s: cannot write\n", file);
        return -1;
    }

    BIO_free(b);

    return 0;
}


void
free_sessions(void)
{
    long  k;

    if (o.sess_once) {
        for (k = 0; k < st.sessions_loaded; k++) {
            SSL_SESSION_free(sess_pool[k]);
        }
        free(sess_pool);
    }

    for (k = 0; k < nevery; k++) {
        SSL_SESSION_free(every[k]);
    }
    free(every);
}


/* A real ClientHello, from a client over memory BIOs. */
int
make_hello(void)
{
    SSL          *s;
    BIO          *rb, *wb;
    char         *p;
    long          n;

    s = SSL_new(ctx);
    rb = BIO_new(BIO_s_mem());
    wb = BIO_new(BIO_s_mem());

    if (s == NULL || rb == NULL || wb == NULL) {
        return -1;
    }

    SSL_set_bio(s, rb, wb);
    SSL_set_connect_state(s);

    if (o.sni || nnames) {
        SSL_set_tlsext_host_name(s, pick_sni(&grng));
    }

    (void) SSL_do_handshake(s);

    n = BIO_get_mem_data(wb, &p);
    if (n <= 0) {
        SSL_free(s);
        return -1;
    }

    hello = malloc((size_t) n);
    if (hello == NULL) {
        SSL_free(s);
        return -1;
    }

    memcpy(hello, p, (size_t) n);
    hello_len = (size_t) n;
    SSL_free(s);
    ERR_clear_error();
    return 0;
}


int
ssl_attach(conn *c)
{
    const char   *name;
    SSL_SESSION  *sess;

    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd)) {
        ssl_note_error("SSL_new");
        return -1;
    }

    SSL_set_connect_state(c->ssl);
    SSL_set_app_data(c->ssl, c);

    sess = NULL;
    if (o.sess_once) {
        if (sess_next < st.sessions_loaded) {
            sess = sess_pool[sess_next++];
        }
    } else if (o.sess_in) {
        sess = client_sess[c->client];
    }

    if (sess != NULL) {
        if (!SSL_set_session(c->ssl, sess)) {
            ssl_note_error("SSL_set_session");
            return -1;
        }
        c->offered = 1;
        st.offered++;

        if (client_host[c->client] >= 0
            && client_host[c->client] != c->host)
        {
            c->elsewhere = 1;
            st.offered_elsewhere++;
        }
    }

    name = pick_sni(&c->rng);
    if (name && !SSL_set_tlsext_host_name(c->ssl, name)) {
        ssl_note_error("SNI");
        return -1;
    }

    return 0;
}
