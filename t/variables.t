#!/usr/bin/perl
#
# t/variables.t: every $securepair_* variable, seen through log_format and
# the access log, against what real clients did.  Values that do not
# exist log as "-".

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;
use Time::HiRes qw(time);

my $server = <<'EOF';
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_echo "welcome!\n";
EOF


# ---- $securepair_connections counts the server's live sessions -----------

{
    my $name = 'connections';
    my $t = start_nginx(name => $name, stream_server_config => $server,
                        log_format => 'conns=$securepair_connections');

    my @held = map { tls_connect(port => $t->{port}) } 1 .. 2;

    for my $i (0 .. 1) {
        is($held[$i]->exchange("$i\n", expect => "welcome!\n$i\n"),
           "welcome!\n$i\n", "$name: connection " . ($i + 1) . " is up");
    }

    my $r = tls_client(port => $t->{port}, request => "x\n",
                       expect => "welcome!\nx\n");
    is($r->{response}, "welcome!\nx\n", "$name: a third connection is "
                                        . "served");

    # logs are written when sessions end: the third first
    my $deadline = time + 5 * $SLOW;
    select undef, undef, undef, 0.05
        while access_log_text($t) !~ /conns=/ && time < $deadline;

    is(access_log_text($t), "conns=3\n",
       "$name: the third session ends while three are alive: conns=3");

    $_->close for @held;

    # (nginx under valgrind runs as one process and stops at once on QUIT:
    # wait for the sessions to end first)
    $deadline = time + 5 * $SLOW;
    select undef, undef, undef, 0.05
        while access_log_text($t) !~ /conns=1/ && time < $deadline;

    stop_nginx($t);

    is(access_log_text($t), "conns=3\nconns=2\nconns=1\n",
       "$name: then the two others: conns=2, conns=1");

    done_nginx($t, $name);
}


# ---- $securepair_session_reused: "." for a full handshake, "r" resumed ---

for my $version (qw(TLSv1.2 TLSv1.3)) {
    my $name = "session reuse $version";
    my $t = start_nginx(name => $name, stream_server_config => $server,
                        log_format => 'reused=$securepair_session_reused');

    my $sess = "$t->{dir}/session.pem";
    my %opts = (port => $t->{port}, version => $version, mode => 'full',
                request => "s\n", expect => "welcome!\ns\n");

    my $r1 = s_client(%opts, args => ['-sess_out', $sess]);
    my $r2 = s_client(%opts, args => ['-sess_in', $sess]);

    is($r1->{session_reused}, 0, "$name: the first connection is a full "
                                 . "handshake");
    is($r2->{session_reused}, 1, "$name: the second resumes the session "
                                 . "(openssl s_client -sess_in)");
    is($r2->{response}, "welcome!\ns\n", "$name: the resumed session "
                                         . "echoes");

    stop_nginx($t);
    is(access_log_text($t), "reused=.\nreused=r\n",
       "$name: the access log says . then r");
    done_nginx($t, $name);
}

run_tests();

__DATA__

=== TEST 1: a client with a good certificate, TLS 1.3: every variable
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|sni=$securepair_servername|npn=$securepair_npn_protocol
|alpn=$securepair_alpn_protocol|proto=$securepair_protocol
|cipher=$securepair_cipher|reused=$securepair_session_reused
|subject=$securepair_peer_subject|issuer=$securepair_peer_issuer
|cn=$securepair_peer_cn|from=$securepair_peer_valid_from
|to=$securepair_peer_valid_to|fp=$securepair_peer_fingerprint
|conns=$securepair_connections|renegs=$securepair_renegotiations|
--- tls
servername: localhost
version: TLSv1.3
ciphersuites: TLS_AES_128_GCM_SHA256
cert: client.crt
key: client.key
--- stream_request
vars
--- stream_response
welcome!
vars
--- access_log
|authorized=true|
|error=-|
|sni=localhost|
|npn=-|
|alpn=-|
|proto=TLSv1.3|
|cipher=TLS_AES_128_GCM_SHA256|
|reused=.|
|subject=/C=UK/ST=Acme State/L=Acme Town/O=Acme/OU=Clients/CN=client|
|issuer=/C=UK/O=securepair/CN=securepair test CA|
|cn=client|
|from=%%CERT_NOT_BEFORE(client.crt)%%|
|to=%%CERT_NOT_AFTER(client.crt)%%|
|fp=%%CERT_FINGERPRINT(client.crt)%%|
|conns=1|
|renegs=0|
qr/\|from=[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT\|/
qr/\|fp=([0-9A-F]{2}:){19}[0-9A-F]{2}\|/



=== TEST 2: TLS 1.2 with NPN and two client renegotiations
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_npn_protocols spdy/3 http/1.1;
securepair_echo "welcome!\n";
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|sni=$securepair_servername|npn=$securepair_npn_protocol
|alpn=$securepair_alpn_protocol|proto=$securepair_protocol
|cipher=$securepair_cipher|cn=$securepair_peer_cn
|renegs=$securepair_renegotiations|
--- tls
version: TLSv1.2
ciphers: ECDHE-RSA-AES128-GCM-SHA256
npn: http/1.1
renegotiate: 2
--- stream_request
npn
--- stream_response
welcome!
npn
--- tls_expect
npn: http/1.1
renegotiated: 2
--- access_log
|authorized=false|
|error=-|
|sni=-|
|npn=http/1.1|
|alpn=-|
|proto=TLSv1.2|
|cipher=ECDHE-RSA-AES128-GCM-SHA256|
|cn=-|
|renegs=2|



=== TEST 3: TLS 1.3 with ALPN
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_alpn_protocols h2 http/1.1;
securepair_npn_protocols h2 http/1.1;
securepair_echo "welcome!\n";
--- log_format: |npn=$securepair_npn_protocol|alpn=$securepair_alpn_protocol|proto=$securepair_protocol|sni=$securepair_servername|
--- tls
servername: a.example.com
alpn: http/1.1
--- stream_request
alpn
--- stream_response
welcome!
alpn
--- tls_expect
alpn: http/1.1
--- access_log
|npn=-|alpn=http/1.1|proto=TLSv1.3|sni=a.example.com|



=== TEST 4: certificate requested, none sent: not authorized, UNABLE_TO_GET_ISSUER_CERT, no peer
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|subject=$securepair_peer_subject|issuer=$securepair_peer_issuer
|cn=$securepair_peer_cn|from=$securepair_peer_valid_from
|to=$securepair_peer_valid_to|fp=$securepair_peer_fingerprint|
--- stream_request
none
--- stream_response
welcome!
none
--- access_log
|authorized=false|error=UNABLE_TO_GET_ISSUER_CERT|subject=-|issuer=-|cn=-|from=-|to=-|fp=-|



=== TEST 5: no certificate requested: never authorized, no error (as Node)
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_echo "welcome!\n";
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|cn=$securepair_peer_cn|
--- tls
cert: client.crt
key: client.key
--- stream_request
x
--- stream_response
welcome!
x
--- access_log
|authorized=false|error=-|cn=-|



=== TEST 6: a self-signed client certificate: DEPTH_ZERO_SELF_SIGNED_CERT, its subject
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|subject=$securepair_peer_subject|issuer=$securepair_peer_issuer
|cn=$securepair_peer_cn|fp=$securepair_peer_fingerprint|
--- tls
cert: client-self.crt
key: client-self.key
--- stream_request
x
--- stream_response
welcome!
x
--- access_log
|authorized=false|error=DEPTH_ZERO_SELF_SIGNED_CERT|
|subject=/CN=self-signed client|issuer=/CN=self-signed client|
|cn=self-signed client|
|fp=%%CERT_FINGERPRINT(client-self.crt)%%|



=== TEST 7: an expired client certificate: CERT_HAS_EXPIRED, its dates in Node's format
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|cn=$securepair_peer_cn|from=$securepair_peer_valid_from
|to=$securepair_peer_valid_to|
--- tls
cert: client-expired.crt
key: client-expired.key
--- stream_request
x
--- stream_response
welcome!
x
--- access_log
|authorized=false|error=CERT_HAS_EXPIRED|cn=expired client|
|from=Jan  1 00:00:00 2020 GMT|to=Jan  2 00:00:00 2020 GMT|



=== TEST 8: a client certificate from another CA: UNABLE_TO_VERIFY_LEAF_SIGNATURE
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|issuer=$securepair_peer_issuer|cn=$securepair_peer_cn|
--- tls
cert: client-wrongca.crt
key: client-wrongca.key
--- stream_request
x
--- stream_response
welcome!
x
--- access_log
|authorized=false|error=UNABLE_TO_VERIFY_LEAF_SIGNATURE|
|issuer=/C=UK/O=securepair/CN=securepair other CA|cn=wrong CA client|



=== TEST 9: a client chain ending in an untrusted root: SELF_SIGNED_CERT_IN_CHAIN
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|cn=$securepair_peer_cn|
--- tls
cert: client-chain.crt
key: client-chain.key
--- stream_request
x
--- stream_response
welcome!
x
--- access_log
|authorized=false|error=SELF_SIGNED_CERT_IN_CHAIN|cn=chain client|



=== TEST 10: a handshake that fails logs "-" for every negotiated value
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_alpn_protocols h2;
securepair_echo "welcome!\n";
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|sni=$securepair_servername|npn=$securepair_npn_protocol
|alpn=$securepair_alpn_protocol|proto=$securepair_protocol
|cipher=$securepair_cipher|reused=$securepair_session_reused
|cn=$securepair_peer_cn|renegs=$securepair_renegotiations
|conns=$securepair_connections|
--- tls
servername: localhost
alpn: spdy/1
--- stream_request
--- tls_expect
handshake: fail
alert: no application protocol
--- access_log
|authorized=-|error=-|sni=-|npn=-|alpn=-|proto=-|cipher=-|reused=-|cn=-|renegs=-|conns=1|



=== TEST 11: variables in a server without securepair: "-", and $securepair_connections too
--- stream_config
server {
    listen 127.0.0.1:%%PORT2%%;
    return "plain $securepair_authorized $securepair_protocol $securepair_connections\n";
}
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
proxy_pass 127.0.0.1:%%PORT2%%;
--- stream_request
--- stream_response
plain   
--- log_format: |port=$server_port|authorized=$securepair_authorized|proto=$securepair_protocol|conns=$securepair_connections|
--- access_log
|port=%%PORT%%|authorized=false|proto=TLSv1.3|conns=1|
|port=%%PORT2%%|authorized=-|proto=-|conns=-|
