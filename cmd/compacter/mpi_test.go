package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compacter-go/compacter/bench/finetune"
	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/internal/mpitest"
	"github.com/compacter-go/compacter/t5"
)

// mpiSetup skips without mpirun or an MPI library, and returns the
// compacter binary built from this package, a tiny checkpoint and a
// generated RTE-layout data folder (16 training rows, 8 dev rows).
func mpiSetup(t *testing.T) (bin, model, data string) {
	t.Helper()
	if dist.Launched() {
		t.Skip("already under mpirun")
	}
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("mpirun not found (install openmpi-bin and libopenmpi-dev: make mpi-install)")
	}
	if _, err := dist.MPIAvailable(); err != nil {
		t.Skip(err)
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	bin = filepath.Join(t.TempDir(), "compacter")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	model = mpiCheckpoint(t)
	data = t.TempDir()
	rte := filepath.Join(data, "RTE")
	if err := os.MkdirAll(rte, 0o755); err != nil {
		t.Fatal(err)
	}
	subjects := []string{"The cat", "A farmer", "The old ship", "My neighbour", "The river", "A teacher", "The train", "Her brother"}
	verbs := []string{"sleeps in the sun", "sells apples", "sails north", "paints the fence"}
	rows := func(n, off int) string {
		var b strings.Builder
		b.WriteString("index\tsentence1\tsentence2\tlabel\n")
		for i := range n {
			s, v := subjects[(i+off)%len(subjects)], verbs[(i+off)%len(verbs)]
			label, h := "entailment", s+" "+v+"."
			if i%2 == 1 {
				label, h = "not_entailment", s+" "+verbs[(i+off+1)%len(verbs)]+"."
			}
			fmt.Fprintf(&b, "%d\t%s %s every day.\t%s\t%s\n", i, s, v, h, label)
		}
		return b.String()
	}
	for f, s := range map[string]string{"train.tsv": rows(16, 0), "dev.tsv": rows(8, 3)} {
		if err := os.WriteFile(filepath.Join(rte, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bin, model, data
}

// mpiCheckpoint is a small T5 (d_model 128, one block each side, dropout
// 0.1) with generated weights: wide enough for Compacter's defaults
// (reduction factor 32 gives a bottleneck of 4, a multiple of n = 4).
func mpiCheckpoint(t *testing.T) string {
	t.Helper()
	cfg := t5.DefaultConfig()
	cfg.VocabSize, cfg.DModel, cfg.DKV, cfg.DFF, cfg.NumHeads = 2100, 128, 16, 128, 4
	cfg.NumLayers, cfg.NumDecoderLayers, cfg.RelativeAttentionNumBuckets = 1, 1, 8
	cfg.DropoutRate = 0.1
	return checkpointOf(t, cfg)
}

// trainArgs are the arguments of a small Compacter run (4 steps an epoch
// of batch 4, dropout on: the tiny checkpoint's rate 0.1).
func trainArgs(model, data, out string, extra ...string) []string {
	return append([]string{"train", "--model", model, "--method", "compacter", "--task", "rte", "--data", data,
		"--out", out, "--batch", "4", "--warmup", "1", "--lr", "0.01", "--max-len", "32", "--backend", "cpu",
		"--seed", "5", "--progress=false"}, extra...)
}

// runMPI runs bin under mpirun with np ranks (one thread each).
func runMPI(t *testing.T, np int, bin string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := mpitest.Command(t, np, bin, args...)
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	return cmd.CombinedOutput()
}

func readReport(t *testing.T, dir string) finetune.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, finetune.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var r finetune.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// relDiff is ||a−b|| / ||b||.
func relDiff(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// TestMPI runs compacter train under mpirun (one build of the binary for
// all the cases).
func TestMPI(t *testing.T) {
	bin, model, data := mpiSetup(t)
	t.Run("matches one process", func(t *testing.T) { testMPITrainMatchesOneProcess(t, bin, model, data) })
	t.Run("refuses mismatched ranks", func(t *testing.T) { testMPIRefusesMismatchedRanks(t, bin, model, data) })
	t.Run("bench", func(t *testing.T) { testMPIBench(t, bin, model) })
	t.Run("faults", func(t *testing.T) { testMPIFaults(t, bin, model, data) })
	t.Run("interrupt", func(t *testing.T) { testMPIInterrupt(t, bin, model, data) })
}

// testMPIInterrupt: SIGTERM to rank 1 alone (as a scheduler's stop
// reaches the ranks) stops every rank after the same step: the job exits
// 0 with a checkpoint (status interrupted) that resumes.
func testMPIInterrupt(t *testing.T, bin, model, data string) {
	out := t.TempDir()
	args := trainArgs(model, data, out, "--epochs", "1000", "--save-every", "2")
	cmd := mpitest.Command(t, 2, bin, args...)
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ckpt := filepath.Join(out, finetune.CheckpointFile)
	for i := 0; ; i++ {
		if _, err := os.Stat(ckpt); err == nil {
			break
		}
		if i > 1800 {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint after 90 s:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid := rankPID(t, cmd.Process.Pid, 1)
	if pid == 0 {
		cmd.Process.Kill()
		t.Fatal("rank 1's process not found among mpirun's children")
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the job ended with %v after SIGTERM to rank 1:\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the job still runs 60 s after SIGTERM to rank 1:\n%s", log.String())
	}
	r := readReport(t, out)
	if r.Status != finetune.StatusInterrupted {
		t.Fatalf("status %q after SIGTERM, want %q:\n%s", r.Status, finetune.StatusInterrupted, log.String())
	}
	if c := strings.Count(log.String(), fmt.Sprintf("interrupted after step %d", r.Steps)); c != 1 {
		t.Errorf("%d interruption messages for step %d (rank 0 prints one):\n%s", c, r.Steps, log.String())
	}
	b, err := runMPI(t, 2, bin, append(args, "--resume", "--max-steps", strconv.Itoa(r.Steps+1))...)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, b)
	}
	if r2 := readReport(t, out); r2.Steps != r.Steps+1 || r2.Status != finetune.StatusMaxSteps {
		t.Errorf("resumed: %d steps, %q", r2.Steps, r2.Status)
	}
	t.Logf("stopped after step %d on both ranks, resumed for one more", r.Steps)
}

// testMPIBench: compacter bench under mpirun -np 2 writes one table (rank
// 0's) with the ranks, the gradient bytes and the all-reduce time of each
// method.
func testMPIBench(t *testing.T, bin, model string) {
	out := filepath.Join(t.TempDir(), "t.json")
	b, err := runMPI(t, 2, bin, "bench", "--model", model, "--methods", "full-finetune,compacter", "--batch", "4",
		"--seq", "16", "--steps", "2", "--backend", "cpu", "--progress=false", "--format", "json", "--out", out)
	if err != nil {
		t.Fatalf("mpirun -np 2 compacter bench: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var tab struct {
		Ranks      int    `json:"ranks"`
		Collective string `json:"collective"`
		Rows       []struct {
			Method           string    `json:"method"`
			Trainable        int64     `json:"trainable"`
			GradientBytes    int64     `json:"gradient_bytes"`
			SecPerStep       float64   `json:"sec_per_step"`
			ReduceSecPerStep float64   `json:"reduce_sec_per_step"`
			Losses           []float64 `json:"losses"`
		}
	}
	if err := json.Unmarshal(raw, &tab); err != nil {
		t.Fatal(err)
	}
	if tab.Ranks != 2 || !strings.HasPrefix(tab.Collective, "mpi") || len(tab.Rows) != 2 {
		t.Fatalf("table: %d ranks, collective %q, %d rows", tab.Ranks, tab.Collective, len(tab.Rows))
	}
	for _, r := range tab.Rows {
		if r.GradientBytes != 4*r.Trainable || !(r.ReduceSecPerStep > 0) || r.ReduceSecPerStep > r.SecPerStep || len(r.Losses) != 3 {
			t.Errorf("%s: %d gradient bytes for %d trainable, all-reduce %v s of a %v s step, %d losses",
				r.Method, r.GradientBytes, r.Trainable, r.ReduceSecPerStep, r.SecPerStep, len(r.Losses))
		}
		t.Logf("%s: %.3g MB a step, all-reduce %.3g ms of a %.3g ms step", r.Method, float64(r.GradientBytes)/1e6, 1e3*r.ReduceSecPerStep, 1e3*r.SecPerStep)
	}
}

// testMPITrainMatchesOneProcess: compacter train under mpirun -np 2 (each
// rank two of the four examples of every batch) gives the run of one
// process with the same global batch of 4 in micro-batches of 2: the same
// epoch losses (relative 1e-6), validation and test scores, and trained
// tensors and AdamW moments in the final checkpoint within a relative
// 1e-5 (||Δ||/||ref|| per tensor; only the order of the float32 sums
// differs: measured 5e-7 at worst, 5e-9 on the losses). Rank 1 writes nothing and prints nothing.
func testMPITrainMatchesOneProcess(t *testing.T, bin, model, data string) {
	one, two := t.TempDir(), t.TempDir()
	cmd := exec.Command(bin, trainArgs(model, data, one, "--epochs", "2", "--micro-batch", "2")...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("one process: %v\n%s", err, out)
	}
	out, err := runMPI(t, 2, bin, trainArgs(model, data, two, "--epochs", "2")...)
	if err != nil {
		t.Fatalf("mpirun -np 2: %v\n%s", err, out)
	}
	if c := strings.Count(string(out), "compacter on rte: 8 steps, finished"); c != 1 {
		t.Errorf("the summary appears %d times (rank 0 alone prints it):\n%s", c, out)
	}
	r1, r2 := readReport(t, one), readReport(t, two)
	if r2.Ranks != 2 || r1.Ranks != 1 || r2.Hyper != r1.Hyper || r2.Status != finetune.StatusFinished {
		t.Fatalf("reports: ranks %d and %d, hyper %+v and %+v, status %q", r1.Ranks, r2.Ranks, r1.Hyper, r2.Hyper, r2.Status)
	}
	if r2.GradientBytes != 4*r2.TrainableParams {
		t.Errorf("gradient bytes %d for %d trainable parameters", r2.GradientBytes, r2.TrainableParams)
	}
	for i := range r1.Epochs {
		e1, e2 := r1.Epochs[i], r2.Epochs[i]
		if d := math.Abs(e1.TrainLoss-e2.TrainLoss) / e1.TrainLoss; d > 1e-6 {
			t.Errorf("epoch %d: train loss %.8f on 2 ranks, %.8f in one process", i+1, e2.TrainLoss, e1.TrainLoss)
		}
		if e1.Validation.Score != e2.Validation.Score {
			t.Errorf("epoch %d: validation score %v on 2 ranks, %v in one process", i+1, e2.Validation.Score, e1.Validation.Score)
		}
		t.Logf("epoch %d: train loss %.8f (1 process) %.8f (2 ranks)", i+1, e1.TrainLoss, e2.TrainLoss)
	}
	if r1.Test == nil || r2.Test == nil || r1.Test.Score != r2.Test.Score || r1.Test.N != r2.Test.N {
		t.Errorf("test results %+v and %+v", r1.Test, r2.Test)
	}
	f1, err := t5.OpenTensors(filepath.Join(one, finetune.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	f2, err := t5.OpenTensors(filepath.Join(two, finetune.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	worst, n := 0.0, 0
	for _, name := range f1.Names() {
		shape, err := f1.Shape(name)
		if err != nil {
			t.Fatal(err)
		}
		a, err := f1.Float32(name, shape)
		if err != nil {
			t.Fatal(err)
		}
		b, err := f2.Float32(name, shape)
		if err != nil {
			t.Fatalf("2 ranks: %v", err)
		}
		d := relDiff(b, a)
		worst = max(worst, d)
		n++
		if d > 1e-5 {
			t.Errorf("%s: 2 ranks differ from one process by %.3g (relative)", name, d)
		}
	}
	if n < 10 {
		t.Fatalf("only %d tensors in the checkpoint", n)
	}
	t.Logf("%d tensors (trained + moments): worst relative difference %.3g", n, worst)
}

// testMPIRefusesMismatchedRanks: ranks started with different settings
// (here the seed) stop at the start with an error naming the ranks.
func testMPIRefusesMismatchedRanks(t *testing.T, bin, model, data string) {
	out := t.TempDir()
	mpirun, _ := exec.LookPath("mpirun")
	a0 := trainArgs(model, data, out, "--epochs", "1")
	a1 := append(trainArgs(model, data, out, "--epochs", "1"), "--seed", "6")
	args := append(append(mpitest.Args(1), bin), a0...)
	args = append(append(append(args, ":", "-np", "1"), bin), a1...)
	cmd := exec.Command(mpirun, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "of rank(s) [1] differ from rank 0") {
		t.Fatalf("mismatched seeds: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(out, finetune.CheckpointFile)); err == nil {
		t.Error("a refused job wrote a checkpoint")
	}
}

// rankPID finds the process of a rank among mpirun's children.
func rankPID(t *testing.T, mpirun, rank int) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(mpirun) {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if bytes.Contains(env, []byte("\x00OMPI_COMM_WORLD_RANK="+strconv.Itoa(rank)+"\x00")) {
			return pid
		}
	}
	return 0
}

// testMPIFaults: a rank that hangs (SIGSTOP) or dies (SIGKILL) mid-run
// makes the job exit non-zero — the hang within --dist-timeout (3 s, the
// test allows 60 s for the abort on a loaded machine) — and leaves a
// checkpoint that a new job resumes from.
func testMPIFaults(t *testing.T, bin, model, data string) {
	for _, c := range []struct {
		name string
		sig  syscall.Signal
	}{{"hang", syscall.SIGSTOP}, {"die", syscall.SIGKILL}} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			args := trainArgs(model, data, out, "--epochs", "1000", "--save-every", "2", "--dist-timeout", "3s")
			cmd := mpitest.Command(t, 2, bin, args...)
			cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Wait for a checkpoint, then stop or kill rank 1.
			ckpt := filepath.Join(out, finetune.CheckpointFile)
			deadline := time.Now().Add(90 * time.Second)
			for {
				if _, err := os.Stat(ckpt); err == nil {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("the job ended (%v) before its first checkpoint:\n%s", err, log.String())
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no checkpoint after 90 s:\n%s", log.String())
				}
			}
			pid := rankPID(t, cmd.Process.Pid, 1)
			if pid == 0 {
				cmd.Process.Kill()
				t.Fatal("rank 1's process not found among mpirun's children")
			}
			t0 := time.Now()
			if err := syscall.Kill(pid, c.sig); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the job still runs 60 s after rank 1 got %v:\n%s", c.sig, log.String())
			}
			dt := time.Since(t0)
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("after rank 1 got %v the job ended with %v, want a non-zero exit:\n%s", c.sig, err, log.String())
			}
			if c.sig == syscall.SIGSTOP && !strings.Contains(log.String(), "collective timed out") {
				t.Errorf("no timeout error in the output:\n%s", log.String())
			}
			t.Logf("rank 1 got %v; the job exited (%v) %v later", c.sig, err, dt.Round(time.Millisecond))
			st := readReport(t, out)
			// Resume with two ranks for two more steps.
			b, err := runMPI(t, 2, bin, append(args, "--resume", "--max-steps", strconv.Itoa(st.Steps+2))...)
			if err != nil {
				t.Fatalf("resume: %v\n%s", err, b)
			}
			if r := readReport(t, out); r.Status != finetune.StatusMaxSteps || r.Steps != st.Steps+2 {
				t.Errorf("resumed run: status %q after %d steps, want %q after %d", r.Status, r.Steps, finetune.StatusMaxSteps, st.Steps+2)
			}
		})
	}
}
