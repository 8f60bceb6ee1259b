package cpu_test

import (
	"testing"

	"github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
)

// TestConformance runs the backend conformance suite on both CPU backends:
// "cpu" (the assembly kernels where the CPU has AVX2+FMA) and "purego".
// Select one operation with -run 'Conformance/cpu/Gemm'.
func TestConformance(t *testing.T) {
	for _, o := range []cpu.Options{{}, {PureGo: true}} {
		name := cpu.New(o).Name()
		t.Run(name, func(t *testing.T) {
			kerneltest.Run(t, func(t *testing.T) kernels.Backend { return cpu.New(o) })
		})
	}
}
