//go:build linux && cgo && !nocuda

package cuda

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

// The few types of cuda.h and cublas_api.h the backend uses, declared here so
// that building needs no CUDA headers; the libraries are opened at run time.
typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;
typedef int cublasStatus_t;
typedef void *cublasHandle_t;

static void *lib_cuda, *lib_cublas, *lib_cublaslt;

static CUresult (*p_cuInit)(unsigned int);
static CUresult (*p_cuDriverGetVersion)(int *);
static CUresult (*p_cuGetErrorName)(CUresult, const char **);
static CUresult (*p_cuDeviceGetCount)(int *);
static CUresult (*p_cuDeviceGet)(CUdevice *, int);
static CUresult (*p_cuDeviceGetName)(char *, int, CUdevice);
static CUresult (*p_cuDeviceTotalMem)(size_t *, CUdevice);
static CUresult (*p_cuDeviceGetAttribute)(int *, int, CUdevice);
static CUresult (*p_cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
static CUresult (*p_cuDevicePrimaryCtxRelease)(CUdevice);
static CUresult (*p_cuCtxSetCurrent)(CUcontext);
static CUresult (*p_cuStreamCreate)(CUstream *, unsigned int);
static CUresult (*p_cuStreamDestroy)(CUstream);
static CUresult (*p_cuStreamSynchronize)(CUstream);
static CUresult (*p_cuMemAlloc)(CUdeviceptr *, size_t);
static CUresult (*p_cuMemFree)(CUdeviceptr);
static CUresult (*p_cuMemGetInfo)(size_t *, size_t *);
static CUresult (*p_cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
static CUresult (*p_cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
static CUresult (*p_cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
static CUresult (*p_cuMemsetD32Async)(CUdeviceptr, unsigned int, size_t, CUstream);
static CUresult (*p_cuModuleLoadDataEx)(CUmodule *, const void *, unsigned int, int *, void **);
static CUresult (*p_cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
static CUresult (*p_cuModuleUnload)(CUmodule);
static CUresult (*p_cuLaunchKernel)(CUfunction, unsigned int, unsigned int, unsigned int,
	unsigned int, unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
static CUresult (*p_cuFuncSetAttribute)(CUfunction, int, int);

static cublasStatus_t (*p_cublasCreate)(cublasHandle_t *);
static cublasStatus_t (*p_cublasDestroy)(cublasHandle_t);
static cublasStatus_t (*p_cublasSetStream)(cublasHandle_t, CUstream);
static cublasStatus_t (*p_cublasSetMathMode)(cublasHandle_t, int);
static cublasStatus_t (*p_cublasSgemmStridedBatched)(cublasHandle_t, int, int, int, int, int,
	const float *, const float *, int, long long, const float *, int, long long,
	const float *, float *, int, long long, int);
static cublasStatus_t (*p_cublasGemmStridedBatchedEx)(cublasHandle_t, int, int, int, int, int,
	const void *, const void *, int, int, long long, const void *, int, int, long long,
	const void *, void *, int, int, long long, int, int, int);

#define LOAD(lib, var, name) \
	if (!(*(void **)(&var) = dlsym(lib, name))) return name;

// load_driver opens libcuda.so.1 and resolves every symbol the backend uses.
// It returns NULL, or the name of the first symbol missing, or "dlopen" with
// *err set to dlerror's message.
static const char *load_driver(const char **err) {
	lib_cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib_cuda) {
		*err = dlerror();
		return "dlopen";
	}
	void *l = lib_cuda;
	LOAD(l, p_cuInit, "cuInit");
	LOAD(l, p_cuDriverGetVersion, "cuDriverGetVersion");
	LOAD(l, p_cuGetErrorName, "cuGetErrorName");
	LOAD(l, p_cuDeviceGetCount, "cuDeviceGetCount");
	LOAD(l, p_cuDeviceGet, "cuDeviceGet");
	LOAD(l, p_cuDeviceGetName, "cuDeviceGetName");
	LOAD(l, p_cuDeviceTotalMem, "cuDeviceTotalMem_v2");
	LOAD(l, p_cuDeviceGetAttribute, "cuDeviceGetAttribute");
	LOAD(l, p_cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
	LOAD(l, p_cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
	LOAD(l, p_cuCtxSetCurrent, "cuCtxSetCurrent");
	LOAD(l, p_cuStreamCreate, "cuStreamCreate");
	LOAD(l, p_cuStreamDestroy, "cuStreamDestroy_v2");
	LOAD(l, p_cuStreamSynchronize, "cuStreamSynchronize");
	LOAD(l, p_cuMemAlloc, "cuMemAlloc_v2");
	LOAD(l, p_cuMemFree, "cuMemFree_v2");
	LOAD(l, p_cuMemGetInfo, "cuMemGetInfo_v2");
	LOAD(l, p_cuMemcpyHtoD, "cuMemcpyHtoD_v2");
	LOAD(l, p_cuMemcpyDtoH, "cuMemcpyDtoH_v2");
	LOAD(l, p_cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
	LOAD(l, p_cuMemsetD32Async, "cuMemsetD32Async");
	LOAD(l, p_cuModuleLoadDataEx, "cuModuleLoadDataEx");
	LOAD(l, p_cuModuleGetFunction, "cuModuleGetFunction");
	LOAD(l, p_cuModuleUnload, "cuModuleUnload");
	LOAD(l, p_cuLaunchKernel, "cuLaunchKernel");
	LOAD(l, p_cuFuncSetAttribute, "cuFuncSetAttribute");
	return NULL;
}

// load_cublas opens libcublasLt and libcublas at the given paths (the first
// with RTLD_GLOBAL, so that the second finds it) and resolves the symbols.
// It returns NULL or what failed, with *err set as load_driver does.
static const char *load_cublas(const char *lt, const char *blas, const char **err) {
	void *hlt = dlopen(lt, RTLD_NOW | RTLD_GLOBAL);
	if (!hlt) {
		*err = dlerror();
		return "dlopen";
	}
	void *h = dlopen(blas, RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		*err = dlerror();
		dlclose(hlt);
		return "dlopen";
	}
	const char *missing = NULL;
#define LOADB(var, name) if (!missing && !(*(void **)(&var) = dlsym(h, name))) missing = name;
	LOADB(p_cublasCreate, "cublasCreate_v2");
	LOADB(p_cublasDestroy, "cublasDestroy_v2");
	LOADB(p_cublasSetStream, "cublasSetStream_v2");
	LOADB(p_cublasSetMathMode, "cublasSetMathMode");
	LOADB(p_cublasSgemmStridedBatched, "cublasSgemmStridedBatched");
	LOADB(p_cublasGemmStridedBatchedEx, "cublasGemmStridedBatchedEx");
#undef LOADB
	if (missing) {
		dlclose(h);
		dlclose(hlt);
		return missing;
	}
	lib_cublas = h;
	lib_cublaslt = hlt;
	return NULL;
}

// lib_path returns the file a loaded library was opened from (via one of
// its symbols), or NULL.
static const char *lib_path(void *sym) {
	Dl_info info;
	if (sym && dladdr(sym, &info) && info.dli_fname) return info.dli_fname;
	return NULL;
}
static const char *cuda_path(void) { return lib_path((void *)p_cuInit); }
static const char *cublas_path(void) { return lib_path((void *)p_cublasCreate); }

static const char *error_name(CUresult r) {
	const char *s = NULL;
	if (p_cuGetErrorName && p_cuGetErrorName(r, &s) == 0 && s) return s;
	return NULL;
}

// Calls that need no context.
static CUresult c_init(void) { return p_cuInit(0); }
static CUresult c_driver_version(int *v) { return p_cuDriverGetVersion(v); }
static CUresult c_device_count(int *n) { return p_cuDeviceGetCount(n); }
static CUresult c_device_get(CUdevice *d, int ord) { return p_cuDeviceGet(d, ord); }
static CUresult c_device_name(char *s, int n, CUdevice d) { return p_cuDeviceGetName(s, n, d); }
static CUresult c_device_mem(size_t *b, CUdevice d) { return p_cuDeviceTotalMem(b, d); }
static CUresult c_device_attr(int *v, int a, CUdevice d) { return p_cuDeviceGetAttribute(v, a, d); }
static CUresult c_ctx_retain(CUcontext *c, CUdevice d) { return p_cuDevicePrimaryCtxRetain(c, d); }
static CUresult c_ctx_release(CUdevice d) { return p_cuDevicePrimaryCtxRelease(d); }

// Every call below first makes the backend's context current on the calling
// thread (goroutines move between threads; a cgo call stays on one). A
// failure of cuCtxSetCurrent is returned negated.
#define CTX(c) do { CUresult r_ = p_cuCtxSetCurrent(c); if (r_) return -r_; } while (0)

static CUresult c_stream_create(CUcontext c, CUstream *s) { CTX(c); return p_cuStreamCreate(s, 0); }
static CUresult c_stream_destroy(CUcontext c, CUstream s) { CTX(c); return p_cuStreamDestroy(s); }
static CUresult c_stream_sync(CUcontext c, CUstream s) { CTX(c); return p_cuStreamSynchronize(s); }
static CUresult c_mem_alloc(CUcontext c, CUdeviceptr *p, size_t n) { CTX(c); return p_cuMemAlloc(p, n); }
static CUresult c_mem_free(CUcontext c, CUdeviceptr p) { CTX(c); return p_cuMemFree(p); }
static CUresult c_mem_info(CUcontext c, size_t *free, size_t *total) { CTX(c); return p_cuMemGetInfo(free, total); }
static CUresult c_htod(CUcontext c, CUdeviceptr dst, const void *src, size_t n) { CTX(c); return p_cuMemcpyHtoD(dst, src, n); }
static CUresult c_dtoh(CUcontext c, void *dst, CUdeviceptr src, size_t n) { CTX(c); return p_cuMemcpyDtoH(dst, src, n); }
static CUresult c_dtod_async(CUcontext c, CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
	CTX(c);
	return p_cuMemcpyDtoDAsync(dst, src, n, s);
}
static CUresult c_memset32_async(CUcontext c, CUdeviceptr dst, unsigned int v, size_t n, CUstream s) {
	CTX(c);
	return p_cuMemsetD32Async(dst, v, n, s);
}

// c_module_load JIT-compiles a NUL-terminated PTX image, with the JIT's
// error log (CU_JIT_ERROR_LOG_BUFFER = 5, its size = 6) written to log.
static CUresult c_module_load(CUcontext c, CUmodule *m, const char *image, char *log, unsigned int logSize) {
	CTX(c);
	int opts[2] = {5, 6};
	void *vals[2] = {log, (void *)(uintptr_t)logSize};
	return p_cuModuleLoadDataEx(m, image, 2, opts, vals);
}
static CUresult c_module_function(CUcontext c, CUfunction *f, CUmodule m, const char *name) {
	CTX(c);
	return p_cuModuleGetFunction(f, m, name);
}
static CUresult c_module_unload(CUcontext c, CUmodule m) { CTX(c); return p_cuModuleUnload(m); }
static CUresult c_func_set_attr(CUcontext c, CUfunction f, int attr, int v) { CTX(c); return p_cuFuncSetAttribute(f, attr, v); }
static CUresult c_launch(CUcontext c, CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
	unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem, CUstream s, void **params) {
	CTX(c);
	return p_cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, s, params, NULL);
}

static cublasStatus_t c_blas_create(CUcontext c, cublasHandle_t *h) { CTX(c); return p_cublasCreate(h); }
static cublasStatus_t c_blas_destroy(CUcontext c, cublasHandle_t h) { CTX(c); return p_cublasDestroy(h); }
static cublasStatus_t c_blas_set_stream(CUcontext c, cublasHandle_t h, CUstream s) { CTX(c); return p_cublasSetStream(h, s); }
static cublasStatus_t c_blas_set_math(CUcontext c, cublasHandle_t h, int mode) { CTX(c); return p_cublasSetMathMode(h, mode); }

// c_sgemm runs cublasSgemmStridedBatched (column-major, host alpha/beta).
static cublasStatus_t c_sgemm(CUcontext c, cublasHandle_t h, int ta, int tb, int m, int n, int k,
	float alpha, CUdeviceptr a, int lda, long long sa, CUdeviceptr b, int ldb, long long sb,
	float beta, CUdeviceptr cm, int ldc, long long sc, int batch) {
	CTX(c);
	return p_cublasSgemmStridedBatched(h, ta, tb, m, n, k, &alpha, (const float *)(uintptr_t)a, lda, sa,
		(const float *)(uintptr_t)b, ldb, sb, &beta, (float *)(uintptr_t)cm, ldc, sc, batch);
}

// c_gemm_ex runs cublasGemmStridedBatchedEx on float32 matrices (CUDA_R_32F
// = 0) with the given cublasComputeType_t and CUBLAS_GEMM_DEFAULT (-1).
static cublasStatus_t c_gemm_ex(CUcontext c, cublasHandle_t h, int ta, int tb, int m, int n, int k,
	float alpha, CUdeviceptr a, int lda, long long sa, CUdeviceptr b, int ldb, long long sb,
	float beta, CUdeviceptr cm, int ldc, long long sc, int batch, int compute) {
	CTX(c);
	return p_cublasGemmStridedBatchedEx(h, ta, tb, m, n, k, &alpha, (const void *)(uintptr_t)a, 0, lda, sa,
		(const void *)(uintptr_t)b, 0, ldb, sb, &beta, (void *)(uintptr_t)cm, 0, ldc, sc, batch, compute, -1);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"unsafe"

	"github.com/compacter-go/compacter/kernels"
)

// Device attributes (CUdevice_attribute) and function attributes
// (CUfunction_attribute) the backend reads or sets.
const (
	attrMultiprocessorCount     = 16
	attrComputeCapabilityMajor  = 75
	attrComputeCapabilityMinor  = 76
	attrMaxSharedPerBlockOptin  = 97
	funcAttrMaxDynamicSharedMem = 8
	cudaErrorOutOfMemory        = 2 // CUDA_ERROR_OUT_OF_MEMORY
)

// cuErr turns a CUDA driver result into an error naming the call and the
// CUDA error (nil for CUDA_SUCCESS). A negative result is a failure of the
// cuCtxSetCurrent that precedes every call made with a context.
func cuErr(call string, r C.CUresult) error {
	if r == 0 {
		return nil
	}
	if r < 0 {
		return &cudaError{call: "cuCtxSetCurrent (before " + call + ")", code: int(-r)}
	}
	return &cudaError{call: call, code: int(r)}
}

// cudaError is a failed CUDA driver call.
type cudaError struct {
	call string
	code int
}

func (e *cudaError) Error() string {
	name := "CUDA error " + strconv.Itoa(e.code)
	if s := C.error_name(C.CUresult(e.code)); s != nil {
		name = C.GoString(s)
	}
	return fmt.Sprintf("cuda: %s: %s (%d)", e.call, name, e.code)
}

// isOOM reports whether err is CUDA_ERROR_OUT_OF_MEMORY.
func isOOM(err error) bool {
	var ce *cudaError
	return errors.As(err, &ce) && ce.code == cudaErrorOutOfMemory
}

// cublasStatusNames names the cublasStatus_t values.
var cublasStatusNames = map[int]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
	8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR",
}

// blasErr turns a cuBLAS status into an error naming the call.
func blasErr(call string, r C.cublasStatus_t) error {
	if r == 0 {
		return nil
	}
	if r < 0 {
		return cuErr(call, C.CUresult(r))
	}
	name, ok := cublasStatusNames[int(r)]
	if !ok {
		name = "cuBLAS status " + strconv.Itoa(int(r))
	}
	return fmt.Errorf("cuda: %s: %s (%d)", call, name, int(r))
}

// probeState caches the loader's result: it runs once per process.
var (
	probeOnce sync.Once
	probed    Report
)

// unavailable wraps a reason in kernels.ErrUnavailable.
func unavailable(format string, args ...any) error {
	return fmt.Errorf("cuda: %s: %w", fmt.Sprintf(format, args...), kernels.ErrUnavailable)
}

// Inspect returns what the loader found: the driver, the devices, cuBLAS,
// the PTX architecture, or why the backend cannot run here. The libraries
// are loaded and cuInit called once per process; later calls return the
// cached report.
func Inspect() Report {
	probeOnce.Do(func() { probed = load() })
	r := probed
	r.Devices = append([]Device(nil), r.Devices...)
	r.Tried = append([]string(nil), r.Tried...)
	return r
}

// load runs the loader: libcuda.so.1, cuInit, the driver version, the
// devices, the PTX for the selected device, then cuBLAS.
func load() Report {
	var r Report
	var cerr *C.char
	if what := C.load_driver(&cerr); what != nil {
		if w := C.GoString(what); w == "dlopen" {
			r.Err = unavailable("no CUDA driver: dlopen libcuda.so.1: %s", C.GoString(cerr))
		} else {
			r.Err = unavailable("libcuda.so.1 lacks %s (driver too old; need CUDA %s or newer)", w, versionString(MinDriverVersion))
		}
		return r
	}
	if p := C.cuda_path(); p != nil {
		r.Libcuda = C.GoString(p)
	}
	var v C.int
	if err := cuErr("cuDriverGetVersion", C.c_driver_version(&v)); err != nil {
		r.Err = unavailable("%v", err)
		return r
	}
	r.DriverVersion = int(v)
	if err := cuErr("cuInit", C.c_init()); err != nil {
		r.Err = unavailable("no usable GPU: %v (driver %s at %s)", err, versionString(r.DriverVersion), r.Libcuda)
		return r
	}
	if r.DriverVersion < MinDriverVersion {
		r.Err = unavailable("driver supports CUDA %s, need %s or newer (the PTX is built by nvcc 11.8)",
			versionString(r.DriverVersion), versionString(MinDriverVersion))
		return r
	}
	var n C.int
	if err := cuErr("cuDeviceGetCount", C.c_device_count(&n)); err != nil {
		r.Err = unavailable("%v", err)
		return r
	}
	for i := 0; i < int(n); i++ {
		d, err := deviceInfo(i)
		if err != nil {
			r.Err = unavailable("device %d: %v", i, err)
			return r
		}
		r.Devices = append(r.Devices, d)
	}
	if len(r.Devices) == 0 {
		r.Err = unavailable("the driver (CUDA %s) reports no device", versionString(r.DriverVersion))
		return r
	}
	if s := os.Getenv(EnvDevice); s != "" {
		ord, err := strconv.Atoi(s)
		if err != nil || ord < 0 || ord >= len(r.Devices) {
			r.Err = unavailable("%s=%q: want a device ordinal in [0, %d)", EnvDevice, s, len(r.Devices))
			return r
		}
		r.Device = ord
	}
	arch, err := pickArch(r.Devices[r.Device].CC, ptxArchs())
	if err != nil {
		r.Err = unavailable("device %v: %v", r.Devices[r.Device], err)
		return r
	}
	r.PTXArch = fmt.Sprintf("sm_%d", arch)
	r.Cublas, r.CublasPath, r.Tried, r.Err = loadCublas(r.DriverVersion)
	return r
}

// deviceInfo queries one device; it needs no context.
func deviceInfo(ord int) (Device, error) {
	d := Device{Ordinal: ord}
	var dev C.CUdevice
	if err := cuErr("cuDeviceGet", C.c_device_get(&dev, C.int(ord))); err != nil {
		return d, err
	}
	var name [256]C.char
	if err := cuErr("cuDeviceGetName", C.c_device_name(&name[0], C.int(len(name)), dev)); err != nil {
		return d, err
	}
	d.Name = C.GoString(&name[0])
	var mem C.size_t
	if err := cuErr("cuDeviceTotalMem_v2", C.c_device_mem(&mem, dev)); err != nil {
		return d, err
	}
	d.Memory = int64(mem)
	var major, minor, sms C.int
	for _, a := range []struct {
		attr int
		v    *C.int
	}{{attrComputeCapabilityMajor, &major}, {attrComputeCapabilityMinor, &minor}, {attrMultiprocessorCount, &sms}} {
		if err := cuErr("cuDeviceGetAttribute", C.c_device_attr(a.v, C.int(a.attr), dev)); err != nil {
			return d, err
		}
	}
	d.CC, d.SMs = int(major)*10+int(minor), int(sms)
	return d, nil
}

// cublasCandidates lists the (libcublasLt, libcublas) pairs to try, in
// order: on the loader's path, in /usr/local/cuda/lib64, in $EnvCublasDir;
// in each place the newest version first, skipping versions newer than the
// driver's major version (their runtime would refuse to start).
func cublasCandidates(driverVersion int, envDir string) [][2]string {
	dirs := []string{"", "/usr/local/cuda/lib64"}
	if envDir != "" {
		dirs = append(dirs, envDir)
	}
	var out [][2]string
	for _, dir := range dirs {
		for _, v := range []int{13, 12, 11} {
			if v*1000 > driverVersion {
				continue
			}
			lt, blas := fmt.Sprintf("libcublasLt.so.%d", v), fmt.Sprintf("libcublas.so.%d", v)
			if dir != "" {
				lt, blas = filepath.Join(dir, lt), filepath.Join(dir, blas)
			}
			out = append(out, [2]string{lt, blas})
		}
	}
	return out
}

// loadCublas opens the first cuBLAS that loads and returns its soname and
// path, or the list of what was tried and the error.
func loadCublas(driverVersion int) (soname, path string, tried []string, err error) {
	var last string
	for _, c := range cublasCandidates(driverVersion, os.Getenv(EnvCublasDir)) {
		lt, blas := C.CString(c[0]), C.CString(c[1])
		var cerr *C.char
		what := C.load_cublas(lt, blas, &cerr)
		C.free(unsafe.Pointer(lt))
		C.free(unsafe.Pointer(blas))
		if what == nil {
			soname = filepath.Base(c[1])
			path = c[1]
			if p := C.cublas_path(); p != nil {
				path = C.GoString(p)
			}
			return soname, path, nil, nil
		}
		tried = append(tried, c[1])
		if w := C.GoString(what); w == "dlopen" {
			last = C.GoString(cerr)
		} else {
			last = c[1] + " lacks " + w
		}
	}
	return "", "", tried, unavailable("no cuBLAS found (tried libcublas.so.{13,12,11} with libcublasLt on the loader path, in /usr/local/cuda/lib64 and in $%s; last error: %s)", EnvCublasDir, last)
}

// The calls below wrap the C trampolines for the rest of the package, which
// holds the handles as unsafe.Pointer (CUcontext, CUstream, CUmodule,
// CUfunction and cublasHandle_t are opaque pointers of the driver) and
// device addresses as uint64.

// openContext retains the primary context of device ord and creates a
// stream (blocking with respect to the legacy default stream, so that the
// synchronous copies of Upload and Download are ordered with the kernels) and
// a cuBLAS handle bound to it.
func (b *Backend) openContext(ord int) error {
	var dev C.CUdevice
	if err := cuErr("cuDeviceGet", C.c_device_get(&dev, C.int(ord))); err != nil {
		return err
	}
	var ctx C.CUcontext
	if err := cuErr("cuDevicePrimaryCtxRetain", C.c_ctx_retain(&ctx, dev)); err != nil {
		return err
	}
	b.dev, b.ctx = int32(dev), unsafe.Pointer(ctx)
	var s C.CUstream
	if err := cuErr("cuStreamCreate", C.c_stream_create(ctx, &s)); err != nil {
		return err
	}
	b.stream = unsafe.Pointer(s)
	var h C.cublasHandle_t
	if err := blasErr("cublasCreate_v2", C.c_blas_create(ctx, &h)); err != nil {
		return err
	}
	b.blas = unsafe.Pointer(h)
	if err := blasErr("cublasSetStream_v2", C.c_blas_set_stream(ctx, h, s)); err != nil {
		return err
	}
	// CUBLAS_DEFAULT_MATH (0) keeps FP32 exact; TF32 and BF16 go through
	// cublasGemmStridedBatchedEx's compute type instead.
	if err := blasErr("cublasSetMathMode", C.c_blas_set_math(ctx, h, 0)); err != nil {
		return err
	}
	var sms, smem C.int
	if err := cuErr("cuDeviceGetAttribute", C.c_device_attr(&sms, attrMultiprocessorCount, dev)); err != nil {
		return err
	}
	if err := cuErr("cuDeviceGetAttribute", C.c_device_attr(&smem, attrMaxSharedPerBlockOptin, dev)); err != nil {
		return err
	}
	b.numSMs, b.maxSharedOptin = int(sms), int(smem)
	return nil
}

// closeContext destroys what openContext made, in reverse order; it returns
// the first error.
func (b *Backend) closeContext() error {
	var errs []error
	ctx := C.CUcontext(b.ctx)
	if b.blas != nil {
		errs = append(errs, blasErr("cublasDestroy_v2", C.c_blas_destroy(ctx, C.cublasHandle_t(b.blas))))
		b.blas = nil
	}
	if b.stream != nil {
		errs = append(errs, cuErr("cuStreamDestroy_v2", C.c_stream_destroy(ctx, C.CUstream(b.stream))))
		b.stream = nil
	}
	if b.ctx != nil {
		errs = append(errs, cuErr("cuDevicePrimaryCtxRelease_v2", C.c_ctx_release(C.CUdevice(b.dev))))
		b.ctx = nil
	}
	return errors.Join(errs...)
}

// streamSync waits for the backend's stream.
func (b *Backend) streamSync() error {
	return cuErr("cuStreamSynchronize", C.c_stream_sync(C.CUcontext(b.ctx), C.CUstream(b.stream)))
}

// memAlloc allocates bytes of device memory.
func (b *Backend) memAlloc(bytes int64) (uint64, error) {
	var p C.CUdeviceptr
	err := cuErr("cuMemAlloc_v2", C.c_mem_alloc(C.CUcontext(b.ctx), &p, C.size_t(bytes)))
	return uint64(p), err
}

// memFree frees device memory from memAlloc.
func (b *Backend) memFree(p uint64) error {
	return cuErr("cuMemFree_v2", C.c_mem_free(C.CUcontext(b.ctx), C.CUdeviceptr(p)))
}

// memInfo returns the free and total device memory.
func (b *Backend) memInfo() (free, total int64, err error) {
	var f, t C.size_t
	err = cuErr("cuMemGetInfo_v2", C.c_mem_info(C.CUcontext(b.ctx), &f, &t))
	return int64(f), int64(t), err
}

// htod copies bytes from host memory (Go memory without pointers) to the
// device. cuMemcpyHtoD from pageable memory returns once src has been
// copied out, so src may change afterwards; it is ordered after the work
// queued on the (blocking) stream.
func (b *Backend) htod(dst uint64, src unsafe.Pointer, bytes int64) error {
	return cuErr("cuMemcpyHtoD_v2", C.c_htod(C.CUcontext(b.ctx), C.CUdeviceptr(dst), src, C.size_t(bytes)))
}

// dtoh copies bytes from the device to host memory, synchronously.
func (b *Backend) dtoh(dst unsafe.Pointer, src uint64, bytes int64) error {
	return cuErr("cuMemcpyDtoH_v2", C.c_dtoh(C.CUcontext(b.ctx), dst, C.CUdeviceptr(src), C.size_t(bytes)))
}

// dtodAsync queues a device-to-device copy on the stream.
func (b *Backend) dtodAsync(dst, src uint64, bytes int64) error {
	return cuErr("cuMemcpyDtoDAsync_v2", C.c_dtod_async(C.CUcontext(b.ctx), C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(bytes), C.CUstream(b.stream)))
}

// memset32Async queues setting n 32-bit words to v on the stream.
func (b *Backend) memset32Async(dst uint64, v uint32, n int64) error {
	return cuErr("cuMemsetD32Async", C.c_memset32_async(C.CUcontext(b.ctx), C.CUdeviceptr(dst), C.uint(v), C.size_t(n), C.CUstream(b.stream)))
}

// moduleLoad JIT-compiles a PTX image into a module; a failure carries the
// JIT's error log.
func (b *Backend) moduleLoad(name, ptx string) (unsafe.Pointer, error) {
	img := C.CString(ptx)
	defer C.free(unsafe.Pointer(img))
	const logSize = 8192
	log := (*C.char)(C.calloc(logSize, 1))
	defer C.free(unsafe.Pointer(log))
	var m C.CUmodule
	if err := cuErr("cuModuleLoadDataEx("+name+")", C.c_module_load(C.CUcontext(b.ctx), &m, img, log, logSize)); err != nil {
		if s := C.GoString(log); s != "" {
			return nil, fmt.Errorf("%w; JIT log: %s", err, s)
		}
		return nil, err
	}
	return unsafe.Pointer(m), nil
}

// moduleFunction looks a kernel up in a module.
func (b *Backend) moduleFunction(m unsafe.Pointer, name string) (unsafe.Pointer, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var f C.CUfunction
	if err := cuErr("cuModuleGetFunction("+name+")", C.c_module_function(C.CUcontext(b.ctx), &f, C.CUmodule(m), cs)); err != nil {
		return nil, err
	}
	return unsafe.Pointer(f), nil
}

// moduleUnload unloads a module.
func (b *Backend) moduleUnload(m unsafe.Pointer) error {
	return cuErr("cuModuleUnload", C.c_module_unload(C.CUcontext(b.ctx), C.CUmodule(m)))
}

// funcSetAttr sets a CUfunction_attribute.
func (b *Backend) funcSetAttr(f unsafe.Pointer, attr, v int) error {
	return cuErr("cuFuncSetAttribute", C.c_func_set_attr(C.CUcontext(b.ctx), C.CUfunction(f), C.int(attr), C.int(v)))
}

// launchRaw queues a kernel on the stream; params is C memory holding the
// pointers to the argument values (also in C memory).
func (b *Backend) launchRaw(name string, f unsafe.Pointer, grid, block dim3, shmem int, params unsafe.Pointer) error {
	r := C.c_launch(C.CUcontext(b.ctx), C.CUfunction(f), C.uint(grid.X), C.uint(grid.Y), C.uint(grid.Z),
		C.uint(block.X), C.uint(block.Y), C.uint(block.Z), C.uint(shmem), C.CUstream(b.stream), (*unsafe.Pointer)(params))
	return cuErr("cuLaunchKernel("+name+")", r)
}

// cArgs allocates C memory for n argument slots of 8 bytes and the n
// pointers to them that cuLaunchKernel takes; free releases it.
func cArgs(n int) (vals, ptrs unsafe.Pointer) {
	vals = C.calloc(C.size_t(n), 8)
	ptrs = C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0))))
	for i := 0; i < n; i++ {
		*(*unsafe.Pointer)(unsafe.Add(ptrs, i*int(unsafe.Sizeof(uintptr(0))))) = unsafe.Add(vals, i*8)
	}
	return vals, ptrs
}

// cFree releases C memory from cArgs.
func cFree(p unsafe.Pointer) { C.free(p) }

// gemmRaw runs one column-major strided-batched SGEMM on the stream: with
// compute 0 through cublasSgemmStridedBatched, else through
// cublasGemmStridedBatchedEx with that cublasComputeType_t.
func (b *Backend) gemmRaw(ta, tb bool, m, n, k int, alpha float32, a uint64, lda int, sa int64, bm uint64, ldb int, sb int64,
	beta float32, c uint64, ldc int, sc int64, batch int, compute int) error {
	op := func(t bool) C.int {
		if t {
			return 1 // CUBLAS_OP_T
		}
		return 0 // CUBLAS_OP_N
	}
	ctx, h := C.CUcontext(b.ctx), C.cublasHandle_t(b.blas)
	if compute == 0 {
		return blasErr("cublasSgemmStridedBatched", C.c_sgemm(ctx, h, op(ta), op(tb), C.int(m), C.int(n), C.int(k),
			C.float(alpha), C.CUdeviceptr(a), C.int(lda), C.longlong(sa), C.CUdeviceptr(bm), C.int(ldb), C.longlong(sb),
			C.float(beta), C.CUdeviceptr(c), C.int(ldc), C.longlong(sc), C.int(batch)))
	}
	return blasErr("cublasGemmStridedBatchedEx", C.c_gemm_ex(ctx, h, op(ta), op(tb), C.int(m), C.int(n), C.int(k),
		C.float(alpha), C.CUdeviceptr(a), C.int(lda), C.longlong(sa), C.CUdeviceptr(bm), C.int(ldb), C.longlong(sb),
		C.float(beta), C.CUdeviceptr(c), C.int(ldc), C.longlong(sc), C.int(batch), C.int(compute)))
}
