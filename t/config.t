#!/usr/bin/perl
#
# t/config.t: every bad configuration makes `nginx -t` fail and say where
# (the file and the line of the directive at fault) and why; good ones
# pass and serve.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;
use File::Copy qw(copy);
use File::Temp ();


# ---- a key nginx cannot read (nginx -t as nobody, the key mode 000) -------

{
    my $name = 'unreadable key';
    my $t = start_nginx(name => $name, no_start => 1,
                        stream_server_config => <<'EOF');
securepair on;
securepair_certificate %%TESTDIR%%/server.crt;
securepair_certificate_key %%TESTDIR%%/server.key;
securepair_echo;
EOF

    # nobody must reach every file but the key: the test directory may
    # lie in a checkout nobody cannot enter, so the configuration, the
    # modules (and an nginx built here), the files go to a directory of
    # their own in /tmp
    my $dir = File::Temp::tempdir('securepair-config-t-XXXXXX',
                                  DIR => '/tmp', CLEANUP => 1);
    chmod 0755, $dir;

    my $conf = slurp("$t->{dir}/nginx.conf");
    $conf =~ s/\Q$t->{dir}\E/$dir/g;
    $conf =~ s/\Q$MODULE\E/$dir\/module.so/g;
    $conf =~ s/\Q$STREAM_MODULE\E/$dir\/stream.so/g;
    spew("$dir/nginx.conf", $conf);

    my $nginx = $NGINX =~ m{^/usr/} ? $NGINX : "$dir/nginx";
    copy($NGINX, $nginx) or die "copy: $!" if $nginx ne $NGINX;
    copy($MODULE, "$dir/module.so") or die "copy: $!";
    copy($STREAM_MODULE, "$dir/stream.so") or die "copy: $!";
    copy("$CERTS/server-rsa.crt", "$dir/server.crt") or die "copy: $!";
    copy("$CERTS/server-rsa.key", "$dir/server.key") or die "copy: $!";
    chmod 0644, "$dir/nginx.conf", "$dir/server.crt", "$dir/module.so",
                "$dir/stream.so";
    chmod 0755, $nginx if $nginx ne $NGINX;
    chmod 0000, "$dir/server.key";

    # nginx -t opens the configured error log: let nobody write it
    open my $fh, '>', "$dir/error.log" or die;
    close $fh;
    chmod 0666, "$dir/error.log";

    my @as = $> == 0 ? ('setpriv', '--reuid=65534', '--regid=65534',
                        '--clear-groups')
                     : ();
    my ($st, $out, $err) = run_cmd([@as, $nginx, '-t', '-p', "$dir/",
                                    '-c', "$dir/nginx.conf", '-e', 'stderr']);

    my $line = 0;
    my @conf = split /\n/, $conf;
    for my $i (0 .. $#conf) {
        $line = $i + 1 if $conf[$i] =~ /securepair_certificate_key/;
    }

    ok($st != 0, "$name: nginx -t fails") or diag($out . $err);
    like($out . $err,
         qr/\[emerg\] (?:\d+#\d+: )?securepair: \Q$dir\E\/server\.key: cannot open: Permission denied in \Q$dir\E\/nginx\.conf:$line\b/,
         "$name: nginx -t names the key, the reason and line $line");

    chmod 0600, "$dir/server.key";
    done_nginx($t, $name);
}

run_tests();

__DATA__

=== TEST 1: a missing certificate file: its name, why, its line
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/no-such.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/no-such\.crt: cannot open: No such file or directory in %%CONF%%:%%LINE(no-such.crt)%%$}m



=== TEST 2: a missing key file: its name, why, its line
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/no-such.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/no-such\.key: cannot open: No such file or directory in %%CONF%%:%%LINE(no-such.key)%%$}m



=== TEST 3: a key that is a directory cannot be read (not "too large")
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%TESTDIR%%;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%TESTDIR%%: (cannot open|cannot read|not a regular file)\b.* in %%CONF%%:%%LINE(securepair_certificate_key)%%$}m



=== TEST 4: a garbage certificate: no certificate found
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/garbage.pem;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/garbage\.pem: no certificate found.* in %%CONF%%:%%LINE(garbage.pem)%%$}m



=== TEST 5: a garbage key: no private key found
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/garbage.pem;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/garbage\.pem: no private key found.* in %%CONF%%:%%LINE(garbage.pem)%%$}m



=== TEST 6: a wrong passphrase in securepair_password_file
--- user_files
>>> wrong-pass.txt
not the secret
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa-enc.key;
securepair_password_file %%TESTDIR%%/wrong-pass.txt;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/server-rsa-enc\.key: wrong passphrase \(tried 1\) in %%CONF%%:%%LINE(server-rsa-enc.key)%%$}m



=== TEST 7: several wrong passphrases: all tried
--- user_files
>>> wrong-pass.txt
wrong1
wrong2
wrong3
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa-enc.key;
securepair_password_file %%TESTDIR%%/wrong-pass.txt;
securepair_echo;
--- must_die
--- error_log
qr{securepair: %%CERTS%%/server-rsa-enc\.key: wrong passphrase \(tried 3\) in %%CONF%%:%%LINE(server-rsa-enc.key)%%$}m



=== TEST 8: an encrypted key without a password file: never a prompt, an error
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa-enc.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/server-rsa-enc\.key: private key is encrypted and no passphrase was given in %%CONF%%:%%LINE(server-rsa-enc.key)%%$}m



=== TEST 9: a missing password file: every message about it names its line
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa-enc.key;
securepair_password_file %%TESTDIR%%/no-such-pass.txt;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: cannot use password file "%%TESTDIR%%/no-such-pass\.txt" \(No such file or directory\) in %%CONF%%:%%LINE(no-such-pass.txt)%%$}m
--- no_error_log
qr{no-such-pass\.txt.* in %%CONF%%:(?!%%LINE(no-such-pass.txt)%%$)\d+$}m



=== TEST 10: a key that does not match its certificate
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/mismatch.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/mismatch\.key: private key does not match certificate %%CERTS%%/server-rsa\.crt in %%CONF%%:%%LINE(mismatch.key)%%$}m



=== TEST 11: a weak RSA-1024 key: too small for the security level
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/weak-rsa1024.crt;
securepair_certificate_key %%CERTS%%/weak-rsa1024.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/weak-rsa1024\.crt: RSA key of 1024 bits is too small for OpenSSL security level 2 .* in %%CONF%%:%%LINE(weak-rsa1024.crt)%%$}m



=== TEST 12: an invalid context name: foo*bar
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context foo*bar %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: invalid server name "foo\*bar": "\*" is allowed only as a leading "\*\." or a trailing "\.\*" in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 13: an invalid context name: a lone *
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context * %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: invalid server name "\*": a lone "\*" is not a wildcard.* in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 14: an invalid context name: a.*.com
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.*.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: invalid server name "a\.\*\.com": "\*" is allowed only as a leading "\*\." or a trailing "\.\*" in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 15: an invalid context name: both wildcards, *.example.*
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context *.example.* %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: invalid server name "\*\.example\.\*": both a leading and a trailing wildcard in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 16: an invalid regex: ~(
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context ~( %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: invalid regex "~\(": missing closing parenthesis at offset \d+ in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 17: the same context name twice: the second line is named
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_context a.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: duplicate server name "a\.example\.com".* in %%CONF%%:%%LINE(sni-wild.crt)%%$}m



=== TEST 18: the same context name twice in different case: a duplicate too
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context *.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_context *.EXAMPLE.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: duplicate server name "\*\.EXAMPLE\.com".* in %%CONF%%:%%LINE(sni-wild.crt)%%$}m



=== TEST 19: the same regex twice
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context ~^a %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
securepair_context ~^a %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: duplicate server name "~\^a".* in %%CONF%%:%%LINE(sni-wild.crt)%%$}m



=== TEST 20: an empty NPN name
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_npn_protocols http/1.1 "";
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid protocol name "" in "securepair_npn_protocols": must be 1 to 255 bytes in %%CONF%%:%%LINE(securepair_npn_protocols)%%$}m



=== TEST 21: an NPN name of 256 bytes
--- stream_server_config eval
"securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_npn_protocols " . ("n" x 256) . ";
securepair_echo;
"
--- must_die
--- error_log eval
qr{\[emerg\] invalid protocol name "n{256}" in "securepair_npn_protocols": must be 1 to 255 bytes in \S+/nginx\.conf:22$}m



=== TEST 22: an empty ALPN name
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_alpn_protocols "" h2;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid protocol name "" in "securepair_alpn_protocols": must be 1 to 255 bytes in %%CONF%%:%%LINE(securepair_alpn_protocols)%%$}m



=== TEST 23: an ALPN name of 256 bytes
--- stream_server_config eval
"securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_alpn_protocols h2 " . ("a" x 256) . ";
securepair_echo;
"
--- must_die
--- error_log eval
qr{\[emerg\] invalid protocol name "a{256}" in "securepair_alpn_protocols": must be 1 to 255 bytes in \S+/nginx\.conf:22$}m



=== TEST 24: securepair_reneg_limit that is not a number
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_reneg_limit three;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_reneg_limit" directive invalid number in %%CONF%%:%%LINE(securepair_reneg_limit)%%$}m



=== TEST 25: a negative securepair_reneg_limit
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_reneg_limit -1;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_reneg_limit" directive invalid number in %%CONF%%:%%LINE(securepair_reneg_limit)%%$}m



=== TEST 26: securepair_max_connections that is not a number
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_max_connections lots;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_max_connections" directive invalid number in %%CONF%%:%%LINE(securepair_max_connections)%%$}m



=== TEST 27: a negative securepair_max_connections
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_max_connections -5;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_max_connections" directive invalid number in %%CONF%%:%%LINE(securepair_max_connections)%%$}m



=== TEST 28: securepair_reneg_window 0
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_reneg_window 0;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_reneg_window" must be positive for the server in %%CONF%%:%%LINE(securepair on)%%$}m



=== TEST 29: securepair on without a certificate: the line of "securepair on"
--- stream_server_config
securepair on;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] no "securepair_certificate" is defined for the server with "securepair on" in %%CONF%%:%%LINE(securepair on)%%$}m



=== TEST 30: a certificate without a key: the certificate's line
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] no "securepair_certificate_key" is defined for certificate "%%CERTS%%/server-rsa\.crt" in %%CONF%%:%%LINE(securepair_certificate)%%$}m



=== TEST 31: a second certificate without its key
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] no "securepair_certificate_key" is defined for certificate "%%CERTS%%/server-ec\.crt" in %%CONF%%:%%LINE(server-ec.crt)%%$}m



=== TEST 32: a key without a certificate
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_certificate_key" "%%CERTS%%/server-ec\.key" has no "securepair_certificate" in %%CONF%%:%%LINE(server-ec.key)%%$}m



=== TEST 33: an unknown securepair_context parameter
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key verify=on;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid parameter "verify=on" in "securepair_context" in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 34: securepair_context request_cert=maybe
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key request_cert=maybe;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid value "request_cert=maybe": expected "on" or "off" in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 35: securepair_context with a name and a certificate but no key
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_context" needs a name, a certificate and a key in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 36: a context whose certificate is missing: the context's line
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/no-such-sni.crt %%CERTS%%/sni-a.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/no-such-sni\.crt: cannot open: No such file or directory in %%CONF%%:%%LINE(no-such-sni.crt)%%$}m



=== TEST 37: a context whose key does not match: the context's line
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-wild.key;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/sni-wild\.key: private key does not match certificate %%CERTS%%/sni-a\.crt in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 38: a context with a missing ca=: the context's line
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key ca=%%CERTS%%/no-such-ca.crt;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/no-such-ca\.crt: cannot open: No such file or directory in %%CONF%%:%%LINE(securepair_context)%%$}m



=== TEST 39: a missing securepair_ca: its line
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/no-such-ca.crt;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/no-such-ca\.crt: cannot open: No such file or directory in %%CONF%%:%%LINE(securepair_ca)%%$}m



=== TEST 40: a garbage securepair_ca
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/garbage.pem;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: %%CERTS%%/garbage\.pem: no certificate found.* in %%CONF%%:%%LINE(securepair_ca)%%$}m



=== TEST 41: securepair_ca twice
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ca %%CERTS%%/ca.crt;
securepair_ca %%CERTS%%/ca2.crt;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_ca" directive is duplicate in %%CONF%%:%%LINE(ca2.crt)%%$}m



=== TEST 42: securepair_alpn_protocols twice
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_alpn_protocols h2;
securepair_alpn_protocols http/1.1;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_alpn_protocols" directive is duplicate in %%CONF%%:%%LINE(http/1.1)%%$}m



=== TEST 43: securepair_echo and proxy_pass in one server
--- stream_server_config
%%INCLUDE(tls_rsa)%%
proxy_pass 127.0.0.1:1;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_echo" directive is duplicate.* in %%CONF%%:%%LINE(securepair_echo)%%$}m



=== TEST 44: a bad securepair_protocols value
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_protocols TLSv1.2 SSLv3;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] invalid value "SSLv3" in %%CONF%%:%%LINE(securepair_protocols)%%$}m



=== TEST 45: an invalid cipher list: its name, why, and the line of "securepair on" (merge-time errors without a place of their own)
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_ciphers NO-SUCH-CIPHER;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] securepair: invalid cipher list "NO-SUCH-CIPHER": no cipher match in %%CONF%%:%%LINE(securepair on)%%$}m



=== TEST 46: good: the right passphrase among wrong ones, then a handshake with that key
--- user_files
>>> pass.txt
wrong1
secret
wrong2
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa-enc.key;
securepair_password_file %%TESTDIR%%/pass.txt;
securepair_echo "unlocked\n";
--- nginx_t
--- tls
servername: localhost
verify: on
--- stream_request
x
--- stream_response
unlocked
x
--- tls_expect
peer_cn: localhost
peer_key: RSA



=== TEST 47: good: the passphrase file of certs.sh (no newline at its end)
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa-enc.key;
securepair_password_file %%CERTS%%/server-rsa-enc-pass.txt;
securepair_echo "unlocked\n";
--- nginx_t
--- stream_request
x
--- stream_response
unlocked
x



=== TEST 48: good: certificate, key, CA and policy at the stream level are inherited by the server
--- stream_config
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_ca %%CERTS%%/ca.crt;
securepair_request_cert on;
securepair_alpn_protocols h2;
--- stream_server_config
securepair on;
securepair_echo "inherited\n";
--- nginx_t
--- tls
alpn: h2
cert: client.crt
key: client.key
--- stream_request
x
--- stream_response
inherited
x
--- tls_expect
peer_key: EC
alpn: h2
--- log_format: |authorized=$securepair_authorized|
--- access_log
|authorized=true|



=== TEST 49: good: "securepair on" at the stream level, a server overrides the certificate
--- stream_config
%%INCLUDE(tls_rsa)%%
server {
    listen 127.0.0.1:%%PORT2%%;
    securepair_echo "second\n";
}
--- stream_server_config
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_echo "first\n";
--- nginx_t
--- stream_request
x
--- stream_response
first
x
--- tls_expect
peer_key: EC



=== TEST 50: good: a server with "securepair off" needs no certificate and speaks plain TCP
--- stream_config
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
--- stream_server_config
securepair off;
securepair_echo "plain\n";
--- nginx_t
--- tls
client: raw
--- stream_request
x
--- stream_response
plain
x



=== TEST 51: good: names of 1 and 255 bytes, limits of 0
--- stream_server_config eval
"securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_npn_protocols x " . ("n" x 255) . ";
securepair_alpn_protocols " . ("a" x 255) . " h2;
securepair_reneg_limit 0;
securepair_max_connections 0;
securepair_echo \"ok\\n\";
"
--- nginx_t
--- tls
alpn: h2
--- stream_request
x
--- stream_response
ok
x
--- tls_expect
alpn: h2



=== TEST 52: good: every context form together, with contexts at the stream level too
--- stream_config
securepair_context stream.example.org %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key;
--- stream_server_config
%%INCLUDE(tls_rsa)%%
securepair_context a.example.com %%CERTS%%/sni-a.crt %%CERTS%%/sni-a.key ca=%%CERTS%%/ca.crt request_cert=off reject_unauthorized=off;
securepair_context *.example.com %%CERTS%%/sni-wild.crt %%CERTS%%/sni-wild.key;
securepair_context www.example.* %%CERTS%%/sni-trail.crt %%CERTS%%/sni-trail.key;
securepair_context ~^(api|www)\.example\.net$ %%CERTS%%/sni-re.crt %%CERTS%%/sni-re.key;
securepair_echo "ok\n";
--- nginx_t
--- tls
servername: api.example.net
--- stream_request
x
--- stream_response
ok
x
--- tls_expect
peer_cn: api.example.net



=== TEST 53: good: contexts' encrypted keys open with the server's password file
--- user_files
>>> pass.txt
wrong1
secret
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-ec.crt;
securepair_certificate_key %%CERTS%%/server-ec.key;
securepair_password_file %%TESTDIR%%/pass.txt;
securepair_context a.example.com %%CERTS%%/server-rsa.crt %%CERTS%%/server-rsa-enc.key;
securepair_context b.example.com %%CERTS%%/server-rsa.crt %%CERTS%%/server-rsa-enc.key;
securepair_echo "unlocked\n";
--- nginx_t
--- tls
servername: b.example.com
--- stream_request
x
--- stream_response
unlocked
x
--- tls_expect
peer_key: RSA



=== TEST 54: securepair_protocols with a gap is refused, naming what is missing
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_protocols TLSv1 TLSv1.2;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_protocols" names TLSv1 and TLSv1\.2 but not TLSv1\.1: securepair serves a range of versions without gaps in %%CONF%%:%%LINE(securepair_protocols)%%$}m



=== TEST 55: securepair_protocols TLSv1.1 TLSv1.3: the first version missing is named
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_protocols TLSv1.3 TLSv1.1;
securepair_echo;
--- must_die
--- error_log
qr{\[emerg\] "securepair_protocols" names TLSv1\.1 and TLSv1\.3 but not TLSv1\.2: securepair serves a range of versions without gaps in %%CONF%%:%%LINE(securepair_protocols)%%$}m



=== TEST 56: good: securepair_protocols without a gap, in any order
--- stream_server_config
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
securepair_protocols TLSv1.3 TLSv1.1 TLSv1.2;
securepair_echo "ok\n";
--- nginx_t
--- tls
version: TLSv1.2
--- stream_request
x
--- stream_response
ok
x
--- tls_expect
protocol: TLSv1.2
