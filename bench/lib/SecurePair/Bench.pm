package SecurePair::Bench;

# What every bench/ script needs around the processes it measures: start
# them, wait for their port, read what /proc says of them, wait until they
# have gone quiet, run a client to its result line, and stop them all, also
# on Ctrl-C or when the script dies.
#
#   use lib "$root/bench/lib";
#   use SecurePair::Bench qw(spawn stop wait_port settle ...);
#
#   configure(pin => 0|1, fail => \&fail)
#       pin: whether pinned() prefixes `taskset -c CPU` (1);
#       fail: called with a message when a helper cannot go on (the
#       default dies); it should not return.
#   stop_all_on_signals(\&said)
#       SIGINT and SIGTERM stop every child, call said() if given, exit 130.
#
# Every process started here is stopped by stop_all(), which also runs at
# the end of the script.  Every wait is bounded.

use strict;
use warnings;

use Exporter qw(import);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(configure stop_all_on_signals pinned spawn spawn_reader
    reaped stop stop_all port_open port_free wait_port slurp spit kv
    cpu_of settle rss_kb worker_of run_loadgen run_loadgen_ok
    syscalls_start syscalls_stop);

my $pin = 1;
my $fail = sub { die "@_\n" };
my %children;       # pid => 1 for every process started and not yet reaped
my $owner = $$;     # a forked child never stops its parent's processes

sub configure {
    my (%o) = @_;
    $pin = $o{pin} if exists $o{pin};
    $fail = $o{fail} if $o{fail};
}

sub _fail { $fail->(@_); die "@_\n" }

sub stop_all_on_signals {
    my ($said) = @_;
    $SIG{INT} = $SIG{TERM} = sub {
        $said->() if $said;
        stop_all();
        exit 130;
    };
}

END { stop_all() if $$ == $owner }

# ---- processes --------------------------------------------------------------

# The command with `taskset -c CPU` in front, unless pinning is off.
sub pinned {
    my ($cpu, @cmd) = @_;
    return @cmd unless $pin;
    return ('taskset', '-c', $cpu, @cmd);
}

# Starts a command with stdin from /dev/null, stdout and stderr to $log;
# returns its pid.
sub spawn {
    my ($log, @cmd) = @_;
    my $pid = fork // _fail("fork: $!");
    if ($pid == 0) {
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log or _child_dies("$log: $!");
        open STDERR, '>&', \*STDOUT;
        exec @cmd or _child_dies("exec $cmd[0]: $!");
    }
    $children{$pid} = 1;
    return $pid;
}

# The child of a fork whose exec failed: say so and leave at once, without
# running the parent's END blocks.
sub _child_dies {
    print STDERR "@_\n";
    POSIX::_exit(127);
}

# Starts a command whose stdout is read through a pipe (stderr is ours);
# returns (pid, handle).  After `close` on the handle, reaped(pid).
sub spawn_reader {
    my (@cmd) = @_;
    my $pid = open(my $fh, '-|', @cmd) or _fail("$cmd[0]: $!");
    $children{$pid} = 1;
    return ($pid, $fh);
}

# A child collected elsewhere (close on a pipe, a waitpid) is ours no more.
sub reaped { delete $children{$_[0]} }

# Signals a child (TERM) and waits for it, at most $secs (20), then KILL.
sub stop {
    my ($pid, $sig, $secs) = @_;
    return unless $pid && $children{$pid};
    kill $sig // 'TERM', $pid;
    my $until = time + ($secs // 20);
    while (time < $until) {
        if (waitpid($pid, WNOHANG) != 0) {
            delete $children{$pid};
            return;
        }
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    delete $children{$pid};
}

# Every child: TERM, 10 s for all of them to end, then KILL.
sub stop_all {
    return unless %children;
    kill 'TERM', $_ for keys %children;
    my $until = time + 10;
    while (%children && time < $until) {
        for my $pid (keys %children) {
            delete $children{$pid} if waitpid($pid, WNOHANG) != 0;
        }
        sleep 0.05 if %children;
    }
    for my $pid (keys %children) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        delete $children{$pid};
    }
}

# ---- ports ------------------------------------------------------------------

# Whether something listens on the port of $host (127.0.0.1).
sub port_open {
    my ($port, $host) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host // '127.0.0.1',
                                  PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub port_free {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $port, Proto => 'tcp',
                                  Listen => 1, ReuseAddr => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# 1 once something listens on the port (of $host, 127.0.0.1), 0 after
# $secs or as soon as $pid (if given: the process that should listen) has
# ended.
sub wait_port {
    my ($port, $secs, $pid, $host) = @_;
    my $until = time + $secs;
    while (time < $until) {
        return 1 if port_open($port, $host);
        if ($pid && waitpid($pid, WNOHANG) != 0) {
            delete $children{$pid};
            return 0;
        }
        sleep 0.05;
    }
    return 0;
}

# ---- files ------------------------------------------------------------------

# The whole file, '' when it cannot be read.
sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s // '';
}

sub spit {
    my ($f, $s) = @_;
    open my $fh, '>', $f or _fail("$f: $!");
    print $fh $s;
    close $fh or _fail("$f: $!");
}

# "a=1 b=x ..." as a hash reference.
sub kv {
    my ($line) = @_;
    my %h;
    $h{$1} = $2 while $line =~ /(\S+?)=(\S*)/g;
    return \%h;
}

# ---- /proc ------------------------------------------------------------------

# CPU of a process: [ clock ticks of utime + stime, ns from schedstat,
# minor page faults, clock ticks of utime ].
sub cpu_of {
    my ($pid) = @_;
    my $s = slurp("/proc/$pid/stat");
    $s =~ s/^.*\)\s+//s or _fail("process $pid is gone");
    my @f = split ' ', $s;
    my ($ns) = split ' ', slurp("/proc/$pid/schedstat");
    return [ $f[11] + $f[12], $ns // 0, $f[7], $f[11] ];
}

# Waits until a process has gone quiet (closing what the clients left):
# less than quiet_ns of CPU (2 ms) in a step (0.1 s), at most secs (3);
# returns its cpu_of() then.
sub settle {
    my ($pid, %o) = @_;
    my $step = $o{step} // 0.1;
    my $quiet = $o{quiet_ns} // 2_000_000;
    my $prev = cpu_of($pid);
    my $until = time + ($o{secs} // 3);
    while (time < $until) {
        sleep $step;
        my $c = cpu_of($pid);
        return $c if $c->[1] - $prev->[1] < $quiet;
        $prev = $c;
    }
    return $prev;
}

sub rss_kb {
    my ($pid) = @_;
    my ($kb) = slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+)/m;
    _fail("no RSS for $pid") unless defined $kb;
    return $kb;
}

# The one worker of an nginx master, waited for at most $secs (20).
sub worker_of {
    my ($master, $secs) = @_;
    my $until = time + ($secs // 20);
    while (time < $until) {
        my @w;
        for my $d (glob '/proc/[0-9]*') {
            my $s = slurp("$d/stat");
            next unless $s =~ /\)\s+\S+\s+(\d+)/;
            push @w, ($d =~ m{(\d+)$})[0] if $1 == $master;
        }
        return $w[0] if @w == 1;
        sleep 0.05;
    }
    _fail("no single worker under nginx master $master");
}

# ---- system calls -----------------------------------------------------------

# Counts a process's system calls from now on, in the kernel (perf stat on
# the raw_syscalls:sys_enter tracepoint: a counter, no trace, so the
# process runs as it would, some 0.1 us more a call); a handle for
# syscalls_stop, undef when perf cannot (not installed, not allowed).
my $perf_ok;

sub syscalls_start {
    my ($pid, $file) = @_;
    $perf_ok //= system('perf stat -e raw_syscalls:sys_enter true '
                        . '>/dev/null 2>&1') == 0 ? 1 : 0;
    return undef unless $perf_ok;
    unlink $file;
    my $pp = spawn('/dev/null', 'perf', 'stat', '-x,', '-o', $file, '-p', $pid,
                   '-e', 'raw_syscalls:sys_enter');
    # attached once perf has written its file's first line
    my $until = time + 5;
    sleep 0.05 while !-s $file && time < $until;
    sleep 0.1;
    return { pid => $pp, file => $file };
}

# The count since syscalls_start, undef when there is none.
sub syscalls_stop {
    my ($h) = @_;
    return undef unless $h;
    stop($h->{pid}, 'INT');
    for (split /\n/, slurp($h->{file})) {
        my @f = split /,/;
        return $f[0] if @f > 2 && $f[0] =~ /^\d+$/
                        && $f[2] eq 'raw_syscalls:sys_enter';
    }
    return undef;
}

# ---- clients ----------------------------------------------------------------

# Runs bench/loadgen (a command line, pinned or not) to its end and returns
# its result line ("mode=... ok=N failed=N ...") as a hash, undef when it
# printed none.  Its stderr is ours.
sub run_loadgen {
    my (@cmd) = @_;
    my ($pid, $fh) = spawn_reader(@cmd);
    my $last;
    while (my $l = <$fh>) {
        $last = $l if $l =~ /^mode=/;
    }
    close $fh;
    reaped($pid);
    return defined $last ? kv($last) : undef;
}

# The same for a run that must succeed whole: some connections ok and none
# failed, else fail() with what it said.
sub run_loadgen_ok {
    my (@cmd) = @_;
    my $r = run_loadgen(@cmd);
    return $r if $r && $r->{ok} && !$r->{failed};
    _fail("@cmd: " . ($r ? "ok=$r->{ok} failed=$r->{failed} "
                           . "first_error=" . ($r->{first_error} // '')
                         : "no result (exit $?)"));
}

1;
