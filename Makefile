# securepair: the runtime library, the nginx module and their tests.
#
#   make          build build/libsecurepair.a, .so and securepair.pc
#   make test     install missing Debian packages, build, run every test
#   make run      build, make certificates, start nginx with the module
#                 and a demo configuration in the foreground
#
# Everything is built under build/; nothing is written elsewhere.

CC        ?= cc
CLANG     ?= clang
PREFIX    ?= /usr/local
BUILD     := build

SP_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iruntime
CFLAGS    ?= -O2 -g
LIBS      := -lssl -lcrypto -lpcre2-8 -lpthread

SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=all

RUNTIME_SRC := $(sort $(wildcard runtime/*.c))
RUNTIME_HDR := $(wildcard runtime/*.h)
TEST_SRC    := $(sort $(wildcard runtime/tests/t_*.c))
TEST_COMMON := $(wildcard runtime/tests/*.h)
EXAMPLE_SRC := $(sort $(wildcard runtime/examples/*.c))

OBJ       := $(RUNTIME_SRC:runtime/%.c=$(BUILD)/obj/%.o)
SAN_OBJ   := $(RUNTIME_SRC:runtime/%.c=$(BUILD)/asan/obj/%.o)
TESTS     := $(TEST_SRC:runtime/tests/%.c=$(BUILD)/tests/%)
SAN_TESTS := $(TEST_SRC:runtime/tests/%.c=$(BUILD)/asan/tests/%)
EXAMPLES  := $(EXAMPLE_SRC:runtime/examples/%.c=$(BUILD)/examples/%)

CERTS     := $(BUILD)/certs/.done

# the load generator and backend of bench/, also driven by t/stress
STRESS_BIN := $(BUILD)/bench/loadgen $(BUILD)/bench/backend

# clients of t/ that no packaged client can play (t/tools/)
T_TOOLS   := $(BUILD)/t/tools/hello_retry_client $(BUILD)/t/flood

NGX_SRC   ?= /usr/share/nginx/src
MODULE    := $(BUILD)/nginx/objs/ngx_stream_securepair_module.so
MODULE_SRC := config auto/features $(wildcard module/*.c module/*.h) \
              $(RUNTIME_SRC) $(RUNTIME_HDR)

.PHONY: all lib module test test-runtime test-asan test-t run examples deps clean \
        install

# Objects and tests are kept between runs, not treated as intermediates.
.SECONDARY:

all: lib

lib: $(BUILD)/.deps-build $(BUILD)/libsecurepair.a $(BUILD)/libsecurepair.so \
     $(BUILD)/securepair.pc

# auto/deps installs what is missing and says what; the stamp only saves
# asking dpkg again on every make.
$(BUILD)/.deps-%: auto/deps
	@mkdir -p $(BUILD)
	sh auto/deps $*
	@touch $@

deps: $(BUILD)/.deps-test

$(BUILD)/obj/%.o: runtime/%.c $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/libsecurepair.a: $(OBJ)
	rm -f $@
	ar rcs $@ $(OBJ)

$(BUILD)/libsecurepair.so: $(OBJ)
	$(CC) -shared -Wl,-soname,libsecurepair.so.0 $(OBJ) -o $@ $(LIBS)

$(BUILD)/securepair.pc: runtime/securepair.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|0.1.0|g' $< > $@

$(BUILD)/tests/%: runtime/tests/%.c $(BUILD)/libsecurepair.a $(TEST_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< -o $@ $(BUILD)/libsecurepair.a $(LIBS)

$(BUILD)/examples/%: runtime/examples/%.c $(BUILD)/libsecurepair.a
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< -o $@ $(BUILD)/libsecurepair.a $(LIBS)

examples: $(EXAMPLES)

$(BUILD)/t/tools/%: t/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< -o $@ -lssl -lcrypto

# The nginx module, built against Debian's nginx-dev (or NGX_SRC).
module: $(BUILD)/.deps-module $(MODULE)

$(MODULE): $(MODULE_SRC) auto/build-module
	bash auto/build-module $(BUILD) $(NGX_SRC)

# The same runtime and tests under AddressSanitizer and UBSan.
$(BUILD)/asan/obj/%.o: runtime/%.c $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(CLANG) $(SP_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/asan/tests/%: runtime/tests/%.c $(SAN_OBJ) $(TEST_COMMON)
	@mkdir -p $(dir $@)
	$(CLANG) $(SP_CFLAGS) $(SAN_FLAGS) $< -o $@ $(SAN_OBJ) $(LIBS)

$(CERTS): t/certs.sh
	bash t/certs.sh $(BUILD)/certs

test-runtime: $(BUILD)/.deps-test lib $(TESTS) $(EXAMPLES) $(CERTS)
	SP_CERTS=$(BUILD)/certs SP_BUILD=$(BUILD) prove -f --exec '' $(TESTS)

test-asan: $(BUILD)/.deps-test $(SAN_TESTS) $(CERTS)
	SP_CERTS=$(BUILD)/certs SP_BUILD=$(BUILD) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	prove -f --exec '' $(SAN_TESTS)

# The thread test (runtime/tests/t_state.c: one context, two threads, a
# worker object each) under ThreadSanitizer.
.PHONY: test-tsan

$(BUILD)/tsan/t_state: $(RUNTIME_SRC) $(RUNTIME_HDR) runtime/tests/t_state.c \
                       $(TEST_COMMON)
	@mkdir -p $(dir $@)
	$(CLANG) $(SP_CFLAGS) -O1 -g -fsanitize=thread $(RUNTIME_SRC) \
	    runtime/tests/t_state.c -o $@ $(LIBS)

test-tsan: $(BUILD)/.deps-test $(BUILD)/tsan/t_state $(CERTS)
	SP_CERTS=$(BUILD)/certs TSAN_OPTIONS=halt_on_error=1 \
	prove -f --exec '' $(BUILD)/tsan/t_state

$(BUILD)/t/flood: t/tools/flood.c runtime/tests/records.h
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) -Iruntime/tests $< -o $@ -lssl -lcrypto

# The Perl suites in t/ drive real clients against the built programs.
test-t: $(BUILD)/.deps-test lib $(MODULE) $(EXAMPLES) $(CERTS) $(STRESS_BIN) \
        $(T_TOOLS)
	SP_CERTS=$(BUILD)/certs SP_BUILD=$(BUILD) prove -f t/

# The same suites with nginx under valgrind memcheck (t/lib/SecurePair/
# Test.pm: one process, or master + one worker where a test needs it;
# suppressions for nginx's own leaks in t/lib/SecurePair/valgrind.supp).
# Any memcheck error or definitely-lost block fails its test.  Slow: run
# it before closing an issue that touches module/.
.PHONY: test-valgrind

test-valgrind: $(BUILD)/.deps-test lib $(MODULE) $(EXAMPLES) $(CERTS) \
               $(STRESS_BIN) $(T_TOOLS)
	SP_CERTS=$(BUILD)/certs SP_BUILD=$(BUILD) TEST_NGINX_VALGRIND=1 \
	prove -f t/

test: $(BUILD)/.deps-test
	$(MAKE) test-runtime
	$(MAKE) test-asan
	$(MAKE) test-tsan
	$(MAKE) test-t
	$(MAKE) test-fuzz

# Fuzzing with libFuzzer (t/fuzz/README): the runtime built with coverage,
# ASan and UBSan, one program per target, seeds from recorded handshakes.
#   make fuzz        every target for FUZZ_SECONDS, corpora kept and grown
#   make test-fuzz   replay t/fuzz/regressions, then FUZZ_QUICK s a target
FUZZ_TARGETS := server_pair client_pair sni_table names creds peer_cert \
                sessions
FUZZ_SECONDS ?= 60
FUZZ_QUICK   ?= 3
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined
FUZZ_OBJ     := $(RUNTIME_SRC:runtime/%.c=$(BUILD)/fuzz/obj/%.o) \
                $(BUILD)/fuzz/obj/common.o $(BUILD)/fuzz/obj/resume.o
FUZZ_HDR     := $(wildcard t/fuzz/*.h)
FUZZ_READY   := $(BUILD)/.deps-test \
                $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%) \
                $(BUILD)/fuzz/corpus/.done

.PHONY: fuzz test-fuzz

$(BUILD)/fuzz/obj/%.o: runtime/%.c $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(CLANG) $(SP_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/obj/common.o $(BUILD)/fuzz/obj/resume.o: \
$(BUILD)/fuzz/obj/%.o: t/fuzz/%.c $(FUZZ_HDR) $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(CLANG) $(SP_CFLAGS) -It/fuzz $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
	    -c $< -o $@

$(BUILD)/fuzz/fuzz_%: t/fuzz/fuzz_%.c $(FUZZ_OBJ) $(FUZZ_HDR)
	$(CLANG) $(SP_CFLAGS) -It/fuzz $(FUZZ_FLAGS) -fsanitize=fuzzer \
	    $< $(FUZZ_OBJ) -o $@ $(LIBS)

$(BUILD)/fuzz/record: t/fuzz/record.c $(FUZZ_OBJ) $(FUZZ_HDR)
	$(CLANG) $(SP_CFLAGS) -It/fuzz $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
	    $< $(FUZZ_OBJ) -o $@ $(LIBS)

$(BUILD)/fuzz/corpus/.done: t/fuzz/seeds.sh t/fuzz/capture.pl \
                            $(BUILD)/fuzz/record $(CERTS)
	bash t/fuzz/seeds.sh $(BUILD)
	@touch $@

fuzz: $(FUZZ_READY)
	bash t/fuzz/run.sh $(BUILD) long $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-fuzz: $(FUZZ_READY)
	bash t/fuzz/run.sh $(BUILD) quick $(FUZZ_QUICK) $(FUZZ_TARGETS)

run: $(BUILD)/.deps-module $(MODULE) $(CERTS)
	sh auto/run $(BUILD)

# Benchmarks (bench/, issues #5 and #6): securepair against nginx's own
# TLS in one run; never part of `make test`.  bench/RESULTS.md and
# bench/results.png keep the latest figures.
#   make bench                  the full suite (under 10 minutes)
#   BENCH_QUICK=1 make bench    scaled down, for development
BENCH_BIN := $(BUILD)/bench/loadgen $(BUILD)/bench/backend $(BUILD)/bench/micro

.PHONY: bench bench-build

$(BUILD)/bench/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< -o $@ -lssl -lcrypto -lm

$(BUILD)/bench/backend: bench/backend.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< -o $@

$(BUILD)/bench/micro: bench/micro.c $(BUILD)/libsecurepair.a
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< -o $@ $(BUILD)/libsecurepair.a $(LIBS)

bench-build: $(BUILD)/.deps-bench lib $(MODULE) $(CERTS) $(BENCH_BIN)

bench: bench-build
	BUILD=$(BUILD) perl bench/run

# The load-and-faults suite (t/stress/run): two workers under honest and
# hostile clients, reloads every 2 s, a worker SIGKILLed each round; the
# report goes to t/stress/RESULTS.md.  t/stress.t runs a small version
# inside make test.
.PHONY: stress

stress: $(BUILD)/.deps-test lib $(MODULE) $(CERTS) $(STRESS_BIN)
	SP_CERTS=$(BUILD)/certs SP_BUILD=$(BUILD) \
	perl t/stress/run --results t/stress/RESULTS.md

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libsecurepair.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libsecurepair.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 runtime/securepair.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/securepair.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

clean:
	rm -rf $(BUILD)
