package cuda_test

import (
	"errors"
	"testing"

	_ "github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/cuda"
	"github.com/compacter-go/compacter/kernels"
)

// TestFallback checks the registry's view of the backend: where the loader
// finds no usable GPU, Probe and Open give a reason wrapping
// kernels.ErrUnavailable and the CPU is chosen; where it finds one, cuda is.
func TestFallback(t *testing.T) {
	r := cuda.Inspect()
	err := cuda.Probe()
	if (err == nil) != (r.Err == nil) {
		t.Fatalf("Probe() = %v but Inspect().Err = %v", err, r.Err)
	}
	best, berr := kernels.Best()
	if berr != nil {
		t.Fatalf("Best: %v", berr)
	}
	if err == nil {
		t.Logf("GPU found: %+v", r)
		if best != "cuda" {
			t.Errorf("Best() = %q with a usable GPU, want cuda", best)
		}
		return
	}
	t.Logf("no CUDA backend here: %v", err)
	if !errors.Is(err, kernels.ErrUnavailable) || len(err.Error()) < len("cuda: x: ")+len(kernels.ErrUnavailable.Error()) {
		t.Errorf("Probe error %q does not wrap ErrUnavailable with a reason", err)
	}
	if _, oerr := kernels.Open("cuda"); !errors.Is(oerr, kernels.ErrUnavailable) {
		t.Errorf("Open(cuda) = %v, want an error wrapping ErrUnavailable", oerr)
	}
	if best != "cpu" && best != "purego" {
		t.Errorf("Best() = %q without a GPU, want the CPU", best)
	}
	var found bool
	for _, in := range kernels.Drivers() {
		if in.Name == "cuda" {
			found = true
			if in.Priority != 300 || in.Err == nil {
				t.Errorf("driver cuda: %+v, want priority 300 and an error", in)
			}
		}
	}
	if !found {
		t.Error("driver cuda is not registered")
	}
	if again := cuda.Probe(); again == nil || again.Error() != err.Error() {
		t.Errorf("second Probe() = %v, want the cached %v", again, err)
	}
}
