package SecurePair::Runner;

# SecurePair::Runner: the data-driven blocks of a test file (the format
# is described in SecurePair::Test).  For every block: a fresh
# environment, nginx -t or nginx started, the client (or N at once), nginx
# stopped, then the expectations (SecurePair::Expect) and the checks that
# follow every block (check_nginx_clean).  A failing block's directory is
# kept and named.

use strict;
use warnings;

use Exporter qw(import);
use File::Path qw(remove_tree);
use POSIX ();
use Storable qw(nstore retrieve);
use Test::Base ();
use Test::More import => [qw(ok like unlike fail diag plan)];

use SecurePair::Client qw(tls_client s_client raw_client);
use SecurePair::Conf qw(build_conf subst user_files);
use SecurePair::Env qw(*SLOW);
use SecurePair::Expect qw(section kv patterns check_client check_logs
                          numbered);
use SecurePair::Nginx qw(preflight new_env nginx_t launch_nginx stop_nginx
                         check_nginx_clean error_log_text failures);
use SecurePair::Util qw(slurp spew wait_child);

our @EXPORT_OK = qw(run_tests done_testing);

# The client's options from a block: --- tls keys, the request, what to
# wait for.
sub _client_opts {
    my ($block, $t, $expect) = @_;

    my %o = (port => $t->{port}, timeout => section($block, 'timeout')
                                            || 5);

    for my $kv (kv(section($block, 'tls'), 'tls')) {
        $o{$kv->[0]} = subst($t, $kv->[1]);
    }

    $o{request} = section($block, 'stream_request');
    $o{request} = '' unless defined $o{request};

    $o{expect} = $expect->{response} if defined $expect->{response};
    $o{expect_like} = $expect->{like} if defined $expect->{like};

    return %o;
}

# client: io_socket_ssl (default), s_client or raw.
sub _run_client {
    my (%o) = @_;
    my $client = delete $o{client} || 'io_socket_ssl';

    return s_client(%o) if $client =~ /^(s_client|openssl)$/;
    return raw_client(%o) if $client eq 'raw';
    die "unknown client \"$client\"\n" unless $client eq 'io_socket_ssl';
    return tls_client(%o);
}

# For files without blocks: Test::Base runs its own comparisons at the end
# unless a plan was declared, which done_testing() alone does not do.
sub done_testing {
    my $tb = Test::Builder->new;
    plan('no_plan') unless $tb->has_plan;
    return $tb->done_testing(@_);
}

# Runs every block of the file (__DATA__), as the file's tests.
sub run_tests {
    preflight();

    plan('no_plan') unless Test::Builder->new->has_plan;

    for my $block (Test::Base::blocks()) {
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
        my $v = section($block, $s);
        $config{$s} = $v if defined $v;
    }

    if (defined $config{workers}) {
        $config{workers} =~ s/\s+//g;
    }

    my $failures = failures();

    my $t = new_env(name => $name, %config,
                    backend => section($block, 'backend'));
    user_files($t, section($block, 'user_files'));
    spew($t->{conf_file}, build_conf($t, %config));

    my $ok = eval { _run_block_in($block, $name, $t); 1 };

    if (!$ok) {
        fail("$name: the harness died: $@");
    }

    stop_nginx($t);

    if (failures() > $failures || $ENV{TEST_NGINX_KEEP}) {
        diag("$name: test directory kept: $t->{dir}")
            if failures() > $failures;
    } else {
        remove_tree($t->{dir});
    }
}

sub _run_block_in {
    my ($block, $name, $t) = @_;

    # --- must_die: nginx -t fails, its output says why ------------------

    if (defined section($block, 'must_die')) {
        my ($st, $output) = nginx_t($t);

        ok($st != 0, "$name: nginx -t fails")
            or diag("nginx -t output:\n$output");

        for my $p (patterns($t, section($block, 'error_log'))) {
            like($output, $p->[0], "$name: nginx -t says $p->[1]")
                or diag("nginx.conf:\n" . numbered(slurp($t->{conf_file})));
        }

        for my $p (patterns($t, section($block, 'no_error_log'))) {
            unlike($output, $p->[0], "$name: nginx -t does not say $p->[1]");
        }

        check_nginx_clean($t, $name, must_die => 1);
        return;
    }

    my %expect;
    $expect{response} = section($block, 'stream_response');
    my $like = section($block, 'stream_response_like');

    if (defined $like) {
        $like =~ s/\n+\z//;
        $expect{like} = ref $like ? $like : qr/$like/s;
    }

    my @tls_expect = kv(section($block, 'tls_expect'), 'tls_expect');
    my $has_client = grep { defined section($block, $_) }
                     qw(stream_request stream_response stream_response_like
                        tls tls_expect);

    if (defined section($block, 'nginx_t')) {
        my ($st, $output) = nginx_t($t);
        ok($st == 0 && $output =~ /test is successful/,
           "$name: nginx -t passes")
            or diag("nginx -t output:\n$output");

        if (!$has_client) {
            check_logs($block, $name, $t, 'nginx -t');
            check_nginx_clean($t, $name);
            return;
        }
    }

    if (!launch_nginx($t)) {
        fail("$name: nginx starts");
        diag("$t->{start_error}\nerror.log:\n" . error_log_text($t)
             . slurp("$t->{dir}/nginx.out"));
        check_nginx_clean($t, $name);
        return;
    }

    my @results;

    if ($has_client) {
        my %o = _client_opts($block, $t, \%expect);
        my $n = section($block, 'clients') || 1;
        $n =~ s/\s+//g;

        if ($n == 1) {
            push @results, _run_client(%o);
        } else {
            push @results, _run_clients($t, $n, %o);
        }
    }

    stop_nginx($t);

    if ($has_client) {
        check_client($block, $name, $t, \@results, \%expect,
                      \@tls_expect);
    }

    check_logs($block, $name, $t);
    check_nginx_clean($t, $name);
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

1;
