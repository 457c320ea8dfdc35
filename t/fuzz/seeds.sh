#!/bin/bash
#
# t/fuzz/seeds.sh BUILD
#
# Seed corpora for the fuzz targets in BUILD/fuzz/corpus/<target>/ (kept
# and grown by `make fuzz`; this only adds or refreshes the seeds, and
# keeps a copy of them alone in BUILD/fuzz/seeds/<target>/):
#
#   server_pair, client_pair   recorded conversations of runtime pairs in
#                              memory (BUILD/fuzz/record, see record.c),
#                              ClientHellos of `openssl s_client` and first
#                              flights of `openssl s_server` (capture.pl)
#   peer_cert                  the DER of every certificate of BUILD/certs
#                              and of one with every kind of name
#   creds                      the PEM files of BUILD/certs in combinations
#   names, sni_table           hand-made lists and deterministic bytes
#   proxy_v2                   the ends of each family, values short, at
#                              their bounds and past them
#   sessions                   the sessions of every client configuration
#                              (record, see resume.c): exported, stored,
#                              raw, cut, refused by the store; ticket key
#                              material of every size that matters
#
# Needs BUILD/fuzz/record and the certificates (t/certs.sh); quiet unless
# something fails.

set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD" >&2
    exit 2
fi

build=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
certs=$build/certs
corpus=$build/fuzz/seeds        # generated here, then copied to the corpus
trans=$build/fuzz/transcripts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bash "$here/../certs.sh" "$certs"

targets="server_pair client_pair sni_table names creds peer_cert sessions
         proxy_v2"

rm -rf "$corpus"
for t in $targets; do
    mkdir -p "$corpus/$t"
done

# ---- recorded conversations ------------------------------------------------

if ! SP_CERTS=$certs "$build/fuzz/record" "$corpus" "$trans" \
        >"$tmp/record.log" 2>&1
then
    cat "$tmp/record.log" >&2
    echo "seeds.sh: record failed" >&2
    exit 1
fi

# ---- real OpenSSL peers ----------------------------------------------------

# ClientHellos for server_pair: header FZ_MODE_RAW, lenient, fed at once.
n=0
while IFS= read -r opts; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    perl "$here/capture.pl" hello "$corpus/server_pair/openssl-hello-$n" \
        0000 -- $opts || echo "seeds.sh: no ClientHello from s_client $opts" >&2
done <<'OPTS'
-tls1_3
-tls1_2
-tls1_2 -cipher ALL:@SECLEVEL=0 -servername www.example.org
-servername a.example.com -alpn h2,http/1.1 -status
-tls1_2 -nextprotoneg spdy/3.1,http/1.1 -servername x.example.com
-tls1_3 -groups P-521:P-384 -servername api1.example.net
-sigalgs RSA-PSS+SHA256:ECDSA+SHA256 -enable_pha
-tls1 -cipher DEFAULT:@SECLEVEL=0
-tls1_2 -no_ticket -legacy_renegotiation
-tls1_2 -curves X448:X25519 -servername www.example.net -reconnect
-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 -servername API.EXAMPLE.NET
OPTS

# First flights of s_server answering our clients' ClientHellos: the client
# pair (same randomness, same hello) takes them as a real server's.
for hello in "$trans"/*.hello; do
    base=$(basename "$hello" .hello)
    idx=${base%%-*}
    hdr=$(printf '%02x00' $((idx << 4)))
    perl "$here/capture.pl" flight "$corpus/client_pair/openssl-$base" \
        "$hdr" "$hello" -- -cert "$certs/server-ec.crt" \
        -key "$certs/server-ec.key" -CAfile "$certs/ca.crt" -verify 1 \
        -alpn http/1.1,h2 -nextprotoneg http/1.1 \
        || echo "seeds.sh: no answer from s_server to $base" >&2
done

# ---- certificates ----------------------------------------------------------

# An extra certificate with every kind of name in it.
cat >"$tmp/exotic.cnf" <<'CNF'
[ req ]
distinguished_name = dn
prompt = no
string_mask = nombstr
[ dn ]
C = UK
O = "Quotes \" and, commas"
OU = one
OU = two
CN = exotic.example.com
[ ext ]
subjectAltName = @alt
[ alt ]
DNS.1 = exotic.example.com
DNS.2 = *.exotic.example.com
IP.1 = 192.0.2.1
IP.2 = 2001:db8::1
email.1 = a@example.com
URI.1 = https://example.com/a,b
RID.1 = 1.2.3.4
dirName.1 = dir
otherName.1 = 1.2.3.4;UTF8:other
[ dir ]
CN = directory name
O = x
CNF
openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/exotic.key" -config "$tmp/exotic.cnf" -extensions ext \
    -days 30 -set_serial 0x00c0ffee -out "$tmp/exotic.crt" \
    >"$tmp/req.log" 2>&1 || { cat "$tmp/req.log" >&2; exit 1; }

for f in "$certs"/*.crt "$tmp/exotic.crt"; do
    name=$(basename "$f" .crt)
    awk -v out="$tmp/split-$name" \
        '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (out "-" n ".pem") }' \
        "$f"
done

for f in "$tmp"/split-*.pem; do
    openssl x509 -in "$f" -outform DER \
        -out "$corpus/peer_cert/$(basename "$f" .pem).der"
done

# ---- credentials -------------------------------------------------------------

# flags byte, then: passphrases %% key %% certificate %% CA
creds_seed() {
    local out=$1 flags=$2 pass=$3 key=$4 crt=$5 ca=$6
    {
        printf "\\x$flags"
        printf '%s' "$pass"
        for f in "$key" "$crt" "$ca"; do
            printf '\n%%%%\n'
            if [ -n "$f" ]; then
                cat "$certs/$f"
            fi
        done
    } >"$corpus/creds/$out"
}

creds_seed ec          04 ""              server-ec.key      server-ec.crt      ""
creds_seed rsa-ca-ctx  2c ""              server-rsa.key     server-rsa.crt     ca.crt
creds_seed enc-right   05 "secret"        server-rsa-enc.key server-rsa.crt     ""
creds_seed enc-second  06 $'wrong\nsecret' server-rsa-enc.key server-rsa.crt    ""
creds_seed enc-none    04 ""              server-rsa-enc.key server-rsa.crt     ""
creds_seed mismatch    04 ""              mismatch.key       server-rsa.crt     ""
creds_seed weak        04 ""              weak-rsa1024.key   weak-rsa1024.crt   ""
creds_seed chain       0c ""              client-chain.key   client-chain.crt   ca3.crt
creds_seed garbage     0c ""              garbage.pem        garbage.pem        garbage.pem
creds_seed cas         08 ""              ""                 ""                 client-chain.crt
creds_seed ciphers     1c $'ECDHE+AESGCM:!aNULL\nTLS_AES_128_GCM_SHA256\nsid' \
                                          sni-a.key          sni-a.crt          ca2.crt
creds_seed bad-ciph    10 $'NOPE\nTLS_NOPE\n' ""             ""                 ""

# ---- names -------------------------------------------------------------------

names_seed() {
    local out=$1
    shift
    printf "$@" >"$corpus/names/$out"
}

names_seed contexts '\x1f%s\0%s\0%s\0%s\0%s\0%s' a.example.com '*.example.com' \
    'www.example.*' '~^(api|www)\.ex\.net$' localhost 127.0.0.1
names_seed reject   '\x3f%s\0%s\0%s\0%s' a.example.com '*.Example.COM' \
    x.a.example.com unknown.example.org
names_seed protos   '\x0f%s\0%s\0%s' h2 http/1.1 spdy/3.1
names_seed invalid  '\x1f%s\0%s\0%s\0%s\0%s\0%s\0\0%s' '*' 'foo*bar' \
    'a.*.com' '~(' '*.a.*' 'a..b' '::1'
names_seed long     '\x1f%s\0%s' "$(printf 'a%.0s' $(seq 255))" \
    "$(printf 'b%.0s' $(seq 256))"

# ---- SNI tables: deterministic bytes -----------------------------------------

for size in 64 128 256 512 1024 2048; do
    head -c "$size" /dev/zero \
        | openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$size")" \
            -iv 00000000000000000000000000000000 \
        >"$corpus/sni_table/bytes-$size"
done

# ---- proxy_v2: inputs in the format of t/fuzz/README ------------------------

perl -e '
    my $dir = shift;
    my $n = 0;
    # a sockaddr (its family is set by the target): a port and an IPv4
    # address where sockaddr_in has them, 0x07 bytes behind; values of
    # 1, 255, 256 and 300 bytes, and one holding a NUL
    my $end = pack("x2 n a4 x8", 443, "\xc0\x00\x02\x01") . "\x07" x 112;
    for my $ends (0x00, 0x05, 0x0a, 0x0f, 0x10, 0x01) {
        for my $len (1, 255, 256, 0x8000 | 300) {
            my $v = $len & 0x8000 ? pack("n C", $len, 0x41)
                                  : pack("n", $len) . "a" x $len;
            my $in = pack("C C N C C", $ends, 7, 0, 16, 28) . $end . $end
                     . join "", map { pack("n", 8) . "TLSv1.3\0" . $v } 1 .. 3;
            open my $f, ">", sprintf("%s/seed-%02d", $dir, $n++) or die;
            print $f $in;
        }
    }
' "$corpus/proxy_v2"

# ---- a host that answers later (runtime/wait.c) ------------------------------

# server_pair: raw seeds again in mode 3 (the SNI callback answers from
# inside, after one chunk, after three); sessions: the store's seeds
# (modes 2 and 3) through find_async, from inside and after 0 and 2
# chunks (spec byte bits 5-7).
perl -e '
    my ($sp, $se) = @ARGV;
    for my $f (glob("$sp/*")) {
        open my $in, "<", $f or die; binmode $in; local $/; my $d = <$in>;
        next if length($d) < 2 || (ord($d) & 3) != 0;
        for my $feed (0x00, 0x10, 0x18) {
            my $o = chr(ord($d) | 3) . chr($feed) . substr($d, 2);
            open my $out, ">", sprintf("%s-wait-%02x", $f, $feed) or die;
            binmode $out; print $out $o;
        }
    }
    for my $f (glob("$se/*")) {
        open my $in, "<", $f or die; binmode $in; local $/; my $d = <$in>;
        next if length($d) < 3 || (ord($d) & 3) < 2;
        for my $when (0x00, 0x20, 0xa0) {
            my $o = chr(ord($d) | 4) . substr($d, 1, 1)
                    . chr((ord(substr($d, 2, 1)) & 0x1f) | $when)
                    . substr($d, 3);
            open my $out, ">", sprintf("%s-wait-%02x", $f, $when) or die;
            binmode $out; print $out $o;
        }
    }
' "$corpus/server_pair" "$corpus/sessions"

# ---- into the corpora that `make fuzz` grows ----------------------------------

for t in $targets; do
    mkdir -p "$build/fuzz/corpus/$t"
    cp "$corpus/$t"/* "$build/fuzz/corpus/$t/"
done

exit 0
