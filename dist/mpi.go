//go:build linux && cgo && !nompi

package dist

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

// Open MPI's ABI (mpi.h of Open MPI 4 and 5): handles are pointers to the
// library's predefined objects, exported as the globals ompi_mpi_comm_world,
// ompi_mpi_float, ompi_mpi_byte and ompi_mpi_op_sum; MPI_IN_PLACE is
// (void *)1 and MPI_STATUS_IGNORE NULL. Declared here so that building needs
// no MPI headers; the library is opened at run time.
typedef void *MPI_Comm;
typedef void *MPI_Datatype;
typedef void *MPI_Op;
typedef void *MPI_Request;
#define MPI_IN_PLACE ((void *)1)
#define MPI_THREAD_SERIALIZED 2

static void *lib_mpi;
static MPI_Comm comm_world;
static MPI_Datatype mpi_float, mpi_byte;
static MPI_Op op_sum;

static int (*p_MPI_Initialized)(int *);
static int (*p_MPI_Init_thread)(int *, char ***, int, int *);
static int (*p_MPI_Comm_rank)(MPI_Comm, int *);
static int (*p_MPI_Comm_size)(MPI_Comm, int *);
static int (*p_MPI_Iallreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm, MPI_Request *);
static int (*p_MPI_Ibcast)(void *, int, MPI_Datatype, int, MPI_Comm, MPI_Request *);
static int (*p_MPI_Test)(MPI_Request *, int *, void *);
static int (*p_MPI_Abort)(MPI_Comm, int);
static int (*p_MPI_Finalize)(void);
static int (*p_MPI_Get_library_version)(char *, int *);

#define LOADF(var, name) \
	if (!(*(void **)(&var) = dlsym(lib_mpi, name))) return name;
#define LOADV(var, name) \
	if (!(var = dlsym(lib_mpi, name))) return name;

// mpi_load opens libmpi.so.40 (RTLD_GLOBAL: Open MPI's own plugins resolve
// its symbols) and every symbol used. It returns NULL, the name of the first
// symbol missing, or "dlopen" with *err set.
static const char *mpi_load(const char **err) {
	if (lib_mpi) return NULL;
	lib_mpi = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
	if (!lib_mpi) {
		*err = dlerror();
		return "dlopen";
	}
	LOADF(p_MPI_Initialized, "MPI_Initialized");
	LOADF(p_MPI_Init_thread, "MPI_Init_thread");
	LOADF(p_MPI_Comm_rank, "MPI_Comm_rank");
	LOADF(p_MPI_Comm_size, "MPI_Comm_size");
	LOADF(p_MPI_Iallreduce, "MPI_Iallreduce");
	LOADF(p_MPI_Ibcast, "MPI_Ibcast");
	LOADF(p_MPI_Test, "MPI_Test");
	LOADF(p_MPI_Abort, "MPI_Abort");
	LOADF(p_MPI_Finalize, "MPI_Finalize");
	LOADF(p_MPI_Get_library_version, "MPI_Get_library_version");
	LOADV(comm_world, "ompi_mpi_comm_world");
	LOADV(mpi_float, "ompi_mpi_float");
	LOADV(mpi_byte, "ompi_mpi_byte");
	LOADV(op_sum, "ompi_mpi_op_sum");
	return NULL;
}

static int mpi_version(char *buf, int *n) { return p_MPI_Get_library_version(buf, n); }

static int mpi_init(int *rank, int *size, int *provided) {
	int done = 0, rc = p_MPI_Initialized(&done);
	if (rc) return rc;
	if (!done && (rc = p_MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided))) return rc;
	if ((rc = p_MPI_Comm_rank(comm_world, rank))) return rc;
	return p_MPI_Comm_size(comm_world, size);
}

static int mpi_iallreduce_float(float *buf, int n, MPI_Request *req) {
	return p_MPI_Iallreduce(MPI_IN_PLACE, buf, n, mpi_float, op_sum, comm_world, req);
}
static int mpi_ibcast_bytes(void *buf, int n, int root, MPI_Request *req) {
	return p_MPI_Ibcast(buf, n, mpi_byte, root, comm_world, req);
}
static int mpi_test(MPI_Request *req, int *flag) { return p_MPI_Test(req, flag, NULL); }
static int mpi_abort(int code) { return p_MPI_Abort(comm_world, code); }
static int mpi_finalize(void) { return p_MPI_Finalize(); }
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// MPI is the Collective of an MPI job over MPI_COMM_WORLD.
type MPI struct {
	mu         sync.Mutex
	rank, size int
	timeout    time.Duration
	version    string
	failed     error
	closed     bool
}

var (
	mpiOnce sync.Once
	mpiLib  string
	mpiErr  error
)

// loadMPI opens libmpi.so.40 once and returns its version string.
func loadMPI() (string, error) {
	mpiOnce.Do(func() {
		var cerr *C.char
		if name := C.mpi_load(&cerr); name != nil {
			if s := C.GoString(name); s == "dlopen" {
				mpiErr = fmt.Errorf("%w: dlopen libmpi.so.40: %s (install openmpi-bin and libopenmpi-dev, or make mpi-install)", ErrUnavailable, C.GoString(cerr))
			} else {
				mpiErr = fmt.Errorf("%w: libmpi.so.40 lacks %s (not Open MPI 4 or 5?)", ErrUnavailable, s)
			}
			return
		}
		buf := make([]byte, 512)
		var n C.int
		if C.mpi_version((*C.char)(unsafe.Pointer(&buf[0])), &n) == 0 && n > 0 {
			mpiLib = strings.TrimSpace(strings.SplitN(string(buf[:min(int(n), len(buf))]), ",", 2)[0])
		} else {
			mpiLib = "libmpi.so.40"
		}
	})
	return mpiLib, mpiErr
}

// MPIAvailable reports the MPI library this process can open (its
// version string), or why it cannot; it does not initialize MPI.
func MPIAvailable() (string, error) { return loadMPI() }

var (
	mpiInitOnce sync.Once
	mpiWorld    *MPI
	mpiInitErr  error
)

// openMPI initializes MPI (once per process: MPI cannot be initialized
// twice) and returns the world collective.
func openMPI(opt Options) (*MPI, error) {
	if _, err := loadMPI(); err != nil {
		return nil, err
	}
	mpiInitOnce.Do(func() {
		var rank, size, provided C.int
		runtime.LockOSThread() // MPI_Init_thread on one thread; later calls are serialized by mu
		rc := C.mpi_init(&rank, &size, &provided)
		runtime.UnlockOSThread()
		if rc != 0 {
			mpiInitErr = fmt.Errorf("dist: MPI_Init_thread failed with code %d", int(rc))
			return
		}
		mpiWorld = &MPI{rank: int(rank), size: int(size), version: mpiLib}
	})
	if mpiInitErr != nil {
		return nil, mpiInitErr
	}
	mpiWorld.mu.Lock()
	mpiWorld.timeout = opt.Timeout
	closed := mpiWorld.closed
	mpiWorld.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("dist: MPI was finalized in this process and cannot be initialized again")
	}
	return mpiWorld, nil
}

// Rank is this process's rank in MPI_COMM_WORLD.
func (c *MPI) Rank() int { return c.rank }

// Size is the number of ranks of MPI_COMM_WORLD.
func (c *MPI) Size() int { return c.size }

// Name is "mpi" and the library's version.
func (c *MPI) Name() string { return "mpi (" + c.version + ")" }

// Timeout is the deadline of every collective call.
func (c *MPI) Timeout() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeout
}

// spinFor is how long a collective polls without sleeping.
const spinFor = 2 * time.Second

// maxCount is the most elements of one MPI call (its count is an int).
const maxCount = 1 << 28

// AllReduceSum sums buf across the ranks in place (MPI_Iallreduce with
// MPI_IN_PLACE, polled with MPI_Test until done or the deadline). ctx is
// checked before the collective starts: an MPI collective cannot be
// cancelled once started, so the deadline bounds it.
func (c *MPI) AllReduceSum(ctx context.Context, buf []float32) error {
	for lo := 0; lo < len(buf); lo += maxCount {
		chunk := buf[lo:min(lo+maxCount, len(buf))]
		if err := c.run(ctx, "all-reduce", unsafe.Pointer(&chunk[0]), func(req *C.MPI_Request) C.int {
			return C.mpi_iallreduce_float((*C.float)(unsafe.Pointer(&chunk[0])), C.int(len(chunk)), req)
		}); err != nil {
			return err
		}
	}
	return nil
}

// Broadcast copies root's buf to every rank (MPI_Ibcast, polled).
func (c *MPI) Broadcast(ctx context.Context, buf []byte, root int) error {
	if root < 0 || root >= c.size {
		return fmt.Errorf("dist: broadcast root %d of %d ranks", root, c.size)
	}
	for lo := 0; lo < len(buf); lo += maxCount {
		chunk := buf[lo:min(lo+maxCount, len(buf))]
		if err := c.run(ctx, "broadcast", unsafe.Pointer(&chunk[0]), func(req *C.MPI_Request) C.int {
			return C.mpi_ibcast_bytes(unsafe.Pointer(&chunk[0]), C.int(len(chunk)), C.int(root), req)
		}); err != nil {
			return err
		}
	}
	return nil
}

// run starts a non-blocking collective on the pinned memory p and polls it
// to completion or the deadline.
func (c *MPI) run(ctx context.Context, what string, p unsafe.Pointer, start func(*C.MPI_Request) C.int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return fmt.Errorf("dist: %s after Close", what)
	case c.failed != nil:
		return fmt.Errorf("dist: %s after an earlier failure: %w", what, c.failed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// MPI keeps the buffer's address while the collective runs.
	var pin runtime.Pinner
	pin.Pin(p)
	defer pin.Unpin()
	req := (*C.MPI_Request)(C.malloc(C.size_t(unsafe.Sizeof(C.MPI_Request(nil)))))
	defer C.free(unsafe.Pointer(req))
	if rc := start(req); rc != 0 {
		c.failed = fmt.Errorf("dist: MPI %s failed with code %d on rank %d", what, int(rc), c.rank)
		return c.failed
	}
	t0 := time.Now()
	deadline := t0.Add(c.timeout)
	var flag C.int
	for polls := 0; ; polls++ {
		if rc := C.mpi_test(req, &flag); rc != 0 {
			c.failed = fmt.Errorf("dist: MPI_Test of a %s failed with code %d on rank %d", what, int(rc), c.rank)
			return c.failed
		}
		if flag != 0 {
			return nil
		}
		// Open MPI moves a large message only inside MPI calls (a
		// pipeline of shared-memory fragments), so the loop polls without
		// pause while a transfer may be under way, as MPI_Wait does; after
		// spinFor it waits for a slow rank (an evaluation, a checkpoint)
		// with short sleeps.
		if polls%1024 != 0 {
			continue
		}
		now := time.Now()
		if now.After(deadline) {
			c.failed = fmt.Errorf("%w: rank %d of %d waited %v for a %s", ErrTimeout, c.rank, c.size, c.timeout, what)
			return c.failed
		}
		if now.Sub(t0) < spinFor {
			runtime.Gosched()
		} else {
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// Abort ends every rank of the job with code (MPI_Abort); it returns only
// if MPI_Abort does.
func (c *MPI) Abort(code int) {
	fmt.Fprintf(os.Stderr, "dist: rank %d of %d aborting the MPI job\n", c.rank, c.size)
	C.mpi_abort(C.int(code))
}

// Close finalizes MPI, or, after a failed collective (the other ranks may
// be stuck in it, and MPI_Finalize would wait for them), aborts the job
// with exit code 1. A process cannot use MPI after Close.
func (c *MPI) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	failed := c.failed
	c.mu.Unlock()
	if failed != nil {
		c.Abort(1)
		return failed
	}
	if rc := C.mpi_finalize(); rc != 0 {
		return fmt.Errorf("dist: MPI_Finalize failed with code %d", int(rc))
	}
	return nil
}

// Fail marks the collective failed (a rank's own error mid-run, after
// which the others would wait for it in the next collective), so that
// Close aborts the job instead of finalizing.
func (c *MPI) Fail(err error) {
	c.mu.Lock()
	if c.failed == nil {
		c.failed = err
	}
	c.mu.Unlock()
}
