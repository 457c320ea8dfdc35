#!/usr/bin/perl
#
# t/authorization.t: Node's requestCert x rejectUnauthorized matrix through
# nginx, for every kind of client certificate, in TLS 1.2 and TLS 1.3:
# what the client sees, what $securepair_authorized and
# $securepair_authorization_error say (for a refused client too), and that
# a refused client never gets a byte of cleartext through.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;

# client certificate => the verdict when one is requested (Node's names)
my @clients = (
    [ 'client',         'true',  '-' ],
    [ 'client-self',    'false', 'DEPTH_ZERO_SELF_SIGNED_CERT' ],
    [ 'client-expired', 'false', 'CERT_HAS_EXPIRED' ],
    [ 'client-wrongca', 'false', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ],
    [ 'client-chain',   'false', 'SELF_SIGNED_CERT_IN_CHAIN' ],
    [ undef,            'false', 'UNABLE_TO_GET_ISSUER_CERT' ],
);

for my $request (qw(off on)) {
    for my $reject (qw(off on)) {
        my $t = start_nginx(
            log_format => '$securepair_protocol $securepair_authorized '
                          . '$securepair_authorization_error '
                          . '"$securepair_peer_cn"',
            stream_server_config => <<"CONF");
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert $request;
securepair_reject_unauthorized $reject;
securepair_echo "welcome!\\n";
CONF
        my $setting = "request_cert $request, reject_unauthorized $reject";

        nginx_started($t, $setting);

        for my $version (qw(TLSv1.2 TLSv1.3)) {
            for my $c (@clients) {
                my ($base, $authorized, $error) = @$c;
                my $name = ($base // 'no certificate') . ", $version, "
                           . $setting;

                # not asked: never authorized, no error, no certificate
                if ($request eq 'off') {
                    ($authorized, $error) = ('false', '-');
                }

                my $refused = $request eq 'on' && $reject eq 'on'
                              && $authorized ne 'true';

                my $r = tls_client(port => $t->{port},
                                   servername => 'localhost',
                                   version => $version,
                                   $base ? (cert => "$base.crt",
                                            key => "$base.key") : (),
                                   request => "ping\n",
                                   expect => "welcome!\nping\n",
                                   read_timeout => 1);

                if ($refused) {
                    ok(($r->{response} // '') !~ /welcome|ping/,
                       "$name: refused, not one byte of cleartext");

                    # the log still says who and why
                    my $cn = $base ? '.+' : '-';
                    ok(wait_for_log($t,
                           qr/^\Q$version false $error\E "$cn"$/m),
                       "$name: the access log says false $error")
                        or diag(access_log_text($t));
                    next;
                }

                is($r->{handshake}, 'ok', "$name: handshake");
                is($r->{response}, "welcome!\nping\n", "$name: echo");

                my $cn = $request eq 'on' && $base ? '.+' : '-';
                my $log = wait_for_log($t,
                    qr/^\Q$version $authorized $error\E "$cn"$/m);
                ok($log, "$name: authorized=$authorized error=$error")
                    or diag(access_log_text($t));
            }
        }

        if ($request eq 'on' && $reject eq 'on') {
            like(error_log_text($t),
                 qr/\[info\].*securepair: peer certificate not authorized: /,
                 "$setting: refusals logged at info with the reason");
        }

        done_nginx($t, $setting);
    }
}


# Renegotiation (TLS 1.2): authorization is decided again after every
# handshake, and every handshake asks for the certificate.  The client
# changes its certificate between handshakes; the access log says what
# the server thought at the end.
for my $reject (qw(off on)) {
    my $t = start_nginx(
        log_format => '$securepair_authorized $securepair_authorization_error '
                      . '"$securepair_peer_cn" $securepair_renegotiations',
        stream_server_config => <<"CONF");
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_reject_unauthorized $reject;
securepair_echo "welcome!\\n";
CONF
    my $setting = "renegotiation, reject_unauthorized $reject";

    nginx_started($t, $setting);

    # first certificate, certificate for the renegotiation, the verdict
    my @cases = (
        [ 'client', 'client', 'true - "client" 1' ],
        [ 'client', 'client-self',
          'false DEPTH_ZERO_SELF_SIGNED_CERT "self-signed client" 1' ],
        [ undef, 'client', 'true - "client" 1' ],
    );

    for my $c (@cases) {
        my ($first, $then, $want) = @$c;
        my $name = ($first // 'no certificate') . " then $then, $setting";
        my $refused = $reject eq 'on' && $want =~ /^false/;

        next if $reject eq 'on' && !defined $first;

        truncate("$t->{dir}/access.log", 0);

        my $conn = tls_connect(port => $t->{port}, version => 'TLSv1.2',
                               $first ? (cert => "$first.crt",
                                         key => "$first.key") : ());
        is($conn->r->{handshake}, 'ok', "$name: handshake");
        is($conn->exchange("one\n", expect => "welcome!\none\n"),
           "welcome!\none\n", "$name: echo");

        my $ssl = $conn->{ssl};
        Net::SSLeay::use_certificate_file($ssl, cert_path("$then.crt"),
                                          Net::SSLeay::FILETYPE_PEM());
        Net::SSLeay::use_PrivateKey_file($ssl, cert_path("$then.key"),
                                         Net::SSLeay::FILETYPE_PEM());

        my $done = $conn->renegotiate(time + 5 * $SLOW);

        if ($refused) {
            ok(!$done, "$name: the renegotiation ends the connection");
            is($conn->exchange("two\n", timeout => 2), '',
               "$name: not one byte more");

        } else {
            ok($done, "$name: renegotiated") or diag($conn->r->{error});
            is($conn->exchange("two\n", expect => "two\n"), "two\n",
               "$name: echo afterwards");
        }

        $conn->close;

        my $line = wait_for_log($t, qr/./) ? access_log_text($t) : '';
        chomp $line;

        if ($refused) {
            # the peer is the refused certificate or none, never the
            # first handshake's
            like($line, qr/^false DEPTH_ZERO_SELF_SIGNED_CERT "(-|self-signed client)" 1$/,
                 "$name: not authorized") or diag("got: $line");
        } else {
            is($line, $want, "$name: $want");
        }
    }

    if ($reject eq 'on') {
        like(error_log_text($t),
             qr/\[info\].*securepair: peer certificate not authorized: DEPTH_ZERO_SELF_SIGNED_CERT/,
             "$setting: the refusal is logged");
    }

    done_nginx($t, $setting);
}

done_testing();

