package SecurePair::Nginx;

# SecurePair::Nginx: one nginx for a test, from start to stop.  An
# environment is a hash: dir (a fresh directory under build/t), port,
# port2, backends and backend_ports, conf_file, config (the sections it
# was made from), pid once started.  nginx runs in the foreground
# (daemon off) as our child, in a process group of its own, so that
# stop_nginx can always take every worker with it.

use strict;
use warnings;

use Exporter qw(import);
use File::Basename qw(basename);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Test::More import => [qw(ok diag BAIL_OUT)];
use Time::HiRes qw(time sleep);

use SecurePair::Backend qw(start_backend stop_backend);
use SecurePair::Conf qw(build_conf);
use SecurePair::Env qw(*LIBDIR *CERTS *NGINX *STREAM_MODULE *MODULE
                       *VALGRIND *VALGRIND_EXIT *SLOW tmp_root);
use SecurePair::Util qw(slurp spew free_port wait_child run_cmd);

our @EXPORT_OK = qw(preflight new_env nginx_t start_nginx launch_nginx
                    stop_nginx reload_nginx done_nginx check_nginx_clean
                    remove_env error_log_text access_log_text parse_log
                    backend_log_text wait_for_log access_lines no_errors
                    nginx_started nginx_workers wait_workers worker_rss failures);

my $preflight_done;

# Stops the whole test file (BAIL_OUT) when something it needs is not
# there, saying how to get it.
sub preflight {
    return if $preflight_done++;

    my @missing;

    push @missing, "$NGINX (apt-get install nginx)" unless -x $NGINX;
    push @missing, "$STREAM_MODULE (apt-get install libnginx-mod-stream)"
        unless -f $STREAM_MODULE;
    push @missing, "$MODULE (make module)" unless -f $MODULE;

    for my $f (qw(ca.crt server-rsa.crt server-rsa.key client.crt)) {
        push @missing, "$CERTS/$f (bash t/certs.sh $CERTS)"
            unless -f "$CERTS/$f";
    }

    if ($VALGRIND && !-x '/usr/bin/valgrind') {
        push @missing, "/usr/bin/valgrind (apt-get install valgrind)";
    }

    BAIL_OUT("missing: " . join(', ', @missing)) if @missing;
}

# How many tests of this file have failed so far.
sub failures {
    return scalar grep { !$_ } Test::More->builder->summary;
}

# An environment: a directory, ports, backends.  Every config section of
# run_tests is an argument too.
# A directory in /tmp that every user may enter, gone at exit.
sub public_tempdir {
    my ($template) = @_;
    my $dir = tempdir($template, DIR => '/tmp', CLEANUP => 1);
    chmod 0755, $dir or die "chmod $dir: $!";
    return $dir;
}

sub new_env {
    my (%a) = @_;

    preflight();

    my $name = $a{name} || basename($0, '.t');
    (my $tag = $name) =~ s/[^A-Za-z0-9]+/-/g;
    $tag = substr($tag, 0, 40);

    my $t = {
        name => $name,
        # public_dir: where a worker (nobody) reaches files it reads at
        # run time, whatever directory the checkout lies in
        dir => $a{public_dir}
               ? public_tempdir("securepair-$tag-XXXXXX")
               : tempdir("$tag-XXXXXX", DIR => tmp_root()),
        port => $a{port} || free_port(),
        port2 => $a{port2} || free_port(),
        backends => [],
        backend_ports => [],
        config => { %a },
        failures_at_start => failures(),
    };

    $t->{conf_file} = "$t->{dir}/nginx.conf";

    my @specs = ref $a{backend} ? @{$a{backend}}
              : defined $a{backend} ? grep { /\S/ } split /\n/, $a{backend}
              : ();

    my $i = 0;
    for my $spec (@specs) {
        $i++;
        my $b = start_backend($spec, "$t->{dir}/backend.log", $i);
        push @{$t->{backends}}, $b;
        push @{$t->{backend_ports}}, $b->{port};
    }

    return $t;
}

sub _nginx_argv {
    my ($t, @extra) = @_;
    my $vglog = grep({ $_ eq '-t' } @extra) ? 'valgrind-t.log'
              : $t->{master} ? 'valgrind.%p.log'    # master and workers
              : 'valgrind.log';
    my @argv = ($NGINX, '-p', "$t->{dir}/", '-c', $t->{conf_file},
                '-e', "$t->{dir}/error.log", @extra);

    if ($VALGRIND) {
        unshift @argv, 'valgrind', '-q', "--error-exitcode=$VALGRIND_EXIT",
            '--leak-check=full', '--errors-for-leak-kinds=definite',
            '--show-leak-kinds=definite', '--num-callers=30',
            "--suppressions=$LIBDIR/valgrind.supp",
            "--log-file=$t->{dir}/$vglog";
    }

    return @argv;
}

# nginx -t on the environment's config: (status, stdout.stderr).
sub nginx_t {
    my ($t) = @_;
    my ($st, $out, $err) = run_cmd([_nginx_argv($t, '-t')], timeout => 10);
    $t->{t_output} = $out . $err;
    $t->{t_status} = $st;
    return ($st, $out . $err);
}

# start_nginx(%sections) or start_nginx(conf => $text): a started
# environment (hash: dir, port, port2, backend_ports, pid, conf_file), or
# one with {start_error} set.  no_start => 1 writes nginx.conf only;
# env => $t uses an environment made before.
sub start_nginx {
    my (%a) = @_;
    my $t = $a{env} || new_env(%a);

    spew($t->{conf_file}, build_conf($t, %a));

    return $t if $a{no_start};

    launch_nginx($t);
    return $t;
}

# Starts nginx on the nginx.conf already written; true once its pid file
# names it, else {start_error} says why.
sub launch_nginx {
    my ($t) = @_;
    my $pidfile = "$t->{dir}/nginx.pid";

    unlink $pidfile;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$t->{dir}/nginx.out";
        open STDERR, '>&', \*STDOUT;
        exec _nginx_argv($t) or POSIX::_exit(127);
    }

    $t->{pid} = $pid;
    delete $t->{stopped};

    my $deadline = time + 5 * $SLOW;

    while (time < $deadline) {
        if (-s $pidfile) {
            my $p = slurp($pidfile);
            $p =~ s/\s+//g;
            return 1 if $p eq $pid;
        }

        my $r = waitpid($pid, WNOHANG);

        if ($r == $pid) {
            $t->{exit_status} = $?;
            $t->{stopped} = 1;
            $t->{start_error} = "nginx exited with status " . ($? >> 8)
                                . ($? & 127 ? " signal " . ($? & 127) : '')
                                . " while starting";
            return 0;
        }

        sleep 0.01;
    }

    $t->{start_error} = "nginx did not write its pid file in "
                        . (5 * $SLOW) . "s";
    stop_nginx($t);
    return 0;
}
# Stops nginx: QUIT, then TERM, then KILL, each bounded.  Records how in
# {stop_how} and the master's $? in {exit_status}.
sub stop_nginx {
    my ($t) = @_;
    return unless $t && $t->{pid};

    if (!$t->{stopped}) {
        for my $step (['QUIT', 5 * $SLOW], ['TERM', 3 * $SLOW],
                      ['KILL', 3])
        {
            my ($sig, $timeout) = @$step;
            my $st;

            # a signal that comes while nginx is not in epoll_wait() can
            # go unnoticed (single-process mode, valgrind's slow pace):
            # say it again every second
            for (my $left = $timeout; $left > 0; $left--) {
                kill $sig, $t->{pid};
                $st = wait_child($t->{pid}, $left > 1 ? 1 : $left);
                last if defined $st;
            }

            if (defined $st) {
                $t->{exit_status} = $st;
                $t->{stop_how} = $sig;
                last;
            }
        }

        $t->{stopped} = 1;
    }

    # workers left behind by a master that did not stop cleanly
    if (kill 0, -$t->{pid}) {
        kill 'KILL', -$t->{pid};
        $t->{orphans} = 1;
    }

    stop_backend($_) for @{$t->{backends}};
    $t->{backends} = [];

    return $t->{exit_status};
}

# reload_nginx($t, %sections): rewrites nginx.conf with the new sections
# (others as before), runs `nginx -s reload` and waits for the new
# workers.  True on success; else {reload_error} says why.
sub reload_nginx {
    my ($t, %new) = @_;

    my $old_workers = $t->{config}{workers} || 1;
    my %c = (%{$t->{config}}, %new);
    $t->{config} = \%c;
    spew($t->{conf_file}, build_conf($t, %c));

    my $before = error_log_text($t);
    my $started = () = $before =~ /start worker process/g;
    my $stopping = () = $before =~ /gracefully shutting down/g;
    my $workers = $c{workers} || 1;

    my ($st, $out, $err) = run_cmd([$NGINX, '-p', "$t->{dir}/",
                                    '-c', $t->{conf_file}, '-s', 'reload']);

    if ($st != 0) {
        $t->{reload_error} = "nginx -s reload: $out$err";
        return 0;
    }

    my $deadline = time + 5 * $SLOW;

    while (time < $deadline) {
        my $log = error_log_text($t);
        my $new = substr($log, length $before);

        if ($new =~ /\[emerg\][^\n]*/) {
            $t->{reload_error} = $&;
            return 0;
        }

        if (!$t->{master}) {
            return 1 if $new =~ /reconfiguring/;
        } else {
            # the new workers run, and the old ones have closed their
            # listening sockets (they log that just before)
            my $n = () = $log =~ /start worker process/g;
            my $q = () = $log =~ /gracefully shutting down/g;

            if ($n >= $started + $workers && $q >= $stopping + $old_workers) {
                sleep 0.05;
                return 1;
            }
        }

        sleep 0.02;
    }

    $t->{reload_error} = "no new worker in " . (5 * $SLOW) . "s";
    return 0;
}

# For hand-written tests: stop nginx, run check_nginx_clean, and remove
# the directory unless a test failed since start_nginx.
sub done_nginx {
    my ($t, $name, %o) = @_;

    stop_nginx($t);
    check_nginx_clean($t, $name, %o);

    if (failures() > $t->{failures_at_start} || $ENV{TEST_NGINX_KEEP}) {
        diag("$name: test directory kept: $t->{dir}")
            if failures() > $t->{failures_at_start};
    } else {
        remove_tree($t->{dir});
    }
}

# Removes the environment's directory, unless TEST_NGINX_KEEP is set.
sub remove_env {
    my ($t) = @_;
    remove_tree($t->{dir}) unless $ENV{TEST_NGINX_KEEP};
}

sub error_log_text { return slurp("$_[0]{dir}/error.log") }
sub access_log_text { return slurp("$_[0]{dir}/access.log") }
sub backend_log_text { return slurp("$_[0]{dir}/backend.log") }

# An access log line of `key=value` fields joined by "|", as a hash (the
# whole line under `line`).
sub parse_log {
    my ($line) = @_;
    my %f;
    for my $kv (split /\|/, $line) {
        $f{$1} = $2 if $kv =~ /^(\w+)=(.*)$/s;
    }
    $f{line} = $line;
    return \%f;
}

# The access log line is written when the session ends: waits a little
# for the log to match $re; 1 when it does.
sub wait_for_log {
    my ($t, $re) = @_;

    for (1 .. 100) {
        my $log = access_log_text($t) // '';
        return 1 if $log =~ $re;
        select(undef, undef, undef, 0.02);
    }

    return 0;
}

# The access log's lines once it has at least $n of them, or what it has
# at the deadline: a line is written when its session ends, a little
# after the client is gone.
sub access_lines {
    my ($t, $n) = @_;
    my $deadline = time + 5 * $SLOW;
    my @l;

    for (;;) {
        @l = grep { length } split /\n/, access_log_text($t) // '';
        return @l if @l >= ($n || 0) || time > $deadline;
        sleep 0.02;
    }
}

# A test that the nginx start_nginx started is up; when it is not, the
# reason and error.log say why.  Its result, so that a block can skip
# what needs the server.
sub nginx_started {
    my ($t, $label) = @_;
    return ok(!$t->{start_error}, "$label: nginx starts")
        || diag(($t->{start_error} // '') . "\n" . error_log_text($t));
}

# A test that error.log has no line of level error or worse, stricter than
# the checks after every block: where nothing should go wrong at all.
sub no_errors {
    my ($t, $label) = @_;
    my @bad = grep { /\[(error|crit|alert|emerg)\]/ }
              split /\n/, error_log_text($t);
    ok(!@bad, "$label: error.log has no [error], [crit], [alert] or "
              . "[emerg]")
        or diag(join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);
}

# The checks after every block: nothing alarming in error.log or on
# nginx's stderr, a clean stop, valgrind content.  Options: must_die (the
# [emerg] is expected), allow_emerg.
sub check_nginx_clean {
    my ($t, $name, %o) = @_;

    my @bad;
    my $log = error_log_text($t) . slurp("$t->{dir}/nginx.out");

    for my $line (split /\n/, $log) {
        if ($line =~ /\[alert\]|AddressSanitizer|LeakSanitizer|runtime error:|exited on signal/
            || ($line =~ /\[emerg\]/ && !$o{must_die} && !$o{allow_emerg}))
        {
            push @bad, $line;
        }
    }

    ok(!@bad, "$name: error.log has no [alert], [emerg], sanitizer "
              . "report or crash")
        or diag(join "\n", "offending lines:", @bad[0 .. ($#bad > 9 ? 9
                                                                : $#bad)]);

    if (!$o{must_die} && $t->{pid}) {
        my $st = $t->{exit_status};
        my $how = $t->{stop_how} || '';

        ok($how eq 'QUIT' && defined $st
           && ($st == 0 || ($VALGRIND && $st == $VALGRIND_EXIT << 8))
           && !$t->{orphans},
           "$name: nginx stopped on SIGQUIT with status 0")
            or diag("stopped by " . ($how || 'itself') . ", status "
                    . (defined $st ? ($st >> 8) . " signal " . ($st & 127)
                                   : 'unknown')
                    . ($t->{orphans} ? ", left workers behind" : ''));
    }

    if ($VALGRIND) {
        my @runs;
        push @runs, ['nginx -t', 'valgrind-t.log', $t->{t_status}]
            if defined $t->{t_status};
        if (!$o{must_die} && $t->{pid}) {
            my @logs = map { basename($_) } grep { -e }
                       glob("$t->{dir}/valgrind.log $t->{dir}/valgrind.*.log");
            push @runs, ['nginx', $_, $t->{exit_status}] for @logs;
            push @runs, ['nginx', 'valgrind.log', $t->{exit_status}]
                unless @logs;
        }

        for my $run (@runs) {
            my ($what, $file, $st) = @$run;
            my $vg = slurp("$t->{dir}/$file");
            $what .= " ($file)" if $file =~ /\d/;
            my $code = defined $st && $st >= 0 ? $st >> 8 : -1;

            ok($code != $VALGRIND_EXIT && $vg !~ /ERROR SUMMARY: [1-9]/
               && $vg !~ /^==\d+== (Invalid|Conditional|Mismatched|Source and destination|.*definitely lost)/m,
               "$name: valgrind found no error in $what")
                or diag("$file (exit $code):\n" . substr($vg, 0, 6000));
        }
    }
}

# The worker processes of a running master, read from /proc: (pid =>
# 1 when shutting down, 0 when serving).
sub nginx_workers {
    my ($master) = @_;
    my %w;

    opendir(my $d, '/proc') or return %w;

    for my $pid (grep { /^\d+$/ } readdir($d)) {
        my $stat = slurp("/proc/$pid/stat");
        next unless $stat =~ /^\d+ \(.*\) \S (\d+)/s && $1 == $master;
        my $cmd = slurp("/proc/$pid/cmdline");
        next unless $cmd =~ /worker process/;
        $w{$pid} = $cmd =~ /shutting down/ ? 1 : 0;
    }

    closedir($d);
    return %w;
}

# worker_rss($master): the resident set (kB) of the master's worker, or of
# the process itself when it has none (master_process off, valgrind).
sub worker_rss {
    my ($master) = @_;
    my ($pid) = keys %{ { nginx_workers($master) } };
    my ($kb) = slurp('/proc/' . ($pid // $master) . '/status')
               =~ /^VmRSS:\s+(\d+)/m;
    return $kb // 0;
}

# wait_workers($master, $n, $timeout): true once $n workers serve and no
# old one is left shutting down (after a start, a reload, a killed
# worker), false at the deadline.
sub wait_workers {
    my ($master, $n, $timeout) = @_;
    my $deadline = time + $timeout;

    while (time < $deadline) {
        my %w = nginx_workers($master);
        return 1 if keys %w == $n && !grep { $_ } values %w;
        sleep 0.2;
    }

    return 0;
}

1;
