#!/usr/bin/perl
#
# The load-and-faults suite, scaled down for make test: t/stress/run
# --quick (two soak rounds, two rounds with reloads and a SIGKILLed
# worker, every kind of hostile client).  `make stress` runs the full one.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/..');
my $build = abs_path($ENV{SP_BUILD} || "$root/build");

plan skip_all => 'the stress suite is not run under valgrind (hours); '
                 . 'its fault paths run there through security.t and echo.t'
    if $ENV{TEST_NGINX_VALGRIND};

my $out = `perl $root/t/stress/run --quick --dir $build/stress-quick 2>&1`;
my $status = $? >> 8;

is($status, 0, 't/stress/run --quick passed')
    or diag($out);

sub figure {
    my ($what) = @_;
    return $out =~ /^\Q$what\E\s+(\d+)\s*$/m ? $1 : undef;
}

is(figure('connections lost that should have lived'), 0, 'nothing lost');
is(figure('worker crashes (besides the SIGKILLs)'), 0, 'no crash');
is(figure('[alert] lines (besides the kills)'), 0, 'no [alert]');
is(figure('[crit] / [emerg] lines'), 0, 'no [crit]');
cmp_ok(figure('honest connections completed') // 0, '>=', 2000,
       'the honest clients completed');
cmp_ok(figure('workers killed with SIGKILL') // 0, '>=', 2,
       'a worker was killed in each faults round');
cmp_ok(figure('reloads') // 0, '>=', 2, 'nginx was reloaded under load');
unlike($out, qr/^\s+round \d+: /m, 'every hostile client was handled');

done_testing();
