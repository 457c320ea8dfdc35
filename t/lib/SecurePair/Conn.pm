package SecurePair::Conn;

# SecurePair::Conn: one TLS connection through IO::Socket::SSL, as
# tls_connect makes it: non-blocking after the handshake, every wait
# bounded by a deadline.  {r} collects what was seen (see
# SecurePair::Client): the handshake's facts, the response, how the
# connection ended and why it failed.

use strict;
use warnings;

use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::SSL;
use Net::SSLeay;
use Time::HiRes qw(time sleep);

use SecurePair::Env qw(*SLOW);
use SecurePair::Util qw(cert_path comma_list is_on);

# SecurePair::Conn->connect(%opts): see tls_connect in SecurePair::Client.
sub connect {
    my ($class, %o) = @_;

    my $self = bless { r => { handshake => 'fail', error => '',
                              response => '', renegotiated => 0,
                              close_notify => 0 } }, $class;
    my $r = $self->{r};
    my $timeout = ($o{timeout} || 5) * $SLOW;

    my $sock = IO::Socket::INET->new(PeerAddr => $o{host} || '127.0.0.1',
                                     PeerPort => $o{port}, Proto => 'tcp',
                                     Timeout => $timeout);
    if (!$sock) {
        $r->{error} = "connect: $!";
        return $self;
    }

    my %ssl = (
        SSL_verify_mode => is_on($o{verify}) ? SSL_VERIFY_PEER
                                            : SSL_VERIFY_NONE,
        SSL_hostname => defined $o{servername} ? $o{servername} : '',
        SSL_ca_file => cert_path($o{ca} || 'ca.crt'),
        Timeout => $timeout,
    );

    if (is_on($o{verify})) {
        $ssl{SSL_verifycn_scheme} = 'default';
        $ssl{SSL_verifycn_name} = defined $o{servername} ? $o{servername}
                                                         : '127.0.0.1';
    }

    $ssl{SSL_cert_file} = cert_path($o{cert})
        if defined $o{cert};
    $ssl{SSL_key_file} = cert_path($o{key})
        if defined $o{key};
    $ssl{SSL_alpn_protocols} = comma_list($o{alpn}) if defined $o{alpn};
    $ssl{SSL_npn_protocols} = comma_list($o{npn}) if defined $o{npn};
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
    my $idle = ($o{idle} || 2) * $SLOW;
    my $deadline = $o{deadline} || time + 5 * $SLOW;
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
    my $deadline = time + ($o{timeout} || 5) * $SLOW;
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

1;
