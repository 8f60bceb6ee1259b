package kerneltest

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// refBackend is a kernels.Backend built on the float64 references (rounded
// to float32 storage), written only to test the suite itself: it must pass,
// and a backend with a planted bug (fault) must fail.
type refBackend struct {
	inUse, peak int64
	fault       string // the name of an operation to get subtly wrong
}

type refStore struct {
	f     []float32
	i     []int32
	freed bool
}

type refBuf struct {
	owner  *refBackend
	st     *refStore
	dt     kernels.DType
	off, n int
	view   bool
}

func (x *refBuf) DType() kernels.DType { return x.dt }
func (x *refBuf) Len() int             { return x.n }
func (x *refBuf) Slice(off, n int) kernels.Buffer {
	if off < 0 || n < 0 || off+n > x.n {
		panic(fmt.Sprintf("Slice(%d, %d) of %d", off, n, x.n))
	}
	return &refBuf{owner: x.owner, st: x.st, dt: x.dt, off: x.off + off, n: n, view: true}
}

func (b *refBackend) own(x kernels.Buffer) (*refBuf, error) {
	c, ok := x.(*refBuf)
	if !ok || c == nil || c.owner != b {
		return nil, fmt.Errorf("ref: foreign buffer: %w", kernels.ErrBackend)
	}
	if c.st.freed {
		return nil, fmt.Errorf("ref: freed buffer: %w", kernels.ErrBackend)
	}
	return c, nil
}

// f returns float32 storage; nil for nil.
func (b *refBackend) f(x kernels.Buffer) ([]float32, error) {
	if x == nil {
		return nil, nil
	}
	if x.DType() != kernels.Float32 {
		return nil, kernels.ErrDType
	}
	c, err := b.own(x)
	if err != nil {
		return nil, err
	}
	return c.st.f[c.off : c.off+c.n], nil
}

func (b *refBackend) i(x kernels.Buffer) ([]int32, error) {
	if x == nil {
		return nil, kernels.ErrShape
	}
	if x.DType() != kernels.Int32 {
		return nil, kernels.ErrDType
	}
	c, err := b.own(x)
	if err != nil {
		return nil, err
	}
	return c.st.i[c.off : c.off+c.n], nil
}

// fs resolves several float32 buffers, stopping at the first error.
func (b *refBackend) fs(xs ...kernels.Buffer) ([][]float32, error) {
	out := make([][]float32, len(xs))
	for k, x := range xs {
		v, err := b.f(x)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func put(dst []float32, v []float64) {
	for i := range dst {
		dst[i] = float32(v[i])
	}
}

func (b *refBackend) Name() string { return "ref" }
func (b *refBackend) Close() error { return nil }
func (b *refBackend) Sync() error  { return nil }

func (b *refBackend) Alloc(dt kernels.DType, n int) (kernels.Buffer, error) {
	if n < 0 {
		return nil, kernels.ErrShape
	}
	st := &refStore{}
	switch dt {
	case kernels.Float32:
		st.f = make([]float32, n)
	case kernels.Int32:
		st.i = make([]int32, n)
	default:
		return nil, kernels.ErrDType
	}
	b.inUse += int64(4 * n)
	b.peak = max(b.peak, b.inUse)
	return &refBuf{owner: b, st: st, dt: dt, n: n}, nil
}

func (b *refBackend) Free(x kernels.Buffer) error {
	c, err := b.own(x)
	if err != nil {
		return err
	}
	if c.view {
		return errors.New("ref: free of a view")
	}
	c.st.freed = true
	b.inUse -= int64(4 * c.n)
	return nil
}

func (b *refBackend) Mem() kernels.MemStats { return kernels.MemStats{InUse: b.inUse, Peak: b.peak} }
func (b *refBackend) ResetPeak()            { b.peak = b.inUse }

func (b *refBackend) Upload(dst kernels.Buffer, src []float32) error {
	d, err := b.f(dst)
	if err == nil && d == nil || err == nil && len(d) != len(src) {
		err = kernels.ErrShape
	}
	if err == nil {
		copy(d, src)
	}
	return err
}

func (b *refBackend) UploadInt32(dst kernels.Buffer, src []int32) error {
	d, err := b.i(dst)
	if err == nil && len(d) != len(src) {
		err = kernels.ErrShape
	}
	if err == nil {
		copy(d, src)
	}
	return err
}

func (b *refBackend) Download(dst []float32, src kernels.Buffer) error {
	s, err := b.f(src)
	if err == nil && len(dst) != len(s) {
		err = kernels.ErrShape
	}
	if err == nil {
		copy(dst, s)
	}
	return err
}

func (b *refBackend) DownloadInt32(dst []int32, src kernels.Buffer) error {
	s, err := b.i(src)
	if err == nil && len(dst) != len(s) {
		err = kernels.ErrShape
	}
	if err == nil {
		copy(dst, s)
	}
	return err
}

func (b *refBackend) Copy(dst, src kernels.Buffer) error {
	if dst == nil || src == nil || dst.Len() != src.Len() {
		return kernels.ErrShape
	}
	if dst.DType() != src.DType() {
		return kernels.ErrDType
	}
	if dst.DType() == kernels.Int32 {
		d, err := b.i(dst)
		if err != nil {
			return err
		}
		s, err := b.i(src)
		if err != nil {
			return err
		}
		copy(d, s)
		return nil
	}
	v, err := b.fs(dst, src)
	if err != nil {
		return err
	}
	copy(v[0], v[1])
	return nil
}

func (b *refBackend) Fill(dst kernels.Buffer, x float32) error {
	d, err := b.f(dst)
	if err != nil {
		return err
	}
	if d == nil {
		return kernels.ErrShape
	}
	for i := range d {
		d[i] = x
	}
	return nil
}

func (b *refBackend) Gemm(p kernels.GemmParams) error {
	p, err := p.Normalize()
	if err != nil || p.M == 0 || p.N == 0 {
		return err
	}
	v, err := b.fs(p.C, p.A, p.B)
	if err != nil {
		return err
	}
	c := F64(v[0])
	a, bb := F64(v[1]), F64(v[2])
	for i := 0; i < p.Batch; i++ {
		if p.K == 0 {
			Gemm(false, false, p.M, p.N, 0, 0, nil, 0, nil, 0, float64(p.Beta), c[i*p.StrideC:], p.LDC)
			continue
		}
		Gemm(p.TransA, p.TransB, p.M, p.N, p.K, float64(p.Alpha), a[i*p.StrideA:], p.LDA, bb[i*p.StrideB:], p.LDB, float64(p.Beta), c[i*p.StrideC:], p.LDC)
	}
	if b.fault == "Gemm" && p.TransA && p.TransB {
		c[0] *= 1.001
	}
	// Write back only the elements of C (the gaps are not touched).
	for bt := 0; bt < p.Batch; bt++ {
		for i := 0; i < p.M; i++ {
			o := bt*p.StrideC + i*p.LDC
			put(v[0][o:o+p.N], c[o:o+p.N])
		}
	}
	return nil
}

// same checks equal lengths of non-nil float32 buffers.
func (b *refBackend) same(n int, xs ...kernels.Buffer) ([][]float32, error) {
	for _, x := range xs {
		if err := kernels.CheckExact("ref", "x", x, kernels.Float32, n); err != nil {
			return nil, err
		}
	}
	return b.fs(xs...)
}

func (b *refBackend) Binary(op kernels.BinaryOp, dst, a, c kernels.Buffer) error {
	if dst == nil {
		return kernels.ErrShape
	}
	v, err := b.same(dst.Len(), dst, a, c)
	if err != nil {
		return err
	}
	if op < kernels.Add || op > kernels.Mul {
		return errors.New("ref: unknown op")
	}
	put(v[0], Binary(op, F64(v[1]), F64(v[2])))
	if b.fault == "Binary" && c != dst && c != a {
		v[2][0]++ // an input changed
	}
	return nil
}

func (b *refBackend) Axpby(dst kernels.Buffer, alpha float32, x kernels.Buffer, beta float32) error {
	if dst == nil {
		return kernels.ErrShape
	}
	v, err := b.same(dst.Len(), dst, x)
	if err != nil {
		return err
	}
	d := F64(v[0])
	if b.fault == "Axpby" && beta == 0 {
		beta = 1e-30 // dst read although beta = 0: poison propagates
	}
	Axpby(d, float64(alpha), F64(v[1]), float64(beta))
	put(v[0], d)
	return nil
}

func (b *refBackend) Scale(dst kernels.Buffer, alpha float32) error {
	if dst == nil {
		return kernels.ErrShape
	}
	v, err := b.same(dst.Len(), dst)
	if err != nil {
		return err
	}
	d := F64(v[0])
	Scale(d, float64(alpha))
	put(v[0], d)
	if c := dst.(*refBuf); b.fault == "Scale" && c.off+c.n < len(c.st.f) {
		c.st.f[c.off+c.n] = 0 // a write past the end of a view
	}
	return nil
}

func (b *refBackend) AddBias(x, bias kernels.Buffer, rows, cols int) error {
	if err := kernels.CheckExact("ref", "x", x, kernels.Float32, rows*cols); err != nil {
		return err
	}
	v, err := b.same(cols, bias)
	if err != nil {
		return err
	}
	xv, _ := b.f(x)
	d := F64(xv)
	AddBias(d, F64(v[0]), rows, cols)
	put(xv, d)
	return nil
}

func (b *refBackend) SumRows(dst, x kernels.Buffer, rows, cols int, beta float32) error {
	if err := kernels.CheckExact("ref", "x", x, kernels.Float32, rows*cols); err != nil {
		return err
	}
	v, err := b.same(cols, dst)
	if err != nil {
		return err
	}
	xv, err := b.f(x)
	if err != nil {
		return err
	}
	d := F64(v[0])
	SumRows(d, F64(xv), rows, cols, float64(beta))
	put(v[0], d)
	return nil
}

func (b *refBackend) SumSquares(dst, x kernels.Buffer) error {
	if err := kernels.CheckBuf("ref", "dst", dst, kernels.Float32, 1); err != nil {
		return err
	}
	if err := kernels.CheckBuf("ref", "x", x, kernels.Float32, 0); err != nil {
		return err
	}
	v, err := b.fs(dst, x)
	if err != nil {
		return err
	}
	v[0][0] = float32(float64(v[0][0]) + SumSquares(F64(v[1])))
	return nil
}

func (b *refBackend) Act(f kernels.Activation, dst, x kernels.Buffer) error {
	if dst == nil {
		return kernels.ErrShape
	}
	v, err := b.same(dst.Len(), dst, x)
	if err != nil {
		return err
	}
	if f < kernels.ReLU || f > kernels.Sigmoid {
		return errors.New("ref: unknown activation")
	}
	put(v[0], Act(f, F64(v[1])))
	return nil
}

func (b *refBackend) ActBackward(f kernels.Activation, dx, dy, x kernels.Buffer) error {
	if dx == nil {
		return kernels.ErrShape
	}
	v, err := b.same(dx.Len(), dx, dy, x)
	if err != nil {
		return err
	}
	if f < kernels.ReLU || f > kernels.Sigmoid {
		return errors.New("ref: unknown activation")
	}
	put(v[0], ActBackward(f, F64(v[1]), F64(v[2])))
	return nil
}

func (b *refBackend) RMSNorm(p kernels.RMSNormParams) error {
	if err := p.Validate(false); err != nil {
		return err
	}
	v, err := b.fs(p.X, p.W, p.Y, p.RStd)
	if err != nil {
		return err
	}
	y, rs := RMSNorm(F64(v[0]), F64(v[1]), p.Rows, p.Cols, float64(p.Eps))
	put(v[2], y)
	put(v[3], rs)
	return nil
}

func (b *refBackend) RMSNormBackward(p kernels.RMSNormParams) error {
	if err := p.Validate(true); err != nil {
		return err
	}
	v, err := b.fs(p.X, p.W, p.RStd, p.DY, p.DX, p.DW)
	if err != nil {
		return err
	}
	var dw []float64
	if v[5] != nil {
		dw = F64(v[5])
	}
	put(v[4], RMSNormBackward(F64(v[0]), F64(v[1]), F64(v[2]), F64(v[3]), p.Rows, p.Cols, dw))
	if dw != nil {
		put(v[5], dw)
	}
	return nil
}

func (b *refBackend) Softmax(p kernels.SoftmaxParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	v, err := b.fs(p.X, p.Y)
	if err != nil {
		return err
	}
	var ms []Mask
	for _, m := range p.Masks {
		mv, err := b.f(m.M)
		if err != nil {
			return err
		}
		ms = append(ms, Mask{M: F64(mv), StrideBatch: m.StrideBatch, StrideHead: m.StrideHead, StrideRow: m.StrideRow})
	}
	y := Softmax(F64(v[0]), p.Batch, p.Heads, p.Rows, p.Cols, ms, p.Causal)
	if b.fault == "Softmax" && p.Causal {
		y[len(y)-1] += 1e-30 // an excluded element slightly non-zero
		if p.Rows > 0 {
			y[(p.Rows-1)*p.Cols+p.Cols-1] = 0 // and the last element of row 0 dropped
			y[p.Cols-1] += 1e-30
		}
	}
	put(v[1], y)
	return nil
}

func (b *refBackend) SoftmaxBackward(dx, dy, y kernels.Buffer, rows, cols int) error {
	v, err := b.same(rows*cols, dx, dy, y)
	if err != nil {
		return err
	}
	put(v[0], SoftmaxBackward(F64(v[1]), F64(v[2]), rows, cols))
	return nil
}

func (b *refBackend) embArgs(table, ids, other kernels.Buffer, dim int) ([]float32, []int32, []float32, error) {
	if dim <= 0 || table == nil || table.Len()%dim != 0 {
		return nil, nil, nil, kernels.ErrShape
	}
	iv, err := b.i(ids)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := kernels.CheckExact("ref", "dst", other, kernels.Float32, len(iv)*dim); err != nil {
		return nil, nil, nil, err
	}
	v, err := b.fs(table, other)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, id := range iv {
		if b.fault != "Embedding" && (id < 0 || int(id) >= table.Len()/dim) {
			return nil, nil, nil, fmt.Errorf("ref: id %d out of range: %w", id, kernels.ErrShape)
		}
	}
	return v[0], iv, v[1], nil
}

func (b *refBackend) Embedding(dst, table, ids kernels.Buffer, dim int) error {
	tv, iv, dv, err := b.embArgs(table, ids, dst, dim)
	if err != nil {
		return err
	}
	put(dv, Embedding(F64(tv), iv, dim))
	return nil
}

func (b *refBackend) EmbeddingBackward(dtable, dout, ids kernels.Buffer, dim int) error {
	tv, iv, dv, err := b.embArgs(dtable, ids, dout, dim)
	if err != nil {
		return err
	}
	t := F64(tv)
	EmbeddingBackward(t, F64(dv), iv, dim)
	put(tv, t)
	return nil
}

func (b *refBackend) CrossEntropy(p kernels.CrossEntropyParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	v, err := b.fs(p.Logits, p.Loss, p.DLogits)
	if err != nil {
		return err
	}
	lab, err := b.i(p.Labels)
	if err != nil {
		return err
	}
	for _, l := range lab {
		if l != p.IgnoreIndex && (l < 0 || int(l) >= p.Vocab) {
			return fmt.Errorf("ref: label %d: %w", l, kernels.ErrShape)
		}
	}
	loss, dl := CrossEntropy(F64(v[0]), lab, p.Rows, p.Vocab, p.IgnoreIndex, float64(p.GradScale))
	put(v[1], loss)
	if v[2] != nil {
		put(v[2], dl)
	}
	return nil
}

func (b *refBackend) AdamW(p kernels.AdamWParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.SumSquares != nil {
		if err := b.SumSquares(p.SumSquares, p.Grad); err != nil {
			return err
		}
	}
	v, err := b.fs(p.Param, p.Grad, p.M, p.V)
	if err != nil {
		return err
	}
	pr, m, vv := F64(v[0]), F64(v[2]), F64(v[3])
	AdamW(pr, F64(v[1]), m, vv, float64(p.LR), float64(p.Beta1), float64(p.Beta2), float64(p.Eps), float64(p.WeightDecay), p.Step)
	put(v[0], pr)
	put(v[2], m)
	put(v[3], vv)
	return nil
}

func (b *refBackend) Dropout(dst, src kernels.Buffer, p float32, seed, offset uint64) error {
	if !(p >= 0 && p < 1) {
		return fmt.Errorf("ref: p=%v: %w", p, kernels.ErrShape)
	}
	if dst == nil {
		return kernels.ErrShape
	}
	v, err := b.same(dst.Len(), dst, src)
	if err != nil {
		return err
	}
	if b.fault == "Dropout" {
		offset++
	}
	put(v[0], Dropout(F64(v[1]), p, seed, offset))
	return nil
}

func (b *refBackend) Permute(dst, src kernels.Buffer, dims, perm [4]int) error {
	if _, err := kernels.CheckPermute(dst, src, dims, perm); err != nil {
		return err
	}
	v, err := b.fs(dst, src)
	if err != nil {
		return err
	}
	put(v[0], Permute(F64(v[1]), dims, perm))
	return nil
}

func (b *refBackend) FWHT(x kernels.Buffer, logN, batch int, orthonormal bool) error {
	if err := kernels.CheckFWHT(x, logN, batch); err != nil {
		return err
	}
	xv, err := b.f(x)
	if err != nil {
		return err
	}
	d := F64(xv)
	FWHT(d, logN, batch, orthonormal)
	put(xv, d)
	return nil
}

func (b *refBackend) kron(k kernels.KronParams) (Kron, error) {
	v, err := b.fs(k.A, k.W, k.S, k.T)
	if err != nil {
		return Kron{}, err
	}
	h := Kron{In: k.In, Out: k.Out, N: k.N, Rank: k.Rank, A: F64(v[0])}
	if k.Rank > 0 {
		h.S, h.T = F64(v[2]), F64(v[3])
	} else {
		h.W = F64(v[1])
	}
	return h, nil
}

// grads resolves the optional gradient buffers as float64 copies.
func (b *refBackend) grads(xs ...kernels.Buffer) ([][]float32, [][]float64, error) {
	v, err := b.fs(xs...)
	if err != nil {
		return nil, nil, err
	}
	g := make([][]float64, len(v))
	for i, x := range v {
		if x != nil {
			g[i] = F64(x)
		}
	}
	return v, g, nil
}

func putAll(v [][]float32, g [][]float64) {
	for i := range v {
		if v[i] != nil {
			put(v[i], g[i])
		}
	}
}

func (b *refBackend) KronSum(p kernels.KronParams) error {
	if err := p.Validate(false); err != nil {
		return err
	}
	k, err := b.kron(p)
	if err != nil {
		return err
	}
	hv, err := b.f(p.H)
	if err != nil {
		return err
	}
	put(hv, k.H())
	return nil
}

func (b *refBackend) KronSumBackward(p kernels.KronParams) error {
	if err := p.Validate(true); err != nil {
		return err
	}
	k, err := b.kron(p)
	if err != nil {
		return err
	}
	dh, err := b.f(p.DH)
	if err != nil {
		return err
	}
	if p.Rank > 0 {
		p.DW = nil
	} else {
		p.DS, p.DT = nil, nil
	}
	v, g, err := b.grads(p.DA, p.DW, p.DS, p.DT)
	if err != nil {
		return err
	}
	k.Backward(F64(dh), g[0], g[1], g[2], g[3])
	putAll(v, g)
	return nil
}

func (b *refBackend) PHM(p kernels.PHMParams) error {
	if err := p.Validate(false); err != nil {
		return err
	}
	k, err := b.kron(p.Kron())
	if err != nil {
		return err
	}
	v, err := b.fs(p.X, p.Y, p.Bias)
	if err != nil {
		return err
	}
	var bias []float64
	if v[2] != nil {
		bias = F64(v[2])
	}
	y := k.PHM(F64(v[0]), p.Rows, bias)
	if b.fault == "PHM" && p.Algo == kernels.PHMFused && len(y) > 1 {
		y[len(y)-1] = 0 // the last element not written
	}
	if p.Accumulate {
		for i, o := range F64(v[1]) {
			y[i] += o
		}
	}
	put(v[1], y)
	return nil
}

func (b *refBackend) PHMBackward(p kernels.PHMParams) error {
	if err := p.Validate(true); err != nil {
		return err
	}
	k, err := b.kron(p.Kron())
	if err != nil {
		return err
	}
	v, err := b.fs(p.X, p.DY, p.DX)
	if err != nil {
		return err
	}
	if p.Rank > 0 {
		p.DW = nil
	} else {
		p.DS, p.DT = nil, nil
	}
	gv, g, err := b.grads(p.DA, p.DW, p.DS, p.DT, p.DBias)
	if err != nil {
		return err
	}
	dx := k.PHMBackward(F64(v[0]), F64(v[1]), p.Rows, g[0], g[1], g[2], g[3], g[4])
	if b.fault == "PHMBackward" && g[0] != nil {
		g[0][0] += 1e-3 * math.Abs(g[0][0])
	}
	putAll(gv, g)
	if v[2] != nil {
		if p.Accumulate {
			for i, o := range F64(v[2]) {
				dx[i] += o
			}
		}
		put(v[2], dx)
	}
	return nil
}

func init() {
	kernels.Register(kernels.Driver{Name: "kerneltest-ref", Open: func() (kernels.Backend, error) { return &refBackend{}, nil }})
	kernels.Register(kernels.Driver{Name: "kerneltest-absent", Open: func() (kernels.Backend, error) { return &refBackend{}, nil },
		Probe: func() error { return errors.New("not on this machine") }})
}

// TestSuiteOnReference runs the suite on the reference backend, opened
// through the registry as cuda's test does: a correct backend passes it.
func TestSuiteOnReference(t *testing.T) {
	Run(t, OpenDriver("kerneltest-ref"))
}

// TestOpenDriverSkips checks that OpenDriver skips an unavailable backend.
func TestOpenDriverSkips(t *testing.T) {
	t.Run("absent", func(t *testing.T) {
		OpenDriver("kerneltest-absent")(t)
		t.Error("OpenDriver did not skip an unavailable backend")
	})
}

// faultEnv names the planted bug of TestFaultyReference.
const faultEnv = "KERNELTEST_FAULT"

// TestFaultyReference runs the suite on a reference backend with the bug
// named by $KERNELTEST_FAULT; it is skipped unless TestSuiteCatchesFaults
// runs it in a child process.
func TestFaultyReference(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if fault == "" {
		t.Skip("run by TestSuiteCatchesFaults")
	}
	Run(t, func(*testing.T) kernels.Backend { return &refBackend{fault: fault} })
}

// TestSuiteCatchesFaults checks that the suite fails backends with planted
// bugs: an element off by 1e-3 (Gemm with both transposes), an excluded
// softmax element slightly above 0, a dropout mask shifted by one, an
// unwritten output element (fused PHM), a gradient off by 1e-3, a changed
// input (Binary), an output read when beta = 0 (Axpby), a write past the end
// of a view (Scale), ids not checked (Embedding: a panic).
func TestSuiteCatchesFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	for _, op := range []string{"Gemm", "Softmax", "Dropout", "PHM", "PHMBackward", "Binary", "Axpby", "Scale", "Embedding"} {
		t.Run(op, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFaultyReference$/^"+op+"$", "-test.short")
			cmd.Env = append(os.Environ(), faultEnv+"="+op)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a backend with a broken %s:\n%s", op, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestFaultyReference/"+op) {
				t.Fatalf("the child did not fail in %s:\n%s", op, out)
			}
		})
	}
}
