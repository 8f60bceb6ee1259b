//go:build linux && cgo && !nocuda

package cuda

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/kernels"
)

// The host side of NCCL (no GPU needed): the library probe says what is
// missing, and ncclSetup agrees on the outcome, hands rank 0's id to join
// and refuses an id rank 0 could not create.
func TestNCCLHostSide(t *testing.T) {
	if v, err := NCCLAvailable(); err != nil {
		if !strings.Contains(err.Error(), "libnccl.so.2") {
			t.Errorf("NCCLAvailable: %v does not name the library", err)
		}
		t.Logf("here: %v", err)
	} else if v < 20000 {
		t.Errorf("NCCL version %d", v)
	}
	ctx := context.Background()
	var c dist.Collective = dist.Local{}
	want := bytes.Repeat([]byte{7}, ncclUniqueIDBytes)
	var got []byte
	err := ncclSetup(ctx, c, nil, func(id []byte) error { copy(id, want); return nil },
		func(id []byte) error { got = append([]byte{}, id...); return nil })
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("setup: %v, join got %x", err, got)
	}
	missing := errors.New("no libnccl")
	joined := false
	if err := ncclSetup(ctx, c, missing, nil, func([]byte) error { joined = true; return nil }); !errors.Is(err, missing) || joined {
		t.Errorf("without the library: %v (joined %v)", err, joined)
	}
	if err := ncclSetup(ctx, c, nil, func([]byte) error { return nil }, func([]byte) error { joined = true; return nil }); err == nil || joined {
		t.Errorf("an all-zero id: %v (joined %v)", err, joined)
	}
}

// TestNCCLDevice (GPU and libnccl.so.2 only: it has never run here, on a
// machine without a GPU) opens a one-rank communicator on the backend's
// device and sums three buffers, one of them a view, in place: over one
// rank the sum is the input, bit for bit. Under mpirun with a GPU per rank
// (NCCL_TEST_MPI=1, see bench/gpu/nccl.sh) the ranks sum rank-dependent
// values and check the exact sums.
func TestNCCLDevice(t *testing.T) {
	b := openTest(t, Options{})
	if _, err := NCCLAvailable(); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	var c dist.Collective = dist.Local{}
	if os.Getenv("NCCL_TEST_MPI") == "1" {
		var err error
		if c, err = dist.Open(dist.Options{Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	red, err := b.DeviceReducer(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := red.Close(); err != nil {
			t.Error(err)
		}
	}()
	sizes := []int{1, 1000, 1 << 20}
	var bufs []kernels.Buffer
	var want [][]float32
	r, n := float32(c.Rank()+1), float32(c.Size())
	for _, sz := range sizes {
		x, err := b.Alloc(kernels.Float32, sz+3)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Free(x)
		h := make([]float32, sz+3)
		w := make([]float32, sz)
		for i := range h {
			h[i] = r * float32(i%13)
		}
		for i := range w {
			w[i] = n * (n + 1) / 2 * float32((i+3)%13)
		}
		if err := b.Upload(x, h); err != nil {
			t.Fatal(err)
		}
		bufs, want = append(bufs, x.Slice(3, sz)), append(want, w)
	}
	t0 := time.Now()
	if err := red.AllReduceSum(ctx, bufs); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d ranks: all-reduce of %d floats in %v", c.Size(), 1+1000+1<<20, time.Since(t0))
	for i, x := range bufs {
		got := make([]float32, x.Len())
		if err := b.Download(got, x); err != nil {
			t.Fatal(err)
		}
		for j := range got {
			if got[j] != want[i][j] {
				t.Fatalf("buffer %d [%d] = %v, want %v", i, j, got[j], want[i][j])
			}
		}
	}
}
