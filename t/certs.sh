#!/bin/bash
#
# t/certs.sh OUTDIR
#
# Generates the test certificates (see the list at the end of this comment)
# into OUTDIR with nothing but the openssl command line of OpenSSL 3.0.  It
# is idempotent and cheap to call from every test: when OUTDIR/.done is newer
# than this script it exits at once.  Quiet on success; on failure it prints
# the failing command's output and exits non-zero.  It never prompts.
#
#   ca.key ca.crt                       root CA "securepair test CA"
#   ca2.key ca2.crt                     an unrelated root: the wrong CA
#   ca3.key ca3.crt                     an untrusted root (chain tests)
#   server-rsa.key server-rsa.crt       localhost, a.example.com, 127.0.0.1
#   server-ec.key server-ec.crt         the same names, P-256
#   server-rsa-enc.key                  server-rsa.key, PKCS#8 AES-256,
#   server-rsa-enc-pass.txt             passphrase "secret"
#   sni-a sni-wild sni-trail sni-re     .key/.crt, P-256, signed by ca
#   client.key client.crt               CN=client, clientAuth
#   client-self.key client-self.crt     self-signed client
#   client-expired.key .crt             valid 2020-01-01 to 2020-01-02
#   client-wrongca.key .crt             signed by ca2
#   client-chain.key .crt               signed by ca3; .crt holds leaf + ca3
#   weak-rsa1024.key .crt               self-signed RSA 1024
#   mismatch.key                        an RSA key matching no certificate
#   garbage.pem                         not PEM at all
#   ca-int.key .crt                     an intermediate CA under ca
#   client-int.key .crt                 signed by ca-int; .crt holds leaf
#                                       + ca-int (a chain of depth 1)
#   ca-trusted.key .crt                 a root only trusted, not announced
#   client-trusted.key .crt             signed by ca-trusted
#   client-revoked.key .crt             signed by ca, revoked
#   ca.crl                              ca's CRL: client-revoked revoked
#   ca-expired.crl                      ca's CRL, next update 2020-01-02
#   ca-future.crl                       ca's CRL, last update in 2099
#   ca2.crl                             ca2's CRL (nothing of ca's)
#   dh2048.pem                          DH parameters, ffdhe2048
#   dh1024.pem                          DH parameters of 1024 bits

set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

script=${BASH_SOURCE[0]}
out=$1

if [ -f "$out/.done" ] && [ "$out/.done" -nt "$script" ]; then
    exit 0
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)

# Tests may run in parallel and all call us: one generates, the others wait
# and then see .done.
exec 9>"$out/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
    if [ -f "$out/.done" ] && [ "$out/.done" -nt "$script" ]; then
        exit 0
    fi
fi

rm -f "$out/.done"

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# Run a command with its chatter captured; show it only when it fails.
run() {
    local log="run.$BASHPID.log"

    if ! "$@" </dev/null >"$log" 2>&1; then
        echo "certs.sh: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
    rm -f "$log"
}

# Our own configuration so that the system's openssl.cnf (default
# extensions, policies) has no say in what we produce.
cat >openssl.cnf <<'EOF'
[ req ]
distinguished_name = req_dn
prompt = no
utf8 = yes
string_mask = utf8only

[ req_dn ]
CN = unused

[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_server ]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SP_SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ v3_client ]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
subjectAltName = $ENV::SP_SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

# Self-signed leaves: no keyUsage, so that OpenSSL sees them as self-signed
# (DEPTH_ZERO_SELF_SIGNED_CERT) rather than as signed by an unknown issuer.
[ v3_self ]
basicConstraints = CA:false
subjectKeyIdentifier = hash

# "openssl ca", only for the expired certificate: x509 and req cannot set a
# start date in the past in OpenSSL 3.0.
[ ca ]
default_ca = ca_expired

[ ca_expired ]
dir = .
database = ./index.txt
serial = ./serial
new_certs_dir = ./newcerts
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none

# ca2's CRL: a database of its own
[ ca_other ]
dir = .
database = ./index2.txt
default_md = sha256
policy = policy_any

[ policy_any ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
EOF

export OPENSSL_CONF="$work/openssl.cnf"
export SP_SAN="DNS:unused"

days=3650
server_subj="/C=UK/ST=Acme State/L=Acme Town/O=Acme/OU=Test/CN=localhost"
client_subj="/C=UK/ST=Acme State/L=Acme Town/O=Acme/OU=Clients/CN=client"

rsa_key() {
    run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
}

ec_key() {
    run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$1"
}

# self_signed NAME SUBJECT EXTENSIONS
self_signed() {
    run openssl req -config openssl.cnf -new -x509 -key "$1.key" \
        -subj "$2" -days "$days" -sha256 -extensions "$3" -out "$1.crt"
}

# signed NAME SUBJECT EXTENSIONS CA SAN
signed() {
    SP_SAN=$5 run openssl req -config openssl.cnf -new -x509 -key "$1.key" \
        -subj "$2" -days "$days" -sha256 -extensions "$3" \
        -CA "$4.crt" -CAkey "$4.key" -out "$1.crt"
}

# RSA key generation dominates the run time: make the keys in parallel.
pids=
for k in ca ca2 ca3 server-rsa client client-self client-expired \
         client-wrongca client-chain mismatch
do
    ( rsa_key "$k.key" ) 2>"$k.err" &
    pids="$pids $!"
done
for k in server-ec sni-a sni-wild sni-trail sni-re ca-int client-int \
         ca-trusted client-trusted client-revoked
do
    ( ec_key "$k.key" ) 2>"$k.err" &
    pids="$pids $!"
done
failed=0
for p in $pids; do
    wait "$p" || failed=1
done
if [ "$failed" != 0 ]; then
    cat ./*.err >&2
    exit 1
fi
rm -f ./*.err

# The classic recipe for a weak key; the library refuses it at level 2.
run openssl genrsa -out weak-rsa1024.key 1024

self_signed ca "/C=UK/O=securepair/CN=securepair test CA" v3_ca
self_signed ca2 "/C=UK/O=securepair/CN=securepair other CA" v3_ca
self_signed ca3 "/C=UK/O=securepair/CN=securepair untrusted CA" v3_ca

san="DNS:localhost, DNS:a.example.com, IP:127.0.0.1"
signed server-rsa "$server_subj" v3_server ca "$san"
signed server-ec "$server_subj" v3_server ca "$san"

run openssl pkcs8 -topk8 -v2 aes-256-cbc -in server-rsa.key \
    -passout pass:secret -out server-rsa-enc.key
printf 'secret' >server-rsa-enc-pass.txt

signed sni-a "/CN=a.example.com" v3_server ca "DNS:a.example.com"
signed sni-wild "/CN=*.example.com" v3_server ca "DNS:*.example.com"
signed sni-trail "/CN=www.example.net" v3_server ca "DNS:www.example.net"
signed sni-re "/CN=api.example.net" v3_server ca "DNS:api.example.net"

signed client "$client_subj" v3_client ca "email:client@example.com"
self_signed client-self "/CN=self-signed client" v3_self
signed client-wrongca "/C=UK/O=Acme/CN=wrong CA client" v3_client ca2 \
    "email:wrongca@example.com"

signed client-chain "/C=UK/O=Acme/CN=chain client" v3_client ca3 \
    "email:chain@example.com"
cat ca3.crt >>client-chain.crt

# Expired: "openssl ca" is the one tool of 3.0 that takes explicit dates.
mkdir newcerts
: >index.txt
echo 1000 >serial
run openssl req -config openssl.cnf -new -key client-expired.key \
    -subj "/C=UK/O=Acme/CN=expired client" -out client-expired.csr
SP_SAN="email:expired@example.com" run openssl ca -config openssl.cnf \
    -batch -notext -preserveDN -cert ca.crt -keyfile ca.key \
    -extensions v3_client -startdate 200101000000Z -enddate 200102000000Z \
    -in client-expired.csr -out client-expired.crt

self_signed weak-rsa1024 "/C=UK/O=Acme/CN=weak rsa 1024" v3_self

# Verification depth, trust without announcement, revocation.
signed ca-int "/C=UK/O=securepair/CN=securepair intermediate CA" v3_ca ca \
    "DNS:unused"
signed client-int "/C=UK/O=Acme/CN=intermediate client" v3_client ca-int \
    "email:int@example.com"
cat ca-int.crt >>client-int.crt
self_signed ca-trusted "/C=UK/O=securepair/CN=securepair trusted-only CA" \
    v3_ca
signed client-trusted "/C=UK/O=Acme/CN=trusted-only client" v3_client \
    ca-trusted "email:trusted@example.com"
signed client-revoked "/C=UK/O=Acme/CN=revoked client" v3_client ca \
    "email:revoked@example.com"

run openssl ca -config openssl.cnf -batch -revoke client-revoked.crt \
    -cert ca.crt -keyfile ca.key
run openssl ca -config openssl.cnf -batch -gencrl -crldays "$days" \
    -cert ca.crt -keyfile ca.key -out ca.crl
run openssl ca -config openssl.cnf -batch -gencrl \
    -crl_lastupdate 200101000000Z -crl_nextupdate 200102000000Z \
    -cert ca.crt -keyfile ca.key -out ca-expired.crl
run openssl ca -config openssl.cnf -batch -gencrl \
    -crl_lastupdate 20990101000000Z -crl_nextupdate 21000101000000Z \
    -cert ca.crt -keyfile ca.key -out ca-future.crl
: >index2.txt
run openssl ca -config openssl.cnf -name ca_other -batch -gencrl \
    -crldays "$days" -cert ca2.crt -keyfile ca2.key -out ca2.crl

run openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 \
    -out dh2048.pem
run openssl dhparam -dsaparam -out dh1024.pem 1024

printf 'this is not a PEM file\n-----BEGIN NOTHING-----\n%%%%%%\n' \
    >garbage.pem

for f in ca ca2 ca3 server-rsa server-ec sni-a sni-wild sni-trail sni-re \
         client client-self client-expired client-wrongca client-chain \
         weak-rsa1024 ca-int client-int ca-trusted client-trusted \
         client-revoked
do
    mv -f "$f.key" "$f.crt" "$out/"
done
mv -f server-rsa-enc.key server-rsa-enc-pass.txt mismatch.key garbage.pem \
    ca.crl ca-expired.crl ca-future.crl ca2.crl dh2048.pem dh1024.pem "$out/"

touch "$out/.done"
