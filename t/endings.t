#!/usr/bin/perl
#
# t/endings.t: how a proxied session ends, next to nginx's own stream SSL
# on the same configuration.  close_notify only when the stream really
# ended: a client cut off by proxy_timeout sees the transport end without
# one, as after a peer's reset or a write side shut by proxy_half_close.
# A client that only shuts down its TCP write side (no close_notify) still
# gets its answer, and no alert.  Clients that stop reading cost the
# worker what they cost nginx's own SSL.
#
# The client is python3's ssl over memory BIOs, which sees exactly how the
# stream ended: close_notify, a bare transport end (ragged), or an alert.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;
use IPC::Open2;

my $client = <<'EOF';
import socket, ssl, struct, sys, time

mode, port = sys.argv[1], int(sys.argv[2])
arg = sys.argv[3] if len(sys.argv) > 3 else ''

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
# a bare transport end must show as one
if hasattr(ssl, 'OP_IGNORE_UNEXPECTED_EOF'):
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF

sock = socket.create_connection(('127.0.0.1', port), timeout=30)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out)

def flush():
    data = out.read()
    if data:
        sock.sendall(data)

def feed():
    flush()
    data = sock.recv(262144)
    if data:
        inc.write(data)
    else:
        inc.write_eof()

while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        feed()
flush()

got = bytearray()

def read(until=None):
    while until is None or len(got) < until:
        try:
            data = tls.read(262144)
        except ssl.SSLWantReadError:
            try:
                feed()
            except socket.timeout:
                return 'timeout'
            except ConnectionResetError:
                return 'reset'
            continue
        except ssl.SSLEOFError:
            return 'ragged'
        except ssl.SSLError as e:
            return 'alert ' + str(e.reason or e)
        if not data:
            return 'close_notify'
        got.extend(data)
    return 'more'

if mode == 'stall':
    # read a little, stop reading while nginx gives up, then read it all
    read(65536)
    time.sleep(float(arg))
    end = read()
elif mode == 'read':
    end = read()
elif mode == 'halfclose':
    # the request, then shutdown(SHUT_WR) on the TCP socket: no close_notify
    tls.write(arg.encode())
    flush()
    sock.shutdown(socket.SHUT_WR)
    end = read()
elif mode == 'reset':
    tls.write(arg.encode())
    flush()
    read(len(arg))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack('ii', 1, 0))
    sock.close()
    end = 'sent reset'

print('bytes=%d' % len(got))
print('end=%s' % end)
if len(got) <= 4096:
    print('data=%s' % got.decode(errors='replace').replace('\n', '|'))
EOF

sub client {
    my ($mode, $port, $arg, $timeout) = @_;
    my ($st, $out, $err) = run_cmd(['python3', '-c', $client, $mode, $port,
                                    defined $arg ? $arg : ''],
                                   timeout => $timeout || 20);
    my %r = (status => $st, err => $err, bytes => 0, data => '');
    $r{$1} = $2 while $out =~ /^(\w+)=(.*)$/mg;
    $r{end} = "(client failed: $err)" unless defined $r{end};
    return \%r;
}

# The same directives behind securepair (PORT) and nginx's own SSL (PORT2).
sub both {
    my ($directives) = @_;
    return (
        stream_server_config => <<"EOF" . $directives,
securepair on;
securepair_certificate %%CERTS%%/server-rsa.crt;
securepair_certificate_key %%CERTS%%/server-rsa.key;
EOF
        stream_config => <<"EOF" . _indent($directives) . "}\n",
server {
    listen 127.0.0.1:%%PORT2%% ssl;
    ssl_certificate %%CERTS%%/server-rsa.crt;
    ssl_certificate_key %%CERTS%%/server-rsa.key;
EOF
    );
}

sub _indent {
    my ($s) = @_;
    $s =~ s/^/    /mg;
    return $s;
}

my $size = 50_000_000;


# ---- 1. a client cut off by proxy_timeout: no close_notify ---------------

{
    my $name = 'proxy_timeout cut';
    my $t = start_nginx(name => $name, backend => "sink_source $size",
                        both("proxy_pass 127.0.0.1:%%BACKEND_PORT%%;\n"
                             . "proxy_timeout 2s;\n"));

    nginx_started($t, $name);

    for my $side (['securepair', $t->{port}], ['native', $t->{port2}]) {
        my ($who, $port) = @$side;
        my $r = client("stall", $port, 5 * $SLOW, 40);

        ok($r->{bytes} > 65536 && $r->{bytes} < $size,
           "$name, $who: the client got part of the stream "
           . "($r->{bytes} of $size bytes)")
            or diag("client: $r->{end}");
        is($r->{end}, 'ragged',
           "$name, $who: the transport ends without close_notify");
    }

    stop_nginx($t);
    like(error_log_text($t), qr/\[info\].*connection timed out/,
         "$name: nginx says the connection timed out");
    done_nginx($t, $name);
}


# ---- 1. a complete stream still ends with close_notify -------------------

{
    my $name = 'complete stream';
    my $n = 3_000_000;
    my $t = start_nginx(name => $name, backend => "sink_source $n",
                        both("proxy_pass 127.0.0.1:%%BACKEND_PORT%%;\n"
                             . "proxy_timeout 5s;\n"));

    for my $side (['securepair', $t->{port}], ['native', $t->{port2}]) {
        my ($who, $port) = @$side;
        my $r = client('read', $port);

        is($r->{bytes}, $n, "$name, $who: the client got every byte");
        is($r->{end}, 'close_notify', "$name, $who: then close_notify");
    }

    done_nginx($t, $name);
}


# ---- 1. a write side shut by proxy_half_close: nothing more to send ------

{
    my $name = 'half-closed by the proxy';

    # the upstream answers and closes at once: the proxy shuts down the
    # client socket's write side and waits for the client's end
    my $upstream = "server {\n    listen 127.0.0.1:%%BACKEND_PORT%%;\n"
                   . "    return \"hello\\n\";\n}\n";
    my $port = free_port();
    my %c = both("proxy_pass 127.0.0.1:$port;\nproxy_half_close on;\n");
    $upstream =~ s/%%BACKEND_PORT%%/$port/;
    $c{stream_config} .= $upstream;

    my $t = start_nginx(name => $name, %c);
    nginx_started($t, $name);

    for my $side (['securepair', $t->{port}], ['native', $t->{port2}]) {
        my ($who, $port) = @$side;
        my $r = client('read', $port);

        is($r->{data}, 'hello|', "$name, $who: the client gets the answer");
        is($r->{end}, 'ragged', "$name, $who: then the transport's end");
    }

    stop_nginx($t);
    my $log = error_log_text($t);
    unlike($log, qr/Broken pipe|writev\(\) failed/,
           "$name: no write to the shut socket");
    done_nginx($t, $name);
}


# ---- 1. a peer's reset: nothing more to send ------------------------------

{
    my $name = 'peer reset';
    my $t = start_nginx(name => $name, backend => 'echo',
                        both("proxy_pass 127.0.0.1:%%BACKEND_PORT%%;\n"));

    for my $side (['securepair', $t->{port}], ['native', $t->{port2}]) {
        my ($who, $port) = @$side;
        my $r = client('reset', $port, "ping\n");

        is($r->{data}, 'ping|', "$name, $who: echoed, then the client resets");
    }

    # the proxy sees the reset and ends the sessions
    select undef, undef, undef, 0.5 * $SLOW;

    stop_nginx($t);
    my $log = error_log_text($t);
    like($log, qr/\[info\].*client disconnected.*\n(?s:.*)\[info\].*client disconnected/,
         "$name: both sessions ended");
    unlike($log, qr/writev\(\) failed|SSL_shutdown\(\) failed/,
           "$name: no write to the reset socket");
    done_nginx($t, $name);
}


# ---- 2. the client shuts down its TCP write side, no close_notify --------

{
    my $name = 'client half-close';
    my $t = start_nginx(name => $name, backend => 'reply answer\n',
                        both("proxy_pass 127.0.0.1:%%BACKEND_PORT%%;\n"
                             . "proxy_half_close on;\n"));

    for my $side (['securepair', $t->{port}], ['native', $t->{port2}]) {
        my ($who, $port) = @$side;
        my $r = client('halfclose', $port, "request\n");

        is($r->{data}, 'answer|', "$name, $who: the client gets the answer");
        unlike($r->{end}, qr/alert/, "$name, $who: no alert ($r->{end})");
    }

    stop_nginx($t);
    my $log = error_log_text($t);
    like($log, qr/\[info\].*securepair: peer closed the connection without close_notify/,
         "$name: error.log says the client closed without close_notify");
    like(backend_log_text($t), qr/received=8 sent=7\n(?s:.*)received=8 sent=7/,
         "$name: the backend read both requests and answered");
    done_nginx($t, $name);
}

{
    my $name = 'client half-close, no proxy_half_close';
    my $t = start_nginx(name => $name, backend => 'reply answer\n',
                        both("proxy_pass 127.0.0.1:%%BACKEND_PORT%%;\n"));

    for my $side (['securepair', $t->{port}], ['native', $t->{port2}]) {
        my ($who, $port) = @$side;
        my $r = client('halfclose', $port, "request\n");

        is($r->{bytes}, 0, "$name, $who: the session ends without an answer");
        like($r->{end}, qr/^(close_notify|ragged)$/,
             "$name, $who: and without an alert ($r->{end})");
    }

    done_nginx($t, $name);
}


# ---- 4. clients that stop reading: what they cost the worker -------------

# N clients each send a byte and never read while a backend streams to
# them through the proxy.  When their sockets are full, what the worker
# holds for each (its resident memory's growth over N) must be what
# nginx's own SSL holds for the same clients, measured alike (each in an
# nginx of its own, so that neither reuses the other's freed memory).
# Resident memory under valgrind says nothing: not run there.

my $stall_client = <<'EOF';
import fcntl, socket, ssl, struct, sys, termios, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
conns = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    t = ctx.wrap_socket(s)
    t.send(b'x')
    conns.append(t)
# full: what waits in the receive queues has stopped growing on every
# connection (the proxy's sends to them are blocked from then on)
def queued():
    return [struct.unpack('i', fcntl.ioctl(c.fileno(), termios.FIONREAD,
                                            bytes(4)))[0] for c in conns]
last, same = None, 0
deadline = time.time() + 60
while same < 3 and time.time() < deadline:
    time.sleep(0.5)
    q = queued()
    same = same + 1 if q == last and min(q) > 0 else 0
    last = q
print('full' if same >= 3 else 'not full', flush=True)
sys.stdin.read()
EOF

# The worker's resident set once it has stopped growing (sockets full).
sub settled_kb {
    my ($pid) = @_;
    my ($last, $kb) = (-1, worker_rss($pid));
    my $deadline = time + 20 * $SLOW;

    while ($kb != $last && time < $deadline) {
        sleep 0.5 * $SLOW;
        ($last, $kb) = ($kb, worker_rss($pid));
    }

    return $kb;
}

SKIP: {
    skip 'resident memory means nothing under valgrind', 7 if $VALGRIND;

    my $name = 'clients that stop reading';
    my $n = 100;
    my $bport = free_port();
    my $bpid = open my $bfh, '-|', "$BUILD/bench/backend", 'source',
                    '--port', $bport, '--timeout', 120
        or die "backend: $!";
    my $ready = <$bfh>;
    like($ready // '', qr/^ready/, "$name: a streaming backend");

    my (%kb, %full);

    for my $who ('securepair', 'native') {
        my $proxy = "proxy_pass 127.0.0.1:$bport;\nproxy_timeout 60s;\n";
        my $t = start_nginx(name => "$name, $who", $who eq 'securepair'
            ? (stream_server_config => "securepair on;\n"
               . "securepair_certificate %%CERTS%%/server-rsa.crt;\n"
               . "securepair_certificate_key %%CERTS%%/server-rsa.key;\n"
               . $proxy)
            : (config_raw => "server {\n    listen 127.0.0.1:%%PORT%% ssl;\n"
               . "    ssl_certificate %%CERTS%%/server-rsa.crt;\n"
               . "    ssl_certificate_key %%CERTS%%/server-rsa.key;\n"
               . _indent($proxy) . "}\n"));

        # one-time initialisation is not per connection
        client('read', $t->{port}, undef, 5) for 1 .. 2;
        my $before = settled_kb($t->{pid});

        my $cpid = open2(my $cout, my $cin, 'python3', '-c', $stall_client,
                         $t->{port}, $n);
        my $full = <$cout> // '';
        chomp $full;
        $full{$who} = $full;
        my $after = settled_kb($t->{pid});
        $kb{$who} = ($after - $before) / $n;
        close $cin;
        waitpid $cpid, 0;

        Test::More::note(sprintf "$name, $who: %.1f kB per client (%d kB before, "
                     . "%d kB with %d clients)", $kb{$who}, $before, $after,
                     $n);
        done_nginx($t, "$name, $who");
    }

    kill 'TERM', $bpid;
    close $bfh;

    is($full{$_}, 'full', "$name, $_: every client's receive queue "
       . "filled before the worker was measured") for 'securepair', 'native';
    ok($kb{native} > 16, sprintf("$name: nginx's own SSL holds %.1f kB per "
                                 . "client", $kb{native}));
    # the same to within what one run to the next varies (native gave
    # 56 to 62 kB here, securepair 60 to 63; 134 before records waited
    # for a full socket one at a time)
    ok($kb{securepair} <= 1.25 * $kb{native},
       sprintf("$name: securepair holds %.1f kB per client, as nginx's "
               . "own %.1f kB (ratio %.2f)", $kb{securepair},
               $kb{native}, $kb{securepair} / $kb{native}));
}

done_testing();
