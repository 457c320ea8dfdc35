#!/bin/bash
#
# t/fuzz/run.sh BUILD MODE SECONDS TARGET...
#
#   long   replay each target's regressions, then fuzz it for SECONDS
#          (restarting after a crash until the time is up) on
#          BUILD/fuzz/corpus/<target>, which grows, and the regressions
#          that pass; then a table of executions per target.  Exits 1 when
#          a regression failed or anything crashed, after the last target.
#   quick  replay every file of t/fuzz/regressions/<target>/, then fuzz
#          each target for SECONDS from its seeds (BUILD/fuzz/seeds) and
#          the regressions into a scratch corpus.  TAP-ish lines; exits 1
#          on the first failure's end.
#
# Crashes are written to BUILD/fuzz/artifacts/<target>/; logs to
# BUILD/fuzz/logs/.  Reproduce one with: BUILD/fuzz/fuzz_<target> FILE

set -u

if [ $# -lt 4 ]; then
    echo "usage: $0 BUILD long|quick SECONDS TARGET..." >&2
    exit 2
fi

build=$1
mode=$2
secs=$3
shift 3

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fz=$build/fuzz

export SP_CERTS=${SP_CERTS:-$build/certs}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

mkdir -p "$fz/logs"

# The last libFuzzer statistic `name` in a log ("" when none).
stat() {
    sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

# Executions from a log even without final statistics: the last "#N".
executions() {
    local n
    n=$(stat number_of_executed_units "$1")
    if [ -z "$n" ]; then
        n=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$1" | tail -n 1)
    fi
    echo "${n:-0}"
}

failed=0

if [ "$mode" = quick ]; then
    n=0
    for t in "$@"; do
        bin=$fz/fuzz_$t
        regs=$here/regressions/$t
        art=$fz/artifacts/$t
        log=$fz/logs/quick-$t.log
        mkdir -p "$art"

        shopt -s nullglob
        files=("$regs"/*)
        shopt -u nullglob

        n=$((n + 1))
        replayed=0
        if [ ${#files[@]} -eq 0 ]; then
            echo "ok $n - $t: no regressions"
        elif "$bin" -timeout=20 "${files[@]}" >"$log.replay" 2>&1; then
            echo "ok $n - $t: ${#files[@]} regressions replayed"
            replayed=1
        else
            echo "not ok $n - $t: a regression fails (log: $log.replay)"
            grep -e '^fuzz:' -e 'ERROR:' -e 'Running:' "$log.replay" \
                | tail -n 3 | sed 's/^/# /'
            failed=1
        fi

        # regressions seed the short run too, unless they already failed
        scratch=$(mktemp -d)
        dirs=("$scratch")
        [ -d "$fz/seeds/$t" ] && dirs+=("$fz/seeds/$t")
        [ $replayed = 1 ] && dirs+=("$regs")

        n=$((n + 1))
        if "$bin" -max_total_time="$secs" -timeout=20 -print_final_stats=1 \
                -artifact_prefix="$art/" "${dirs[@]}" >"$log" 2>&1
        then
            echo "ok $n - $t: fuzzed ${secs} s, $(executions "$log") executions"
        else
            echo "not ok $n - $t: crashed (log: $log)"
            grep -e '^fuzz:' -e 'ERROR:' -e 'Test unit written' "$log" \
                | tail -n 5 | sed 's/^/# /'
            failed=1
        fi
        rm -rf "$scratch"
    done
    echo "1..$n"
    exit $failed
fi

if [ "$mode" != long ]; then
    echo "$0: unknown mode '$mode' (long, quick)" >&2
    exit 2
fi

table=$fz/logs/table.txt
found=$fz/logs/found.txt
: >"$table"
: >"$found"

for t in "$@"; do
    bin=$fz/fuzz_$t
    corpus=$fz/corpus/$t
    regs=$here/regressions/$t
    art=$fz/artifacts/$t
    log=$fz/logs/$t.log
    mkdir -p "$corpus" "$art"
    : >"$log"

    # known regressions first: a failing one is a finding already, and
    # as a seed it would stop every run at once
    shopt -s nullglob
    files=("$regs"/*)
    shopt -u nullglob

    dirs=("$corpus")
    regress=-
    if [ ${#files[@]} -gt 0 ]; then
        if "$bin" -timeout=20 "${files[@]}" >"$log.replay" 2>&1; then
            regress=ok
            dirs+=("$regs")
        else
            regress=FAIL
            failed=1
            for f in "${files[@]}"; do
                if ! "$bin" -timeout=20 "$f" >"$log.one" 2>&1; then
                    echo "$t: regression $f: $(grep -m 1 -e '^fuzz:' \
                        -e 'ERROR:' "$log.one")" >>"$found"
                fi
            done
            rm -f "$log.one"
        fi
    fi

    start=$(date +%s)
    stop=$((start + secs))
    total=0
    crashes=0
    runs=0

    echo "fuzz: $t for $secs s ..." >&2

    while [ "$(date +%s)" -lt "$stop" ] && [ $runs -lt 20 ]; do
        runs=$((runs + 1))
        left=$((stop - $(date +%s)))
        [ $left -lt 1 ] && left=1

        "$bin" -max_total_time=$left -print_final_stats=1 -timeout=25 \
            -artifact_prefix="$art/" "${dirs[@]}" >"$log.run" 2>&1
        rc=$?
        cat "$log.run" >>"$log"
        total=$((total + $(executions "$log.run")))

        if [ $rc -eq 0 ]; then
            break
        fi

        crashes=$((crashes + 1))
        failed=1
        unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log.run" \
               | tail -n 1)
        why=$(grep -m 1 -e '^fuzz:' -e 'ERROR: AddressSanitizer' \
                  -e 'runtime error' -e 'ERROR: libFuzzer' "$log.run")
        echo "$t: ${unit:-(no unit)}: $why" >>"$found"
    done

    elapsed=$(($(date +%s) - start))
    [ $elapsed -lt 1 ] && elapsed=1
    printf '%-12s %8d %12d %10d %8d %8d  %s\n' "$t" "$elapsed" "$total" \
        $((total / elapsed)) "$(find "$corpus" -type f | wc -l)" \
        "$crashes" "$regress" >>"$table"
    rm -f "$log.run"
done

echo
printf '%-12s %8s %12s %10s %8s %8s  %s\n' target seconds executions \
    exec/s corpus crashes regressions
cat "$table"

if [ -s "$found" ]; then
    echo
    echo "findings (reproduce: SP_CERTS=$SP_CERTS $fz/fuzz_<target> FILE):"
    cat "$found"
fi

exit $failed
