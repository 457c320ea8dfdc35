package SecurePair::Util;

# SecurePair::Util: the small tools every suite and driver needs: files,
# ports, child processes with deadlines, certificate fields, test data.
# Nothing here knows about nginx or Test::More.

use strict;
use warnings;

use Exporter qw(import);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use SecurePair::Env qw(*CERTS *SLOW tmp_root);

our @EXPORT_OK = qw(slurp spew listener free_port cert_path wait_child run_cmd
                    spawn wait_port cert_field cert_fingerprint slash_name
                    sink_pattern printable comma_list is_on);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# A whole file, '' when it cannot be read.
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

# listener($backlog): a socket listening on a free loopback port (its
# ->sockport).
sub listener {
    my ($backlog) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => $backlog || 1,
                                  ReuseAddr => 1)
        or die "listen on a loopback port: $!";
    return $s;
}

# A free loopback port for a server the test starts later.  It is taken
# outside the kernel's ephemeral range: a port of that range is free only
# until some client's connect() picks it as its own local port, and nginx's
# bind() then fails "Address already in use" (seen in CI: a client of an
# earlier test held the port nginx was given).  Never one this process was
# given before either: two servers of one configuration would share it
# (nginx refuses "duplicate listen options").
my %ports_given;

sub ephemeral_range {
    my $range = slurp('/proc/sys/net/ipv4/ip_local_port_range');
    return ($1, $2) if $range =~ /^\s*(\d+)\s+(\d+)/;
    return (32768, 60999);
}

# The widest run of ports above 1023 the ephemeral range leaves.
sub server_port_range {
    my ($lo, $hi) = ephemeral_range();
    my ($below, $above) = ($lo - 1 - 10000, 65535 - ($hi + 1));
    return (10000, $lo - 1) if $below >= $above && $below >= 1000;
    return ($hi + 1, 65535) if $above >= 1000;
    return (1024, 65535);       # no room outside it: take any free port
}

sub port_is_free {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                  Proto => 'tcp', Listen => 1,
                                  ReuseAddr => 1)
        or return 0;
    close $s;
    return 1;
}

sub free_port {
    my ($lo, $hi) = server_port_range();

    for (1 .. 1000) {
        my $port = $lo + int(rand($hi - $lo + 1));
        next if $ports_given{$port} || !port_is_free($port);
        $ports_given{$port} = 1;
        return $port;
    }

    die "free_port: no free port in $lo-$hi after 1000 tries";
}

# A file of the certificates directory, unless the name is absolute.
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
    my $dir = tempdir('cmd-XXXXXX', DIR => tmp_root(), CLEANUP => 1);

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

# spawn($file, argv...): a child running argv in the background, stdin
# from /dev/null, stdout and stderr to $file; its pid.
sub spawn {
    my ($out, @argv) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec @argv or POSIX::_exit(127);
    }

    return $pid;
}

# wait_port($port, $timeout): true once something accepts connections on
# the loopback port, false at the deadline.
sub wait_port {
    my ($port, $timeout) = @_;
    my $deadline = time + ($timeout || 10);

    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        if ($s) {
            close $s;
            return 1;
        }
        sleep 0.1;
    }

    return 0;
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

# A name in the "/C=UK/ST=Acme State/CN=client" form, as the module's
# variables give it: "C=UK, ST=Acme State, CN=client" is rewritten (nameopt
# compat gives the slash form already).
sub slash_name {
    my ($s) = @_;
    return $s if $s =~ m{^/};
    return '/' . join('/', split /,\s*/, $s);
}

# 16-byte numbered lines: a lost, doubled or misplaced piece shows.
sub sink_pattern {
    my ($n) = @_;
    my $blocks = int($n / 16) + 1;
    my $s = join '', map { sprintf "%015d\n", $_ } 0 .. $blocks - 1;
    return substr($s, 0, $n);
}

# "a,b" or [a, b]: a list (protocol names), undef for undef.
sub comma_list {
    my ($v) = @_;
    return undef unless defined $v;
    return $v if ref $v;
    return [grep { length } split /\s*,\s*/, $v];
}

# A yes of a key: value option: 1, on, yes, true.
sub is_on {
    my ($v) = @_;
    return defined $v && $v =~ /^(1|on|yes|true)$/i;
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

1;
