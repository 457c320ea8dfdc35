package SecurePair::Backend;

# SecurePair::Backend: the upstream servers of proxy_pass tests, each a
# TCP server on a loopback port, one process per connection:
#   echo              sends back what it gets
#   sink_source N     sends N bytes of sink_pattern(N) while reading and
#                     counting everything until the client's end
#   banner TEXT       sends TEXT (\n, \r, \t understood), then echoes
#   reply TEXT        reads until the client's end, then sends TEXT
# Each connection logs "backendN SPEC: received=R sent=S" to the log file.

use strict;
use warnings;

use Errno qw(EAGAIN EINTR);
use Exporter qw(import);
use IO::Select;
use POSIX ();
use Time::HiRes qw(time sleep);

use SecurePair::Util qw(listener sink_pattern);

our @EXPORT_OK = qw(start_backend stop_backend);

# a sink_source backend's bytes, made once for every connection
my $source_out;

# start_backend(SPEC, LOGFILE, N): { pid, port, spec } of a backend
# listening (N names it in the log).
sub start_backend {
    my ($spec, $logfile, $n) = @_;
    $n ||= 1;
    $logfile ||= '/dev/null';

    my $l = listener(128);
    my $port = $l->sockport;

    $spec =~ s/^\s+|\s+$//g;
    die "unknown backend \"$spec\"\n"
        unless $spec =~ /^(echo|sink_source\s+\d+|(banner|reply)\s.*)$/;

    # made before the port is handed out, so that a big source starts
    # sending at once, however long making it took on a busy machine
    $source_out = $spec =~ /^sink_source\s+(\d+)/ ? sink_pattern($1) : undef;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = 'DEFAULT';
        my $end = time + 120;

        while (time < $end) {
            my $c = $l->accept or next;

            my $p = fork;
            if (defined $p && $p == 0) {
                close $l;
                _serve_backend($spec, $c, $logfile, $n);
                POSIX::_exit(0);
            }

            close $c;
        }

        POSIX::_exit(0);
    }

    close $l;
    undef $source_out;

    return { pid => $pid, port => $port, spec => $spec };
}

sub _serve_backend {
    my ($spec, $c, $logfile, $n) = @_;

    $c->blocking(0);
    my $sel_r = IO::Select->new($c);

    my $out = '';
    my ($received, $sent, $eof) = (0, 0, 0);
    my $source = 0;
    my $echo = 1;
    my $reply;

    if ($spec =~ /^sink_source\s+(\d+)/) {
        $out = $source_out;
        $echo = 0;
        $source = 1;
    } elsif ($spec =~ /^(banner|reply)\s(.*)/) {
        my $kind = $1;
        (my $text = $2) =~ s/\\([nrt\\])/{n => "\n", r => "\r", t => "\t",
                                          '\\' => '\\'}->{$1}/ge;

        if ($kind eq 'banner') {
            $out = $text;
        } else {
            $reply = $text;
            $echo = 0;
        }
    }

    my $end = time + 60;

    while (time < $end) {
        last if $eof && $out eq '';

        my @w = $out ne '' ? ($c) : ();
        my ($r, $w) = IO::Select->select($eof ? undef : $sel_r,
                                         @w ? IO::Select->new(@w) : undef,
                                         undef, 1);

        if ($w && @$w) {
            my $k = syswrite($c, $out, 65536);
            if (defined $k) {
                substr($out, 0, $k) = '';
                $sent += $k;
            } elsif ($! != EAGAIN && $! != EINTR) {
                last;
            }
        }

        if ($r && @$r) {
            my $k = sysread($c, my $buf, 65536);
            if (defined $k && $k > 0) {
                $received += $k;
                $out .= $buf if $echo;
            } elsif (defined $k) {
                $eof = 1;
                $out .= $reply if defined $reply;
            } elsif ($! != EAGAIN && $! != EINTR) {
                $eof = 1;
            }
        }
    }

    if (open my $fh, '>>', $logfile) {
        syswrite $fh, "backend$n $spec: received=$received sent=$sent\n";
        close $fh;
    }

    shutdown($c, 1);
    close $c;
}

# Stops the listener; connections still open get 3 s to end on their own
# (and log), then the whole group is killed.
sub stop_backend {
    my ($b) = @_;
    return unless $b && $b->{pid};

    kill 'TERM', $b->{pid};
    waitpid($b->{pid}, 0);

    my $deadline = time + 3;
    sleep 0.01 while kill(0, -$b->{pid}) && time < $deadline;
    kill 'KILL', -$b->{pid};

    delete $b->{pid};
}

1;
