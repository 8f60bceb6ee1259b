package cpu

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/compacter-go/compacter/kernels"
)

func init() {
	kernels.Register(kernels.Driver{
		Name:     "cpu",
		Priority: 200,
		Open:     func() (kernels.Backend, error) { return New(Options{}), nil },
	})
	kernels.Register(kernels.Driver{
		Name:     "purego",
		Priority: 100,
		Open:     func() (kernels.Backend, error) { return New(Options{PureGo: true}), nil },
	})
}

// SIMD reports whether this build and CPU run the AVX2+FMA assembly kernels.
func SIMD() bool { return hasAVX2FMA }

// Options configure a CPU backend.
type Options struct {
	// Threads is the number of goroutines large operations use; 0 means
	// GOMAXPROCS.
	Threads int
	// PureGo disables the assembly kernels.
	PureGo bool
}

// Backend is the CPU implementation of kernels.Backend. Its buffers live in
// Go memory; operations run synchronously.
type Backend struct {
	name    string
	simd    bool
	threads int

	inUse, peak atomic.Int64

	// cache keeps freed memory for reuse by Alloc of the same dtype and
	// length (a training step frees and allocates the same shapes every
	// step), so the Go heap stays near the peak in use instead of growing
	// to twice the live bytes before each collection.
	cacheMu    sync.Mutex
	cache      map[cacheKey][]*storage
	cacheBytes int64
}

type cacheKey struct {
	dt kernels.DType
	n  int
}

// cacheMin is the smallest allocation worth caching: below it the garbage
// collector does as well.
const cacheMin = 1 << 14

var _ kernels.Backend = (*Backend)(nil)

// New returns a CPU backend. It is named "purego" when it runs no assembly
// by request, else "cpu".
func New(o Options) *Backend {
	b := &Backend{name: "cpu", simd: hasAVX2FMA && !o.PureGo, threads: o.Threads}
	if o.PureGo {
		b.name = "purego"
	}
	return b
}

// Name returns "cpu" or "purego".
func (b *Backend) Name() string { return b.name }

// SIMD reports whether this backend runs the assembly kernels.
func (b *Backend) SIMD() bool { return b.simd }

// Threads returns the number of goroutines large operations use.
func (b *Backend) Threads() int { return maxThreads(b.threads) }

// SetThreads sets the number of goroutines large operations use (0 means
// GOMAXPROCS).
func (b *Backend) SetThreads(n int) { b.threads = max(n, 0) }

// Close does nothing: CPU buffers are garbage collected.
func (b *Backend) Close() error {
	b.Trim()
	return nil
}

// Trim drops the memory of freed buffers that the backend keeps for reuse,
// leaving it to the garbage collector.
func (b *Backend) Trim() {
	b.cacheMu.Lock()
	b.cache, b.cacheBytes = nil, 0
	b.cacheMu.Unlock()
}

// reuse returns a cached, zeroed storage of dt and n elements, or nil.
func (b *Backend) reuse(dt kernels.DType, n int, zero bool) *storage {
	if n < cacheMin {
		return nil
	}
	b.cacheMu.Lock()
	k := cacheKey{dt, n}
	list := b.cache[k]
	if len(list) == 0 {
		b.cacheMu.Unlock()
		return nil
	}
	st := list[len(list)-1]
	b.cache[k] = list[:len(list)-1]
	b.cacheBytes -= int64(n) * int64(dt.Size())
	b.cacheMu.Unlock()
	switch {
	case zero:
		clear(st.f)
		clear(st.i)
	case poisonUninit.Load():
		poison(st)
	}
	return st
}

// keep caches the memory of a freed allocation while the cache holds no
// more than the peak bytes in use.
func (b *Backend) keep(dt kernels.DType, n int, f []float32, i []int32) {
	bytes := int64(n) * int64(dt.Size())
	if n < cacheMin {
		return
	}
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	if b.cacheBytes+bytes > b.peak.Load() {
		return
	}
	if b.cache == nil {
		b.cache = map[cacheKey][]*storage{}
	}
	k := cacheKey{dt, n}
	b.cache[k] = append(b.cache[k], &storage{f: f, i: i})
	b.cacheBytes += bytes
}

// Sync returns nil: every operation has finished when it returns.
func (b *Backend) Sync() error { return nil }

// storage is the memory of one allocation.
type storage struct {
	f     []float32
	i     []int32
	freed bool
	// discarded: the memory went back to the backend (Discard); the
	// buffer reads as zeros and takes memory again on its next use.
	discarded bool
	n         int // the length, while discarded
}

// Buffer is a CPU buffer, or a view of one.
type Buffer struct {
	owner  *Backend
	st     *storage
	dt     kernels.DType
	off, n int
	view   bool
}

// DType returns the element type.
func (x *Buffer) DType() kernels.DType { return x.dt }

// Len returns the number of elements.
func (x *Buffer) Len() int { return x.n }

// Slice returns a view of [off, off+n).
func (x *Buffer) Slice(off, n int) kernels.Buffer {
	if off < 0 || n < 0 || off+n > x.n {
		panic(fmt.Sprintf("cpu: Buffer.Slice(%d, %d) out of range for length %d", off, n, x.n))
	}
	return &Buffer{owner: x.owner, st: x.st, dt: x.dt, off: x.off + off, n: n, view: true}
}

// Float32s returns the memory of a Float32 CPU buffer (shared, not copied),
// for code that runs on the CPU backend only.
func Float32s(x kernels.Buffer) ([]float32, error) {
	c, ok := x.(*Buffer)
	if !ok || c == nil {
		return nil, fmt.Errorf("cpu: %T is not a CPU buffer: %w", x, kernels.ErrBackend)
	}
	if c.st.freed {
		return nil, fmt.Errorf("cpu: use of a freed buffer: %w", kernels.ErrBackend)
	}
	if c.dt != kernels.Float32 {
		return nil, fmt.Errorf("cpu: buffer is %v, want float32: %w", c.dt, kernels.ErrDType)
	}
	if c.st.discarded {
		c.owner.restore(c.st, c.dt, true)
	}
	return c.st.f[c.off : c.off+c.n : c.off+c.n], nil
}

// f32 returns the float32 memory of a buffer of this backend; nil for a nil
// buffer.
func (b *Backend) f32(x kernels.Buffer) ([]float32, error) {
	if x == nil {
		return nil, nil
	}
	if err := b.own(x); err != nil {
		return nil, err
	}
	return Float32s(x)
}

// i32 returns the int32 memory of a buffer of this backend.
func (b *Backend) i32(x kernels.Buffer) ([]int32, error) {
	if err := b.own(x); err != nil {
		return nil, err
	}
	c := x.(*Buffer)
	if c.dt != kernels.Int32 {
		return nil, fmt.Errorf("cpu: buffer is %v, want int32: %w", c.dt, kernels.ErrDType)
	}
	if c.st.discarded {
		b.restore(c.st, c.dt, true)
	}
	return c.st.i[c.off : c.off+c.n : c.off+c.n], nil
}

func (b *Backend) own(x kernels.Buffer) error {
	c, ok := x.(*Buffer)
	if !ok || c == nil {
		return fmt.Errorf("cpu: %T is not a buffer of backend %s: %w", x, b.name, kernels.ErrBackend)
	}
	if c.owner != b {
		return fmt.Errorf("cpu: buffer belongs to another backend: %w", kernels.ErrBackend)
	}
	if c.st.freed {
		return fmt.Errorf("cpu: use of a freed buffer: %w", kernels.ErrBackend)
	}
	return nil
}

// maxElems bounds one allocation (16 GiB of float32).
const maxElems = 1 << 32

// Alloc returns a zeroed buffer of n elements.
func (b *Backend) Alloc(dt kernels.DType, n int) (kernels.Buffer, error) {
	return b.alloc(dt, n, true)
}

// AllocUninit is Alloc without the zeroing, for buffers the caller writes
// whole before reading (kernels.UninitAllocator): memory kept from a freed
// buffer comes back as it was left. With SetPoisonUninit(true) it comes back
// filled with NaN (Int32: math.MinInt32) instead, so a test can show that
// nothing reads it before writing.
func (b *Backend) AllocUninit(dt kernels.DType, n int) (kernels.Buffer, error) {
	return b.alloc(dt, n, false)
}

func (b *Backend) alloc(dt kernels.DType, n int, zero bool) (kernels.Buffer, error) {
	if n < 0 || n > maxElems {
		return nil, fmt.Errorf("cpu: alloc of %d elements: %w", n, kernels.ErrShape)
	}
	switch dt {
	case kernels.Float32, kernels.Int32:
	default:
		return nil, fmt.Errorf("cpu: alloc of %v: %w", dt, kernels.ErrDType)
	}
	st := b.take(dt, n, zero)
	b.count(int64(n) * int64(dt.Size()))
	return &Buffer{owner: b, st: st, dt: dt, n: n}, nil
}

// take returns the memory of n elements of dt: cached (zeroed when zero)
// or new.
func (b *Backend) take(dt kernels.DType, n int, zero bool) *storage {
	st := b.reuse(dt, n, zero)
	if st == nil {
		st = &storage{}
		if dt == kernels.Float32 {
			st.f = make([]float32, n)
			adviseHuge(st.f)
		} else {
			st.i = make([]int32, n)
		}
		if !zero && poisonUninit.Load() {
			poison(st)
		}
	}
	return st
}

// count adds bytes to the bytes in use and raises the peak.
func (b *Backend) count(bytes int64) {
	use := b.inUse.Add(bytes)
	for {
		p := b.peak.Load()
		if use <= p || b.peak.CompareAndSwap(p, use) {
			break
		}
	}
}

// Discard gives the memory of a whole buffer back to the backend (to the
// cache of freed memory) and leaves the buffer reading as zeros: its next
// use takes memory again, zeroed (kernels.Discarder), or uninitialized
// when that use is a Gemm that writes all of it. Buffers under 16 Ki
// elements are zeroed in place instead. Mem's InUse drops by the buffer's
// bytes until then.
func (b *Backend) Discard(x kernels.Buffer) error {
	if err := b.own(x); err != nil {
		return fmt.Errorf("cpu: discard: %w", err)
	}
	c := x.(*Buffer)
	switch {
	case c.view:
		return errors.New("cpu: discard of a view; discard the buffer it was cut from")
	case c.st.discarded:
		return nil
	case c.n < cacheMin: // the cache would not keep its memory
		clear(c.st.f)
		clear(c.st.i)
		return nil
	}
	b.keep(c.dt, c.n, c.st.f, c.st.i)
	c.st.f, c.st.i, c.st.discarded, c.st.n = nil, nil, true, c.n
	b.inUse.Add(-int64(c.n) * int64(c.dt.Size()))
	return nil
}

// restore gives a discarded storage of dt memory again: zeroed, or
// uninitialized when the caller writes all of it.
func (b *Backend) restore(st *storage, dt kernels.DType, zero bool) {
	m := b.take(dt, st.n, zero)
	st.f, st.i, st.discarded = m.f, m.i, false
	b.count(int64(st.n) * int64(dt.Size()))
}

var _ kernels.Discarder = (*Backend)(nil)

// poisonUninit makes AllocUninit fill its buffers with NaN (tests).
var poisonUninit atomic.Bool

// SetPoisonUninit makes AllocUninit of every cpu backend fill the buffers
// it returns with NaN (Int32: math.MinInt32) when on, so that a test shows a
// caller never reads them before writing; it returns the previous setting.
func SetPoisonUninit(on bool) bool { return poisonUninit.Swap(on) }

func poison(st *storage) {
	nan := float32(math.NaN())
	for i := range st.f {
		st.f[i] = nan
	}
	for i := range st.i {
		st.i[i] = math.MinInt32
	}
}

var _ kernels.UninitAllocator = (*Backend)(nil)

// Free releases a buffer made by Alloc. Its memory (from 16 Ki elements up)
// is kept for a later Alloc of the same dtype and length, as long as the
// memory kept does not exceed the peak in use; Trim and Close drop it.
func (b *Backend) Free(x kernels.Buffer) error {
	if err := b.own(x); err != nil {
		return fmt.Errorf("cpu: free: %w", err)
	}
	c := x.(*Buffer)
	if c.view {
		return errors.New("cpu: free of a view; free the buffer it was cut from")
	}
	c.st.freed = true
	if c.st.discarded {
		return nil // its memory and bytes in use went back at Discard
	}
	b.keep(c.dt, c.n, c.st.f, c.st.i)
	c.st.f, c.st.i = nil, nil
	b.inUse.Add(-int64(c.n) * int64(c.dt.Size()))
	return nil
}

// Mem reports the bytes in use and the peak.
func (b *Backend) Mem() kernels.MemStats {
	return kernels.MemStats{InUse: b.inUse.Load(), Peak: b.peak.Load()}
}

// ResetPeak sets the peak to the bytes in use now.
func (b *Backend) ResetPeak() { b.peak.Store(b.inUse.Load()) }

// transfer copies between host memory and the memory of a buffer of this
// backend, got with mem, after checking that the lengths match.
func transfer[T any](op string, buf kernels.Buffer, host []T, mem func(kernels.Buffer) ([]T, error), toBuf bool) error {
	m, err := mem(buf)
	if err != nil {
		return fmt.Errorf("cpu: %s: %w", op, err)
	}
	if m == nil {
		return fmt.Errorf("cpu: %s: nil buffer: %w", op, kernels.ErrShape)
	}
	if len(host) != len(m) {
		return fmt.Errorf("cpu: %s: %d elements, buffer has %d: %w", op, len(host), len(m), kernels.ErrShape)
	}
	if toBuf {
		copy(m, host)
	} else {
		copy(host, m)
	}
	return nil
}

// Upload copies src into dst.
func (b *Backend) Upload(dst kernels.Buffer, src []float32) error {
	return transfer("upload", dst, src, b.f32, true)
}

// UploadInt32 copies src into an Int32 buffer.
func (b *Backend) UploadInt32(dst kernels.Buffer, src []int32) error {
	return transfer("upload", dst, src, b.i32, true)
}

// Download copies src into dst.
func (b *Backend) Download(dst []float32, src kernels.Buffer) error {
	return transfer("download", src, dst, b.f32, false)
}

// DownloadInt32 copies an Int32 buffer into dst.
func (b *Backend) DownloadInt32(dst []int32, src kernels.Buffer) error {
	return transfer("download", src, dst, b.i32, false)
}

// Copy copies src into dst.
func (b *Backend) Copy(dst, src kernels.Buffer) error {
	if dst == nil || src == nil {
		return fmt.Errorf("cpu: copy: nil buffer: %w", kernels.ErrShape)
	}
	if dst.DType() != src.DType() {
		return fmt.Errorf("cpu: copy %v to %v: %w", src.DType(), dst.DType(), kernels.ErrDType)
	}
	if dst.Len() != src.Len() {
		return fmt.Errorf("cpu: copy of %d elements into %d: %w", src.Len(), dst.Len(), kernels.ErrShape)
	}
	if dst.DType() == kernels.Int32 {
		d, err := b.i32(dst)
		if err != nil {
			return err
		}
		s, err := b.i32(src)
		if err != nil {
			return err
		}
		copy(d, s)
		return nil
	}
	d, err := b.f32(dst)
	if err != nil {
		return err
	}
	s, err := b.f32(src)
	if err != nil {
		return err
	}
	// In parallel: one core does not reach the memory bandwidth of two
	// (the adapters copy a [rows, d_model] activation in each layer).
	// Overlapping views of one buffer are copied serially (copy's memmove
	// semantics).
	if len(d) > 0 && overlaps(d, s) {
		copy(d, s)
		return nil
	}
	b.par(len(d), elemGrain, func(lo, hi int) { copy(d[lo:hi], s[lo:hi]) })
	return nil
}

// Fill sets every element of dst to v.
func (b *Backend) Fill(dst kernels.Buffer, v float32) error {
	if c, ok := dst.(*Buffer); ok && v == 0 && !math.Signbit(float64(v)) && b.own(dst) == nil && c.st.discarded && c.dt == kernels.Float32 {
		return nil // it reads as zeros already
	}
	d, err := b.f32(dst)
	if err != nil {
		return fmt.Errorf("cpu: fill: %w", err)
	}
	if d == nil {
		return fmt.Errorf("cpu: fill: nil buffer: %w", kernels.ErrShape)
	}
	b.par(len(d), elemGrain, func(lo, hi int) {
		c := d[lo:hi]
		if v == 0 && !math.Signbit(float64(v)) {
			clear(c) // memclr
			return
		}
		for i := range c {
			c[i] = v
		}
	})
	return nil
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C.
func (b *Backend) Gemm(p kernels.GemmParams) error {
	p, err := p.Normalize()
	if err != nil {
		return err
	}
	if p.M == 0 || p.N == 0 {
		return nil
	}
	if b.writesDiscarded(p) {
		// C reads as zeros and the product writes all of it: it takes
		// memory uninitialized and beta·C drops out (a gradient's first
		// product after the fused step discarded it), instead of the
		// memory being cleared only to be added to.
		cb := p.C.(*Buffer)
		b.restore(cb.st, cb.dt, false)
		p.Beta = 0
	}
	c, err := b.f32(p.C)
	if err != nil {
		return fmt.Errorf("cpu: gemm C: %w", err)
	}
	var a, bb []float32
	if p.K > 0 {
		if a, err = b.f32(p.A); err != nil {
			return fmt.Errorf("cpu: gemm A: %w", err)
		}
		if bb, err = b.f32(p.B); err != nil {
			return fmt.Errorf("cpu: gemm B: %w", err)
		}
	}
	item := func(i, threads int) {
		var ai, bi []float32
		if p.K > 0 {
			ai, bi = a[i*p.StrideA:], bb[i*p.StrideB:]
		}
		sgemm(b.simd, threads, p.TransA, p.TransB, p.M, p.N, p.K, p.Alpha, ai, p.LDA, bi, p.LDB, p.Beta, c[i*p.StrideC:], p.LDC)
	}
	// A batch of products each too small for sgemm to split (attention's
	// per-head products, 128×128×64) runs its items in parallel instead,
	// one thread each: otherwise every core but one idles through them. So
	// does a batch of at least two items per thread (the reassociated
	// cross-attention's per-example 192×128×768 and per-head 128×64×768
	// products): whole items per thread instead of each item split over
	// the threads, which costs a fork-join per item and, at N = 64, splits
	// the few column panels (Xeon, t5-base step: 192×128×768 ×8 223 → 333
	// GFLOP/s, 128×64×768 ×12 149 → 256). Each
	// item is computed as it would be alone, so the bits do not depend on
	// the split.
	if t := maxThreads(b.threads); p.Batch > 1 && t > 1 && (p.M*p.N*max(p.K, 1) < 2*sgemmParallelMin || p.Batch >= 2*t && p.Batch%t == 0) {
		parallelFor(b.threads, p.Batch, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				item(i, 1)
			}
		})
		return nil
	}
	for i := 0; i < p.Batch; i++ {
		item(i, b.threads)
	}
	return nil
}

// writesDiscarded reports whether the product p (normalized) writes every
// element of its C, a whole discarded float32 buffer of this backend that
// is neither A nor B, with a finite beta: then beta·C is zero.
func (b *Backend) writesDiscarded(p kernels.GemmParams) bool {
	cb, ok := p.C.(*Buffer)
	if !ok || cb.owner != b || cb.view || !cb.st.discarded || cb.st.freed || cb.dt != kernels.Float32 {
		return false
	}
	if p.K == 0 || p.Alpha == 0 || math.IsInf(float64(p.Beta), 0) || math.IsNaN(float64(p.Beta)) {
		return false
	}
	for _, x := range []kernels.Buffer{p.A, p.B} {
		if xb, ok := x.(*Buffer); ok && xb.st == cb.st {
			return false
		}
	}
	return p.Batch == 1 && p.LDC == p.N && p.M*p.N == cb.st.n
}

// InPlaceHeads implements kernels.InPlaceHeads: a call costs the CPU no
// more than its work, so attention reads its heads in place (one batched
// product per head) instead of permuting them.
func (b *Backend) InPlaceHeads() bool { return true }

// overlaps reports whether two non-empty slices share memory.
func overlaps(x, y []float32) bool {
	x0, y0 := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return x0 < y0+uintptr(len(y))*4 && y0 < x0+uintptr(len(x))*4
}
