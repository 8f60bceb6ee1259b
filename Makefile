# compacter — see README.md.
GO       ?= go
PKGS     ?= ./...
COUNT    ?= 5
BENCH    ?= .
FUZZTIME ?= 20s

.PHONY: all build test test-purego race lint bench bench-openblas fuzz ci nvcc-install clean

all: build test

build:
	$(GO) build $(PKGS)
	CGO_ENABLED=0 $(GO) build $(PKGS)

## test: the README's test command.
test:
	$(GO) test $(PKGS)

test-purego:
	$(GO) test -tags purego $(PKGS)

race:
	$(GO) test -race -short $(PKGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) vet -tags purego $(PKGS)

## bench: every benchmark COUNT times into bench/out/bench.txt, then benchstat.
bench:
	mkdir -p bench/out
	$(GO) test -run '^$$' -bench '$(BENCH)' -count $(COUNT) -timeout 60m $(PKGS) | tee bench/out/bench.txt
	$(GO) run golang.org/x/perf/cmd/benchstat@latest bench/out/bench.txt

## bench-openblas: SGEMM against OpenBLAS (needs libopenblas-dev and cgo). Each
## implementation runs in its own process, alternating COUNT times: OpenBLAS's
## threads spin after a call and would slow whatever runs next in the same process.
bench-openblas:
	dpkg -s libopenblas-dev >/dev/null 2>&1 || { apt-get update && apt-get install -y libopenblas-dev; }
	mkdir -p bench/out
	$(GO) test -c -tags openblas -o bench/out/blas.test ./bench/blas/
	rm -f bench/out/blas.txt
	for i in $$(seq $(COUNT)); do for impl in simd openblas gonum; do \
	  bench/out/blas.test -test.run '^$$' -test.bench "Sgemm/.*/.*/$$impl\$$" -test.benchtime 10x | tee -a bench/out/blas.txt; \
	done; done
	$(GO) run golang.org/x/perf/cmd/benchstat@latest -col /impl bench/out/blas.txt

## fuzz: run every Fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

ci:
	bash .ci/run

## nvcc-install: Debian's CUDA toolkit (nvcc 11.8, sm_80/sm_90) from the contrib and
## non-free components of the archive this machine already uses.
nvcc-install:
	@command -v nvcc >/dev/null && exit 0; \
	. /etc/os-release; \
	echo "deb http://deb.debian.org/debian $$VERSION_CODENAME contrib non-free non-free-firmware" > /etc/apt/sources.list.d/contrib-nonfree.list; \
	apt-get update && apt-get install -y nvidia-cuda-toolkit

clean:
	rm -rf bench/out .gpu
