#!/usr/bin/perl
# make install into a scratch DESTDIR, then a program from outside the tree
# (t/install/outside.c) built with `pkg-config --cflags --libs securepair`
# against what was installed: linked to the shared library, then to the
# static one, and run.  Also what the shared library exports: exactly the
# functions securepair.h declares, all sp_*.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $build = abs_path($ENV{SP_BUILD} || "$root/build");
my $certs = abs_path($ENV{SP_CERTS} || "$build/certs");
my $prefix = '/opt/securepair';
my $dest = tempdir('sp-install-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $lib = "$dest$prefix/lib";

sub run {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    diag("$cmd:\n$out") if $?;
    return ($? == 0, $out);
}

my ($version) = `cat $root/runtime/securepair.h`
    =~ /^#define SP_VERSION "(\d+\.\d+\.\d+)"/m;
ok($version, "securepair.h says its version ($version)");
my $major = (split /\./, $version)[0];

ok((run("make -s -C $root install BUILD=$build PREFIX=$prefix"
        . " DESTDIR=$dest"))[0], "make install PREFIX=$prefix DESTDIR=...");

my $real = "$lib/libsecurepair.so.$version";
ok(-f $real && !-l $real, "libsecurepair.so.$version installed");
is(readlink("$lib/libsecurepair.so.$major"), "libsecurepair.so.$version",
   "libsecurepair.so.$major links to it");
is(readlink("$lib/libsecurepair.so"), "libsecurepair.so.$major",
   'libsecurepair.so links to the SONAME');
ok(-f "$lib/libsecurepair.a", 'the static library');
ok(-f "$dest$prefix/include/securepair.h", 'the header');

my $pc = `cat $lib/pkgconfig/securepair.pc`;
like($pc, qr/^prefix=\Q$prefix\E$/m, 'securepair.pc names the prefix');
like($pc, qr/^Version: \Q$version\E$/m, 'and the version');

my (undef, $dyn) = run("readelf -d $lib/libsecurepair.so.$version");
like($dyn, qr/\(SONAME\)\s+Library soname: \[libsecurepair\.so\.$major\]/,
     "SONAME libsecurepair.so.$major");

# exported: exactly the functions the header declares
my %declared = map { $_ => 1 }
    `cat $root/runtime/securepair.h` =~ /^[a-z].*?[ *](sp_\w+)\(/mg;
my @exported = map { (split)[2] }
    grep { /^\S+ [TDBRW] / } `nm -D --defined-only $lib/libsecurepair.so`;
s/\@.*// for @exported;
is_deeply([grep { !/^sp_/ } @exported], [], 'only sp_* symbols exported');
is_deeply([sort grep { !$declared{$_} } @exported], [],
          'no internal sp_* function exported');
is_deeply([sort grep { my $f = $_; !grep { $_ eq $f } @exported }
           keys %declared], [], 'every declared function exported');

# the outside program, through pkg-config, as a user of the package would
$ENV{PKG_CONFIG_PATH} = "$lib/pkgconfig";
$ENV{PKG_CONFIG_SYSROOT_DIR} = $dest;
my $src = "$root/t/install/outside.c";
my $cc = $ENV{CC} || 'cc';

my ($ok, $flags) = run('pkg-config --cflags --libs securepair');
chomp $flags;
ok($ok, "pkg-config --cflags --libs securepair: $flags");

ok((run("$cc -Wall -Werror -o $dest/outside-shared $src $flags"))[0],
   'an outside program builds against the shared library');
my (undef, $needed) = run("readelf -d $dest/outside-shared");
like($needed, qr/\(NEEDED\).*\[libsecurepair\.so\.$major\]/,
     "it needs libsecurepair.so.$major");
my (undef, $out) = run("LD_LIBRARY_PATH=$lib $dest/outside-shared $certs");
is($out, "securepair $version: hello over TLSv1.3\n",
   'and runs: a handshake and a message in memory');

# static: the library itself from libsecurepair.a, what it needs from
# pkg-config --static (OpenSSL, PCRE2, pthread), shared as usual
my (undef, $cflags) = run('pkg-config --cflags securepair');
my (undef, $libs) = run('pkg-config --static --libs securepair');
chomp($cflags, $libs);
$libs =~ s/(^|\s)-lsecurepair(?=\s|$)/$1-Wl,-Bstatic -lsecurepair -Wl,-Bdynamic/
    or fail("no -lsecurepair in pkg-config --static --libs: $libs");
ok((run("$cc -Wall -Werror -o $dest/outside-static $src $cflags $libs"))[0],
   "an outside program builds against the static library ($libs)");
(undef, $needed) = run("readelf -d $dest/outside-static");
unlike($needed, qr/libsecurepair/, 'it needs no libsecurepair.so');
(undef, $out) = run("$dest/outside-static $certs");
is($out, "securepair $version: hello over TLSv1.3\n", 'and runs');

done_testing();
