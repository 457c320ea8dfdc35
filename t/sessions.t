#!/usr/bin/perl
#
# t/sessions.t: session resumption through nginx (issue 6): by session id
# through a shared zone and by ticket, TLS 1.2 and 1.3, across two workers
# and across `nginx -s reload`; ticket key rotation; a tiny zone under many
# sessions; session-id and SNI contexts; client-certificate sessions; the
# number of TLS 1.3 tickets; $securepair_session_id and
# $securepair_session_reused; configuration errors.
#
# The client is `openssl s_client` (-sess_out / -sess_in, -reconnect), in
# its full mode, which says "New," or "Reused,".  Every connection is also
# seen through the access log, with $pid: the servers listen with
# `reuseport`, so with two workers the kernel spreads connections over both
# by their source port, and a session made in one worker is resumed in the
# other.  Clients run one after another, and each waits for its access log
# line, so the N-th line is the N-th connection's.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;

use File::Path qw(make_path);
use POSIX ();
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);


# ---- helpers -----------------------------------------------------------

my $LOG = '|pid=$pid|port=$server_port|reused=$securepair_session_reused'
        . '|id=$securepair_session_id|proto=$securepair_protocol'
        . '|sni=$securepair_servername|sent=$bytes_sent|';

my $LOG_PEER = $LOG . 'authorized=$securepair_authorized'
             . '|error=$securepair_authorization_error'
             . '|subject=$securepair_peer_subject'
             . '|issuer=$securepair_peer_issuer|cn=$securepair_peer_cn'
             . '|fp=$securepair_peer_fingerprint'
             . '|from=$securepair_peer_valid_from'
             . '|to=$securepair_peer_valid_to|';

# Ticket keys, made once for the whole file (openssl rand, as the README
# says): K1 80 bytes (AES-256), K2 48 bytes (AES-128), K3 80 bytes.
make_path("$BUILD/t");
my $KEYS = tempdir('sessions-keys-XXXXXX', DIR => "$BUILD/t", CLEANUP => 1);
my %KEY;

for my $k (['k1', 80], ['k2', 48], ['k3', 80]) {
    my ($name, $size) = @$k;
    my ($st, $out, $err) = run_cmd(['openssl', 'rand', '-out',
                                    "$KEYS/$name.key", $size]);
    die "openssl rand: $err" if $st != 0 || -s "$KEYS/$name.key" != $size;
    open my $fh, '<', "$KEYS/$name.key" or die "$KEYS/$name.key: $!";
    binmode $fh;
    local $/;
    $KEY{$name} = <$fh>;
    close $fh;
}

# The 16-byte name that starts a key, in hex: it starts the tickets the
# key encrypts too.
sub key_name { return unpack('H*', substr($KEY{$_[0]}, 0, 16)) }

# One stream server: listens with reuseport, the RSA certificate, then the
# given directives.
sub server {
    my ($port, $body) = @_;
    my $s = "server {\n"
          . "    listen 127.0.0.1:$port reuseport;\n"
          . "    securepair on;\n"
          . "    securepair_certificate %%CERTS%%/server-rsa.crt;\n"
          . "    securepair_certificate_key %%CERTS%%/server-rsa.key;\n";
    $s .= "    $_\n" for grep { /\S/ } split /\n/, $body;
    return $s . "}\n";
}

# The access log as parsed lines, once it has at least $n of them (or at
# the deadline).
sub log_lines {
    my ($t, $n) = @_;
    return [map { parse_log($_) } access_lines($t, $n)];
}

# One s_client connection, full mode: sends "ping\n", expects the greeting
# and the echo.  in / out: -sess_in / -sess_out; msg: -msg into a file
# ({msg} has its text); port, version, servername, cert, key, args as
# s_client's.  {log}: its access log line, parsed.
#
# s_client writes the application data straight to fd 1 but its own
# report through a buffered BIO, so when the report is long (TLS 1.3
# tickets that carry a client certificate are dumped in full) the data
# lands wherever the buffer was flushed, even inside a ticket's dump.
# {served}: the greeting and the echo came, in this order; {text}: stdout
# without them, s_client's report as it printed it; {reused}: what the
# report says ("New," / "Reused,").
my $conn_n = 0;

sub conn {
    my ($t, %o) = @_;

    my $before = () = access_lines($t, 0);
    my $greeting = delete $o{greeting};
    $greeting = "welcome!\n" unless defined $greeting;

    my @args = @{delete $o{args} || []};
    my $in = delete $o{in};
    my $out = delete $o{out};
    my $msg = delete $o{msg} ? "$t->{dir}/msg-" . ++$conn_n . ".txt" : undef;
    push @args, '-sess_in', $in if defined $in;
    push @args, '-sess_out', $out if defined $out;
    push @args, '-msgfile', $msg, '-msg' if defined $msg;

    my $want = "${greeting}ping\n";
    my $r = s_client(port => $t->{port}, mode => 'full', request => "ping\n",
                     expect_like => qr/\Q$greeting\E(?s:.*)ping\n/, %o,
                     args => \@args);

    my $text = $r->{stdout};
    my $i = index($text, $greeting);
    my $j = $i >= 0 ? index($text, "ping\n", $i + length $greeting) : -1;

    if ($j >= 0) {
        substr($text, $j, 5) = '';
        substr($text, $i, length $greeting) = '';
    }

    $r->{served} = $j >= 0 ? 1 : 0;
    $r->{text} = $text;
    $r->{reused} = $text =~ /^Reused, TLSv/m ? 1
                 : $text =~ /^New, TLSv/m ? 0 : undef;
    $r->{want} = $want;
    $r->{msg} = defined $msg ? slurp($msg) : '';
    $r->{log} = log_lines($t, $before + 1)->[$before] || { line => '' };
    return $r;
}

# The three facts about one connection: it was served (the client got the
# greeting and the echo; the server counted their bytes in $bytes_sent),
# the client says New or Reused, $securepair_session_reused says . or r.
sub check_conn {
    my ($r, $reused, $label) = @_;
    my $how = $reused ? 'resumed' : 'full handshake';

    ok($r->{served} && ($r->{log}{sent} // '') eq length $r->{want},
       "$label: served (greeting and echo, \$bytes_sent "
       . length($r->{want}) . ")")
        or diag("handshake $r->{handshake}, error: $r->{error}\n"
                . "log: $r->{log}{line}\n$r->{cmd}\n$r->{stderr}");
    is($r->{reused}, $reused ? 1 : 0,
       "$label: the client says " . ($reused ? '"Reused"' : '"New"'));
    is($r->{log}{reused}, $reused ? 'r' : '.',
       "$label: \$securepair_session_reused is "
       . ($reused ? 'r' : '.') . " ($how)")
        or diag("access log line: $r->{log}{line}");
}

# The NewSessionTicket messages in a -msg text: the name of each ticket
# (its first 16 bytes, the encrypting key's name), in hex.
sub msg_tickets {
    my ($msg) = @_;
    my @names;

    while ($msg =~ /^<<< TLS 1\.([23]), Handshake \[length [0-9a-f]+\], NewSessionTicket\n((?:[ \t]+(?:[0-9a-f]{2} ?)+\n)+)/mg) {
        my ($minor, $hex) = ($1, $2);
        $hex =~ s/\s+//g;
        my $b = pack('H*', $hex);

        # type, length (4), lifetime (4); TLS 1.3: age_add (4), nonce
        my $off = 8;
        $off += 4 + 1 + ord(substr($b, 12, 1)) if $minor == 3;
        $off += 2;    # the ticket's length
        push @names, unpack('H*', substr($b, $off, 16));
    }

    return @names;
}

# openssl sess_id -text of a session file.
sub sess_text {
    my ($file) = @_;
    return '' unless -s $file;
    my ($st, $out, $err) = run_cmd(['openssl', 'sess_id', '-in', $file,
                                    '-noout', '-text']);
    return $st == 0 ? $out : "error: $err";
}

# The first 16 bytes of a session file's ticket (the name of the key that
# encrypted it), in hex; '' without a ticket.
sub ticket_name {
    my ($file) = @_;
    my $text = sess_text($file);
    return '' unless $text =~ /TLS session ticket:\n\s*0000 - ([0-9a-f -]{47})/;
    (my $hex = $1) =~ s/[ -]//g;
    return $hex;
}

# The length of a session file's ticket, 0 without one.
sub ticket_len {
    my ($file) = @_;
    my $text = sess_text($file);
    return 0 unless $text =~ /TLS session ticket:\n((?:\s*[0-9a-f]{4} - [^\n]*\n)+)/;
    my $n = 0;
    for my $line (split /\n/, $1) {
        $line =~ /^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){0,15}[0-9a-f]{2})/
            or next;
        $n += () = $1 =~ /[0-9a-f]{2}/g;
    }
    return $n;
}

my $ECHO = qq{securepair_echo "welcome!\\n";\n};
my $BY_ID = "securepair_session_tickets off;\n";
my $BY_TICKET = "securepair_session_cache none;\n";

# The two ways a server resumes, as directives: by session id (a zone of
# its own, named $zone) and by ticket (with $ticket_extra).
sub resumption_modes {
    my ($zone, $ticket_extra) = @_;
    return (['by session id', $BY_ID
                              . "securepair_session_cache shared:$zone:1m;\n"],
            ['by ticket', $BY_TICKET . ($ticket_extra // '')]);
}


# ---- resumption across two workers: by id, by ticket, TLS 1.2 and 1.3 ----

for my $mode (resumption_modes('SP'))
{
    my ($how, $directives) = @$mode;
    my $name = "two workers, $how";

    my $t = start_nginx(name => $name, workers => 2, master => 1,
                        log_format => $LOG,
                        config_raw => server('%%PORT%%', $directives . $ECHO));
    nginx_started($t, $name);

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        my $label = "$name, $v";
        my $sess = "$t->{dir}/$v.pem";

        my $full = conn($t, version => $v, out => $sess);
        check_conn($full, 0, "$label: first connection");
        is($full->{log}{proto}, $v, "$label: \$securepair_protocol is $v");
        ok(-s $sess, "$label: s_client -sess_out wrote the session");

        my $text = sess_text($sess);

        if ($v eq 'TLSv1.2' && $how eq 'by session id') {
            unlike($text, qr/TLS session ticket:/,
                   "$label: tickets off: the session has no ticket");
            like($full->{log}{id}, qr/^[0-9a-f]{64}$/,
                 "$label: \$securepair_session_id is 64 lower-case hex "
                 . "digits, as nginx's \$ssl_session_id");
            my ($sid) = $text =~ /Session-ID: ([0-9A-F]*)/;
            is($full->{log}{id}, lc $sid, "$label: \$securepair_session_id "
                                          . "is the id the client got");
        } elsif ($v eq 'TLSv1.2') {
            like($text, qr/TLS session ticket:/,
                 "$label: the client got a ticket");
        } elsif ($how eq 'by ticket') {
            cmp_ok(ticket_len($sess), '>', 100,
                   "$label: the client got a TLS 1.3 ticket that carries "
                   . "the session (" . ticket_len($sess) . " bytes)");
        } else {
            is(ticket_len($sess), 32,
               "$label: tickets off: the TLS 1.3 ticket is only the "
               . "32-byte id of a session in the zone");
        }

        # resumptions until a worker other than the first one resumed the
        # session, and at least four
        my @res;
        my %pids;

        for my $i (1 .. 24) {
            my $r = conn($t, version => $v, in => $sess);
            push @res, $r;
            $pids{$r->{log}{pid} // ''}++;
            last if $i >= 4 && grep { $_ ne $full->{log}{pid} } keys %pids;
        }

        my @bad = grep { ($_->{reused} // -1) != 1
                         || ($_->{log}{reused} // '') ne 'r'
                         || !$_->{served} } @res;
        ok(!@bad, "$label: all " . scalar(@res) . " connections with "
                  . "-sess_in resumed (client: Reused, log: r) and echoed")
            or diag(join "\n", map { "reused=" . ($_->{reused} // '-')
                                     . " served=$_->{served} log="
                                     . "$_->{log}{line}" } @bad);

        my @other = grep { $_ ne $full->{log}{pid} } keys %pids;
        ok(@other > 0, "$label: a worker other than the one that made the "
                       . "session resumed it (made in $full->{log}{pid}, "
                       . "resumed in " . join(', ', sort keys %pids) . ")");

        if ($v eq 'TLSv1.2' && $how eq 'by session id') {
            my @ids = grep { $_->{log}{id} ne $full->{log}{id} } @res;
            ok(!@ids, "$label: \$securepair_session_id is the same on every "
                      . "resumed connection as on the full one")
                or diag(join "\n", map { $_->{log}{line} } @ids);
        }
    }

    # -reconnect: one full handshake, then five resumptions
    my $before = () = access_lines($t, 0);
    my $r = s_client(port => $t->{port}, version => 'TLSv1.2', mode => 'full',
                     request => "ping\n", expect => "welcome!\nping\n",
                     args => ['-reconnect']);
    my $new = () = $r->{stdout} =~ /^New, TLSv1\.2/mg;
    my $reused = () = $r->{stdout} =~ /^Reused, TLSv1\.2/mg;

    is("$new/$reused", '1/5', "$name, TLSv1.2 -reconnect: s_client says New "
                              . "once, then Reused five times");

    my @l = @{log_lines($t, $before + 6)}[$before .. $before + 5];
    my %seen;
    $seen{$_->{reused} // '-'}++ for grep { defined } @l;
    is(join(',', map { "$_=$seen{$_}" } sort keys %seen), '.=1,r=5',
       "$name, TLSv1.2 -reconnect: the access log has one . and five r");

    stop_nginx($t);
    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- nothing resumes by id without a shared cache -------------------------

{
    my $name = 'tickets off, no shared cache';
    my $t = start_nginx(name => $name, log_format => $LOG,
                        config_raw => server('%%PORT%%',
                                             $BY_ID . "securepair_session_cache"
                                             . " off;\n" . $ECHO)
                                      . server('%%PORT2%%',
                                               $BY_ID . "securepair_session_"
                                               . "cache none;\n" . $ECHO));

    for my $p (['off', $t->{port}], ['none', $t->{port2}]) {
        for my $v (qw(TLSv1.2 TLSv1.3)) {
            my $label = "$name: securepair_session_cache $p->[0], $v";
            my $sess = "$t->{dir}/$p->[0]-$v.pem";
            my $full = conn($t, port => $p->[1], version => $v, out => $sess);
            check_conn($full, 0, "$label, first connection");

            if ($v eq 'TLSv1.2') {
                # the client keeps the id it was given; nobody resumes it
                like(sess_text($sess), qr/Session-ID: [0-9A-F]{64}/,
                     "$label: the client got a session id");
                check_conn(conn($t, port => $p->[1], version => $v,
                                in => $sess),
                           0, "$label, -sess_in");
            } else {
                # no ticket can be sent: neither a session nor a cache
                ok(!-s $sess && $full->{text} !~ /Post-Handshake New Session Ticket/,
                   "$label: no NewSessionTicket, s_client wrote no session");
            }
        }
    }

    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- tickets on and a shared cache: a client without tickets uses the id -

{
    my $name = 'tickets and shared cache, client -no_ticket';
    my $t = start_nginx(name => $name, workers => 2, master => 1,
                        log_format => $LOG,
                        config_raw => server('%%PORT%%',
                                             "securepair_session_cache "
                                             . "shared:BOTH:1m;\n$ECHO"));

    my $f = "$t->{dir}/s.pem";
    my $full = conn($t, version => 'TLSv1.2', out => $f,
                    args => ['-no_ticket']);
    check_conn($full, 0, "$name: first connection");
    is(ticket_len($f), 0, "$name: the client has no ticket");
    like($full->{log}{id}, qr/^[0-9a-f]{64}$/,
         "$name: \$securepair_session_id is 64 lower-case hex digits");

    # until a second worker has resumed it (a varying number of
    # connections, checked all at once)
    my (%pids, @bad);
    my $n = 0;
    for my $i (1 .. 16) {
        my $r = conn($t, version => 'TLSv1.2', in => $f,
                     args => ['-no_ticket']);
        $n++;
        push @bad, "resumption $i (worker " . ($r->{log}{pid} // '?')
                   . "): served=" . ($r->{served} ? 1 : 0) . " reused="
                   . ($r->{reused} // '-') . " log="
                   . ($r->{log}{line} // '')
            if !$r->{served}
               || ($r->{log}{sent} // '') ne length $r->{want}
               || ($r->{reused} // 0) != 1
               || ($r->{log}{reused} // '') ne 'r'
               || ($r->{log}{id} // '') ne $full->{log}{id};
        $pids{$r->{log}{pid} // ''}++;
        last if $i >= 2 && grep { $_ ne $full->{log}{pid} } keys %pids;
    }

    ok(!@bad, "$name: all $n resumptions were served, resumed (client "
              . "and \$securepair_session_reused) with the full "
              . "handshake's \$securepair_session_id")
        or diag(join "\n", @bad);

    ok((grep { $_ ne $full->{log}{pid} } keys %pids),
       "$name: another worker than the full handshake's resumed it");

    stop_nginx($t);
    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- nginx -s reload: same keys and same zone resume; a new size does not -

{
    my $name = 'reload, tickets';
    my $cfg = sub {
        my ($greeting) = @_;
        my $echo = qq{securepair_echo "$greeting\\n";\n};
        return server('%%PORT%%', $BY_TICKET . "securepair_session_ticket_key"
                                  . " $KEYS/k1.key;\n" . $echo)
             . server('%%PORT2%%', $BY_TICKET . $echo);
    };

    my $t = start_nginx(name => $name, workers => 2, master => 1,
                        log_format => $LOG, config_raw => $cfg->('v1'));

    my %s;
    for my $v (qw(TLSv1.2 TLSv1.3)) {
        for my $p (['key', $t->{port}], ['random', $t->{port2}]) {
            my $f = "$t->{dir}/$p->[0]-$v.pem";
            check_conn(conn($t, port => $p->[1], version => $v, out => $f,
                            greeting => "v1\n"),
                       0, "$name: $v, $p->[0] key, before the reload");
            $s{"$p->[0] $v"} = $f;
        }
    }

    ok(reload_nginx($t, config_raw => $cfg->('v2')),
       "$name: nginx -s reload (greeting v2)")
        or diag($t->{reload_error});

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        check_conn(conn($t, version => $v, in => $s{"key $v"},
                        greeting => "v2\n"),
                   1, "$name: $v, after the reload, the same key file");
        check_conn(conn($t, port => $t->{port2}, version => $v,
                        in => $s{"random $v"}, greeting => "v2\n"),
                   0, "$name: $v, after the reload, no key file (a new "
                      . "random key, as documented)");
    }

    stop_nginx($t);
    no_errors($t, $name);
    done_nginx($t, $name);
}

{
    my $name = 'reload, shared cache';
    my $cfg = sub {
        my ($greeting, $size) = @_;
        return server('%%PORT%%', $BY_ID . "securepair_session_cache "
                                  . "shared:RELOAD:$size;\n"
                                  . qq{securepair_echo "$greeting\\n";\n});
    };

    my $t = start_nginx(name => $name, workers => 2, master => 1,
                        log_format => $LOG, config_raw => $cfg->('v1', '1m'));

    my %s;
    for my $v (qw(TLSv1.2 TLSv1.3)) {
        $s{$v} = "$t->{dir}/$v.pem";
        check_conn(conn($t, version => $v, out => $s{$v}, greeting => "v1\n"),
                   0, "$name: $v, before the reload");
    }

    ok(reload_nginx($t, config_raw => $cfg->('v2', '1m')),
       "$name: nginx -s reload, the zone's size unchanged (greeting v2)")
        or diag($t->{reload_error});

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        check_conn(conn($t, version => $v, in => $s{$v}, greeting => "v2\n"),
                   1, "$name: $v, after a reload with the same size");
    }

    ok(reload_nginx($t, config_raw => $cfg->('v3', '2m')),
       "$name: nginx -s reload, the zone now 2m (greeting v3)")
        or diag($t->{reload_error});

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        check_conn(conn($t, version => $v, in => $s{$v}, greeting => "v3\n"),
                   0, "$name: $v, after the size changed: a new zone");

        my $f = "$t->{dir}/new-$v.pem";
        check_conn(conn($t, version => $v, out => $f, greeting => "v3\n"),
                   0, "$name: $v, a new session in the new zone");
        check_conn(conn($t, version => $v, in => $f, greeting => "v3\n"),
                   1, "$name: $v, the new zone resumes");
    }

    stop_nginx($t);
    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- ticket key rotation: [K1], then [K2, K1], then [K2] -----------------

{
    my $name = 'key rotation';
    my $cfg = sub {
        return server('%%PORT%%', $BY_TICKET . join('', map {
                    "securepair_session_ticket_key $KEYS/$_.key;\n" } @_)
                . $ECHO);
    };

    my $t = start_nginx(name => $name, workers => 2, master => 1,
                        log_format => $LOG, config_raw => $cfg->('k1'));

    my (%old, %new, %renewed);
    for my $v (qw(TLSv1.2 TLSv1.3)) {
        $old{$v} = "$t->{dir}/k1-$v.pem";
        my $r = conn($t, version => $v, out => $old{$v}, msg => 1);
        check_conn($r, 0, "$name: $v, [K1]: first connection");
        is(ticket_name($old{$v}), key_name('k1'),
           "$name: $v, [K1]: the ticket is named by K1");
        is(join(',', msg_tickets($r->{msg})), key_name('k1'),
           "$name: $v, [K1]: -msg: one NewSessionTicket, named by K1");
    }

    # TLS 1.2: a ticket under the key that encrypts is not renewed
    my $r = conn($t, version => 'TLSv1.2', in => $old{'TLSv1.2'}, msg => 1);
    check_conn($r, 1, "$name: TLSv1.2, [K1]: the K1 ticket");
    is(scalar(msg_tickets($r->{msg})), 0,
       "$name: TLSv1.2, [K1]: -msg: no NewSessionTicket (not renewed)");

    ok(reload_nginx($t, config_raw => $cfg->('k2', 'k1')),
       "$name: reload to [K2 (48 bytes), K1]")
        or diag($t->{reload_error});

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        $renewed{$v} = "$t->{dir}/renewed-$v.pem";
        my $r = conn($t, version => $v, in => $old{$v}, out => $renewed{$v},
                     msg => 1);
        check_conn($r, 1, "$name: $v, [K2, K1]: the K1 ticket");

        my @names = msg_tickets($r->{msg});
        ok(@names && !grep({ $_ ne key_name('k2') } @names),
           "$name: $v, [K2, K1]: -msg: the server sent a new ticket, named "
           . "by K2 (" . scalar(@names) . " NewSessionTicket)")
            or diag("names: @names; K2 " . key_name('k2') . "; K1 "
                    . key_name('k1'));

        # (an OpenSSL TLS 1.2 client does not store a session it resumed:
        # s_client -sess_out keeps TLS 1.3 tickets only)
        if ($v eq 'TLSv1.3') {
            is(ticket_name($renewed{$v}), key_name('k2'),
               "$name: $v, [K2, K1]: s_client kept the new ticket, named "
               . "by K2");
        }

        $new{$v} = "$t->{dir}/k2-$v.pem";
        check_conn(conn($t, version => $v, out => $new{$v}), 0,
                   "$name: $v, [K2, K1]: a new client");
        is(ticket_name($new{$v}), key_name('k2'),
           "$name: $v, [K2, K1]: its ticket is named by K2");
    }

    ok(reload_nginx($t, config_raw => $cfg->('k2')),
       "$name: reload to [K2]")
        or diag($t->{reload_error});

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        check_conn(conn($t, version => $v, in => $old{$v}), 0,
                   "$name: $v, [K2]: the K1 ticket is refused");
        check_conn(conn($t, version => $v, in => $new{$v}), 1,
                   "$name: $v, [K2]: the K2 ticket resumes");
    }

    check_conn(conn($t, version => 'TLSv1.3', in => $renewed{'TLSv1.3'}), 1,
               "$name: TLSv1.3, [K2]: the ticket renewed under [K2, K1] "
               . "resumes");

    ok(reload_nginx($t, config_raw => $cfg->('k3')),
       "$name: reload to [K3]")
        or diag($t->{reload_error});

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        check_conn(conn($t, version => $v, in => $new{$v}), 0,
                   "$name: $v, [K3]: the K2 ticket is refused");
    }

    stop_nginx($t);
    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- a tiny zone under many sessions: evicts, keeps working --------------
#
# 8 pages (32k with 4k pages) is the least the module takes; it holds a few
# dozen TLS 1.2 sessions.

{
    my $name = 'tiny zone';
    my $min = 8 * (POSIX::sysconf(POSIX::_SC_PAGESIZE()) || 4096);
    my $n = 300;

    my $t = start_nginx(name => $name, workers => 2, master => 1,
                        log_format => $LOG,
                        config_raw => server('%%PORT%%', $BY_ID
                                             . "securepair_session_cache "
                                             . "shared:TINY:$min;\n"
                                             . $ECHO));
    ok(!$t->{start_error}, "$name: nginx starts with a zone of $min bytes")
        or diag($t->{start_error} . error_log_text($t));

    my $oldest = "$t->{dir}/oldest.pem";
    check_conn(conn($t, version => 'TLSv1.2', out => $oldest), 0,
               "$name: the oldest session");

    my $start = time;
    my ($ok, $reused) = (0, 0);

    for my $i (1 .. $n) {
        my $c = tls_connect(port => $t->{port}, version => 'TLSv1.2');
        $ok++ if $c->r->{handshake} eq 'ok';
        $reused++ if $c->r->{session_reused};
        $c->close;
    }

    is($ok, $n, sprintf("$name: $n more full TLS 1.2 handshakes succeed "
                        . "(%.1fs)", time - $start));
    is($reused, 0, "$name: none of them resumed");

    # their sessions end on their own time: let them all be logged before
    # the next connection looks for its line
    is(scalar @{log_lines($t, $n + 1)}, $n + 1,
       "$name: all of them are in the access log");

    my $newest = "$t->{dir}/newest.pem";
    check_conn(conn($t, version => 'TLSv1.2', out => $newest), 0,
               "$name: the newest session");
    check_conn(conn($t, version => 'TLSv1.2', in => $newest), 1,
               "$name: the newest session resumes");
    check_conn(conn($t, version => 'TLSv1.2', in => $oldest), 0,
               "$name: the oldest session was evicted: a full handshake");

    # and the zone still takes sessions after all that
    my $again = "$t->{dir}/again.pem";
    check_conn(conn($t, version => 'TLSv1.2', out => $again), 0,
               "$name: a new session after the evictions");
    check_conn(conn($t, version => 'TLSv1.2', in => $again), 1,
               "$name: a session made after the evictions resumes");

    my $lines = log_lines($t, $n + 6);
    my @bad = grep { ($_->{proto} // '') ne 'TLSv1.2' } @$lines;
    is(scalar @$lines, $n + 6, "$name: every connection is in the access "
                               . "log, and no more");
    ok(!@bad, "$name: every connection negotiated TLS 1.2")
        or diag(join "\n", map { $_->{line} } @bad[0 .. ($#bad > 4 ? 4
                                                                   : $#bad)]);

    stop_nginx($t);
    no_errors($t, $name);
    unlike(error_log_text($t), qr/ngx_slab_alloc\(\) failed|no memory/,
           "$name: no allocation failure is logged");
    done_nginx($t, $name);
}


# ---- another session-id context, the same zone: a full handshake ---------
#
# Four servers share one zone (by id) or one ticket key (by ticket); the
# first and the third say securepair_session_id_context "one", the second
# "two"; the fourth "one" too but asks for client certificates, a
# different verification policy.

for my $mode (resumption_modes('IDC', "securepair_session_ticket_key "
                                      . "$KEYS/k1.key;\n"))
{
    my ($how, $directives) = @$mode;
    my $name = "session id context, $how";
    my ($p3, $p4) = (free_port(), free_port());

    my $t = start_nginx(name => $name, log_format => $LOG, config_raw =>
        server('%%PORT%%', $directives
               . "securepair_session_id_context one;\n$ECHO")
        . server('%%PORT2%%', $directives
                 . "securepair_session_id_context two;\n$ECHO")
        . server($p3, $directives
                 . "securepair_session_id_context one;\n$ECHO")
        . server($p4, $directives
                 . "securepair_session_id_context one;\n"
                 . "securepair_ca %%CERTS%%/ca.crt;\n"
                 . "securepair_request_cert on;\n$ECHO"));
    nginx_started($t, $name);

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        my $f = "$t->{dir}/$v.pem";
        check_conn(conn($t, version => $v, out => $f), 0,
                   "$name, $v: a session with context \"one\"");

        my $r = conn($t, port => $p3, version => $v, in => $f);
        check_conn($r, 1, "$name, $v: another server, context \"one\"");
        is($r->{log}{port}, $p3, "$name, $v: (that server's log line)");

        $r = conn($t, port => $t->{port2}, version => $v, in => $f);
        check_conn($r, 0, "$name, $v: another server, context \"two\"");
        is($r->{log}{port}, $t->{port2},
           "$name, $v: (that server's log line)");

        check_conn(conn($t, port => $p4, version => $v, in => $f), 0,
                   "$name, $v: context \"one\" but a client certificate "
                   . "asked for");
    }

    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- SNI contexts: a session made under one never resumes under another -

for my $mode (resumption_modes('SNI'))
{
    my ($how, $directives) = @$mode;
    my $name = "SNI context, $how";

    my $t = start_nginx(name => $name, log_format => $LOG, config_raw =>
        server('%%PORT%%', $directives
               . "securepair_context a.example.com %%CERTS%%/sni-a.crt "
               . "%%CERTS%%/sni-a.key;\n"
               . "securepair_context *.example.com %%CERTS%%/sni-wild.crt "
               . "%%CERTS%%/sni-wild.key;\n$ECHO"));
    nginx_started($t, $name);

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        my $a = "$t->{dir}/a-$v.pem";
        my $d = "$t->{dir}/default-$v.pem";

        my $r = conn($t, version => $v, servername => 'a.example.com',
                     out => $a);
        check_conn($r, 0, "$name, $v: a.example.com");
        is($r->{peer_cn}, 'a.example.com',
           "$name, $v: a.example.com gets its context's certificate");

        check_conn(conn($t, version => $v, servername => 'a.example.com',
                        in => $a),
                   1, "$name, $v: a.example.com's session, a.example.com");

        $r = conn($t, version => $v, servername => 'b.example.com', in => $a);
        check_conn($r, 0, "$name, $v: a.example.com's session offered to "
                          . "b.example.com (context *.example.com)");
        is($r->{peer_cn}, '*.example.com',
           "$name, $v: b.example.com gets *.example.com's certificate");

        $r = conn($t, version => $v, in => $a);
        check_conn($r, 0, "$name, $v: a.example.com's session offered "
                          . "without SNI (the default)");
        is($r->{peer_cn}, 'localhost', "$name, $v: no SNI gets the default "
                                       . "certificate");

        check_conn(conn($t, version => $v, out => $d), 0,
                   "$name, $v: a session of the default context");
        check_conn(conn($t, version => $v, in => $d), 1,
                   "$name, $v: the default's session, no SNI");
        check_conn(conn($t, version => $v, servername => 'a.example.com',
                        in => $d),
                   0, "$name, $v: the default's session offered to "
                      . "a.example.com");
    }

    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- client-certificate sessions: the resumed connection's facts ----------

for my $mode (resumption_modes('CC'))
{
    my ($how, $directives) = @$mode;
    my $name = "client certificate, $how";

    my $t = start_nginx(name => $name, workers => 2, master => 1,
                        log_format => $LOG_PEER,
                        config_raw => server('%%PORT%%', $directives
                                             . "securepair_ca %%CERTS%%/ca.crt;\n"
                                             . "securepair_request_cert on;\n"
                                             . $ECHO));
    nginx_started($t, $name);

    my @fields = qw(authorized error subject issuer cn fp from to);

    for my $v (qw(TLSv1.2 TLSv1.3)) {
        for my $c (['client', 'true', '-'],
                   ['client-self', 'false', 'DEPTH_ZERO_SELF_SIGNED_CERT'])
        {
            my ($cert, $authorized, $error) = @$c;
            my $label = "$name, $v, $cert.crt";
            my $f = "$t->{dir}/$cert-$v.pem";

            my $full = conn($t, version => $v, cert => "$cert.crt",
                            key => "$cert.key", out => $f);
            check_conn($full, 0, "$label: full handshake");

            my $subject = cert_field("$cert.crt", 'subject');
            $subject = '/' . join('/', split /,\s*/, $subject)
                unless $subject =~ m{^/};
            is(join('|', map { $full->{log}{$_} // '' }
                             qw(authorized error subject fp)),
               join('|', $authorized, $error, $subject,
                    cert_fingerprint("$cert.crt")),
               "$label: full handshake: authorized=$authorized, "
               . "error=$error, the certificate's subject and fingerprint");

            # resumed without presenting the certificate again, until a
            # second worker has resumed it too (how many it takes varies:
            # the checks are of all of them at once, so the count of
            # tests does not)
            my (%pids, @bad);
            my $want = join('|', map { "$_=" . ($full->{log}{$_} // '') }
                                     @fields);
            my $n = 0;
            for my $i (1 .. 16) {
                my $r = conn($t, version => $v, in => $f);
                $n++;
                $pids{$r->{log}{pid} // ''}++;
                my $got = join('|', map { "$_=" . ($r->{log}{$_} // '') }
                                        @fields);
                push @bad, "resumption $i (worker "
                           . ($r->{log}{pid} // '?') . "): served="
                           . ($r->{served} ? 1 : 0) . " reused="
                           . ($r->{reused} // '-') . " log="
                           . ($r->{log}{line} // '') . " facts $got"
                    if !$r->{served}
                       || ($r->{log}{sent} // '') ne length $r->{want}
                       || ($r->{reused} // 0) != 1
                       || ($r->{log}{reused} // '') ne 'r'
                       || $got ne $want;
                last if $i >= 2
                        && grep { $_ ne $full->{log}{pid} } keys %pids;
            }

            ok(!@bad, "$label: all $n resumptions were served, resumed "
                      . "(client and \$securepair_session_reused) and have "
                      . "the full handshake's \$securepair_authorized, "
                      . "_authorization_error and \$securepair_peer_*")
                or diag(join "\n", @bad);

            ok((grep { $_ ne $full->{log}{pid} } keys %pids),
               "$label: another worker than the full handshake's resumed "
               . "it");
        }
    }

    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- securepair_session_ticket_count: TLS 1.3 tickets per handshake --------

{
    my $name = 'ticket count';
    my $p3 = free_port();
    my $p4 = free_port();

    my $t = start_nginx(name => $name, log_format => $LOG, config_raw =>
        server('%%PORT%%', "securepair_session_ticket_count 0;\n$ECHO")
        . server('%%PORT2%%', "securepair_session_ticket_count 2;\n$ECHO")
        . server($p3, $ECHO)
        . server($p4, $BY_ID . "securepair_session_cache shared:TC:1m;\n"
                      . "securepair_session_ticket_count 0;\n$ECHO"));
    nginx_started($t, $name);

    for my $c ([0, $t->{port}, 'count 0'], [2, $t->{port2}, 'count 2'],
               [1, $p3, 'the default'], [0, $p4, 'count 0, tickets off, '
                                                 . 'shared cache'])
    {
        my ($want, $port, $what) = @$c;
        my $label = "$name, $what";
        my $f = "$t->{dir}/$port.pem";

        my $r = conn($t, port => $port, version => 'TLSv1.3', out => $f,
                     msg => 1);
        check_conn($r, 0, "$label: first connection");

        my $msg = () = $r->{msg} =~ /^<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], NewSessionTicket$/mg;
        my $arrived = () = $r->{text} =~ /^Post-Handshake New Session Ticket arrived:$/mg;

        is($msg, $want, "$label: s_client -msg shows $want NewSessionTicket "
                        . "message(s)");
        is($arrived, $want, "$label: s_client says \"Post-Handshake New "
                            . "Session Ticket arrived\" $want time(s)");

        if ($want == 0) {
            ok(!-s $f, "$label: s_client -sess_out wrote no session");
        } else {
            ok(-s $f, "$label: s_client -sess_out wrote the session");
            check_conn(conn($t, port => $port, version => 'TLSv1.3',
                            in => $f),
                       1, "$label: the ticket resumes");
        }
    }

    # the count is about TLS 1.3: TLS 1.2 still gets its one ticket
    my $f = "$t->{dir}/tls12.pem";
    my $r = conn($t, version => 'TLSv1.2', out => $f, msg => 1);
    check_conn($r, 0, "$name 0, TLSv1.2: first connection");
    is(scalar(msg_tickets($r->{msg})), 1,
       "$name 0, TLSv1.2: -msg: the server sent one NewSessionTicket");
    check_conn(conn($t, version => 'TLSv1.2', in => $f), 1,
               "$name 0, TLSv1.2: the ticket resumes");

    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- securepair_session_timeout: an expired session is not resumed --------

{
    my $name = 'session timeout';
    my $timeout = 2 * $SLOW;
    my $t = start_nginx(name => $name, log_format => $LOG, config_raw =>
        server('%%PORT%%', $BY_ID . "securepair_session_cache shared:TO:1m;\n"
                           . "securepair_session_timeout ${timeout}s;\n$ECHO")
        . server('%%PORT2%%', $BY_TICKET . "securepair_session_timeout "
                              . "${timeout}s;\n"
                              . $ECHO));

    my @s;
    for my $p (['by id', $t->{port}], ['by ticket', $t->{port2}]) {
        for my $v (qw(TLSv1.2 TLSv1.3)) {
            my $f = "$t->{dir}/$p->[1]-$v.pem";
            my $label = "$name, $p->[0], $v";
            check_conn(conn($t, port => $p->[1], version => $v, out => $f), 0,
                       "$label: first connection");
            if ($p->[0] eq 'by ticket' || $v eq 'TLSv1.3') {
                like(sess_text($f), qr/ticket lifetime hint: $timeout \(seconds\)/,
                     "$label: the ticket's lifetime hint is $timeout "
                     . "seconds");
            } else {
                like(sess_text($f), qr/Session-ID: [0-9A-F]{64}/,
                     "$label: a session id, no ticket");
            }
            check_conn(conn($t, port => $p->[1], version => $v, in => $f), 1,
                       "$label: resumed at once");
            push @s, [$label, $p->[1], $v, $f];
        }
    }

    sleep $timeout + 1;

    for my $s (@s) {
        my ($label, $port, $v, $f) = @$s;
        check_conn(conn($t, port => $port, version => $v, in => $f), 0,
                   "$label: " . ($timeout + 1) . " seconds later, a full "
                   . "handshake");
    }

    no_errors($t, $name);
    done_nginx($t, $name);
}


# ---- a ticket key file of the wrong size ----------------------------------

for my $size (50, 0, 81) {
    my $name = "ticket key of $size bytes";
    my $t = start_nginx(name => $name, no_start => 1, stream_server_config =>
                        "securepair on;\n"
                        . "securepair_certificate %%CERTS%%/server-rsa.crt;\n"
                        . "securepair_certificate_key %%CERTS%%/server-rsa.key;\n"
                        . "securepair_session_ticket_key $KEYS/k1.key;\n"
                        . "securepair_session_ticket_key %%TESTDIR%%/bad.key;\n"
                        . "securepair_echo;\n");

    open my $fh, '>', "$t->{dir}/bad.key" or die "$t->{dir}/bad.key: $!";
    print $fh 'x' x $size;
    close $fh;

    my ($st, $out) = nginx_t($t);
    my $line = conf_line($t, 'bad.key');
    my $not = $size > 80 ? 'over 80' : $size;

    ok($st != 0, "$name: nginx -t fails") or diag($out);
    like($out, qr{\[emerg\] securepair: \Q$t->{dir}/bad.key\E: a session ticket key file must be 48 or 80 bytes \(openssl rand 80 > file\), not \Q$not\E in \Q$t->{conf_file}\E:$line$}m,
         "$name: nginx -t names the file, \"48 or 80 bytes\" and "
         . "nginx.conf:$line");

    check_nginx_clean($t, $name, must_die => 1);
    remove_env($t);
}

run_tests();

__DATA__

=== TEST 1: a zone name declared again with another size: nginx's conflict, the line
--- stream_config
server {
    listen 127.0.0.1:%%PORT2%%;
    securepair on;
    securepair_certificate %%CERTS%%/server-rsa.crt;
    securepair_certificate_key %%CERTS%%/server-rsa.key;
    securepair_session_cache shared:Z:1m;
    securepair_echo;
}
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared:Z:2m;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] the size 2097152 of shared memory zone "Z" conflicts with already declared size 1048576 in %%CONF%%:%%LINE(shared:Z:2m)%%$}m



=== TEST 2: the same zone with the same size in two servers is fine
--- stream_config
server {
    listen 127.0.0.1:%%PORT2%%;
    securepair on;
    securepair_certificate %%CERTS%%/server-rsa.crt;
    securepair_certificate_key %%CERTS%%/server-rsa.key;
    securepair_session_cache shared:Z:1m;
    securepair_echo;
}
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared:Z:1m;
securepair_echo;
--- nginx_t



=== TEST 3: a zone one byte under 8 pages: too small, with the line
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared:S:32767;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] session cache "shared:S:32767" is too small: 32767 bytes cannot hold a session; it needs at least 32768 in %%CONF%%:%%LINE(shared:S:32767)%%$}m



=== TEST 4: a zone of 31k: too small, with the line
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared:S:31k;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] session cache "shared:S:31k" is too small: .* in %%CONF%%:%%LINE(shared:S:31k)%%$}m



=== TEST 5: a zone of exactly 8 pages is accepted
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared:S:32k;
securepair_echo;
--- nginx_t



=== TEST 6: shared: without a name or a size
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared:;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid session cache "shared:": expected off, none or shared:NAME:SIZE in %%CONF%%:%%LINE(shared:;)%%$}m



=== TEST 7: shared:NAME without a size
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared:S;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid session cache "shared:S": .* in %%CONF%%:%%LINE(shared:S;)%%$}m



=== TEST 8: shared::SIZE without a name
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared::1m;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid session cache "shared::1m": .* in %%CONF%%:%%LINE(shared::1m)%%$}m



=== TEST 9: shared:NAME: with an empty size
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_cache shared:S:;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid session cache "shared:S:": .* in %%CONF%%:%%LINE(shared:S:;)%%$}m



=== TEST 10: a missing ticket key file: its name and line
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_ticket_key %%TESTDIR%%/no-such.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%TESTDIR%%/no-such\.key: cannot open: No such file or directory in %%CONF%%:%%LINE(no-such.key)%%$}m



=== TEST 11: securepair_session_timeout 0 is refused
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_timeout 0;
securepair_echo;
--- must_die
--- error_log
"securepair_session_timeout" must be positive



=== TEST 12: a session id context of 33 bytes is refused (at most 32)
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_id_context 123456789012345678901234567890123;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_session_id_context" must be 1 to 32 bytes, not 33 in %%CONF%%:%%LINE(securepair_session_id_context)%%$}m



=== TEST 13: a session id context of 32 bytes is taken
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_session_id_context 12345678901234567890123456789012;
securepair_echo;
--- nginx_t
