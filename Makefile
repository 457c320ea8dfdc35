# securepair: the runtime library, the nginx module and their tests.
#
#   make          build build/libsecurepair.a, .so and securepair.pc
#   make test     install missing Debian packages, build, run every test
#   make deb      Debian packages of the module and the library, in
#                 build/deb/
#   make run      build, make certificates, start nginx with the module
#                 and a demo configuration in the foreground
#
# Everything is built under build/; nothing is written elsewhere.

CC        ?= cc
CLANG     ?= clang
PREFIX    ?= /usr/local
LIBDIR    ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BUILD     := build

# The library's version is the header's SP_VERSION; its ABI is the major
# number (the SONAME, libsecurepair.so.0).
VERSION   := $(shell sed -n 's/^\#define SP_VERSION "\(.*\)"/\1/p' \
                 runtime/securepair.h)
SO_MAJOR  := $(firstword $(subst ., ,$(VERSION)))
SONAME    := libsecurepair.so.$(SO_MAJOR)

SP_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iruntime
CFLAGS    ?= -O2 -g
LIBS      := -lssl -lcrypto -lpcre2-8 -lpthread

SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=all

RUNTIME_SRC := $(sort $(wildcard runtime/*.c))
RUNTIME_HDR := $(wildcard runtime/*.h)
TEST_SRC    := $(sort $(wildcard runtime/tests/t_*.c))
TEST_COMMON := $(wildcard runtime/tests/*.h)
EXAMPLE_SRC := $(sort $(wildcard runtime/examples/echo_*.c))
# what the examples share (their sockets), compiled into each
EXAMPLE_LIB := runtime/examples/tcp.c

OBJ       := $(RUNTIME_SRC:runtime/%.c=$(BUILD)/obj/%.o)
SAN_OBJ   := $(RUNTIME_SRC:runtime/%.c=$(BUILD)/asan/obj/%.o)
TESTS     := $(TEST_SRC:runtime/tests/%.c=$(BUILD)/tests/%)
SAN_TESTS := $(TEST_SRC:runtime/tests/%.c=$(BUILD)/asan/tests/%)
EXAMPLES  := $(EXAMPLE_SRC:runtime/examples/%.c=$(BUILD)/examples/%)

CERTS     := $(BUILD)/certs/.done

# the load generator and backend of bench/, also driven by t/stress
STRESS_BIN := $(BUILD)/bench/loadgen $(BUILD)/bench/backend

# A plain nginx that reads PROXY protocol v2 TLVs (1.23.2 and later), the
# backend of t/proxy_protocol.t: no module in it, nothing but stream.
PP_NGINX_VERSION := 1.26.3
PP_NGINX  := $(BUILD)/pp-nginx/nginx-$(PP_NGINX_VERSION)/objs/nginx

# clients of t/ that no packaged client can play (t/tools/), and that
# nginx
T_TOOLS   := $(BUILD)/t/tools/hello_retry_client $(BUILD)/t/flood $(PP_NGINX)

# The nginx tree the module is built against: Debian's nginx-dev, or any
# nginx >= 1.22 source tree (auto/build-module).  NGX_SNAPSHOTS holds the
# nginx releases of the version matrix (nginx-VERSION.tar.gz): ../shared/nginx
# beside this checkout, or beside the local repository it was cloned from
# (a clone in a temporary directory has nothing beside it).
NGX_SRC   ?= /usr/share/nginx/src
NGX_ORIGIN := $(shell git config --get remote.origin.url 2>/dev/null \
                  | sed -n 's|^file://||; /^\//p')
NGX_SNAPSHOTS ?= $(firstword $(wildcard $(abspath ../shared/nginx) \
                     $(if $(NGX_ORIGIN),$(abspath $(NGX_ORIGIN)/../shared/nginx))) \
                     $(abspath ../shared/nginx))
NGX_VERSION = $(shell sed -n 's/^\#define NGINX_VERSION *"\(.*\)"/\1/p' \
                  $(NGX_SRC)/src/core/nginx.h 2>/dev/null)
NGX_STAMP := $(BUILD)/.nginx-source
MODULE    := $(BUILD)/nginx/objs/ngx_stream_securepair_module.so
MODULE_SRC := config auto/features $(wildcard module/*.c module/*.h) \
              $(RUNTIME_SRC) $(RUNTIME_HDR)

.PHONY: all lib module module-static test test-runtime test-asan test-t \
        test-matrix test-versions test-install run examples deps clean \
        install install-module deb test-deb FORCE

# Objects and tests are kept between runs, not treated as intermediates.
.SECONDARY:

all: lib

lib: $(BUILD)/.deps-build $(BUILD)/libsecurepair.a $(BUILD)/libsecurepair.so \
     $(BUILD)/$(SONAME) $(BUILD)/securepair.pc

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

# Only the functions securepair.h declares are exported: the version
# script is made from the header, so a new public call is never forgotten
# and the sp_* internals shared between runtime/ files stay local.
$(BUILD)/securepair.map: runtime/securepair.h
	@mkdir -p $(dir $@)
	{ echo 'SECUREPAIR_$(SO_MAJOR) {'; echo '  global:'; \
	  sed -n 's/^[a-z].*[ *]\(sp_[a-z0-9_]*\)(.*/    \1;/p' $<; \
	  echo '  local: *;'; echo '};'; } > $@

$(BUILD)/libsecurepair.so.$(VERSION): $(OBJ) $(BUILD)/securepair.map
	$(CC) -shared -Wl,-soname,$(SONAME) \
	    -Wl,--version-script=$(BUILD)/securepair.map $(LDFLAGS) \
	    $(OBJ) -o $@ $(LIBS)

$(BUILD)/$(SONAME) $(BUILD)/libsecurepair.so: \
$(BUILD)/%: $(BUILD)/libsecurepair.so.$(VERSION)
	ln -sfn $(notdir $<) $@

# securepair.pc names the install directories; the stamp changes with
# them, so `make install PREFIX=...` never installs another prefix's file.
PC_DIRS := $(PREFIX) $(LIBDIR) $(INCLUDEDIR)

$(BUILD)/.install-dirs: FORCE
	@mkdir -p $(BUILD)
	@echo '$(PC_DIRS)' | cmp -s - $@ || echo '$(PC_DIRS)' > $@

$(BUILD)/securepair.pc: runtime/securepair.pc.in Makefile $(BUILD)/.install-dirs
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@

$(BUILD)/tests/%: runtime/tests/%.c $(BUILD)/libsecurepair.a $(TEST_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< -o $@ $(BUILD)/libsecurepair.a $(LIBS)

$(BUILD)/examples/%: runtime/examples/%.c $(EXAMPLE_LIB) \
                     runtime/examples/tcp.h $(BUILD)/libsecurepair.a
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< $(EXAMPLE_LIB) -o $@ \
	    $(BUILD)/libsecurepair.a $(LIBS)

examples: $(EXAMPLES)

$(BUILD)/t/tools/%: t/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $< -o $@ -lssl -lcrypto

# The nginx module, built against Debian's nginx-dev (or NGX_SRC, with an
# nginx of its own: the one make test-t and make run then use).
module: $(BUILD)/.deps-module $(MODULE)

# The stamp names the tree, its version and the compiler flags added to
# nginx's configure (NGX_CC_OPT, NGX_LD_OPT: debian/rules sets them), and
# changes only with them, so another NGX_SRC rebuilds the module
# (auto/build-module keeps one build tree per source, and $(BUILD)/nginx
# links to the one last built).
NGX_BUILT_BY = $(strip $(NGX_SRC) $(NGX_VERSION) $(NGX_CC_OPT) $(NGX_LD_OPT))

$(NGX_STAMP): FORCE
	@mkdir -p $(BUILD)
	@echo '$(NGX_BUILT_BY)' | cmp -s - $@ || echo '$(NGX_BUILT_BY)' > $@

$(MODULE): $(MODULE_SRC) auto/build-module $(NGX_STAMP)
	NGX_CC_OPT='$(NGX_CC_OPT)' NGX_LD_OPT='$(NGX_LD_OPT)' \
	    bash auto/build-module $(BUILD) $(NGX_SRC)

# The module compiled into nginx (--add-module); needs a whole nginx tree.
module-static: $(BUILD)/.deps-module
	bash auto/build-module $(BUILD) $(NGX_SRC) static

FORCE:

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

$(NGX_SNAPSHOTS)/%.tar.gz:
	@echo "securepair: no $@: the nginx source snapshots are" \
	    "../shared/nginx beside the checkout (or beside the repository it" \
	    "was cloned from); NGX_SNAPSHOTS=DIR names another place" >&2
	@exit 1

$(PP_NGINX): $(NGX_SNAPSHOTS)/nginx-$(PP_NGINX_VERSION).tar.gz
	rm -rf $(BUILD)/pp-nginx
	mkdir -p $(BUILD)/pp-nginx
	tar -xzf $< -C $(BUILD)/pp-nginx
	cd $(BUILD)/pp-nginx/nginx-$(PP_NGINX_VERSION) && \
	    { [ -x configure ] && c=./configure || c=auto/configure; } && \
	    $$c --with-stream --without-http --without-pcre \
	        > configure.log 2>&1 && $(MAKE) > make.log 2>&1

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
	$(MAKE) test-install
	$(MAKE) test-deb
	$(MAKE) test-t
	$(MAKE) test-versions
	$(MAKE) test-fuzz

# Other nginx versions (auto/matrix): make test runs t/ on Debian 13's
# 1.26.3 as well as on Debian 12's 1.22.1 (test-t), and builds, loads and
# handshakes on mainline; make test-matrix runs t/ on every version it
# knows and prints the table README.md's "Compatibility" comes from.
MATRIX ?= debian:full 1.24.0:full 1.26.3:full 1.30.4:full 1.31.4:full

test-versions: $(BUILD)/.deps-test lib $(CERTS)
	MAKE='$(MAKE)' bash auto/matrix $(BUILD) $(NGX_SNAPSHOTS) \
	    1.26.3:full 1.31.4:load
	$(MAKE) -s module NGX_SRC=/usr/share/nginx/src

test-matrix: $(BUILD)/.deps-test lib $(CERTS)
	MAKE='$(MAKE)' bash auto/matrix $(BUILD) $(NGX_SNAPSHOTS) $(MATRIX)
	$(MAKE) -s module NGX_SRC=/usr/share/nginx/src

# Fuzzing with libFuzzer (t/fuzz/README): the runtime built with coverage,
# ASan and UBSan, one program per target, seeds from recorded handshakes.
#   make fuzz        every target for FUZZ_SECONDS, corpora kept and grown
#   make test-fuzz   replay t/fuzz/regressions, then FUZZ_QUICK s a target
FUZZ_TARGETS := server_pair client_pair sni_table names creds peer_cert \
                sessions proxy_v2
FUZZ_SECONDS ?= 60
FUZZ_QUICK   ?= 3
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined
# the harness shared by every target (t/fuzz/common.h), one file a concern
FUZZ_LIB     := base determinism input setup invariants pump transcript \
                resume
FUZZ_OBJ     := $(RUNTIME_SRC:runtime/%.c=$(BUILD)/fuzz/obj/%.o) \
                $(FUZZ_LIB:%=$(BUILD)/fuzz/harness/%.o)
FUZZ_HDR     := $(wildcard t/fuzz/*.h)
FUZZ_READY   := $(BUILD)/.deps-test \
                $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%) \
                $(BUILD)/fuzz/corpus/.done

.PHONY: fuzz test-fuzz

$(BUILD)/fuzz/obj/%.o: runtime/%.c $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(CLANG) $(SP_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/harness/%.o: t/fuzz/%.c $(FUZZ_HDR) $(RUNTIME_HDR)
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

LOADGEN_SRC := $(wildcard bench/loadgen/*.c)

$(BUILD)/bench/loadgen: $(LOADGEN_SRC) bench/loadgen/loadgen.h
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $(LOADGEN_SRC) -o $@ -lssl -lcrypto -lm

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

# The library, its SONAME and development links, the header, the static
# library and a securepair.pc that names PREFIX (LIBDIR and INCLUDEDIR may
# be set apart, as Debian's multiarch libdir).  DESTDIR stages it.
install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(BUILD)/libsecurepair.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sfn libsecurepair.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libsecurepair.so
	install -m 644 $(BUILD)/libsecurepair.a $(DESTDIR)$(LIBDIR)/
	install -m 644 runtime/securepair.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(BUILD)/securepair.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

# make install into a scratch DESTDIR, then a program outside the tree
# built with pkg-config against it, shared and static (t/install/).
test-install: $(BUILD)/.deps-test lib $(CERTS)
	SP_CERTS=$(BUILD)/certs SP_BUILD=$(BUILD) prove -f t/install/

# The nginx module into nginx's modules directory: Debian's by default,
# another nginx's is its --modules-path (`nginx -V`).  A load_module line
# enables it (README.md, "Install").
NGX_MODULES ?= /usr/lib/nginx/modules

install-module: module
	install -d $(DESTDIR)$(NGX_MODULES)
	install -m 644 $(MODULE) $(DESTDIR)$(NGX_MODULES)/

# Debian packages (debian/): auto/deb runs dpkg-buildpackage on a copy of
# the tree in $(BUILD)/deb/, where the .deb, .changes and .buildinfo files
# are left, then lintian.  make test-deb installs them on this machine
# (root), runs Debian's nginx with the module, then purges them
# (t/package/).
# (and Debian's nginx ABI: a new one makes new packages)
DEB_SRC := Makefile config README.md runtime/securepair.pc.in $(MODULE_SRC) \
           $(wildcard auto/* debian/* debian/*/*) \
           $(wildcard $(NGX_SRC)/debian/libnginx-mod.abisubstvars)

deb: $(BUILD)/.deps-deb $(BUILD)/deb/.done

$(BUILD)/deb/.done: $(DEB_SRC)
	sh auto/deb $(BUILD)
	@touch $@

test-deb: $(BUILD)/.deps-test deb $(CERTS)
	SP_CERTS=$(BUILD)/certs SP_BUILD=$(BUILD) prove -f t/package/

clean:
	rm -rf $(BUILD)
