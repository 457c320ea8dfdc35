package SecurePair::Client;

# SecurePair::Client: the clients a test talks to nginx with, all with
# the same options and the same result hash {r}:
#   tls_connect / tls_client   IO::Socket::SSL (SecurePair::Conn)
#   s_client                   `openssl s_client`, for what only it shows
#                              (NPN status, the peer's signature type)
#   raw_client                 plain TCP, no TLS at all

use strict;
use warnings;

use Errno qw(EAGAIN);
use Exporter qw(import);
use IO::Handle;
use IO::Select;
use IO::Socket::INET;
use IPC::Open3 qw(open3);
use Symbol qw(gensym);
use Time::HiRes qw(time sleep);

use SecurePair::Conn;
use SecurePair::Env qw(*SLOW);
use SecurePair::Util qw(cert_path wait_child comma_list is_on);

our @EXPORT_OK = qw(tls_connect tls_client raw_client s_client);

# tls_connect(%opts): connects and shakes hands; returns a
# SecurePair::Conn whose {r} says what was seen.  Options:
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
    return SecurePair::Conn->connect(%o);
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
    push @cmd, '-alpn', join(',', @{comma_list($o{alpn})})
        if defined $o{alpn};
    push @cmd, '-nextprotoneg',
               join(',', @{comma_list($o{npn})})
        if defined $o{npn};
    push @cmd, '-tls1_2' if ($o{version} || '') eq 'TLSv1.2';
    push @cmd, '-tls1_3' if ($o{version} || '') eq 'TLSv1.3';
    push @cmd, '-cert', cert_path($o{cert}) if defined $o{cert};
    push @cmd, '-key', cert_path($o{key}) if defined $o{key};
    push @cmd, '-CAfile', cert_path($o{ca} || 'ca.crt');
    push @cmd, '-verify_return_error', '-verify', '5'
        if is_on($o{verify});
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

    my $st = wait_child($pid, 3);
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

1;
