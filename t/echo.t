#!/usr/bin/perl
#
# t/echo.t: securepair_echo, Node's tls echo server, through nginx with
# real clients: IO::Socket::SSL, openssl s_client, plain TCP.  Also the
# data path through proxy_pass, concurrency, reloads, the handshake
# timeout, securepair_max_connections and the renegotiation limit.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;
use Time::HiRes qw(time);

my $server = <<'EOF';
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
EOF


# ---- a reload while a connection is open ---------------------------------
#
# (master => 1: even under TEST_NGINX_VALGRIND, where nginx otherwise runs
# as a single process, which cannot reload)

{
    my $name = 'reload';
    my $t = start_nginx(name => $name, master => 1, stream_server_config =>
                        $server . 'securepair_echo "v1\n";');

    nginx_started($t, $name);

    my $c1 = tls_connect(port => $t->{port}, servername => 'localhost');
    is($c1->r->{handshake}, 'ok', "$name: first connection shakes hands");
    is($c1->exchange("a\n", expect => "v1\na\n"), "v1\na\n",
       "$name: first connection gets greeting v1 and its echo");

    my $ec = <<'EOF';
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_echo "v2\n";
EOF

    ok(reload_nginx($t, stream_server_config => $ec),
       "$name: nginx -s reload to an ECDSA certificate and greeting v2")
        or diag($t->{reload_error});

    my $r2 = tls_client(port => $t->{port}, request => "b\n",
                        expect => "v2\nb\n");
    is($r2->{response}, "v2\nb\n",
       "$name: a new connection gets the new greeting");
    is($r2->{peer_key}, 'EC', "$name: a new connection gets the new key");

    is($c1->exchange("c\n", expect => "c\n"), "c\n",
       "$name: the connection opened before the reload still echoes");
    $c1->close;

    # a configuration that cannot load: the running one stays
    my $broken = $server;
    $broken =~ s/server-rsa\.crt/missing.crt/;

    ok(!reload_nginx($t, stream_server_config =>
                     $broken . 'securepair_echo "v3\n";'),
       "$name: a reload to a missing certificate is refused");
    like($t->{reload_error} || '', qr/missing\.crt: cannot open/,
         "$name: the refused reload names the file");

    my $r3 = tls_client(port => $t->{port}, request => "d\n",
                        expect => "v2\nd\n");
    is($r3->{response}, "v2\nd\n",
       "$name: after the refused reload the previous configuration serves");

    stop_nginx($t);

    my $log = error_log_text($t);
    my $exits = () = $log =~ /worker process \d+ exited with code 0/g;
    ok($exits >= 2, "$name: the old worker exited cleanly once its "
                    . "connection closed ($exits clean exits)");

    done_nginx($t, $name, allow_emerg => 1);
}


# ---- a reload while a proxied connection is open -------------------------

{
    my $name = 'reload, proxied';
    my $cfg = $server . "proxy_pass 127.0.0.1:%%BACKEND_PORT%%;\n";
    my $t = start_nginx(name => $name, master => 1, backend => 'banner b1\n',
                        stream_server_config => $cfg);

    my $c1 = tls_connect(port => $t->{port});
    is($c1->exchange("a\n", expect => "b1\na\n"), "b1\na\n",
       "$name: the connection reaches the backend");

    ok(reload_nginx($t, stream_server_config => $cfg
                        . "securepair_handshake_timeout 5s;\n"),
       "$name: nginx -s reload")
        or diag($t->{reload_error});

    is($c1->exchange("b\n", expect => "b\n"), "b\n",
       "$name: the connection opened before the reload still works");
    $c1->close;

    done_nginx($t, $name);
}


# ---- the handshake timeout -----------------------------------------------

{
    my $name = 'handshake timeout';
    my $t = start_nginx(name => $name, stream_server_config => $server
                        . "securepair_handshake_timeout 500ms;\n"
                        . "securepair_echo;\n",
                        log_format => 'status=$status');

    my $start = time;
    my $r = raw_client(port => $t->{port}, read_timeout => 4, timeout => 6);
    my $took = time - $start;

    is($r->{eof}, 'tcp', "$name: a silent client is disconnected");
    ok($took >= 0.4 && $took < 3 * $SLOW,
       sprintf("$name: after about 500ms (%.2fs)", $took));
    is($r->{response}, '', "$name: without a byte sent to it");

    stop_nginx($t);
    like(error_log_text($t), qr/\[info\].*securepair: handshake timed out/,
         "$name: error.log says the handshake timed out");
    is(access_log_text($t), "status=500\n",
       "$name: \$status 500, as nginx's ssl_handshake_timeout");
    done_nginx($t, $name);
}


# ---- securepair_max_connections -----------------------------------------

{
    my $name = 'max connections';
    my $t = start_nginx(name => $name, stream_server_config => $server
                        . "securepair_max_connections 1;\n"
                        . "securepair_echo \"hi\\n\";\n",
                        log_format => 'conns=$securepair_connections '
                                      . 'status=$status');

    my $c1 = tls_connect(port => $t->{port});
    is($c1->exchange("1\n", expect => "hi\n1\n"), "hi\n1\n",
       "$name: the first connection is served");

    my $r2 = tls_client(port => $t->{port}, request => "2\n");
    is($r2->{handshake}, 'fail',
       "$name: a second one at the same time is refused");

    is($c1->exchange("3\n", expect => "3\n"), "3\n",
       "$name: the first one is not disturbed");
    $c1->close;

    # the slot is free again once the first session is over
    my $r3;
    for (1 .. 50) {
        $r3 = tls_client(port => $t->{port}, request => "4\n",
                         expect => "hi\n4\n");
        last if $r3->{response} eq "hi\n4\n";
        select undef, undef, undef, 0.05;
    }
    is($r3->{response}, "hi\n4\n",
       "$name: a connection after the first closed is served");

    stop_nginx($t);
    like(error_log_text($t),
         qr/\[info\].*securepair: too many connections \(securepair_max_connections 1\), closing/,
         "$name: error.log says why the second was closed");
    like(access_log_text($t), qr/^conns=1 status=200$/m,
         "$name: \$securepair_connections is 1 in the access log");
    like(access_log_text($t), qr/^conns=1 status=503$/m,
         "$name: the refused one: \$status 503, as nginx's limit_conn");
    done_nginx($t, $name);
}

# The servers and exchanges the blocks share.
block_template(
    echo => { stream_server_config => "%%INCLUDE(echo)%%\n" },
    # RSA and ECDSA on one server
    dual => {
        stream_server_config => <<'EOF',
%%INCLUDE(tls_rsa)%%
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_echo "welcome!\n";
EOF
    },
    proxy => {
        stream_server_config => <<'EOF',
%%INCLUDE(tls_rsa)%%
proxy_pass 127.0.0.1:%%BACKEND_PORT%%;
EOF
    },
    hello => {
        stream_request => "hello\n",
        stream_response => "welcome!\nhello\n",
    },
    hello_s_client => {
        stream_request => "hello from s_client\n",
        stream_response => "welcome!\nhello from s_client\n",
    },
    reneg => {
        stream_request => "reneg\n",
        stream_response => "welcome!\nreneg\n",
    },
);

run_tests();

__DATA__

=== TEST 1: TLS 1.3: IO::Socket::SSL gets the greeting and the echo
--- template: echo hello
--- tls
servername: localhost
verify: on
version: TLSv1.3
--- tls_expect
protocol: TLSv1.3
peer_cn: localhost
peer_key: RSA
--- no_error_log
securepair:



=== TEST 2: TLS 1.2: IO::Socket::SSL gets the greeting and the echo
--- template: echo hello
--- tls
servername: localhost
verify: on
version: TLSv1.2
--- tls_expect
protocol: TLSv1.2
peer_cn: localhost



=== TEST 3: TLS 1.3: openssl s_client -quiet
--- template: echo hello_s_client
--- tls
client: s_client
mode: quiet
version: TLSv1.3
servername: localhost
verify: on



=== TEST 4: TLS 1.2: openssl s_client -quiet
--- template: echo hello_s_client
--- tls
client: s_client
mode: quiet
version: TLSv1.2
servername: localhost
verify: on



=== TEST 5: openssl s_client -brief: protocol and certificate
--- template: echo
--- tls
client: s_client
servername: localhost
verify: on
--- stream_request
x
--- stream_response
welcome!
x
--- tls_expect
handshake: ok
protocol: TLSv1.3
peer_cn: localhost



=== TEST 6: securepair_echo without a greeting only echoes
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_echo;
--- stream_request
just this
--- stream_response
just this



=== TEST 7: RSA and ECDSA on one server: a TLS 1.2 client with ECDSA ciphers only gets the EC certificate
--- template: dual
--- tls
version: TLSv1.2
ciphers: ECDHE-ECDSA-AES128-GCM-SHA256
--- stream_request
ec
--- stream_response
welcome!
ec
--- tls_expect
peer_key: EC
cipher: ECDHE-ECDSA-AES128-GCM-SHA256
--- log_format: $securepair_cipher
--- access_log
ECDHE-ECDSA-AES128-GCM-SHA256



=== TEST 8: RSA and ECDSA on one server: a TLS 1.2 client with RSA ciphers only gets the RSA certificate
--- template: dual
--- tls
version: TLSv1.2
ciphers: ECDHE-RSA-AES128-GCM-SHA256
--- stream_request
rsa
--- stream_response
welcome!
rsa
--- tls_expect
peer_key: RSA
cipher: ECDHE-RSA-AES128-GCM-SHA256



=== TEST 9: RSA and ECDSA on one server: TLS 1.3 with ECDSA signatures only gets the EC certificate
--- template: dual
--- tls
client: s_client
mode: full
version: TLSv1.3
sigalgs: ECDSA+SHA256
--- stream_request
ec13
--- stream_response
welcome!
ec13
--- tls_expect
protocol: TLSv1.3
peer_key: EC
peer_sig: ECDSA



=== TEST 10: RSA and ECDSA on one server: TLS 1.3 with RSA-PSS signatures only gets the RSA certificate
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_echo "welcome!\n";
--- tls
client: s_client
mode: full
version: TLSv1.3
sigalgs: rsa_pss_rsae_sha256
--- stream_request
rsa13
--- stream_response
welcome!
rsa13
--- tls_expect
protocol: TLSv1.3
peer_key: RSA
peer_sig: RSA-PSS



=== TEST 11: one megabyte echoed back intact
--- template: echo
--- stream_request eval
SecurePair::Test::sink_pattern(1048576)
--- stream_response eval
"welcome!\n" . SecurePair::Test::sink_pattern(1048576)
--- timeout: 20



=== TEST 12: twenty clients at once on two workers
--- template: echo
--- workers: 2
--- clients: 20
--- stream_request eval
"ping\n" x 1000
--- stream_response eval
"welcome!\n" . ("ping\n" x 1000)



=== TEST 13: the client's close_notify after its data: the echo comes back, then the server's close_notify
--- template: echo
--- tls
shutdown: on
--- stream_request
bye
--- stream_response
welcome!
bye
--- tls_expect
close_notify: 1



=== TEST 14: a TCP client that sends no TLS is closed, with a reason in error.log
--- template: echo
--- tls
client: raw
--- stream_request eval
"GET / HTTP/1.0\r\n\r\n"
--- stream_response_like: ^(|\x15\x03[\x00-\x04].*)$
--- tls_expect
eof: tcp
--- error_log
qr/\[info\].*securepair: .*client: 127\.0\.0\.1/
--- no_error_log
welcome



=== TEST 15: proxy_pass: cleartext goes to the backend and back
--- template: proxy
--- backend
banner backend here\n
--- stream_request
through the proxy
--- stream_response
backend here
through the proxy



=== TEST 16: proxy_pass: 1 MB up and 3 MB down at the same time, intact
--- template: proxy
--- backend
sink_source 3000000
--- stream_request eval
"u" x 1000000
--- stream_response eval
SecurePair::Test::sink_pattern(3000000)
--- timeout: 30
--- backend_log
received=1000000 sent=3000000



=== TEST 17: proxy_pass: ten clients at once through one backend
--- template: proxy
--- clients: 10
--- backend
sink_source 200000
--- tls
read_timeout: 10
--- stream_request eval
"u" x 100000
--- stream_response eval
SecurePair::Test::sink_pattern(200000)
--- timeout: 20



=== TEST 18: three client renegotiations (TLS 1.2) are allowed by default
--- template: echo reneg
--- tls
version: TLSv1.2
renegotiate: 3
--- tls_expect
renegotiated: 3
--- no_error_log
renegotiation limit



=== TEST 19: the fourth renegotiation is refused with handshake_failure and logged
--- template: echo reneg
--- tls
version: TLSv1.2
renegotiate: 4
--- tls_expect
renegotiated: 3
alert: handshake failure
--- error_log
qr/\[info\].*securepair: renegotiation limit exceeded/



=== TEST 20: securepair_reneg_limit 0 refuses every renegotiation
--- template: reneg
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_reneg_limit 0;
securepair_echo "welcome!\n";
--- tls
version: TLSv1.2
renegotiate: 1
--- tls_expect
renegotiated: 0
alert: no renegotiation
