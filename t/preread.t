#!/usr/bin/perl
#
# t/preread.t: the preread phase after securepair reads cleartext, on
# every nginx (since 1.25.5 nginx's own preread peeks at the socket, which
# would be ciphertext): ssl_preread finds the server name of a ClientHello
# sent inside the tunnel, as a router of TLS-in-TLS does.  A message that
# leaves with the client's Finished, in the same packet, is read at once
# rather than after preread_timeout.  And $bytes_received counts what
# securepair_echo read (as with proxy_pass, not what a preread handler
# read before it).

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;

use IO::Select;
use IO::Socket::INET;
use IO::Socket::SSL;
use Socket qw(IPPROTO_TCP);
use Time::HiRes qw(time);

# Linux's TCP_CORK: what is written waits until the cork comes off
my $TCP_CORK = 3;

# A ClientHello record naming `name`, as ssl_preread reads one: TLS 1.2
# framing, one cipher suite, the server_name extension only.
sub client_hello {
    my ($name) = @_;

    my $list = pack('C n', 0, length $name) . $name;
    my $ext = pack('n n n', 0, length($list) + 2, length $list) . $list;
    my $body = pack('n', 0x0303) . ("\x11" x 32) . pack('C', 0)
               . pack('n n', 2, 0x1301) . pack('C C', 1, 0)
               . pack('n', length $ext) . $ext;
    my $hs = pack('C', 1) . substr(pack('N', length $body), 1) . $body;

    return pack('C n n', 0x16, 0x0301, length $hs) . $hs;
}

my $inner = client_hello('inner.test');

my $server = <<'EOF';
%%INCLUDE(tls_rsa)%%
ssl_preread on;
preread_timeout 30s;
securepair_echo "welcome!\n";
EOF

my $t = start_nginx(name => 'preread', stream_server_config => $server,
                    log_format => 'sni=$ssl_preread_server_name');

nginx_started($t, 'preread');

# an inner ClientHello after the handshake: ssl_preread reads it in clear
my $r = tls_client(port => $t->{port}, servername => 'outer.test',
                   request => $inner, expect => "welcome!\n$inner");
is($r->{response}, "welcome!\n$inner",
   'preread: the inner ClientHello is echoed after the greeting');

# a plain message: ssl_preread declines, the echo has it all
$r = tls_client(port => $t->{port}, request => "hello\n",
                expect => "welcome!\nhello\n");
is($r->{response}, "welcome!\nhello\n", 'preread: a plain message is echoed');

# the message leaves with the client's Finished (TLS 1.3: nothing comes
# back from the server in between), corked into one packet
{
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$t->{port}",
                                     Timeout => 5);
    setsockopt($sock, IPPROTO_TCP, $TCP_CORK, 1);

    my $ok = IO::Socket::SSL->start_SSL($sock, SSL_verify_mode => 0,
                                        SSL_version => 'TLSv1_3',
                                        SSL_hostname => 'corked.test',
                                        Timeout => 5);
    ok($ok, 'preread with Finished: handshake')
        or diag("handshake: $SSL_ERROR");

    my $got = '';

    if ($ok) {
        syswrite($sock, "hello\n");
        setsockopt($sock, IPPROTO_TCP, $TCP_CORK, 0);

        # preread_timeout is 30 s: an answer before 10 s was not waited for
        my $sel = IO::Select->new($sock);
        my $deadline = time + 10;

        while (length($got) < 15 && time < $deadline) {
            if ($sock->pending || $sel->can_read($deadline - time)) {
                my $n = sysread($sock, my $buf, 4096);
                last unless $n;
                $got .= $buf;
            }
        }
    }

    is($got, "welcome!\nhello\n",
       'preread with Finished: the message is read at once');
    close($sock);
}

stop_nginx($t);

like(access_log_text($t), qr/^sni=inner\.test$/m,
     'preread: ssl_preread saw the inner server name, cleartext');

check_nginx_clean($t, 'preread');
remove_env($t) if Test::More->builder->is_passing;


# ---- $bytes_received of securepair_echo, no preread ------------------------

$t = start_nginx(name => 'echo bytes', stream_server_config => <<'EOF',
%%INCLUDE(echo)%%
EOF
                 log_format => 'rcvd=$bytes_received sent=$bytes_sent');

nginx_started($t, 'echo bytes');

$r = tls_client(port => $t->{port}, request => "0123456789\n",
                expect => "welcome!\n0123456789\n");
is($r->{response}, "welcome!\n0123456789\n", 'echo bytes: echoed');

stop_nginx($t);

like(access_log_text($t), qr/^rcvd=11 sent=\d+$/m,
     'echo bytes: $bytes_received is what the client sent');

check_nginx_clean($t, 'echo bytes');
remove_env($t) if Test::More->builder->is_passing;

done_testing();
