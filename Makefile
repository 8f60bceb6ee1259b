# compacter — see README.md.
GO       ?= go
PKGS     ?= ./...
COUNT    ?= 5
BENCH    ?= .
FUZZTIME ?= 20s

.PHONY: all build test test-purego test-arm64 race lint bench bench-openblas bench-openblas-step fuzz ci nvcc-install mpi-install mpi-bench ptx ptx-check docker-cuda clean

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

## test-arm64: the pure-Go kernels and model tests as arm64 under qemu-user
## (installs qemu-user like nvcc-install does nvcc).
test-arm64:
	command -v qemu-aarch64 >/dev/null 2>&1 || { apt-get update && apt-get install -y qemu-user; }
	GOARCH=arm64 $(GO) test -short -exec qemu-aarch64 ./cpu ./kernels/... ./t5 ./peft

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

## bench-openblas-step: the training step's products (BenchmarkSgemmStep) on
## both threads, ours against OpenBLAS, alternating processes COUNT times. Set
## OPENBLAS_CORETYPE (e.g. SKYLAKEX) where OpenBLAS misdetects the CPU. OpenBLAS
## is the OpenMP build, the one the PyTorch comparisons use.
bench-openblas-step:
	dpkg -s libopenblas-openmp-dev >/dev/null 2>&1 || { apt-get update && apt-get install -y libopenblas-openmp-dev; }
	mkdir -p bench/out
	$(GO) test -c -tags openblas -o bench/out/blas.test ./bench/blas/
	rm -f bench/out/blas-step.txt
	for i in $$(seq $(COUNT)); do for impl in simd openblas; do \
	  bench/out/blas.test -test.run '^$$' -test.bench "SgemmStep/.*/.*/.*/$$impl\$$" -test.benchtime 5x | tee -a bench/out/blas-step.txt; \
	done; done
	$(GO) run golang.org/x/perf/cmd/benchstat@latest -col /impl bench/out/blas-step.txt

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

## mpi-install: Open MPI (mpirun and libmpi.so.40, opened at run time by package
## dist) for data-parallel training: compacter train/bench under mpirun -np N.
mpi-install:
	dpkg -s openmpi-bin libopenmpi-dev >/dev/null 2>&1 || { apt-get update && apt-get install -y openmpi-bin libopenmpi-dev; }

## mpi-bench: all-reduce time per step against step time for every method, at
## MPI_SHAPES, MPI_NP ranks of one thread each against one process of MPI_NP
## threads, into bench/out/mpi-<shape>-{ranks,threads}.json (quiet machine only).
MPI_SHAPES ?= t5-small t5-base
MPI_NP     ?= 2
MPI_STEPS  ?= 3
MPIRUN     ?= mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader --mca btl_vader_single_copy_mechanism none
mpi-bench:
	mkdir -p bench/out
	$(GO) build -o bench/out/compacter ./cmd/compacter
	@set -e; for s in $(MPI_SHAPES); do \
	  GOMAXPROCS=$(MPI_NP) bench/out/compacter bench --shape $$s --batch 8 --seq 64 --steps $(MPI_STEPS) --progress=false --format json --out bench/out/mpi-$$s-threads.json; \
	  $(MPIRUN) -np $(MPI_NP) -x GOMAXPROCS=1 bench/out/compacter bench --shape $$s --batch 8 --seq 64 --steps $(MPI_STEPS) --progress=false --format json --out bench/out/mpi-$$s-ranks.json; \
	done

## ptx: compile each CUDA source cuda/kernels/<module>.cu (PTX_SRC, default all)
## with nvcc (see nvcc-install) to cuda/ptx/<module>.sm_<arch>.ptx for every arch
## of PTX_ARCHS, headed by the sha256 of the source (checked by the cuda tests).
NVCC      ?= nvcc
PTX_ARCHS ?= 80 90
PTX_SRC   ?= $(wildcard cuda/kernels/*.cu)
ptx:
	@set -e; for cu in $(PTX_SRC); do \
	  m=$$(basename $$cu .cu); sum=$$(sha256sum $$cu | cut -d' ' -f1); \
	  for a in $(PTX_ARCHS); do \
	    out=cuda/ptx/$$m.sm_$$a.ptx; echo "$(NVCC) $$cu -> $$out"; \
	    $(NVCC) -ptx -O3 -std=c++14 -arch=compute_$$a -o $$out.body $$cu; \
	    { echo "// compacter-source-sha256: $$sum"; cat $$out.body; } > $$out; rm -f $$out.body; \
	  done; \
	done

## ptx-check: fail when a PTX does not record the sha256 of its source (no nvcc needed).
ptx-check:
	@set -e; for cu in cuda/kernels/*.cu; do \
	  m=$$(basename $$cu .cu); sum=$$(sha256sum $$cu | cut -d' ' -f1); \
	  for a in $(PTX_ARCHS); do \
	    f=cuda/ptx/$$m.sm_$$a.ptx; \
	    test "$$(head -1 $$f 2>/dev/null)" = "// compacter-source-sha256: $$sum" || { echo "$$f is stale or missing: make ptx"; exit 1; }; \
	  done; \
	done; echo "ptx: up to date"

## docker-cuda: build the GPU image (Dockerfile.cuda); run it with docker run --rm --gpus all compacter-cuda
docker-cuda:
	docker build -f Dockerfile.cuda -t compacter-cuda .

clean:
	rm -rf bench/out .gpu
