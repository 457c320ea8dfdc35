package SecurePair::Test;

# SecurePair::Test: data-driven tests of ngx_stream_securepair_module
# against Debian's nginx, with real TLS clients.
#
# A test file:
#
#     use strict;
#     use warnings;
#     use lib 't/lib';
#     use SecurePair::Test;
#
#     run_tests();
#
#     __DATA__
#
#     === TEST 1: echo
#     --- stream_server_config
#         securepair on;
#         securepair_certificate %%CERTS%%/server-rsa.crt;
#         securepair_certificate_key %%CERTS%%/server-rsa.key;
#         securepair_echo "welcome!\n";
#     --- stream_request
#     hello
#     --- stream_response
#     welcome!
#     hello
#
# Sections (Test::Base format; `--- name: value` for one-liners; the usual
# Test::Base filters such as chomp and eval apply):
#
#   main_config            top-level directives
#   stream_config          inside stream {}, before the server
#   stream_server_config   inside server { listen 127.0.0.1:%%PORT%%; ... }
#   config_raw             the whole stream block instead (with or without
#                          the enclosing "stream { }")
#   log_format             adds log_format t '...'; access_log .../access.log t;
#   stream_request         cleartext sent after the handshake (may be empty)
#   stream_response        exact cleartext expected back
#   stream_response_like   a regex the cleartext must match
#   tls                    client options, "key: value" per line (see
#                          tls_connect below; also client: s_client)
#   tls_expect             what the client saw, one test each: alpn, npn,
#                          npn_status (s_client), peer_cn, peer_key
#                          (RSA/EC), peer_sig (s_client), protocol,
#                          cipher, handshake (ok/fail), alert (a
#                          substring of the client's error, _ = space),
#                          session_reused, close_notify (0/1), eof
#                          (close_notify/tcp/error/timeout/open),
#                          renegotiated; a value may be qr/.../
#   error_log              lines (substring or qr/.../) that must be in
#                          error.log (or in nginx -t's output with must_die)
#   no_error_log           lines that must not be there
#   access_log             lines that must be in the access log
#   no_access_log          lines that must not be there
#   must_die               nginx -t must fail
#   nginx_t                nginx -t must pass (then the client runs, if any)
#   backend                one backend per line: echo | sink_source N |
#                          banner TEXT | reply TEXT (reads to the end,
#                          then answers TEXT); ports %%BACKEND_PORT%%,
#                          %%BACKEND_PORT2%%, ...
#   backend_log            lines that must be in the backends' log
#   user_files             files made in the test directory first:
#                          ">>> name [mode]" then the content
#   workers                worker_processes (default 1)
#   timeout                the client's deadline in seconds (default 5)
#   clients                N identical clients at once; all must pass
#
# Substitutions in config sections and log expectations: %%TESTDIR%%,
# %%CERTS%%, %%PORT%%, %%PORT2%%, %%BACKEND_PORT%%, %%BACKEND_PORT2%%,
# %%CONF%% (the nginx.conf path); in log expectations also
# %%LINE(text)%% (the line of nginx.conf where text first appears),
# %%CERT_FINGERPRINT(file)%%, %%CERT_NOT_BEFORE(file)%%,
# %%CERT_NOT_AFTER(file)%%, %%CERT_SUBJECT(file)%%, %%CERT_ISSUER(file)%%.
#
# Shared configurations: config_template(name => text, ...) before
# run_tests() names a piece of configuration; %%INCLUDE(name)%% in a
# config section (or in user_files, or in another template) stands for
# it.  On a line of its own it keeps that line's indentation, so a block
# can add to a shared server.  Two are built in: tls_rsa (securepair on,
# the default RSA certificate and key) and echo (tls_rsa, then
# securepair_echo "welcome!\n"):
#
#     config_template(proxy => <<'EOF');
#     %%INCLUDE(tls_rsa)%%
#     proxy_pass 127.0.0.1:%%BACKEND_PORT%%;
#     EOF
#
#     --- stream_server_config
#     %%INCLUDE(tls_rsa)%%
#     securepair_echo;
#
# Shared blocks: block_template(name => { section => value, ... }, ...)
# names sections that a block with "--- template: name" takes when it
# does not have them itself ("--- template: a b" looks in a, then b).
# Values are as the block would have them: a trailing newline on
# multi-line sections, none on one-liners.
#
# After every block: error.log and nginx's stderr have no [alert], no
# [emerg] (except must_die), no sanitizer report, no "exited on signal";
# nginx stopped on SIGQUIT with status 0; under TEST_NGINX_VALGRIND=1,
# valgrind found no error.
#
# The --- tls keys are tls_connect's and tls_client's options below, plus
# client: io_socket_ssl (default) | s_client | raw, mode (s_client: quiet,
# brief, full), expect_handshake: ok|fail, port (default %%PORT%%).
#
# Exported for hand-written tests (plain Perl before run_tests()):
#
#   my $t = start_nginx(stream_server_config => ..., log_format => ...,
#                       backend => 'echo', workers => 2, ...)
#       same sections as the blocks; or conf => a whole nginx.conf.
#       $t: dir, port, port2, backend_ports, conf_file, pid; start_error
#       when nginx did not come up.
#   reload_nginx($t, %changed_sections)    nginx -s reload, waits for it
#   stop_nginx($t)                         QUIT, TERM, KILL, bounded
#   check_nginx_clean($t, $name, %o)       the after-every-block checks
#   done_nginx($t, $name, %o)              stop + check + clean up
#   nginx_t($t)                            (status, output) of nginx -t
#   tls_client(port => ..., request => ..., ...)  -> hash of what was seen
#   tls_connect(...)  -> connection: ->exchange($data, expect => ...),
#                        ->renegotiate($deadline), ->close, ->r (the hash)
#   s_client(...), raw_client(...)         same, other clients
#   error_log_text($t), access_log_text($t), backend_log_text($t),
#   parse_log($line) (an access log line of key=value|... as a hash)
#   wait_for_log($t, qr/.../)   waits (2 s at most) for the access log
#   access_lines($t, $n)        its lines, once there are $n (5 s at most)
#   no_errors($t, $label)       a test: error.log has nothing of level error+
#   nginx_started($t, $label)   a test: start_nginx's nginx is up
#   free_port(), listener($backlog) (a socket on a free loopback port),
#   run_cmd([argv], stdin => ..., timeout => ...), spawn($out, argv...)
#   (in the background, stdout and stderr to $out: its pid),
#   cert_path(name), cert_field(name, field), cert_fingerprint(name),
#   sink_pattern(n), start_backend(spec, logfile), stop_backend($b),
#   slurp(file), spew(file, data), conf_line($t, text) (as %%LINE%%),
#   slash_name(name) ("C=UK, CN=x" as "/C=UK/CN=x"), remove_env($t)
#   (its directory, unless TEST_NGINX_KEEP), config_template(...),
#   block_template(...), nginx_version() ("1.26.3"), nginx_at_least(v)
#   (for what only some nginx versions have: skip the rest, saying why),
#   $BUILD $CERTS $NGINX $MODULE $LOG_LEVEL $VALGRIND $SLOW (see
#   SecurePair::Env; `local $LOG_LEVEL = 'debug'` works)
#
# Environment: SP_BUILD (build dir, default <root>/build), SP_CERTS
# (default $SP_BUILD/certs), TEST_NGINX_BINARY (/usr/sbin/nginx),
# TEST_NGINX_VALGRIND=1, TEST_NGINX_KEEP=1 (keep every test directory;
# failing ones are always kept), TEST_NGINX_LOG_LEVEL (info).
#
# This module is the facade the suites use; the work is done by small
# modules beside it, one concern each:
#
#   SecurePair::Env      paths and settings (the nginx binary, the modules)
#   SecurePair::Util     files, ports, child processes, certificate fields
#   SecurePair::Conf     nginx.conf from sections, substitutions, templates
#   SecurePair::Nginx    one nginx: start, reload, stop, the clean checks
#   SecurePair::Backend  the upstream servers (echo, sink_source, ...)
#   SecurePair::Client   tls_client, s_client, raw_client
#   SecurePair::Conn     one IO::Socket::SSL connection (tls_connect)
#   SecurePair::Runner   the data-driven blocks
#   SecurePair::Expect   a block's expectations against what happened

use strict;
use warnings;

# first: its source filter and its exports (Test::More's, blocks, ...)
# are the suites' too
use Test::Base;

use SecurePair::Backend qw(start_backend stop_backend);
use SecurePair::Client qw(tls_connect tls_client raw_client s_client);
use SecurePair::Conf qw(config_template conf_line);
use SecurePair::Expect qw(block_template);
use SecurePair::Env qw(:all);
use SecurePair::Nginx qw(start_nginx stop_nginx reload_nginx nginx_t
                         check_nginx_clean done_nginx remove_env
                         error_log_text access_log_text backend_log_text
                         wait_for_log access_lines no_errors nginx_started
                         nginx_workers
                         worker_rss parse_log);
use SecurePair::Runner qw(run_tests done_testing);
use SecurePair::Util qw(slurp spew listener free_port run_cmd spawn
                        cert_path cert_field cert_fingerprint slash_name
                        sink_pattern);

$SIG{PIPE} = 'IGNORE';

our @EXPORT = (
    @Test::Base::EXPORT,
    qw(run_tests done_testing
       start_nginx stop_nginx reload_nginx nginx_t check_nginx_clean
       done_nginx remove_env tls_client tls_connect s_client raw_client
       run_cmd spawn listener free_port slurp spew
       error_log_text access_log_text backend_log_text wait_for_log parse_log
       access_lines no_errors nginx_started
       nginx_workers worker_rss start_backend stop_backend sink_pattern
       cert_path cert_fingerprint cert_field slash_name
       config_template block_template conf_line nginx_version nginx_at_least
       $BUILD $CERTS $NGINX $STREAM_MODULE $MODULE $LOG_LEVEL $VALGRIND
       $SLOW)
);

# Functions as they are; variables as whole globs, so that a suite's
# `local $LOG_LEVEL` is the one SecurePair::Conf reads.
sub import {
    my $caller = caller;

    no strict 'refs';

    for my $name (@EXPORT) {
        if ($name =~ /^\$(.*)/) {
            *{"${caller}::$1"} = \*{"SecurePair::Test::$1"};
        } else {
            *{"${caller}::$name"} = \&{"SecurePair::Test::$name"};
        }
    }

    strict->import;
    warnings->import;
}

1;
