package kernels

import (
	"fmt"
)

// The Validate methods hold the argument checks every backend runs before an
// operation, so that all backends accept and reject the same inputs. They
// return errors wrapping ErrShape or ErrDType.

func shapeErr(op, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", op, fmt.Sprintf(format, args...), ErrShape)
}

// CheckBuf checks that b is a non-nil buffer of dtype dt with at least n
// elements. name names the argument in the error.
func CheckBuf(op, name string, b Buffer, dt DType, n int) error {
	if b == nil {
		return shapeErr(op, "%s is nil", name)
	}
	if b.DType() != dt {
		return fmt.Errorf("%s: %s is %v, want %v: %w", op, name, b.DType(), dt, ErrDType)
	}
	if n < 0 {
		return shapeErr(op, "negative size for %s", name)
	}
	if b.Len() < n {
		return shapeErr(op, "%s has %d elements, need %d", name, b.Len(), n)
	}
	return nil
}

// CheckExact is CheckBuf with exactly n elements.
func CheckExact(op, name string, b Buffer, dt DType, n int) error {
	if err := CheckBuf(op, name, b, dt, n); err != nil {
		return err
	}
	if b.Len() != n {
		return shapeErr(op, "%s has %d elements, want %d", name, b.Len(), n)
	}
	return nil
}

// checkOpt is CheckExact for an optional (possibly nil) buffer.
func checkOpt(op, name string, b Buffer, n int) error {
	if b == nil {
		return nil
	}
	return CheckExact(op, name, b, Float32, n)
}

// Normalize fills zero leading dimensions and Batch with their tight values
// and validates p. Backends call it first and use the returned copy.
func (p GemmParams) Normalize() (GemmParams, error) {
	const op = "gemm"
	if p.M < 0 || p.N < 0 || p.K < 0 {
		return p, shapeErr(op, "negative size m=%d n=%d k=%d", p.M, p.N, p.K)
	}
	if p.Batch == 0 {
		p.Batch = 1
	}
	if p.Batch < 0 {
		return p, shapeErr(op, "negative batch %d", p.Batch)
	}
	ar, ac := p.M, p.K
	if p.TransA {
		ar, ac = p.K, p.M
	}
	br, bc := p.K, p.N
	if p.TransB {
		br, bc = p.N, p.K
	}
	if p.LDA == 0 {
		p.LDA = max(ac, 1)
	}
	if p.LDB == 0 {
		p.LDB = max(bc, 1)
	}
	if p.LDC == 0 {
		p.LDC = max(p.N, 1)
	}
	if p.LDA < ac || p.LDB < bc || p.LDC < p.N {
		return p, shapeErr(op, "leading dimensions lda=%d ldb=%d ldc=%d too small for %d, %d, %d", p.LDA, p.LDB, p.LDC, ac, bc, p.N)
	}
	if p.StrideA < 0 || p.StrideB < 0 || p.StrideC < 0 {
		return p, shapeErr(op, "negative stride")
	}
	if p.Batch > 1 && p.StrideC == 0 && p.M*p.N > 0 {
		return p, shapeErr(op, "batched gemm with StrideC 0 would write one C %d times", p.Batch)
	}
	span := func(rows, cols, ld, stride int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (p.Batch-1)*stride + (rows-1)*ld + cols
	}
	if p.M == 0 || p.N == 0 {
		return p, nil
	}
	if err := CheckBuf(op, "C", p.C, Float32, span(p.M, p.N, p.LDC, p.StrideC)); err != nil {
		return p, err
	}
	if p.K == 0 {
		return p, nil
	}
	if err := CheckBuf(op, "A", p.A, Float32, span(ar, ac, p.LDA, p.StrideA)); err != nil {
		return p, err
	}
	return p, CheckBuf(op, "B", p.B, Float32, span(br, bc, p.LDB, p.StrideB))
}

// FLOPs is the number of floating-point operations of the product (2·M·N·K
// per batch), the figure GFLOP/s rates are computed from.
func (p GemmParams) FLOPs() float64 {
	b := max(p.Batch, 1)
	return 2 * float64(p.M) * float64(p.N) * float64(p.K) * float64(b)
}

// Validate checks an RMSNorm forward (backward=false) or backward.
func (p RMSNormParams) Validate(backward bool) error {
	op := "rmsnorm"
	if backward {
		op = "rmsnorm backward"
	}
	if p.Rows < 0 || p.Cols <= 0 {
		return shapeErr(op, "rows=%d cols=%d", p.Rows, p.Cols)
	}
	n := p.Rows * p.Cols
	if err := CheckExact(op, "X", p.X, Float32, n); err != nil {
		return err
	}
	if err := CheckExact(op, "W", p.W, Float32, p.Cols); err != nil {
		return err
	}
	if err := CheckExact(op, "RStd", p.RStd, Float32, p.Rows); err != nil {
		return err
	}
	if !backward {
		return CheckExact(op, "Y", p.Y, Float32, n)
	}
	if err := CheckExact(op, "DY", p.DY, Float32, n); err != nil {
		return err
	}
	if err := CheckExact(op, "DX", p.DX, Float32, n); err != nil {
		return err
	}
	return checkOpt(op, "DW", p.DW, p.Cols)
}

// Validate checks the arguments of a Softmax.
func (p SoftmaxParams) Validate() error {
	const op = "softmax"
	if p.Batch < 0 || p.Heads < 0 || p.Rows < 0 || p.Cols <= 0 {
		return shapeErr(op, "shape [%d %d %d %d]", p.Batch, p.Heads, p.Rows, p.Cols)
	}
	n := p.Batch * p.Heads * p.Rows * p.Cols
	if err := CheckExact(op, "X", p.X, Float32, n); err != nil {
		return err
	}
	if err := CheckExact(op, "Y", p.Y, Float32, n); err != nil {
		return err
	}
	if p.Causal && p.Rows > p.Cols {
		return shapeErr(op, "causal softmax needs rows %d ≤ cols %d", p.Rows, p.Cols)
	}
	for i, m := range p.Masks {
		if m.StrideBatch < 0 || m.StrideHead < 0 || m.StrideRow < 0 {
			return shapeErr(op, "mask %d has a negative stride", i)
		}
		if n == 0 {
			continue
		}
		need := (p.Batch-1)*m.StrideBatch + (p.Heads-1)*m.StrideHead + (p.Rows-1)*m.StrideRow + p.Cols
		if err := CheckBuf(op, fmt.Sprintf("mask %d", i), m.M, Float32, need); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the arguments of a CrossEntropy (the label values are
// checked by CheckLabels once the backend has read them).
func (p CrossEntropyParams) Validate() error {
	const op = "cross-entropy"
	if p.Rows < 0 || p.Vocab <= 0 {
		return shapeErr(op, "rows=%d vocab=%d", p.Rows, p.Vocab)
	}
	if err := CheckExact(op, "Logits", p.Logits, Float32, p.Rows*p.Vocab); err != nil {
		return err
	}
	if err := CheckExact(op, "Labels", p.Labels, Int32, p.Rows); err != nil {
		return err
	}
	if err := CheckExact(op, "Loss", p.Loss, Float32, p.Rows); err != nil {
		return err
	}
	return checkOpt(op, "DLogits", p.DLogits, p.Rows*p.Vocab)
}

// CheckLabels checks the label values of a validated CrossEntropy, read
// from p.Labels: each is IgnoreIndex or in [0, Vocab). Backends call it
// before writing anything.
func (p CrossEntropyParams) CheckLabels(labels []int32) error {
	for r, l := range labels {
		if l != p.IgnoreIndex && (l < 0 || int(l) >= p.Vocab) {
			return shapeErr("cross-entropy", "label[%d] = %d outside [0, %d)", r, l, p.Vocab)
		}
	}
	return nil
}

// Validate checks the arguments of an AdamW step.
func (p AdamWParams) Validate() error {
	const op = "adamw"
	if p.Param == nil {
		return shapeErr(op, "Param is nil")
	}
	n := p.Param.Len()
	for _, b := range []struct {
		name string
		buf  Buffer
	}{{"Param", p.Param}, {"Grad", p.Grad}, {"M", p.M}, {"V", p.V}} {
		if err := CheckExact(op, b.name, b.buf, Float32, n); err != nil {
			return err
		}
	}
	if p.SumSquares != nil {
		if err := CheckSumSquares(p.SumSquares, p.Grad); err != nil {
			return err
		}
	}
	if p.Step < 1 {
		return fmt.Errorf("%s: step %d, want ≥ 1: %w", op, p.Step, ErrShape)
	}
	if !(p.Beta1 >= 0 && p.Beta1 < 1 && p.Beta2 >= 0 && p.Beta2 < 1) {
		return fmt.Errorf("%s: betas (%v, %v) outside [0, 1): %w", op, p.Beta1, p.Beta2, ErrShape)
	}
	return nil
}

func (p KronParams) check(op string) (inN, outN int, err error) {
	if p.N <= 0 || p.In <= 0 || p.Out <= 0 || p.Rank < 0 {
		return 0, 0, shapeErr(op, "in=%d out=%d n=%d rank=%d", p.In, p.Out, p.N, p.Rank)
	}
	if p.In%p.N != 0 || p.Out%p.N != 0 {
		return 0, 0, shapeErr(op, "in=%d and out=%d must be multiples of n=%d", p.In, p.Out, p.N)
	}
	return p.In / p.N, p.Out / p.N, nil
}

// checkWeights checks the sizes and the weight buffers: A, and S and T
// (Rank > 0) or W.
func (p KronParams) checkWeights(op string) error {
	inN, outN, err := p.check(op)
	if err != nil {
		return err
	}
	if err := CheckExact(op, "A", p.A, Float32, p.N*p.N*p.N); err != nil {
		return err
	}
	if p.Rank > 0 {
		if err := CheckExact(op, "S", p.S, Float32, p.N*inN*p.Rank); err != nil {
			return err
		}
		if err := CheckExact(op, "T", p.T, Float32, p.N*p.Rank*outN); err != nil {
			return err
		}
	} else if err := CheckExact(op, "W", p.W, Float32, p.N*inN*outN); err != nil {
		return err
	}
	return nil
}

// Validate checks a KronSum (backward=false) or KronSumBackward.
func (p KronParams) Validate(backward bool) error {
	op := "kronsum"
	if backward {
		op = "kronsum backward"
	}
	if err := p.checkWeights(op); err != nil {
		return err
	}
	if !backward {
		return CheckExact(op, "H", p.H, Float32, p.In*p.Out)
	}
	if err := CheckExact(op, "DH", p.DH, Float32, p.In*p.Out); err != nil {
		return err
	}
	if err := checkOpt(op, "DA", p.DA, p.N*p.N*p.N); err != nil {
		return err
	}
	return p.checkFactorGrads(op)
}

// checkFactorGrads checks the optional gradients of the second factors: DS
// and DT (Rank > 0) or DW.
func (p KronParams) checkFactorGrads(op string) error {
	inN, outN := p.In/p.N, p.Out/p.N
	if p.Rank > 0 {
		if err := checkOpt(op, "DS", p.DS, p.N*inN*p.Rank); err != nil {
			return err
		}
		return checkOpt(op, "DT", p.DT, p.N*p.Rank*outN)
	}
	return checkOpt(op, "DW", p.DW, p.N*inN*outN)
}

// Kron returns the KronParams of the layer's weights (without H or
// gradients).
func (p PHMParams) Kron() KronParams {
	return KronParams{In: p.In, Out: p.Out, N: p.N, Rank: p.Rank, A: p.A, W: p.W, S: p.S, T: p.T,
		DA: p.DA, DW: p.DW, DS: p.DS, DT: p.DT}
}

// Validate checks a PHM forward (backward=false) or PHMBackward.
func (p PHMParams) Validate(backward bool) error {
	op := "phm"
	if backward {
		op = "phm backward"
	}
	if p.Rows < 0 {
		return shapeErr(op, "rows=%d", p.Rows)
	}
	if p.Algo > PHMMaterialize {
		return shapeErr(op, "unknown algorithm %v", p.Algo)
	}
	k := p.Kron()
	if err := k.checkWeights(op); err != nil {
		return err
	}
	if err := CheckExact(op, "X", p.X, Float32, p.Rows*p.In); err != nil {
		return err
	}
	if err := checkOpt(op, "Bias", p.Bias, p.Out); err != nil {
		return err
	}
	if !backward {
		return CheckExact(op, "Y", p.Y, Float32, p.Rows*p.Out)
	}
	if err := CheckExact(op, "DY", p.DY, Float32, p.Rows*p.Out); err != nil {
		return err
	}
	if err := checkOpt(op, "DX", p.DX, p.Rows*p.In); err != nil {
		return err
	}
	if err := checkOpt(op, "DA", p.DA, p.N*p.N*p.N); err != nil {
		return err
	}
	if err := checkOpt(op, "DBias", p.DBias, p.Out); err != nil {
		return err
	}
	return k.checkFactorGrads(op)
}

// CheckPermute validates the arguments of Permute and returns the
// permuted shape.
func CheckPermute(dst, src Buffer, dims, perm [4]int) ([4]int, error) {
	const op = "permute"
	var out [4]int
	seen := [4]bool{}
	n := 1
	for i := range 4 {
		if dims[i] < 0 {
			return out, shapeErr(op, "negative dimension in %v", dims)
		}
		n *= dims[i]
		if perm[i] < 0 || perm[i] > 3 || seen[perm[i]] {
			return out, shapeErr(op, "%v is not a permutation of 0..3", perm)
		}
		seen[perm[i]] = true
		out[i] = dims[perm[i]]
	}
	if err := CheckExact(op, "src", src, Float32, n); err != nil {
		return out, err
	}
	return out, CheckExact(op, "dst", dst, Float32, n)
}

// CheckFWHT validates the arguments of FWHT.
func CheckFWHT(x Buffer, logN, batch int) error {
	const op = "fwht"
	if logN < 0 || logN > 30 || batch < 0 {
		return shapeErr(op, "logN=%d batch=%d (logN must be in [0, 30])", logN, batch)
	}
	return CheckExact(op, "x", x, Float32, batch<<logN)
}

// bufLen is b.Len(), or 0 for a nil buffer (the checks then report it).
func bufLen(b Buffer) int {
	if b == nil {
		return 0
	}
	return b.Len()
}

// checkSame checks that each of bufs is a Float32 buffer of exactly n
// elements; names name them in the error.
func checkSame(op string, n int, names []string, bufs ...Buffer) error {
	for i, b := range bufs {
		if err := CheckExact(op, names[i], b, Float32, n); err != nil {
			return err
		}
	}
	return nil
}

// checkRowsCols rejects negative sizes.
func checkRowsCols(op string, rows, cols int) error {
	if rows < 0 || cols < 0 {
		return shapeErr(op, "rows=%d cols=%d", rows, cols)
	}
	return nil
}

// CheckBinary validates the arguments of Binary: a known operation and
// Float32 buffers dst, a and b of one length.
func CheckBinary(op BinaryOp, dst, a, b Buffer) error {
	const name = "binary"
	if op < Add || op > Mul {
		return shapeErr(name, "unknown operation %v", op)
	}
	return checkSame(name, bufLen(dst), []string{"dst", "a", "b"}, dst, a, b)
}

// CheckAxpby validates the arguments of Axpby: Float32 buffers dst and x of
// one length.
func CheckAxpby(dst, x Buffer) error {
	return checkSame("axpby", bufLen(dst), []string{"dst", "x"}, dst, x)
}

// CheckScale validates the argument of Scale: a Float32 buffer.
func CheckScale(dst Buffer) error {
	return CheckBuf("scale", "dst", dst, Float32, 0)
}

// CheckAddBias validates the arguments of AddBias: non-negative rows and
// cols, a Float32 x of rows×cols and bias of cols elements.
func CheckAddBias(x, bias Buffer, rows, cols int) error {
	const op = "add bias"
	if err := checkRowsCols(op, rows, cols); err != nil {
		return err
	}
	if err := CheckExact(op, "x", x, Float32, rows*cols); err != nil {
		return err
	}
	return CheckExact(op, "bias", bias, Float32, cols)
}

// CheckSumRows validates the arguments of SumRows: non-negative rows and
// cols, a Float32 dst of cols elements and x of rows×cols.
func CheckSumRows(dst, x Buffer, rows, cols int) error {
	const op = "sum rows"
	if err := checkRowsCols(op, rows, cols); err != nil {
		return err
	}
	if err := CheckExact(op, "dst", dst, Float32, cols); err != nil {
		return err
	}
	return CheckExact(op, "x", x, Float32, rows*cols)
}

// CheckSumSquares validates the arguments of SumSquares: a Float32 dst of
// at least one element and a Float32 x of any length.
func CheckSumSquares(dst, x Buffer) error {
	const op = "sum squares"
	if err := CheckBuf(op, "dst", dst, Float32, 1); err != nil {
		return err
	}
	return CheckBuf(op, "x", x, Float32, 0)
}

// checkActivation rejects an activation that is not one of the constants.
func checkActivation(op string, f Activation) error {
	if f < ReLU || f > Sigmoid {
		return shapeErr(op, "unknown activation %v", f)
	}
	return nil
}

// CheckAct validates the arguments of Act: a known activation and Float32
// buffers dst and x of one length.
func CheckAct(f Activation, dst, x Buffer) error {
	const op = "act"
	if err := checkActivation(op, f); err != nil {
		return err
	}
	return checkSame(op, bufLen(dst), []string{"dst", "x"}, dst, x)
}

// CheckActBackward validates the arguments of ActBackward: a known
// activation and Float32 buffers dx, dy and x of one length.
func CheckActBackward(f Activation, dx, dy, x Buffer) error {
	const op = "act backward"
	if err := checkActivation(op, f); err != nil {
		return err
	}
	return checkSame(op, bufLen(dx), []string{"dx", "dy", "x"}, dx, dy, x)
}

// CheckSoftmaxBackward validates the arguments of SoftmaxBackward: rows ≥ 0,
// cols > 0 and Float32 buffers dx, dy and y of rows×cols.
func CheckSoftmaxBackward(dx, dy, y Buffer, rows, cols int) error {
	const op = "softmax backward"
	if rows < 0 || cols <= 0 {
		return shapeErr(op, "rows=%d cols=%d", rows, cols)
	}
	return checkSame(op, rows*cols, []string{"dx", "dy", "y"}, dx, dy, y)
}

// CheckDropout validates the arguments of Dropout: p in [0, 1) and Float32
// buffers dst and src of one length.
func CheckDropout(dst, src Buffer, p float32) error {
	const op = "dropout"
	if !(p >= 0 && p < 1) {
		return shapeErr(op, "p = %v outside [0, 1)", p)
	}
	return checkSame(op, bufLen(dst), []string{"dst", "src"}, dst, src)
}

// embeddingOp names an Embedding (backward=false) or EmbeddingBackward.
func embeddingOp(backward bool) string {
	if backward {
		return "embedding backward"
	}
	return "embedding"
}

// CheckEmbedding validates the buffers of an Embedding (backward=false; out
// is dst, table is table) or an EmbeddingBackward (out is dout, table is
// dtable): dim > 0, an Int32 ids of any length n, a Float32 table of
// rows×dim and a Float32 out of n×dim. It returns rows. The id values are
// checked by CheckEmbeddingIDs once the backend has read them.
func CheckEmbedding(out, table, ids Buffer, dim int, backward bool) (rows int, err error) {
	op := embeddingOp(backward)
	outName, tableName := "dst", "table"
	if backward {
		outName, tableName = "dout", "dtable"
	}
	if dim <= 0 {
		return 0, shapeErr(op, "dim=%d", dim)
	}
	if err := CheckBuf(op, "ids", ids, Int32, 0); err != nil {
		return 0, err
	}
	if err := CheckBuf(op, tableName, table, Float32, 0); err != nil {
		return 0, err
	}
	if table.Len()%dim != 0 {
		return 0, shapeErr(op, "%s of %d elements is not rows×%d", tableName, table.Len(), dim)
	}
	if err := CheckExact(op, outName, out, Float32, ids.Len()*dim); err != nil {
		return 0, err
	}
	return table.Len() / dim, nil
}

// CheckEmbeddingIDs checks the id values of an Embedding (backward=false)
// or EmbeddingBackward validated by CheckEmbedding: each in [0, rows).
func CheckEmbeddingIDs(ids []int32, rows int, backward bool) error {
	for i, v := range ids {
		if v < 0 || int(v) >= rows {
			return shapeErr(embeddingOp(backward), "ids[%d] = %d outside [0, %d)", i, v, rows)
		}
	}
	return nil
}
