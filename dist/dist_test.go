package dist_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/internal/mpitest"
)

func TestLocal(t *testing.T) {
	var c dist.Collective = dist.Local{}
	buf := []float32{1, 2, 3}
	if err := c.AllReduceSum(context.Background(), buf); err != nil || buf[2] != 3 {
		t.Fatalf("AllReduceSum: %v %v", buf, err)
	}
	if err := c.Broadcast(context.Background(), []byte("x"), 1); err == nil {
		t.Error("Broadcast from rank 1 of 1: no error")
	}
	all, err := dist.AllGatherBytes(context.Background(), c, []byte("abc"))
	if err != nil || len(all) != 1 || string(all[0]) != "abc" {
		t.Fatalf("AllGatherBytes: %q %v", all, err)
	}
	if err := dist.CheckSame(context.Background(), c, "config", []byte("a")); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.AllReduceSum(ctx, buf); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestOpenWithoutLauncher(t *testing.T) {
	if dist.Launched() {
		t.Skip("running under mpirun")
	}
	c, err := dist.Open(dist.Options{})
	if err != nil || c.Size() != 1 || c.Name() != "local" {
		t.Fatalf("Open outside mpirun: %v, %v", c, err)
	}
	t.Setenv("COMPACTER_DIST_TIMEOUT", "soon")
	if _, err := dist.Open(dist.Options{}); err == nil {
		t.Error("bad COMPACTER_DIST_TIMEOUT accepted")
	}
}

// helperEnv selects what the test binary does as a rank under mpirun.
const helperEnv = "DIST_TEST_RANK_MODE"

// TestMPIRank is the program of each rank in TestMPI (it does nothing
// when run directly).
func TestMPIRank(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("run by TestMPI under mpirun")
	}
	ctx := context.Background()
	opt := dist.Options{}
	if mode == "hang" {
		opt.Timeout = 2 * time.Second
	}
	c, err := dist.Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	r, n := c.Rank(), c.Size()
	fmt.Printf("rank %d of %d on %s\n", r, n, c.Name())
	switch mode {
	case "ok":
		// Sums of rank-dependent values, with a length that is not a power of two.
		buf := make([]float32, 100003)
		for i := range buf {
			buf[i] = float32(r+1) * float32(i%7)
		}
		if err := c.AllReduceSum(ctx, buf); err != nil {
			t.Fatal(err)
		}
		tri := float32(n * (n + 1) / 2)
		for i, v := range buf {
			if want := tri * float32(i%7); v != want {
				t.Fatalf("rank %d: sum[%d] = %v, want %v", r, i, v, want)
			}
		}
		b := []byte("......")
		if r == n-1 {
			copy(b, "hello!")
		}
		if err := c.Broadcast(ctx, b, n-1); err != nil || string(b) != "hello!" {
			t.Fatalf("rank %d: broadcast %q %v", r, b, err)
		}
		all, err := dist.AllGatherBytes(ctx, c, []byte(strings.Repeat("x", r+1)))
		if err != nil || len(all) != n || len(all[n-1]) != n {
			t.Fatalf("rank %d: allgather %q %v", r, all, err)
		}
		if err := dist.CheckSame(ctx, c, "config", []byte("same")); err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
		err = dist.CheckSame(ctx, c, "config", []byte(fmt.Sprint("rank", r)))
		if err == nil || !strings.Contains(err.Error(), "differ from rank 0") {
			t.Fatalf("rank %d: mismatched configs: %v", r, err)
		}
		fmt.Printf("rank %d: CHECKS PASSED\n", r)
	case "bench":
		n, _ := strconv.Atoi(os.Getenv("DIST_BENCH_FLOATS"))
		iters, _ := strconv.Atoi(os.Getenv("DIST_BENCH_ITERS"))
		buf := make([]float32, n)
		for i := range buf {
			buf[i] = 1e-3
		}
		if err := c.AllReduceSum(ctx, buf); err != nil { // warm-up
			t.Fatal(err)
		}
		t0 := time.Now()
		for range iters {
			if err := c.AllReduceSum(ctx, buf); err != nil {
				t.Fatal(err)
			}
		}
		if r == 0 {
			fmt.Printf("BENCH ns/op %d\n", time.Since(t0).Nanoseconds()/int64(max(1, iters)))
		}
	case "hang":
		if r == 1 {
			time.Sleep(time.Minute) // a rank that hangs: killed by the abort
		}
		err := c.AllReduceSum(ctx, make([]float32, 10))
		if !errors.Is(err, dist.ErrTimeout) {
			t.Fatalf("rank %d: %v, want ErrTimeout", r, err)
		}
		fmt.Printf("rank %d: TIMED OUT: %v\n", r, err)
	}
	if err := c.Close(); err != nil && mode != "hang" {
		t.Fatal(err)
	}
}

func TestMPI(t *testing.T) {
	if dist.Launched() {
		t.Skip("already under mpirun")
	}
	if lib, err := dist.MPIAvailable(); err != nil {
		t.Skip(err)
	} else {
		t.Log(lib)
	}
	for _, np := range []int{2, 3} {
		cmd := mpitest.Command(t, np, os.Args[0], "-test.run", "^TestMPIRank$", "-test.v")
		cmd.Env = append(cmd.Env, helperEnv+"=ok")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("np %d: %v\n%s", np, err, out)
		}
		if c := strings.Count(string(out), "CHECKS PASSED"); c != np {
			t.Fatalf("np %d: %d ranks passed\n%s", np, c, out)
		}
	}
}

// TestMPIHang: rank 1 hangs; rank 0's all-reduce times out after 2 s and
// aborts the job, which ends non-zero well before rank 1 would wake up.
func TestMPIHang(t *testing.T) {
	if dist.Launched() {
		t.Skip("already under mpirun")
	}
	if _, err := dist.MPIAvailable(); err != nil {
		t.Skip(err)
	}
	cmd := mpitest.Command(t, 2, os.Args[0], "-test.run", "^TestMPIRank$", "-test.v")
	cmd.Env = append(cmd.Env, helperEnv+"=hang")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	dt := time.Since(t0)
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the job of a hanging rank ended with %v, want a non-zero exit\n%s", err, out)
	}
	if !strings.Contains(string(out), "rank 0: TIMED OUT") || dt > 30*time.Second {
		t.Fatalf("after %v:\n%s", dt, out)
	}
	t.Logf("the job ended with %v after %v", err, dt.Round(time.Millisecond))
}

// BenchmarkMPIAllReduce times the all-reduce of one step's gradients
// between 2 ranks on this machine (mpirun, shared memory): Compacter's
// 161,728 floats (0.65 MB) and full fine-tuning's 222,903,552 (892 MB) at
// t5-base; the full size is skipped with -short.
func BenchmarkMPIAllReduce(b *testing.B) {
	if dist.Launched() {
		b.Skip("already under mpirun")
	}
	if _, err := dist.MPIAvailable(); err != nil {
		b.Skip(err)
	}
	for _, c := range []struct {
		name   string
		floats int
	}{{"compacter-t5-base", 161728}, {"full-finetune-t5-base", 222903552}} {
		b.Run(c.name, func(b *testing.B) {
			if testing.Short() && c.floats > 1<<24 {
				b.Skip("-short")
			}
			cmd := mpitest.Command(b, 2, os.Args[0], "-test.run", "^TestMPIRank$", "-test.v")
			cmd.Env = append(cmd.Env, helperEnv+"=bench", "DIST_BENCH_FLOATS="+strconv.Itoa(c.floats),
				"DIST_BENCH_ITERS="+strconv.Itoa(b.N), "GOMAXPROCS=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			i := strings.Index(string(out), "BENCH ns/op ")
			if i < 0 {
				b.Fatalf("no timing:\n%s", out)
			}
			var ns float64
			fmt.Sscan(string(out[i+len("BENCH ns/op "):]), &ns)
			b.ReportMetric(ns, "ns/allreduce")
			b.ReportMetric(4*float64(c.floats)/ns, "GB/s")
		})
	}
}
