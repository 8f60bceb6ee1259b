//go:build !linux || !cgo || nompi

package dist

import (
	"context"
	"errors"
	"runtime"
)

// MPI is the Collective of an MPI job; in this build (no cgo, not Linux,
// or the nompi tag) it cannot be opened.
type MPI struct{}

func mpiReason() error {
	switch {
	case runtime.GOOS != "linux":
		return errors.New("dist: MPI unavailable: MPI support is built on Linux only")
	default:
		return errors.New("dist: MPI unavailable: built without cgo (CGO_ENABLED=0) or with the nompi tag")
	}
}

// MPIAvailable reports why MPI cannot be used in this build.
func MPIAvailable() (string, error) { return "", errors.Join(ErrUnavailable, mpiReason()) }

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

// Fail does nothing.
func (*MPI) Fail(error) {}
