//go:build !linux || !cgo || nompi

package dist

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// MPI is the Collective of an MPI job; in this build (no cgo, not Linux,
// or the nompi tag) it cannot be opened.
type MPI struct{}

func mpiReason() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("%w: MPI support is built on Linux only", ErrUnavailable)
	}
	return fmt.Errorf("%w: built without cgo (CGO_ENABLED=0) or with the nompi tag", ErrUnavailable)
}

// MPIAvailable reports why MPI cannot be used in this build.
func MPIAvailable() (string, error) { return "", mpiReason() }

func openMPI(Options) (*MPI, error) { _, err := MPIAvailable(); return nil, err }

// Rank is 0.
func (*MPI) Rank() int { return 0 }

// Size is 1.
func (*MPI) Size() int { return 1 }

// Name is "mpi (unavailable)".
func (*MPI) Name() string { return "mpi (unavailable)" }

// AllReduceSum reports that MPI is unavailable.
func (*MPI) AllReduceSum(context.Context, []float32) error { return mpiReason() }

// Broadcast reports that MPI is unavailable.
func (*MPI) Broadcast(context.Context, []byte, int) error { return mpiReason() }

// Abort does nothing.
func (*MPI) Abort(int) {}

// Close does nothing.
func (*MPI) Close() error { return nil }

// Timeout is 0.
func (*MPI) Timeout() time.Duration { return 0 }

// Fail does nothing.
func (*MPI) Fail(error) {}
