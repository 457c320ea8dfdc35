#!/usr/bin/perl
# The Debian packages of `make deb`, used on this machine as an operator
# would use them: installed with apt beside Debian's nginx, the module
# enabled (modules-enabled/70-mod-stream-securepair.conf, after the stream
# module's 50-), a stream server using securepair included from
# /etc/nginx/nginx.conf, `nginx -t`, then Debian's nginx started from its
# own configuration and a real handshake on the stream server's port.
# Then the module package removed (disabled), installed again (enabled
# again), removed, and every package purged: nothing left enabled or
# installed, /etc/nginx as it was.  Also
# libsecurepair-dev: a program from outside the tree built with
# `pkg-config --cflags --libs securepair` against the installed packages.
#
# Root only (apt, /etc/nginx, Debian's nginx with its http server on port
# 80); skipped, saying why, otherwise.  Whatever happens, the END block
# puts the machine back: nginx stopped, nginx.conf restored, the stream
# file removed, the packages purged.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib abs_path(dirname(__FILE__) . '/../lib');

use Digest::MD5 qw(md5_hex);
use File::Find qw(find);
use File::Temp qw(tempdir);
use IO::Socket::IP;
use IO::Socket::SSL;
use Test::More;

use SecurePair::Env qw(*ROOT *BUILD *CERTS tmp_root);
use SecurePair::Util qw(slurp spew free_port run_cmd spawn wait_port
                        wait_child);

my $NGINX = '/usr/sbin/nginx';
my $ETC = '/etc/nginx';
my $CONF = "$ETC/nginx.conf";
my $STREAM_CONF = "$ETC/stream-securepair-test.conf";
my $ENABLED = "$ETC/modules-enabled/70-mod-stream-securepair.conf";
my $AVAILABLE =
    '/usr/share/nginx/modules-available/mod-stream-securepair.conf';
my $SO = '/usr/lib/nginx/modules/ngx_stream_securepair_module.so';
my $PID_FILE = '/run/nginx.pid';
my $ERROR_LOG = '/var/log/nginx/error.log';
my @PACKAGES = qw(libnginx-mod-stream-securepair libsecurepair0
                  libsecurepair-dev);

plan skip_all => "not root: this test installs the packages with apt, "
    . "writes under /etc/nginx and starts Debian's nginx (make test as "
    . "root, as CI runs it)"
    if $> != 0;

# dpkg's word for a package: installed, config-files, not-installed ...
sub pkg_status {
    my ($pkg) = @_;
    my ($st, $out) = run_cmd(['dpkg-query', '-W', '-f=${Status}', $pkg]);
    return 'not-installed' if $st != 0 || $out eq '';
    return (split ' ', $out)[-1];
}

# a port the test could take: nobody listening, bindable by us
sub port_free {
    my ($addr, $port) = @_;
    my $s = IO::Socket::IP->new(LocalAddr => $addr, LocalPort => $port,
                                Proto => 'tcp', Listen => 1,
                                ReuseAddr => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub nginx_running {
    my $pid = slurp($PID_FILE);
    return $pid =~ /^(\d+)/ && kill(0, $1);
}

# What would stop this test from leaving the machine as it found it.
my $why =
    !-x $NGINX || !-f $CONF ? "no Debian nginx ($NGINX, $CONF)"
  : (grep { pkg_status($_) ne 'not-installed' } @PACKAGES)
        ? 'securepair packages are already installed here: not touching them'
  : -e $STREAM_CONF ? "$STREAM_CONF exists: not touching it"
  : nginx_running() ? "Debian's nginx is running ($PID_FILE)"
  : !port_free('0.0.0.0', 80) || !port_free('::', 80)
        ? "port 80 is taken: Debian's default site could not start"
  : undef;

plan skip_all => $why if $why;

my ($version) = slurp("$ROOT/runtime/securepair.h")
    =~ /^#define SP_VERSION "([^"]+)"/m;
my ($st, $arch) = run_cmd(['dpkg', '--print-architecture']);
chomp $arch;
my (undef, $multiarch) = run_cmd(['dpkg-architecture',
                                  '-qDEB_HOST_MULTIARCH']);
chomp $multiarch;
my %deb = map { $_ => "$BUILD/deb/${_}_${version}_$arch.deb" } @PACKAGES;

for (@PACKAGES) {
    ok(-f $deb{$_}, "make deb built $_ ($deb{$_})")
        or BAIL_OUT("no $deb{$_}: run make deb");
}

# ---- what the machine looks like now, and how to put it back

# every path under /etc/nginx: mode, and a link's target or a file's digest
sub etc_state {
    my %s;
    find({ no_chdir => 1, wanted => sub {
        my @st = lstat $_ or return;
        my $what = -l _ ? 'link ' . readlink($_)
                 : -d _ ? 'dir'
                 : 'file ' . md5_hex(slurp($_));
        $s{$_} = sprintf('%04o %s', $st[2] & 07777, $what);
    } }, $ETC);
    return \%s;
}

my $etc_before = etc_state();
# `nginx -t` makes an empty pid file when there is none
my $pid_file_before = -e $PID_FILE;
my $conf_text = slurp($CONF);
my @conf_stat = stat $CONF;
my $conf_changed = 0;
my $nginx_pid;
my $tmp = tempdir('deb-XXXXXX', DIR => tmp_root(), CLEANUP => 1);

sub apt {
    my (@args) = @_;
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    my ($st, $out, $err) = run_cmd(['apt-get', '-y', '-q',
                                    '-o', 'DPkg::Lock::Timeout=300',
                                    @args], timeout => 600);
    diag("apt-get @args:\n$out$err") if $st != 0;
    return $st == 0;
}

sub restore_conf {
    return unless $conf_changed;
    spew($CONF, $conf_text);
    chmod $conf_stat[2] & 07777, $CONF;
    utime $conf_stat[8], $conf_stat[9], $CONF;
    $conf_changed = 0;
}

# The master and its workers, by pid: QUIT, then TERM, then KILL.  Each
# signal is sent again every second: one that comes while nginx is still
# starting sets its flag, but the master then sleeps until another comes.
sub stop_nginx {
    return unless $nginx_pid;
    # /proc/PID/stat: pid (comm) state ppid ...; comm may hold spaces
    my @workers = grep { my ($ppid) = slurp("/proc/$_/stat")
                                      =~ /\)\s+\S+\s+(\d+)/;
                         ($ppid // 0) == $nginx_pid }
                  map { m{/(\d+)$} ? $1 : () } glob '/proc/[0-9]*';
    my $st;
    SIGNAL: for my $sig (qw(QUIT TERM KILL)) {
        for (1 .. ($sig eq 'QUIT' ? 20 : 5)) {
            kill $sig, $nginx_pid;
            $st = wait_child($nginx_pid, 1);
            last SIGNAL if defined $st;
        }
    }
    kill 'KILL', grep { kill 0, $_ } @workers;
    $nginx_pid = undef;
    return $st;
}

sub remove_empty_pid_file {
    unlink $PID_FILE if !$pid_file_before && -f $PID_FILE && -z _;
}

sub cleanup {
    stop_nginx();
    restore_conf();
    unlink $STREAM_CONF;
    remove_empty_pid_file();
    my @left = grep { pkg_status($_) ne 'not-installed' } @PACKAGES;
    apt('purge', @left) if @left;
}

$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP);

# (not in a child that a signal made exit between fork and exec)
my $test_pid = $$;

END {
    local $?;
    cleanup() if $etc_before && $$ == $test_pid;
}

# ---- the packages, before they are installed

my $lintian = slurp("$BUILD/deb/lintian.txt");
unlike($lintian, qr/^E: /m, 'lintian reports no error')
    or diag($lintian);

my (undef, $depends) = run_cmd(['dpkg-deb', '-f',
                                $deb{'libnginx-mod-stream-securepair'},
                                'Depends']);
my (undef, $provides) = run_cmd(['dpkg-query', '-W', '-f=${Provides}',
                                 'nginx']);
my ($abi) = $provides =~ /(nginx-abi-[\w.+~-]+)/;
ok($abi, "Debian's nginx provides an ABI ($abi)");
like($depends, qr/(^|, )\Q$abi\E(,|$)/m, "the module depends on $abi");

my (undef, $stream_version) = run_cmd(['dpkg-query', '-W', '-f=${Version}',
                                       'libnginx-mod-stream']);
(my $upstream = $stream_version) =~ s/^\d+://;
$upstream =~ s/-[^-]*$//;
like($depends, qr/libnginx-mod-stream \(>= \Q$upstream\E\)/,
     "and on libnginx-mod-stream $upstream");
like($depends, qr/libnginx-mod-stream \(<< \Q$upstream\E\.1~\)/,
     'of that release only');

# ---- installed

ok(apt('install', '--no-install-recommends', map { $deb{$_} } @PACKAGES),
   'apt-get install ./' . join(' ./', map { "$_*.deb" } @PACKAGES));
is(pkg_status($_), 'installed', "$_ installed") for @PACKAGES;

ok(-f $SO, "the module in /usr/lib/nginx/modules");
is(slurp($AVAILABLE), "load_module modules/ngx_stream_securepair_module.so;\n",
   "$AVAILABLE loads it");
is(readlink($ENABLED), $AVAILABLE,
   'enabled on install: modules-enabled/70-mod-stream-securepair.conf');
ok(-l "$ETC/modules-enabled/50-mod-stream.conf",
   'after the stream module (50-mod-stream.conf)');
is(readlink("/usr/lib/$multiarch/libsecurepair.so.0"),
   "libsecurepair.so.$version", "libsecurepair.so.0 -> .so.$version");

($st, my $out, my $err) = run_cmd([$NGINX, '-t']);
is($st, 0, 'nginx -t with the module enabled') or diag($err);

# ---- libsecurepair-dev: an outside program, through pkg-config

{
    local $ENV{PKG_CONFIG_PATH};
    delete $ENV{PKG_CONFIG_PATH};
    my (undef, $mod) = run_cmd(['pkg-config', '--modversion', 'securepair']);
    is($mod, "$version\n", "pkg-config finds securepair $version");

    my (undef, $flags) = run_cmd(['pkg-config', '--cflags', '--libs',
                                  'securepair']);
    chomp $flags;
    like($flags, qr/-lsecurepair\b/, "pkg-config --cflags --libs: $flags");

    my $bin = "$tmp/outside";
    ($st, $out, $err) = run_cmd([$ENV{CC} || 'cc', '-Wall', '-Werror',
                                 '-o', $bin, "$ROOT/t/install/outside.c",
                                 split(' ', $flags)], timeout => 60);
    is($st, 0, 'an outside program builds against libsecurepair-dev')
        or diag($err);
    (undef, $out) = run_cmd(['readelf', '-d', $bin]);
    like($out, qr/\(NEEDED\).*\[libsecurepair\.so\.0\]/,
         'it needs libsecurepair.so.0');
    ($st, $out, $err) = run_cmd([$bin, $CERTS]);
    is($out, "securepair $version: hello over TLSv1.3\n",
       'and runs with the installed library') or diag($err);
}

# ---- a stream server in Debian's layout, Debian's nginx, a handshake

my $port = free_port();

spew($STREAM_CONF, <<"END");
# A TLS echo server on port $port (t/package/deb.t; removed when it ends).
stream {
    server {
        listen 127.0.0.1:$port;
        securepair on;
        securepair_certificate     $CERTS/server-rsa.crt;
        securepair_certificate_key $CERTS/server-rsa.key;
        securepair_alpn_protocols  http/1.1;
        securepair_echo "welcome\\n";
    }
}
END

$conf_changed = 1;
spew($CONF, "$conf_text\n# a stream server (t/package/deb.t)\n"
            . "include $STREAM_CONF;\n");

($st, $out, $err) = run_cmd([$NGINX, '-t']);
is($st, 0, "nginx -t: $CONF includes a stream server using securepair")
    or diag($err);
like($err, qr/test is successful/, 'the test is successful');

my $log_from = -s $ERROR_LOG || 0;
$nginx_pid = spawn("$tmp/nginx.out", $NGINX, '-g', 'daemon off;');
ok(wait_port($port, 20), "Debian's nginx started from $CONF")
    or diag(slurp("$tmp/nginx.out"));
# the sockets listen before the pid file is written
for (1 .. 50) {
    last if slurp($PID_FILE) =~ /^\d+$/m;
    select(undef, undef, undef, 0.1);
}
like(slurp($PID_FILE), qr/^$nginx_pid$/m, "its pid in $PID_FILE");

my $tls = IO::Socket::SSL->new(
    PeerAddr => "127.0.0.1:$port", Timeout => 10,
    SSL_hostname => 'localhost', SSL_verify_mode => SSL_VERIFY_PEER,
    SSL_ca_file => "$CERTS/ca.crt", SSL_alpn_protocols => ['http/1.1']);
ok($tls, 'a TLS handshake, the certificate verified')
    or diag($IO::Socket::SSL::SSL_ERROR);

SKIP: {
    skip 'no connection', 4 unless $tls;

    is($tls->get_sslversion, 'TLSv1_3', 'TLS 1.3');
    is($tls->alpn_selected, 'http/1.1', 'ALPN http/1.1');

    my ($greeting, $echo) = eval {
        local $SIG{ALRM} = sub { die "no answer in 10 s\n" };
        alarm 10;
        my $g = <$tls>;
        print $tls "hello\n";
        my $e = <$tls>;
        alarm 0;
        ($g, $e);
    };
    is($greeting, "welcome\n", 'securepair_echo greets') or diag($@);
    is($echo, "hello\n", 'and echoes');
    close $tls;
}

is(stop_nginx(), 0, 'nginx stopped (QUIT), exit status 0');
ok(!-e $PID_FILE, "$PID_FILE removed");
my $log = substr(slurp($ERROR_LOG), $log_from);
unlike($log, qr/\[(emerg|alert|crit)\]/, "nothing bad in $ERROR_LOG")
    or diag($log);

restore_conf();
unlink $STREAM_CONF;

# ---- removed: disabled; purged: gone

ok(apt('remove', 'libnginx-mod-stream-securepair'),
   'apt-get remove libnginx-mod-stream-securepair');
ok(!-e $ENABLED && !-l $ENABLED, 'disabled on removal');
ok(-l "$ENABLED.removed", 'the link kept as .removed');
ok(!-e $SO, 'the module removed');
($st, $out, $err) = run_cmd([$NGINX, '-t']);
is($st, 0, 'nginx -t without it') or diag($err);

ok(apt('install', $deb{'libnginx-mod-stream-securepair'}),
   'installed again');
is(readlink($ENABLED), $AVAILABLE, 'enabled again');
ok(!-l "$ENABLED.removed", 'the .removed link gone');

# purged from where removal left it: even the .removed link goes
ok(apt('remove', 'libnginx-mod-stream-securepair')
   && -l "$ENABLED.removed", 'removed again');

ok(apt('purge', @PACKAGES), 'apt-get purge ' . join(' ', @PACKAGES));
is(pkg_status($_), 'not-installed', "$_ purged") for @PACKAGES;

my @links = grep { (readlink($_) // '') =~ /securepair/ }
            glob "$ETC/modules-enabled/*";
is_deeply(\@links, [], 'no modules-enabled link left (nor .removed)');

my @left;
for my $pkg (@PACKAGES) {
    my (undef, $list) = run_cmd(['dpkg-deb', '-c', $deb{$pkg}]);
    for (split /\n/, $list) {       # files and links; directories end in /
        my ($path) = m{^\S+ \S+ +\d+ \S+ \S+ \.(/\S*[^/])(?: -> |$)} or next;
        push @left, $path if -e $path || -l $path;
    }
}
is_deeply(\@left, [], 'no file of the packages left');

is_deeply(etc_state(), $etc_before, "$ETC as it was");
remove_empty_pid_file();
is(-e $PID_FILE, $pid_file_before, "$PID_FILE as it was");

done_testing();
