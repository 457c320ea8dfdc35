#!/usr/bin/perl
#
# t/fuzz/capture.pl: bytes of real OpenSSL peers, for seed corpora.
#
#   capture.pl hello OUT PREFIX_HEX -- s_client options...
#       listens on a free port, runs `openssl s_client` against it and
#       writes PREFIX + the bytes the client sent (its ClientHello).
#   capture.pl flight OUT PREFIX_HEX HELLO -- s_server options...
#       runs `openssl s_server` on a free port, sends it the ClientHello
#       in file HELLO and writes PREFIX + what the server answered.
#
# Every wait has a deadline; the peer is killed at the end.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my ($what, $out, $prefix, @rest) = @ARGV;
die "usage: $0 hello|flight OUT PREFIX_HEX [HELLO] -- options\n"
    unless defined $prefix;

my $hello_file;
$hello_file = shift @rest if $what eq 'flight';
shift @rest if @rest && $rest[0] eq '--';


sub quiet_exec {
    my @cmd = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

sub stop {
    my ($pid) = @_;
    kill 'TERM', $pid;
    for (1 .. 20) {
        return if waitpid($pid, WNOHANG) != 0;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

# Reads until the peer is quiet for `idle` seconds (or 4 s in all).
sub slurp {
    my ($sock, $idle) = @_;
    my $sel = IO::Select->new($sock);
    my $data = '';
    my $deadline = time + 4;
    while (time < $deadline && $sel->can_read($idle)) {
        my $n = sysread $sock, my $buf, 65536;
        last unless $n;
        $data .= $buf;
        last if length $data > 200000;
    }
    return $data;
}

my $data;

if ($what eq 'hello') {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1)
        or die "listen: $!";
    my $pid = quiet_exec('openssl', 's_client', '-connect',
                         '127.0.0.1:' . $l->sockport, @rest);
    if (IO::Select->new($l)->can_read(5)) {
        my $c = $l->accept;
        $data = slurp($c, 0.3);
        close $c;
    }
    stop($pid);

} elsif ($what eq 'flight') {
    open my $fh, '<:raw', $hello_file or die "$hello_file: $!";
    my $hello = do { local $/; <$fh> };

    my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Listen => 1)
        or die "listen: $!";
    my $port = $probe->sockport;
    close $probe;

    my $pid = quiet_exec('openssl', 's_server', '-accept', "127.0.0.1:$port",
                         '-naccept', '1', '-quiet', @rest);
    my $c;
    for (1 .. 100) {
        $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
            and last;
        sleep 0.05;
    }
    if ($c) {
        syswrite $c, $hello;
        $data = slurp($c, 0.3);
        close $c;
    }
    stop($pid);

} else {
    die "$0: unknown capture '$what'\n";
}

exit 1 unless defined $data && length $data;

open my $o, '>:raw', $out or die "$out: $!";
print $o pack('H*', $prefix), $data;
close $o;
exit 0;
