package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/compacter-go/compacter/cuda"
	"github.com/compacter-go/compacter/dist"
)

// rankSet is the data-parallel side of a command under mpirun: the
// collective (dist.Local outside mpirun) and where rank 0's output goes.
type rankSet struct {
	c dist.Collective
}

// openRanks joins the MPI job when the process was started by mpirun, and
// is one process otherwise. Under mpirun, each rank of a node uses the GPU
// of its local rank unless COMPACTER_CUDA_DEVICE says otherwise.
func openRanks(timeout time.Duration) (*rankSet, error) {
	c, err := dist.Open(dist.Options{Timeout: timeout})
	if err != nil {
		return nil, err
	}
	if c.Size() > 1 {
		if _, set := os.LookupEnv(cuda.EnvDevice); !set {
			if n := len(cuda.Inspect().Devices); n > 0 {
				os.Setenv(cuda.EnvDevice, strconv.Itoa(dist.LocalRank()%n))
			}
		}
	}
	return &rankSet{c: c}, nil
}

// lead reports whether this process writes the command's output (rank 0).
func (r *rankSet) lead() bool { return r.c.Rank() == 0 }

// out is w on rank 0 and io.Discard on the others.
func (r *rankSet) out(w io.Writer) io.Writer {
	if r.lead() {
		return w
	}
	return io.Discard
}

// close ends the collective after the command returned err. On a rank
// whose command failed, the others may wait for it in a collective, so
// the job is aborted (after this rank's error is printed) instead of
// finalized.
func (r *rankSet) close(err error, stderr io.Writer) error {
	if r.c.Size() == 1 {
		return errors.Join(err, r.c.Close())
	}
	if err != nil {
		fmt.Fprintf(stderr, "compacter: rank %d of %d: %v\n", r.c.Rank(), r.c.Size(), err)
		if m, ok := r.c.(*dist.MPI); ok {
			m.Fail(err)
		}
	}
	return errors.Join(err, r.c.Close())
}
