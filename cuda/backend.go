//go:build linux && cgo && !nocuda

package cuda

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"github.com/compacter-go/compacter/kernels"
)

func init() {
	kernels.Register(kernels.Driver{
		Name:     "cuda",
		Priority: 300,
		Probe:    Probe,
		Open:     openDriver,
	})
}

// Probe reports whether the backend can run here: nil, or the reason it
// cannot, wrapping kernels.ErrUnavailable. It loads the libraries and
// queries the devices once per process (no context is created), so it is
// cheap after the first call and safe on a machine without a GPU.
func Probe() error { return Inspect().Err }

// Math selects how Gemm computes its products on the tensor cores.
type Math uint8

// GEMM compute modes.
const (
	// MathFP32 is exact float32 arithmetic (cublasSgemm), the default.
	MathFP32 Math = iota
	// MathTF32 rounds the inputs to TF32 (10-bit mantissa) and accumulates
	// in float32 (CUBLAS_COMPUTE_32F_FAST_TF32): several times faster on
	// Ampere and Hopper, with a relative error near 1e-3.
	MathTF32
	// MathBF16 rounds the inputs to bfloat16 (CUBLAS_COMPUTE_32F_FAST_16BF),
	// relative error near 1e-2.
	MathBF16
)

// cublasCompute maps a Math to its cublasComputeType_t (0: plain SGEMM).
func (m Math) cublasCompute() int {
	switch m {
	case MathTF32:
		return 77 // CUBLAS_COMPUTE_32F_FAST_TF32
	case MathBF16:
		return 75 // CUBLAS_COMPUTE_32F_FAST_16BF
	}
	return 0
}

// String returns "fp32", "tf32" or "bf16".
func (m Math) String() string {
	switch m {
	case MathFP32:
		return "fp32"
	case MathTF32:
		return "tf32"
	case MathBF16:
		return "bf16"
	}
	return fmt.Sprintf("Math(%d)", uint8(m))
}

// ParseMath parses "fp32", "tf32" or "bf16" ("" is fp32).
func ParseMath(s string) (Math, error) {
	switch s {
	case "", "fp32":
		return MathFP32, nil
	case "tf32":
		return MathTF32, nil
	case "bf16":
		return MathBF16, nil
	}
	return 0, fmt.Errorf("cuda: unknown math mode %q (want fp32, tf32 or bf16)", s)
}

// Options configure a CUDA backend.
type Options struct {
	// Device is the device ordinal; -1 means the one the loader selected
	// (COMPACTER_CUDA_DEVICE, default 0).
	Device int
	// Math is the GEMM compute mode.
	Math Math
	// TF32 is a shorthand for Math = MathTF32.
	TF32 bool
}

// EnvOptions returns the options of a backend opened by name: the device of
// the loader and the math mode of $COMPACTER_CUDA_MATH (or
// $COMPACTER_CUDA_TF32=1).
func EnvOptions() (Options, error) {
	o := Options{Device: -1}
	m, err := ParseMath(os.Getenv(EnvMath))
	if err != nil {
		return o, fmt.Errorf("%s: %w", EnvMath, err)
	}
	o.Math = m
	if os.Getenv(EnvTF32) == "1" {
		o.TF32 = true
	}
	return o, nil
}

// Backend is the CUDA implementation of kernels.Backend: buffers live in
// device memory, operations are queued on one stream of the device's
// primary context and run asynchronously; Download, Sync and the operations
// that must read ids or labels wait for them. A Backend is safe for use by
// one goroutine at a time.
type Backend struct {
	dev    int32
	ctx    unsafe.Pointer // CUcontext (the device's primary context)
	stream unsafe.Pointer // CUstream
	blas   unsafe.Pointer // cublasHandle_t
	math   Math
	device Device

	// Device attributes: the number of SMs, the compute capability
	// (major·10 + minor) and the largest dynamic shared memory a block may
	// opt in to, in bytes.
	numSMs, cc, maxSharedOptin int
	arch                       int // of the PTX in use (80, 90)

	mem     allocator
	modules map[string]unsafe.Pointer // CUmodule by module name
	funcs   map[string]*function      // by module + "." + kernel
	argVals unsafe.Pointer            // C memory for kernel arguments
	argPtrs unsafe.Pointer            // C memory: pointers to argVals' slots
	scratch uint64                    // device memory for reductions (scratchBytes)
	pending error                     // first asynchronous error since the last Sync
	closed  bool
}

var _ kernels.Backend = (*Backend)(nil)

// maxArgs is the most kernel arguments one launch takes.
const maxArgs = 64

// scratchBytes is the size of the backend's scratch memory: the partial
// sums of SumSquares.
const scratchBytes = 8 * 1024

// openDriver is the registry's Open: a backend with EnvOptions.
func openDriver() (kernels.Backend, error) {
	o, err := EnvOptions()
	if err != nil {
		return nil, err
	}
	b, err := New(o)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// New opens a backend on a device. It fails, wrapping
// kernels.ErrUnavailable, where Probe does.
func New(o Options) (*Backend, error) {
	r := Inspect()
	if r.Err != nil {
		return nil, r.Err
	}
	ord := o.Device
	if ord < 0 {
		ord = r.Device
	}
	if ord >= len(r.Devices) {
		return nil, fmt.Errorf("cuda: device %d of %d: %w", ord, len(r.Devices), kernels.ErrUnavailable)
	}
	arch, err := pickArch(r.Devices[ord].CC, ptxArchs())
	if err != nil {
		return nil, fmt.Errorf("cuda: device %v: %v: %w", r.Devices[ord], err, kernels.ErrUnavailable)
	}
	b := &Backend{math: o.Math, device: r.Devices[ord], cc: r.Devices[ord].CC, arch: arch,
		modules: map[string]unsafe.Pointer{}, funcs: map[string]*function{}}
	if o.TF32 {
		b.math = MathTF32
	}
	if b.math > MathBF16 {
		return nil, fmt.Errorf("cuda: unknown math mode %v", b.math)
	}
	if err := b.openContext(ord); err != nil {
		return nil, errors.Join(err, b.closeContext())
	}
	b.mem = allocator{alloc: b.memAlloc, free: b.memFree, sync: b.streamSync}
	var err2 error
	if b.scratch, err2 = b.memAlloc(scratchBytes); err2 != nil {
		return nil, errors.Join(err2, b.closeContext())
	}
	b.argVals, b.argPtrs = cArgs(maxArgs)
	return b, nil
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// Device describes the backend's device.
func (b *Backend) Device() Device { return b.device }

// Math returns the GEMM compute mode.
func (b *Backend) Math() Math { return b.math }

// SetMath changes the GEMM compute mode.
func (b *Backend) SetMath(m Math) { b.math = m }

// Sync waits for the queued work and returns the first asynchronous error
// since the previous Sync (a kernel fault surfaces here), then clears it.
func (b *Backend) Sync() error {
	if b.closed {
		return fmt.Errorf("cuda: sync of a closed backend: %w", kernels.ErrBackend)
	}
	b.noteAsync(b.streamSync())
	err := b.pending
	b.pending = nil
	return err
}

// noteAsync records err (when not nil) as the pending asynchronous error
// unless one is already pending.
func (b *Backend) noteAsync(err error) {
	if err != nil && b.pending == nil {
		b.pending = err
	}
}

// Close waits for the queued work, frees every buffer (in use or cached),
// the modules, the stream and the cuBLAS handle, and releases the primary
// context. Buffers of a closed backend must not be used.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	errs := []error{b.streamSync()}
	errs = append(errs, b.mem.releaseAll())
	if b.scratch != 0 {
		errs = append(errs, b.memFree(b.scratch))
		b.scratch = 0
	}
	for name, m := range b.modules {
		errs = append(errs, b.moduleUnload(m))
		delete(b.modules, name)
	}
	clear(b.funcs)
	errs = append(errs, b.closeContext())
	cFree(b.argVals)
	cFree(b.argPtrs)
	b.argVals, b.argPtrs = nil, nil
	b.closed = true
	return errors.Join(errs...)
}

// MemInfo returns the free and total memory of the device, as the driver
// reports them (other processes' use included).
func (b *Backend) MemInfo() (free, total int64, err error) { return b.memInfo() }
