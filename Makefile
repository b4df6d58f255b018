# Vigil: the two commands are `make run` and `make test`.
# Each first runs scripts/deps.sh, which installs what is missing.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
DATA       ?= $(CURDIR)/.data
PORT       ?= 8080
FUZZ_SECONDS ?= 60

.PHONY: all deps run test unit fuzz bench clean

all: $(BUILD)/build.ninja
	@ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@command -v meson >/dev/null 2>&1 || scripts/deps.sh
	meson setup $(BUILD) --buildtype=release -Db_ndebug=true

deps:
	@scripts/deps.sh

run: deps all
	./$(BUILD)/vigil serve --data $(DATA) --http-port $(PORT)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug

test:
	@scripts/deps.sh --npm
	@$(MAKE) --no-print-directory $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD)
	@scripts/test.sh $(ASAN_BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true --buildtype=debugoptimized

fuzz: deps $(FUZZ_BUILD)/build.ninja
	@ninja -C $(FUZZ_BUILD)
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: deps all
	@scripts/deps.sh --npm
	bench/http.sh
	bench/record.sh
	bench/live.sh
	bench/export.sh
	bench/package.sh
	bench/thumb.sh
	bench/download.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

.PHONY: demo
demo: deps all
	@BUILD=$(BUILD) PORT=$(PORT) scripts/demo.sh
