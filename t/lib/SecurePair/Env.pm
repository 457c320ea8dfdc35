package SecurePair::Env;

# SecurePair::Env: where things are and how the suites run, read once
# from the environment.  The one place that names the nginx binary and
# the modules it loads; every other part of t/lib and t/stress/run takes
# them from here.
#
#   SP_BUILD                  build directory (default <root>/build)
#   SP_CERTS                  certificates (default $SP_BUILD/certs)
#   TEST_NGINX_BINARY         nginx (default: the one the module was built
#                             for, named in $SP_BUILD/nginx/.nginx, else
#                             /usr/sbin/nginx)
#   TEST_NGINX_STREAM_MODULE  nginx's stream module (likewise)
#   TEST_NGINX_PP_BINARY      an nginx that reads PROXY protocol v2 TLVs,
#                             the backend of t/proxy_protocol.t (default:
#                             the one the Makefile builds, $SP_BUILD/
#                             pp-nginx/nginx-1.26.3/objs/nginx)
#   TEST_NGINX_VALGRIND=1     nginx under valgrind memcheck
#   TEST_NGINX_LOG_LEVEL      error_log level (default info)
#
# The variables are exported as globs, so that `local $LOG_LEVEL` in a
# suite is seen by the code that writes nginx.conf.

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec;

our @EXPORT_OK = qw(*ROOT *LIBDIR *BUILD *CERTS *NGINX *STREAM_MODULE
                    *MODULE *PP_NGINX *VALGRIND *VALGRIND_EXIT *LOG_LEVEL *SLOW
                    tmp_root nginx_version nginx_at_least);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

our $LIBDIR = abs_path(dirname(__FILE__));
our $ROOT = abs_path("$LIBDIR/../../..");

our $BUILD = File::Spec->rel2abs($ENV{SP_BUILD} || "$ROOT/build");
our $CERTS = File::Spec->rel2abs($ENV{SP_CERTS} || "$BUILD/certs");
# the nginx the module was built for (auto/build-module writes it down)
my %BUILT = map { /^(\w+)=(.*)$/ } do {
    my $fh;
    open($fh, '<', "$BUILD/nginx/.nginx") ? <$fh> : ();
};
our $NGINX = $ENV{TEST_NGINX_BINARY} || $BUILT{binary} || '/usr/sbin/nginx';
our $STREAM_MODULE = $ENV{TEST_NGINX_STREAM_MODULE} || $BUILT{stream_module}
                     || '/usr/lib/nginx/modules/ngx_stream_module.so';
our $MODULE = "$BUILD/nginx/objs/ngx_stream_securepair_module.so";
our $PP_NGINX = $ENV{TEST_NGINX_PP_BINARY}
                || "$BUILD/pp-nginx/nginx-1.26.3/objs/nginx";
our $VALGRIND = $ENV{TEST_NGINX_VALGRIND} ? 1 : 0;
our $LOG_LEVEL = $ENV{TEST_NGINX_LOG_LEVEL} || 'info';

# valgrind makes everything ~20 times slower
our $SLOW = $VALGRIND ? 10 : 1;

# the status valgrind exits with when it found an error
our $VALGRIND_EXIT = 97;

# The directory the suites' temporary files go to: inside the build, so
# that `make clean` takes what a kept test directory left.
sub tmp_root {
    my $d = "$BUILD/t";
    make_path($d) unless -d $d;
    return $d;
}

# The version of $NGINX, "1.26.3", asked once (nginx -v).
my $version;

sub nginx_version {
    return $version //= do {
        my $out = `'$NGINX' -v 2>&1`;
        $out =~ m{nginx/(\d+\.\d+\.\d+)} ? $1 : '0.0.0';
    };
}

# Whether $NGINX is this version or later: what a suite runs depends on
# the nginx, e.g. stream server_name since 1.25.5 (the suite skips the
# rest, saying why, so that its count stays the same).
sub nginx_at_least {
    my @want = split /\./, shift;
    my @have = split /\./, nginx_version();

    for my $i (0 .. 2) {
        return $have[$i] > $want[$i] if $have[$i] != $want[$i];
    }

    return 1;
}

1;
