package SecurePair::Test;

# SecurePair::Test: data-driven tests of ngx_stream_securepair_module
# against Debian's nginx, with real TLS clients.
#
# A test file:
#
#     use strict;
#     use warnings;
#     use lib 't/lib';
#     use SecurePair::Test;
#
#     run_tests();
#
#     __DATA__
#
#     === TEST 1: echo
#     --- stream_server_config
#         securepair on;
#         securepair_certificate %%CERTS%%/server-rsa.crt;
#         securepair_certificate_key %%CERTS%%/server-rsa.key;
#         securepair_echo "welcome!\n";
#     --- stream_request
#     hello
#     --- stream_response
#     welcome!
#     hello
#
# Sections (Test::Base format; `--- name: value` for one-liners; the usual
# Test::Base filters such as chomp and eval apply):
#
#   main_config            top-level directives
#   stream_config          inside stream {}, before the server
#   stream_server_config   inside server { listen 127.0.0.1:%%PORT%%; ... }
#   config_raw             the whole stream block instead (with or without
#                          the enclosing "stream { }")
#   log_format             adds log_format t '...'; access_log .../access.log t;
#   stream_request         cleartext sent after the handshake (may be empty)
#   stream_response        exact cleartext expected back
#   stream_response_like   a regex the cleartext must match
#   tls                    client options, "key: value" per line (see
#                          tls_connect below; also client: s_client)
#   tls_expect             what the client saw, one test each: alpn, npn,
#                          npn_status (s_client), peer_cn, peer_key
#                          (RSA/EC), peer_sig (s_client), protocol,
#                          cipher, handshake (ok/fail), alert (a
#                          substring of the client's error, _ = space),
#                          session_reused, close_notify (0/1), eof
#                          (close_notify/tcp/error/timeout/open),
#                          renegotiated; a value may be qr/.../
#   error_log              lines (substring or qr/.../) that must be in
#                          error.log (or in nginx -t's output with must_die)
#   no_error_log           lines that must not be there
#   access_log             lines that must be in the access log
#   no_access_log          lines that must not be there
#   must_die               nginx -t must fail
#   nginx_t                nginx -t must pass (then the client runs, if any)
#   backend                one backend per line: echo | sink_source N |
#                          banner TEXT | reply TEXT (reads to the end,
#                          then answers TEXT); ports %%BACKEND_PORT%%,
#                          %%BACKEND_PORT2%%, ...
#   backend_log            lines that must be in the backends' log
#   user_files             files made in the test directory first:
#                          ">>> name [mode]" then the content
#   workers                worker_processes (default 1)
#   timeout                the client's deadline in seconds (default 5)
#   clients                N identical clients at once; all must pass
#
# Substitutions in config sections and log expectations: %%TESTDIR%%,
# %%CERTS%%, %%PORT%%, %%PORT2%%, %%BACKEND_PORT%%, %%BACKEND_PORT2%%,
# %%CONF%% (the nginx.conf path); in log expectations also
# %%LINE(text)%% (the line of nginx.conf where text first appears),
# %%CERT_FINGERPRINT(file)%%, %%CERT_NOT_BEFORE(file)%%,
# %%CERT_NOT_AFTER(file)%%, %%CERT_SUBJECT(file)%%, %%CERT_ISSUER(file)%%.
#
# After every block: error.log and nginx's stderr have no [alert], no
# [emerg] (except must_die), no sanitizer report, no "exited on signal";
# nginx stopped on SIGQUIT with status 0; under TEST_NGINX_VALGRIND=1,
# valgrind found no error.
#
# The --- tls keys are tls_connect's and tls_client's options below, plus
# client: io_socket_ssl (default) | s_client | raw, mode (s_client: quiet,
# brief, full), expect_handshake: ok|fail, port (default %%PORT%%).
#
# Exported for hand-written tests (plain Perl before run_tests()):
#
#   my $t = start_nginx(stream_server_config => ..., log_format => ...,
#                       backend => 'echo', workers => 2, ...)
#       same sections as the blocks; or conf => a whole nginx.conf.
#       $t: dir, port, port2, backend_ports, conf_file, pid; start_error
#       when nginx did not come up.
#   reload_nginx($t, %changed_sections)    nginx -s reload, waits for it
#   stop_nginx($t)                         QUIT, TERM, KILL, bounded
#   check_nginx_clean($t, $name, %o)       the after-every-block checks
#   done_nginx($t, $name, %o)              stop + check + clean up
#   nginx_t($t)                            (status, output) of nginx -t
#   tls_client(port => ..., request => ..., ...)  -> hash of what was seen
#   tls_connect(...)  -> connection: ->exchange($data, expect => ...),
#                        ->renegotiate($deadline), ->close, ->r (the hash)
#   s_client(...), raw_client(...)         same, other clients
#   error_log_text($t), access_log_text($t), backend_log_text($t)
#   free_port(), run_cmd([argv], stdin => ..., timeout => ...),
#   cert_path(name), cert_field(name, field), cert_fingerprint(name),
#   sink_pattern(n), start_backend(spec, logfile), stop_backend($b)
#
# Environment: SP_BUILD (build dir, default <root>/build), SP_CERTS
# (default $SP_BUILD/certs), TEST_NGINX_BINARY (/usr/sbin/nginx),
# TEST_NGINX_VALGRIND=1, TEST_NGINX_KEEP=1 (keep every test directory;
# failing ones are always kept), TEST_NGINX_LOG_LEVEL (info).

use strict;
use warnings;

use Test::Base;

use Cwd qw(abs_path);
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use File::Basename qw(basename dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Handle;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::SSL;
use IPC::Open3 qw(open3);
use Net::SSLeay;
use POSIX qw(WNOHANG);
use Storable qw(nstore retrieve);
use Symbol qw(gensym);
use Time::HiRes qw(time sleep);


# ---- paths and settings ------------------------------------------------

my $LIBDIR = abs_path(dirname(__FILE__));
my $ROOT = abs_path("$LIBDIR/../../..");

our $BUILD = File::Spec->rel2abs($ENV{SP_BUILD} || "$ROOT/build");
our $CERTS = File::Spec->rel2abs($ENV{SP_CERTS} || "$BUILD/certs");
# the nginx the module was built for (auto/build-module writes it down)
my %BUILT = map { /^(\w+)=(.*)$/ } do {
    my $fh;
    open($fh, "<", "$BUILD/nginx/.nginx") ? <$fh> : ();
};
our $NGINX = $ENV{TEST_NGINX_BINARY} || $BUILT{binary} || '/usr/sbin/nginx';
our $STREAM_MODULE = $ENV{TEST_NGINX_STREAM_MODULE} || $BUILT{stream_module}
                     || '/usr/lib/nginx/modules/ngx_stream_module.so';
our $MODULE = "$BUILD/nginx/objs/ngx_stream_securepair_module.so";
our $VALGRIND = $ENV{TEST_NGINX_VALGRIND} ? 1 : 0;
our $LOG_LEVEL = $ENV{TEST_NGINX_LOG_LEVEL} || 'info';

# valgrind makes everything ~20 times slower
our $SLOW = $VALGRIND ? 10 : 1;

my $VALGRIND_EXIT = 97;

$SIG{PIPE} = 'IGNORE';

our @EXPORT = (
    @Test::Base::EXPORT,
    qw(run_tests done_testing
       start_nginx stop_nginx reload_nginx nginx_t check_nginx_clean
       done_nginx tls_client tls_connect s_client raw_client run_cmd
       free_port
       error_log_text access_log_text backend_log_text
       start_backend stop_backend sink_pattern
       cert_path cert_fingerprint cert_field
       $BUILD $CERTS $NGINX $VALGRIND $SLOW)
);

sub import {
    my $caller = caller;

    no strict 'refs';

    for my $name (@EXPORT) {
        if ($name =~ /^\$(.*)/) {
            *{"${caller}::$1"} = \${"SecurePair::Test::$1"};
        } else {
            *{"${caller}::$name"} = \&{"SecurePair::Test::$name"};
        }
    }

    strict->import;
    warnings->import;
}


# ---- small helpers -----------------------------------------------------

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    binmode $fh;
    local $/;
    my $s = <$fh>;
    return defined $s ? $s : '';
}

sub spew {
    my ($file, $data) = @_;
    open my $fh, '>', $file or die "cannot write $file: $!";
    binmode $fh;
    print $fh $data;
    close $fh or die "cannot write $file: $!";
}

# A free loopback port: bind port 0, read it, let it go.
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1,
                                  ReuseAddr => 1)
        or die "free_port: bind: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub cert_path {
    my ($name) = @_;
    return $name if !defined $name || $name eq '' || $name =~ m{^/};
    return "$CERTS/$name";
}

# Waits for a child: its $? or undef when it is still there at the deadline.
sub wait_child {
    my ($pid, $timeout) = @_;
    my $deadline = time + $timeout;

    for (;;) {
        my $r = waitpid($pid, WNOHANG);
        return $? if $r == $pid;
        return -1 if $r < 0;
        return undef if time >= $deadline;
        sleep 0.01;
    }
}

# run_cmd([argv], stdin => ..., timeout => s): (status, stdout, stderr);
# the status is $? (-1 when killed at the deadline).
sub run_cmd {
    my ($argv, %o) = @_;
    my $timeout = ($o{timeout} || 10) * $SLOW;
    my $dir = tempdir('cmd-XXXXXX', DIR => _tmp_root(), CLEANUP => 1);

    spew("$dir/in", defined $o{stdin} ? $o{stdin} : '');

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', "$dir/in";
        open STDOUT, '>', "$dir/out";
        open STDERR, '>', "$dir/err";
        exec @$argv or POSIX::_exit(127);
    }

    my $st = wait_child($pid, $timeout);

    if (!defined $st) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $st = -1;
    }

    my @r = ($st, slurp("$dir/out"), slurp("$dir/err"));
    remove_tree($dir);
    return @r;
}

my %cert_cache;

# A field of a certificate as openssl prints it: fingerprint (SHA-1,
# AB:CD:..), startdate, enddate (Node's "Nov 11 09:52:22 2009 GMT"),
# subject, issuer (in the one-line "/C=UK/CN=x" form).
sub cert_field {
    my ($file, $field) = @_;
    $file = cert_path($file);

    my $key = "$file\0$field";
    return $cert_cache{$key} if exists $cert_cache{$key};

    my @arg = $field eq 'fingerprint' ? ('-fingerprint', '-sha1')
            : $field =~ /^(subject|issuer)$/ ? ("-$field", '-nameopt',
                                               'compat')
            : ("-$field");
    my ($st, $out, $err) = run_cmd(['openssl', 'x509', '-noout', @arg,
                                    '-in', $file]);
    die "openssl x509 $field $file: $err" if $st != 0;

    chomp $out;
    $out =~ s/^[^=]*?(?:Fingerprint)?=//;
    $out =~ s/^\s+//;

    return $cert_cache{$key} = $out;
}

sub cert_fingerprint { return cert_field($_[0], 'fingerprint') }

# 16-byte numbered lines: a lost, doubled or misplaced piece shows.
sub sink_pattern {
    my ($n) = @_;
    my $blocks = int($n / 16) + 1;
    my $s = join '', map { sprintf "%015d\n", $_ } 0 .. $blocks - 1;
    return substr($s, 0, $n);
}

# Text for diagnostics: short, with control characters visible.
sub printable {
    my ($s, $max) = @_;
    return 'undef' unless defined $s;
    $max ||= 300;
    my $len = length $s;
    $s = substr($s, 0, $max) . "...($len bytes)" if $len > $max;
    $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    $s =~ s/\\x0a/\\n/g;
    return "\"$s\"";
}

sub _tmp_root {
    my $d = "$BUILD/t";
    make_path($d) unless -d $d;
    return $d;
}


# ---- preflight ---------------------------------------------------------

my $preflight_done;

sub _preflight {
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

    Test::More::BAIL_OUT("missing: " . join(', ', @missing)) if @missing;
}


# ---- configuration -----------------------------------------------------

sub _subst {
    my ($t, $s) = @_;
    return $s unless defined $s;

    my %v = (
        TESTDIR => $t->{dir},
        CERTS => $CERTS,
        PORT => $t->{port},
        PORT2 => $t->{port2},
        CONF => $t->{conf_file},
    );

    my @bp = @{$t->{backend_ports} || []};
    $v{BACKEND_PORT} = $bp[0] if @bp;
    $v{"BACKEND_PORT$_"} = $bp[$_ - 1] for 2 .. @bp;

    $s =~ s/%%(\w+)%%/exists $v{$1} ? $v{$1} : "%%$1%%"/ge;
    return $s;
}

# Substitutions for expectations, which may ask about the written config
# and about certificates.
sub _subst_expect {
    my ($t, $s) = @_;
    return $s unless defined $s && !ref $s;

    $s = _subst($t, $s);

    $s =~ s{%%LINE\((.*?)\)%%}{_conf_line($t, $1)}ge;
    $s =~ s{%%CERT_FINGERPRINT\((.*?)\)%%}{cert_field($1, 'fingerprint')}ge;
    $s =~ s{%%CERT_NOT_BEFORE\((.*?)\)%%}{cert_field($1, 'startdate')}ge;
    $s =~ s{%%CERT_NOT_AFTER\((.*?)\)%%}{cert_field($1, 'enddate')}ge;
    $s =~ s{%%CERT_SUBJECT\((.*?)\)%%}{_slash_name(cert_field($1,
                                                      'subject'))}ge;
    $s =~ s{%%CERT_ISSUER\((.*?)\)%%}{_slash_name(cert_field($1,
                                                     'issuer'))}ge;
    return $s;
}

# "C=UK, ST=Acme State, CN=client" (nameopt compat gives "/C=UK/ST=...")
sub _slash_name {
    my ($s) = @_;
    return $s if $s =~ m{^/};
    return '/' . join('/', split /,\s*/, $s);
}

sub _conf_line {
    my ($t, $text) = @_;
    my @lines = split /\n/, slurp($t->{conf_file});

    for my $i (0 .. $#lines) {
        next if $lines[$i] =~ /^\s*#/;
        return $i + 1 if index($lines[$i], $text) >= 0;
    }

    die "%%LINE($text)%%: not in $t->{conf_file}\n";
}

sub _indent {
    my ($s, $n) = @_;
    return '' unless defined $s;
    my $pad = ' ' x $n;
    $s =~ s/^(?=.)/$pad/mg;
    $s .= "\n" unless $s =~ /\n\z/;
    return $s;
}

sub _build_conf {
    my ($t, %c) = @_;

    return _subst($t, $c{conf}) if defined $c{conf};

    my $dir = $t->{dir};
    my $workers = $c{workers} || 1;

    # valgrind runs nginx as one process, unless asked (single-process
    # nginx cannot reload: reload tests say master => 1)
    $t->{master} = !$VALGRIND || $c{master} ? 1 : 0;
    my $master = $t->{master} ? 'on' : 'off';

    my $conf = <<"EOF";
# generated by SecurePair::Test: $t->{name}
daemon off;
master_process $master;
worker_processes $workers;
error_log $dir/error.log $LOG_LEVEL;
pid $dir/nginx.pid;

load_module $STREAM_MODULE;
load_module $MODULE;

EOF

    $conf .= _subst($t, $c{main_config}) . "\n" if defined $c{main_config};

    $conf .= "events {\n    worker_connections 1024;\n}\n\n";

    my $logs = '';

    if (defined $c{log_format}) {
        my $f = $c{log_format};
        $f =~ s/\n\s*//g;    # a long format may be split over lines
        $logs = "log_format t '$f';\naccess_log $dir/access.log t;\n";
    }

    if (defined $c{config_raw}) {
        my $raw = _subst($t, $c{config_raw});

        if ($raw =~ /^\s*stream\s*\{/m) {
            $raw =~ s/^(\s*stream\s*\{[^\n]*\n)/$1 . _indent($logs, 4)/me
                if $logs ne '';
            $conf .= $raw;
        } else {
            $conf .= "stream {\n" . _indent($logs, 4) . _indent($raw, 4)
                     . "}\n";
        }

        return $conf;
    }

    $conf .= "stream {\n";
    $conf .= _indent($logs, 4) . "\n" if $logs ne '';
    $conf .= _indent(_subst($t, $c{stream_config}), 4) . "\n"
        if defined $c{stream_config};

    if (defined $c{stream_server_config}) {
        $conf .= "    server {\n"
               . "        listen 127.0.0.1:$t->{port};\n\n"
               . _indent(_subst($t, $c{stream_server_config}), 8)
               . "    }\n";
    }

    $conf .= "}\n";

    return $conf;
}


# ---- nginx -------------------------------------------------------------

# An environment: a directory, ports, backends.  Every config section of
# run_tests is an argument too.
sub _new_env {
    my (%a) = @_;

    _preflight();

    my $name = $a{name} || basename($0, '.t');
    (my $tag = $name) =~ s/[^A-Za-z0-9]+/-/g;
    $tag = substr($tag, 0, 40);

    my $t = {
        name => $name,
        dir => tempdir("$tag-XXXXXX", DIR => _tmp_root()),
        port => $a{port} || free_port(),
        port2 => $a{port2} || free_port(),
        backends => [],
        backend_ports => [],
        config => { %a },
        failures_at_start => _failures(),
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
# one with {start_error} set.
sub start_nginx {
    my (%a) = @_;
    my $t = $a{env} || _new_env(%a);

    spew($t->{conf_file}, _build_conf($t, %a));

    return $t if $a{no_start};

    _launch($t);
    return $t;
}

sub _launch {
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
    spew($t->{conf_file}, _build_conf($t, %c));

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

    if (_failures() > $t->{failures_at_start} || $ENV{TEST_NGINX_KEEP}) {
        diag("$name: test directory kept: $t->{dir}")
            if _failures() > $t->{failures_at_start};
    } else {
        remove_tree($t->{dir});
    }
}

sub error_log_text { return slurp("$_[0]{dir}/error.log") }
sub access_log_text { return slurp("$_[0]{dir}/access.log") }
sub backend_log_text { return slurp("$_[0]{dir}/backend.log") }

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


# ---- backends ----------------------------------------------------------

# start_backend(SPEC, LOGFILE, N): a TCP server on a loopback port, one
# process per connection:
#   echo              sends back what it gets
#   sink_source N     sends N bytes of sink_pattern(N) while reading and
#                     counting everything until the client's end
#   banner TEXT       sends TEXT (\n, \r, \t understood), then echoes
#   reply TEXT        reads until the client's end, then sends TEXT
# Each connection logs "backendN SPEC: received=R sent=S" to LOGFILE.

# a sink_source backend's bytes, made by its listener for every connection
my $source_out;

sub start_backend {
    my ($spec, $logfile, $n) = @_;
    $n ||= 1;
    $logfile ||= '/dev/null';

    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 128,
                                  ReuseAddr => 1)
        or die "backend: bind: $!";
    my $port = $l->sockport;

    $spec =~ s/^\s+|\s+$//g;
    die "unknown backend \"$spec\"\n"
        unless $spec =~ /^(echo|sink_source\s+\d+|(banner|reply)\s.*)$/;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = 'DEFAULT';
        my $end = time + 120;

        # made once, before any connection: a big source starts at once
        $source_out = sink_pattern($1) if $spec =~ /^sink_source\s+(\d+)/;

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


# ---- the TLS client (IO::Socket::SSL) ------------------------------------

# tls_connect(%opts): connects and shakes hands; returns a
# SecurePair::Test::Conn whose {r} says what was seen.  Options:
#   port, host (127.0.0.1), servername (SNI; none without it),
#   alpn, npn (array refs or comma lists), cert, key (file names in the
#   certs dir or absolute), ca (default ca.crt), verify (on/off, default
#   off), version (TLSv1.2/TLSv1.3), ciphers (TLS <= 1.2 list),
#   ciphersuites (TLS 1.3), timeout (connect + handshake, default 5),
#   ssl_opts (more IO::Socket::SSL options).
# {r}: handshake (ok/fail), error, protocol, cipher, alpn, npn, peer_cn,
#   peer_subject, peer_key (RSA/EC), peer_fingerprint, session_reused.
sub tls_connect {
    my (%o) = @_;
    return SecurePair::Test::Conn->connect(%o);
}

# tls_client(%opts): one whole exchange.  tls_connect's options plus
#   request (bytes to send), renegotiate (N client renegotiations after
#   sending), expect (exact response: stop reading once it is there),
#   expect_like (a regex: same), read_timeout (idle, default 2),
#   shutdown (send close_notify after the request and read to the end).
# Returns {r} with response, eof (close_notify/tcp/timeout/error),
# close_notify (1 when the server's close_notify came), renegotiated (how
# many completed).
sub tls_client {
    my (%o) = @_;

    my $conn = tls_connect(%o);
    my $r = $conn->{r};

    return $r unless $r->{handshake} eq 'ok';

    my $deadline = time + ($o{timeout} || 5) * $SLOW;

    if (defined $o{request} && length $o{request}) {
        $conn->write_all($o{request}, $deadline);
    }

    if ($o{renegotiate}) {
        for (1 .. $o{renegotiate}) {
            last unless $conn->renegotiate($deadline);
        }
    }

    $conn->shutdown_write if $o{shutdown};

    $conn->read_until(expect => $o{expect}, expect_like => $o{expect_like},
                      idle => $o{read_timeout} || 2,
                      deadline => $deadline);

    $conn->close;

    return $r;
}


package SecurePair::Test::Conn;

use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use IO::Select;
use IO::Socket::SSL;
use Net::SSLeay;
use Time::HiRes qw(time sleep);

sub _list {
    my ($v) = @_;
    return undef unless defined $v;
    return $v if ref $v;
    return [grep { length } split /\s*,\s*/, $v];
}

sub _on {
    my ($v) = @_;
    return defined $v && $v =~ /^(1|on|yes|true)$/i;
}

sub connect {
    my ($class, %o) = @_;

    my $self = bless { r => { handshake => 'fail', error => '',
                              response => '', renegotiated => 0,
                              close_notify => 0 } }, $class;
    my $r = $self->{r};
    my $timeout = ($o{timeout} || 5) * $SecurePair::Test::SLOW;

    my $sock = IO::Socket::INET->new(PeerAddr => $o{host} || '127.0.0.1',
                                     PeerPort => $o{port}, Proto => 'tcp',
                                     Timeout => $timeout);
    if (!$sock) {
        $r->{error} = "connect: $!";
        return $self;
    }

    my %ssl = (
        SSL_verify_mode => _on($o{verify}) ? SSL_VERIFY_PEER
                                            : SSL_VERIFY_NONE,
        SSL_hostname => defined $o{servername} ? $o{servername} : '',
        SSL_ca_file => SecurePair::Test::cert_path($o{ca} || 'ca.crt'),
        Timeout => $timeout,
    );

    if (_on($o{verify})) {
        $ssl{SSL_verifycn_scheme} = 'default';
        $ssl{SSL_verifycn_name} = defined $o{servername} ? $o{servername}
                                                         : '127.0.0.1';
    }

    $ssl{SSL_cert_file} = SecurePair::Test::cert_path($o{cert})
        if defined $o{cert};
    $ssl{SSL_key_file} = SecurePair::Test::cert_path($o{key})
        if defined $o{key};
    $ssl{SSL_alpn_protocols} = _list($o{alpn}) if defined $o{alpn};
    $ssl{SSL_npn_protocols} = _list($o{npn}) if defined $o{npn};
    $ssl{SSL_cipher_list} = $o{ciphers} if defined $o{ciphers};
    $ssl{SSL_ciphersuites} = $o{ciphersuites} if defined $o{ciphersuites};

    if (defined $o{version}) {
        (my $v = $o{version}) =~ s/^TLSv1\.(\d)$/TLSv1_$1/;
        $ssl{SSL_version} = $v;
    }

    %ssl = (%ssl, %{$o{ssl_opts}}) if $o{ssl_opts};

    if (!IO::Socket::SSL->start_SSL($sock, %ssl)) {
        $r->{error} = "" . ($SSL_ERROR || IO::Socket::SSL::errstr()
                            || "handshake failed: $!");
        CORE::close($sock);
        return $self;
    }

    $self->{sock} = $sock;
    $self->{ssl} = $sock->_get_ssl_object;

    $r->{handshake} = 'ok';
    ($r->{protocol} = $sock->get_sslversion || '') =~ s/^TLSv1_(\d)$/TLSv1.$1/;
    $r->{cipher} = $sock->get_cipher;
    $r->{alpn} = $sock->alpn_selected // '';
    $r->{npn} = $sock->next_proto_negotiated // '';
    $r->{session_reused} = $sock->get_session_reused ? 1 : 0;

    my $x509 = Net::SSLeay::get_peer_certificate($self->{ssl});

    if ($x509) {
        $r->{peer_cn} = $sock->peer_certificate('cn') // '';
        $r->{peer_subject} = $sock->peer_certificate('subject') // '';
        $r->{peer_fingerprint} = Net::SSLeay::X509_get_fingerprint($x509,
                                                                   'sha1');
        my $alg = Net::SSLeay::P_X509_get_pubkey_alg($x509);
        my $txt = $alg ? Net::SSLeay::OBJ_obj2txt($alg) : '';
        $r->{peer_key} = $txt =~ /rsa/i ? 'RSA'
                       : $txt =~ /ec/i ? 'EC' : $txt;
        Net::SSLeay::X509_free($x509);
    } else {
        $r->{peer_cn} = '';
        $r->{peer_key} = '';
    }

    $sock->blocking(0);

    return $self;
}

sub _fail {
    my ($self, $what) = @_;
    my $e = "$what: " . ($SSL_ERROR || $! || 'error');
    $self->{r}{error} .= ($self->{r}{error} ne '' ? '; ' : '') . $e;
    $self->{dead} = 1;
    return 0;
}

sub _wait {
    my ($self, $dir, $deadline) = @_;
    my $left = $deadline - time;
    return 0 if $left <= 0;
    my $sel = IO::Select->new($self->{sock});
    my @ready = $dir eq 'w' ? $sel->can_write($left > 0.5 ? 0.5 : $left)
                            : $sel->can_read($left > 0.5 ? 0.5 : $left);
    return 1;
}

# Reads what is there now into the response: 1 while the connection
# lives, 0 at its end.
sub _read_some {
    my ($self) = @_;
    my $r = $self->{r};

    for (;;) {
        my $n = $self->{sock}->sysread(my $buf, 65536);

        if (defined $n && $n > 0) {
            $r->{response} .= $buf;
            next;
        }

        if (defined $n) {
            # IO::Socket::SSL says 0 for a close_notify, a plain TCP end
            # and a fatal alert alike: OpenSSL knows which
            $self->{eof} = 1;

            # (a fatal alert sets SSL_RECEIVED_SHUTDOWN too: errors first)
            my @e;
            while (my $e = Net::SSLeay::ERR_get_error()) {
                push @e, Net::SSLeay::ERR_error_string($e);
            }

            if (@e && !grep { /unexpected eof/i } @e) {
                $r->{eof} = 'error';
                $r->{error} .= ($r->{error} ne '' ? '; ' : '')
                               . 'read: ' . join(', ', @e);
                $self->{dead} = 1;
                return 0;
            }

            if (Net::SSLeay::get_shutdown($self->{ssl}) & 2) {
                $r->{eof} = 'close_notify';
                $r->{close_notify} = 1;
                return 0;
            }

            $r->{eof} = 'tcp';
            return 0;
        }

        return 1 if $SSL_ERROR == SSL_WANT_READ
                    || $SSL_ERROR == SSL_WANT_WRITE;

        if ($! == EAGAIN || $! == EWOULDBLOCK) {
            return 1 if !$SSL_ERROR;
        }

        my $err = "$SSL_ERROR";

        if ($err eq '' || $err =~ /unexpected eof/i) {
            $r->{eof} = 'tcp';
            $self->{eof} = 1;
            return 0;
        }

        $r->{eof} = 'error';
        return $self->_fail('read');
    }
}

sub write_all {
    my ($self, $data, $deadline) = @_;
    my $off = 0;

    while ($off < length $data) {
        return 0 if $self->{dead};

        if (time > $deadline) {
            $self->{r}{error} .= 'write: timed out';
            return 0;
        }

        my $n = $self->{sock}->syswrite($data, 16384, $off);

        if (defined $n) {
            $off += $n;
            next;
        }

        if ($SSL_ERROR == SSL_WANT_WRITE || $SSL_ERROR == SSL_WANT_READ
            || $! == EAGAIN)
        {
            # read meanwhile: an echo would otherwise fill both ways
            return 0 if !$self->_read_some && !$self->{eof};
            $self->_wait($SSL_ERROR == SSL_WANT_READ ? 'r' : 'w',
                         $deadline);
            next;
        }

        return $self->_fail('write');
    }

    $self->{r}{sent} = ($self->{r}{sent} || 0) + length $data;
    return 1;
}

# One client renegotiation (TLS <= 1.2): 1 when it completed.
#
# SSL_renegotiate, then SSL_read drives the new handshake: application
# data the server sent before its ServerHello (an echo, say) is legal
# there and goes to the response, where SSL_do_handshake would fail with
# "unexpected record".
sub renegotiate {
    my ($self, $deadline) = @_;
    my $ssl = $self->{ssl};
    my $r = $self->{r};

    return 0 if $self->{dead} || $self->{eof};

    my $before = Net::SSLeay::total_renegotiations($ssl);

    if (!Net::SSLeay::renegotiate($ssl)) {
        $r->{error} .= ($r->{error} ne '' ? '; ' : '')
                       . 'renegotiation refused by the client library';
        return 0;
    }

    while (time < $deadline) {
        if (!$self->_read_some) {
            $r->{error} .= ($r->{error} ne '' ? '; ' : '')
                           . 'renegotiation: connection ended';
            return 0;
        }

        if (Net::SSLeay::total_renegotiations($ssl) > $before
            && Net::SSLeay::is_init_finished($ssl))
        {
            $r->{renegotiated}++;
            return 1;
        }

        $self->_wait('r', $deadline);
    }

    $r->{error} .= ($r->{error} ne '' ? '; ' : '') . 'renegotiation: timed out';
    return 0;
}

sub shutdown_write {
    my ($self) = @_;
    return if $self->{dead};
    Net::SSLeay::shutdown($self->{ssl});
}

# read_until(expect => bytes, expect_like => qr, idle => s, deadline => t)
sub read_until {
    my ($self, %o) = @_;
    my $r = $self->{r};
    my $idle = ($o{idle} || 2) * $SecurePair::Test::SLOW;
    my $deadline = $o{deadline} || time + 5 * $SecurePair::Test::SLOW;
    my $grace = 0.2;
    my $last = time;
    my $seen = length $r->{response};
    my $done_at;

    while (!$self->{dead} && !$self->{eof}) {
        $self->_read_some or last;

        my $now = time;

        if (length $r->{response} != $seen) {
            $seen = length $r->{response};
            $last = $now;
        }

        if (!$done_at
            && ((defined $o{expect} && $seen >= length $o{expect})
                || (defined $o{expect_like}
                    && $r->{response} =~ $o{expect_like})))
        {
            # wait a little for bytes that should not be there
            $done_at = $now + $grace;
        }

        last if $done_at && $now >= $done_at;

        if ($now - $last >= $idle) {
            $r->{eof} = 'timeout';
            last;
        }

        if ($now >= $deadline) {
            $r->{eof} = 'timeout';
            $r->{error} .= ($r->{error} ne '' ? '; ' : '')
                           . 'read: deadline';
            last;
        }

        $self->_wait('r', $done_at && $done_at < $deadline ? $done_at
                                                             : $deadline);
    }

    $r->{eof} //= 'open';
    return $r->{response};
}

# write + read in one go, for hand-written tests
sub exchange {
    my ($self, $data, %o) = @_;
    my $deadline = time + ($o{timeout} || 5) * $SecurePair::Test::SLOW;
    my $from = length $self->{r}{response};

    $self->write_all($data, $deadline) if defined $data && length $data;
    $self->read_until(deadline => $deadline, idle => $o{idle} || 2,
                      expect => defined $o{expect}
                                ? $self->{r}{response} . $o{expect}
                                : undef,
                      expect_like => $o{expect_like});

    return substr($self->{r}{response}, $from);
}

sub close {
    my ($self) = @_;
    return unless $self->{sock};
    $self->{sock}->close(SSL_fast_shutdown => 1);
    delete $self->{sock};
    delete $self->{ssl};
}

sub r { $_[0]{r} }


package SecurePair::Test;


# ---- plain TCP ---------------------------------------------------------

# raw_client(%opts): no TLS at all: connects, sends request, reads until
# the server closes (eof: tcp), read_timeout passes (eof: timeout) or the
# expected bytes are in.  handshake is "ok" once connected.
sub raw_client {
    my (%o) = @_;
    my $r = { handshake => 'fail', error => '', response => '' };
    my $deadline = time + ($o{timeout} || 5) * $SLOW;
    my $idle = ($o{read_timeout} || 2) * $SLOW;

    my $s = IO::Socket::INET->new(PeerAddr => $o{host} || '127.0.0.1',
                                  PeerPort => $o{port}, Proto => 'tcp',
                                  Timeout => 5)
        or do { $r->{error} = "connect: $!"; return $r };

    $r->{handshake} = 'ok';
    $s->blocking(0);

    my $out = defined $o{request} ? $o{request} : '';
    my $last = time;
    my $done_at;

    while (time < $deadline) {
        my $rs = IO::Select->new($s);
        my ($rr, $ww) = IO::Select->select($rs,
                                           $out ne '' ? $rs : undef,
                                           undef, 0.05);

        if ($ww && @$ww) {
            my $n = syswrite($s, $out);
            if (defined $n) {
                substr($out, 0, $n) = '';
            } elsif ($! != EAGAIN) {
                $r->{error} = "write: $!";
                $out = '';
            }
        }

        if ($rr && @$rr) {
            my $n = sysread($s, my $buf, 65536);
            if ($n) {
                $r->{response} .= $buf;
                $last = time;
            } elsif (defined $n) {
                $r->{eof} = 'tcp';
                last;
            } elsif ($! != EAGAIN) {
                $r->{eof} = 'error';
                $r->{error} .= "read: $!";
                last;
            }
        }

        if (!$done_at
            && ((defined $o{expect}
                 && length $r->{response} >= length $o{expect})
                || (defined $o{expect_like}
                    && $r->{response} =~ $o{expect_like})))
        {
            $done_at = time + 0.2;
        }

        last if $done_at && time >= $done_at;

        if (time - $last >= $idle) {
            $r->{eof} = 'timeout';
            last;
        }
    }

    $r->{eof} //= 'timeout';
    close $s;
    return $r;
}


# ---- openssl s_client --------------------------------------------------

# s_client(%opts): the same options and result as tls_client, through
# `openssl s_client`.  mode: quiet (-quiet: data only), brief (-brief:
# data on stdout, summary on stderr), full (the whole session dump, for
# ALPN and NPN); the default is full when alpn or npn is asked, brief
# otherwise.  Extra: sigalgs, args (more arguments).  {r} also has
# stdout, stderr, status.
sub s_client {
    my (%o) = @_;

    my $mode = $o{mode}
               || (defined $o{alpn} || defined $o{npn} ? 'full' : 'brief');

    my @cmd = ('openssl', 's_client', '-connect',
               ($o{host} || '127.0.0.1') . ":$o{port}");

    push @cmd, '-quiet' if $mode eq 'quiet';
    push @cmd, '-brief' if $mode eq 'brief';
    push @cmd, defined $o{servername} ? ('-servername', $o{servername})
                                      : ('-noservername');
    push @cmd, '-alpn', join(',', @{SecurePair::Test::Conn::_list($o{alpn})})
        if defined $o{alpn};
    push @cmd, '-nextprotoneg',
               join(',', @{SecurePair::Test::Conn::_list($o{npn})})
        if defined $o{npn};
    push @cmd, '-tls1_2' if ($o{version} || '') eq 'TLSv1.2';
    push @cmd, '-tls1_3' if ($o{version} || '') eq 'TLSv1.3';
    push @cmd, '-cert', cert_path($o{cert}) if defined $o{cert};
    push @cmd, '-key', cert_path($o{key}) if defined $o{key};
    push @cmd, '-CAfile', cert_path($o{ca} || 'ca.crt');
    push @cmd, '-verify_return_error', '-verify', '5'
        if SecurePair::Test::Conn::_on($o{verify});
    push @cmd, '-cipher', $o{ciphers} if defined $o{ciphers};
    push @cmd, '-ciphersuites', $o{ciphersuites} if defined $o{ciphersuites};
    push @cmd, '-sigalgs', $o{sigalgs} if defined $o{sigalgs};
    push @cmd, @{$o{args}} if $o{args};
    push @cmd, '-no_ign_eof';    # after -quiet, which sets -ign_eof

    my $r = { handshake => 'fail', error => '', response => '',
              stdout => '', stderr => '', cmd => "@cmd" };

    my ($in, $out, $err) = (undef, undef, gensym);
    my $pid = open3($in, $out, $err, @cmd);

    $in->autoflush(1);
    binmode $_ for $in, $out, $err;

    my $timeout = ($o{timeout} || 5) * $SLOW;
    my $deadline = time + $timeout;
    my $idle = ($o{read_timeout} || 2) * $SLOW;
    my $sel = IO::Select->new($out, $err);
    my $request = defined $o{request} ? $o{request} : '';
    my $stdin_open = 1;
    my $last = time;
    my $done_at;

    # the request goes once the handshake is through (s_client reads
    # stdin only then anyway); stdin is closed when the answer is in
    syswrite($in, $request) if length $request;

    while ($sel->count && time < $deadline) {
        for my $fh ($sel->can_read(0.1)) {
            my $n = sysread($fh, my $buf, 65536);

            if (!$n) {
                $sel->remove($fh);
                next;
            }

            $r->{$fh == $out ? 'stdout' : 'stderr'} .= $buf;
            $last = time;
        }

        my $data = _s_client_data($r->{stdout}, $mode);

        if ($stdin_open && !$done_at
            && ((defined $o{expect} && length $data >= length $o{expect})
                || (defined $o{expect_like} && $data =~ $o{expect_like})
                || time - $last >= $idle))
        {
            $done_at = time + 0.2;
        }

        if ($stdin_open && $done_at && time >= $done_at) {
            close $in;
            $stdin_open = 0;
        }
    }

    close $in if $stdin_open;

    my $st = SecurePair::Test::wait_child($pid, 3);
    if (!defined $st) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $st = -1;
        $r->{error} .= 's_client did not exit; ';
    }

    $r->{status} = $st;

    _s_client_parse($r, $mode);

    return $r;
}

# The application data in s_client's stdout.
sub _s_client_data {
    my ($stdout, $mode) = @_;

    return $stdout unless $mode eq 'full';

    # the session summary ends with the "---" after "Verify return code"
    return '' unless $stdout =~ /^SSL handshake has read.*?Verify return code:[^\n]*\n(?:[ \t]+[^\n]*\n)*---\n/msg;
    my $data = substr($stdout, pos($stdout));

    $data =~ s/(?:^|(?<=\n))---\nPost-Handshake New Session Ticket arrived:\n.*?\n---\n//sg;
    $data =~ s/(?:^|(?<=\n))read R BLOCK\n//g;
    $data =~ s/(?:^|(?<=\n))DONE\n//g;

    return $data;
}

sub _s_client_parse {
    my ($r, $mode) = @_;
    my ($out, $err) = ($r->{stdout}, $r->{stderr});

    $r->{response} = _s_client_data($out, $mode);

    if ($mode eq 'full') {
        $r->{handshake} = $out =~ /^(?:New|Reused), (TLSv[\d.]+|SSLv3), Cipher is (\S+)/m
                          && $2 ne '(NONE)' ? 'ok' : 'fail';
        $r->{protocol} = $1 if $out =~ /^\s*Protocol\s*: (\S+)/m
                               || $out =~ /^(?:New|Reused), (TLSv[\d.]+)/m;
        $r->{cipher} = $1 if $out =~ /Cipher is (\S+)/;
        $r->{alpn} = $out =~ /^ALPN protocol: (.*)$/m ? $1 : '';
        $r->{npn} = $out =~ /^Next protocol: \(\d\) (.*)$/m ? $1 : '';
        $r->{npn_status} = $1 if $out =~ /^Next protocol: \((\d)\)/m;
        $r->{peer_cn} = $1 if $out =~ /^subject=.*?CN ?= ?([^,\n]*)/m;
        $r->{session_reused} = $out =~ /^Reused,/m ? 1 : 0;
        $r->{peer_sig} = $1 if $out =~ /^Peer signature type: (\S+)/m;
        if ($out =~ /^\s+a:PKEY: (\S+),/m) {
            my $k = $1;
            $r->{peer_key} = $k =~ /rsa/i ? 'RSA' : $k =~ /ec/i ? 'EC' : $k;
        }
    } elsif ($mode eq 'brief') {
        $r->{handshake} = $err =~ /^CONNECTION ESTABLISHED$/m ? 'ok' : 'fail';
        $r->{protocol} = $1 if $err =~ /^Protocol version: (\S+)/m;
        $r->{cipher} = $1 if $err =~ /^Ciphersuite: (\S+)/m;
        $r->{peer_cn} = $1 if $err =~ /^Peer certificate:.*?CN ?= ?([^,\n]*)/m;
        $r->{peer_sig} = $1 if $err =~ /^Signature type: (\S+)/m;
    } else {
        $r->{handshake} = $err =~ /SSL routines|alert|errno=|connect:/
                          ? 'fail' : 'ok';
    }

    $r->{peer_cn} //= '';

    my @errors = grep { /error:|alert|errno=|connect:/ } split /\n/, $err;
    $r->{error} .= join '; ', @errors;
}


# ---- the block runner --------------------------------------------------

sub _kv {
    my ($text, $what) = @_;
    my @kv;

    return () unless defined $text;

    for my $line (split /\n/, $text) {
        next if $line =~ /^\s*(#|$)/;
        $line =~ /^\s*([\w-]+)\s*:\s?(.*?)\s*$/
            or die "bad line in --- $what: \"$line\" (want key: value)\n";
        push @kv, [$1, $2];
    }

    return @kv;
}

# Expected lines: a string of lines, or (after an eval filter) a regex or
# an array of strings and regexes.
sub _patterns {
    my ($t, $v) = @_;
    return () unless defined $v;

    my @items = ref $v eq 'ARRAY' ? @$v : ref $v ? ($v)
              : grep { /\S/ } split /\n/, $v;
    my @p;

    for my $item (@items) {
        if (ref $item eq 'Regexp') {
            push @p, [$item, "$item"];
            next;
        }

        my $s = _subst_expect($t, $item);

        if ($s =~ m{^\s*qr(.)(.*)(?:\1|[\)\}\]>])([imsx]*)\s*$}) {
            my ($re, $flags) = ($2, $3);
            push @p, [($flags ? qr/(?$flags)$re/ : qr/$re/), $s];
        } else {
            push @p, [qr/\Q$s\E/, $s];
        }
    }

    return @p;
}

sub _section {
    my ($block, $name) = @_;
    my @v = $block->$name;
    return undef unless @v;
    return $v[0] if @v == 1;
    return \@v;
}

sub _client_opts {
    my ($block, $t, $expect) = @_;

    my %o = (port => $t->{port}, timeout => _section($block, 'timeout')
                                             || 5);

    for my $kv (_kv(_section($block, 'tls'), 'tls')) {
        $o{$kv->[0]} = _subst($t, $kv->[1]);
    }

    $o{request} = _section($block, 'stream_request');
    $o{request} = '' unless defined $o{request};

    $o{expect} = $expect->{response} if defined $expect->{response};
    $o{expect_like} = $expect->{like} if defined $expect->{like};

    return %o;
}

sub _run_client {
    my (%o) = @_;
    my $client = delete $o{client} || 'io_socket_ssl';

    return s_client(%o) if $client =~ /^(s_client|openssl)$/;
    return raw_client(%o) if $client eq 'raw';
    die "unknown client \"$client\"\n" unless $client eq 'io_socket_ssl';
    return tls_client(%o);
}

sub _failures {
    return scalar grep { !$_ } Test::Builder->new->summary;
}

sub _compare_response {
    my ($got, $want, $name) = @_;

    if (defined $got && $got eq $want) {
        pass($name);
        return;
    }

    if (length($want) <= 400 && length($got // '') <= 400) {
        is($got, $want, $name);
        return;
    }

    fail($name);

    my $i = 0;
    $got //= '';
    $i++ while $i < length($got) && $i < length($want)
               && substr($got, $i, 1) eq substr($want, $i, 1);
    diag("got " . length($got) . " bytes, expected " . length($want)
         . "; first difference at offset $i: got "
         . printable(substr($got, $i, 40)) . ", expected "
         . printable(substr($want, $i, 40)));
}

# For files without blocks: Test::Base runs its own comparisons at the end
# unless a plan was declared, which done_testing() alone does not do.
sub done_testing {
    my $tb = Test::Builder->new;
    plan('no_plan') unless $tb->has_plan;
    return $tb->done_testing(@_);
}

sub run_tests {
    _preflight();

    plan('no_plan') unless Test::Builder->new->has_plan;

    for my $block (blocks()) {
        _run_block($block);
    }
}

sub _run_block {
    my ($block) = @_;

    my $name = $block->name;
    $name =~ s/\s+$//;

    my %config;
    for my $s (qw(main_config stream_config stream_server_config
                  config_raw log_format workers))
    {
        my $v = _section($block, $s);
        $config{$s} = $v if defined $v;
    }

    if (defined $config{workers}) {
        $config{workers} =~ s/\s+//g;
    }

    my $failures = _failures();

    my $t = _new_env(name => $name, %config,
                     backend => _section($block, 'backend'));
    _user_files($t, _section($block, 'user_files'));
    spew($t->{conf_file}, _build_conf($t, %config));

    my $ok = eval { _run_block_in($block, $name, $t); 1 };

    if (!$ok) {
        fail("$name: the harness died: $@");
    }

    stop_nginx($t);

    if (_failures() > $failures || $ENV{TEST_NGINX_KEEP}) {
        diag("$name: test directory kept: $t->{dir}")
            if _failures() > $failures;
    } else {
        remove_tree($t->{dir});
    }
}

# --- user_files: ">>> name [mode]" then the content, for each file
sub _user_files {
    my ($t, $spec) = @_;
    return unless defined $spec;

    my @parts = split /^>>>[ \t]+/m, $spec;
    shift @parts;

    for my $part (@parts) {
        $part =~ s/\A(\S+)(?:[ \t]+([0-7]{3,4}))?[ \t]*\n//
            or die "bad --- user_files entry: $part\n";
        my ($file, $mode) = ($1, $2);
        my $path = "$t->{dir}/$file";

        make_path(dirname($path));
        spew($path, _subst($t, $part));
        chmod oct($mode), $path if defined $mode;
    }
}

sub _run_block_in {
    my ($block, $name, $t) = @_;

    # --- must_die: nginx -t fails, its output says why ------------------

    if (defined $block->must_die) {
        my ($st, $output) = nginx_t($t);

        ok($st != 0, "$name: nginx -t fails")
            or diag("nginx -t output:\n$output");

        for my $p (_patterns($t, _section($block, 'error_log'))) {
            like($output, $p->[0], "$name: nginx -t says $p->[1]")
                or diag("nginx.conf:\n" . _numbered(slurp($t->{conf_file})));
        }

        for my $p (_patterns($t, _section($block, 'no_error_log'))) {
            unlike($output, $p->[0], "$name: nginx -t does not say $p->[1]");
        }

        check_nginx_clean($t, $name, must_die => 1);
        return;
    }

    my %expect;
    $expect{response} = _section($block, 'stream_response');
    my $like = _section($block, 'stream_response_like');

    if (defined $like) {
        $like =~ s/\n+\z//;
        $expect{like} = ref $like ? $like : qr/$like/s;
    }

    my @tls_expect = _kv(_section($block, 'tls_expect'), 'tls_expect');
    my $has_client = grep { defined _section($block, $_) }
                     qw(stream_request stream_response stream_response_like
                        tls tls_expect);

    if (defined $block->nginx_t) {
        my ($st, $output) = nginx_t($t);
        ok($st == 0 && $output =~ /test is successful/,
           "$name: nginx -t passes")
            or diag("nginx -t output:\n$output");

        if (!$has_client) {
            _check_logs($block, $name, $t, 'nginx -t');
            check_nginx_clean($t, $name);
            return;
        }
    }

    if (!_launch($t)) {
        fail("$name: nginx starts");
        diag("$t->{start_error}\nerror.log:\n" . error_log_text($t)
             . slurp("$t->{dir}/nginx.out"));
        check_nginx_clean($t, $name);
        return;
    }

    my @results;

    if ($has_client) {
        my %o = _client_opts($block, $t, \%expect);
        my $n = _section($block, 'clients') || 1;
        $n =~ s/\s+//g;

        if ($n == 1) {
            push @results, _run_client(%o);
        } else {
            push @results, _run_clients($t, $n, %o);
        }
    }

    stop_nginx($t);

    if ($has_client) {
        _check_client($block, $name, $t, \@results, \%expect,
                      \@tls_expect);
    }

    _check_logs($block, $name, $t);
    check_nginx_clean($t, $name);
}

sub _numbered {
    my ($s) = @_;
    my $i = 0;
    return join '', map { sprintf "%3d  %s\n", ++$i, $_ } split /\n/, $s;
}

# N clients at once, each in its own process; results come back through
# Storable files.
sub _run_clients {
    my ($t, $n, %o) = @_;
    my @pids;

    for my $i (1 .. $n) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;

        if ($pid == 0) {
            my $r = eval { _run_client(%o) }
                    || { handshake => 'fail', error => "client died: $@",
                         response => '' };
            nstore($r, "$t->{dir}/client-$i.sto");
            POSIX::_exit(0);
        }

        push @pids, $pid;
    }

    my $deadline = ($o{timeout} || 5) * $SLOW + 10;

    for my $pid (@pids) {
        if (!defined wait_child($pid, $deadline)) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
        }
    }

    my @r;

    for my $i (1 .. $n) {
        my $f = "$t->{dir}/client-$i.sto";
        push @r, -f $f ? retrieve($f)
                       : { handshake => 'fail', response => '',
                           error => "client $i left no result" };
    }

    return @r;
}

sub _expect_value {
    my ($t, $v) = @_;

    if ($v =~ m{^qr/(.*)/([imsx]*)$}) {
        my ($re, $flags) = ($1, $2);
        return $flags ? qr/(?$flags)$re/ : qr/$re/;
    }

    return _subst_expect($t, $v);
}

my %TLS_EXPECT = map { $_ => 1 } qw(alpn npn peer_cn peer_key protocol
    cipher handshake alert session_reused close_notify eof renegotiated
    npn_status peer_sig);

sub _check_client {
    my ($block, $name, $t, $results, $expect, $tls_expect) = @_;

    my $n = @$results;
    my $who = $n > 1 ? "$n clients" : "client";

    # one check over every client: the failing ones are shown
    my $check = sub {
        my ($label, $test) = @_;
        my @bad;

        for my $i (0 .. $#$results) {
            my $why = $test->($results->[$i]);
            push @bad, ($n > 1 ? "client " . ($i + 1) . ": " : '') . $why
                if defined $why;
        }

        ok(!@bad, "$name: $label")
            or diag(join "\n", @bad[0 .. ($#bad > 4 ? 4 : $#bad)],
                    ($n > 1 ? scalar(@bad) . " of $n failed" : ()));
    };

    my %want = map { $_->[0] => $_->[1] } @$tls_expect;

    for my $k (keys %want) {
        die "unknown --- tls_expect key \"$k\"\n" unless $TLS_EXPECT{$k};
    }

    my %tls = map { $_->[0] => $_->[1] } _kv(_section($block, 'tls'), 'tls');
    my $hs = $want{handshake} // $tls{expect_handshake} // 'ok';

    $check->("$who: handshake $hs", sub {
        my ($r) = @_;
        return undef if $r->{handshake} eq $hs;
        return "handshake $r->{handshake}, error: " . ($r->{error} || '-');
    });

    if ($n == 1 && defined $expect->{response}) {
        my $r = $results->[0];
        _compare_response($r->{response}, $expect->{response},
                          "$name: response");
        diag("client error: $r->{error}, end: " . ($r->{eof} // '-'))
            if $r->{response} ne $expect->{response} && $r->{error};
    } elsif (defined $expect->{response}) {
        $check->("$who: response", sub {
            my ($r) = @_;
            return undef if $r->{response} eq $expect->{response};
            return "got " . printable($r->{response}) . " error: "
                   . ($r->{error} || '-');
        });
    }

    if (defined $expect->{like}) {
        $check->("$who: response matches $expect->{like}", sub {
            my ($r) = @_;
            return undef if $r->{response} =~ $expect->{like};
            return "got " . printable($r->{response}) . " error: "
                   . ($r->{error} || '-');
        });
    }

    for my $kv (@$tls_expect) {
        my ($k, $v) = @$kv;
        next if $k eq 'handshake';

        my $want = _expect_value($t, $v);

        if ($k eq 'alert') {
            (my $norm = lc $v) =~ s/_/ /g;
            $check->("$who: error mentions \"$v\"", sub {
                my ($r) = @_;
                (my $e = lc($r->{error} // '')) =~ s/_/ /g;
                return undef if index($e, $norm) >= 0;
                return "error: " . printable($r->{error});
            });
            next;
        }

        $check->("$who: $k is " . (ref $want ? "$want" : "\"$want\""), sub {
            my ($r) = @_;
            my $got = $r->{$k};
            return undef if defined $got
                            && (ref $want ? $got =~ $want : $got eq $want);
            return "$k: " . printable($got) . ", handshake "
                   . $r->{handshake} . ", error: " . ($r->{error} || '-');
        });
    }
}

sub _check_logs {
    my ($block, $name, $t) = @_;

    my $log = error_log_text($t);
    my $access = access_log_text($t);
    my $backend = backend_log_text($t);

    for my $p (_patterns($t, _section($block, 'error_log'))) {
        like($log, $p->[0], "$name: error.log has $p->[1]")
            or diag("error.log:\n" . _tail($log, 25));
    }

    for my $p (_patterns($t, _section($block, 'no_error_log'))) {
        my @hits = grep { $_ =~ $p->[0] } split /\n/, $log;
        ok(!@hits, "$name: error.log lacks $p->[1]")
            or diag(join "\n", "found:", @hits[0 .. ($#hits > 4 ? 4
                                                              : $#hits)]);
    }

    if ((defined _section($block, 'access_log')
         || defined _section($block, 'no_access_log'))
        && !defined _section($block, 'log_format'))
    {
        die "--- access_log needs --- log_format\n";
    }

    for my $p (_patterns($t, _section($block, 'access_log'))) {
        like($access, $p->[0], "$name: access log has $p->[1]")
            or diag("access log:\n" . _tail($access, 20));
    }

    for my $p (_patterns($t, _section($block, 'no_access_log'))) {
        unlike($access, $p->[0], "$name: access log lacks $p->[1]");
    }

    for my $p (_patterns($t, _section($block, 'backend_log'))) {
        like($backend, $p->[0], "$name: backend log has $p->[1]")
            or diag("backend log:\n$backend");
    }
}

sub _tail {
    my ($s, $n) = @_;
    my @l = split /\n/, $s;
    @l = @l[-$n .. -1] if @l > $n;
    return join "\n", @l;
}

1;
