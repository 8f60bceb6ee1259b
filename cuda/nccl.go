//go:build linux && cgo && !nocuda

package cuda

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

// The few declarations of nccl.h the all-reduce uses (NCCL 2.x ABI), so that
// building needs no NCCL headers; libnccl.so.2 is opened at run time.
typedef int ncclResult_t;
typedef void *ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;
#define NCCL_FLOAT32 7
#define NCCL_SUM 0
typedef int CUresult;
typedef void *CUcontext;
typedef void *CUstream;

static void *lib_nccl, *lib_cuda_n;
static ncclResult_t (*p_ncclGetVersion)(int *);
static ncclResult_t (*p_ncclGetUniqueId)(ncclUniqueId *);
static ncclResult_t (*p_ncclCommInitRank)(ncclComm_t *, int, ncclUniqueId, int);
static ncclResult_t (*p_ncclAllReduce)(const void *, void *, size_t, int, int, ncclComm_t, CUstream);
static ncclResult_t (*p_ncclGroupStart)(void);
static ncclResult_t (*p_ncclGroupEnd)(void);
static ncclResult_t (*p_ncclCommDestroy)(ncclComm_t);
static ncclResult_t (*p_ncclCommAbort)(ncclComm_t);
static ncclResult_t (*p_ncclCommGetAsyncError)(ncclComm_t, ncclResult_t *);
static const char *(*p_ncclGetErrorString)(ncclResult_t);
static CUresult (*p_cuCtxSetCurrent_n)(CUcontext);
static CUresult (*p_cuStreamQuery_n)(CUstream);

#define NLOAD(lib, var, name) \
	if (!(*(void **)(&var) = dlsym(lib, name))) return name;

// nccl_load opens libnccl.so.2 (and libcuda.so.1 again, for the two driver
// calls the polling needs). It returns NULL, the first symbol missing, or
// "dlopen" with *err set.
static const char *nccl_load(const char **err) {
	if (lib_nccl) return NULL;
	void *l = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!l) { *err = dlerror(); return "dlopen"; }
	lib_cuda_n = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib_cuda_n) { *err = dlerror(); return "dlopen"; }
	NLOAD(l, p_ncclGetVersion, "ncclGetVersion");
	NLOAD(l, p_ncclGetUniqueId, "ncclGetUniqueId");
	NLOAD(l, p_ncclCommInitRank, "ncclCommInitRank");
	NLOAD(l, p_ncclAllReduce, "ncclAllReduce");
	NLOAD(l, p_ncclGroupStart, "ncclGroupStart");
	NLOAD(l, p_ncclGroupEnd, "ncclGroupEnd");
	NLOAD(l, p_ncclCommDestroy, "ncclCommDestroy");
	NLOAD(l, p_ncclCommAbort, "ncclCommAbort");
	NLOAD(l, p_ncclCommGetAsyncError, "ncclCommGetAsyncError");
	NLOAD(l, p_ncclGetErrorString, "ncclGetErrorString");
	NLOAD(lib_cuda_n, p_cuCtxSetCurrent_n, "cuCtxSetCurrent");
	NLOAD(lib_cuda_n, p_cuStreamQuery_n, "cuStreamQuery");
	lib_nccl = l;
	return NULL;
}

static int nccl_version(void) { int v = 0; p_ncclGetVersion(&v); return v; }
static const char *nccl_error(ncclResult_t r) { return p_ncclGetErrorString(r); }
static ncclResult_t nccl_unique_id(void *id) { return p_ncclGetUniqueId((ncclUniqueId *)id); }

// The calls below make the backend's context current first (NCCL uses the
// current device); a failure of cuCtxSetCurrent is returned as -1000 - code.
#define NCTX(c) do { CUresult r_ = p_cuCtxSetCurrent_n(c); if (r_) return -1000 - r_; } while (0)

static ncclResult_t nccl_init(CUcontext c, ncclComm_t *comm, int n, const void *id, int rank) {
	NCTX(c);
	ncclUniqueId u;
	__builtin_memcpy(&u, id, sizeof u);
	return p_ncclCommInitRank(comm, n, u, rank);
}

// nccl_allreduce enqueues one in-place float32 sum per buffer, grouped.
static ncclResult_t nccl_allreduce(CUcontext c, ncclComm_t comm, CUstream s, const unsigned long long *ptrs, const size_t *counts, int n) {
	NCTX(c);
	ncclResult_t r = p_ncclGroupStart();
	if (r) return r;
	for (int i = 0; i < n; i++) {
		void *p = (void *)ptrs[i];
		if ((r = p_ncclAllReduce(p, p, counts[i], NCCL_FLOAT32, NCCL_SUM, comm, s))) { p_ncclGroupEnd(); return r; }
	}
	return p_ncclGroupEnd();
}

// nccl_poll: 0 done, 1 still running, a negative CUresult, or 2 with *async
// set when the communicator reports an error.
static int nccl_poll(CUcontext c, ncclComm_t comm, CUstream s, ncclResult_t *async) {
	NCTX(c);
	CUresult q = p_cuStreamQuery_n(s);
	if (q == 0) return 0;
	if (q != 600) return -q; // CUDA_ERROR_NOT_READY
	if (p_ncclCommGetAsyncError(comm, async) == 0 && *async != 0 && *async != 7) return 2; // 7: ncclInProgress
	return 1;
}

static ncclResult_t nccl_destroy(ncclComm_t comm) { return p_ncclCommDestroy(comm); }
static ncclResult_t nccl_abort(ncclComm_t comm) { return p_ncclCommAbort(comm); }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/kernels"
)

var (
	ncclOnce    sync.Once
	ncclVersion int
	ncclErr     error
)

// NCCLAvailable opens libnccl.so.2 (once) and returns its version
// (ncclGetVersion: 22304 for 2.23.4), or why it cannot be used.
func NCCLAvailable() (int, error) {
	ncclOnce.Do(func() {
		var cerr *C.char
		if name := C.nccl_load(&cerr); name != nil {
			if s := C.GoString(name); s == "dlopen" {
				ncclErr = fmt.Errorf("cuda: NCCL unavailable: %s (install NCCL 2, e.g. Debian's libnccl2 or the nvidia-nccl-cu12 wheel, on the library path)", C.GoString(cerr))
			} else {
				ncclErr = fmt.Errorf("cuda: NCCL unavailable: libnccl.so.2 lacks %s", s)
			}
			return
		}
		ncclVersion = int(C.nccl_version())
	})
	return ncclVersion, ncclErr
}

// NCCL sums the backend's buffers across the ranks of a job on the
// devices (ncclAllReduce in place on the backend's stream), one GPU per
// rank. It implements dist.DeviceReducer.
type NCCL struct {
	b          *Backend
	comm       C.ncclComm_t
	rank, size int
	timeout    time.Duration
	failed     error
}

// DeviceReducer opens an NCCL communicator over the ranks of c: every rank
// loads libnccl.so.2 and the ranks agree (through c) that all of them
// can, rank 0 creates the unique id, c broadcasts it and every rank joins
// with its device. When any rank lacks NCCL, every rank gets an error (and
// can fall back to host all-reduces together). It implements
// dist.DeviceBackend.
func (b *Backend) DeviceReducer(ctx context.Context, c dist.Collective) (dist.DeviceReducer, error) {
	_, lerr := NCCLAvailable()
	var comm C.ncclComm_t
	err := ncclSetup(ctx, c, lerr,
		func(id []byte) error { return ncclCheck("ncclGetUniqueId", C.nccl_unique_id(unsafe.Pointer(&id[0]))) },
		func(id []byte) error {
			cid := C.CBytes(id)
			defer C.free(cid)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			return ncclCheck("ncclCommInitRank", C.nccl_init(C.CUcontext(b.ctx), &comm, C.int(c.Size()), cid, C.int(c.Rank())))
		})
	if err != nil {
		return nil, err
	}
	return &NCCL{b: b, comm: comm, rank: c.Rank(), size: c.Size(), timeout: dist.TimeoutOf(c)}, nil
}

// ncclUniqueIDBytes is sizeof(ncclUniqueId).
const ncclUniqueIDBytes = 128

// ncclSetup is the host side of opening a communicator: agreement on
// loadErr across the ranks, the unique id from rank 0 (newID) broadcast
// through c, then join(id) on every rank.
func ncclSetup(ctx context.Context, c dist.Collective, loadErr error, newID, join func(id []byte) error) error {
	flag := []float32{0}
	if loadErr != nil {
		flag[0] = 1
	}
	if err := c.AllReduceSum(ctx, flag); err != nil {
		return err
	}
	if loadErr != nil {
		return loadErr
	}
	if flag[0] > 0 {
		return fmt.Errorf("cuda: NCCL unavailable on %v of %d ranks", flag[0], c.Size())
	}
	id := make([]byte, ncclUniqueIDBytes)
	var idErr error
	if c.Rank() == 0 {
		idErr = newID(id)
	}
	// Rank 0 sends an all-zero id when it failed; the others refuse it.
	if err := c.Broadcast(ctx, id, 0); err != nil {
		return err
	}
	if idErr != nil {
		return idErr
	}
	zero := true
	for _, v := range id {
		zero = zero && v == 0
	}
	if zero {
		return errors.New("cuda: rank 0 could not create an NCCL unique id")
	}
	return join(id)
}

func ncclCheck(what string, r C.ncclResult_t) error {
	switch {
	case r == 0:
		return nil
	case r <= -1000:
		return fmt.Errorf("cuda: %s: cuCtxSetCurrent failed with CUresult %d", what, -1000-int(r))
	}
	return fmt.Errorf("cuda: %s: %s (ncclResult %d)", what, C.GoString(C.nccl_error(r)), int(r))
}

// AllReduceSum sums bufs (float32 buffers of the backend) in place across
// the ranks, then waits for the stream to finish it, polling with a
// deadline (the collective's, dist.TimeoutOf): a rank that dies or hangs makes the others abort the
// communicator and return dist.ErrTimeout.
func (n *NCCL) AllReduceSum(ctx context.Context, bufs []kernels.Buffer) error {
	if n.failed != nil {
		return fmt.Errorf("cuda: NCCL all-reduce after a failure: %w", n.failed)
	}
	if len(bufs) == 0 {
		return nil
	}
	ptrs := make([]C.ulonglong, len(bufs))
	counts := make([]C.size_t, len(bufs))
	for i, buf := range bufs {
		if buf.DType() != kernels.Float32 {
			return fmt.Errorf("cuda: NCCL all-reduce of a %v buffer: %w", buf.DType(), kernels.ErrShape)
		}
		p, err := n.b.ptr(buf)
		if err != nil {
			return err
		}
		ptrs[i], counts[i] = C.ulonglong(p), C.size_t(buf.Len())
	}
	cp := (*C.ulonglong)(C.malloc(C.size_t(len(ptrs)) * 8))
	defer C.free(unsafe.Pointer(cp))
	cc := (*C.size_t)(C.malloc(C.size_t(len(counts)) * C.size_t(unsafe.Sizeof(C.size_t(0)))))
	defer C.free(unsafe.Pointer(cc))
	copy(unsafe.Slice(cp, len(ptrs)), ptrs)
	copy(unsafe.Slice(cc, len(counts)), counts)
	if err := ncclCheck("ncclAllReduce", C.nccl_allreduce(C.CUcontext(n.b.ctx), n.comm, C.CUstream(n.b.stream), cp, cc, C.int(len(bufs)))); err != nil {
		n.failed = err
		return err
	}
	deadline := time.Now().Add(n.timeout)
	for polls := 0; ; polls++ {
		var async C.ncclResult_t
		switch r := C.nccl_poll(C.CUcontext(n.b.ctx), n.comm, C.CUstream(n.b.stream), &async); {
		case r == 0:
			return nil
		case r == 2:
			n.failed = ncclCheck("NCCL all-reduce", async)
			C.nccl_abort(n.comm)
			return n.failed
		case r < 0:
			n.failed = fmt.Errorf("cuda: cuStreamQuery during an NCCL all-reduce: CUresult %d", -int(r))
			return n.failed
		}
		if time.Now().After(deadline) {
			n.failed = fmt.Errorf("%w: rank %d of %d waited %v for an NCCL all-reduce", dist.ErrTimeout, n.rank, n.size, n.timeout)
			C.nccl_abort(n.comm)
			return n.failed
		}
		if polls > 1000 {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// Close destroys the communicator (aborts it after a failure).
func (n *NCCL) Close() error {
	if n.comm == nil {
		return nil
	}
	comm := n.comm
	n.comm = nil
	if n.failed != nil {
		return ncclCheck("ncclCommAbort", C.nccl_abort(comm))
	}
	return ncclCheck("ncclCommDestroy", C.nccl_destroy(comm))
}
