package SecurePair::Redis;

# SecurePair::Redis: a real redis-server for the tests, in a directory of
# its own, on a free loopback port, with no persistence; stopped by its
# pid, never by name.
#
#   my $r = start_redis($dir, password => 'secret');
#   redis_cli($r, 'GET', 'k')     # (status, stdout, stderr) of redis-cli
#   redis_call($r, 3, 'PTTL', $k) # a reply, in db 3; any byte in a word
#   kill_redis($r)                # SIGKILL, as a crash
#   start_redis($dir, port => $r->{port}, ...)  # back on the same port
#   stop_redis($r)

use strict;
use warnings;

use Exporter qw(import);
use File::Path qw(make_path);
use IO::Socket::INET;
use POSIX ();

use SecurePair::Util qw(free_port spawn wait_child wait_port run_cmd);

our @EXPORT_OK = qw(have_redis start_redis stop_redis kill_redis redis_cli
                    redis_call);

our $SERVER = $ENV{TEST_REDIS_SERVER} || '/usr/bin/redis-server';
our $CLI = $ENV{TEST_REDIS_CLI} || '/usr/bin/redis-cli';

sub have_redis { return -x $SERVER && -x $CLI }

# start_redis($dir, port => N, password => S): { pid, port, dir,
# password }, or undef when it did not come up ($dir/redis.log says
# why).
sub start_redis {
    my ($dir, %o) = @_;
    make_path($dir);

    my $port = $o{port} || free_port();
    my @argv = ($SERVER, '--port', $port, '--bind', '127.0.0.1',
                '--dir', $dir, '--save', '', '--appendonly', 'no',
                '--daemonize', 'no', '--logfile', '',
                '--enable-debug-command', 'local');
    push @argv, '--requirepass', $o{password} if defined $o{password};

    my $pid = spawn("$dir/redis.log", @argv);
    my $r = { pid => $pid, port => $port, dir => $dir,
              password => $o{password} };

    # older servers have no --enable-debug-command: start without it
    if (defined wait_child($pid, 0.3)) {
        @argv = grep { $_ ne '--enable-debug-command' && $_ ne 'local' }
                @argv;
        $r->{pid} = $pid = spawn("$dir/redis.log", @argv);
    }

    return wait_port($port, 10) ? $r : undef;
}

# redis-cli against the server: (status, stdout, stderr).
sub redis_cli {
    my ($r, @cmd) = @_;
    my @argv = ($CLI, '-h', '127.0.0.1', '-p', $r->{port});
    push @argv, '--no-auth-warning', '-a', $r->{password}
        if defined $r->{password};
    return run_cmd([@argv, @cmd], timeout => 10);
}

# redis_call($r, $db, @command): the command's reply, spoken in Redis's
# own protocol so that its words may hold any byte (a session id as a
# key): an integer or a string, undef for nil, an array reference, or
# "error: ..." (also when Redis cannot be reached).
sub redis_call {
    my ($r, $db, @cmd) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $r->{port}, Timeout => 10)
        or return "error: $!";
    my @cmds = ([SELECT => $db], \@cmd);
    unshift @cmds, [AUTH => $r->{password}] if defined $r->{password};
    my $reply;

    for my $c (@cmds) {
        print $s '*' . @$c . "\r\n"
                 . join('', map { '$' . length($_) . "\r\n$_\r\n" } @$c);
        $reply = _reply($s);
        last if defined $reply && $reply =~ /^error: /;
    }

    close $s;
    return $reply;
}

sub _reply {
    my ($s) = @_;
    my $line = <$s>;
    return 'error: no reply' unless defined $line;
    $line =~ s/\r\n\z//;
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));

    return $rest if $type eq '+' || $type eq ':';
    return "error: $rest" if $type eq '-';

    if ($type eq '$') {
        return undef if $rest < 0;
        my $data = '';
        read($s, $data, $rest + 2 - length($data), length($data))
            while length($data) < $rest + 2 && !eof($s);
        return substr($data, 0, $rest);
    }

    return $rest < 0 ? undef : [map { _reply($s) } 1 .. $rest]
        if $type eq '*';

    return "error: not a reply: $line";
}

sub kill_redis {
    my ($r) = @_;
    return unless $r && $r->{pid};
    kill 'KILL', $r->{pid};
    waitpid($r->{pid}, 0);
    delete $r->{pid};
}

sub stop_redis {
    my ($r) = @_;
    return unless $r && $r->{pid};
    kill 'TERM', $r->{pid};
    if (!defined wait_child($r->{pid}, 5)) {
        kill 'KILL', $r->{pid};
        waitpid($r->{pid}, 0);
    }
    delete $r->{pid};
}

1;
