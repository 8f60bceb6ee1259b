//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/compacter-go/compacter/kernels"
)

// transfer copies between host memory and a buffer of dtype dt after the
// checks of the CPU backend: a buffer of this backend (ErrBackend), its
// dtype (ErrDType), equal lengths (ErrShape). An upload is a synchronous
// cuMemcpyHtoD (host memory is free to change on return; the copy is ordered
// after the queued work); a download waits for the stream first, so it
// reports a fault of earlier kernels.
func transfer[T float32 | int32](b *Backend, op string, buf kernels.Buffer, dt kernels.DType, host []T, toDevice bool) error {
	if buf == nil {
		return fmt.Errorf("cuda: %s: nil buffer: %w", op, kernels.ErrShape)
	}
	c, err := b.own(buf)
	if err != nil {
		return fmt.Errorf("cuda: %s: %w", op, err)
	}
	if c.dt != dt {
		return fmt.Errorf("cuda: %s: buffer is %v, want %v: %w", op, c.dt, dt, kernels.ErrDType)
	}
	if len(host) != c.n {
		return fmt.Errorf("cuda: %s: %d elements, buffer has %d: %w", op, len(host), c.n, kernels.ErrShape)
	}
	bytes := int64(c.n) * 4
	if toDevice {
		if c.n == 0 {
			return nil
		}
		return b.htod(c.addr(), unsafe.Pointer(&host[0]), bytes)
	}
	if err := b.streamSync(); err != nil {
		return fmt.Errorf("cuda: %s: %w", op, err)
	}
	if c.n == 0 {
		return nil
	}
	return b.dtoh(unsafe.Pointer(&host[0]), c.addr(), bytes)
}

// Upload copies src into dst.
func (b *Backend) Upload(dst kernels.Buffer, src []float32) error {
	return transfer(b, "upload", dst, kernels.Float32, src, true)
}

// UploadInt32 copies src into an Int32 buffer.
func (b *Backend) UploadInt32(dst kernels.Buffer, src []int32) error {
	return transfer(b, "upload", dst, kernels.Int32, src, true)
}

// Download waits for the queued work and copies src into dst.
func (b *Backend) Download(dst []float32, src kernels.Buffer) error {
	return transfer(b, "download", src, kernels.Float32, dst, false)
}

// DownloadInt32 waits for the queued work and copies an Int32 buffer into
// dst.
func (b *Backend) DownloadInt32(dst []int32, src kernels.Buffer) error {
	return transfer(b, "download", src, kernels.Int32, dst, false)
}

// Copy queues a device-to-device copy of src into dst.
func (b *Backend) Copy(dst, src kernels.Buffer) error {
	if dst == nil || src == nil {
		return fmt.Errorf("cuda: copy: nil buffer: %w", kernels.ErrShape)
	}
	if dst.DType() != src.DType() {
		return fmt.Errorf("cuda: copy %v to %v: %w", src.DType(), dst.DType(), kernels.ErrDType)
	}
	if dst.Len() != src.Len() {
		return fmt.Errorf("cuda: copy of %d elements into %d: %w", src.Len(), dst.Len(), kernels.ErrShape)
	}
	p, err := b.ptrs("copy", dst, src)
	if err != nil {
		return err
	}
	if dst.Len() == 0 {
		return nil
	}
	return b.dtodAsync(p[0], p[1], int64(dst.Len())*4)
}

// Fill queues setting every element of dst to v.
func (b *Backend) Fill(dst kernels.Buffer, v float32) error {
	if dst == nil {
		return fmt.Errorf("cuda: fill: nil buffer: %w", kernels.ErrShape)
	}
	c, err := b.own(dst)
	if err != nil {
		return fmt.Errorf("cuda: fill: %w", err)
	}
	if c.dt != kernels.Float32 {
		return fmt.Errorf("cuda: fill: buffer is %v, want float32: %w", c.dt, kernels.ErrDType)
	}
	if c.n == 0 {
		return nil
	}
	return b.memset32Async(c.addr(), math.Float32bits(v), int64(c.n))
}
