// Package cuda is the NVIDIA GPU backend of compacter: every
// kernels.Backend operation on the device, GEMMs through cuBLAS, hand-written
// kernels (kernels/*.cu, compiled to PTX and embedded) for the rest.
// Importing the package registers the driver "cuda" (priority 300, above the
// CPU's 200), so kernels.Default picks the GPU where one is usable and the
// CPU elsewhere; kernels.Open("cuda") on a machine without one returns the
// reason, wrapping kernels.ErrUnavailable. `compacter doctor` prints what
// the loader found.
//
// # Building
//
// The package is built whenever cgo is on, on Linux (amd64, arm64), with a C
// compiler only: no CUDA headers, no CUDA libraries at link time. The few
// driver and cuBLAS types and prototypes are declared in the cgo preamble and
// the libraries are opened with dlopen at run time, so one binary runs on
// machines with and without a GPU. With -tags nocuda, or CGO_ENABLED=0, or
// on another OS, a stub registers "cuda" as unavailable and says why.
//
// # Loader
//
// Probe (and Inspect, which reports the details) runs once per process and
// creates no context:
//
//  1. dlopen libcuda.so.1 on the loader's path (the driver's library);
//  2. cuDriverGetVersion and cuInit; the driver must support CUDA 11.8 or
//     newer (MinDriverVersion: the PTX is built by nvcc 11.8, ISA 7.8);
//  3. the devices (name, compute capability, memory, SMs); the one used is
//     $COMPACTER_CUDA_DEVICE (default 0); its compute capability must be at
//     least 8.0, the oldest embedded PTX;
//  4. cuBLAS: libcublasLt.so.N then libcublas.so.N (both RTLD_GLOBAL), for N
//     = 13, 12, 11 but not above the driver's major version, first on the
//     loader's path (LD_LIBRARY_PATH, ldconfig), then in
//     /usr/local/cuda/lib64, then in the folder named by
//     $COMPACTER_CUBLAS_DIR (for example a pip wheel's nvidia/cu13/lib).
//
// Every CUDA and cuBLAS call is checked; a failure becomes an error naming
// the call and the CUDA error (cuGetErrorName), e.g. "cuda: cuInit:
// CUDA_ERROR_NO_DEVICE (100)".
//
// # Execution
//
// A Backend (New, or kernels.Open("cuda")) retains the device's primary
// context and creates its own stream and cuBLAS handle. Operations validate
// their arguments on the host exactly as the CPU backend does, then queue
// their kernels on the stream and return. Upload is a synchronous copy (the
// host slice may be reused at once); Download waits for the stream first.
// Embedding, EmbeddingBackward and CrossEntropy download their ids or labels
// and check the range before launching, so a bad id is an error of the call
// (this waits for the queued work). Sync waits and returns the first
// asynchronous error since the previous Sync (a kernel fault), once.
//
// The PTX of each module is JIT-compiled by the driver on its first use,
// for the highest embedded architecture (sm_80, sm_90) not above the
// device's, and cached for the backend's life.
//
// # GEMM compute modes
//
// Gemm is exact FP32 by default (cublasSgemmStridedBatched). Options.Math
// (or Options.TF32) selects TF32 tensor-core math (inputs rounded to a
// 10-bit mantissa, several times faster on Ampere and Hopper) or BF16; for a
// backend opened by name, $COMPACTER_CUDA_MATH=fp32|tf32|bf16 or
// $COMPACTER_CUDA_TF32=1 does. Backend.SetMath changes it later.
//
// # Memory
//
// Buffers come from a caching allocator: device allocations are rounded up
// to size classes (512 bytes, then eight classes per power of two), freed
// blocks are kept in bins and reused by later allocations of the same class
// (stream order makes that safe without waiting). When cuMemAlloc fails for
// lack of memory, the cached blocks are released and the allocation retried
// once; a second failure is an error wrapping kernels.ErrOutOfMemory with
// the size asked and the bytes in use. Mem reports the bytes of live
// buffers (as asked) and their peak; Cached the bytes kept; Trim releases
// them.
//
// # Tests
//
// Without a GPU the tests check the fallback (the reason, the CPU chosen),
// the embedded PTX (TestPTXHash: each PTX records the sha256 of its .cu; run
// `make ptx` after editing a kernel), the allocator and buffer bookkeeping,
// and, where nvcc is installed, that every kernel compiles. On a GPU build
// the test binary here and run it there:
//
//	go test -c -o cuda.test ./cuda
//	./cuda.test -test.v -test.run 'Conformance|Gemm|Device|Launch|Fallback'
//
// The conformance suite (kerneltest.Run) runs every operation on awkward
// shapes, views at odd offsets, aliasing and error paths against float64
// references.
package cuda
