package dist

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/compacter-go/compacter/kernels"
)

// DeviceReducer sums float32 buffers of a compute backend in place across
// the ranks without copying them to the host (NCCL on GPUs: see package
// cuda's OpenNCCL).
type DeviceReducer interface {
	AllReduceSum(ctx context.Context, bufs []kernels.Buffer) error
	Close() error
}

// Summer sums buffers of a backend (gradients) and a few host values
// (losses, counts, flags) across the ranks of C: the buffers on the device
// with Device when it is set, else copied through one host buffer; the
// host values, and the buffers without a Device, in one AllReduceSum.
type Summer struct {
	C       Collective
	Device  DeviceReducer
	Backend kernels.Backend
	host    []float32
}

// Sum replaces bufs and vals, on every rank, with their sums over the
// ranks.
func (s *Summer) Sum(ctx context.Context, bufs []kernels.Buffer, vals []float32) error {
	n := len(vals)
	if s.Device == nil {
		for _, b := range bufs {
			n += b.Len()
		}
	} else if err := s.Device.AllReduceSum(ctx, bufs); err != nil {
		return err
	}
	if cap(s.host) < n {
		s.host = make([]float32, n)
	}
	buf := s.host[:n]
	off := 0
	if s.Device == nil {
		for _, b := range bufs {
			if err := s.Backend.Download(buf[off:off+b.Len()], b); err != nil {
				return fmt.Errorf("dist: %w", err)
			}
			off += b.Len()
		}
	}
	copy(buf[off:], vals)
	if err := s.C.AllReduceSum(ctx, buf); err != nil {
		return err
	}
	if s.Device == nil {
		off = 0
		for _, b := range bufs {
			if err := s.Backend.Upload(b, buf[off:off+b.Len()]); err != nil {
				return fmt.Errorf("dist: %w", err)
			}
			off += b.Len()
		}
	}
	copy(vals, buf[off:])
	return nil
}

// DeviceBackend is a compute backend whose buffers the ranks can sum on
// the device (package cuda's Backend, with NCCL). DeviceReducer is a
// collective call: every rank of c calls it, and either all get a
// reducer or all get an error (then they sum through the host together).
type DeviceBackend interface {
	DeviceReducer(ctx context.Context, c Collective) (DeviceReducer, error)
}

// TimeoutOf is the collective deadline of c (Options.Timeout as resolved
// by Open), or DefaultTimeout for collectives without one.
func TimeoutOf(c Collective) time.Duration {
	if t, ok := c.(interface{ Timeout() time.Duration }); ok && t.Timeout() > 0 {
		return t.Timeout()
	}
	return DefaultTimeout
}

// EnvDevice set to "0" makes OpenDevice sum through the host even on a
// DeviceBackend.
const EnvDevice = "COMPACTER_DEVICE_ALLREDUCE"

// OpenDevice returns the DeviceReducer of be across the ranks of c when be
// is a DeviceBackend whose reducer every rank could open, and nil
// otherwise; note says which and why ("device all-reduce", "host
// all-reduce: …"). It is a collective call with a consistent outcome on
// every rank.
func OpenDevice(ctx context.Context, c Collective, be kernels.Backend) (red DeviceReducer, note string, err error) {
	db, ok := be.(DeviceBackend)
	if !ok || os.Getenv(EnvDevice) == "0" {
		return nil, "host all-reduce", nil
	}
	red, rerr := db.DeviceReducer(ctx, c)
	flag := []float32{0}
	if rerr != nil {
		flag[0] = 1
	}
	if err := c.AllReduceSum(ctx, flag); err != nil {
		if red != nil {
			red.Close()
		}
		return nil, "", err
	}
	if flag[0] == 0 {
		return red, "device all-reduce", nil
	}
	if red != nil {
		red.Close()
	}
	if rerr == nil {
		rerr = fmt.Errorf("failed on %v of %d ranks", flag[0], c.Size())
	}
	return nil, "host all-reduce: " + rerr.Error(), nil
}
