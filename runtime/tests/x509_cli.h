/*
 * What the openssl command line says of a certificate file: the tests'
 * second opinion, computed by other code than ours.
 */

#ifndef SP_X509_CLI_H
#define SP_X509_CLI_H

#include <stdio.h>
#include <string.h>


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

#endif /* SP_X509_CLI_H */
