#!/bin/bash
# NCCL all-reduce on a lent GPU machine (it has NEVER run: prepared on a
# machine without a GPU). Build here first, from the repository root:
#   mkdir -p .gpu && go test -c -ldflags='-s -w' -o .gpu/cuda.test ./cuda && \
#   go build -o .gpu/compacter ./cmd/compacter && gzip -f .gpu/cuda.test .gpu/compacter
# then run this script there (OUT set by the device tool). It needs
# libnccl.so.2: a system NCCL, or the one of PyTorch's nvidia-nccl wheel,
# which it finds through python3. mpirun is optional (one GPU: one rank).
cd "$(dirname "$0")/../.." || exit 1
R=$(pwd)
OUT=${OUT:-/tmp/nccl-out}; mkdir -p "$OUT"
gunzip -f .gpu/*.gz 2>/dev/null; chmod +x .gpu/*
if ! ldconfig -p | grep -q libnccl.so.2; then
  d=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))' 2>/dev/null)
  [ -n "$d" ] && export LD_LIBRARY_PATH="$d:$LD_LIBRARY_PATH"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia-smi.txt" 2>&1
.gpu/compacter doctor > "$OUT/doctor.txt" 2>&1; grep -A1 -E '^(mpi|nccl):' "$OUT/doctor.txt"
echo "== NCCL tests, one rank"
(cd cuda && timeout 120 "$R/.gpu/cuda.test" -test.v -test.run 'NCCL' > "$OUT/nccl-test.txt" 2>&1; echo "rc=$?" >> "$OUT/nccl-test.txt")
grep -E -- '^(---|ok|FAIL|PASS|panic)|nccl_host_test|rc=' "$OUT/nccl-test.txt"
NGPU=$(nvidia-smi -L 2>/dev/null | wc -l)
if command -v mpirun >/dev/null && [ "$NGPU" -ge 2 ]; then
  echo "== NCCL tests, $NGPU ranks (one GPU each)"
  MPI="mpirun --allow-run-as-root --bind-to none -np $NGPU -x LD_LIBRARY_PATH -x NCCL_TEST_MPI=1"
  (cd cuda && timeout 180 $MPI bash -c 'COMPACTER_CUDA_DEVICE=$OMPI_COMM_WORLD_LOCAL_RANK exec '"$R"'/.gpu/cuda.test -test.v -test.run TestNCCLDevice' \
    > "$OUT/nccl-mpi-test.txt" 2>&1; echo "rc=$?" >> "$OUT/nccl-mpi-test.txt")
  grep -E -- '^(---|ok|FAIL|PASS)|nccl_host_test|rc=' "$OUT/nccl-mpi-test.txt"
  echo "== bench, $NGPU ranks with NCCL against one GPU"
  timeout 200 .gpu/compacter bench --backend cuda --shape t5-base --batch 8 --seq 128 --steps 5 --progress=false --format json --out "$OUT/bench-1gpu.json"
  timeout 200 $MPI .gpu/compacter bench --backend cuda --shape t5-base --batch $((8 * NGPU)) --seq 128 --steps 5 --progress=false --format json --out "$OUT/bench-${NGPU}gpu.json"
  python3 - "$OUT" "$NGPU" <<'PY'
import json, sys
o, n = sys.argv[1], sys.argv[2]
one, many = (json.load(open(f"{o}/bench-{k}gpu.json")) for k in ("1", n))
print(many.get("collective"))
for a, b in zip(one["rows"], many["rows"]):
    print(f'{a["method"]:16s} 1 GPU {1e3*a["sec_per_step"]:8.1f} ms/step   {n} GPUs {1e3*b["sec_per_step"]:8.1f} ms/step '
          f'(all-reduce {1e3*b.get("reduce_sec_per_step", 0):6.2f} ms of {b.get("gradient_bytes", 0)/1e6:.3g} MB)')
PY
else
  echo "== fewer than 2 GPUs or no mpirun: the multi-rank NCCL path is not exercised"
fi
