#!/usr/bin/perl
#
# t/vserver.t: stream virtual servers (server_name, nginx >= 1.25.5):
# several servers on one listen, the client's SNI choosing the server by
# an exact, wildcard or regex name as nginx matches them, before the
# certificate is chosen; that server's certificate, ALPN, client
# certificate policy, securepair_context lines and content handler apply;
# no SNI, or a name no server has, gets the default server.
#
# Each server greets with its own name (its securepair_echo), and has its
# own certificate: the client tells who answered by both.  On nginx
# without stream server_name the cases are skipped, saying so, and the
# count stays the same.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;

# One server on the shared listen: its names, its certificate (a base
# name in the certs dir), more directives.
sub vserver {
    my ($names, $cert, @more) = @_;

    return join '', map { "$_\n" }
        'server {',
        '    listen 127.0.0.1:%%PORT%%;',
        "    server_name $names;",
        '    securepair on;',
        "    securepair_certificate %%CERTS%%/$cert.crt;",
        "    securepair_certificate_key %%CERTS%%/$cert.key;",
        (map { "    $_" } @more),
        '}';
}

my $servers = join '',
    vserver('a.test', 'server-rsa', 'securepair_alpn_protocols a-proto;',
            'securepair_echo "A\n";'),
    vserver('b.test', 'sni-a', 'securepair_alpn_protocols b-proto;',
            'securepair_echo "B\n";'),
    vserver('*.w.test', 'sni-wild', 'securepair_echo "W\n";'),
    vserver('~^re[0-9]+\.test$', 'sni-re', 'securepair_echo "R\n";'),
    vserver('c.test', 'sni-trail', 'securepair_ca %%CERTS%%/ca.crt;',
            'securepair_request_cert on;',
            'securepair_reject_unauthorized on;',
            'securepair_echo "C\n";'),
    vserver('d.test *.d.test', 'server-ec',
            'securepair_context x.d.test %%CERTS%%/sni-a.crt '
            . '%%CERTS%%/sni-a.key;',
            'securepair_echo "D\n";'),
    vserver('p.test', 'sni-re', 'proxy_pass 127.0.0.1:%%BACKEND_PORT%%;'),
    vserver('v12.test', 'server-rsa', 'securepair_protocols TLSv1.2;',
            'securepair_reneg_limit 0;', 'securepair_echo "V\n";'),
    # no securepair of its own: the default server's TLS, its content
    "server {\n    listen 127.0.0.1:%%PORT%%;\n    server_name n.test;\n"
    . "    securepair_echo \"N\\n\";\n}\n";

# [servername or undef, expected CN, greeting, why]
my @rows = (
    ['a.test', 'localhost', 'A', 'exact name of the default server'],
    ['b.test', 'a.example.com', 'B', 'exact name'],
    ['B.Test', 'a.example.com', 'B', 'exact name, case-insensitive'],
    ['b.test.', 'a.example.com', 'B', 'exact name, a final dot'],
    ['x.w.test', '*.example.com', 'W', 'wildcard'],
    ['y.x.w.test', '*.example.com', 'W', 'wildcard, two labels'],
    ['re42.test', 'api.example.net', 'R', 'regex'],
    ['d.test', 'localhost', 'D', 'exact name of a server with contexts'],
    ['x.d.test', 'a.example.com', 'D',
     'that server\'s securepair_context picks the certificate'],
    ['y.d.test', 'localhost', 'D',
     'that server\'s wildcard name, its default certificate'],
    ['p.test', 'api.example.net', 'P',
     'a server whose content handler is proxy_pass'],
    ['n.test', 'localhost', 'N',
     'a server without securepair: the default server\'s TLS, its echo'],
    ['other.test', 'localhost', 'A', 'no server has the name: default'],
    [undef, 'localhost', 'A', 'no SNI: default'],
);

# how many tests there are, for the skip: nginx starts, three a row,
# ALPN two, protocols and renegotiation four, the client certificate
# four, the logs two, and the two of check_nginx_clean (without valgrind)
my $tests = 1 + 3 * @rows + 2 + 4 + 4 + 2 + 2;

SKIP: {
    skip 'nginx ' . nginx_version() . ' has no stream server_name '
         . '(since 1.25.5): nothing chooses a virtual server', $tests
        unless nginx_at_least('1.25.5');

    my $t = start_nginx(name => 'vserver', config_raw => $servers,
                        backend => 'banner P\n',
                        log_format => '$securepair_servername '
                                      . '$securepair_connections');

    nginx_started($t, 'vserver');

    for my $row (@rows) {
        my ($sni, $cn, $greeting, $why) = @$row;
        my $label = defined $sni ? "\"$sni\"" : 'no SNI';

        my $r = tls_client(port => $t->{port}, servername => $sni,
                           request => "x\n", expect => "$greeting\nx\n");

        is($r->{handshake}, 'ok', "vserver: $label shakes hands")
            or diag($r->{error});
        is($r->{peer_cn}, $cn, "vserver: $label gets $cn ($why)");
        is($r->{response}, "$greeting\nx\n",
           "vserver: $label is served by server $greeting");
    }

    # each server's own ALPN list
    my $a = tls_client(port => $t->{port}, servername => 'a.test',
                       alpn => 'b-proto,a-proto', request => "x\n",
                       expect => "A\nx\n");
    is($a->{alpn}, 'a-proto', 'vserver: a.test negotiates its own ALPN');

    my $b = tls_client(port => $t->{port}, servername => 'b.test',
                       alpn => 'a-proto,b-proto', request => "x\n",
                       expect => "B\nx\n");
    is($b->{alpn}, 'b-proto', 'vserver: b.test negotiates its own ALPN');

    # each server's protocols and renegotiation limit
    my $v = tls_client(port => $t->{port}, servername => 'v12.test',
                       request => "x\n", expect => "V\nx\n");
    is($v->{protocol}, 'TLSv1.2', 'vserver: v12.test speaks TLS 1.2 only');
    is($a->{protocol}, 'TLSv1.3', 'vserver: a.test speaks TLS 1.3');

    $v = tls_client(port => $t->{port}, servername => 'v12.test',
                    version => 'TLSv1.2', renegotiate => 1,
                    request => "x\n", expect => "V\nx\n");
    is($v->{renegotiated}, 0,
       'vserver: v12.test refuses renegotiation (its limit 0)');

    $v = tls_client(port => $t->{port}, servername => 'a.test',
                    version => 'TLSv1.2', renegotiate => 1,
                    request => "x\n", expect => "A\nx\n");
    is($v->{renegotiated}, 1,
       'vserver: a.test allows it (the default limit)');

    # c.test asks for a client certificate and insists
    my $c = tls_client(port => $t->{port}, servername => 'c.test',
                       cert => 'client.crt', key => 'client.key',
                       request => "x\n", expect => "C\nx\n");
    is($c->{handshake}, 'ok', 'vserver: c.test with a client certificate');
    is($c->{response}, "C\nx\n", 'vserver: c.test serves it');

    my $no = tls_client(port => $t->{port}, servername => 'c.test',
                        request => "x\n", expect => "C\nx\n");
    isnt($no->{response} // '', "C\nx\n",
         'vserver: c.test without a client certificate is not served');

    # the default server does not ask at all
    my $d = tls_client(port => $t->{port}, servername => 'a.test',
                       request => "x\n", expect => "A\nx\n");
    is($d->{response}, "A\nx\n",
       'vserver: a.test needs no client certificate');

    stop_nginx($t);

    # counted by the server the connection came to, as max_connections
    like(access_log_text($t), qr/^b\.test 1$/m,
         'vserver: b.test counts in the default server\'s connections');

    like(error_log_text($t),
         qr/peer did not return a certificate|no certificate/i,
         'vserver: the refused client is logged');

    check_nginx_clean($t, 'vserver');
    remove_env($t) if Test::More->builder->is_passing;
}

done_testing();
