#!/usr/bin/perl
#
# t/sni.t: securepair_context (Node's server.addContext): exact names,
# leading and trailing wildcards, regexes, their precedence, case, the
# default certificate, securepair_reject_unknown_servername, and each
# context's own CA and client-certificate policy.
#
# The client tells which context answered by the CN of the certificate it
# got: sni-a "a.example.com", sni-wild "*.example.com", sni-trail
# "www.example.net", sni-re "api.example.net", the default "localhost".

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;

my $default = "%%INCLUDE(echo)%%\n";

# Runs a table of [servername or undef, expected CN, why] against one
# nginx; checks the certificate each client got and that the server saw
# the name ($securepair_servername in the access log).
sub table {
    my ($name, $contexts, @rows) = @_;

    my $t = start_nginx(name => $name,
                        stream_server_config => $default . $contexts,
                        log_format => 'sni=$securepair_servername');

    nginx_started($t, $name);

    my %want_log;

    for my $row (@rows) {
        my ($sni, $cn, $why) = @$row;
        my $label = defined $sni ? "\"$sni\"" : 'no SNI';

        my $r = tls_client(port => $t->{port}, servername => $sni,
                           request => "x\n", expect => "welcome!\nx\n");

        is($r->{peer_cn}, $cn, "$name: $label gets $cn ($why)")
            or diag("handshake $r->{handshake}, error: $r->{error}");
        is($r->{response}, "welcome!\nx\n", "$name: $label is served");

        $want_log{'sni=' . (defined $sni ? $sni : '-')}++;
    }

    stop_nginx($t);

    my %got_log;
    $got_log{$_}++ for split /\n/, access_log_text($t);

    is_deeply(\%got_log, \%want_log,
              "$name: the access log has each \$securepair_servername "
              . "as the client sent it");

    done_nginx($t, $name);
}

my $contexts = <<'EOF';
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_context *.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
securepair_context www.example.* %%CERTS%%/sni-trail.crt %%CERTS%%/sni-trail.key;
securepair_context "~^(api|www)\.example\.net$" %%CERTS%%/sni-re.crt %%CERTS%%/sni-re.key;
EOF

table('precedence', $contexts,
    ['a.example.com', 'a.example.com', 'exact, over *.example.com'],
    ['A.Example.COM', 'a.example.com', 'exact, case-insensitive'],
    ['b.example.com', '*.example.com', 'leading wildcard'],
    ['x.y.example.com', '*.example.com', 'leading wildcard, two labels'],
    ['www.example.com', '*.example.com', 'leading over trailing wildcard'],
    ['www.example.org', 'www.example.net', 'trailing wildcard'],
    ['www.example.co.uk', 'www.example.net',
     'trailing wildcard, two labels'],
    ['www.example.net', 'www.example.net', 'trailing wildcard over regex'],
    ['api.example.net', 'api.example.net', 'regex'],
    ['API.EXAMPLE.NET', 'api.example.net', 'regex, case-insensitive'],
    ['example.com', 'localhost', '*.example.com needs a label: default'],
    ['www.example', 'localhost', 'www.example.* needs a label: default'],
    ['foo.example.net', 'localhost', 'no match: default'],
    [undef, 'localhost', 'no SNI: default'],
);

table('longest wildcard, exact over regex, regexes in order', <<'EOF',
securepair_context api.example.net %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_context ~^(api|www)\.example\.net$ %%CERTS%%/sni-re.crt %%CERTS%%/sni-re.key;
securepair_context *.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
securepair_context *.b.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_context www.example.* %%CERTS%%/sni-trail.crt %%CERTS%%/sni-trail.key;
securepair_context www.example.co.* %%CERTS%%/sni-re.crt %%CERTS%%/sni-re.key;
securepair_context ~^first\. %%CERTS%%/sni-trail.crt %%CERTS%%/sni-trail.key;
securepair_context ~^first\.second\. %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
securepair_context "~(www|api|a)-*[a-z]" %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
EOF
    ['api.example.net', 'a.example.com', 'exact over regex'],
    ['x.b.example.com', 'a.example.com', 'the longest leading wildcard'],
    ['x.example.com', '*.example.com', 'the shorter leading wildcard'],
    ['www.example.co.uk', 'api.example.net',
     'the longest trailing wildcard'],
    ['www.example.org', 'www.example.net', 'the shorter trailing wildcard'],
    ['first.second.test', 'www.example.net',
     'of two matching regexes the first added'],
    ['first.other.test', 'www.example.net', 'the first regex alone'],
    ['api7.test', 'a.example.com',
     'a regex whose match a JIT (PCRE2 10.42) misses'],
    ['7.test', 'localhost', 'no regex: default'],
);

# The servers the blocks share: the default certificate, these
# directives, an echo.  And what a served and a refused client send and
# get.
sub server {
    my ($directives) = @_;
    return { stream_server_config => "%%INCLUDE(tls_rsa)%%\n$directives"
                                     . "securepair_echo \"welcome!\\n\";\n" };
}

# The server's CA, and a context for $name that requires a client
# certificate.
sub strict {
    my ($name) = @_;
    return "securepair_ca %%CERTS%%/ca.crt;\n"
           . "securepair_context $name %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key"
           . " request_cert=on reject_unauthorized=on;\n";
}

block_template(
    reject => server(<<'EOF'),
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_reject_unknown_servername on;
EOF
    strict_a => server(strict('a.example.com')),
    own_ca => server(<<'EOF'),
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_context b.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key ca=%%CERTS%%/ca2.crt;
EOF
    shared_files => server(<<'EOF'),
securepair_ca %%CERTS%%/ca.crt;
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_context strict.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key request_cert=on reject_unauthorized=on;
securepair_context b.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
EOF
    strict_secure => server(strict('secure.example.com')),
    backtrack => server(<<'EOF'),
securepair_context "~^([a-z]|[a-z][a-z])+\.example\.com$" %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
EOF
    served => { stream_request => "x\n", stream_response => "welcome!\nx\n" },
    refused => { stream_request => "x\n", stream_response => '' },
);

run_tests();

__DATA__

=== TEST 1: securepair_reject_unknown_servername: an unknown name fails with unrecognized_name, logged
--- template: reject refused
--- tls
servername: unknown.example.org
--- tls_expect
handshake: fail
alert: unrecognized name
--- error_log
qr/\[info\].*securepair: .*unknown\.example\.org.*client: 127\.0\.0\.1/
--- no_error_log
welcome



=== TEST 2: securepair_reject_unknown_servername: no SNI at all fails too
--- template: reject refused
--- tls_expect
handshake: fail
alert: unrecognized name
--- error_log
qr/\[info\].*securepair: /



=== TEST 3: securepair_reject_unknown_servername: a known name is served
--- template: reject served
--- tls
servername: A.EXAMPLE.COM
--- tls_expect
peer_cn: a.example.com
--- log_format: sni=$securepair_servername
--- access_log
sni=A.EXAMPLE.COM
--- no_error_log
securepair:



=== TEST 4: a context with request_cert=on reject_unauthorized=on: a good client certificate is authorized
--- template: strict_a served
--- tls
servername: a.example.com
cert: client.crt
key: client.key
--- tls_expect
peer_cn: a.example.com
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|cn=$securepair_peer_cn|
--- access_log
|authorized=true|error=-|cn=client|



=== TEST 5: a context with request_cert=on reject_unauthorized=on: no client certificate, TLS 1.2: handshake fails
--- template: strict_a refused
--- tls
servername: a.example.com
version: TLSv1.2
--- tls_expect
handshake: fail
alert: handshake failure
--- error_log
qr/\[info\].*securepair: .*\(servername "a\.example\.com"\)/
--- no_error_log
welcome



=== TEST 6: a context with request_cert=on reject_unauthorized=on: a certificate of another CA, TLS 1.2: unknown_ca
--- template: strict_a refused
--- tls
servername: a.example.com
version: TLSv1.2
cert: client-wrongca.crt
key: client-wrongca.key
--- tls_expect
handshake: fail
alert: unknown ca
--- error_log
qr/\[info\].*securepair: .*\(servername "a\.example\.com"\)/



=== TEST 7: a context with request_cert=on reject_unauthorized=on: a self-signed certificate, TLS 1.3: an alert and not one byte of data
--- template: strict_a refused
--- tls
servername: a.example.com
version: TLSv1.3
cert: client-self.crt
key: client-self.key
--- tls_expect
alert: alert
eof: error
--- error_log
qr/\[info\].*securepair: .*\(servername "a\.example\.com"\)/
--- no_error_log
welcome



=== TEST 8: the same server without SNI: the default policy asks for nothing
--- template: strict_a served
--- tls
version: TLSv1.2
--- tls_expect
peer_cn: localhost
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|
--- access_log
|authorized=false|error=-|



=== TEST 9: a context with its own ca= trusts its CA: a client of ca2 is authorized there
--- template: own_ca served
--- tls
servername: b.example.com
cert: client-wrongca.crt
key: client-wrongca.key
--- tls_expect
peer_cn: *.example.com
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|cn=$securepair_peer_cn|
--- access_log
|authorized=true|error=-|cn=wrong CA client|



=== TEST 10: a context with its own ca= does not trust the server's CA (the client sends client.crt + ca.crt: an untrusted root in the chain)
--- template: own_ca served
--- tls
servername: b.example.com
cert: client.crt
key: client.key
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|cn=$securepair_peer_cn|
--- access_log
|authorized=false|error=SELF_SIGNED_CERT_IN_CHAIN|cn=client|



=== TEST 11: and the default certificate of that server still uses the server's CA
--- template: own_ca served
--- tls
servername: localhost
cert: client.crt
key: client.key
--- tls_expect
peer_cn: localhost
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|
--- access_log
|authorized=true|error=-|



=== TEST 12: contexts are inherited from the stream level
--- template: served
--- stream_config
securepair_context *.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
--- stream_server_config
%%INCLUDE(echo)%%
--- tls
servername: inherited.example.com
--- tls_expect
peer_cn: *.example.com



=== TEST 13: contexts on the same files (credentials shared): a name after a stricter one on those files still asks for nothing
--- template: shared_files served
--- tls
servername: b.example.com
version: TLSv1.2
--- tls_expect
peer_cn: a.example.com
--- log_format: |authorized=$securepair_authorized|error=$securepair_authorization_error|
--- access_log
|authorized=false|error=-|



=== TEST 14: contexts on the same files (credentials shared): the stricter one among them keeps its own policy
--- template: shared_files refused
--- tls
servername: strict.example.com
version: TLSv1.2
--- tls_expect
handshake: fail
alert: handshake failure
--- error_log
qr/\[info\].*securepair: .*\(servername "strict\.example\.com"\)/
--- no_error_log
welcome



=== TEST 15: a final dot in the SNI is the same name: its context's policy applies (no certificate: refused)
--- template: strict_secure refused
--- tls
servername: secure.example.com.
version: TLSv1.2
--- tls_expect
handshake: fail
alert: handshake failure
--- error_log
qr/\[info\].*securepair: .*\(servername "secure\.example\.com"\)/
--- no_error_log
welcome



=== TEST 16: a final dot in the SNI: a good certificate is authorized under the context, $securepair_servername has no dot
--- template: strict_secure served
--- tls
servername: SECURE.example.com.
cert: client.crt
key: client.key
--- tls_expect
peer_cn: a.example.com
--- log_format: |sni=$securepair_servername|authorized=$securepair_authorized|cn=$securepair_peer_cn|
--- access_log
|sni=SECURE.example.com|authorized=true|cn=client|



=== TEST 17: a server name of empty labels is refused with unrecognized_name, before any certificate
--- template: refused
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_echo "welcome!\n";
--- tls
servername: a..example.com
--- tls_expect
handshake: fail
alert: unrecognized name
--- error_log
qr/\[info\].*securepair: invalid server name in ClientHello: empty label/
--- no_error_log
welcome



=== TEST 18: a regex context that backtracks badly gives up at its match limit: no match, the default certificate, an info line
--- template: backtrack served
--- tls
servername: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!.example.com
--- tls_expect
peer_cn: localhost
--- error_log
qr/\[info\].*securepair: securepair_context "~\^\(\[a-z\]\|\[a-z\]\[a-z\]\)\+\\.example\\.com\$" reached its regex match limit on servername "a{230}!\.example\.com": taken as no match/



=== TEST 19: the same regex context still matches a plain name
--- template: backtrack served
--- tls
servername: abc.example.com
--- tls_expect
peer_cn: a.example.com
--- no_error_log
match limit
