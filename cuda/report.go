package cuda

import "fmt"

// MinDriverVersion is the oldest CUDA driver the backend accepts, as
// cuDriverGetVersion reports it (major·1000 + minor·10): the embedded PTX is
// built by nvcc 11.8 (PTX ISA 7.8), which a driver older than CUDA 11.8
// cannot JIT-compile.
const MinDriverVersion = 11080

// Environment variables read by the loader and the backend.
const (
	// EnvCublasDir names a folder searched for libcublas.so.{13,12,11} (and
	// libcublasLt of the same version) after the loader's path and
	// /usr/local/cuda/lib64.
	EnvCublasDir = "COMPACTER_CUBLAS_DIR"
	// EnvDevice selects the device ordinal the backend opens (default 0).
	EnvDevice = "COMPACTER_CUDA_DEVICE"
	// EnvMath selects the GEMM compute mode of backends opened by name
	// ("fp32", the default, "tf32" or "bf16"); see Math.
	EnvMath = "COMPACTER_CUDA_MATH"
	// EnvTF32 set to 1 is a shorthand for COMPACTER_CUDA_MATH=tf32.
	EnvTF32 = "COMPACTER_CUDA_TF32"
)

// Device describes one CUDA device the driver reports.
type Device struct {
	Ordinal int
	Name    string
	// CC is the compute capability as major·10 + minor (90 for sm_90).
	CC int
	// Memory is the total device memory in bytes.
	Memory int64
	// SMs is the number of streaming multiprocessors.
	SMs int
}

// String formats the device as "0: NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
func (d Device) String() string {
	return fmt.Sprintf("%d: %s (sm_%d, %d SMs, %.1f GiB)", d.Ordinal, d.Name, d.CC, d.SMs, float64(d.Memory)/(1<<30))
}

// Report is what the loader found on this machine: the driver library, its
// version, the devices, the cuBLAS library and the PTX architecture the
// selected device would run. Err is nil when the backend can run, else the
// reason it cannot (wrapping kernels.ErrUnavailable); the fields found
// before the failure are filled in.
type Report struct {
	// Libcuda is the path of the loaded libcuda.so.1 ("" when not found).
	Libcuda string
	// DriverVersion is cuDriverGetVersion's value (13000 for CUDA 13.0).
	DriverVersion int
	// Devices lists every device of the driver.
	Devices []Device
	// Device is the ordinal the backend opens (COMPACTER_CUDA_DEVICE).
	Device int
	// Cublas is the soname of the loaded cuBLAS (libcublas.so.13, ...).
	Cublas string
	// CublasPath is the file it was loaded from.
	CublasPath string
	// PTXArch is the architecture of the embedded PTX chosen for the
	// selected device ("sm_90").
	PTXArch string
	// Tried lists the cuBLAS files tried, in order, when none loaded.
	Tried []string
	// Err is nil when the backend is available, else why not.
	Err error
}

// versionString formats a cuDriverGetVersion value as "13.0".
func versionString(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }
