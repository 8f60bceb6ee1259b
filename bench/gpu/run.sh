#!/bin/bash
# Final GPU session: correctness first, then the tables, then timings.
cd "$(dirname "$0")/.." || exit 1
R=$(pwd)
gunzip -f .gpu/*.gz; chmod +x .gpu/*
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $OUT/nvidia-smi.txt
.gpu/compacter doctor > $OUT/doctor.txt 2>&1
echo "== cuda tests"
(cd cuda && timeout 150 $R/.gpu/cuda.test -test.v -test.timeout 145s > $OUT/cuda-test.txt 2>&1; echo "cuda.test rc=$?" >> $OUT/cuda-test.txt)
grep -E -- '^--- FAIL|^    --- FAIL|^(FAIL|ok|PASS|panic)|rc=' $OUT/cuda-test.txt | head -30
grep -B2 -A6 -- '--- FAIL' $OUT/cuda-test.txt | grep -E '_test.go|harness|suite' | head -30
echo "== refs"
(cd t5 && timeout 60 $R/.gpu/t5.test -test.v -test.run 'Reference' > $OUT/t5-ref.txt 2>&1; echo "rc=$?" >> $OUT/t5-ref.txt)
(cd peft && timeout 90 $R/.gpu/peft.test -test.v -test.run 'Reference|Official|SAIDDevice' > $OUT/peft-ref.txt 2>&1; echo "rc=$?" >> $OUT/peft-ref.txt)
grep -E -- '--- FAIL|SAIDDevice|rc=' $OUT/t5-ref.txt $OUT/peft-ref.txt | head -20
grep -A4 -- '--- FAIL' $OUT/peft-ref.txt | head -20
echo "== peft steps"
(cd peft && timeout 100 $R/.gpu/peft.test -test.run '^$' -test.bench 'TrainStep' -test.benchtime 5x -peft.preset t5-base -peft.backend cuda > $OUT/peft-bench.txt 2>&1)
grep -E 'Benchmark|FAIL|panic' $OUT/peft-bench.txt | awk '{print $1, $3, $5, $7}'
echo "== torch"
for m in full compacter; do timeout 60 python3 bench/pytorch/t5_step_gpu.py --model t5-base --method $m > $OUT/torch_$m.txt 2>&1; tail -1 $OUT/torch_$m.txt; done
echo "== bench table"
timeout 90 .gpu/compacter bench --backend cuda --shape t5-base --batch 8 --seq 128 --steps 5 --progress=false --format markdown > $OUT/bench-t5-base-cuda.md 2>&1; cat $OUT/bench-t5-base-cuda.md | tail -25
echo "== kernels + fastfood bench"
timeout 30 .gpu/compacter kernels --backend cuda > $OUT/kernels-cuda.txt 2>&1; cat $OUT/kernels-cuda.txt | tail -20
(cd cuda && timeout 40 $R/.gpu/cuda.test -test.run '^$' -test.bench 'Fastfood' -test.benchtime 20x > $OUT/fastfood-bench.txt 2>&1); grep Benchmark $OUT/fastfood-bench.txt | head -20
