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

        ok(!$t->{start_error}, "$setting: nginx starts")
            or diag($t->{start_error});

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

done_testing();


# The access log line is written when the session ends: wait a little.
sub wait_for_log {
    my ($t, $re) = @_;

    for (1 .. 100) {
        my $log = access_log_text($t) // '';
        return 1 if $log =~ $re;
        select(undef, undef, undef, 0.02);
    }

    return 0;
}
