#!/usr/bin/perl
#
# t/examples.t: the echo_server and echo_client examples against real TLS
# clients and servers (IO::Socket::SSL, openssl s_client, python3's ssl).
#
# Builds nothing: expects build/examples/echo_server and echo_client (make
# examples) and the certificates of t/certs.sh in $SP_CERTS (default
# build/certs).  Every wait has a deadline.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::SSL;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

use SecurePair::Env qw(*BUILD *CERTS);
use SecurePair::Util qw(free_port slurp run_cmd spawn wait_child);

chdir "$FindBin::Bin/.." or die "chdir: $!";
$| = 1;

my $server = "$BUILD/examples/echo_server";
my $client = "$BUILD/examples/echo_client";
my $tmp    = tempdir(CLEANUP => 1);

for my $f ($server, $client) {
    BAIL_OUT("$f is missing: run make examples") unless -x $f;
}
for my $f (qw(ca.crt ca2.crt server-rsa.key server-rsa.crt client.key
              client.crt))
{
    BAIL_OUT("$CERTS/$f is missing: run t/certs.sh $CERTS")
        unless -f "$CERTS/$f";
}


# ---- helpers ---------------------------------------------------------------

# A child's $? as an exit code, -SIGNAL, or undef (killed at the deadline).
sub exit_code {
    my ($st) = @_;
    return undef if !defined $st || $st < 0;
    return ($st & 127) ? -($st & 127) : $st >> 8;
}

# Waits for a child; its exit_code, killed at the deadline.
sub wait_pid {
    my ($pid, $timeout) = @_;
    my $st = wait_child($pid, $timeout);

    if (!defined $st) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }

    return exit_code($st);
}

# Runs a command: (exit code, stdout, stderr).
sub run {
    my ($timeout, @cmd) = @_;
    my ($st, $out, $err) = run_cmd(\@cmd, timeout => $timeout);
    return (exit_code($st), $out, $err);
}

# Starts echo_server; returns (pid, port, log file) once it listens.
sub start_server {
    my (@extra) = @_;
    my $port = free_port();
    my $log = "$tmp/server.$port.log";

    my $pid = spawn($log, $server, '127.0.0.1', $port,
                    "$CERTS/server-rsa.key", "$CERTS/server-rsa.crt", @extra);

    my $deadline = time + 5;

    while (time < $deadline) {
        return ($pid, $port, $log) if slurp($log) =~ /listening on/;

        if (waitpid($pid, WNOHANG) == $pid) {
            diag(slurp($log));
            BAIL_OUT("echo_server exited at start");
        }
        sleep 0.01;
    }

    kill 'KILL', $pid;
    waitpid($pid, 0);
    BAIL_OUT("echo_server did not start listening");
}

# Runs a code block with a deadline; dies "timeout" past it.
sub with_timeout {
    my ($secs, $code) = @_;
    my @r;

    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm $secs;
    @r = eval { $code->() };
    my $err = $@;
    alarm 0;
    die $err if $err;
    return wantarray ? @r : $r[0];
}

sub ssl_connect {
    my ($port, %extra) = @_;

    return IO::Socket::SSL->new(
        PeerHost            => '127.0.0.1',
        PeerPort            => $port,
        Timeout             => 5,
        SSL_ca_file         => "$CERTS/ca.crt",
        SSL_hostname        => 'localhost',
        SSL_verify_mode     => SSL_VERIFY_PEER,
        SSL_verifycn_name   => 'localhost',
        SSL_verifycn_scheme => 'http',
        %extra,
    );
}

# Reads exactly $len bytes (less at EOF) within $timeout seconds.
sub read_exact {
    my ($sock, $len, $timeout) = @_;
    my $buf = '';

    eval {
        with_timeout($timeout || 5, sub {
            while (length($buf) < $len) {
                my $n = sysread($sock, $buf, $len - length($buf),
                                length($buf));
                last unless $n;
            }
        });
    };
    diag("read: $@") if $@;
    return $buf;
}

sub write_all {
    my ($sock, $data, $timeout) = @_;

    return eval {
        with_timeout($timeout || 5, sub {
            my $off = 0;
            while ($off < length($data)) {
                my $n = syswrite($sock, $data, length($data) - $off, $off);
                die "write: $!\n" unless $n;
                $off += $n;
            }
            1;
        });
    };
}

# One IO::Socket::SSL client: welcome, then $line echoed.
sub ssl_echo {
    my ($port, $line, %extra) = @_;
    my $s = ssl_connect($port, %extra);

    unless ($s) {
        diag("connect: $SSL_ERROR");
        return ('', '');
    }

    my $welcome = read_exact($s, 9);
    write_all($s, $line);
    my $echo = read_exact($s, length $line);
    $s->close(SSL_fast_shutdown => 1);
    return ($welcome, $echo);
}


# ---- the server with a few clients ------------------------------------------

my ($pid, $port, $log) = start_server();

# (a) IO::Socket::SSL
{
    my ($welcome, $echo) = ssl_echo($port, "hello from perl\n");
    is($welcome, "welcome!\n", 'IO::Socket::SSL: welcome');
    is($echo, "hello from perl\n", 'IO::Socket::SSL: echo');
}

# (b) openssl s_client, stdin and stdout through pipes
{
    my $line = "hello from s_client\n";
    my $want = "welcome!\n$line";

    pipe(my $in_r, my $in_w) or die "pipe: $!";
    pipe(my $out_r, my $out_w) or die "pipe: $!";

    my $spid = fork;
    die "fork: $!" unless defined $spid;

    if ($spid == 0) {
        close $in_w;
        close $out_r;
        open STDIN, '<&', $in_r;
        open STDOUT, '>&', $out_w;
        open STDERR, '>', "$tmp/s_client.err";
        # -quiet implies -ign_eof; -no_ign_eof after it: our EOF on its
        # stdin ends the session with close_notify.
        exec 'openssl', 's_client', '-connect', "127.0.0.1:$port",
             '-servername', 'localhost', '-CAfile', "$CERTS/ca.crt",
             '-verify_return_error', '-quiet', '-no_ign_eof'
            or POSIX::_exit(127);
    }

    close $in_r;
    close $out_w;
    syswrite($in_w, $line);

    my $got = '';
    my $sel = IO::Select->new($out_r);
    my $deadline = time + 5;

    while (length($got) < length($want) && time < $deadline) {
        next unless $sel->can_read($deadline - time);
        last unless sysread($out_r, $got, 4096, length $got);
    }

    is($got, $want, 'openssl s_client: welcome and echo');

    close $in_w;
    is(wait_pid($spid, 5), 0, 'openssl s_client: exits 0')
        or diag(slurp("$tmp/s_client.err"));
    close $out_r;
}

# (c) echo_client
{
    my ($code, $out, $err) = run(10, $client, '127.0.0.1', $port,
                                 'localhost', "$CERTS/ca.crt",
                                 'hello from echo_client');
    is($code, 0, 'echo_client: exits 0') or diag($err);
    like($err, qr/^authorized: yes$/m, 'echo_client: authorized: yes');
    like($err, qr{^subject: .*/CN=localhost$}m, 'echo_client: subject');
    like($err, qr/^fingerprint: (?:[0-9A-F]{2}:){19}[0-9A-F]{2}$/m,
         'echo_client: fingerprint');
    is($out, "welcome!\nhello from echo_client", 'echo_client: echo');

    ($code, $out, $err) = run(10, $client, '127.0.0.1', $port,
                              'localhost', "$CERTS/ca2.crt");
    is($code, 1, 'echo_client, wrong CA: exits 1');
    like($err, qr/^authorized: no \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/m,
         'echo_client, wrong CA: authorized: no (error)');
    is($out, '', 'echo_client, wrong CA: no data');
}

# (d) python3's ssl module
{
    my $py = <<'EOF';
import socket, ssl, sys
host, port, ca, msg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
want = b"welcome!\n" + msg.encode()
ctx = ssl.create_default_context(cafile=ca)
with socket.create_connection((host, port), timeout=5) as raw:
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    got = b""
    while len(got) < 9:
        d = s.recv(4096)
        if not d:
            break
        got += d
    s.sendall(msg.encode())
    while len(got) < len(want):
        d = s.recv(4096)
        if not d:
            break
        got += d
    sys.stderr.write(s.version() + "\n")
    s.unwrap()
sys.stdout.write(got.decode())
EOF

    my ($code, $out, $err) = run(10, 'python3', '-c', $py, '127.0.0.1',
                                 $port, "$CERTS/ca.crt", 'hello from python');
    is($code, 0, 'python3 ssl: exits 0') or diag($err);
    is($out, "welcome!\nhello from python", 'python3 ssl: welcome and echo');
}

# (e) not TLS at all: closed, and the server goes on
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 5)
        or die "connect: $!";
    syswrite($s, "GET / HTTP/1.0\r\n\r\n");

    my ($closed, $buf) = (0, '');
    my $sel = IO::Select->new($s);
    my $deadline = time + 5;

    while (time < $deadline) {
        next unless $sel->can_read($deadline - time);
        my $n = sysread($s, $buf, 4096, length $buf);
        if (!$n) {
            $closed = 1;
            last;
        }
    }
    close $s;

    ok($closed, 'plain HTTP client: connection closed');

    my ($welcome, $echo) = ssl_echo($port, "still there?\n");
    is($welcome . $echo, "welcome!\nstill there?\n",
       'plain HTTP client: the next client is served');
}

# (f) 20 clients at once, 64 KiB each, byte-exact
{
    my $n = 20;
    my $size = 65536;
    my @pids;

    for my $i (1 .. $n) {
        my $cpid = fork;
        die "fork: $!" unless defined $cpid;

        if ($cpid == 0) {
            srand(1000 + $i);
            my $payload = join '', map { chr(int(rand(256))) } 1 .. $size;
            my $s = ssl_connect($port) or POSIX::_exit(2);
            my $ok = read_exact($s, 9, 10) eq "welcome!\n"
                     && write_all($s, $payload, 10)
                     && read_exact($s, $size, 10) eq $payload;
            $s->close;
            POSIX::_exit($ok ? 0 : 1);
        }

        push @pids, $cpid;
    }

    my @codes = map { wait_pid($_, 20) } @pids;
    my $good = grep { defined $_ && $_ == 0 } @codes;
    is($good, $n, "$n concurrent clients echo 64 KiB each byte-exact")
        or diag('exit codes: '
                . join(' ', map { defined $_ ? $_ : 'timeout' } @codes));
}

# SIGTERM: a clean stop
{
    kill 'TERM', $pid;
    is(wait_pid($pid, 5), 0, 'echo_server: SIGTERM, exits 0');

    my $text = slurp($log);
    my $facts = 'servername=localhost protocol=TLSv1\.\d cipher=\S+';
    like($text, qr/^127\.0\.0\.1:\d+ $facts authorized=no: clean end$/m,
         'log: servername, protocol, cipher, authorized, clean end');
    like($text, qr/^127\.0\.0\.1:\d+ no handshake: .*http request/mi,
         'log: the plain HTTP client\'s error');
    like($text, qr/^echo_server: stopped$/m, 'log: stopped');
    unlike($text, qr/^(?!127\.0\.0\.1:\d+ |echo_server: (?:listening|stopped))/m,
           'log: nothing unexpected') or diag($text);
}


# ---- with a CA: client certificates are asked for, not required -----------

{
    my ($cpid, $cport, $clog) = start_server("$CERTS/ca.crt");

    my ($welcome, $echo) = ssl_echo($cport, "with a certificate\n",
                                    SSL_cert_file => "$CERTS/client.crt",
                                    SSL_key_file  => "$CERTS/client.key");
    is($welcome . $echo, "welcome!\nwith a certificate\n",
       'CA: client with a certificate served');

    ($welcome, $echo) = ssl_echo($cport, "without one\n");
    is($welcome . $echo, "welcome!\nwithout one\n",
       'CA: client without a certificate served too');

    kill 'TERM', $cpid;
    is(wait_pid($cpid, 5), 0, 'CA: SIGTERM, exits 0');

    my $text = slurp($clog);
    like($text, qr/ authorized=yes: /, 'CA: log says authorized=yes');
    like($text, qr/ authorized=no \(UNABLE_TO_GET_ISSUER_CERT\): /,
         'CA: log says authorized=no with the error');
}

done_testing();
