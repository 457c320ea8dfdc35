#!/usr/bin/perl
#
# t/certname.t: certificates named with variables
# (securepair_certificate .../$securepair_servername.crt), chosen from the
# client's SNI at handshake time, cached per worker
# (securepair_certificate_cache), and files added and renewed under a
# running nginx, used without a reload.
#
# Each name's files are copies of the generated certificates, so the
# client tells which file answered by the CN it got: sni-a
# "a.example.com", sni-wild "*.example.com", sni-trail "www.example.net",
# sni-re "api.example.net"; the default certificate is "localhost".

use strict;
use warnings;

use File::Copy qw(copy);
use Time::HiRes qw(sleep);

use lib 't/lib';
use SecurePair::Test;

my %cn = ('sni-a' => 'a.example.com', 'sni-wild' => '*.example.com',
          'sni-trail' => 'www.example.net', 'sni-re' => 'api.example.net');

my $server = <<'EOF';
%%INCLUDE(tls_rsa)%%
securepair_certificate %%TESTDIR%%/sites/$securepair_servername.crt;
securepair_certificate_key %%TESTDIR%%/sites/$securepair_servername.key;
securepair_echo "welcome!\n";
EOF

# Gives $name the files of a generated certificate, each written beside
# and renamed into place, as ACME clients renew: a new inode.
sub site {
    my ($t, $name, $base, %o) = @_;
    my $dir = "$t->{dir}/sites";
    mkdir $dir, 0755;
    for my $ext (qw(crt key)) {
        my $from = $o{$ext} // cert_path("$base.$ext");
        copy($from, "$dir/.$name.$ext.new") or die "copy $from: $!";
        rename "$dir/.$name.$ext.new", "$dir/$name.$ext"
            or die "rename: $!";
    }
}

# One client: the CN it got for $sni, after an echo.
sub cn_for {
    my ($t, $sni, %o) = @_;
    my $r = tls_client(port => $t->{port}, servername => $sni,
                       request => "x\n", expect => "welcome!\nx\n", %o);
    return $r->{handshake} eq 'ok' && $r->{response} eq "welcome!\nx\n"
           ? $r->{peer_cn} : "failed: $r->{error}";
}

sub started {
    my ($name, %a) = @_;
    my $t = start_nginx(name => $name, public_dir => 1, %a);
    # the worker reads the files, as its user: not the master, as it
    # does the files named without variables
    chmod 0755, $t->{dir};
    nginx_started($t, $name);
    return $t;
}

# Waits out a cache's valid=1s: the next handshake looks at the files.
sub after_valid { sleep 2.2 }


# ---- names, files added and renewed ----------------------------------------

{
    my $name = 'added and renewed';
    my $t = started($name, stream_server_config => $server
                    . "securepair_certificate_cache max=100 valid=1s;\n");

    is(cn_for($t, 'one.test'), 'localhost',
       "$name: a name without files gets the default certificate");
    my $dir = $t->{dir};
    like(error_log_text($t),
         qr/\[info\].*cannot use the certificate of server name "one\.test": \Q$dir\E\/sites\/one\.test\.(key|crt): [^;]*No such file[^;]*; the default certificate serves it/,
         "$name: an info line names the missing file and the reason");
    is(cn_for($t, undef), 'localhost', "$name: no SNI: the default");

    site($t, 'two.test', 'sni-a');
    is(cn_for($t, 'two.test'), 'a.example.com',
       "$name: files added under the running nginx serve the next "
       . "handshake of a new name");

    site($t, 'one.test', 'sni-wild');
    after_valid();
    is(cn_for($t, 'one.test'), '*.example.com',
       "$name: files added for a name that had none serve after valid");

    site($t, 'two.test', 'sni-trail');
    after_valid();
    is(cn_for($t, 'two.test'), 'www.example.net',
       "$name: renewed files serve after valid, without a reload");
    like(error_log_text($t),
         qr/certificate files of server name "two\.test" changed/,
         "$name: the renewal is said");

    # renewed in place: the same inode, another size and time
    copy(cert_path('sni-re.crt'), "$dir/sites/two.test.crt") or die $!;
    copy(cert_path('sni-re.key'), "$dir/sites/two.test.key") or die $!;
    after_valid();
    is(cn_for($t, 'two.test'), 'api.example.net',
       "$name: files rewritten in place serve after valid");

    is(cn_for($t, 'TWO.test'), 'localhost',
       "$name: the name as sent: another spelling, another file");

    done_nginx($t, $name);
}


# ---- a reload: the new workers' caches start empty ------------------------
#
# (master => 1: under TEST_NGINX_VALGRIND nginx otherwise runs as a single
# process, which cannot reload)

{
    my $name = 'reload';
    my $t = started($name, master => 1, stream_server_config => $server
                    . "securepair_certificate_cache max=100 valid=1h;\n");

    site($t, 'one.test', 'sni-a');
    is(cn_for($t, 'one.test'), 'a.example.com',
       "$name: a name's files serve and are cached");

    site($t, 'one.test', 'sni-wild');
    is(cn_for($t, 'one.test'), 'a.example.com',
       "$name: renewed files wait for valid (1h) in the running worker");

    # a reload to `cache`, then what the new worker serves one.test
    my $reload_to = sub {
        my ($cache, $what) = @_;
        ok(reload_nginx($t, stream_server_config => $server
                        . "securepair_certificate_cache $cache;\n"),
           "$name: nginx -s reload $what") or diag($t->{reload_error});
        return cn_for($t, 'one.test');
    };

    is($reload_to->('max=100 valid=1h', 'with the same configuration'),
       '*.example.com', "$name: the new worker reads the renewed files at "
       . "once");

    my $c = tls_connect(port => $t->{port}, servername => 'one.test');
    is($c->r->{handshake}, 'ok', "$name: a connection opened before the "
       . "next reload");

    site($t, 'one.test', 'sni-trail');
    is($reload_to->('off', 'to securepair_certificate_cache off'),
       'www.example.net', "$name: without a cache the files are read at "
       . "each handshake");
    site($t, 'one.test', 'sni-re');
    is(cn_for($t, 'one.test'), 'api.example.net',
       "$name: and a renewal serves the next handshake");

    is($c->exchange("y\n", expect => "welcome!\ny\n"), "welcome!\ny\n",
       "$name: the connection opened before the reload still echoes");
    $c->close;

    stop_nginx($t);
    my $exits = () = error_log_text($t)
                     =~ /worker process \d+ exited with code 0/g;
    ok($exits >= 3, "$name: the old workers exited cleanly, their caches "
       . "with them ($exits exits)");
    done_nginx($t, $name);
}


# ---- missing and broken files -------------------------------------------

{
    my $name = 'broken files';
    my $t = started($name, stream_server_config => $server
                    . "securepair_certificate_cache max=100 valid=1s;\n");

    site($t, 'garbage.test', 'sni-a', crt => cert_path('garbage.pem'));
    is(cn_for($t, 'garbage.test'), 'localhost',
       "$name: a certificate that is not PEM: the default certificate");
    my $dir = $t->{dir};
    like(error_log_text($t),
         qr/\[info\].*server name "garbage\.test": \Q$dir\E\/sites\/garbage\.test\.crt: no certificate found[^;]*; the default certificate serves it/,
         "$name: an info line names the broken file and the reason");

    site($t, 'mismatch.test', 'sni-a', key => cert_path('sni-wild.key'));
    is(cn_for($t, 'mismatch.test'), 'localhost',
       "$name: a key of another certificate: the default certificate");
    like(error_log_text($t),
         qr/server name "mismatch\.test": \S+mismatch\.test\.key: .*match/,
         "$name: the info line says the key does not match");

    site($t, 'garbage.test', 'sni-a');
    after_valid();
    is(cn_for($t, 'garbage.test'), 'a.example.com',
       "$name: repaired files serve after valid");

    site($t, 'good.test', 'sni-a');
    is(cn_for($t, 'good.test'), 'a.example.com', "$name: a good name");
    unlink "$t->{dir}/sites/good.test.crt";
    after_valid();
    is(cn_for($t, 'good.test'), 'localhost',
       "$name: its file removed: the default certificate after valid");

    done_nginx($t, $name);
}


# ---- names that must not reach the file system --------------------------

{
    my $name = 'path characters';
    my $t = started($name, stream_server_config => $server);

    # files a name with path characters would reach
    site($t, '_x', 'sni-wild');
    mkdir "$t->{dir}/sites/sub", 0755;
    for my $f ("$t->{dir}/evil", "$t->{dir}/sites/sub/x") {
        copy(cert_path("sni-wild.$_"), "$f.$_") or die $! for qw(crt key);
    }

    for my $sni ('sub/x', '../evil', 'x/../../evil', 'a\\b', 'a b',
                 "caf\xc3\xa9", 'x%2f..%2fevil')
    {
        my $cn = cn_for($t, $sni);
        ok($cn eq 'localhost' || $cn =~ /^failed/,
           "$name: \"$sni\" never reaches a file ($cn)");
    }
    like(error_log_text($t),
         qr/server name "sub\/x" has characters that no host name has/,
         "$name: the refusal is said");
    is(cn_for($t, '_x'), '*.example.com',
       "$name: an underscore is a host name's");

    done_nginx($t, $name);
}


# ---- a cache smaller than the names --------------------------------------

{
    my $name = 'cache bound';
    my $t = started($name, stream_server_config => $server
                    . "securepair_certificate_cache max=2;\n");

    my @names = map { ["n$_.test", (sort keys %cn)[$_ % 4]] } 0 .. 5;
    site($t, $_->[0], $_->[1]) for @names;

    my @wrong;
    for my $round (1 .. 3) {
        for my $n ($round == 2 ? reverse @names : @names) {
            my $got = cn_for($t, $n->[0]);
            push @wrong, "$n->[0]: $got" if $got ne $cn{ $n->[1] };
        }
    }
    is("@wrong", '', "$name: six names through a cache of two, three times "
       . "over: each gets its own certificate");

    # valid is 60 s here: a failed name stays failed, unread, until then
    is(cn_for($t, 'missing.test'), 'localhost', "$name: a missing name");
    is(cn_for($t, 'missing.test'), 'localhost',
       "$name: asked again, still the default");
    my $lines = () = error_log_text($t) =~ /"missing\.test"/g;
    is($lines, 1, "$name: a failed name is not read (nor said) again "
       . "before valid");

    done_nginx($t, $name);
}


# ---- client certificates under a certificate named by a variable ----------
#
# The credentials made for a name take the server's verification: its CA,
# trusted certificates, CRL and depth, as the default certificate does.

{
    my $name = 'client certificates';
    my $t = started($name,
        log_format => '$securepair_servername $securepair_authorized '
                      . '$securepair_authorization_error',
        stream_server_config => $server . <<'EOF');
securepair_ca %%CERTS%%/ca.crt;
securepair_trusted_certificate %%CERTS%%/ca-trusted.crt;
securepair_crl %%CERTS%%/ca.crl;
securepair_request_cert on;
securepair_reject_unauthorized off;
EOF

    site($t, 'named.test', 'sni-a');
    my (%got, $lines);

    for my $client (qw(client client-revoked client-trusted client-wrongca)) {
        for my $sni ('named.test', undef) {
            my $r = tls_client(port => $t->{port}, servername => $sni,
                               cert => "$client.crt", key => "$client.key",
                               request => "x\n", expect => "welcome!\nx\n");
            my $who = ($sni // 'no SNI') . ", $client";
            is($r->{peer_cn}, $sni ? 'a.example.com' : 'localhost',
               "$name: $who: the certificate for the name");
            my $want = $sni // '-';
            $got{$who} = ((access_lines($t, ++$lines))[-1] // '')
                         =~ s/^\Q$want\E //r;
        }
        is($got{"named.test, $client"}, $got{"no SNI, $client"},
           "$name: $client: verified alike under the named certificate and "
           . "the default one ($got{\"no SNI, $client\"})");
    }

    is($got{'named.test, client'}, 'true -',
       "$name: securepair_ca verifies");
    # its issuer found (else UNABLE_TO_VERIFY_LEAF_SIGNATURE), then no CRL
    # of that issuer's, which securepair_crl's check asks for
    is($got{'named.test, client-trusted'}, 'false UNABLE_TO_GET_CRL',
       "$name: securepair_trusted_certificate finds the issuer; the CRL "
       . "check asks for its CRL");
    is($got{'named.test, client-revoked'}, 'false CERT_REVOKED',
       "$name: securepair_crl revokes");
    is($got{'named.test, client-wrongca'},
       'false UNABLE_TO_VERIFY_LEAF_SIGNATURE',
       "$name: another CA's client is not authorized");

    done_nginx($t, $name);
}


# ---- precedence, passphrases, refusing unknown names, no cache -----------

{
    my $name = 'precedence';
    my $t = started($name, stream_server_config => $server . <<'EOF');
securepair_context ctx.test %%CERTS%%/sni-re.crt %%CERTS%%/sni-re.key;
securepair_context *.wild.test %%CERTS%%/sni-trail.crt %%CERTS%%/sni-trail.key;
EOF

    site($t, $_, 'sni-a') for qw(ctx.test x.wild.test other.test);
    is(cn_for($t, 'ctx.test'), 'api.example.net',
       "$name: a securepair_context name over the variable certificate");
    is(cn_for($t, 'x.wild.test'), 'www.example.net',
       "$name: a securepair_context wildcard over it too");
    is(cn_for($t, 'other.test'), 'a.example.com',
       "$name: other names from their files");

    done_nginx($t, $name);
}

{
    my $name = 'passphrase';
    my $t = started($name, stream_server_config => <<'EOF');
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_password_file %%CERTS%%/server-rsa-enc-pass.txt;
securepair_certificate %%TESTDIR%%/sites/$securepair_servername.crt;
securepair_certificate_key %%TESTDIR%%/sites/$securepair_servername.key;
securepair_echo "welcome!\n";
EOF

    site($t, 'enc.test', 'x', crt => cert_path('server-rsa.crt'),
         key => cert_path('server-rsa-enc.key'));
    my $r = tls_client(port => $t->{port}, servername => 'enc.test',
                       request => "x\n", expect => "welcome!\nx\n");
    is($r->{peer_key}, 'RSA',
       "$name: an encrypted key opens with securepair_password_file");
    $r = tls_client(port => $t->{port}, servername => 'other.test',
                    request => "x\n", expect => "welcome!\nx\n");
    is($r->{peer_key}, 'EC', "$name: the default is the EC certificate");

    done_nginx($t, $name);
}

{
    my $name = 'reject unknown';
    my $t = started($name, stream_server_config => $server
                    . "securepair_reject_unknown_servername on;\n");

    site($t, 'known.test', 'sni-a');
    is(cn_for($t, 'known.test'), 'a.example.com',
       "$name: a name with files is known");
    like(cn_for($t, 'unknown.test'), qr/^failed/,
         "$name: a name without files is refused");
    like(error_log_text($t),
         qr/server name "unknown\.test": .*refused as an unknown name/,
         "$name: the info line says so");

    done_nginx($t, $name);
}

{
    my $name = 'cache off';
    my $t = started($name, stream_server_config => $server
                    . "securepair_certificate_cache off;\n");

    site($t, 'fresh.test', 'sni-a');
    is(cn_for($t, 'fresh.test'), 'a.example.com', "$name: served");
    site($t, 'fresh.test', 'sni-wild');
    is(cn_for($t, 'fresh.test'), '*.example.com',
       "$name: every handshake reads the files");

    done_nginx($t, $name);
}

run_tests();

__DATA__

=== TEST 1: a variable certificate needs a default one
--- stream_server_config
securepair on;
securepair_certificate %%TESTDIR%%/$securepair_servername.crt;
securepair_certificate_key %%TESTDIR%%/$securepair_servername.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] a server with variables in "securepair_certificate" also needs a "securepair_certificate" and "securepair_certificate_key" without variables: .* in %%CONF%%:%%LINE(servername.crt)%%$}m

=== TEST 2: an unknown variable
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_certificate %%TESTDIR%%/$no_such_variable.crt;
securepair_certificate_key %%TESTDIR%%/$no_such_variable.key;
securepair_echo;
--- must_die
--- error_log
unknown "no_such_variable" variable

=== TEST 3: securepair_certificate_cache parameters
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_certificate_cache max=0;
securepair_echo;
--- must_die
--- error_log
invalid parameter "max=0" in "securepair_certificate_cache"

=== TEST 4: securepair_certificate_cache needs max
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_certificate_cache valid=10s;
securepair_echo;
--- must_die
--- error_log
"securepair_certificate_cache" needs "max=" or "off"

=== TEST 5: securepair_certificate_cache times
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_certificate_cache max=10 valid=soon;
securepair_echo;
--- must_die
--- error_log
invalid parameter "valid=soon" in "securepair_certificate_cache"

=== TEST 6: a cache of its own per server, inherited from stream
--- stream_config
securepair_certificate_cache max=10 inactive=1m valid=5s;
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_certificate %%TESTDIR%%/$securepair_servername.crt;
securepair_certificate_key %%TESTDIR%%/$securepair_servername.key;
securepair_echo "welcome!\n";
--- tls
servername: nothing.test
--- stream_request
hi
--- stream_response
welcome!
hi
--- tls_expect
peer_cn: localhost
