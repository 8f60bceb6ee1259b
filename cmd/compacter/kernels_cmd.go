package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/compacter-go/compacter/kernels"
)

// measurement is one row of `compacter kernels`; with --format json each is
// printed as one JSON object per line.
type measurement struct {
	Op      string  `json:"op"`
	Backend string  `json:"backend"`
	Shape   string  `json:"shape"`
	Algo    string  `json:"algo,omitempty"`
	Threads int     `json:"threads"`
	NsPerOp float64 `json:"ns_per_op"`
	GFLOPS  float64 `json:"gflops,omitempty"`
	GBPS    float64 `json:"gbps,omitempty"`
}

// kernelCase is one timed operation: run performs it once on buffers that
// setup allocated.
type kernelCase struct {
	op, shape, algo string
	flops, bytes    float64
	run             func() error
}

type kernelFlags struct {
	op, backend, algo, format, pass string
	threads                         int
	m, k, n                         int
	in, out, rank, rows             int
	size, batch                     int
	minTime                         time.Duration
	seed                            uint64
}

const kernelsHelp = `Usage: compacter kernels [flags]

Times kernels on one backend and prints a table, or one JSON object per
measurement with --format json (fields op, backend, shape, algo, threads,
ns_per_op, and gflops or gbps). Without --op it times the default set: SGEMM at
the T5 shapes, PHM and LPHM at the Compacter adapter shape (fused and
materialised), and FWHT at 2^10, 2^16 and 2^20.

  --op sgemm   C = A·B with --m --k --n
  --op phm     PHM layer y = x·(Σ Aᵢ⊗Wᵢ) + b, with --in --out --n --rows
  --op lphm    Compacter (low-rank PHM) layer, with --in --out --n --rank --rows
  --op fwht    Walsh–Hadamard transform of --batch vectors of --size (a power of 2)

PHM and LPHM run forward+backward by default (--pass), with --algo fused,
materialize, auto or both; their gflops are dense-equivalent (the FLOPs of the
same layer as a dense matmul: 2·rows·in·out per pass, 3 passes for forward and
backward), so they compare directly across algorithms. FWHT's gbps counts one
read and one write of every element.

Flags:
`

func parseKernelFlags(args []string, stderr io.Writer) (*kernelFlags, error) {
	f := &kernelFlags{}
	fs := flag.NewFlagSet("kernels", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, kernelsHelp)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.op, "op", "", "operation: sgemm, phm, lphm or fwht (empty: the default set)")
	fs.StringVar(&f.backend, "backend", "", "backend name (empty: $COMPACTER_BACKEND or the best available)")
	fs.IntVar(&f.threads, "threads", 0, "threads for CPU backends (0: all cores)")
	fs.IntVar(&f.m, "m", 1024, "sgemm: rows of A and C")
	fs.IntVar(&f.k, "k", 768, "sgemm: columns of A, rows of B")
	fs.IntVar(&f.n, "n", 0, "sgemm: columns of B and C (default 3072); phm/lphm: number of Kronecker terms (default 4)")
	fs.IntVar(&f.in, "in", 768, "phm/lphm: input features")
	fs.IntVar(&f.out, "out", 24, "phm/lphm: output features")
	fs.IntVar(&f.rank, "rank", 1, "lphm: rank of the factors Wᵢ = Sᵢ·Tᵢ")
	fs.IntVar(&f.rows, "rows", 1024, "phm/lphm: rows (tokens) per call")
	fs.StringVar(&f.algo, "algo", "both", "phm/lphm: fused, materialize, auto or both")
	fs.StringVar(&f.pass, "pass", "both", "phm/lphm: forward, backward or both")
	fs.IntVar(&f.size, "size", 1<<16, "fwht: length of each vector (a power of 2)")
	fs.IntVar(&f.batch, "batch", 1, "fwht: number of vectors")
	fs.StringVar(&f.format, "format", "table", "output: table or json")
	fs.DurationVar(&f.minTime, "min-time", 300*time.Millisecond, "minimum time to run each measurement")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the random inputs")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("kernels: unexpected arguments %q", fs.Args())
	}
	switch f.format {
	case "table", "json":
	default:
		return nil, fmt.Errorf("kernels: --format %q: want table or json", f.format)
	}
	switch f.algo {
	case "fused", "materialize", "auto", "both":
	default:
		return nil, fmt.Errorf("kernels: --algo %q: want fused, materialize, auto or both", f.algo)
	}
	switch f.pass {
	case "forward", "backward", "both":
	default:
		return nil, fmt.Errorf("kernels: --pass %q: want forward, backward or both", f.pass)
	}
	if f.threads < 0 || f.minTime < 0 {
		return nil, errors.New("kernels: --threads and --min-time must not be negative")
	}
	return f, nil
}

func runKernels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseKernelFlags(args, stderr)
	if err != nil {
		return err
	}
	var be kernels.Backend
	if f.backend == "" {
		be, err = kernels.Default()
	} else {
		be, err = kernels.Open(f.backend)
	}
	if err != nil {
		return err
	}
	threads := 1
	if t, ok := be.(interface {
		SetThreads(int)
		Threads() int
	}); ok {
		t.SetThreads(f.threads)
		threads = t.Threads()
	}
	specs, err := f.specs()
	if err != nil {
		return err
	}
	var tw *tabwriter.Writer
	if f.format == "table" {
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "op\tbackend\tshape\talgo\tthreads\tns/op\tGFLOP/s\tGB/s\t")
	}
	enc := json.NewEncoder(stdout)
	for i, s := range specs {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "\r[%d/%d] %s %s %s        ", i+1, len(specs), s.op, s.shapeString(), s.algo)
		m, err := s.measure(ctx, be, f)
		if err != nil {
			fmt.Fprintln(stderr)
			return err
		}
		m.Threads = threads
		if tw != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.0f\t%s\t%s\t\n", m.Op, m.Backend, m.Shape, m.Algo, m.Threads, m.NsPerOp, fmtRate(m.GFLOPS), fmtRate(m.GBPS))
		} else if err := enc.Encode(m); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "\r%s\r", strings.Repeat(" ", 60))
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func fmtRate(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// spec is one measurement to make: an op and its sizes.
type spec struct {
	op                      string
	m, k, n                 int // sgemm
	in, out, nk, rank, rows int // phm, lphm
	size, batch             int // fwht
	algo                    string
	pass                    string
}

func (s spec) shapeString() string {
	switch s.op {
	case "sgemm":
		return fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n)
	case "phm":
		return fmt.Sprintf("%d->%d n=%d rows=%d", s.in, s.out, s.nk, s.rows)
	case "lphm":
		return fmt.Sprintf("%d->%d n=%d r=%d rows=%d", s.in, s.out, s.nk, s.rank, s.rows)
	case "fwht":
		return fmt.Sprintf("2^%d x %d", bits.TrailingZeros(uint(s.size)), s.batch)
	}
	return ""
}

// specs expands the flags into the measurements to make.
func (f *kernelFlags) specs() ([]spec, error) {
	algos := []string{f.algo}
	if f.algo == "both" {
		algos = []string{"fused", "materialize"}
	}
	pass := f.pass
	switch f.op {
	case "":
		var out []spec
		for _, s := range [][3]int{{1024, 768, 3072}, {1024, 3072, 768}, {1024, 768, 768}, {4096, 768, 768}} {
			out = append(out, spec{op: "sgemm", m: s[0], k: s[1], n: s[2]})
		}
		for _, op := range []string{"lphm", "phm"} {
			rank := 0 // phm: a full W[i] per term
			if op == "lphm" {
				rank = 1
			}
			for _, a := range []string{"fused", "materialize"} {
				out = append(out, spec{op: op, in: 768, out: 24, nk: 4, rank: rank, rows: 1024, algo: a, pass: "both"})
			}
		}
		for _, lg := range []int{10, 16, 20} {
			out = append(out, spec{op: "fwht", size: 1 << lg, batch: 1})
		}
		return out, nil
	case "sgemm":
		n := f.n
		if n == 0 {
			n = 3072
		}
		if f.m <= 0 || f.k <= 0 || n <= 0 {
			return nil, fmt.Errorf("kernels: sgemm sizes must be positive, got m=%d k=%d n=%d", f.m, f.k, n)
		}
		return []spec{{op: "sgemm", m: f.m, k: f.k, n: n}}, nil
	case "phm", "lphm":
		n := f.n
		if n == 0 {
			n = 4
		}
		rank := 0
		if f.op == "lphm" {
			rank = f.rank
			if rank <= 0 {
				return nil, fmt.Errorf("kernels: lphm needs --rank ≥ 1, got %d", rank)
			}
		}
		if n <= 0 || f.in <= 0 || f.out <= 0 || f.rows <= 0 || f.in%n != 0 || f.out%n != 0 {
			return nil, fmt.Errorf("kernels: %s needs positive sizes with --in and --out multiples of --n (in=%d out=%d n=%d rows=%d)", f.op, f.in, f.out, n, f.rows)
		}
		var out []spec
		for _, a := range algos {
			out = append(out, spec{op: f.op, in: f.in, out: f.out, nk: n, rank: rank, rows: f.rows, algo: a, pass: pass})
		}
		return out, nil
	case "fwht":
		if f.size <= 0 || f.size&(f.size-1) != 0 || f.size > 1<<30 {
			return nil, fmt.Errorf("kernels: fwht --size %d is not a power of 2 up to 2^30", f.size)
		}
		if f.batch <= 0 {
			return nil, fmt.Errorf("kernels: fwht --batch must be positive, got %d", f.batch)
		}
		return []spec{{op: "fwht", size: f.size, batch: f.batch}}, nil
	}
	return nil, fmt.Errorf("kernels: unknown --op %q (want sgemm, phm, lphm or fwht)", f.op)
}

// bufs allocates random buffers on a backend and frees them all at once.
type bufs struct {
	be   kernels.Backend
	rng  *rand.Rand
	list []kernels.Buffer
}

func (b *bufs) rand(n int, scale float32) (kernels.Buffer, error) {
	buf, err := b.be.Alloc(kernels.Float32, n)
	if err != nil {
		return nil, err
	}
	b.list = append(b.list, buf)
	v := make([]float32, n)
	for i := range v {
		v[i] = scale * float32(b.rng.NormFloat64())
	}
	return buf, b.be.Upload(buf, v)
}

func (b *bufs) free() {
	for _, x := range b.list {
		_ = b.be.Free(x)
	}
}

// setup allocates the inputs of s and returns the timed case.
func (s spec) setup(be kernels.Backend, bs *bufs) (kernelCase, error) {
	kc := kernelCase{op: s.op, shape: s.shapeString(), algo: s.algo}
	r := func(n int) kernels.Buffer {
		if bs.rng == nil {
			return nil
		}
		x, err := bs.rand(n, 0.1)
		if err != nil {
			bs.rng = nil // remember the failure; reported below
			return nil
		}
		return x
	}
	switch s.op {
	case "sgemm":
		p := kernels.GemmParams{M: s.m, N: s.n, K: s.k, Alpha: 1, A: r(s.m * s.k), B: r(s.k * s.n), C: r(s.m * s.n)}
		kc.flops = p.FLOPs()
		kc.run = func() error { return be.Gemm(p) }
	case "phm", "lphm":
		inN, outN := s.in/s.nk, s.out/s.nk
		p := kernels.PHMParams{Rows: s.rows, In: s.in, Out: s.out, N: s.nk, Rank: s.rank,
			X: r(s.rows * s.in), Y: r(s.rows * s.out), A: r(s.nk * s.nk * s.nk), Bias: r(s.out),
			DY: r(s.rows * s.out), DX: r(s.rows * s.in), DA: r(s.nk * s.nk * s.nk), DBias: r(s.out)}
		if s.rank > 0 {
			p.S, p.T = r(s.nk*inN*s.rank), r(s.nk*s.rank*outN)
			p.DS, p.DT = r(s.nk*inN*s.rank), r(s.nk*s.rank*outN)
		} else {
			p.W, p.DW = r(s.nk*inN*outN), r(s.nk*inN*outN)
		}
		switch s.algo {
		case "fused":
			p.Algo = kernels.PHMFused
		case "materialize":
			p.Algo = kernels.PHMMaterialize
		}
		dense := 2 * float64(s.rows) * float64(s.in) * float64(s.out)
		switch s.pass {
		case "forward":
			kc.flops = dense
			kc.run = func() error { return be.PHM(p) }
		case "backward":
			kc.flops = 2 * dense
			kc.run = func() error { return be.PHMBackward(p) }
		default:
			kc.flops = 3 * dense
			kc.run = func() error {
				if err := be.PHM(p); err != nil {
					return err
				}
				return be.PHMBackward(p)
			}
		}
	case "fwht":
		x := r(s.size * s.batch)
		lg := bits.TrailingZeros(uint(s.size))
		kc.bytes = 8 * float64(s.size) * float64(s.batch)
		kc.run = func() error { return be.FWHT(x, lg, s.batch, true) }
	default:
		return kc, fmt.Errorf("kernels: unknown op %q", s.op)
	}
	if bs.rng == nil {
		return kc, fmt.Errorf("kernels: allocating inputs for %s %s on %s failed", s.op, kc.shape, be.Name())
	}
	return kc, nil
}

// measure runs s until f.minTime has passed (at least twice: one warm-up) and
// returns ns per operation.
func (s spec) measure(ctx context.Context, be kernels.Backend, f *kernelFlags) (measurement, error) {
	bs := &bufs{be: be, rng: rand.New(rand.NewPCG(f.seed, uint64(len(s.op))))}
	defer bs.free()
	kc, err := s.setup(be, bs)
	if err != nil {
		return measurement{}, err
	}
	if err := kc.run(); err != nil { // warm-up, and the error check
		return measurement{}, fmt.Errorf("%s %s: %w", s.op, kc.shape, err)
	}
	if err := be.Sync(); err != nil {
		return measurement{}, err
	}
	iters, total := 0, time.Duration(0)
	for n := 1; ; n *= 2 {
		start := time.Now()
		for range n {
			if err := kc.run(); err != nil {
				return measurement{}, fmt.Errorf("%s %s: %w", s.op, kc.shape, err)
			}
		}
		if err := be.Sync(); err != nil {
			return measurement{}, err
		}
		total += time.Since(start)
		iters += n
		if total >= f.minTime || ctx.Err() != nil {
			break
		}
	}
	ns := float64(total.Nanoseconds()) / float64(iters)
	m := measurement{Op: kc.op, Backend: be.Name(), Shape: kc.shape, Algo: kc.algo, NsPerOp: ns}
	if kc.flops > 0 {
		m.GFLOPS = kc.flops / ns
	}
	if kc.bytes > 0 {
		m.GBPS = kc.bytes / ns
	}
	return m, nil
}
