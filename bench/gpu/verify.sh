#!/bin/bash
# Final verification after the validator refactor, the Trainer split and the new FWHT kernels.
cd "$(dirname "$0")/.." || exit 1
R=$(pwd)
gunzip -f .gpu/*.gz; chmod +x .gpu/*
(cd cuda && timeout 100 $R/.gpu/cuda.test -test.short -test.timeout 95s > $OUT/cuda-test.txt 2>&1; echo "cuda rc=$?")
grep -E -- '--- FAIL|^(FAIL|ok|PASS|panic)' $OUT/cuda-test.txt | head -20
(cd t5 && timeout 40 $R/.gpu/t5.test -test.v -test.run 'Reference|Resume|BackwardUpdate' > $OUT/t5.txt 2>&1; echo "t5 rc=$?")
grep -E -- '--- (FAIL|PASS).*cuda|--- FAIL' $OUT/t5.txt | head
(cd peft && timeout 60 $R/.gpu/peft.test -test.run 'Reference|Official|SAIDDevice|Project' > $OUT/peft.txt 2>&1; echo "peft rc=$?")
grep -E -- '--- FAIL|^(FAIL|ok|PASS)' $OUT/peft.txt | head
timeout 30 .gpu/compacter bench --backend cuda --steps 2 --progress=false > $OUT/bench.txt 2>&1; echo "bench rc=$?"; tail -16 $OUT/bench.txt
