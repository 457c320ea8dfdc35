#!/usr/bin/perl
#
# t/variables.t: every $securepair_* variable, seen through log_format and
# the access log, against what real clients did.  Values that do not
# exist log as "-".

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time);

my $server = "%%INCLUDE(echo)%%\n";


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

# ---- a refused handshake logs what it knew ---------------------------------

# One log line per session, in the order the sessions end: each client
# runs alone and its line is awaited before the next one starts.
sub next_log_line {
    my ($t, $n) = @_;
    return (access_lines($t, $n))[$n - 1] // '';
}

# The record(s) of a ClientHello for `servername`, from python3's ssl.
sub client_hello {
    my ($servername) = @_;
    my ($st, $out, $err) = run_cmd(['python3', '-c', <<'PY', $servername]);
import ssl, sys
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
s = c.wrap_bio(i, o, server_hostname=sys.argv[1])
try:
    s.do_handshake()
except ssl.SSLWantReadError:
    pass
sys.stdout.buffer.write(o.read())
PY
    diag("python3: $err") if $st != 0;
    return $out;
}

{
    my $name = 'refused';
    my $vars = 'sni=$securepair_servername|proto=$securepair_protocol'
               . '|cipher=$securepair_cipher|authorized=$securepair_authorized'
               . '|error=$securepair_authorization_error'
               . '|subject=$securepair_peer_subject'
               . '|issuer=$securepair_peer_issuer|cn=$securepair_peer_cn'
               . '|from=$securepair_peer_valid_from'
               . '|to=$securepair_peer_valid_to'
               . '|fp=$securepair_peer_fingerprint'
               . '|alpn=$securepair_alpn_protocol'
               . '|reused=$securepair_session_reused'
               . '|id=$securepair_session_id'
               . '|renegs=$securepair_renegotiations|status=$status';
    my $t = start_nginx(name => $name, log_format => $vars,
                        stream_server_config => <<'CONF');
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_reject_unauthorized on;
securepair_alpn_protocols http/1.1;
securepair_echo "welcome!\n";
CONF
    my $n = 0;
    my $unsent = '|alpn=-|reused=-|id=-|renegs=-|status=500';

    # certificate => Node's name for OpenSSL's verdict
    my @cases = (
        [ undef,            'UNABLE_TO_GET_ISSUER_CERT' ],
        [ 'client-wrongca', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ],
        [ 'client-expired', 'CERT_HAS_EXPIRED' ],
        [ 'client-self',    'DEPTH_ZERO_SELF_SIGNED_CERT' ],
    );

    for my $version (qw(TLSv1.2 TLSv1.3)) {
        for my $c (@cases) {
            my ($base, $error) = @$c;
            my $case = ($base // 'no certificate') . ", $version";

            my $r = tls_client(port => $t->{port},
                               servername => 'a.example.com',
                               version => $version, alpn => 'http/1.1',
                               $base ? (cert => "$base.crt",
                                        key => "$base.key") : (),
                               request => "ping\n", read_timeout => 1);
            ok(($r->{response} // '') !~ /welcome|ping/,
               "$name: $case: refused");

            my $line = next_log_line($t, ++$n);
            my $peer = join '', map {
                my ($var, $field) = @$_;
                "|$var=" . ($base ? cert_field("$base.crt", $field) : '-')
            } [ subject => 'subject' ], [ issuer => 'issuer' ];

            like($line, qr/^sni=a\.example\.com\|proto=\Q$version\E
                           \|cipher=[A-Z0-9_-]+\|authorized=false
                           \|error=\Q$error\E\|/x,
                 "$name: $case: the log has the servername, protocol, "
                 . "cipher and verdict");
            like($line, qr/\Q$peer\E\|/,
                 "$name: $case: the subject and issuer of the certificate "
                 . "sent");

            my $more = $base
                ? '|cn=' . (split /CN=/, cert_field("$base.crt", 'subject'))[-1]
                  . '|from=' . cert_field("$base.crt", 'startdate')
                  . '|to=' . cert_field("$base.crt", 'enddate')
                  . '|fp=' . cert_fingerprint("$base.crt")
                : '|cn=-|from=-|to=-|fp=-';
            like($line, qr/\Q$more$unsent\E$/,
                 "$name: $case: its CN, dates and fingerprint; no "
                 . "ALPN or session; \$status 500")
                or diag($line);
        }
    }

    # reset once the server answered the ClientHello: the name it sent
    # and what the server chose, no certificate, no verdict
    my $hello = client_hello('reset.example.com');
    ok(length $hello > 100, "$name: a ClientHello from python3's ssl");

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->{port}, Proto => 'tcp')
        or die "connect: $!";
    syswrite($s, $hello);
    my $answer = '';
    while (IO::Select->new($s)->can_read(2 * $SLOW)) {
        last unless sysread($s, my $buf, 65536);
        $answer .= $buf;
        last if length $answer > 1000;
    }
    ok(length $answer > 0, "$name: reset: the server answered");
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $s;

    is(next_log_line($t, ++$n),
       'sni=reset.example.com|proto=TLSv1.3|cipher=TLS_AES_256_GCM_SHA384'
       . '|authorized=false|error=-|subject=-|issuer=-|cn=-|from=-|to=-|fp=-'
       . $unsent,
       "$name: reset mid-handshake: the servername and protocol, "
       . "nothing else");

    # garbage: nothing was said
    my $r = raw_client(port => $t->{port}, request => "GET / HTTP/1.0\r\n\r\n",
                       read_timeout => 1);
    is(next_log_line($t, ++$n),
       'sni=-|proto=-|cipher=-|authorized=false|error=-|subject=-|issuer=-'
       . '|cn=-|from=-|to=-|fp=-' . $unsent,
       "$name: garbage: only authorized=false and \$status 500");

    like(error_log_text($t),
         qr/\[info\].*securepair: peer certificate not authorized: CERT_HAS_EXPIRED .*servername "a\.example\.com"/,
         "$name: error.log says why, as before");

    done_nginx($t, $name);
}


# ---- the policy applied is the one of the context the SNI chose ----------

{
    my $name = 'contexts';
    my $t = start_nginx(name => $name,
        log_format => 'sni=$securepair_servername'
                      . '|authorized=$securepair_authorized'
                      . '|error=$securepair_authorization_error'
                      . '|cn=$securepair_peer_cn|status=$status',
        stream_server_config => <<'CONF');
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_context api.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key
                   ca=%%CERTS%%/ca.crt request_cert=on reject_unauthorized=on;
securepair_echo "welcome!\n";
CONF
    my @cases = (
        # servername, certificate, log line
        [ 'api.example.com', 'client-wrongca',
          'sni=api.example.com|authorized=false'
          . '|error=UNABLE_TO_VERIFY_LEAF_SIGNATURE|cn=wrong CA client'
          . '|status=500' ],
        [ 'api.example.com', 'client',
          'sni=api.example.com|authorized=true|error=-|cn=client'
          . '|status=200' ],
        # the default asks for no certificate: none is judged or shown
        [ 'www.example.com', 'client-wrongca',
          'sni=www.example.com|authorized=false|error=-|cn=-|status=200' ],
    );
    my $n = 0;

    for my $c (@cases) {
        my ($sni, $base, $want) = @$c;

        tls_client(port => $t->{port}, servername => $sni,
                   cert => "$base.crt", key => "$base.key",
                   request => "x\n", expect => "welcome!\nx\n",
                   read_timeout => 1);
        is(next_log_line($t, ++$n), $want, "$name: $sni, $base");
    }

    done_nginx($t, $name);
}


# ---- the same values as nginx's own $ssl_ variables -----------------------

# One client, the same hello and certificate, to securepair (PORT) and to
# nginx's stream ssl (PORT2) in one nginx: each $securepair_ variable must
# log what its $ssl_ counterpart logs.  Also for a certificate made here
# whose names need RFC 2253's escapes (UTF-8, ',', '+', '"', '<', ';').
{
    my $name = 'as nginx';
    my @pairs = (
        # ours, nginx's
        [ peer_s_dn => 'client_s_dn' ], [ peer_i_dn => 'client_i_dn' ],
        [ peer_serial => 'client_serial' ],
        [ peer_v_remain => 'client_v_remain' ],
        [ peer_valid_from => 'client_v_start' ],
        [ peer_valid_to => 'client_v_end' ],
        [ peer_cert => 'client_raw_cert' ],
        [ peer_escaped_cert => 'client_escaped_cert' ],
        [ client_ciphers => 'ciphers' ], [ client_curves => 'curves' ],
        [ servername => 'server_name' ], [ protocol => 'protocol' ],
        [ cipher => 'cipher' ],
    );
    my $format = join '|', map {
        my ($ours, $theirs) = @$_;
        "$ours=\$securepair_$ours\$ssl_$theirs"
    } @pairs;
    $format .= '|fp=$securepair_peer_fingerprint|fp_ssl=$ssl_client_fingerprint'
               . '|fp256=$securepair_peer_fingerprint256'
               . '|san=$securepair_peer_subjectaltname';

    my $t = start_nginx(name => $name, log_format => $format,
                        stream_server_config => <<'CONF',
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
CONF
                        stream_config => <<'CONF');
server {
    listen 127.0.0.1:%%PORT2%% ssl;
    ssl_certificate %%CERTS%%/server-rsa.crt;
    ssl_certificate_key %%CERTS%%/server-rsa.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_client_certificate %%CERTS%%/ca.crt;
    ssl_verify_client optional_no_ca;
    return "welcome!\n";
}
CONF

    # a certificate with every kind of name RFC 2253 escapes
    my $odd = "$t->{dir}/odd";
    my ($st, undef, $err) = run_cmd(['openssl', 'req', '-x509', '-utf8',
        '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', "$odd.key", '-out', "$odd.crt", '-days', '30',
        '-subj', "/C=UK/O=Acme, Inc./OU=R&D+OU=QA"
                 . "/CN=Zo\x{c3}\x{ab} \"q\" <a>;b\\+c#d=e",
        '-addext', 'subjectAltName=DNS:odd.example.com,IP:192.0.2.1']);
    is($st, 0, "$name: a certificate with names to escape") or diag($err);

    my $n = 0;
    for my $c ([ 'client', 'TLSv1.3' ], [ 'client', 'TLSv1.2' ],
               [ $odd, 'TLSv1.3' ])
    {
        my ($base, $version) = @$c;
        my $case = ($base eq $odd ? 'odd names' : $base) . ", $version";
        my @line;

        for my $port ($t->{port}, $t->{port2}) {
            tls_client(port => $port, servername => 'a.example.com',
                       version => $version, cert => "$base.crt",
                       key => "$base.key", request => "x\n",
                       expect_like => qr/welcome!\n/, read_timeout => 1);
            push @line, next_log_line($t, ++$n);
        }

        my ($ours, $theirs) = map {
            +{ map { /^(\w+)=(.*)$/s ? ($1, $2) : () } split /\|/, $_ }
        } @line;

        # each field is "$securepair_x$ssl_y": ours, then "-" for the
        # $ssl_ one on our port; "-", then nginx's, on nginx's port
        for my $p (@pairs) {
            my ($var, $ssl) = @$p;
            my $a = $ours->{$var} // '';
            my $b = $theirs->{$var} // '';
            ok(length $a > 2 && $a =~ s/-\z// && $b =~ s/\A-// && $a eq $b,
               "$case: \$securepair_$var is nginx's \$ssl_$ssl")
                or diag("ours: $ours->{$var}\nnginx's: $theirs->{$var}");
        }

        is(lc($ours->{fp} =~ s/://gr), $theirs->{fp_ssl},
           "$case: \$securepair_peer_fingerprint is nginx's "
           . "\$ssl_client_fingerprint, with colons, upper-case");
        my $crt = $base eq $odd ? "$base.crt" : cert_path("$base.crt");
        my ($fp256) = (run_cmd(['openssl', 'x509', '-noout', '-fingerprint',
                                '-sha256', '-in', $crt]))[1] =~ /=(\S+)/;
        is($ours->{fp256}, $fp256, "$case: \$securepair_peer_fingerprint256 "
                                   . "as openssl says");
        is($ours->{san}, $base eq $odd
                         ? 'DNS:odd.example.com, IP Address:192.0.2.1'
                         : 'email:client@example.com',
           "$case: \$securepair_peer_subjectaltname");
    }

    done_nginx($t, $name);
}


# The server most blocks share: client certificates asked for, checked
# against ca.crt, not required; and a served client's exchange.
block_template(
    verify => { stream_server_config => <<'EOF' },
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_echo "welcome!\n";
EOF
    echo => { stream_server_config => "%%INCLUDE(echo)%%\n" },
    served => { stream_request => "x\n", stream_response => "welcome!\nx\n" },
);

run_tests();

__DATA__

=== TEST 1: a client with a good certificate, TLS 1.3: every variable
--- template: verify
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
%%INCLUDE(tls_rsa)%%
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
%%INCLUDE(tls_rsa)%%
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
--- template: verify
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
--- template: echo served
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|cn=$securepair_peer_cn|
--- tls
cert: client.crt
key: client.key
--- access_log
|authorized=false|error=-|cn=-|



=== TEST 6: a self-signed client certificate: DEPTH_ZERO_SELF_SIGNED_CERT, its subject
--- template: verify served
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|subject=$securepair_peer_subject|issuer=$securepair_peer_issuer
|cn=$securepair_peer_cn|fp=$securepair_peer_fingerprint|
--- tls
cert: client-self.crt
key: client-self.key
--- access_log
|authorized=false|error=DEPTH_ZERO_SELF_SIGNED_CERT|
|subject=/CN=self-signed client|issuer=/CN=self-signed client|
|cn=self-signed client|
|fp=%%CERT_FINGERPRINT(client-self.crt)%%|



=== TEST 7: an expired client certificate: CERT_HAS_EXPIRED, its dates in Node's format
--- template: verify served
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|cn=$securepair_peer_cn|from=$securepair_peer_valid_from
|to=$securepair_peer_valid_to|
--- tls
cert: client-expired.crt
key: client-expired.key
--- access_log
|authorized=false|error=CERT_HAS_EXPIRED|cn=expired client|
|from=Jan  1 00:00:00 2020 GMT|to=Jan  2 00:00:00 2020 GMT|



=== TEST 8: a client certificate from another CA: UNABLE_TO_VERIFY_LEAF_SIGNATURE
--- template: verify served
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|issuer=$securepair_peer_issuer|cn=$securepair_peer_cn|
--- tls
cert: client-wrongca.crt
key: client-wrongca.key
--- access_log
|authorized=false|error=UNABLE_TO_VERIFY_LEAF_SIGNATURE|
|issuer=/C=UK/O=securepair/CN=securepair other CA|cn=wrong CA client|



=== TEST 9: a client chain ending in an untrusted root: SELF_SIGNED_CERT_IN_CHAIN
--- template: verify served
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|cn=$securepair_peer_cn|
--- tls
cert: client-chain.crt
key: client-chain.key
--- access_log
|authorized=false|error=SELF_SIGNED_CERT_IN_CHAIN|cn=chain client|



=== TEST 10: a handshake that fails logs what it knew, "-" for what it never reached
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_alpn_protocols h2;
securepair_echo "welcome!\n";
--- log_format
|authorized=$securepair_authorized|error=$securepair_authorization_error
|sni=$securepair_servername|npn=$securepair_npn_protocol
|alpn=$securepair_alpn_protocol|proto=$securepair_protocol
|cipher=$securepair_cipher|reused=$securepair_session_reused
|cn=$securepair_peer_cn|renegs=$securepair_renegotiations
|conns=$securepair_connections|status=$status|
--- tls
servername: localhost
alpn: spdy/1
--- stream_request
--- tls_expect
handshake: fail
alert: no application protocol
--- access_log
|authorized=false|error=-|sni=localhost|npn=-|alpn=-|proto=TLSv1.3|
|reused=-|cn=-|renegs=-|conns=1|status=500|
qr/\|cipher=TLS_[A-Z0-9_]+\|/



=== TEST 11: variables in a server without securepair: "-", and $securepair_connections too
--- stream_config
server {
    listen 127.0.0.1:%%PORT2%%;
    return "plain $securepair_authorized $securepair_protocol $securepair_connections\n";
}
--- stream_server_config
%%INCLUDE(tls_rsa)%%
proxy_pass 127.0.0.1:%%PORT2%%;
--- stream_request
--- stream_response
plain   
--- log_format: |port=$server_port|authorized=$securepair_authorized|proto=$securepair_protocol|conns=$securepair_connections|
--- access_log
|port=%%PORT%%|authorized=false|proto=TLSv1.3|conns=1|
|port=%%PORT2%%|authorized=-|proto=-|conns=-|
