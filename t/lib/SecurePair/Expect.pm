package SecurePair::Expect;

# SecurePair::Expect: a block's expectations against what happened: the
# clients' results (handshake, response, --- tls_expect) and the logs
# (error_log, no_error_log, access_log, no_access_log, backend_log).
# Also the reading of a block's sections, which both sides need, and the
# block templates that give a block the sections it does not have.

use strict;
use warnings;

use Exporter qw(import);
use Test::More import => [qw(ok is like unlike pass fail diag)];

use SecurePair::Conf qw(subst_expect);
use SecurePair::Nginx qw(error_log_text access_log_text backend_log_text);
use SecurePair::Util qw(printable);

our @EXPORT_OK = qw(block_template section kv patterns check_client
                    check_logs numbered tail);

my %BLOCK_TEMPLATES;

# block_template(name => { section => value, ... }, ...): sections that
# a block with "--- template: name" takes when it does not have them
# ("--- template: a b": from a, then from b).
sub block_template {
    my (%t) = @_;

    for my $name (keys %t) {
        die "block_template $name: want a hash of sections\n"
            unless ref $t{$name} eq 'HASH';
        $BLOCK_TEMPLATES{$name} = $t{$name};
    }
}

# A section of a block: undef when absent, its value, or an array of
# values (after filters that make several); the block's template's when
# the block does not have it.
sub section {
    my ($block, $name) = @_;
    my @v = $block->$name;

    if (!@v && $name ne 'template') {
        my $names = section($block, 'template');
        return undef unless defined $names;

        for my $t (split ' ', $names) {
            die "--- template: no block_template \"$t\"\n"
                unless $BLOCK_TEMPLATES{$t};
            return $BLOCK_TEMPLATES{$t}{$name}
                if exists $BLOCK_TEMPLATES{$t}{$name};
        }

        return undef;
    }

    return undef unless @v;
    return $v[0] if @v == 1;
    return \@v;
}

# "key: value" lines (# comments and blank lines skipped): ([k, v], ...).
sub kv {
    my ($text, $what) = @_;
    my @kv;

    return () unless defined $text;

    for my $line (split /\n/, $text) {
        next if $line =~ /^\s*(#|$)/;
        $line =~ /^\s*([\w-]+)\s*:\s?(.*?)\s*$/
            or die "bad line in --- $what: \"$line\" (want key: value)\n";
        push @kv, [$1, $2];
    }

    return @kv;
}

# Expected lines: a string of lines, or (after an eval filter) a regex or
# an array of strings and regexes.
sub patterns {
    my ($t, $v) = @_;
    return () unless defined $v;

    my @items = ref $v eq 'ARRAY' ? @$v : ref $v ? ($v)
              : grep { /\S/ } split /\n/, $v;
    my @p;

    for my $item (@items) {
        if (ref $item eq 'Regexp') {
            push @p, [$item, "$item"];
            next;
        }

        my $s = subst_expect($t, $item);

        if ($s =~ m{^\s*qr(.)(.*)(?:\1|[\)\}\]>])([imsx]*)\s*$}) {
            my ($re, $flags) = ($2, $3);
            push @p, [($flags ? qr/(?$flags)$re/ : qr/$re/), $s];
        } else {
            push @p, [qr/\Q$s\E/, $s];
        }
    }

    return @p;
}

sub _compare_response {
    my ($got, $want, $name) = @_;

    if (defined $got && $got eq $want) {
        pass($name);
        return;
    }

    if (length($want) <= 400 && length($got // '') <= 400) {
        is($got, $want, $name);
        return;
    }

    fail($name);

    my $i = 0;
    $got //= '';
    $i++ while $i < length($got) && $i < length($want)
               && substr($got, $i, 1) eq substr($want, $i, 1);
    diag("got " . length($got) . " bytes, expected " . length($want)
         . "; first difference at offset $i: got "
         . printable(substr($got, $i, 40)) . ", expected "
         . printable(substr($want, $i, 40)));
}

# nginx.conf with line numbers, for diagnostics.
sub numbered {
    my ($s) = @_;
    my $i = 0;
    return join '', map { sprintf "%3d  %s\n", ++$i, $_ } split /\n/, $s;
}

# A --- tls_expect value: qr/.../ or a string with substitutions.
sub _expect_value {
    my ($t, $v) = @_;

    if ($v =~ m{^qr/(.*)/([imsx]*)$}) {
        my ($re, $flags) = ($1, $2);
        return $flags ? qr/(?$flags)$re/ : qr/$re/;
    }

    return subst_expect($t, $v);
}

my %TLS_EXPECT = map { $_ => 1 } qw(alpn npn peer_cn peer_key protocol
    cipher handshake alert session_reused close_notify eof renegotiated
    npn_status peer_sig);

# The client checks of a block, one test each: the handshake, the
# response (exact or like), every --- tls_expect key; over every client
# when there are several.
sub check_client {
    my ($block, $name, $t, $results, $expect, $tls_expect) = @_;

    my $n = @$results;
    my $who = $n > 1 ? "$n clients" : "client";

    # one check over every client: the failing ones are shown
    my $check = sub {
        my ($label, $test) = @_;
        my @bad;

        for my $i (0 .. $#$results) {
            my $why = $test->($results->[$i]);
            push @bad, ($n > 1 ? "client " . ($i + 1) . ": " : '') . $why
                if defined $why;
        }

        ok(!@bad, "$name: $label")
            or diag(join "\n", @bad[0 .. ($#bad > 4 ? 4 : $#bad)],
                    ($n > 1 ? scalar(@bad) . " of $n failed" : ()));
    };

    my %want = map { $_->[0] => $_->[1] } @$tls_expect;

    for my $k (keys %want) {
        die "unknown --- tls_expect key \"$k\"\n" unless $TLS_EXPECT{$k};
    }

    my %tls = map { $_->[0] => $_->[1] } kv(section($block, 'tls'), 'tls');
    my $hs = $want{handshake} // $tls{expect_handshake} // 'ok';

    $check->("$who: handshake $hs", sub {
        my ($r) = @_;
        return undef if $r->{handshake} eq $hs;
        return "handshake $r->{handshake}, error: " . ($r->{error} || '-');
    });

    if ($n == 1 && defined $expect->{response}) {
        my $r = $results->[0];
        _compare_response($r->{response}, $expect->{response},
                          "$name: response");
        diag("client error: $r->{error}, end: " . ($r->{eof} // '-'))
            if $r->{response} ne $expect->{response} && $r->{error};
    } elsif (defined $expect->{response}) {
        $check->("$who: response", sub {
            my ($r) = @_;
            return undef if $r->{response} eq $expect->{response};
            return "got " . printable($r->{response}) . " error: "
                   . ($r->{error} || '-');
        });
    }

    if (defined $expect->{like}) {
        $check->("$who: response matches $expect->{like}", sub {
            my ($r) = @_;
            return undef if $r->{response} =~ $expect->{like};
            return "got " . printable($r->{response}) . " error: "
                   . ($r->{error} || '-');
        });
    }

    for my $kv (@$tls_expect) {
        my ($k, $v) = @$kv;
        next if $k eq 'handshake';

        my $want = _expect_value($t, $v);

        if ($k eq 'alert') {
            (my $norm = lc $v) =~ s/_/ /g;
            $check->("$who: error mentions \"$v\"", sub {
                my ($r) = @_;
                (my $e = lc($r->{error} // '')) =~ s/_/ /g;
                return undef if index($e, $norm) >= 0;
                return "error: " . printable($r->{error});
            });
            next;
        }

        $check->("$who: $k is " . (ref $want ? "$want" : "\"$want\""), sub {
            my ($r) = @_;
            my $got = $r->{$k};
            return undef if defined $got
                            && (ref $want ? $got =~ $want : $got eq $want);
            return "$k: " . printable($got) . ", handshake "
                   . $r->{handshake} . ", error: " . ($r->{error} || '-');
        });
    }
}

# The log checks of a block: error_log, no_error_log, access_log,
# no_access_log, backend_log.
sub check_logs {
    my ($block, $name, $t) = @_;

    my $log = error_log_text($t);
    my $access = access_log_text($t);
    my $backend = backend_log_text($t);

    for my $p (patterns($t, section($block, 'error_log'))) {
        like($log, $p->[0], "$name: error.log has $p->[1]")
            or diag("error.log:\n" . tail($log, 25));
    }

    for my $p (patterns($t, section($block, 'no_error_log'))) {
        my @hits = grep { $_ =~ $p->[0] } split /\n/, $log;
        ok(!@hits, "$name: error.log lacks $p->[1]")
            or diag(join "\n", "found:", @hits[0 .. ($#hits > 4 ? 4
                                                              : $#hits)]);
    }

    if ((defined section($block, 'access_log')
         || defined section($block, 'no_access_log'))
        && !defined section($block, 'log_format'))
    {
        die "--- access_log needs --- log_format\n";
    }

    for my $p (patterns($t, section($block, 'access_log'))) {
        like($access, $p->[0], "$name: access log has $p->[1]")
            or diag("access log:\n" . tail($access, 20));
    }

    for my $p (patterns($t, section($block, 'no_access_log'))) {
        unlike($access, $p->[0], "$name: access log lacks $p->[1]");
    }

    for my $p (patterns($t, section($block, 'backend_log'))) {
        like($backend, $p->[0], "$name: backend log has $p->[1]")
            or diag("backend log:\n$backend");
    }
}

# The last $n lines of a text.
sub tail {
    my ($s, $n) = @_;
    my @l = split /\n/, $s;
    @l = @l[-$n .. -1] if @l > $n;
    return join "\n", @l;
}

1;
