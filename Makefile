# mlpscale: PGXS build of the extension, the numeric core and the loader.
#
#   make                 build the extension (and src/core/libmlpcore.a, mlpscale-load)
#   make install         install it (as root)
#   make unit            build the C unit tests of the numeric core into test/unit/bin
#   make unit-asan       the same with AddressSanitizer and UBSan into test/unit/bin-asan
#   make bench           benchmarks (not tests; see docs/performance.md)
#   make fuzz-build      libFuzzer targets of the core's parsers into test/fuzz/bin (clang)
#   make fuzz            run each for FUZZ_SECONDS (default 300); test/fuzz/README.md
#   WERROR=-Werror       turn warnings into errors (CI does)
#   OPTFLAGS=            portable build (default -march=native)

EXTENSION = mlpscale
# The development version (mlpscale.control's default_version) and the released versions,
# whose scripts are frozen (docs/releasing.md).
EXTVERSION = 0.2.0
RELEASED = 0.1.0

MODULE_big = mlpscale
# The PostgreSQL layer, one file per concern (docs/design.md, Repository layout).
PG_SRCS = \
	src/pg/blas_setup.c \
	src/pg/core_error.c \
	src/pg/data_source.c \
	src/pg/fits.c \
	src/pg/image_type.c \
	src/pg/import_export.c \
	src/pg/launcher.c \
	src/pg/mlpscale.c \
	src/pg/model_cache.c \
	src/pg/model_store.c \
	src/pg/privilege.c \
	src/pg/progress.c \
	src/pg/remote.c \
	src/pg/run_config.c \
	src/pg/run_queue.c \
	src/pg/run_store.c \
	src/pg/scaleout.c \
	src/pg/scoring.c \
	src/pg/settings.c \
	src/pg/shmem.c \
	src/pg/sql_values.c \
	src/pg/sweep.c \
	src/pg/sweep_remote.c \
	src/pg/test_hold.c \
	src/pg/train_subset.c \
	src/pg/train_worker.c
OBJS = $(PG_SRCS:.c=.o)

# The development version's script is assembled from the parts in sql/ext, in name order;
# a released version's script (sql/mlpscale--X.sql) and the upgrade scripts
# (sql/mlpscale--X--Y.sql) are committed files, installed as they are.
EXT_PARTS = $(sort $(wildcard sql/ext/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(RELEASED:%=sql/$(EXTENSION)--%.sql) $(wildcard sql/$(EXTENSION)--*--*.sql)

REGRESS = $(basename $(notdir $(sort $(wildcard sql/[0-9]*_*.sql))))
REGRESS_OPTS = --load-extension=$(EXTENSION)

OPTFLAGS ?= -march=native
WERROR ?=
WARNFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

# The numeric core, plain C (docs/design.md, Repository layout).
CORE_SRCS = \
	src/core/arch.c \
	src/core/augment.c \
	src/core/blas.c \
	src/core/evaluate.c \
	src/core/file_read.c \
	src/core/fit.c \
	src/core/gemm_amx.c \
	src/core/gemm_bf16.c \
	src/core/idx.c \
	src/core/image_codec.c \
	src/core/image_format.c \
	src/core/json.c \
	src/core/layers.c \
	src/core/loss.c \
	src/core/memory_usage.c \
	src/core/model.c \
	src/core/model_check.c \
	src/core/optimizer.c \
	src/core/rng.c \
	src/core/safetensors.c \
	src/core/status.c \
	src/core/stream.c \
	src/core/subset.c \
	src/core/thread_pool.c \
	src/core/train_thread.c \
	src/core/trainer.c \
	src/core/weights.c
CORE_OBJS = $(CORE_SRCS:.c=.o)
CORE_LIB = src/core/libmlpcore.a
CORE_CFLAGS = -std=c11 -D_GNU_SOURCE -O3 -g -fPIC $(OPTFLAGS) -Wall -Wextra -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes $(WERROR) -fvisibility=hidden
CORE_LIBS = -lpng -ljpeg -lz -lm -ldl -lpthread

PG_CPPFLAGS = -Isrc -Isrc/pg -DMLPSCALE_VERSION='"$(EXTVERSION)"'
PG_CFLAGS = -std=gnu11 $(OPTFLAGS) $(WARNFLAGS) $(WERROR)
# libpq: mlp_publish and mlp_classify_batch(..., servers) talk to postgres_fdw servers (remote.c)
PG_CPPFLAGS += -I$(shell $(PG_CONFIG) --includedir)
SHLIB_LINK = $(CORE_LIB) $(CORE_LIBS) -L$(shell $(PG_CONFIG) --libdir) -lpq

EXTRA_CLEAN = $(CORE_OBJS) $(CORE_LIB) test/unit/bin test/unit/bin-asan test/fuzz/bin mlpscale-load \
	src/loader/*.o results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The core is plain C11: built by its own rule, without PostgreSQL's include paths.
src/core/%.o: src/core/%.c $(wildcard src/core/*.h)
	$(CC) $(CORE_CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(shlib): $(CORE_LIB)
$(OBJS): $(wildcard src/pg/*.h) $(wildcard src/core/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(EXT_PARTS)
	cat $^ > $@

# ---- the loader (a libpq client) -------------------------------------------------------
LOADER_SRCS = \
	src/loader/buffer.c \
	src/loader/cifar_source.c \
	src/loader/copy_writer.c \
	src/loader/folder_source.c \
	src/loader/idx_source.c \
	src/loader/main.c \
	src/loader/progress.c
ifneq ($(LOADER_SRCS),)
all: mlpscale-load
mlpscale-load: $(LOADER_SRCS) $(CORE_LIB) $(wildcard src/loader/*.h) Makefile
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(OPTFLAGS) -Wall -Wextra $(WERROR) -Isrc \
		-DMLP_LOADER_VERSION='"$(EXTVERSION)"' \
		-I$(shell $(PG_CONFIG) --includedir) -o $@ $(LOADER_SRCS) $(CORE_LIB) \
		-L$(shell $(PG_CONFIG) --libdir) -lpq $(CORE_LIBS)
install: install-loader
install-loader: mlpscale-load
	$(INSTALL_PROGRAM) mlpscale-load '$(DESTDIR)$(bindir)/mlpscale-load'
	ln -sf '$(bindir)/mlpscale-load' '$(DESTDIR)/usr/local/bin/mlpscale-load' 2>/dev/null || true
endif

# ---- C unit tests of the numeric core ----------------------------------------------------
UNIT_SRCS = $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS = $(patsubst test/unit/%.c,test/unit/bin/%,$(UNIT_SRCS))
UNIT_ASAN_BINS = $(patsubst test/unit/%.c,test/unit/bin-asan/%,$(UNIT_SRCS))
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

.PHONY: unit unit-asan bench
unit: $(UNIT_BINS)
unit-asan: $(UNIT_ASAN_BINS)

test/unit/bin/%: test/unit/%.c $(CORE_LIB) $(wildcard test/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(OPTFLAGS) -Wall -Wextra $(WERROR) -Isrc/core -Itest/unit \
		-o $@ $< $(CORE_LIB) $(CORE_LIBS)

test/unit/bin-asan/%: test/unit/%.c $(CORE_SRCS) $(wildcard test/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(OPTFLAGS) $(ASAN_FLAGS) -Wall -Wextra $(WERROR) \
		-Isrc/core -Itest/unit -o $@ $< $(CORE_SRCS) $(CORE_LIBS)

# The emulated AMX kernel takes the place of gemm_amx.c (test/unit/test_gemm_amx_emulated.c).
test/unit/bin-asan/test_gemm_amx_emulated: test/unit/test_gemm_amx_emulated.c test/unit/test_gemm_bf16.c $(CORE_SRCS) $(wildcard test/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(OPTFLAGS) $(ASAN_FLAGS) -Wall -Wextra $(WERROR) \
		-Isrc/core -Itest/unit -o $@ $< $(filter-out src/core/gemm_amx.c,$(CORE_SRCS)) $(CORE_LIBS)
test/unit/bin/test_gemm_amx_emulated: test/unit/test_gemm_bf16.c src/core/gemm_amx.c
test/unit/bin-asan/test_gemm_amx_selfcheck: test/unit/test_gemm_amx_selfcheck.c $(CORE_SRCS) $(wildcard test/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(OPTFLAGS) $(ASAN_FLAGS) -Wall -Wextra $(WERROR) \
		-Isrc/core -Itest/unit -o $@ $< $(filter-out src/core/gemm_amx.c,$(CORE_SRCS)) $(CORE_LIBS)
test/unit/bin/test_gemm_amx_selfcheck: src/core/gemm_amx.c

# ---- libFuzzer targets of the core's parsers (test/fuzz/README.md) -----------------------
# The core is built again with clang, coverage and AddressSanitizer + UBSan (UBSan aborts, so
# libFuzzer keeps the input); each test/fuzz/fuzz_NAME.c becomes test/fuzz/bin/fuzz_NAME.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 300
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes $(WERROR)
FUZZ_SRCS = $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS = $(patsubst test/fuzz/%.c,test/fuzz/bin/%,$(FUZZ_SRCS))
FUZZ_CORE_OBJS = $(patsubst src/core/%.c,test/fuzz/bin/core/%.o,$(CORE_SRCS))
FUZZ_CORE_LIB = test/fuzz/bin/libmlpcore-fuzz.a

.PHONY: fuzz-build fuzz
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	test/fuzz/run.sh $(FUZZ_SECONDS)

test/fuzz/bin/core/%.o: src/core/%.c $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_CORE_LIB): $(FUZZ_CORE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

test/fuzz/bin/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz.h $(FUZZ_CORE_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Isrc/core -o $@ $< $(FUZZ_CORE_LIB) $(CORE_LIBS)

# For test/run_all.sh: the pg_regress tests this tree has.
print-regress:
	@echo $(REGRESS)

# For test/upgrade/upgrade_test.sh: the files make install puts in the extension directory.
print-data:
	@echo $(EXTENSION).control $(DATA) $(DATA_built)

# ---- SGEMM throughput at the shapes of a B_6-Wi_1024 training step (bench/sgemm_bench.c) --
.PHONY: bench-sgemm
bench-sgemm: bench/sgemm_bench
	./bench/sgemm_bench

bench/sgemm_bench: bench/sgemm_bench.c bench/bench_time.h $(CORE_LIB) src/core/blas.h
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(OPTFLAGS) -Wall -Wextra $(WERROR) -Isrc/core \
		-o $@ $< $(CORE_LIB) $(CORE_LIBS)

# ---- benchmarks (not tests; docs/performance.md) -----------------------------------------
# make bench runs bench/run.sh (arguments through BENCH_ARGS, e.g. BENCH_ARGS=--accuracy).
BENCH_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g $(OPTFLAGS) -Wall -Wextra -Wshadow $(WERROR) -Isrc/core
BENCH_ARGS ?=
EXTRA_CLEAN += bench/bin bench/results

bench/bin/train_bench: bench/train_bench.c bench/bench_time.h $(CORE_LIB) $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(CORE_LIB) $(CORE_LIBS)

# The machine's arithmetic peak (register-only FMA loops); make bench reports against it.
bench/bin/peak: bench/peak.c bench/bench_time.h src/core/clock.h src/core/amx_tiles.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -pthread -o $@ $< -lpthread

.PHONY: bench-peak
bench-peak: bench/bin/peak
	bench/bin/peak

bench: bench/bin/train_bench bench/bin/peak
	bench/run.sh $(BENCH_ARGS)

# The queue's overhead per run: a sweep of 200 tiny runs against the same runs one by one.
.PHONY: bench-sweep
bench-sweep:
	bench/sweep_bench.sh $(BENCH_ARGS)

# The image column's storage choices: load rate, size and read rate at 28x28, 32x32x3, 64x64x3.
.PHONY: bench-storage
bench-storage: mlpscale-load
	bench/storage_bench.sh $(BENCH_ARGS)

# Streaming against in-memory training on CIFAR-10 (32 and 64 px), and a quarter budget.
.PHONY: bench-stream
bench-stream: mlpscale-load
	bench/stream_bench.sh $(BENCH_ARGS)

# bf16 scoring against fp32 on CIFAR-10's data_batch_5: agreement, accuracy and rates.
.PHONY: bench-precision
bench-precision:
	bench/scoring_precision_bench.sh $(BENCH_ARGS)

# Scoring and sweeps on 1 and 2 loopback shards against one server (postgres_fdw).
.PHONY: bench-scaleout
bench-scaleout:
	bench/scaleout_bench.sh $(BENCH_ARGS)

# mlpscale-load's rows/s on a tree of 20,000 64x64 JPEGs, --jobs 1 and 2.
.PHONY: bench-loader
bench-loader: mlpscale-load
	bench/loader_bench.sh $(BENCH_ARGS)
