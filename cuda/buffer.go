//go:build linux && cgo && !nocuda

package cuda

import (
	"errors"
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// Buffer is a CUDA device buffer, or a view of one.
type Buffer struct {
	owner  *Backend
	blk    *block
	dt     kernels.DType
	off, n int // in elements, within the block
	view   bool
}

// DType returns the element type.
func (x *Buffer) DType() kernels.DType { return x.dt }

// Len returns the number of elements.
func (x *Buffer) Len() int { return x.n }

// Slice returns a view of [off, off+n).
func (x *Buffer) Slice(off, n int) kernels.Buffer {
	if off < 0 || n < 0 || off > x.n-n {
		panic(fmt.Sprintf("cuda: Buffer.Slice(%d, %d) out of range for length %d", off, n, x.n))
	}
	return &Buffer{owner: x.owner, blk: x.blk, dt: x.dt, off: x.off + off, n: n, view: true}
}

// maxElems bounds one allocation (16 GiB of float32).
const maxElems = 1 << 32

// own returns x as a buffer of this backend that is not freed.
func (b *Backend) own(x kernels.Buffer) (*Buffer, error) {
	c, ok := x.(*Buffer)
	if !ok || c == nil {
		return nil, fmt.Errorf("cuda: %T is not a buffer of this CUDA backend: %w", x, kernels.ErrBackend)
	}
	if c.owner != b {
		return nil, fmt.Errorf("cuda: buffer belongs to another backend: %w", kernels.ErrBackend)
	}
	if b.closed {
		return nil, fmt.Errorf("cuda: use of a closed backend: %w", kernels.ErrBackend)
	}
	if c.blk.freed {
		return nil, fmt.Errorf("cuda: use of a freed buffer: %w", kernels.ErrBackend)
	}
	return c, nil
}

// ptr returns the device address of buf's first element (a view's offset
// included), or an error wrapping kernels.ErrBackend for a buffer of
// another backend or a freed one. A nil buffer gives 0, the null pointer
// optional arguments of kernels take.
func (b *Backend) ptr(buf kernels.Buffer) (uint64, error) {
	if buf == nil {
		return 0, nil
	}
	c, err := b.own(buf)
	if err != nil {
		return 0, err
	}
	return c.addr(), nil
}

// addr is the device address of the first element.
func (x *Buffer) addr() uint64 {
	if x.blk.ptr == 0 {
		return 0
	}
	return x.blk.ptr + uint64(x.off)*uint64(x.dt.Size())
}

// ptrs resolves buffers to device addresses (0 for nil), wrapping the first
// error with the operation's name.
func (b *Backend) ptrs(op string, bufs ...kernels.Buffer) ([]uint64, error) {
	out := make([]uint64, len(bufs))
	for i, x := range bufs {
		p, err := b.ptr(x)
		if err != nil {
			return nil, fmt.Errorf("cuda: %s: %w", op, err)
		}
		out[i] = p
	}
	return out, nil
}

// Alloc returns a zeroed buffer of n elements. Its memory comes from the
// caching allocator (see Backend); the zeroing is queued on the stream.
func (b *Backend) Alloc(dt kernels.DType, n int) (kernels.Buffer, error) {
	if n < 0 || n > maxElems {
		return nil, fmt.Errorf("cuda: alloc of %d elements: %w", n, kernels.ErrShape)
	}
	switch dt {
	case kernels.Float32, kernels.Int32:
	default:
		return nil, fmt.Errorf("cuda: alloc of %v: %w", dt, kernels.ErrDType)
	}
	if b.closed {
		return nil, fmt.Errorf("cuda: alloc on a closed backend: %w", kernels.ErrBackend)
	}
	bytes := int64(n) * int64(dt.Size())
	blk, err := b.mem.get(bytes)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		if err := b.memset32Async(blk.ptr, 0, int64(n)); err != nil {
			b.mem.put(blk, bytes)
			return nil, err
		}
	}
	return &Buffer{owner: b, blk: blk, dt: dt, n: n}, nil
}

// Free releases a buffer made by Alloc: its block goes back to the
// allocator's cache for reuse (Trim gives cached memory back to the driver).
func (b *Backend) Free(x kernels.Buffer) error {
	c, err := b.own(x)
	if err != nil {
		return fmt.Errorf("cuda: free: %w", err)
	}
	if c.view {
		return errors.New("cuda: free of a view; free the buffer it was cut from")
	}
	b.mem.put(c.blk, int64(c.n)*int64(c.dt.Size()))
	return nil
}
