/*
 * Certificate files as the tests see them: read with OpenSSL, snapshotted
 * as a peer's would be, and what the openssl command line says of them
 * (the tests' second opinion, computed by other code than ours).
 */

#ifndef SP_X509_CLI_H
#define SP_X509_CLI_H

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "securepair.h"
#include "tap.h"


/* The first certificate of a PEM file; NULL (error queue empty) if none. */
static inline X509 *
x509_load(const char *path)
{
    FILE  *f;
    X509  *x;

    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }

    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);

    if (x == NULL) {
        ERR_clear_error();
    }

    return x;
}


/* The certificate's snapshot through its DER, as a peer's is taken. */
static inline sp_peer_cert *
x509_snapshot(X509 *x)
{
    unsigned char  *der = NULL;
    sp_peer_cert   *cert;
    int             len;

    len = i2d_X509(x, &der);
    if (len <= 0) {
        return NULL;
    }

    cert = sp_peer_cert_from_der(der, (size_t) len);
    OPENSSL_free(der);

    return cert;
}


/*
 * What `openssl x509 -noout <args> -in <path>` prints after its '=', e.g.
 * the fingerprint from "sha1 Fingerprint=AB:CD...".  Static buffer.
 */
static inline const char *
x509_cli_says(const char *args, const char *path)
{
    static char   out[1024];
    char          cmd[8192], *p;
    FILE         *f;
    size_t        n;

    snprintf(cmd, sizeof(cmd), "openssl x509 -noout %s -in '%s' 2>/dev/null",
             args, path);

    f = popen(cmd, "r");
    if (f == NULL) {
        return "(popen failed)";
    }

    n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    pclose(f);

    p = strchr(out, '\n');
    if (p != NULL) {
        *p = '\0';
    }

    p = strchr(out, '=');
    return p ? p + 1 : out;
}

/* The lines of client.crt's snapshot, as t/certs.sh makes it. */
static inline void
check_client_crt_lines(const sp_peer_cert *c, const char *what)
{
    is_str(c->subject_line,
           "/C=UK/ST=Acme State/L=Acme Town/O=Acme/OU=Clients/CN=client",
           tn("%s: subject_line", what));
    is_str(c->issuer_line, "/C=UK/O=securepair/CN=securepair test CA",
           tn("%s: issuer_line", what));
    is_str(c->subjectaltname, "email:client@example.com",
           tn("%s: subjectaltname", what));
}

#endif /* SP_X509_CLI_H */
