#!/usr/bin/perl
#
# t/proxy_protocol.t: securepair_proxy_protocol on, read by real parsers.
# nginx 1.26.3 (built by the Makefile: its $proxy_protocol_tlv_* read v2
# TLVs) behind proxy_pass answers with what it read of the header; HAProxy
# (`expect-proxy layer4`) logs the addresses and fc_pp_authority and
# forwards the bytes behind the header to an echo backend.  A parser that
# is missing fails the test: the Makefile and auto/deps provide both.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;
use SecurePair::Env qw(*PP_NGINX tmp_root);
use SecurePair::Util qw(wait_port);
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

my $top = tempdir('proxy-protocol-XXXXXX', DIR => tmp_root(), CLEANUP => 1);


# ---- the parsers ---------------------------------------------------------

# nginx 1.26.3 with `listen ... proxy_protocol`, answering each connection
# with what it read of the header.
sub start_pp_nginx {
    my $port = free_port();
    my $dir = tempdir('pp-nginx-XXXXXX', DIR => $top);
    my $vars = join ' ', map { "$_=\$proxy_protocol_$_" }
        qw(addr port server_addr server_port tlv_alpn tlv_authority
           tlv_ssl_version tlv_ssl_cn tlv_ssl_cipher tlv_ssl_verify
           tlv_ssl_sig_alg tlv_ssl_key_alg);

    spew("$dir/nginx.conf", <<"CONF");
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { }
stream {
    server {
        listen 127.0.0.1:$port proxy_protocol;
        return "$vars\\n";
    }
}
CONF
    my $pid = spawn("$dir/out", $PP_NGINX, '-p', "$dir/", '-c',
                    "$dir/nginx.conf", '-e', "$dir/error.log");
    die "nginx 1.26.3 did not start: " . (slurp("$dir/out") // '')
        unless wait_port($port, 10 * $SLOW);

    return { pid => $pid, port => $port, dir => $dir };
}

# HAProxy in front of an echo backend, one log line a connection.
sub start_haproxy {
    my ($echo) = @_;
    my $port = free_port();
    my $dir = tempdir('haproxy-XXXXXX', DIR => $top);

    spew("$dir/haproxy.cfg", <<"CONF");
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:$port
    tcp-request connection expect-proxy layer4
    log-format "src=%[src] sport=%[src_port] dst=%[dst] dport=%[dst_port] authority=%[fc_pp_authority]"
    default_backend be
backend be
    server echo 127.0.0.1:$echo
CONF
    my $pid = spawn("$dir/log", 'haproxy', '-db', '-f', "$dir/haproxy.cfg");
    die "haproxy did not start: " . (slurp("$dir/log") // '')
        unless wait_port($port, 10 * $SLOW);

    return { pid => $pid, port => $port, dir => $dir };
}

sub stop_parser {
    my ($p) = @_;
    kill 'TERM', $p->{pid};
    waitpid($p->{pid}, 0);
}

# A file's text once it matches, or what it has at the deadline.
sub wait_text {
    my ($file, $re) = @_;
    my $deadline = time + 5 * $SLOW;
    sleep 0.05 while (slurp($file) // '') !~ $re && time < $deadline;
    return slurp($file) // '';
}

ok(-x $PP_NGINX, "nginx 1.26.3 is built ($PP_NGINX: make test-t builds it)")
    or BAIL_OUT("no nginx 1.26.3 to read the headers");
my ($hv) = run_cmd(['haproxy', '-v']);
is($hv, 0, 'haproxy is installed (sh auto/deps test)')
    or BAIL_OUT("no haproxy to read the headers");

my $server = <<'CONF';
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_alpn_protocols h2 http/1.1;
securepair_proxy_protocol on;
CONF


# ---- nginx 1.26.3 reads every TLV ----------------------------------------

{
    my $pp = start_pp_nginx();
    my $name = 'nginx 1.26.3';
    (my $v6 = $server) =~ s/^/    /mg;
    my $t = start_nginx(name => $name,
        log_format => '$remote_port $server_port',
        stream_server_config => $server
                                . "proxy_pass 127.0.0.1:$pp->{port};\n",
        stream_config => join '', map {
            "server {\n    listen $_;\n$v6"
            . "    proxy_pass 127.0.0.1:$pp->{port};\n}\n"
        } '[::1]:%%PORT2%%', 'unix:%%TESTDIR%%/sp.sock');
    ok(!$t->{start_error}, "$name: the front starts")
        or diag($t->{start_error});

    my $tls13 = 'tlv_ssl_cipher=TLS_AES_256_GCM_SHA384';
    my $ours = 'tlv_ssl_sig_alg=RSA-SHA256 tlv_ssl_key_alg=RSA2048';
    my @cases = (
        # what, client options, what the backend read
        [ 'TLS 1.3, a verified certificate, SNI, ALPN',
          { servername => 'a.example.com', alpn => 'http/1.1',
            version => 'TLSv1.3', cert => 'client.crt',
            key => 'client.key' },
          'tlv_alpn=http/1.1 tlv_authority=a.example.com '
          . "tlv_ssl_version=TLSv1.3 tlv_ssl_cn=client $tls13 "
          . "tlv_ssl_verify=0 $ours" ],
        [ 'TLS 1.2, no certificate, no SNI, no ALPN',
          { version => 'TLSv1.2', ciphers => 'ECDHE-RSA-AES128-GCM-SHA256' },
          'tlv_alpn= tlv_authority= tlv_ssl_version=TLSv1.2 tlv_ssl_cn= '
          . 'tlv_ssl_cipher=ECDHE-RSA-AES128-GCM-SHA256 tlv_ssl_verify=2 '
          . $ours ],
        [ 'a self-signed certificate (not rejected)',
          { servername => 'b.example.com', cert => 'client-self.crt',
            key => 'client-self.key' },
          'tlv_alpn= tlv_authority=b.example.com tlv_ssl_version=TLSv1.3 '
          . "tlv_ssl_cn=self-signed client $tls13 tlv_ssl_verify=18 "
          . $ours ],
    );

    my $n = 0;
    for my $c (@cases) {
        my ($what, $opts, $want) = @$c;
        my $r = tls_client(port => $t->{port}, %$opts, request => "x\n",
                           expect_like => qr/\n/, read_timeout => 2);
        my $got = $r->{response} // '';
        like($got, qr/^addr=127\.0\.0\.1\ port=\d+\ server_addr=127\.0\.0\.1
                       \ server_port=$t->{port}\ /x,
             "$name: $what: the client's and our address and port");
        like($got, qr/ \Q$want\E\n$/, "$name: $what: the TLVs")
            or diag($got);

        # the client's port as the backend read it is the front's
        $n++;
        my $log = wait_text("$t->{dir}/access.log", qr/(?:.*\n){$n}/);
        my ($seen) = $got =~ / port=(\d+) /;
        is(($seen // '-') . " $t->{port}", (split /\n/, $log)[$n - 1] // '',
           "$name: $what: the client's port is the one the front saw");
    }

    # (IO::Socket::INET has no IPv6: openssl s_client does)
    my $r = s_client(host => '[::1]', port => $t->{port2}, mode => 'quiet',
                     servername => 'v6.example.com', request => "x\n",
                     expect_like => qr/\n/, read_timeout => 2);
    like($r->{response} // '',
         qr/^addr=::1\ port=\d+\ server_addr=::1\ server_port=$t->{port2}
            \ tlv_alpn=\ tlv_authority=v6\.example\.com\ /x,
         "$name: IPv6: the addresses as nginx reads them");

    # an AF_UNIX front: PROXY with the UNIX family, which nginx skips
    # whole (it reads IP addresses only): the connection goes on
    my ($st, $out, $err) = run_cmd(['python3', '-c', <<'PY',
import socket, ssl, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
t = c.wrap_socket(s, server_hostname='u.example.com')
got = b''
while not got.endswith(b'\n'):
    more = t.recv(1000)
    if not more:
        break
    got += more
sys.stdout.write(got.decode())
PY
                                    "$t->{dir}/sp.sock"], timeout => 10);
    like($out, qr/^addr= port= server_addr= server_port= tlv_alpn= /,
         "$name: AF_UNIX: the header is taken, its addresses and TLVs "
         . "not read") or diag($err);

    stop_parser($pp);
    # (but for the empty header of the probe that saw it listening)
    my $pplog = join '', grep { !/broken header: "" / }
                         split /^/, slurp("$pp->{dir}/error.log") // '';
    unlike($pplog, qr/\[(error|crit|alert)\]|broken|invalid/,
           "$name: nothing broken or invalid in the backend's log")
        or diag($pplog);
    done_nginx($t, $name);
}


# ---- HAProxy takes the header and forwards what follows it ----------------

{
    my $name = 'haproxy';
    my $echo = start_backend('echo', '/dev/null', 1);
    my $hp = start_haproxy($echo->{port});
    my $t = start_nginx(name => $name, log_format => '$remote_port',
        stream_server_config => $server
                                . "proxy_pass 127.0.0.1:$hp->{port};\n");

    my $payload = join '', map { "line $_\n" } 1 .. 2000;
    my $r = tls_client(port => $t->{port}, servername => 'c.example.com',
                       alpn => 'h2', request => $payload,
                       expect => $payload, read_timeout => 3);
    ok(($r->{response} // '') eq $payload,
       "$name: the bytes behind the header reach the echo backend and "
       . "come back unchanged");

    my $log = wait_text("$hp->{dir}/log", qr/authority=/);
    my $port = wait_text("$t->{dir}/access.log", qr/\d\n/);
    chomp $port;
    like($log, qr/^src=127\.0\.0\.1\ sport=\Q$port\E\ dst=127\.0\.0\.1
                  \ dport=$t->{port}\ authority=c\.example\.com$/mx,
         "$name: it logs the client's address and port, ours, and the "
         . "SNI as fc_pp_authority");

    stop_parser($hp);
    stop_backend($echo);
    done_nginx($t, $name);
}

done_testing();
