package dist

import (
	"context"
	"fmt"

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
