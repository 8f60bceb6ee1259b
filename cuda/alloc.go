//go:build linux && cgo && !nocuda

package cuda

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/compacter-go/compacter/kernels"
)

// block is one device allocation of the caching allocator.
type block struct {
	ptr   uint64 // device address; 0 for an empty buffer
	size  int64  // bytes reserved: the size class
	freed bool   // freed by the user (or by Close): buffers on it are invalid
}

// allocator is the backend's caching device allocator. Device allocation
// (cuMemAlloc) is slow and synchronising, and a training step frees and
// allocates the same shapes every step, so freed blocks are kept in bins of
// their size class and reused; when the device runs out of memory the
// cached blocks are released and the allocation retried once. Work queued on
// the one stream is ordered, so a block freed while kernels still use it
// can be handed to the next Alloc at once: whatever that Alloc's owner
// queues runs after them. The device calls are hooks so the bookkeeping is
// tested without a device.
type allocator struct {
	alloc func(bytes int64) (uint64, error) // cuMemAlloc
	free  func(ptr uint64) error            // cuMemFree
	sync  func() error                      // waits for the stream before memory goes back to the driver

	bins   map[int64][]*block  // freed blocks by size class
	live   map[*block]struct{} // blocks in use
	cached int64               // bytes in bins
	inUse  int64               // bytes of the buffers allocated and not freed, as asked
	peak   int64               // maximum of inUse since the last resetPeak
}

// sizeClass rounds a request up to its bin: at least 512 bytes, else a
// multiple of 1/8 of the power of two at or above it (so at most 25% is
// wasted and a bin serves requests within 20% of each other).
func sizeClass(bytes int64) int64 {
	if bytes <= 512 {
		return 512
	}
	k := bits.Len64(uint64(bytes - 1)) // 2^k ≥ bytes > 2^(k-1)
	step := int64(1) << (k - 3)
	return (bytes + step - 1) / step * step
}

// get returns a block of at least bytes (an empty block for 0), counting
// asked bytes in use.
func (a *allocator) get(bytes int64) (*block, error) {
	if a.live == nil {
		a.live = map[*block]struct{}{}
	}
	blk := &block{}
	if bytes > 0 {
		class := sizeClass(bytes)
		if list := a.bins[class]; len(list) > 0 {
			blk = list[len(list)-1]
			a.bins[class] = list[:len(list)-1]
			a.cached -= class
			blk.freed = false
		} else {
			p, err := a.alloc(class)
			if err != nil && isOOM(err) && a.cached > 0 {
				if rerr := a.releaseCached(); rerr != nil {
					return nil, errors.Join(err, rerr)
				}
				p, err = a.alloc(class)
			}
			if err != nil {
				if isOOM(err) {
					return nil, fmt.Errorf("cuda: alloc of %d bytes with %d bytes in use: %w: %w", bytes, a.inUse, err, kernels.ErrOutOfMemory)
				}
				return nil, fmt.Errorf("cuda: alloc of %d bytes: %w", bytes, err)
			}
			blk = &block{ptr: p, size: class}
		}
	}
	a.live[blk] = struct{}{}
	a.inUse += bytes
	a.peak = max(a.peak, a.inUse)
	return blk, nil
}

// put takes back a block of a buffer of the given asked bytes and keeps it
// in its bin.
func (a *allocator) put(blk *block, bytes int64) {
	delete(a.live, blk)
	blk.freed = true
	a.inUse -= bytes
	if blk.size == 0 {
		return
	}
	if a.bins == nil {
		a.bins = map[int64][]*block{}
	}
	a.bins[blk.size] = append(a.bins[blk.size], blk)
	a.cached += blk.size
}

// releaseCached gives the cached blocks back to the driver, after the
// stream has finished with them.
func (a *allocator) releaseCached() error {
	if a.cached == 0 {
		return nil
	}
	errs := []error{a.sync()}
	for class, list := range a.bins {
		for _, blk := range list {
			errs = append(errs, a.free(blk.ptr))
		}
		delete(a.bins, class)
	}
	a.cached = 0
	return errors.Join(errs...)
}

// releaseAll frees every block, cached or in use (Close): buffers still
// referring to one become invalid.
func (a *allocator) releaseAll() error {
	errs := []error{a.releaseCached()}
	for blk := range a.live {
		blk.freed = true
		if blk.size > 0 {
			errs = append(errs, a.free(blk.ptr))
		}
		delete(a.live, blk)
	}
	a.inUse = 0
	return errors.Join(errs...)
}

// Mem reports the bytes of the buffers allocated and not freed (as asked,
// not rounded to size classes) and their peak.
func (b *Backend) Mem() kernels.MemStats {
	return kernels.MemStats{InUse: b.mem.inUse, Peak: b.mem.peak}
}

// ResetPeak sets the peak to the bytes in use now.
func (b *Backend) ResetPeak() { b.mem.peak = b.mem.inUse }

// Cached returns the bytes of device memory the allocator keeps for reuse.
func (b *Backend) Cached() int64 { return b.mem.cached }

// Trim waits for the stream and gives the memory of freed buffers back to
// the driver.
func (b *Backend) Trim() error { return b.mem.releaseCached() }
