#!/usr/bin/perl
#
# t/security.t: the security properties of issue 7, one section each.
#
#   1. private keys and passphrases never appear in any log line, at any
#      level (error_log debug, the access log, nginx -t, nginx's stderr),
#      whatever the handshakes do;
#   2. a world-readable securepair_password_file gets a warning, a private
#      one none;
#   3. a client verified under one SNI context is never authorized on
#      another with a different ca=, nor through a resumed session;
#   4. securepair_reject_unknown_servername answers a ClientHello with an
#      alert record and nothing else: no certificate is ever sent;
#   5. an authorization failure under securepair_reject_unauthorized sends
#      no cleartext byte to the upstream (no connection at all), even when
#      the client writes right after its Finished;
#   6. a TLS 1.3 client that answers a HelloRetryRequest with a second
#      ClientHello naming another server is refused: it never reaches the
#      backend routed for the first name under the second one's policy;
#   7. renegotiation hellos OpenSSL refuses by itself count toward
#      securepair_reneg_limit: a client that floods them is closed at the
#      limit, not answered forever (issue 17);
#   8. a client that sends records the server must answer and never reads
#      is held to its socket buffers: the server stops reading, its
#      memory stays put (issue 17).

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;

use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

sub explain { join "", Test::More::explain(@_) }

sub openssl {
    my (@args) = @_;
    my ($st, $out, $err) = run_cmd(['openssl', @args], timeout => 30);
    die "openssl @args: $err" if $st != 0;
    return $out;
}

# Searches every readable mapping of process $pid for each string; returns
# the bytes searched and the strings found.
sub memory_hits {
    my ($pid, @strings) = @_;
    no warnings 'portable';     # 64-bit addresses
    my ($scanned, %found) = (0);

    open my $maps, '<', "/proc/$pid/maps" or return 0;
    open my $mem, '<:raw', "/proc/$pid/mem" or return 0;

    while (my $line = <$maps>) {
        my ($from, $to, $perm, $what) =
            $line =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/
            or next;
        next if $perm !~ /^r/ || $what =~ /^\[(?:vvar|vsyscall)\]/;

        my ($at, $end) = (hex $from, hex $to);
        my $tail = '';

        while ($at < $end) {
            my $want = $end - $at > 1 << 20 ? 1 << 20 : $end - $at;
            sysseek($mem, $at, 0) or last;
            my $got = sysread($mem, my $buf, $want) or last;
            $scanned += $got;
            $buf = $tail . $buf;
            for my $s (@strings) {
                $found{$s} = 1 if index($buf, $s) >= 0;
            }
            $tail = substr($buf, -64);
            $at += $got;
        }
    }

    return ($scanned, sort keys %found);
}

sub parse_line {
    my ($line) = @_;
    return { map { /^(\w+)=(.*)$/ ? ($1, $2) : () } split /\|/, $line // '' };
}


# ==== 1. no key, no passphrase in any log ==================================

# Passphrases made for this test, so that a hit cannot be a coincidence.
my $PASS_RSA = 'pp-RSA-7vQz2-nEverLoGMe-91x';
my $PASS_EC = 'pp-EC-Kk3w8-n0tInTheLog-4Jd';
my $PASS_WRONG = 'pp-WRONG-u5Tt0-tr1edFirst-0q';

# What must never show: every passphrase, and for every private key that
# nginx loads (encrypted or not), 16-character pieces of its PEM body and
# 12-byte pieces of its private numbers in hex (plain and colon form).
sub key_needles {
    my ($file) = @_;
    my @n;

    my $pem = slurp($file);
    my ($body) = $pem =~ /-----BEGIN [A-Z ]+-----\n(.*?)-----END/s
        or die "no PEM body in $file";

    for my $line (split /\n/, $body) {
        for (my $i = 0; $i + 16 <= length $line; $i += 16) {
            push @n, [substr($line, $i, 16), "PEM body of $file"];
        }
    }

    return @n if $pem =~ /ENCRYPTED/;

    # "priv:", "privateExponent:", "prime1:" ... as openssl prints them
    my $text = openssl('pkey', '-in', $file, '-text', '-noout');
    my ($what, %num);

    for my $line (split /\n/, $text) {
        if ($line =~ /^(privateExponent|prime1|prime2|exponent1|exponent2|coefficient|priv):\s*$/) {
            $what = $1;
        } elsif ($what && $line =~ /^\s+([0-9a-f:]+)\s*$/) {
            $num{$what} .= $1;
        } else {
            $what = undef;
        }
    }

    die "no private numbers in $file" unless %num;

    for my $k (sort keys %num) {
        (my $hex = $num{$k}) =~ s/://g;
        $hex =~ s/^(00)+//;
        for (my $i = 0; $i + 24 <= length $hex; $i += 24) {
            my $h = substr($hex, $i, 24);
            push @n, [$h, "$k of $file (hex)"], [uc $h, "$k of $file (HEX)"];
        }
        (my $colon = substr($hex, 0, 24)) =~ s/(..)(?!$)/$1:/g;
        push @n, [$colon, "$k of $file (colon hex)"];
    }

    return @n;
}

# "where: what (needle)" for each needle found in each text
sub find_needles {
    my ($texts, $needles) = @_;
    my @hits;

    for my $where (sort keys %$texts) {
        my $text = $texts->{$where};
        my $lc = lc $text;

        for my $n (@$needles) {
            my ($needle, $what) = @$n;
            # passphrases: case-insensitive; key material: as is
            my $found = $what =~ /^passphrase/
                        ? index($lc, lc $needle) >= 0
                        : index($text, $needle) >= 0;
            push @hits, "$where: $what (\"$needle\")" if $found;
        }
    }

    return @hits;
}

{
    my $name = 'secrets in logs';

    local $LOG_LEVEL = 'debug';

    my $server = <<'EOF';
securepair on;
securepair_password_file %%TESTDIR%%/pass.txt;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%TESTDIR%%/rsa-enc.key;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%TESTDIR%%/ec-enc.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_context *.example.com %%CERTS%%/sni-wild.crt %%TESTDIR%%/wild-enc.key ca=%%CERTS%%/ca2.crt reject_unauthorized=on;
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key request_cert=on reject_unauthorized=on;
securepair_alpn_protocols h2 http/1.1;
securepair_reneg_limit 1;
securepair_session_cache shared:SECRETS:1m;
securepair_handshake_timeout 1s;
securepair_echo "welcome!\n";
EOF

    # a second server: unknown names refused, cleartext to a backend
    my $second = <<'EOF';
server {
    listen 127.0.0.1:%%PORT2%%;
    securepair on;
    securepair_password_file %%TESTDIR%%/pass.txt;
    securepair_certificate %%CERTS%%/server-rsa.crt;
    securepair_certificate_key %%TESTDIR%%/rsa-enc.key;
    securepair_context a.example.com %%CERTS%%/sni-a.crt %%TESTDIR%%/a-enc.key;
    securepair_reject_unknown_servername on;
    securepair_ca %%CERTS%%/ca.crt;
    securepair_request_cert on;
    securepair_reject_unauthorized on;
    proxy_pass 127.0.0.1:%%BACKEND_PORT%%;
}
EOF

    my %cfg = (
        name => $name,
        stream_server_config => $server,
        stream_config => $second,
        backend => 'echo',
        log_format => 'sni=$securepair_servername|proto=$securepair_protocol'
                      . '|cipher=$securepair_cipher'
                      . '|auth=$securepair_authorized'
                      . '|err=$securepair_authorization_error'
                      . '|alpn=$securepair_alpn_protocol'
                      . '|reused=$securepair_session_reused'
                      . '|sid=$securepair_session_id'
                      . '|subject=$securepair_peer_subject'
                      . '|reneg=$securepair_renegotiations'
                      . '|bytes=$bytes_received/$bytes_sent',
    );

    my $t = start_nginx(%cfg, no_start => 1);
    my $dir = $t->{dir};

    # the keys, encrypted for this test; the password file tries a wrong
    # passphrase first for every key
    spew("$dir/pass-rsa", $PASS_RSA);
    spew("$dir/pass-ec", $PASS_EC);
    openssl('pkcs8', '-topk8', '-v2', 'aes-256-cbc',
            '-in', "$CERTS/server-rsa.key", '-passout', "file:$dir/pass-rsa",
            '-out', "$dir/rsa-enc.key");
    for my $k (['server-ec', 'ec-enc'], ['sni-wild', 'wild-enc'],
               ['sni-a', 'a-enc'])
    {
        openssl('pkcs8', '-topk8', '-v2', 'aes-256-cbc',
                '-in', "$CERTS/$k->[0].key", '-passout', "file:$dir/pass-ec",
                '-out', "$dir/$k->[1].key");
    }
    unlink "$dir/pass-rsa", "$dir/pass-ec";
    spew("$dir/pass.txt", "$PASS_WRONG\n$PASS_RSA\n$PASS_EC\n");
    chmod 0600, "$dir/pass.txt";

    my @needles = (
        [$PASS_RSA, 'passphrase of rsa-enc.key'],
        [$PASS_EC, 'passphrase of the EC keys'],
        [$PASS_WRONG, 'passphrase (wrong one)'],
    );
    push @needles, key_needles("$dir/$_")
        for qw(rsa-enc.key ec-enc.key wild-enc.key a-enc.key);
    push @needles, key_needles("$CERTS/$_")
        for qw(server-rsa.key server-ec.key sni-wild.key sni-a.key);

    # the search finds what it looks for
    my @self = find_needles({ probe => "x " . $needles[0][0] . " "
                                       . $needles[-1][0] . " y" },
                            \@needles);
    is(scalar @self, 2, "$name: the search finds a planted passphrase and "
                        . "a planted piece of key");
    ok(@needles > 400, "$name: " . scalar(@needles) . " needles from 3 "
                       . "passphrases and 8 keys");

    # nginx -t of the good configuration, at debug level
    my ($st, $t_out) = nginx_t($t);
    ok($st == 0 && $t_out =~ /test is successful/,
       "$name: nginx -t passes with the encrypted keys")
        or diag($t_out);

    start_nginx(%cfg, env => $t);
    nginx_started($t, $name);

    my $port = $t->{port};
    my $port2 = $t->{port2};
    my @r;

    # good handshakes: RSA and ECDSA, TLS 1.3 and 1.2, a client certificate
    push @r, ['TLS 1.3', 'ok', tls_client(port => $port,
        servername => q{localhost}, request => "one\n",
        expect => "welcome!\none\n", alpn => q{h2})];
    push @r, [q{TLS 1.2 RSA}, q{ok}, tls_client(port => $port,
        version => q{TLSv1.2}, ciphers => q{ECDHE-RSA-AES128-GCM-SHA256},
        request => "one\n", expect => "welcome!\none\n")];
    push @r, ['TLS 1.2 ECDSA', 'ok', tls_client(port => $port,
        version => 'TLSv1.2', ciphers => 'ECDHE-ECDSA-AES128-GCM-SHA256',
        request => "two\n", expect => "welcome!\ntwo\n")];
    push @r, ['client certificate', 'ok', tls_client(port => $port,
        cert => 'client.crt', key => 'client.key', request => "three\n",
        expect => "welcome!\nthree\n")];
    push @r, ['encrypted context key', 'ok', tls_client(port => $port,
        servername => 'x.example.com', cert => 'client-wrongca.crt',
        key => 'client-wrongca.key', request => "four\n",
        expect => "welcome!\nfour\n")];

    # failing ones
    push @r, ['self-signed client, TLS 1.2', 'fail', tls_client(port => $port,
        servername => 'a.example.com', version => 'TLSv1.2',
        cert => 'client-self.crt', key => 'client-self.key')];
    push @r, ['expired client, TLS 1.2', 'fail', tls_client(port => $port,
        servername => 'a.example.com', version => 'TLSv1.2',
        cert => 'client-expired.crt', key => 'client-expired.key')];
    push @r, ['wrong CA client, TLS 1.2', 'fail', tls_client(port => $port,
        servername => 'x.example.com', version => 'TLSv1.2',
        cert => 'client.crt', key => 'client.key')];
    push @r, ['no ALPN in common', 'fail', tls_client(port => $port,
        alpn => 'spdy/3')];
    push @r, ['TLS 1.1 only', 'fail', tls_client(port => $port,
        version => 'TLSv1.1', ssl_opts => { SSL_cipher_list => 'DEFAULT:@SECLEVEL=0' })];
    push @r, ['unknown name', 'fail', tls_client(port => $port2,
        servername => 'unknown.example.org')];
    push @r, ['no client certificate, rejecting server', 'fail',
        tls_client(port => $port2, servername => 'a.example.com',
                   version => 'TLSv1.2')];
    push @r, ['proxied', 'ok', tls_client(port => $port2,
        servername => 'a.example.com', cert => 'client.crt',
        key => 'client.key', request => "five\n", expect => "five\n")];

    # renegotiation past the limit, then a resumed session
    push @r, ['renegotiation past the limit', 'ok', tls_client(port => $port,
        version => 'TLSv1.2', request => "six\n", renegotiate => 3)];
    my $sess = "$dir/session.pem";
    push @r, ['session out', 'ok', s_client(port => $port, mode => 'full',
        servername => 'localhost', version => 'TLSv1.2',
        args => ['-no_ticket', '-sess_out', $sess], request => "s\n",
        expect => "welcome!\ns\n")];
    push @r, ['session in', 'ok', s_client(port => $port, mode => 'full',
        servername => 'localhost', version => 'TLSv1.2',
        args => ['-no_ticket', '-sess_in', $sess], request => "s\n",
        expect => "welcome!\ns\n")];

    # not TLS at all, and a client that says nothing
    push @r, ['garbage', 'raw', raw_client(port => $port,
        request => join('', map { chr(($_ * 37 + 11) % 256) } 1 .. 600),
        read_timeout => 2)];
    push @r, ['plain HTTP', 'raw', raw_client(port => $port,
        request => "GET / HTTP/1.0\r\nHost: x\r\n\r\n", read_timeout => 2)];
    push @r, ['silent client', 'raw', raw_client(port => $port,
        read_timeout => 3, timeout => 4)];

    for my $x (@r) {
        my ($what, $want, $res) = @$x;
        next if $want eq 'raw';
        is($res->{handshake}, $want, "$name: $what: handshake $want")
            or diag("error: $res->{error}");
    }

    is($r[-3][2]{eof}, 'tcp', "$name: garbage is closed");
    is($r[-1][2]{eof}, 'tcp', "$name: a silent client is closed at the "
                              . "handshake timeout");
    my ($reused) = grep { $_->[0] eq 'session in' } @r;
    like($reused->[2]{stdout}, qr/^Reused,/m, "$name: a session is resumed");

    # the passphrases are wiped once the keys are loaded: no copy is left
    # in the memory of the master or of its worker, after handshakes (under
    # valgrind nginx is one process, valgrind's own memory holding nginx's)
    my %workers = nginx_workers($t->{pid});
    my @procs = ([$t->{master} ? 'master' : 'nginx' => $t->{pid}],
                 map { [worker => $_] } keys %workers);
    is(scalar @procs, $t->{master} ? 2 : 1,
       "$name: " . ($t->{master} ? 'a master and a worker' : 'one process')
       . " to search");
    for my $p (@procs) {
        my ($who, $pid) = @$p;
        my ($scanned, @found) = memory_hits($pid, $PASS_RSA, $PASS_EC,
                                            $PASS_WRONG);
        ok($scanned > 1 << 20 && !@found, "$name: no passphrase in the "
           . "${who}'s memory ($scanned bytes searched)")
            or diag("found: @found");
    }

    # a configuration whose key cannot be unlocked: nginx -t says so without
    # saying what it tried
    spew("$dir/wrong.txt", "$PASS_WRONG\n");
    my $bad = start_nginx(name => "$name, wrong passphrase", no_start => 1,
                          stream_server_config => <<"EOF");
securepair on;
securepair_password_file $dir/wrong.txt;
securepair_certificate $CERTS/server-rsa.crt;
securepair_certificate_key $dir/rsa-enc.key;
securepair_echo;
EOF
    my ($bst, $bad_out) = nginx_t($bad);
    ok($bst != 0, "$name: nginx -t fails with only a wrong passphrase");
    like($bad_out, qr/\[emerg\].*rsa-enc\.key/,
         "$name: and names the key it could not unlock")
        or diag($bad_out);

    stop_nginx($t);

    my %texts = (
        'error.log (debug)' => error_log_text($t),
        'access log' => access_log_text($t),
        'nginx stderr' => slurp("$dir/nginx.out"),
        'nginx -t' => $t_out,
        'nginx -t, wrong passphrase' => $bad_out
                                        . slurp("$bad->{dir}/error.log"),
    );

    my $log = $texts{'error.log (debug)'};
    my $debug = () = $log =~ /\[debug\]/g;
    ok($debug > 100, "$name: error.log is at debug level ($debug debug "
                      . "lines, " . length($log) . " bytes)");
    for my $re (qr/securepair: handshake failed/, qr/unrecognized/,
                qr/renegotiation limit exceeded/, qr/handshake timed out/)
    {
        like($log, $re, "$name: the failures are logged: $re");
    }
    my @access = access_lines($t, 1);
    ok(@access >= 12, "$name: the access log has every connection ("
                      . scalar(@access) . " lines)");

    my @hits = find_needles(\%texts, \@needles);
    ok(!@hits, "$name: no passphrase and no piece of a private key in "
               . "error.log (debug), the access log, nginx's stderr or "
               . "nginx -t")
        or diag(join "\n", @hits[0 .. ($#hits > 19 ? 19 : $#hits)]);

    done_nginx($t, $name);
    remove_env($bad);
}


# ==== 2. a password file everyone can read ==================================

sub password_file_case {
    my ($mode, $contexts) = @_;
    my $name = sprintf 'password file mode %04o', $mode;
    $name .= ", $contexts contexts" if $contexts;

    my $cfg = <<'EOF';
securepair on;
securepair_password_file %%TESTDIR%%/pass.txt;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa-enc.key;
securepair_echo "unlocked\n";
EOF
    $cfg .= "securepair_context n$_.example.com %%CERTS%%/sni-a.crt "
            . "%%CERTS%%/sni-a.key;\n" for 1 .. ($contexts || 0);

    my $t = start_nginx(name => $name, no_start => 1,
                        stream_server_config => $cfg);
    my $dir = $t->{dir};

    spew("$dir/pass.txt", "secret\n");
    chmod $mode, "$dir/pass.txt";

    my $line = 0;
    my @conf = split /\n/, slurp($t->{conf_file});
    for my $i (0 .. $#conf) {
        $line = $i + 1 if $conf[$i] =~ /securepair_password_file/;
    }

    my $warn = qr/\[warn\] (?:\d+#\d+: )?securepair: password file "\Q$dir\E\/pass\.txt" is readable by everyone \(chmod o-r\) in \Q$t->{conf_file}\E:$line$/m;

    my ($st, $out) = nginx_t($t);
    ok($st == 0 && $out =~ /test is successful/, "$name: nginx -t passes")
        or diag($out);

    start_nginx(name => $name, env => $t, stream_server_config => $cfg);
    my $r = tls_client(port => $t->{port}, request => "x\n",
                       expect => "unlocked\nx\n");
    is($r->{response}, "unlocked\nx\n", "$name: the key is unlocked and "
                                        . "serves");
    stop_nginx($t);

    my $log = error_log_text($t);
    my @t_warn = $out =~ /$warn/g;
    # nginx -t writes to error.log too: count the started nginx's own
    my @log_warn = grep { /\[warn\] $t->{pid}#/ && /$warn/ }
                   split /\n/, $log;

    if ($mode & 04) {
        is(scalar @t_warn, 1, "$name: nginx -t warns once, with the file "
                              . "and line $line")
            or diag("nginx -t output:\n$out");
        is(scalar @log_warn, 1, "$name: error.log has the warning once, "
                                . "at start")
            or diag("error.log:\n$log");
    } else {
        unlike($out, qr/readable by everyone/,
               "$name: nginx -t does not warn");
        unlike($log, qr/readable by everyone/,
               "$name: error.log has no warning");
    }

    done_nginx($t, $name);
}

password_file_case(0644);
password_file_case(0604);
password_file_case(0600);
password_file_case(0640);
password_file_case(0644, 2);


# ==== 3. authorization is per SNI context, sessions included ===============

# The default certificate trusts ca.crt, the context b.example.com only
# ca2.crt; both ask for a certificate without rejecting, so the verdict
# shows in $securepair_authorized.
my $authz_server = <<'EOF';
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_context b.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key ca=%%CERTS%%/ca2.crt;
securepair_session_cache shared:AUTHZ:1m;
securepair_echo "welcome!\n";
EOF

my $authz_log = 'sni=$securepair_servername|auth=$securepair_authorized'
                . '|err=$securepair_authorization_error'
                . '|cn=$securepair_peer_cn|reused=$securepair_session_reused'
                . '|proto=$securepair_protocol';

# One connection by s_client; the server's view from the access log.
sub authz_connect {
    my ($t, %o) = @_;
    my $before = () = access_lines($t, 0);

    my @args = @{$o{args} || []};
    my $r = s_client(port => $t->{port}, mode => 'full',
                     servername => $o{servername}, version => $o{version},
                     cert => $o{cert}, key => $o{key}, args => \@args,
                     request => "x\n", expect => "welcome!\nx\n");

    my @l = access_lines($t, $before + 1);
    my $v = @l > $before ? parse_line($l[-1]) : {};
    $v->{client_reused} = $r->{stdout} =~ /^Reused,/m ? 1 : 0;
    $v->{response} = $r->{response};
    $v->{error} = $r->{error};
    return $v;
}

# fresh: [servername, client, authorized]; resume: [from, client, to]
sub authz_case {
    my (%o) = @_;
    my $name = $o{name};

    my $t = start_nginx(name => $name, no_start => 1,
                        stream_server_config => $o{server},
                        log_format => $authz_log);
    $o{setup}->($t) if $o{setup};
    start_nginx(name => $name, env => $t, stream_server_config => $o{server},
                log_format => $authz_log);
    nginx_started($t, $name);

    # fresh handshakes: each certificate is authorized by its own context
    # only
    for my $f (@{$o{fresh}}) {
        my ($sni, $c, $want) = @$f;
        my $v = authz_connect($t, servername => $sni, %$c);
        is($v->{auth}, $want, "$name: $c->{cert} on $sni: authorized="
                              . $want)
            or diag(explain($v));
    }

    # resumption: a session made where the client is authorized, offered
    # on the other name (without a certificate: whatever authority it
    # gets there comes from the session)
    for my $how (['TLS 1.2, session id', 'TLSv1.2', ['-no_ticket']],
                 ['TLS 1.2, ticket', 'TLSv1.2', []],
                 ['TLS 1.3, ticket', 'TLSv1.3', []])
    {
        my ($label, $version, $args) = @$how;

        for my $dir (@{$o{resume}}) {
            my ($from, $c, $to) = @$dir;
            my $sess = "$t->{dir}/sess-" . int(rand(1e9)) . '.pem';

            my $v = authz_connect($t, servername => $from, version => $version,
                                  %$c, args => [@$args, '-sess_out', $sess]);
            is($v->{auth}, 'true', "$name: $label: $c->{cert} authorized on "
                                   . $from);

            # the same name resumes: the session is good
            $v = authz_connect($t, servername => $from, version => $version,
                               args => [@$args, '-sess_in', $sess]);
            ok($v->{reused} eq 'r' && $v->{auth} eq 'true',
               "$name: $label: the session resumes on $from, authorized")
                or diag(explain($v));

            # another name: a full handshake, or at least not authorized
            $v = authz_connect($t, servername => $to, version => $version,
                               args => [@$args, '-sess_in', $sess]);
            is($v->{auth}, 'false',
               "$name: $label: the session of $from is not authorized on "
               . "$to (" . ($v->{reused} eq 'r' ? 'resumed'
                                                : 'full handshake') . ")")
                or diag(explain($v));
            is($v->{reused}, '.', "$name: $label: the session of $from "
                                  . "does not resume on $to")
                or diag(explain($v));
            # (after a wrongful resumption s_client's session dump
            # hides the data from the parser: judged above)
            is($v->{response}, "welcome!\nx\n",
               "$name: $label: and $to serves the client")
                if $v->{reused} ne 'r';
        }
    }

    done_nginx($t, $name);
}

my $client = { cert => 'client.crt', key => 'client.key' };
my $client2 = { cert => 'client-wrongca.crt', key => 'client-wrongca.key' };

authz_case(
    name => 'authorization per context',
    server => $authz_server,
    fresh => [['localhost', $client, 'true'],
              ['b.example.com', $client, 'false'],
              ['b.example.com', $client2, 'true'],
              ['localhost', $client2, 'false']],
    resume => [['localhost', $client, 'b.example.com'],
               ['b.example.com', $client2, 'localhost']],
);

# The operator's own session-id context (Node's sessionIdContext) is one
# string for the server and all its contexts: they must still not share
# sessions.
authz_case(
    name => 'authorization per context, securepair_session_id_context',
    server => $authz_server . "securepair_session_id_context one-for-all;\n",
    fresh => [['localhost', $client, 'true'],
              ['b.example.com', $client, 'false']],
    resume => [['localhost', $client, 'b.example.com'],
               ['b.example.com', $client2, 'localhost']],
);

# A context that differs from the default only by its CA, a CA with the
# same name as ca.crt but another key (a re-keyed CA, or staging's and
# production's "Internal CA"): client.crt does not verify there, and its
# session from the default name must not make it authorized there.
authz_case(
    name => 'authorization per context, same certificate, CA of the same name',
    server => <<'EOF',
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_context b.example.com %%CERTS%%/server-rsa.crt %%CERTS%%/server-rsa.key ca=%%TESTDIR%%/twin-ca.crt;
securepair_session_cache shared:AUTHZ:1m;
securepair_echo "welcome!\n";
EOF
    setup => sub {
        my ($t) = @_;
        my $subject = slash_name(cert_field('ca.crt', 'subject'));
        openssl('req', '-new', '-x509', '-newkey', 'rsa:2048', '-nodes',
                '-keyout', "$t->{dir}/twin-ca.key",
                '-out', "$t->{dir}/twin-ca.crt", '-subj', $subject,
                '-days', '30', '-addext', 'basicConstraints=critical,CA:true',
                '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
        is(cert_field("$t->{dir}/twin-ca.crt", 'subject'),
           cert_field('ca.crt', 'subject'),
           "authorization per context, same certificate, CA of the same "
           . "name: the twin CA has ca.crt's name");
    },
    fresh => [['localhost', $client, 'true'],
              ['b.example.com', $client, 'false']],
    resume => [['localhost', $client, 'b.example.com']],
);

# TLS 1.2 keeps the server name in the session: a session of
# x.example.com resumed with y.example.com (one wildcard context) must
# still report the name this client sent.
{
    my $name = 'servername after a TLS 1.2 resumption';
    my $t = start_nginx(name => $name, log_format => $authz_log,
                        stream_server_config => <<'EOF');
%%INCLUDE(tls_rsa)%%
securepair_context *.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
securepair_echo "welcome!\n";
EOF

    my $sess = "$t->{dir}/sess.pem";
    my $v = authz_connect($t, servername => 'x.example.com',
                          version => 'TLSv1.2',
                          args => ['-sess_out', $sess]);
    is($v->{sni}, 'x.example.com', "$name: the first connection: "
                                   . "x.example.com");
    $v = authz_connect($t, servername => 'y.example.com',
                       version => 'TLSv1.2', args => ['-sess_in', $sess]);
    is($v->{reused}, 'r', "$name: resumed with y.example.com (one "
                          . "context)");
    is($v->{sni}, 'y.example.com', "$name: \$securepair_servername is the "
                                   . "name the client sent")
        or diag(explain($v));

    done_nginx($t, $name);
}


# ==== 4. reject_unknown_servername: an alert and no certificate ===========

# The first records an `openssl s_client` sends, captured by a listener
# that never answers: a real ClientHello to replay.
sub capture_client_hello {
    my (@args) = @_;

    my $l = listener(1);
    my $port = $l->sockport;
    my $pid = spawn('/dev/null', 'openssl', 's_client', '-connect',
                    "127.0.0.1:$port", @args);

    my $hello = '';

    if (IO::Select->new($l)->can_read(10)) {
        my $c = $l->accept;
        my $deadline = time + 5;

        # one or more handshake records, up to the end of the ClientHello
        while (time < $deadline) {
            last unless IO::Select->new($c)->can_read(1);
            my $n = sysread($c, my $buf, 65536);
            last unless $n;
            $hello .= $buf;

            last if length $hello >= 9
                    && _records_done($hello);
        }

        close $c;
    }

    close $l;
    kill 'KILL', $pid;
    waitpid($pid, 0);

    return $hello;
}

sub _records_done {
    my ($s) = @_;
    my ($off, $hs) = (0, '');

    while ($off + 5 <= length $s) {
        my $len = unpack('n', substr($s, $off + 3, 2));
        return 0 if $off + 5 + $len > length $s;
        $hs .= substr($s, $off + 5, $len);
        $off += 5 + $len;
    }

    return 0 if length $hs < 4;
    my $want = unpack('N', "\0" . substr($hs, 1, 3));
    return length $hs >= 4 + $want;
}

# [type, version, payload] of each record
sub records {
    my ($s) = @_;
    my @r;
    my $off = 0;

    while ($off + 5 <= length $s) {
        my ($type, $ver, $len) = unpack('C n n', substr($s, $off, 5));
        push @r, [$type, $ver, substr($s, $off + 5, $len)];
        $off += 5 + $len;
    }

    push @r, [-1, 0, substr($s, $off)] if $off < length $s;
    return @r;
}

sub describe_records {
    return join ', ', map {
        sprintf('%s(%d bytes)',
                { 20 => 'change_cipher_spec', 21 => 'alert',
                  22 => 'handshake', 23 => 'application_data',
                  -1 => 'truncated' }->{$_->[0]} // "type $_->[0]",
                length $_->[2])
    } @_;
}

{
    my $name = 'reject_unknown_servername';

    my $t = start_nginx(name => $name, stream_server_config => <<'EOF');
%%INCLUDE(tls_rsa)%%
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_reject_unknown_servername on;
securepair_echo "welcome!\n";
EOF

    my %der = map { $_ => openssl('x509', '-in', "$CERTS/$_.crt",
                                  '-outform', 'DER') }
              qw(server-rsa server-ec sni-a);
    # a piece of each certificate that is in no other: its public key
    my %piece = map { $_ => substr($der{$_}, -200, 64) } keys %der;

    for my $case (['TLS 1.2', '-tls1_2'], ['TLS 1.3', '-tls1_3']) {
        my ($label, $flag) = @$case;

        # control: a known name gets its certificate, and the search sees
        # it in the clear (TLS 1.2) or at least sees handshake records
        my $ok_hello = capture_client_hello($flag, '-servername',
                                            'a.example.com');
        ok(length $ok_hello > 100, "$name: $label: a ClientHello for "
                                   . "a.example.com captured ("
                                   . length($ok_hello) . " bytes)");
        my $ok = raw_client(port => $t->{port}, request => $ok_hello,
                            read_timeout => 1);
        my @ok = records($ok->{response});
        ok((grep { $_->[0] == 22 } @ok),
           "$name: $label: a.example.com is answered with handshake "
           . "records: " . describe_records(@ok));
        if ($flag eq '-tls1_2') {
            ok(index($ok->{response}, $piece{'sni-a'}) >= 0,
               "$name: $label: and its certificate, in the clear");
        }

        for my $sni (['unknown.example.org', '-servername',
                      'unknown.example.org'],
                     ['no SNI', '-noservername'])
        {
            my ($what, @sni) = @$sni;
            my $hello = capture_client_hello($flag, @sni);
            ok(length $hello > 100, "$name: $label, $what: a ClientHello "
                                    . "captured (" . length($hello)
                                    . " bytes)");

            my $r = raw_client(port => $t->{port}, request => $hello,
                               read_timeout => 2);
            my @rec = records($r->{response});

            ok(@rec == 1 && $rec[0][0] == 21,
               "$name: $label, $what: the whole reply is one alert record: "
               . describe_records(@rec));
            is(unpack('H*', $rec[0][2] // ''), '0270',
               "$name: $label, $what: fatal unrecognized_name (2, 112)");
            is($r->{eof}, 'tcp', "$name: $label, $what: then the server "
                                 . "closes");

            my @certs = grep { index($r->{response}, $piece{$_}) >= 0 }
                        sort keys %piece;
            ok(!@certs, "$name: $label, $what: no certificate in the "
                        . "reply") or diag("found: @certs");
        }
    }

    done_nginx($t, $name);
}


# ==== 5. reject_unauthorized: not one byte to the upstream ================

# A backend that logs at once every connection it accepts and every byte
# it receives (hex), one process per connection.
sub start_logging_backend {
    my ($log) = @_;

    my $l = listener(64);
    my $port = $l->sockport;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        my $end = time + 60 * $SLOW;

        my $say = sub {
            open my $fh, '>>', $log or return;
            syswrite $fh, "@_\n";
            close $fh;
        };

        while (time < $end) {
            next unless IO::Select->new($l)->can_read(1);
            my $c = $l->accept or next;
            my $n = int(rand(1e9));
            $say->("accept $n");

            my $p = fork;
            if (defined $p && $p == 0) {
                close $l;
                my $cend = time + 30 * $SLOW;
                while (time < $cend) {
                    next unless IO::Select->new($c)->can_read(1);
                    my $k = sysread($c, my $buf, 65536);
                    last unless $k;
                    $say->("data $n " . unpack('H*', $buf));
                    syswrite($c, $buf);    # echo
                }
                $say->("close $n");
                POSIX::_exit(0);
            }

            close $c;
        }

        POSIX::_exit(0);
    }

    close $l;
    return { pid => $pid, port => $port };
}

{
    my $name = 'reject_unauthorized, proxied';

    my $t = start_nginx(name => $name, no_start => 1,
                        stream_server_config => "securepair on;\n");
    my $log = "$t->{dir}/upstream.log";
    my $b = start_logging_backend($log);

    my $cfg = <<"EOF";
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_reject_unauthorized on;
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_context b.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key request_cert=off reject_unauthorized=off;
securepair_context c.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key ca=%%CERTS%%/ca2.crt request_cert=on reject_unauthorized=on;
proxy_pass 127.0.0.1:$b->{port};
EOF

    start_nginx(name => $name, env => $t, stream_server_config => $cfg);
    nginx_started($t, $name);

    my $secret = 'CLEARTEXT-MUST-NOT-PASS-';
    my $i = 0;
    my $wrote = 0;

    for my $case (
        ['TLS 1.3, self-signed', 'TLSv1.3', 'client-self', undef],
        ['TLS 1.3, another CA', 'TLSv1.3', 'client-wrongca', undef],
        ['TLS 1.3, expired', 'TLSv1.3', 'client-expired', undef],
        ['TLS 1.3, untrusted chain', 'TLSv1.3', 'client-chain', undef],
        ['TLS 1.3, no certificate', 'TLSv1.3', undef, undef],
        ['TLS 1.3, context a (inherits reject)', 'TLSv1.3', 'client-self',
         'a.example.com'],
        ['TLS 1.3, context c (ca2 only)', 'TLSv1.3', 'client', 'c.example.com'],
        ['TLS 1.2, self-signed', 'TLSv1.2', 'client-self', undef],
        ['TLS 1.2, another CA', 'TLSv1.2', 'client-wrongca', undef],
        ['TLS 1.2, no certificate', 'TLSv1.2', undef, undef],
    ) {
        my ($what, $version, $cert, $sni) = @$case;
        my $data = $secret . ++$i . "\n";

        # the client writes as soon as it believes the handshake done
        my $c = tls_connect(port => $t->{port}, version => $version,
                            servername => $sni,
                            $cert ? (cert => "$cert.crt", key => "$cert.key")
                                  : ());
        my $r = $c->r;

        if ($r->{handshake} eq 'ok') {
            $c->write_all($data, time + 5 * $SLOW);
            $c->read_until(idle => 2, deadline => time + 5 * $SLOW);
            $c->close;
        }

        $wrote++ if $version eq 'TLSv1.3' && ($r->{sent} // 0) > 0;

        is($r->{response}, '', "$name: $what: no byte back")
            or diag("response: $r->{response}");
        like($r->{error}, qr/alert|error|handshake/i,
             "$name: $what: the client sees the refusal ("
             . ($r->{handshake} eq 'ok' ? 'after its Finished'
                                        : 'during the handshake') . ")")
            or diag(explain($r));
    }

    # the race is run: TLS 1.3 clients sent their cleartext (encrypted)
    # while the server was still judging their certificate
    ok($wrote >= 1, "$name: $wrote of 7 TLS 1.3 clients wrote their data "
                    . "after their Finished");

    # give nginx time to do what it should not
    sleep 0.5 * $SLOW;
    my $up = slurp($log);
    is($up, '', "$name: the upstream saw no connection and no byte");
    ok(index($up, unpack('H*', $secret)) < 0,
       "$name: not one cleartext byte reached the upstream");

    # controls: the same client with good credentials reaches it
    my @good = (['TLS 1.3, client.crt', 'TLSv1.3', 'client', undef],
                ['TLS 1.2, client.crt', 'TLSv1.2', 'client', undef],
                ['context b asks for nothing', 'TLSv1.3', undef,
                 'b.example.com'],
                ['context c, ca2 client', 'TLSv1.3', 'client-wrongca',
                 'c.example.com']);

    for my $case (@good) {
        my ($what, $version, $cert, $sni) = @$case;
        my $data = "good data $what\n";
        my $r = tls_client(port => $t->{port}, version => $version,
                           servername => $sni,
                           ($cert ? (cert => "$cert.crt", key => "$cert.key")
                                  : ()),
                           request => $data, expect => $data);
        is($r->{response}, $data, "$name: control, $what: echoed by the "
                                  . "upstream");
    }

    stop_nginx($t);
    stop_backend($b);

    my @acc = slurp($log) =~ /^accept /mg;
    is(scalar @acc, scalar @good, "$name: the upstream saw the "
                                  . scalar(@good) . " good clients only");
    like(slurp($log), qr/\Q${\ unpack('H*', 'good data TLS 1.3')}\E/,
         "$name: and logged their bytes");

    done_nginx($t, $name);
}


# ==== 6. a second ClientHello must name the first one's server =============

# The server takes P-256 only (OpenSSL's system configuration, as an
# operator may set it), so the client's X25519 share gets a retry request,
# and t/tools/hello_retry_client names another server in its second hello.
sub hello_retry {
    my ($t, $first, $second, $cert) = @_;
    my @args = ("$BUILD/t/tools/hello_retry_client",
                $t->{port}, $first // '-', $second // '-');
    push @args, "$CERTS/$cert.crt", "$CERTS/$cert.key" if $cert;

    my ($st, $out, $err) = run_cmd(\@args, timeout => 30);
    die "hello_retry_client: $err" if $st != 0;
    return { map { /^(\w+): ?(.*)$/ ? ($1, $2) : () } split /\n/, $out };
}

for my $shape (
    ['two CAs', <<'EOF', 'a.example.com',
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key ca=%%CERTS%%/ca.crt request_cert=on reject_unauthorized=on;
securepair_context b.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key ca=%%CERTS%%/ca2.crt request_cert=on reject_unauthorized=on;
EOF
     # the client's first name, its second, its certificate, refused?
     [['a.example.com', 'a.example.com', 'client', 0],
      ['b.example.com', 'b.example.com', 'client-wrongca', 0],
      ['a.example.com', 'b.example.com', 'client-wrongca', 1],
      ['a.example.com', undef, 'client-wrongca', 1]]],
    ['a public context', <<'EOF', 'admin.example.com',
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_reject_unauthorized on;
securepair_context public.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key request_cert=off;
EOF
     [['admin.example.com', 'admin.example.com', 'client', 0],
      ['public.example.com', 'public.example.com', undef, 0],
      ['admin.example.com', 'public.example.com', undef, 1],
      [undef, 'public.example.com', undef, 1]]])
{
    my ($what, $contexts, $private, $cases) = @$shape;
    my $name = "second ClientHello, $what";

    my %cfg = (name => $name,
        stream_config => "map \$securepair_servername \$route {\n"
                         . "    $private private;\n    default public;\n}\n",
        stream_server_config => "securepair on;\n"
            . "securepair_certificate %%CERTS%%/server-rsa.crt;\n"
            . "securepair_certificate_key %%CERTS%%/server-rsa.key;\n"
            . $contexts . "return \"\$route\\n\";\n",
        log_format => 'sni=$securepair_servername|auth=$securepair_authorized'
                      . '|cn=$securepair_peer_cn|route=$route'
                      . '|status=$status');
    my $t = start_nginx(%cfg, no_start => 1);

    spew("$t->{dir}/openssl.cnf", <<'EOF');
openssl_conf = conf
[conf]
ssl_conf = ssl
[ssl]
system_default = groups
[groups]
Groups = P-256
EOF

    {
        local $ENV{OPENSSL_CONF} = "$t->{dir}/openssl.cnf";
        start_nginx(%cfg, env => $t);
    }

    nginx_started($t, $name);

    for my $c (@$cases) {
        my ($first, $second, $cert, $refused) = @$c;
        my $label = sprintf '%s, then %s, %s', $first // 'no name',
                            $second // 'no name', $cert // 'no certificate';
        my $r = hello_retry($t, $first, $second, $cert);

        is($r->{hellos}, 2, "$name: $label: the server asked for a second "
                            . "hello");

        if ($refused) {
            is($r->{handshake}, 'fail', "$name: $label: refused");
            is($r->{alert}, 'illegal parameter',
               "$name: $label: with illegal_parameter");
            ok(!defined $r->{response}, "$name: $label: no response");
            next;
        }

        is($r->{handshake}, 'ok', "$name: $label: handshake");
        my $route = defined $first && $first eq $private ? 'private'
                                                         : 'public';
        is($r->{response}, $route, "$name: $label: routed $route");
    }

    stop_nginx($t);

    my @refused = grep { $_->[3] } @$cases;
    my @log = access_lines($t, scalar @$cases);
    is(scalar @log, scalar @$cases, "$name: every connection is logged");

    # a refused handshake logs what it knew (the first name, so its
    # route) with $status 500: only a served session has 200
    my @private = grep { /route=private\|status=200$/ } @log;
    my @served = grep { /status=200$/ } @log;
    is(scalar @served, @$cases - @refused, "$name: the refused sessions "
                                           . "were not served");
    my $kept = grep { !$_->[3] && defined $_->[0] && $_->[0] eq $private }
                    @$cases;
    is(scalar @private, $kept, "$name: only the client that named the "
                               . "private server twice was routed there");

    my $lines = () = error_log_text($t) =~ /\[info\].*securepair: second ClientHello after a HelloRetryRequest changed the server name; sent alert "illegal parameter"/g;
    is($lines, scalar @refused, "$name: each refusal has its info line");

    done_nginx($t, $name);
}


# ==== 7. refused renegotiations end the connection at the limit ===========

# build/t/flood: the records no OpenSSL client sends (t/tools/flood.c)
sub flood {
    my (@args) = @_;
    my ($st, $out, $err) = run_cmd(["$BUILD/t/flood", @args],
                                   timeout => 30 * $SLOW);
    my %r = $out =~ /(\w+)=(\d+)/g;
    $r{status} = $st;
    $r{stderr} = $err;
    return \%r;
}

{
    my $name = 'refused renegotiation flood';

    # limit 0: OpenSSL refuses each hello itself, with a warning alert,
    # and never asks the hello callback
    my $t = start_nginx(
        log_format => 'reneg=$securepair_renegotiations',
        stream_server_config => <<'EOF');
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_reneg_limit 0;
securepair_echo "welcome!\n";
EOF
    nginx_started($t, $name);

    my $r = flood('hello', $t->{port}, 500, 5 * $SLOW);
    is($r->{status}, 0, "$name: the client ran") or diag($r->{stderr});
    ok($r->{hellos} >= 1, "$name: it sent hellos ($r->{hellos} of 500)");
    is($r->{closed}, 1, "$name: the server closed the connection")
        or diag(explain($r));
    ok($r->{ms} < 4000 * $SLOW, "$name: at once ($r->{ms} ms), not at a "
                                . "timeout");
    ok($r->{alerts} <= 1, "$name: after limit + 1 = 1 refusal at most "
                          . "($r->{alerts} alerts)");

    # (the variable counts renegotiations taken up: none)
    my @access = access_lines($t, 1);
    is($access[0], 'reneg=0', "$name: no renegotiation taken up");

    like(error_log_text($t),
         qr/\[info\].*securepair: renegotiation limit exceeded: more than 0 in 600 s/,
         "$name: the log names the limit");

    done_nginx($t, $name);
}


# ==== 8. a client that never reads is held to its socket buffers ==========

# A TLS 1.3 client sends key updates that each request one back, and
# reads nothing: the server must stop reading.  Then the client reads all
# the answers, and the connection goes on.  Through securepair_echo and
# through the proxy (whose write events flush the records).
for my $content ('securepair_echo "welcome!\n";',
                 'proxy_pass 127.0.0.1:%%BACKEND_PORT%%;')
{
    my $via = $content =~ /proxy/ ? 'proxy' : 'echo';
    my $name = "key update flood, $via";
    my $greeting = $via eq 'echo' ? "welcome!\n" : '';

    my $t = start_nginx(backend => 'echo', stream_server_config => <<"EOF");
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
$content
EOF
    nginx_started($t, $name);

    # one connection first, so that the worker's own start-up is in the
    # baseline
    my $warm = tls_client(port => $t->{port}, request => "hi\n",
                          expect => "${greeting}hi\n");
    is($warm->{response}, "${greeting}hi\n", "$name: the server echoes");

    my $before = worker_rss($t->{pid});

    # the client holds the connection open until told on its stdin
    pipe(my $hold, my $tell) or die "pipe: $!";
    my $pid = open(my $out, '-|') // die "fork: $!";

    if ($pid == 0) {
        close $tell;
        open(STDIN, '<&', $hold) or POSIX::_exit(1);
        exec("$BUILD/t/flood", 'keyupdate', $t->{port}, 2000000, 15 * $SLOW)
            or POSIX::_exit(1);
    }

    close $hold;
    $tell->autoflush(1);

    my $line = <$out> // '';
    my %r = $line =~ /(\w+)=(\d+)/g;
    my $after = worker_rss($t->{pid});
    chomp $line;

    ok(($r{updates} // 0) > 0, "$name: the client sent key updates "
                               . "($line)");
    is($r{stalled}, 1, "$name: until the server stopped reading")
        or diag($line);
    my $growth = $after - $before;
    SKIP: {
        # under valgrind the resident set is valgrind's, shadow included
        skip "$name: resident memory means nothing under valgrind", 1
            if $VALGRIND;
        ok($growth < 4096, "$name: the worker grew by $growth kB "
                           . "($before -> $after kB), under 4 MB");
    }

    # the client reads and sends nothing new: each time the server's
    # records are out its reader must be woken, until every key update
    # is answered (OpenSSL answers the last one when it next reads: the
    # client's ping)
    print $tell "resume\n";
    my $echo = <$out> // '';
    my %e = $echo =~ /(\w+)=(\d+)/g;
    chomp $echo;
    is($e{echo}, 1, "$name: once the client reads, the connection goes "
                    . "on ($echo)");
    is($e{answers}, $r{updates}, "$name: and every key update was "
                                 . "answered");

    close $tell;
    close $out;

    my $again = tls_client(port => $t->{port}, request => "more\n",
                           expect => "${greeting}more\n");
    is($again->{response}, "${greeting}more\n", "$name: a new client is "
                                                . "served");

    done_nginx($t, $name);
}

done_testing();
