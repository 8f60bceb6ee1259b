// Command peer times our training step and the official Compacter code's
// (rabeehk/compacter, PyTorch) side by side on this machine: the same
// shapes, methods, batch, lengths, threads, dropout 0 and no gradient
// clipping on both sides,
// each measurement in a fresh process, alternating ours and theirs round
// after round so that both see the same machine. It prints per method the
// median seconds per step and peak RSS of each side over the rounds and
// their ratios (ours ÷ theirs), and writes every raw measurement as JSON.
//
//	go run ./bench/peer -src DIR [-shapes t5-small] [-methods compacter,full-finetune]
//	    [-batch 8] [-source-len 128] [-target-len 128] [-threads 2] [-rounds 3] [-steps 5]
//
// DIR holds the official code's seq2seq/ (bring the repository with the
// search tool's fetch, github:rabeehk/compacter, and export commit e123daa:
// git --git-dir=… archive e123daa | tar -x -C DIR). The harness that
// times it is ../shared/peer/bench_peer.py (-harness); it needs Debian's
// python3-torch and python3-numpy. PyTorch is given the OpenMP build of
// OpenBLAS (libopenblas0-openmp) and large glibc malloc thresholds, as
// bench/pytorch/README.md explains; without them it runs about twice as
// slow and the comparison would flatter us. On a CPU with AVX-512 the
// peer also gets OPENBLAS_CORETYPE=SKYLAKEX unless set: OpenBLAS 0.3.21
// does not recognise Sapphire/Emerald Rapids and would run its SSE3
// kernels (20 instead of 92 GFLOP/s on one core). The peer does not
// inherit this machine's OPENBLAS_* variables (an image that sets
// OPENBLAS_CORETYPE=Haswell would halve its SGEMM rate on an AVX-512 CPU);
// they are printed and recorded as peer_env_dropped. -peer-env adds or
// replaces variables of the peer's environment.
//
// Ours is `compacter bench` built once from this checkout (-bin to use
// another binary) with --dropout 0, --max-grad-norm 0 and the same shape;
// the peer's step is forward with labels, backward, AdamW.step, zero_grad
// on one fixed random batch (no clip_grad_norm_), ours a full training step
// (forward, backward, AdamW; the gradient norm is still computed, for the
// step's report) on random batches of the same shape. Peak RSS is the process's
// ru_maxrss on both sides (read by this command from the kernel for ours,
// by the harness for theirs).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// mark starts the harness's result line.
const mark = "BENCH_RESULT "

// config are the parsed flags.
type config struct {
	src, harness, bin, python, out      string
	shapes, methods                     []string
	batch, sourceLen, targetLen, thread int
	rounds, steps                       int
	peerEnv                             []string
}

// sample is one measurement of one side.
type sample struct {
	Side       string  `json:"side"` // "ours" or "peer"
	Shape      string  `json:"shape"`
	Method     string  `json:"method"`
	Round      int     `json:"round"`
	SecPerStep float64 `json:"sec_per_step"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Trainable  int64   `json:"trainable"`
	WallSec    float64 `json:"wall_s"`
	Error      string  `json:"error,omitempty"`
}

// report is the JSON output.
type report struct {
	Date      string   `json:"date"`
	Host      string   `json:"host"`
	CPU       string   `json:"cpu"`
	Batch     int      `json:"batch"`
	SourceLen int      `json:"source_len"`
	TargetLen int      `json:"target_len"`
	Threads   int      `json:"threads"`
	Steps     int      `json:"steps"`
	Rounds    int      `json:"rounds"`
	PeerEnv   []string `json:"peer_env"`
	// PeerEnvDropped lists this machine's OPENBLAS_* variables the peer
	// did not inherit.
	PeerEnvDropped []string `json:"peer_env_dropped,omitempty"`
	Samples        []sample `json:"samples"`
	Summary        []row    `json:"summary"`
}

// row is one (shape, method) of the summary.
type row struct {
	Shape        string    `json:"shape"`
	Method       string    `json:"method"`
	Ours         []float64 `json:"ours_s"`
	Peer         []float64 `json:"peer_s"`
	OursMedian   float64   `json:"ours_median_s"`
	PeerMedian   float64   `json:"peer_median_s"`
	Ratio        float64   `json:"ratio"`
	RoundRatios  []float64 `json:"round_ratios"`
	OursRSSMiB   float64   `json:"ours_peak_rss_mib"`
	PeerRSSMiB   float64   `json:"peer_peak_rss_mib"`
	RSSRatio     float64   `json:"rss_ratio"`
	OursTrained  int64     `json:"ours_trainable"`
	PeerTrained  int64     `json:"peer_trainable"`
	FailedRounds int       `json:"failed_rounds,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "peer:", err)
		}
		os.Exit(2)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.src, "src", os.Getenv("COMPACTER_SRC"), "the official code's checkout `dir` (holds seq2seq/; default $COMPACTER_SRC)")
	fs.StringVar(&c.harness, "harness", "../shared/peer/bench_peer.py", "the peer harness `file`")
	fs.StringVar(&c.bin, "bin", "", "our compacter `binary` (default: built from this checkout into a temporary directory)")
	fs.StringVar(&c.python, "python", "/usr/bin/python3", "the Python that has python3-torch")
	fs.StringVar(&c.out, "out", "", "write every measurement and the summary as JSON to `file`")
	shapes := fs.String("shapes", "t5-small", "comma-separated shapes (t5-small, t5-base)")
	methods := fs.String("methods", "compacter,adapter,full-finetune", "comma-separated methods (the names of compacter bench)")
	fs.IntVar(&c.batch, "batch", 8, "sequences per step")
	fs.IntVar(&c.sourceLen, "source-len", 128, "encoder length")
	fs.IntVar(&c.targetLen, "target-len", 128, "decoder length")
	fs.IntVar(&c.thread, "threads", 2, "threads of both sides (GOMAXPROCS; torch.set_num_threads and OMP_NUM_THREADS)")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds: each runs every (shape, method) once on each side, ours first in odd rounds")
	fs.IntVar(&c.steps, "steps", 5, "timed steps per measurement (after warm-up: 1 step ours, 2 the peer's)")
	peerEnv := fs.String("peer-env", "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp,MALLOC_MMAP_THRESHOLD_=34359738368,MALLOC_TRIM_THRESHOLD_=34359738368",
		"comma-separated KEY=VALUE added to the peer's environment (the tuned PyTorch setup)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.shapes, c.methods = splitList(*shapes), splitList(*methods)
	if len(c.shapes) == 0 || len(c.methods) == 0 {
		return c, errors.New("-shapes and -methods must not be empty")
	}
	for _, s := range c.shapes {
		if s != "t5-small" && s != "t5-base" {
			return c, fmt.Errorf("-shapes: %q: the peer harness knows t5-small and t5-base", s)
		}
	}
	for _, v := range []struct {
		name string
		v    int
	}{{"batch", c.batch}, {"source-len", c.sourceLen}, {"target-len", c.targetLen}, {"threads", c.thread},
		{"rounds", c.rounds}, {"steps", c.steps}} {
		if v.v <= 0 {
			return c, fmt.Errorf("-%s %d must be positive", v.name, v.v)
		}
	}
	if c.batch != 8 {
		return c, errors.New("-batch: the peer harness runs batch 8 only")
	}
	c.peerEnv = splitList(*peerEnv)
	coreType := false
	for _, kv := range c.peerEnv {
		if !strings.Contains(kv, "=") {
			return c, fmt.Errorf("-peer-env: %q is not KEY=VALUE", kv)
		}
		coreType = coreType || strings.HasPrefix(kv, "OPENBLAS_CORETYPE=")
	}
	// Debian's OpenBLAS 0.3.21 does not know recent Intel cores (Sapphire
	// and Emerald Rapids) and falls back to its SSE3 "Prescott" kernels,
	// 4-5x slower than its AVX-512 SkylakeX ones on the same core, and runs
	// AMD Zen 5 on its AVX2 kernels (≈165 instead of ≈300 GFLOP/s on two
	// cores): give the peer the best kernels this CPU runs. The machine's
	// own OPENBLAS_* settings are not inherited (peerEnviron): some images
	// set OPENBLAS_CORETYPE=Haswell, which would slow the peer down.
	if !coreType && cpuFlag("avx512f") {
		c.peerEnv = append(c.peerEnv, "OPENBLAS_CORETYPE=SKYLAKEX")
	}
	if c.src == "" {
		return c, errors.New("-src (or $COMPACTER_SRC) must name the official code's checkout: fetch github:rabeehk/compacter and export commit e123daa")
	}
	if st, err := os.Stat(filepath.Join(c.src, "seq2seq")); err != nil || !st.IsDir() {
		return c, fmt.Errorf("-src %q holds no seq2seq/ directory", c.src)
	}
	if _, err := os.Stat(c.harness); err != nil {
		return c, fmt.Errorf("-harness: %w", err)
	}
	return c, nil
}

// peerEnviron is the peer's environment: base (this process's) without
// its OPENBLAS_* variables, which the machine may set to weaker kernels or
// smaller caches than the CPU has (dropped lists them), then peerEnv; of
// duplicate keys exec.Cmd keeps the last, so peerEnv replaces base.
func peerEnviron(base, peerEnv []string) (env, dropped []string) {
	for _, kv := range base {
		if strings.HasPrefix(kv, "OPENBLAS_") {
			dropped = append(dropped, kv)
			continue
		}
		env = append(env, kv)
	}
	return append(env, peerEnv...), dropped
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.bin == "" {
		dir, err := os.MkdirTemp("", "peer-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.bin = filepath.Join(dir, "compacter")
		build := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "./cmd/compacter")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building compacter: %w", err)
		}
	}
	rep := report{Date: time.Now().UTC().Format(time.RFC3339), CPU: cpuName(), Batch: c.batch, SourceLen: c.sourceLen,
		TargetLen: c.targetLen, Threads: c.thread, Steps: c.steps, Rounds: c.rounds, PeerEnv: c.peerEnv}
	rep.Host, _ = os.Hostname()
	if _, rep.PeerEnvDropped = peerEnviron(os.Environ(), nil); len(rep.PeerEnvDropped) > 0 {
		fmt.Fprintf(stderr, "peer: not inheriting %s (the peer gets %s)\n", strings.Join(rep.PeerEnvDropped, " "), strings.Join(c.peerEnv, " "))
	}
	total := c.rounds * len(c.shapes) * len(c.methods) * 2
	done := 0
	start := time.Now()
	for r := 1; r <= c.rounds; r++ {
		for _, shape := range c.shapes {
			for _, m := range c.methods {
				sides := []string{"ours", "peer"}
				if r%2 == 0 {
					sides = []string{"peer", "ours"}
				}
				for _, side := range sides {
					if err := ctx.Err(); err != nil {
						return err
					}
					var s sample
					if side == "ours" {
						s = c.runOurs(ctx, shape, m)
					} else {
						s = c.runPeer(ctx, shape, m)
					}
					s.Round = r
					rep.Samples = append(rep.Samples, s)
					done++
					el := time.Since(start)
					eta := time.Duration(float64(el) * float64(total-done) / float64(done))
					status := fmt.Sprintf("%.3f s/step, peak RSS %.0f MiB", s.SecPerStep, s.PeakRSSMiB)
					if s.Error != "" {
						status = "FAILED: " + s.Error
					}
					fmt.Fprintf(stderr, "[%d/%d, ETA %s] round %d %s %s %s: %s\n", done, total, eta.Round(time.Second),
						r, shape, m, side, status)
				}
			}
		}
	}
	rep.Summary = summarize(rep.Samples, c.shapes, c.methods)
	if c.out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return writeSummary(stdout, rep)
}

// runOurs runs compacter bench for one method in a fresh process.
func (c config) runOurs(ctx context.Context, shape, method string) sample {
	s := sample{Side: "ours", Shape: shape, Method: method}
	cmd := exec.CommandContext(ctx, c.bin, "bench", "--shape", shape, "--methods", method,
		"--batch", strconv.Itoa(c.batch), "--source-len", strconv.Itoa(c.sourceLen), "--target-len", strconv.Itoa(c.targetLen),
		"--threads", strconv.Itoa(c.thread), "--dropout", "0", "--max-grad-norm", "0", "--steps", strconv.Itoa(c.steps),
		"--format", "json", "--progress=false")
	cmd.Env = append(os.Environ(), "COMPACTER_BACKEND=cpu")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	s.WallSec = time.Since(t0).Seconds()
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.PeakRSSMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
		}
	}
	if err != nil {
		s.Error = fmt.Sprintf("%v: %s", err, lastLine(errb.String()))
		return s
	}
	var t struct {
		Rows []struct {
			SecPerStep float64 `json:"sec_per_step"`
			Trainable  int64   `json:"trainable"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(out.Bytes(), &t); err != nil || len(t.Rows) != 1 {
		s.Error = fmt.Sprintf("reading compacter bench's table: %v (%d rows)", err, len(t.Rows))
		return s
	}
	s.SecPerStep, s.Trainable = t.Rows[0].SecPerStep, t.Rows[0].Trainable
	return s
}

// runPeer runs the harness for one method in a fresh process.
func (c config) runPeer(ctx context.Context, shape, method string) sample {
	s := sample{Side: "peer", Shape: shape, Method: method}
	cmd := exec.CommandContext(ctx, c.python, c.harness, "--one", method, shape, strconv.Itoa(c.steps),
		"--threads", strconv.Itoa(c.thread))
	env, _ := peerEnviron(os.Environ(), c.peerEnv)
	cmd.Env = append(env, "COMPACTER_SRC="+c.src, "OMP_NUM_THREADS="+strconv.Itoa(c.thread),
		"PEER_SOURCE_LENGTH="+strconv.Itoa(c.sourceLen), "PEER_TARGET_LENGTH="+strconv.Itoa(c.targetLen))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	s.WallSec = time.Since(t0).Seconds()
	res, perr := parsePeer(out.Bytes())
	if perr != nil {
		if err == nil {
			err = perr
		}
		s.Error = fmt.Sprintf("%v: %s", err, lastLine(errb.String()))
		return s
	}
	s.SecPerStep, s.PeakRSSMiB, s.Trainable = res.SecPerStep, res.PeakRSSMiB, res.Trainable
	if res.Error != "" {
		s.Error = res.Error
	}
	return s
}

// peerResult is what this command reads of the harness's result line.
type peerResult struct {
	SecPerStep float64 `json:"median_step_s"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Trainable  int64   `json:"trainable_params"`
	Error      string  `json:"error"`
}

// parsePeer reads the last result line of the harness's output.
func parsePeer(out []byte) (peerResult, error) {
	var res peerResult
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, mark); ok {
			var r peerResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return res, fmt.Errorf("peer result line: %w", err)
			}
			res, found = r, true
		}
	}
	if !found {
		return res, errors.New("the peer printed no result line")
	}
	if res.Error == "" && !(res.SecPerStep > 0) {
		return res, errors.New("the peer's result has no median_step_s")
	}
	return res, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := lines[len(lines)-1]
	if len(l) > 300 {
		l = l[len(l)-300:]
	}
	return l
}

// median of xs (the mean of the middle two for an even count); NaN-free
// input, not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summarize groups the samples per (shape, method): medians over the
// rounds where both sides succeeded, the ratio of the medians and each
// round's ratio.
func summarize(samples []sample, shapes, methods []string) []row {
	var rows []row
	for _, shape := range shapes {
		for _, m := range methods {
			r := row{Shape: shape, Method: m}
			byRound := map[int][2]*sample{}
			for i := range samples {
				s := &samples[i]
				if s.Shape != shape || s.Method != m {
					continue
				}
				p := byRound[s.Round]
				if s.Side == "ours" {
					p[0] = s
				} else {
					p[1] = s
				}
				byRound[s.Round] = p
			}
			rounds := make([]int, 0, len(byRound))
			for k := range byRound {
				rounds = append(rounds, k)
			}
			slices.Sort(rounds)
			var oRSS, pRSS []float64
			for _, k := range rounds {
				p := byRound[k]
				if p[0] == nil || p[1] == nil || p[0].Error != "" || p[1].Error != "" {
					r.FailedRounds++
					continue
				}
				r.Ours = append(r.Ours, p[0].SecPerStep)
				r.Peer = append(r.Peer, p[1].SecPerStep)
				r.RoundRatios = append(r.RoundRatios, p[0].SecPerStep/p[1].SecPerStep)
				oRSS, pRSS = append(oRSS, p[0].PeakRSSMiB), append(pRSS, p[1].PeakRSSMiB)
				r.OursTrained, r.PeerTrained = p[0].Trainable, p[1].Trainable
			}
			if len(r.Ours) > 0 {
				r.OursMedian, r.PeerMedian = median(r.Ours), median(r.Peer)
				r.Ratio = r.OursMedian / r.PeerMedian
				r.OursRSSMiB, r.PeerRSSMiB = median(oRSS), median(pRSS)
				if r.PeerRSSMiB > 0 {
					r.RSSRatio = r.OursRSSMiB / r.PeerRSSMiB
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// writeSummary prints the summary as a Markdown table.
func writeSummary(w io.Writer, rep report) error {
	fmt.Fprintf(w, "%s, %s; batch %d, source %d, target %d tokens, %d threads, dropout 0, no clipping, %d timed steps, %d rounds alternating\n\n",
		rep.Date, rep.CPU, rep.Batch, rep.SourceLen, rep.TargetLen, rep.Threads, rep.Steps, rep.Rounds)
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintln(tw, "| shape\t| method\t| ours s/step (rounds)\t| official s/step (rounds)\t| ours ÷ official (per round)\t| peak RSS MiB ours / official\t| trainable ours / official\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, r := range rep.Summary {
		if len(r.Ours) == 0 {
			fmt.Fprintf(tw, "| %s\t| %s\t| failed\t| failed\t| –\t| –\t| –\t|\n", r.Shape, r.Method)
			continue
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %.3f (%s)\t| %.3f (%s)\t| **%.2f** (%s)\t| %.0f / %.0f (%.2f)\t| %d / %d\t|\n",
			r.Shape, r.Method, r.OursMedian, list(r.Ours, "%.2f"), r.PeerMedian, list(r.Peer, "%.2f"),
			r.Ratio, list(r.RoundRatios, "%.2f"), r.OursRSSMiB, r.PeerRSSMiB, r.RSSRatio, r.OursTrained, r.PeerTrained)
	}
	return tw.Flush()
}

func list(xs []float64, f string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf(f, x)
	}
	return strings.Join(s, ", ")
}

// cpuFlag reports whether /proc/cpuinfo lists the flag.
func cpuFlag(flag string) bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "flags" {
			return slices.Contains(strings.Fields(v), flag)
		}
	}
	return false
}

// cpuName is the processor's model name from /proc/cpuinfo.
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
