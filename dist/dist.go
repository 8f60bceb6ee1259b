// Package dist is the communication layer of data-parallel training: a
// small Collective interface (rank, size, an in-place all-reduce sum of
// float32 buffers, a broadcast of bytes) with a single-process
// implementation (Local) and one on MPI (Open MPI's libmpi.so.40, opened
// with dlopen at run time: building needs neither MPI headers nor
// libraries, and a binary without MPI at run time works single-process).
//
// A trainer that holds its gradients in host memory calls AllReduceSum on
// them between its backward pass and its optimizer step, then divides by
// the number of examples (or micro-batches) of the global batch; see
// bench/finetune for the one the compacter CLI uses. GPU gradients are
// summed on the device by NCCL (package cuda), whose unique id travels
// over a Collective's Broadcast.
//
// # Launching
//
// Open decides from the environment: under mpirun (Open MPI sets
// OMPI_COMM_WORLD_SIZE, PMIx sets PMIX_RANK) it opens MPI, otherwise it
// returns Local. Every collective call has a deadline (Options.Timeout):
// a rank that died or hangs makes the others return ErrTimeout instead of
// waiting forever; after any failed collective, Close aborts the whole
// job (MPI_Abort) rather than finalizing, because a rank stuck in a
// collective can no longer be finalized.
package dist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Collective is a group of ranks (processes) that sum buffers together.
// Every rank must make the same calls in the same order with buffers of
// the same length; the calls are not safe for concurrent use.
type Collective interface {
	// Rank is this process's number, from 0; Size the number of ranks.
	Rank() int
	Size() int
	// AllReduceSum replaces buf, on every rank, with the element-wise sum
	// of the bufs of all ranks. It returns ErrTimeout when the other ranks
	// do not join in time, and ctx's error when ctx ends first.
	AllReduceSum(ctx context.Context, buf []float32) error
	// Broadcast copies root's buf into the bufs of the other ranks (all of
	// the same length).
	Broadcast(ctx context.Context, buf []byte, root int) error
	// Name describes the implementation ("local", "mpi (Open MPI v4.1.4 …)").
	Name() string
	// Close ends the group: MPI_Finalize, or MPI_Abort of the whole job
	// when a collective failed (its ranks may be stuck in it).
	Close() error
}

// ErrTimeout reports a collective that the other ranks did not complete
// within Options.Timeout: one of them died, hangs or is much slower.
var ErrTimeout = errors.New("dist: collective timed out (a rank died, hangs or diverged)")

// ErrUnavailable reports that MPI cannot be used in this process.
var ErrUnavailable = errors.New("dist: MPI unavailable")

// Options configure Open.
type Options struct {
	// Timeout bounds every collective call (0: DefaultTimeout). Set it
	// above the longest gap between two collectives of the slowest rank
	// (an evaluation, a checkpoint written by rank 0).
	Timeout time.Duration
}

// DefaultTimeout is the collective deadline when Options.Timeout is 0, and
// of the COMPACTER_DIST_TIMEOUT environment variable when set (a Go
// duration such as "90s").
const DefaultTimeout = 10 * time.Minute

// Launched reports whether this process was started by an MPI launcher
// (mpirun, mpiexec, srun with PMIx) as part of a job of several ranks.
func Launched() bool {
	if n, err := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_SIZE")); err == nil {
		return n > 1
	}
	if n, err := strconv.Atoi(os.Getenv("PMIX_SIZE")); err == nil {
		return n > 1
	}
	_, pmix := os.LookupEnv("PMIX_RANK")
	return pmix
}

// LocalRank is this process's rank among those of its node (Open MPI's
// OMPI_COMM_WORLD_LOCAL_RANK), 0 when not launched by Open MPI: the GPU a
// rank uses.
func LocalRank() int {
	n, err := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_LOCAL_RANK"))
	if err != nil {
		return 0
	}
	return n
}

// Open returns the MPI collective of the job when the process was
// launched by mpirun (see Launched), and Local otherwise. Under mpirun, an
// MPI that cannot be opened is an error (not a silent single-process run
// that would write the same files N times).
func Open(opt Options) (Collective, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
		if s := os.Getenv("COMPACTER_DIST_TIMEOUT"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("dist: COMPACTER_DIST_TIMEOUT=%q is not a positive duration", s)
			}
			opt.Timeout = d
		}
	}
	if !Launched() {
		return Local{}, nil
	}
	c, err := openMPI(opt)
	if err != nil {
		return nil, fmt.Errorf("launched by mpirun, but %w", err)
	}
	return c, nil
}

// Local is the collective of a single process: rank 0 of 1; its
// operations leave the buffers as they are.
type Local struct{}

// Rank is 0.
func (Local) Rank() int { return 0 }

// Size is 1.
func (Local) Size() int { return 1 }

// AllReduceSum leaves buf as it is (the sum over one rank).
func (Local) AllReduceSum(ctx context.Context, _ []float32) error { return ctx.Err() }

// Broadcast checks root and leaves buf as it is.
func (Local) Broadcast(ctx context.Context, _ []byte, root int) error {
	if root != 0 {
		return fmt.Errorf("dist: broadcast root %d of 1 rank", root)
	}
	return ctx.Err()
}

// Name is "local".
func (Local) Name() string { return "local" }

// Close does nothing.
func (Local) Close() error { return nil }

// AllGatherBytes returns every rank's b, indexed by rank (one Broadcast of
// the length and one of the bytes per rank).
func AllGatherBytes(ctx context.Context, c Collective, b []byte) ([][]byte, error) {
	out := make([][]byte, c.Size())
	for r := range out {
		var n [8]byte
		if r == c.Rank() {
			binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		}
		if err := c.Broadcast(ctx, n[:], r); err != nil {
			return nil, err
		}
		buf := make([]byte, binary.LittleEndian.Uint64(n[:]))
		if r == c.Rank() {
			copy(buf, b)
		}
		if err := c.Broadcast(ctx, buf, r); err != nil {
			return nil, err
		}
		out[r] = buf
	}
	return out, nil
}

// CheckSame verifies that every rank passes the same parts (a
// configuration, the training data…): it compares their SHA-256 across
// ranks and, on every rank, returns an error naming the ranks that differ
// from rank 0, so that a job of mismatched ranks stops at the start rather
// than training on inconsistent data.
func CheckSame(ctx context.Context, c Collective, what string, parts ...[]byte) error {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	sum := h.Sum(nil)
	all, err := AllGatherBytes(ctx, c, sum)
	if err != nil {
		return fmt.Errorf("dist: comparing the %s across ranks: %w", what, err)
	}
	var bad []int
	for r, s := range all {
		if !bytes.Equal(s, all[0]) {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("dist: the %s of rank(s) %v differ from rank 0's (sha256 %s… vs %s…): every rank must run the same command on the same files",
			what, bad, hex.EncodeToString(all[bad[0]][:6]), hex.EncodeToString(all[0][:6]))
	}
	return nil
}
