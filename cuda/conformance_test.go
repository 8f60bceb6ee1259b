package cuda_test

import (
	"testing"

	"github.com/compacter-go/compacter/kernels/kerneltest"

	_ "github.com/compacter-go/compacter/cuda"
)

// TestConformance runs the kernels conformance suite on the cuda backend;
// it skips, with the reason, where no usable GPU is found.
func TestConformance(t *testing.T) {
	kerneltest.Run(t, kerneltest.OpenDriver("cuda"))
}
