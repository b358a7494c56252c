# Makefile - the C core as a plain shared library for C tracers, with no
# Swift toolchain involved: libdeferred_unwind.so.0, deferred_unwind.h and
# deferred_unwind.pc.  See Docs/CLibrary.md.
#
#   make                                        # build into .build-c/
#   make check                                  # install into a scratch prefix, check ABI, run the C programs
#   make install PREFIX=/usr/local DESTDIR=     # install (DESTDIR for staging)
#   make uninstall PREFIX=/usr/local DESTDIR=
#   make clean
#   make agent                                  # the unwind-profile agent (LD_PRELOAD)
#   make agent-check                            # its exports, dynamic section, smoke run
#   make agent-baseline                         # benchmark-only per-sample unwinder agent
#
# SwiftPM users need none of this: the CDeferredUnwind product is built by
# `swift build` from the same sources.

VERSION := 0.2.0
SOVERSION := 0

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
INSTALL ?= install
CFLAGS ?= -O2 -g

# The RCU flavor the core is written against (bp: threads register on first
# use and the library handles fork, see Docs/Design.md).
URCU_PC := liburcu-bp

SRC_DIR := Sources/CDeferredUnwind
BUILD := .build-c
OBJ_DIR := $(BUILD)/obj
MAP := Scripts/c-library/deferred_unwind.map
PC_IN := Scripts/c-library/deferred_unwind.pc.in

LIB_BASE := libdeferred_unwind.so
LIB_SONAME := $(LIB_BASE).$(SOVERSION)
LIB_REAL := $(LIB_BASE).$(VERSION)

# Every core source, so a .c file added to the core is never left out.
SRCS := $(wildcard $(SRC_DIR)/*.c)
OBJS := $(patsubst $(SRC_DIR)/%.c,$(OBJ_DIR)/%.o,$(SRCS))

# Recursively expanded: pkg-config runs only for targets that compile or
# link, so clean and uninstall work without liburcu.
URCU_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(URCU_PC))
URCU_LIBS = $(shell $(PKG_CONFIG) --libs $(URCU_PC))

# Required flags, after the user's CFLAGS so they cannot be lost:
#  - frame pointers: the core's own unwinder reads DWARF CFI and does not
#    need them, but frame-pointer profilers (perf --call-graph fp) can then
#    walk through the library's frames;
#  - -U after CPPFLAGS: the installed library is the release core, without
#    step points, test hooks or the historical variants, whatever the
#    environment defines.
DU_CFLAGS := -std=gnu11 -fPIC -fno-omit-frame-pointer -Wall -Wextra \
	-Werror=implicit-function-declaration
DU_CPPFLAGS := -UDU_STEP_POINTS -UDU_TEST_HOOKS -UDU_VARIANTS

# Link flags:
#  - the version script exports exactly the functions of deferred_unwind.h;
#  - -z now: every symbol is bound at load time, so the first du_request()
#    in a signal handler never enters the dynamic linker (which takes locks
#    and needs stack, maybe on a small alternate signal stack);
#  - -z nodelete: dlclose() never unmaps the library, since the pthread key
#    destructor and fork handlers the core installs point into its code and
#    run later on threads that are still attached;
#  - --no-undefined: a missing liburcu symbol fails here, not at run time.
DU_LDFLAGS := -shared -Wl,-soname,$(LIB_SONAME) \
	-Wl,--version-script=$(MAP) -Wl,-z,now -Wl,-z,nodelete -Wl,--no-undefined

.PHONY: all install uninstall check clean urcu-found agent agent-check agent-baseline

all: $(BUILD)/$(LIB_REAL)

urcu-found:
	@$(PKG_CONFIG) --exists $(URCU_PC) || { \
		echo "error: pkg-config cannot find $(URCU_PC): install liburcu-dev (>= 0.13)" \
		     "and pkg-config, or run Scripts/c-library.sh" >&2; exit 1; }

$(OBJ_DIR)/%.o: $(SRC_DIR)/%.c | urcu-found
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(DU_CPPFLAGS) $(URCU_CFLAGS) $(CFLAGS) $(DU_CFLAGS) \
		-MMD -MP -c $< -o $@

$(BUILD)/$(LIB_REAL): $(OBJS) $(MAP) | urcu-found
	$(CC) $(CFLAGS) $(LDFLAGS) $(DU_LDFLAGS) -o $@ $(OBJS) $(URCU_LIBS) -lpthread
	ln -sf $(LIB_REAL) $(BUILD)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(BUILD)/$(LIB_BASE)

# The .pc file is written at install time, so it always names the prefix
# actually installed to (DESTDIR is a staging root and is not recorded).
install: all
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 0755 $(BUILD)/$(LIB_REAL) $(DESTDIR)$(LIBDIR)/$(LIB_REAL)
	ln -sf $(LIB_REAL) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/$(LIB_BASE)
	$(INSTALL) -m 0644 $(SRC_DIR)/include/deferred_unwind.h $(DESTDIR)$(INCLUDEDIR)/deferred_unwind.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@URCU_PC@|$(URCU_PC)|g' $(PC_IN) > $(DESTDIR)$(PKGCONFIGDIR)/deferred_unwind.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/deferred_unwind.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LIB_REAL) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) \
	      $(DESTDIR)$(LIBDIR)/$(LIB_BASE) $(DESTDIR)$(INCLUDEDIR)/deferred_unwind.h \
	      $(DESTDIR)$(PKGCONFIGDIR)/deferred_unwind.pc

# Install into a scratch prefix, then check what a C user gets: the dynamic
# section and exported symbols, and both C programs built with pkg-config
# alone.  A fresh prefix each time, so nothing stale is checked.
CHECK_PREFIX := $(abspath $(BUILD))/check-prefix
check: all
	rm -rf $(CHECK_PREFIX)
	$(MAKE) --no-print-directory install PREFIX=$(CHECK_PREFIX) DESTDIR= \
		LIBDIR=$(CHECK_PREFIX)/lib INCLUDEDIR=$(CHECK_PREFIX)/include \
		PKGCONFIGDIR=$(CHECK_PREFIX)/lib/pkgconfig
	Scripts/check-c-library.sh $(CHECK_PREFIX)

# ---- unwind-profile's preloaded agent (Profiler/Agent, Docs/ProfileFormat.md)
#
# The core's objects are compiled a second time with -fvisibility=hidden and
# linked in, so the agent exports no du_* symbol and cannot clash with a
# program that links libdeferred_unwind itself; the version script exports
# only the interposed libc names.  liburcu-bp is linked dynamically (LGPL, as
# for the library).  -z now: no lazy binding ever runs in a signal handler;
# -z nodelete: key destructors, atfork and atexit handlers point into it.
AGENT_DIR := Profiler/Agent
AGENT_MAP := $(AGENT_DIR)/agent.map
AGENT_LIB := $(BUILD)/libunwind_profile_agent.so
AGENT_OBJ_DIR := $(BUILD)/agent-obj
AGENT_SRCS := $(wildcard $(AGENT_DIR)/*.c)
AGENT_OBJS := $(patsubst $(AGENT_DIR)/%.c,$(AGENT_OBJ_DIR)/%.o,$(AGENT_SRCS))
AGENT_CORE_OBJS := $(patsubst $(SRC_DIR)/%.c,$(AGENT_OBJ_DIR)/core/%.o,$(SRCS))
# -U: the shipped agent never contains the benchmark baseline (below),
# whatever CPPFLAGS define.
AGENT_CFLAGS := -fvisibility=hidden -D_GNU_SOURCE -Werror=incompatible-pointer-types \
	-UUP_BASELINE_PER_SAMPLE
AGENT_LDFLAGS := -shared -Wl,--version-script=$(AGENT_MAP) -Wl,-z,now -Wl,-z,nodelete \
	-Wl,--no-undefined

agent: $(AGENT_LIB)

$(AGENT_OBJ_DIR)/core/%.o: $(SRC_DIR)/%.c | urcu-found
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(DU_CPPFLAGS) $(URCU_CFLAGS) $(CFLAGS) $(DU_CFLAGS) -fvisibility=hidden \
		-MMD -MP -c $< -o $@

$(AGENT_OBJ_DIR)/%.o: $(AGENT_DIR)/%.c | urcu-found
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(DU_CPPFLAGS) -I$(SRC_DIR)/include $(URCU_CFLAGS) $(CFLAGS) $(DU_CFLAGS) \
		$(AGENT_CFLAGS) -MMD -MP -c $< -o $@

# Agent objects first: their constructor (priority 101) runs first anyway.
$(AGENT_LIB): $(AGENT_OBJS) $(AGENT_CORE_OBJS) $(AGENT_MAP) | urcu-found
	$(CC) $(CFLAGS) $(LDFLAGS) $(AGENT_LDFLAGS) -o $@ $(AGENT_OBJS) $(AGENT_CORE_OBJS) \
		$(URCU_LIBS) -lpthread -ldl -lrt

# Benchmark-only (Scripts/bench/profiler.sh): the agent with a per-sample
# unwinder in its SIGPROF handler (backtrace() there, one STACK per sample,
# META flag bit 0), the baseline that deferred unwinding is measured
# against.  Not async-signal-safe in general (up_sampler.c): never shipped,
# never installed.  Same core objects as the agent.
AGENT_BASELINE_LIB := $(BUILD)/libunwind_profile_agent_baseline.so
AGENT_BASELINE_OBJ_DIR := $(BUILD)/agent-baseline-obj
AGENT_BASELINE_OBJS := $(patsubst $(AGENT_DIR)/%.c,$(AGENT_BASELINE_OBJ_DIR)/%.o,$(AGENT_SRCS))

agent-baseline: $(AGENT_BASELINE_LIB)

$(AGENT_BASELINE_OBJ_DIR)/%.o: $(AGENT_DIR)/%.c | urcu-found
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(DU_CPPFLAGS) -I$(SRC_DIR)/include $(URCU_CFLAGS) $(CFLAGS) $(DU_CFLAGS) \
		$(AGENT_CFLAGS) -DUP_BASELINE_PER_SAMPLE -MMD -MP -c $< -o $@

$(AGENT_BASELINE_LIB): $(AGENT_BASELINE_OBJS) $(AGENT_CORE_OBJS) $(AGENT_MAP) | urcu-found
	$(CC) $(CFLAGS) $(LDFLAGS) $(AGENT_LDFLAGS) -o $@ $(AGENT_BASELINE_OBJS) $(AGENT_CORE_OBJS) \
		$(URCU_LIBS) -lpthread -ldl -lrt

# Exports = agent.map = the UP_EXPORT definitions; BIND_NOW, NODELETE; a
# profiled run of a small C program writes a well-formed file.
agent-check: agent
	Scripts/check-agent.sh $(AGENT_LIB)

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d)
-include $(AGENT_OBJS:.o=.d) $(AGENT_CORE_OBJS:.o=.d) $(AGENT_BASELINE_OBJS:.o=.d)
