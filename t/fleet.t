#!/usr/bin/perl
#
# t/fleet.t: a fleet of three hosts (nginx on 127.0.0.2, .3 and .4, all
# loopback on Linux) sharing one ticket key file and one real
# redis-server (issue 15): securepair_session_cache shared:NAME:SIZE
# redis:HOST:PORT ...; its configuration and its errors; every new
# session written to Redis with the session timeout as its expiry, under
# the key prefix, in the database asked, after AUTH; tickets made on one
# host resume on the others; Redis as the second level: a session it
# gives a host is kept in that host's zone until the session ends, and
# resumes there again without Redis; and Redis as a
# cache, never a dependency: killed, refusing, answering garbage or made
# slow (DEBUG SLEEP), no handshake fails nor waits for it longer than
# the lookup's timeout, a warning says so at most every few seconds, and
# writes come back by themselves with Redis.  Last, a host of two
# workers, each with its own connection to Redis, before and after
# Redis restarts.
#
# The client is `openssl s_client` in its full mode, which says "New," or
# "Reused,"; the access log gives each connection's session id.

use strict;
use warnings;

use lib 't/lib';
use SecurePair::Test;
use SecurePair::Redis qw(have_redis start_redis stop_redis kill_redis
                         redis_cli redis_call);
use SecurePair::Util qw(wait_child);

use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

if (!have_redis()) {
    plan(skip_all => 'redis-server and redis-cli are needed '
                     . '(sh auto/deps test)');
}

my @HOSTS = qw(127.0.0.2 127.0.0.3 127.0.0.4);

make_path("$BUILD/t");
my $DIR = tempdir('fleet-XXXXXX', DIR => "$BUILD/t", CLEANUP => 1);

# one ticket key for the fleet, and Redis's password in a file
for my $k (qw(k1 k2)) {
    my ($st, undef, $err) = run_cmd(['openssl', 'rand', '-out',
                                     "$DIR/$k.key", 80]);
    die "openssl rand: $err" if $st != 0;
}
spew("$DIR/redis.pass", "fleet-secret\n");

my $redis = start_redis("$DIR/redis", password => 'fleet-secret');
die "redis-server did not start: " . slurp("$DIR/redis/redis.log")
    unless $redis;

END { stop_redis($redis) if $redis }

my $LOG = '|host=$server_addr|reused=$securepair_session_reused'
        . '|id=$securepair_session_id|proto=$securepair_protocol'
        . '|authorized=$securepair_authorized'
        . '|error=$securepair_authorization_error'
        . '|subject=$securepair_peer_subject|fp=$securepair_peer_fingerprint|';

my $ECHO = qq{securepair_echo "welcome!\\n";};

# The stream block of one host: tickets on at $port (the fleet's key
# files, the first encrypts), off at port2 (TLS 1.3 resumes by the
# store too); both ask for a client certificate.
sub host_conf {
    my ($host, $port, $cache, %o) = @_;
    my $keys = join '', map { "    securepair_session_ticket_key $_;\n" }
                            @{$o{keys} || ["$DIR/k1.key"]};
    my $common = "    securepair on;\n"
        . "    securepair_certificate %%CERTS%%/server-rsa.crt;\n"
        . "    securepair_certificate_key %%CERTS%%/server-rsa.key;\n"
        . "    securepair_ca %%CERTS%%/ca.crt;\n"
        . "    securepair_request_cert on;\n"
        . "    securepair_session_timeout 120s;\n"
        . "    $cache\n"
        . "    $ECHO\n";
    my $listen = "$host:$port" . ($o{reuseport} ? ' reuseport' : '');
    my $conf = "server {\n    listen $listen;\n$common$keys}\n";
    $conf .= "server {\n    listen $host:$o{port2};\n$common"
             . "    securepair_session_tickets off;\n}\n" if $o{port2};
    return $conf;
}

sub redis_cache {
    my ($port, $more) = @_;
    return "securepair_session_cache shared:FLEET:1m "
           . "redis:127.0.0.1:$port timeout=" . (200 * $SLOW) . "ms "
           . "prefix=fleet: db=3 "
           . "password_file=$DIR/redis.pass" . ($more // '') . ";";
}

# The access log's line $n (from 0) of a host, once it is there.
sub log_line {
    my ($t, $n) = @_;
    return parse_log((access_lines($t, $n + 1))[$n] // '');
}

# One connection to a host: served (greeting and echo), New or Reused,
# the log line.
sub conn {
    my ($t, $host, %o) = @_;
    my $before = () = access_lines($t, 0);
    my @args;
    push @args, '-sess_in', delete $o{in} if defined $o{in};
    push @args, '-sess_out', delete $o{out} if defined $o{out};
    push @args, '-no_ticket' if delete $o{no_ticket};

    my $r = s_client(host => $host, port => $t->{port}, mode => 'full',
                     request => "ping\n",
                     expect_like => qr/welcome!\n(?s:.*)ping\n/, %o,
                     args => \@args);

    $r->{served} = $r->{stdout} =~ /welcome!\n(?s:.*)ping\n/ ? 1 : 0;
    $r->{reused} = $r->{stdout} =~ /^Reused, TLSv/m ? 1
                 : $r->{stdout} =~ /^New, TLSv/m ? 0 : undef;
    $r->{log} = log_line($t, $before);
    return $r;
}

# A saved TLS 1.2 session offered to a host, the client gone as soon as
# its handshake is done (its stdin is empty): how long it took, whether
# it resumed (undef: no handshake), s_client's stderr.
sub timed_offer {
    my ($t, $host, $sess) = @_;
    my $t0 = time;
    my ($st, $out, $err) = run_cmd(['openssl', 's_client', '-connect',
                                    "$host:$t->{port}", '-noservername',
                                    '-tls1_2', '-sess_in', $sess,
                                    '-CAfile', "$CERTS/ca.crt",
                                    '-no_ign_eof']);
    my $took = time - $t0;
    return ($took, $out =~ /^Reused, TLS/m ? 1
                   : $out =~ /^New, TLS/m ? 0 : undef, $err);
}

# A new TLS 1.2 session made on a host (no ticket) and saved in $sess,
# once Redis holds it: the connection, and the session's key in Redis.
sub new_session {
    my ($t, $host, $sess) = @_;
    my $r = conn($t, $host, version => 'TLSv1.2', no_ticket => 1,
                 out => $sess);
    my $key = "fleet:" . pack('H*', $r->{log}{id} // '');
    my $deadline = time + 5 * $SLOW;

    sleep 0.05 while !redis_call($redis, 3, 'EXISTS', $key)
                     && time < $deadline;
    return ($r, $key);
}

sub redis_ok {
    my (@cmd) = @_;
    my ($s, $out, $e) = redis_cli($redis, '-n', 3, @cmd);
    chomp $out;
    return $s == 0 ? $out : "error: $e";
}

# How many GETs Redis has answered since it started.
sub redis_gets {
    my $info = redis_call($redis, 0, 'INFO', 'commandstats') // '';
    return $info =~ /^cmdstat_get:calls=(\d+)/m ? $1 : 0;
}

sub warn_lines {
    my ($t) = @_;
    return grep { /\[warn\].*securepair session cache "redis:/ }
           split /\n/, error_log_text($t);
}

# TLS 1.2 connections without a ticket, so that each makes a session of
# its own, written to the store, to the hosts in turn: how many were
# served by a full handshake.
sub full_handshakes {
    my ($fleet, $n, %o) = @_;
    my ($ok, @bad) = (0);

    for my $i (0 .. $n - 1) {
        my $h = $i % @$fleet;
        my $r = conn($fleet->[$h], $HOSTS[$h], no_ticket => 1,
                     version => 'TLSv1.2', %o);

        if ($r->{served} && defined $r->{reused} && $r->{reused} == 0) {
            $ok++;
        } else {
            push @bad, "$HOSTS[$h]: served=$r->{served} "
                       . "reused=" . ($r->{reused} // '-')
                       . " $r->{stderr}";
        }
    }

    return ($ok, @bad);
}


# ---- configuration -------------------------------------------------------

{
    my $port = free_port();

    for my $case (
        ['all options', redis_cache($redis->{port}), undef],
        ['a name', "securepair_session_cache shared:C:1m "
                   . "redis:localhost:$redis->{port};", undef],
        ['no shared zone', "securepair_session_cache "
                           . "redis:127.0.0.1:$redis->{port};",
         qr/invalid session cache "redis:127\.0\.0\.1:\d+"/],
        ['no zone before redis', "securepair_session_cache none "
                                 . "redis:127.0.0.1:$redis->{port};",
         qr/a Redis session cache needs a shared zone first/],
        ['no port', "securepair_session_cache shared:C:1m "
                    . "redis:127.0.0.1;",
         qr/invalid session cache "redis:127\.0\.0\.1": expected /],
        ['a bad option', "securepair_session_cache shared:C:1m "
                         . "redis:127.0.0.1:1 colour=red;",
         qr/invalid parameter "colour=red" of the Redis session cache/],
        ['a bad timeout', "securepair_session_cache shared:C:1m "
                          . "redis:127.0.0.1:1 timeout=soon;",
         qr/invalid parameter "timeout=soon"/],
        ['a bad db', "securepair_session_cache shared:C:1m "
                     . "redis:127.0.0.1:1 db=x;",
         qr/invalid parameter "db=x"/],
        ['no password file', "securepair_session_cache shared:C:1m "
                             . "redis:127.0.0.1:1 "
                             . "password_file=$DIR/nothing;",
         qr/\Q$DIR\E\/nothing.*failed/],
    ) {
        my ($name, $cache, $want) = @$case;
        my $t = start_nginx(name => "fleet conf, $name", no_start => 1,
                            config_raw => host_conf('127.0.0.1', $port,
                                                    $cache));
        my ($s, $out) = nginx_t($t);

        if (!defined $want) {
            is($s, 0, "nginx -t: $name: accepted") or diag($out);
        } else {
            isnt($s, 0, "nginx -t: $name: refused");
            like($out, $want, "nginx -t: $name: says why");
            like($out, qr/in \Q$t->{dir}\E\/nginx\.conf:\d+/,
                 "nginx -t: $name: names the file and line");
        }

        check_nginx_clean($t, "nginx -t: $name", allow_emerg => 1);
        remove_env($t);
    }
}


# ---- the fleet -----------------------------------------------------------

my $PORT = free_port();
my $PORT2 = free_port();
my @fleet;

sub start_fleet {
    my ($cache_of, %o) = @_;
    my @f;

    for my $h (@HOSTS) {
        my $t = start_nginx(name => "fleet $h", port => $PORT, workers => 1,
                            master => 1, log_format => $LOG,
                            config_raw => host_conf($h, $PORT,
                                                    $cache_of->($h),
                                                    port2 => $PORT2, %o));
        nginx_started($t, "fleet: $h");
        push @f, $t;
    }

    return @f;
}

@fleet = start_fleet(sub { redis_cache($redis->{port}) });

END { stop_nginx($_) for @fleet }

is(redis_ok('FLUSHDB'), 'OK', 'fleet: redis db 3 is empty to begin with');

# a TLS 1.2 session without a ticket, made on each host: in Redis
for my $i (0 .. 2) {
    my $h = $HOSTS[$i];
    my $sess = "$DIR/s12-$i.pem";
    my ($r, $key) = new_session($fleet[$i], $h, $sess);

    ok($r->{served} && defined $r->{reused} && !$r->{reused},
       "$h, TLS 1.2, no ticket: served by a full handshake")
        or diag("$r->{cmd}\n$r->{stderr}");
    like($r->{log}{id}, qr/^[0-9a-f]{64}$/, "$h: the session has an id");

    my $n = redis_call($redis, 3, 'STRLEN', $key);
    cmp_ok($n, '>', 100, "$h: Redis db 3 holds the session under "
                         . "prefix + id ($n bytes)");

    my $ttl = redis_call($redis, 3, 'PTTL', $key);
    ok($ttl > 100_000 && $ttl <= 120_000,
       "$h: its expiry is securepair_session_timeout (PTTL $ttl ms)");

    my $again = conn($fleet[$i], $h, version => 'TLSv1.2', in => $sess);
    ok($again->{served} && $again->{reused},
       "$h: the session resumes on the host that made it (its zone)")
        or diag("$again->{cmd}\n$again->{stderr}");

    for my $j (grep { $_ != $i } 0 .. 2) {
        my $x = conn($fleet[$j], $HOSTS[$j], version => 'TLSv1.2',
                     in => $sess);
        ok($x->{served} && $x->{reused} && $x->{log}{reused} eq 'r'
           && $x->{log}{id} eq $r->{log}{id},
           "$h: the TLS 1.2 session id made there resumes on $HOSTS[$j] "
           . "(through Redis)")
            or diag("$x->{cmd}\n$x->{stderr}\n$x->{log}{line}");
    }
}

is(redis_ok('DBSIZE'), 3, 'fleet: three TLS 1.2 sessions, three keys');

# Redis is the second level: a session it gave a host is kept in that
# host's zone, so that the host resumes it again without asking (Redis
# counts no GET), and still once Redis has forgotten it
{
    my $gets = redis_gets();
    my @bad;

    for my $flushed (0, 1) {
        for my $i (0 .. 2) {
            for my $j (0 .. 2) {
                my $x = conn($fleet[$j], $HOSTS[$j], version => 'TLSv1.2',
                             in => "$DIR/s12-$i.pem");
                push @bad, "$HOSTS[$i]'s on $HOSTS[$j] (flushed $flushed): "
                           . "served=$x->{served} reused="
                           . ($x->{reused} // '-') . " $x->{stderr}"
                    unless $x->{served} && $x->{reused};
            }
        }

        if (!$flushed) {
            is(redis_gets(), $gets, 'zone filled from Redis: the three '
                                    . 'sessions resume again on the three '
                                    . 'hosts without a GET to Redis');
            is(redis_ok('FLUSHDB'), 'OK', 'zone filled from Redis: Redis '
                                          . 'emptied');
        }
    }

    is(scalar(@bad), 0, 'zone filled from Redis: the three TLS 1.2 '
                        . 'sessions resume on the three hosts, before and '
                        . 'after Redis is emptied (18 of 18)')
        or diag(join "\n", @bad);
}

# A session Redis does not have: the host asks twice before the full
# handshake (a GET can run before another host's SET that reached Redis
# first; see module/ngx_stream_securepair_redis_cache.c)
{
    my ($r, $key) = new_session($fleet[0], $HOSTS[0], "$DIR/gone.pem");
    is(redis_call($redis, 3, 'DEL', $key), 1,
       'a session not in Redis: its key removed');

    my $gets = redis_gets();
    my $x = conn($fleet[1], $HOSTS[1], version => 'TLSv1.2',
                 in => "$DIR/gone.pem");
    ok($x->{served} && defined $x->{reused} && !$x->{reused},
       "a session not in Redis: $HOSTS[1] serves a full handshake")
        or diag("$x->{cmd}\n$x->{stderr}");
    is(redis_gets() - $gets, 2, 'a session not in Redis: asked for twice');
}

# TLS 1.3 with tickets off: the ticket names a session in the store
for my $i (0 .. 2) {
    my $sess = "$DIR/s13-$i.pem";
    my $r = conn($fleet[$i], $HOSTS[$i], version => 'TLSv1.3',
                 port => $PORT2, out => $sess);
    ok($r->{served} && defined $r->{reused} && !$r->{reused},
       "$HOSTS[$i], TLS 1.3, tickets off: a full handshake");

    for my $j (grep { $_ != $i } 0 .. 2) {
        my $x = conn($fleet[$j], $HOSTS[$j], version => 'TLSv1.3',
                     port => $PORT2, in => $sess);
        ok($x->{served} && $x->{reused} && $x->{log}{reused} eq 'r',
           "$HOSTS[$i]: its TLS 1.3 session (tickets off) resumes on "
           . "$HOSTS[$j]")
            or diag("$x->{cmd}\n$x->{stderr}\n$x->{log}{line}");
    }
}

# How many connections Redis has from the module (redis-cli's own
# aside), and in which databases.
sub redis_clients {
    my ($st, $out) = redis_cli($redis, 'CLIENT', 'LIST');
    return map { /\bdb=(\d+)/ ? $1 : '?' }
           grep { /\S/ && !/cmd=client/ } split /\n/, $out;
}

# both servers of each host used Redis: one connection per worker
{
    my @clients = redis_clients();
    is(scalar(@clients), 3, 'fleet: Redis has one connection from each '
                            . 'host\'s worker (two servers each, one '
                            . 'connection)')
        or diag((redis_cli($redis, 'CLIENT', 'LIST'))[1]);
}

# client certificates: the resumed connection has the full one's facts
for my $v (qw(TLSv1.2 TLSv1.3)) {
    for my $cert (qw(client client-self)) {
        my $sess = "$DIR/cc-$v-$cert.pem";
        my @f = qw(authorized error subject fp);
        my $r = conn($fleet[0], $HOSTS[0], version => $v, port => $PORT2,
                     cert => "$cert.crt", key => "$cert.key", out => $sess);
        my $want = join '|', map { $r->{log}{$_} // '' } @f;
        ok($r->{served} && $r->{log}{fp} =~ /\S/,
           "$v, $cert.crt: a full handshake on $HOSTS[0] ($want)");

        for my $j (1, 2) {
            my $x = conn($fleet[$j], $HOSTS[$j], version => $v,
                         port => $PORT2, in => $sess);
            my $got = join '|', map { $x->{log}{$_} // '' } @f;
            ok($x->{served} && $x->{reused} && $got eq $want,
               "$v, $cert.crt: resumed on $HOSTS[$j] with the same "
               . "\$securepair_authorized, _authorization_error and "
               . "peer facts")
                or diag("got $got\nwant $want\n$x->{stderr}");
        }
    }
}

# TLS 1.3 with tickets on: the same key file on every host
{
    my $sess = "$DIR/t13.pem";
    my $r = conn($fleet[0], $HOSTS[0], version => 'TLSv1.3', out => $sess);
    ok($r->{served} && defined $r->{reused} && !$r->{reused},
       "$HOSTS[0], TLS 1.3 ticket: a full handshake");

    for my $i (1, 2) {
        my $x = conn($fleet[$i], $HOSTS[$i], version => 'TLSv1.3',
                     in => $sess);
        ok($x->{served} && $x->{reused} && $x->{log}{reused} eq 'r',
           "$HOSTS[$i]: the TLS 1.3 ticket made on $HOSTS[0] resumes")
            or diag("$x->{cmd}\n$x->{stderr}\n$x->{log}{line}");
    }
}

# ticket keys rotated on every host, the new key first and the old one
# second: tickets of the old key still resume everywhere, new ones come
# under the new key and resume everywhere too
{
    my $old = "$DIR/rot-old.pem";
    my $r = conn($fleet[0], $HOSTS[0], version => 'TLSv1.3', out => $old);
    ok($r->{served}, "rotation: a ticket under the old key from $HOSTS[0]");

    for my $i (0 .. 2) {
        ok(reload_nginx($fleet[$i],
                        config_raw => host_conf($HOSTS[$i], $PORT,
                                                redis_cache($redis->{port}),
                                                port2 => $PORT2,
                                                keys => ["$DIR/k2.key",
                                                         "$DIR/k1.key"])),
           "rotation: $HOSTS[$i] reloaded with k2 first, k1 second")
            or diag($fleet[$i]{reload_error} // '');
    }

    my $new = "$DIR/rot-new.pem";
    my $n = conn($fleet[1], $HOSTS[1], version => 'TLSv1.3', in => $old,
                 out => $new);

    for my $i (0 .. 2) {
        my $x = conn($fleet[$i], $HOSTS[$i], version => 'TLSv1.3',
                     in => $old);
        ok($x->{served} && $x->{reused},
           "rotation: the old key's ticket resumes on $HOSTS[$i]")
            or diag("$x->{cmd}\n$x->{stderr}");
        my $y = conn($fleet[$i], $HOSTS[$i], version => 'TLSv1.3',
                     in => $new);
        ok($y->{served} && $y->{reused},
           "rotation: the ticket $HOSTS[1] issued after the rotation "
           . "resumes on $HOSTS[$i]")
            or diag("$y->{cmd}\n$y->{stderr}");
    }
}

no_errors($_, "fleet, Redis up") for @fleet;
is(scalar(map { warn_lines($_) } @fleet), 0,
   'fleet, Redis up: no warning about Redis');


# ---- Redis killed, then back ---------------------------------------------

# a session made on the first host while Redis is up
my $before_kill = "$DIR/before-kill.pem";
new_session($fleet[0], $HOSTS[0], $before_kill);

kill_redis($redis);

{
    # offered to the other hosts, whose zones do not have it: full
    my ($ok, @bad) = (0);
    for my $k (1 .. 6) {
        my $j = 1 + $k % 2;
        my $r = conn($fleet[$j], $HOSTS[$j], version => 'TLSv1.2',
                     no_ticket => 1, in => $before_kill);
        if ($r->{served} && defined $r->{reused} && !$r->{reused}) {
            $ok++;
        } else {
            push @bad, "$HOSTS[$j]: served=$r->{served} reused="
                       . ($r->{reused} // '-') . " $r->{stderr}";
        }
    }
    is($ok, 6, 'Redis killed: 6 resumption offers on the other hosts '
               . 'served by a full handshake, 0 failures')
        or diag(join "\n", @bad);
}

{
    my ($ok, @bad) = full_handshakes(\@fleet, 12);
    is($ok, 12, 'Redis killed: 12 handshakes on the three hosts, all '
                . 'served (full), 0 failures')
        or diag(join "\n", @bad);

    for my $i (0 .. 2) {
        my @w = warn_lines($fleet[$i]);
        ok(@w >= 1 && @w <= 3, "Redis killed: $HOSTS[$i] says so in a "
                               . "warning, not on every handshake ("
                               . scalar(@w) . " lines)")
            or diag(error_log_text($fleet[$i]));
        like(join("\n", @w), qr/: (connection lost|cannot connect): \S/,
             "Redis killed: $HOSTS[$i]'s warning says what ended the "
             . "connection and why");
    }

    no_errors($_, "Redis killed") for @fleet;
}

$redis = start_redis("$DIR/redis", port => $redis->{port},
                     password => 'fleet-secret');
ok($redis, 'Redis back on the same port');

{
    # reconnects come at most 5 s apart: new sessions land in Redis again
    my $before = redis_ok('DBSIZE');
    my $deadline = time + 15 * $SLOW;
    my %back;

    while (time < $deadline && keys %back < 3) {
        for my $i (0 .. 2) {
            next if $back{$i};
            my $sess = "$DIR/back-$i.pem";
            my $r = conn($fleet[$i], $HOSTS[$i], version => 'TLSv1.2',
                         no_ticket => 1, out => $sess);
            next unless $r->{served} && $r->{log}{id};
            sleep 0.1;
            my $j = ($i + 1) % 3;
            my $x = conn($fleet[$j], $HOSTS[$j], version => 'TLSv1.2',
                         no_ticket => 1, in => $sess);
            $back{$i} = 1 if $x->{served} && $x->{reused};
        }
        sleep 0.5 if keys %back < 3;
    }

    is(scalar(keys %back), 3, 'Redis back: a session made on each host '
                              . 'resumes on the next one again, by itself');
}


# ---- Redis slow ------------------------------------------------------------

{
    # a session made on the first host, in Redis, and in no other zone
    my $slow = "$DIR/slow-0.pem";
    new_session($fleet[0], $HOSTS[0], $slow);

    # DEBUG SLEEP holds Redis for 4 s (more under valgrind): handshakes
    # wait for it no more than the lookup's timeout, 200 ms
    my $cli = spawn("$DIR/sleep.out", $SecurePair::Redis::CLI, '-h',
                    '127.0.0.1', '-p', $redis->{port}, '--no-auth-warning',
                    '-a', 'fleet-secret', 'DEBUG', 'SLEEP', 4 * $SLOW);
    sleep 0.3;

    my $t0 = time;

    # the session offered to the others: their lookups time out, a full
    # handshake; each client gone once its handshake is done, timed
    my ($offers, @took, @bad) = (0);
    for my $j (1, 2) {
        my ($took, $reused, $err) = timed_offer($fleet[$j], $HOSTS[$j], $slow);
        push @took, $took;
        if (defined $reused && !$reused) {
            $offers++;
        } else {
            push @bad, "offer to $HOSTS[$j]: reused="
                       . ($reused // '-') . " $err";
        }
    }

    my ($ok, @bad2) = full_handshakes(\@fleet, 6);
    push @bad, @bad2;

    my $asleep = !defined wait_child($cli, 0);
    my $took = join ', ', map { sprintf '%.2f s', $_ } @took;

    is($ok, 6, 'Redis asleep: 6 handshakes served (full), 0 failures')
        or diag(join "\n", @bad);
    is($offers, 2, 'Redis asleep: a session offered to two other hosts: '
                   . 'served by a full handshake after the lookup\'s '
                   . 'timeout')
        or diag(join "\n", @bad);
    is(scalar(grep { $_ >= 0.18 * $SLOW } @took), 2,
       "Redis asleep: each offer's handshake took the lookup's timeout ("
       . 200 * $SLOW . " ms) at least ($took)");
    is(scalar(grep { $_ < 2 * $SLOW } @took), 2,
       "Redis asleep: and far less than Redis's " . 4 * $SLOW . " s sleep "
       . "(under " . 2 * $SLOW . " s: $took)");
    ok($asleep, 'Redis asleep: they were all done while Redis still '
                . 'slept (' . sprintf('%.1f', time - $t0) . ' s)');

    wait_child($cli, 10 * $SLOW);
    no_errors($_, "Redis slow") for @fleet;
}


# ---- Redis refusing, Redis answering garbage -----------------------------

for my $i (0 .. 2) {
    stop_nginx($fleet[$i]);
    check_nginx_clean($fleet[$i], "fleet, $HOSTS[$i]");
    remove_env($fleet[$i]);
}

{
    # a wrong password: Redis refuses every command
    spew("$DIR/wrong.pass", "not-the-password\n");
    my @f = start_fleet(sub {
        "securepair_session_cache shared:FLEET:1m "
        . "redis:127.0.0.1:$redis->{port} password_file=$DIR/wrong.pass;"
    });

    my ($ok, @bad) = full_handshakes(\@f, 6);
    is($ok, 6, 'Redis refusing (wrong password): 6 handshakes served '
               . '(full), 0 failures')
        or diag(join "\n", @bad);

    for my $i (0 .. 2) {
        my @w = grep { /refused/ } warn_lines($f[$i]);
        ok(@w == 1, "Redis refusing: $HOSTS[$i] says so once")
            or diag(error_log_text($f[$i]));
    }

    no_errors($_, "Redis refusing") for @f;
    for my $i (0 .. 2) {
        stop_nginx($f[$i]);
        check_nginx_clean($f[$i], "Redis refusing, $HOSTS[$i]");
        remove_env($f[$i]);
    }
}

{
    # not Redis at all: a server that answers garbage
    my $t = start_nginx(name => 'fleet garbage', workers => 1, master => 1,
                        backend => "banner hello, I am not Redis\\n",
                        log_format => $LOG, no_start => 1);
    my $port = $t->{backend_ports}[0];
    $t = start_nginx(env => $t, workers => 1, master => 1, log_format => $LOG,
                     config_raw => host_conf('127.0.0.2', $t->{port},
                        "securepair_session_cache shared:G:1m "
                        . "redis:127.0.0.1:$port;"));
    nginx_started($t, 'Redis answering garbage');

    my $ok = 0;
    for (1 .. 6) {
        my $r = conn($t, '127.0.0.2', no_ticket => 1, version => 'TLSv1.2');
        $ok++ if $r->{served} && defined $r->{reused} && !$r->{reused};
    }

    is($ok, 6, 'Redis answering garbage: 6 handshakes served (full), '
               . '0 failures');
    my @w = warn_lines($t);
    ok(@w >= 1 && @w <= 2, 'Redis answering garbage: a warning, not one '
                           . 'per handshake (' . scalar(@w) . ')')
        or diag(error_log_text($t));
    no_errors($t, 'Redis answering garbage');
    stop_nginx($t);
    check_nginx_clean($t, 'Redis answering garbage');
}


# ---- two workers on one host ---------------------------------------------

{
    # the first host makes sessions, with one worker; the second has two,
    # each with its own connection to Redis, and the kernel spreads the
    # clients over them (reuseport)
    my $maker = start_nginx(name => 'fleet maker', port => $PORT,
                            workers => 1, master => 1, log_format => $LOG,
                            config_raw => host_conf($HOSTS[0], $PORT,
                                              redis_cache($redis->{port})));
    my $two;
    {
        local $LOG_LEVEL = 'debug';
        $two = start_nginx(name => 'fleet two workers', port => $PORT,
                           workers => 2, master => 1, log_format => $LOG,
                           config_raw => host_conf($HOSTS[1], $PORT,
                                              redis_cache($redis->{port}),
                                              reuseport => 1));
    }
    ok(!$maker->{start_error} && !$two->{start_error},
       'two workers: the maker and the host of two workers start')
        or diag(($maker->{start_error} // '') . ($two->{start_error} // ''));
    is(redis_ok('FLUSHDB'), 'OK', 'two workers: Redis emptied');

    # sessions made on the first host, each resumed three times on the
    # second: through Redis the first time, by either worker, then from
    # the zone the two share
    my $resume_all = sub {
        my ($tag, $n) = @_;
        my ($ok, @bad) = (0);

        for my $k (1 .. $n) {
            my $sess = "$DIR/two-$tag-$k.pem";
            my ($r) = new_session($maker, $HOSTS[0], $sess);

            for (1 .. 3) {
                my $x = conn($two, $HOSTS[1], version => 'TLSv1.2',
                             in => $sess);
                if ($x->{served} && $x->{reused}
                    && ($x->{log}{id} // '') eq ($r->{log}{id} // '-'))
                {
                    $ok++;
                } else {
                    push @bad, "$tag $k: served=$x->{served} reused="
                               . ($x->{reused} // '-') . " $x->{stderr}";
                }
            }
        }

        return ($ok, @bad);
    };

    my ($ok, @bad) = $resume_all->('up', 6);
    is($ok, 18, 'two workers: 6 sessions made by the first host resume '
                . '3 times each on the second (18 of 18)')
        or diag(join "\n", @bad);

    my @debug = split /\n/, error_log_text($two);
    is(scalar(grep { /securepair redis: GET sent/ } @debug), 6,
       'two workers: Redis asked once a session (6 GETs in the debug log)');
    is(scalar(grep { /securepair redis: session kept in the zone for (\d+) s/
                     && $1 > 100 && $1 <= 120 } @debug), 6,
       'two workers: each kept in the zone for what remained of its '
       . '120 s');

    # a session 2 s old is kept for what remains of its life, not for a
    # fresh securepair_session_timeout (the session says when it ends)
    {
        my $sess = "$DIR/two-aged.pem";
        new_session($maker, $HOSTS[0], $sess);
        sleep 2.5;
        my $x = conn($two, $HOSTS[1], version => 'TLSv1.2', in => $sess);
        ok($x->{served} && $x->{reused},
           'two workers: a session made 2.5 s ago resumes through Redis')
            or diag("$x->{cmd}\n$x->{stderr}");

        my $kept;
        my $deadline = time + 5 * $SLOW;
        until (defined $kept || time > $deadline) {
            my @kept = error_log_text($two)
                       =~ /session kept in the zone for (\d+) s/g;
            $kept = $kept[6] if @kept > 6;
            sleep 0.1 unless defined $kept;
        }
        ok(defined $kept && $kept >= 100 && $kept <= 118,
           'two workers: it is kept in the zone for what remains of its '
           . '120 s (' . ($kept // 'no line') . ' s)');
    }

    # new sessions on the second host, each written to Redis by the
    # worker that made it, until both workers have their connection
    my $deadline = time + 15 * $SLOW;
    while (redis_clients() < 3 && time < $deadline) {
        conn($two, $HOSTS[1], version => 'TLSv1.2', no_ticket => 1)
            for 1 .. 4;
    }
    is(join(' ', redis_clients()), '3 3 3',
       'two workers: Redis has three connections (the first host\'s, '
       . 'one for each worker of the second), all in db 3');

    kill_redis($redis);
    $redis = start_redis("$DIR/redis", port => $redis->{port},
                         password => 'fleet-secret');
    ok($redis, 'two workers: Redis restarted, empty');

    # every worker reconnects by itself (at most 5 s apart)
    $deadline = time + 15 * $SLOW;
    sleep 0.2 while redis_clients() < 3 && time < $deadline;
    is(join(' ', redis_clients()), '3 3 3',
       'two workers: after the restart the three connections are back, '
       . 'after AUTH and SELECT');

    # the sessions of before, from the zone (Redis lost them), and new
    # ones through Redis again
    ($ok, @bad) = (0);
    for my $k (1 .. 6) {
        my $x = conn($two, $HOSTS[1], version => 'TLSv1.2',
                     in => "$DIR/two-up-$k.pem");
        $x->{served} && $x->{reused} ? $ok++
            : push @bad, "up $k: served=$x->{served} reused="
                         . ($x->{reused} // '-') . " $x->{stderr}";
    }
    is($ok, 6, 'two workers: after the restart the sessions of before '
               . 'still resume on the second host (its zone)')
        or diag(join "\n", @bad);

    ($ok, @bad) = $resume_all->('back', 6);
    is($ok, 18, 'two workers: after the restart, 6 new sessions of the '
                . 'first host resume 3 times each on the second (18 of 18)')
        or diag(join "\n", @bad);

    for my $t ($maker, $two) {
        no_errors($t, "two workers, $t->{name}");
        stop_nginx($t);
        check_nginx_clean($t, "two workers, $t->{name}");
    }
}

done_testing();
