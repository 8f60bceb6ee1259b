//go:build !linux || !cgo || nocuda

package cuda

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/compacter-go/compacter/kernels"
)

func init() {
	kernels.Register(kernels.Driver{
		Name:     "cuda",
		Priority: 300,
		Probe:    Probe,
		Open:     func() (kernels.Backend, error) { return nil, Probe() },
	})
}

// Probe reports why this build has no CUDA backend (an error wrapping
// kernels.ErrUnavailable).
func Probe() error { return Inspect().Err }

// Inspect returns a report whose Err says why this build has no CUDA
// backend: not Linux, built without cgo, or built with -tags nocuda.
func Inspect() Report {
	return Report{Err: fmt.Errorf("cuda: %s: %w", whyNoCUDA(), kernels.ErrUnavailable)}
}

// whyNoCUDA names the build setting that left the backend out.
func whyNoCUDA() string {
	if runtime.GOOS != "linux" {
		return "the CUDA backend is built on Linux only (this is " + runtime.GOOS + ")"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-tags" && strings.Contains(","+s.Value+",", ",nocuda,") {
				return "built with -tags nocuda"
			}
			if s.Key == "CGO_ENABLED" && s.Value == "0" {
				return "built without cgo (CGO_ENABLED=0)"
			}
		}
	}
	return "built without cgo or with -tags nocuda"
}

// NCCLAvailable reports that this build has no CUDA backend, hence no
// NCCL all-reduce.
func NCCLAvailable() (int, error) { return 0, Inspect().Err }
