#!/usr/bin/perl
#
# t/directives.t: the directives of nginx's stream ssl that securepair
# answers with Node's options: securepair_verify_depth,
# securepair_trusted_certificate (trusted, not announced), securepair_crl
# (and crl= on securepair_context), securepair_ecdh_curve,
# securepair_dhparam, securepair_prefer_server_ciphers,
# securepair_conf_command; and securepair_keylog, whose lines are the
# ones openssl s_client writes for the same connection.  Every bad value
# fails nginx -t naming the file, the line and the reason.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;

# A server asking for a client certificate, and what it thought of it.
block_template(
    verify => {
        log_format => '$securepair_authorized $securepair_authorization_error',
        stream_request => "ping\n",
        stream_response => "welcome!\nping\n",
    },
);


# ---- trusted_certificate: the CertificateRequest names only the ca -------

{
    my $name = 'trusted certificate';
    my $t = start_nginx(
        log_format => '$securepair_authorized $securepair_authorization_error '
                      . '$securepair_peer_cn',
        stream_server_config => <<'EOF');
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_trusted_certificate %%CERTS%%/ca-trusted.crt;
securepair_request_cert on;
securepair_reject_unauthorized on;
securepair_echo "welcome!\n";
EOF
    nginx_started($t, $name);

    for my $version (qw(TLSv1.2 TLSv1.3)) {
        my $r = s_client(port => $t->{port}, servername => 'localhost',
                         version => $version, mode => 'full',
                         cert => 'client-trusted.crt',
                         key => 'client-trusted.key',
                         request => "ping\n", expect => "welcome!\nping\n");
        my $out = $r->{stdout};

        my ($names) = $out =~ /Acceptable client certificate CA names\n(.*?)\n(?:Requested|Client Certificate Types|Shared)/s;
        is($names // '(none)',
           'C = UK, O = securepair, CN = securepair test CA',
           "$name, $version: only securepair_ca's CA is announced");
    }

    my $log = wait_for_log($t,
                           qr/(?:^true - trusted-only client\n){2}/m);
    ok($log, "$name: the trusted-only CA's client is authorized, twice")
        or diag(access_log_text($t));

    done_nginx($t, $name);
}


# ---- keylog: the client's lines, the same, in the server's file ----------

for my $version (qw(TLSv1.3 TLSv1.2)) {
    my $name = "keylog, $version";
    my $t = start_nginx(stream_server_config => <<'EOF');
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_keylog %%TESTDIR%%/keys.log;
securepair_echo "welcome!\n";
EOF
    nginx_started($t, $name);

    my $file = "$t->{dir}/keys.log";
    my $client_file = "$t->{dir}/client-keys.log";

    is(sprintf('%04o', (stat $file)[2] & 07777), '0600',
       "$name: the key log is created 0600");

    like(error_log_text($t),
         qr/\[warn\] \d+#\d+: securepair: key logging to "\Q$file\E" is on: whoever reads it can decrypt this server's connections in \Q$t->{conf_file}\E:\d+$/m,
         "$name: a warn line at start, with the file and the line");

    for my $i (1, 2) {
        my $r = s_client(port => $t->{port}, servername => 'localhost',
                         version => $version, mode => 'quiet',
                         args => ['-keylogfile', $client_file],
                         request => "ping\n", expect => "welcome!\nping\n");
        is($r->{response} // $r->{stdout}, "welcome!\nping\n",
           "$name: connection $i served");
    }

    my @client = grep { !/^#/ && /\S/ } split /\n/, slurp($client_file);
    my $server = slurp($file);
    my @server = split /\n/, $server;

    is(scalar @client, $version eq 'TLSv1.3' ? 10 : 2,
       "$name: the client wrote its lines for two connections");
    my @missing = grep { my $l = $_; !grep { $_ eq $l } @server } @client;
    is(scalar @missing, 0, "$name: every client line is in the server's "
                           . "file, the same")
        or diag("missing:\n" . join("\n", @missing) . "\nserver:\n$server");
    is(scalar @server, scalar @client,
       "$name: and the server wrote no other");
    like($server, qr/\A(?:[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+\n)+\z/,
         "$name: whole NSS key log lines");

    done_nginx($t, $name);
}


# ---- ecdh_curve: the one curve named is the one the handshake uses ------

{
    my $name = 'ecdh_curve secp384r1';
    my $t = start_nginx(stream_server_config => <<'EOF');
%%INCLUDE(echo)%%
securepair_ecdh_curve secp384r1;
EOF
    nginx_started($t, $name);

    # the client's first key share is X25519: a HelloRetryRequest asks again
    for my $version (qw(TLSv1.2 TLSv1.3)) {
        my $r = s_client(port => $t->{port}, servername => 'localhost',
                         version => $version, mode => 'full',
                         request => "x\n", expect => "welcome!\nx\n");
        like($r->{stdout}, qr/^Server Temp Key: ECDH, secp384r1, 384 bits$/m,
             "$name, $version: the key exchange used it");
    }

    done_nginx($t, $name);
}


{
    my $name = 'keylog off by default';
    my $t = start_nginx(stream_server_config => <<'EOF');
%%INCLUDE(echo)%%
EOF
    my $r = tls_client(port => $t->{port}, request => "x\n",
                       expect => "welcome!\nx\n");
    is($r->{response}, "welcome!\nx\n", "$name: served");
    unlike(error_log_text($t), qr/key log/, "$name: no word of key logging");
    opendir(my $dh, $t->{dir}) or die;
    is(scalar(grep { /key/ } readdir $dh), 0, "$name: no file");
    done_nginx($t, $name);
}

run_tests();


__DATA__

=== TEST 1: verify_depth: by default (OpenSSL's 100, as Node) a chain with an intermediate verifies
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client-int.crt
key: client-int.key
--- access_log
true -



=== TEST 2: verify_depth 1: one intermediate verifies
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_verify_depth 1;
securepair_echo "welcome!\n";
--- tls
cert: client-int.crt
key: client-int.key
--- access_log
true -



=== TEST 3: verify_depth 0: the chain is cut at the limit and finds no trust anchor (Node's verdict: the last error)
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_verify_depth 0;
securepair_echo "welcome!\n";
--- tls
cert: client-int.crt
key: client-int.key
version: TLSv1.2
--- access_log
false UNABLE_TO_GET_ISSUER_CERT_LOCALLY



=== TEST 4: verify_depth 0 still verifies a client signed by the root itself
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_verify_depth 0;
securepair_echo "welcome!\n";
--- tls
cert: client.crt
key: client.key
--- access_log
true -



=== TEST 5: verify_depth: not a number
--- stream_server_config
%%INCLUDE(echo)%%
securepair_verify_depth -3;
--- must_die
--- error_log
qr{\[emerg\] "securepair_verify_depth" directive invalid number in %%CONF%%:%%LINE(securepair_verify_depth)%%$}m



=== TEST 6: trusted_certificate alone: its client is authorized, and no CA is announced
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_trusted_certificate %%CERTS%%/ca-trusted.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client-trusted.crt
key: client-trusted.key
--- access_log
true -



=== TEST 7: without trusted_certificate the trusted-only CA's client is not authorized
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client-trusted.crt
key: client-trusted.key
--- access_log
false UNABLE_TO_VERIFY_LEAF_SIGNATURE



=== TEST 8: trusted_certificate: garbage names its file, why, and its line
--- stream_server_config
%%INCLUDE(echo)%%
securepair_trusted_certificate %%CERTS%%/garbage.pem;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/garbage\.pem: no certificate found: .* in %%CONF%%:%%LINE(securepair_trusted_certificate)%%$}m



=== TEST 9: crl: a client in good standing is authorized
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_crl %%CERTS%%/ca.crl;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client.crt
key: client.key
--- access_log
true -



=== TEST 10: crl: a revoked client is not authorized: CERT_REVOKED
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_crl %%CERTS%%/ca.crl;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client-revoked.crt
key: client-revoked.key
--- access_log
false CERT_REVOKED



=== TEST 11: crl: without it the revoked client is authorized
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client-revoked.crt
key: client-revoked.key
--- access_log
true -



=== TEST 12: crl: under reject_unauthorized a revoked client is refused, not a byte through
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_crl %%CERTS%%/ca.crl;
securepair_request_cert on;
securepair_reject_unauthorized on;
securepair_echo "welcome!\n";
--- log_format
$securepair_authorized $securepair_authorization_error $securepair_peer_cn
--- tls
cert: client-revoked.crt
key: client-revoked.key
version: TLSv1.2
expect_handshake: fail
--- stream_request
ping
--- access_log
false CERT_REVOKED revoked client
--- error_log
qr/\[info\].*securepair: peer certificate not authorized: CERT_REVOKED/



=== TEST 13: crl: an expired CRL: CRL_HAS_EXPIRED
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_crl %%CERTS%%/ca-expired.crl;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client.crt
key: client.key
--- access_log
false CRL_HAS_EXPIRED



=== TEST 14: crl: a CRL not yet valid: CRL_NOT_YET_VALID
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_crl %%CERTS%%/ca-future.crl;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client.crt
key: client.key
version: TLSv1.2
--- access_log
false CRL_NOT_YET_VALID



=== TEST 15: crl: no CRL of the client's CA: UNABLE_TO_GET_CRL
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_crl %%CERTS%%/ca2.crl;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- tls
cert: client.crt
key: client.key
--- access_log
false UNABLE_TO_GET_CRL



=== TEST 16: crl without any CA to check: its file, why, its line
--- stream_server_config
%%INCLUDE(echo)%%
securepair_crl %%CERTS%%/ca.crl;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/ca\.crl: a CRL needs the CAs it checks: add CA or trusted certificates first in %%CONF%%:%%LINE(securepair_crl)%%$}m



=== TEST 17: crl: a certificate is no CRL
--- stream_server_config
%%INCLUDE(echo)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_crl %%CERTS%%/ca.crt;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/ca\.crt: no CRL found: .* in %%CONF%%:%%LINE(securepair_crl)%%$}m



=== TEST 18: crl= on securepair_context: that name checks revocation
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key crl=%%CERTS%%/ca.crl;
securepair_echo "welcome!\n";
--- log_format
$securepair_servername $securepair_authorized $securepair_authorization_error
--- tls
servername: a.example.com
cert: client-revoked.crt
key: client-revoked.key
--- access_log
a.example.com false CERT_REVOKED



=== TEST 19: crl= on securepair_context: the server's own name does not
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key crl=%%CERTS%%/ca.crl;
securepair_echo "welcome!\n";
--- log_format
$securepair_servername $securepair_authorized $securepair_authorization_error
--- tls
servername: localhost
cert: client-revoked.crt
key: client-revoked.key
--- access_log
localhost true -



=== TEST 20: a context with a ca= of its own ignores the server's crl (its own crl= checks it)
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca2.crt;
securepair_crl %%CERTS%%/ca2.crl;
securepair_request_cert on;
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key ca=%%CERTS%%/ca.crt;
securepair_echo "welcome!\n";
--- log_format
$securepair_servername $securepair_authorized $securepair_authorization_error
--- tls
servername: a.example.com
cert: client-revoked.crt
key: client-revoked.key
--- access_log
a.example.com true -



=== TEST 21: trusted= and verify_depth= on securepair_context
--- template: verify
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key trusted=%%CERTS%%/ca-trusted.crt verify_depth=0;
securepair_echo "welcome!\n";
--- log_format
$securepair_servername $securepair_authorized $securepair_authorization_error
--- tls
servername: a.example.com
cert: client-trusted.crt
key: client-trusted.key
--- access_log
a.example.com true -



=== TEST 22: crl= in securepair_context without a file
--- stream_server_config
%%INCLUDE(echo)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key crl=;
--- must_die
--- error_log
qr{\[emerg\] empty "crl=" in "securepair_context" in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 23: ecdh_curve: a colon list serves
--- stream_server_config
%%INCLUDE(echo)%%
securepair_ecdh_curve X25519:prime256v1;
--- tls
version: TLSv1.3
--- stream_request
x
--- stream_response
welcome!
x



=== TEST 24: ecdh_curve auto serves
--- stream_server_config
%%INCLUDE(echo)%%
securepair_ecdh_curve auto;
--- stream_request
x
--- stream_response
welcome!
x



=== TEST 25: ecdh_curve: an unknown name: which, and the line
--- stream_server_config
%%INCLUDE(echo)%%
securepair_ecdh_curve X25519:nosuchcurve;
--- must_die
--- error_log
qr{\[emerg\] securepair: unknown curve "nosuchcurve" in %%CONF%%:%%LINE(securepair_ecdh_curve)%%$}m



=== TEST 26: dhparam: a DHE cipher suite with TLS 1.2
--- stream_server_config
%%INCLUDE(echo)%%
securepair_dhparam %%CERTS%%/dh2048.pem;
--- tls
version: TLSv1.2
ciphers: DHE-RSA-AES128-GCM-SHA256
--- tls_expect
cipher: DHE-RSA-AES128-GCM-SHA256
--- stream_request
x
--- stream_response
welcome!
x



=== TEST 27: no dhparam: no DHE, as in Node
--- stream_server_config
%%INCLUDE(echo)%%
--- tls
version: TLSv1.2
ciphers: DHE-RSA-AES128-GCM-SHA256
expect_handshake: fail
--- tls_expect
handshake: fail



=== TEST 28: dhparam of 1024 bits: refused, saying what is needed
--- stream_server_config
%%INCLUDE(echo)%%
securepair_dhparam %%CERTS%%/dh1024.pem;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/dh1024\.pem: DH parameters of 1024 bits are too small for OpenSSL security level 2 \(needs 112 bits of security: 2048-bit parameters or more\) in %%CONF%%:%%LINE(securepair_dhparam)%%$}m



=== TEST 29: dhparam: a certificate is no DH parameters
--- stream_server_config
%%INCLUDE(echo)%%
securepair_dhparam %%CERTS%%/ca.crt;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/ca\.crt: no DH parameters found: .* in %%CONF%%:%%LINE(securepair_dhparam)%%$}m



=== TEST 30: prefer_server_ciphers off (the default): the client's order
--- stream_server_config
%%INCLUDE(echo)%%
securepair_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256;
--- tls
version: TLSv1.2
ciphers: ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384
--- tls_expect
cipher: ECDHE-RSA-AES128-GCM-SHA256
--- stream_request
x
--- stream_response
welcome!
x



=== TEST 31: prefer_server_ciphers on: the server's order
--- stream_server_config
%%INCLUDE(echo)%%
securepair_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256;
securepair_prefer_server_ciphers on;
--- tls
version: TLSv1.2
ciphers: ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384
--- tls_expect
cipher: ECDHE-RSA-AES256-GCM-SHA384
--- stream_request
x
--- stream_response
welcome!
x



=== TEST 32: conf_command: an SSL_CONF command applies (TLS 1.3 suites)
--- stream_server_config
%%INCLUDE(echo)%%
securepair_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256;
--- tls
version: TLSv1.3
--- tls_expect
cipher: TLS_CHACHA20_POLY1305_SHA256
--- stream_request
x
--- stream_response
welcome!
x



=== TEST 33: conf_command: an unknown command is named, with its line
--- stream_server_config
%%INCLUDE(echo)%%
securepair_conf_command Options -SessionTicket;
securepair_conf_command NoSuchCommand value;
--- must_die
--- error_log
qr{\[emerg\] securepair: unknown SSL_CONF command "NoSuchCommand" in %%CONF%%:%%LINE(NoSuchCommand)%%$}m



=== TEST 34: conf_command: a value OpenSSL refuses names the command and the value
--- stream_server_config
%%INCLUDE(echo)%%
securepair_conf_command Ciphersuites NOPE;
--- must_die
--- error_log
qr{\[emerg\] securepair: SSL_CONF command "Ciphersuites" refused "NOPE": .* in %%CONF%%:%%LINE(securepair_conf_command)%%$}m



=== TEST 35: keylog: a file that cannot be opened
--- stream_server_config
%%INCLUDE(echo)%%
securepair_keylog %%TESTDIR%%/no-such-dir/keys.log;
--- must_die
--- error_log
qr{\[emerg\] securepair: cannot open key log "%%TESTDIR%%/no-such-dir/keys\.log" \(No such file or directory\) in %%CONF%%:%%LINE(securepair_keylog)%%$}m
