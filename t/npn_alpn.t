#!/usr/bin/perl
#
# t/npn_alpn.t: NPN (TLS 1.2, Node's npnProtocols) and ALPN (both versions)
# with openssl s_client and IO::Socket::SSL, the server's preference, lists
# with nothing in common, and one TLS server for several protocols: map
# $securepair_alpn_protocol to a backend for proxy_pass.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;
use IO::Socket::SSL;

# IO::Socket::SSL's NPN needs an OpenSSL built with it (Debian's is)
ok(IO::Socket::SSL->can_npn, 'IO::Socket::SSL can do NPN here');
ok(IO::Socket::SSL->can_alpn, 'IO::Socket::SSL can do ALPN here');

# The servers the blocks share: an echo with the server's NPN or ALPN
# list, and one TLS server routing on $securepair_alpn_protocol.
block_template(
    npn => {
        stream_server_config => <<'EOF',
%%INCLUDE(tls_rsa)%%
securepair_npn_protocols spdy/2 http/1.1;
securepair_echo "welcome!\n";
EOF
        stream_request => "npn\n",
        stream_response => "welcome!\nnpn\n",
    },
    alpn => {
        stream_server_config => <<'EOF',
%%INCLUDE(tls_rsa)%%
securepair_alpn_protocols h2 http/1.1;
securepair_echo "welcome!\n";
EOF
        stream_request => "alpn\n",
        stream_response => "welcome!\nalpn\n",
    },
    router => {
        stream_server_config => <<'EOF',
%%INCLUDE(tls_rsa)%%
securepair_alpn_protocols h2 http/1.1;
proxy_pass $backend;
EOF
        stream_config => <<'EOF',
map $securepair_alpn_protocol $backend {
    h2        127.0.0.1:%%BACKEND_PORT%%;
    http/1.1  127.0.0.1:%%BACKEND_PORT2%%;
    default   127.0.0.1:%%PORT2%%;
}
server {
    listen 127.0.0.1:%%PORT2%%;
    return "no protocol\n";
}
EOF
        backend => "banner h2 backend\\n\nbanner http/1.1 backend\\n\n",
    },
    # an echo, and no protocol negotiated
    unnegotiated => {
        stream_request => "x\n",
        stream_response => "welcome!\nx\n",
        tls_expect => "alpn:\n",
        log_format => '|alpn=$securepair_alpn_protocol|',
        access_log => "|alpn=-|\n",
    },
);

run_tests();

__DATA__

=== TEST 1: NPN with openssl s_client -tls1_2 -nextprotoneg: the server's list, the client's pick
--- template: npn
--- tls
client: s_client
version: TLSv1.2
npn: http/1.1
--- tls_expect
protocol: TLSv1.2
npn: http/1.1
npn_status: 1
--- log_format: |npn=$securepair_npn_protocol|alpn=$securepair_alpn_protocol|
--- access_log
|npn=http/1.1|alpn=-|



=== TEST 2: NPN with openssl s_client: the server advertises its protocols in order
--- template: npn
--- tls
client: s_client
version: TLSv1.2
npn: spdy/2
--- tls_expect
npn: spdy/2
--- log_format: |npn=$securepair_npn_protocol|
--- access_log
|npn=spdy/2|



=== TEST 3: NPN with no overlap: as Node, the client's first protocol, on both sides
--- template: npn
--- tls
client: s_client
version: TLSv1.2
npn: foo,bar
--- tls_expect
npn: foo
npn_status: 2
--- log_format: |npn=$securepair_npn_protocol|
--- access_log
|npn=foo|



=== TEST 4: NPN with IO::Socket::SSL SSL_npn_protocols: OpenSSL's selection follows the server's order
--- template: npn
--- tls
version: TLSv1.2
npn: http/1.1,spdy/2
--- tls_expect
npn: spdy/2
--- log_format: |npn=$securepair_npn_protocol|
--- access_log
|npn=spdy/2|



=== TEST 4a: NPN with IO::Socket::SSL SSL_npn_protocols: the one protocol in common
--- template: npn
--- tls
version: TLSv1.2
npn: imap,http/1.1
--- tls_expect
npn: http/1.1
--- log_format: |npn=$securepair_npn_protocol|
--- access_log
|npn=http/1.1|



=== TEST 5: NPN is not offered in TLS 1.3: nothing negotiated
--- template: npn
--- tls
version: TLSv1.3
npn: http/1.1
--- stream_request
x
--- stream_response
welcome!
x
--- tls_expect
npn:
--- log_format: |npn=$securepair_npn_protocol|proto=$securepair_protocol|
--- access_log
|npn=-|proto=TLSv1.3|



=== TEST 6: ALPN, TLS 1.3, openssl s_client: the server's preference wins
--- template: alpn
--- tls
client: s_client
version: TLSv1.3
alpn: http/1.1,h2
--- tls_expect
protocol: TLSv1.3
alpn: h2
--- log_format: |alpn=$securepair_alpn_protocol|npn=$securepair_npn_protocol|
--- access_log
|alpn=h2|npn=-|



=== TEST 7: ALPN, TLS 1.2, IO::Socket::SSL: the server's preference wins
--- template: alpn
--- tls
version: TLSv1.2
alpn: http/1.1,h2
--- tls_expect
protocol: TLSv1.2
alpn: h2
--- log_format: |alpn=$securepair_alpn_protocol|proto=$securepair_protocol|
--- access_log
|alpn=h2|proto=TLSv1.2|



=== TEST 8: ALPN: the one protocol in common
--- template: alpn
--- tls
alpn: spdy/3,http/1.1
--- tls_expect
alpn: http/1.1
--- log_format: |alpn=$securepair_alpn_protocol|
--- access_log
|alpn=http/1.1|



=== TEST 9: ALPN with no overlap, TLS 1.3: no_application_protocol, logged
--- template: alpn
--- tls
version: TLSv1.3
alpn: spdy/3,imap
--- stream_request
x
--- stream_response
--- tls_expect
handshake: fail
alert: no application protocol
--- error_log
qr/\[info\].*securepair: .*client: 127\.0\.0\.1/
--- no_error_log
welcome



=== TEST 10: ALPN with no overlap, TLS 1.2, openssl s_client: no_application_protocol
--- template: alpn
--- tls
client: s_client
version: TLSv1.2
alpn: imap
--- stream_request
x
--- stream_response
--- tls_expect
handshake: fail
alert: no application protocol



=== TEST 11: ALPN not offered by the client: no protocol, no failure
--- template: unnegotiated alpn



=== TEST 12: ALPN offered to a server without a list: no protocol, no failure
--- template: unnegotiated
--- stream_server_config
%%INCLUDE(echo)%%
--- tls
alpn: h2



=== TEST 13: NPN and ALPN both offered in TLS 1.2: ALPN decides, NPN is not used
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_alpn_protocols h2 http/1.1;
securepair_npn_protocols spdy/2 http/1.1;
securepair_echo "welcome!\n";
--- tls
version: TLSv1.2
alpn: http/1.1
npn: spdy/2
--- stream_request
x
--- stream_response
welcome!
x
--- tls_expect
alpn: http/1.1
npn:
--- log_format: |alpn=$securepair_alpn_protocol|npn=$securepair_npn_protocol|
--- access_log
|alpn=http/1.1|npn=-|



=== TEST 14: one TLS server for several protocols: h2 goes to the h2 backend
--- template: router
--- tls
alpn: h2
--- stream_request
PRI
--- stream_response
h2 backend
PRI
--- tls_expect
alpn: h2
--- log_format: |alpn=$securepair_alpn_protocol|upstream=$upstream_addr|
--- access_log
|alpn=h2|upstream=127.0.0.1:%%BACKEND_PORT%%|



=== TEST 15: one TLS server for several protocols: http/1.1 goes to the other backend
--- template: router
--- tls
version: TLSv1.2
alpn: http/1.1
--- stream_request
GET / HTTP/1.1
--- stream_response
http/1.1 backend
GET / HTTP/1.1
--- log_format: |alpn=$securepair_alpn_protocol|upstream=$upstream_addr|
--- access_log
|alpn=http/1.1|upstream=127.0.0.1:%%BACKEND_PORT2%%|



=== TEST 16: one TLS server for several protocols: no ALPN goes to the default, a return server
--- template: router
--- stream_request
--- stream_response
no protocol
--- tls_expect
alpn:
eof: close_notify
--- log_format: |alpn=$securepair_alpn_protocol|upstream=$upstream_addr|
--- access_log
|alpn=-|upstream=127.0.0.1:%%PORT2%%|



=== TEST 17: one TLS server for several protocols, concurrently: five h2 and five http/1.1 clients
--- template: router
--- clients: 5
--- stream_config
map $securepair_alpn_protocol $backend {
    h2        127.0.0.1:%%BACKEND_PORT%%;
    default   127.0.0.1:%%BACKEND_PORT2%%;
}
--- backend
banner h2 backend\n
banner other backend\n
--- tls
alpn: h2
--- stream_request
x
--- stream_response
h2 backend
x
