// Package kernels is the backend-dispatch layer of compacter.
//
// Model code (t5, peft) never touches the memory of a device directly: it
// allocates [Buffer]s on a [Backend] and calls the Backend's operations on
// them, so the same code runs on the CPU and on a GPU, and tensors stay on the
// device between operations. Backends register themselves with [Register]
// (the cpu package registers "cpu" and "purego", the cuda package "cuda");
// [Default] picks the best available one at run time, overridable with the
// COMPACTER_BACKEND environment variable, and [Open] opens one by name.
//
// # Conventions
//
// All matrices are row-major. Element offsets, strides and leading dimensions
// are counted in elements, not bytes. A sub-range of a buffer is passed as a
// view made with [Buffer.Slice]. Unless an operation says otherwise:
//
//   - outputs are overwritten, never read;
//   - gradients of inputs (dx) are overwritten, gradients of parameters
//     (dw, dbias, dA, ...) are accumulated (+=), so a parameter used by many
//     layers sums the gradients of all of them;
//   - every operation validates its arguments and returns an error wrapping
//     [ErrShape] or [ErrDType] before doing any work;
//   - a backend may queue work asynchronously: Download and Sync wait for it.
//
// The float64 reference implementation of every operation, and the
// conformance suite every backend must pass, are in package kerneltest.
package kernels

import (
	"errors"
	"fmt"
)

// DType is the element type of a Buffer.
type DType uint8

// Element types.
const (
	Float32 DType = iota + 1 // IEEE-754 single precision
	Int32                    // signed 32-bit integers (token ids, labels)
)

// Size returns the size of one element in bytes.
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	}
	return 0
}

// String returns "float32" or "int32".
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int32:
		return "int32"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Errors wrapped by the errors that operations return.
var (
	// ErrShape reports sizes, strides or lengths that do not fit together.
	ErrShape = errors.New("kernels: shape mismatch")
	// ErrDType reports a buffer of the wrong element type.
	ErrDType = errors.New("kernels: wrong dtype")
	// ErrBackend reports a buffer that belongs to another backend, or a
	// freed buffer.
	ErrBackend = errors.New("kernels: buffer of another backend")
	// ErrUnavailable reports a backend that cannot run on this machine.
	ErrUnavailable = errors.New("kernels: backend unavailable")
	// ErrOutOfMemory reports a failed allocation.
	ErrOutOfMemory = errors.New("kernels: out of memory")
)

// Buffer is an array of Len elements of one DType owned by a Backend. Its
// memory is not addressable by the caller; use Backend.Upload and
// Backend.Download to move data in and out.
type Buffer interface {
	// DType is the element type.
	DType() DType
	// Len is the number of elements.
	Len() int
	// Slice returns a view of the elements [off, off+n) that shares storage
	// with the buffer. A view is valid as long as the buffer it was cut from;
	// it must not be freed. Slice panics, like a Go slice expression, when
	// the range is out of bounds: that is a programming error.
	Slice(off, n int) Buffer
}

// MemStats reports the memory a backend holds for buffers.
type MemStats struct {
	InUse int64 // bytes allocated and not yet freed
	Peak  int64 // maximum of InUse since creation or the last ResetPeak
}

// Backend is a device that owns buffers and runs the operations on them.
// A Backend is safe for use by one goroutine at a time.
type Backend interface {
	// Name is the registered name ("cpu", "purego", "cuda").
	Name() string
	// Close releases every resource of the backend.
	Close() error
	// Sync waits until all queued operations have finished and returns the
	// first asynchronous error raised since the previous Sync, if any; the
	// error is reported once and then cleared.
	Sync() error

	// Alloc returns a zeroed buffer of n elements.
	Alloc(dt DType, n int) (Buffer, error)
	// Free releases a buffer made by Alloc. Freeing a view, a buffer of
	// another backend, or a buffer twice is an error.
	Free(b Buffer) error
	// Mem reports the bytes in use and the peak.
	Mem() MemStats
	// ResetPeak sets Peak to the bytes in use now.
	ResetPeak()

	// Upload copies src into dst; len(src) must equal dst.Len().
	Upload(dst Buffer, src []float32) error
	// UploadInt32 copies src into an Int32 buffer.
	UploadInt32(dst Buffer, src []int32) error
	// Download copies src into dst; len(dst) must equal src.Len().
	Download(dst []float32, src Buffer) error
	// DownloadInt32 copies an Int32 buffer into dst.
	DownloadInt32(dst []int32, src Buffer) error
	// Copy copies src into dst on the device; lengths and dtypes must match.
	Copy(dst, src Buffer) error
	// Fill sets every element of a Float32 buffer to v.
	Fill(dst Buffer, v float32) error

	// Gemm computes C = alpha·op(A)·op(B) + beta·C, optionally as a strided
	// batch. See GemmParams.
	Gemm(p GemmParams) error

	// Binary computes dst[i] = a[i] op b[i] for equal lengths. dst may alias
	// a or b.
	Binary(op BinaryOp, dst, a, b Buffer) error
	// Axpby computes dst[i] = alpha·x[i] + beta·dst[i]. With beta = 0 dst is
	// not read.
	Axpby(dst Buffer, alpha float32, x Buffer, beta float32) error
	// Scale computes dst[i] *= alpha.
	Scale(dst Buffer, alpha float32) error
	// AddBias adds bias[c] to x[r, c] in place for an x of rows×cols.
	AddBias(x, bias Buffer, rows, cols int) error
	// SumRows computes dst[c] = beta·dst[c] + Σ_r x[r, c] for an x of
	// rows×cols: the gradient of a bias. With beta = 0 dst is not read.
	SumRows(dst, x Buffer, rows, cols int, beta float32) error
	// SumSquares adds Σ x[i]² to dst[0] (a one-element or longer buffer),
	// accumulating in at least float32; for gradient clipping call it on every
	// gradient with the same dst and download one number.
	SumSquares(dst, x Buffer) error

	// Act computes dst[i] = f(x[i]). dst may alias x.
	Act(f Activation, dst, x Buffer) error
	// ActBackward computes dx[i] = dy[i]·f'(x[i]), where x is the input of
	// the forward. dx may alias dy.
	ActBackward(f Activation, dx, dy, x Buffer) error

	// RMSNorm is T5LayerNorm. See RMSNormParams.
	RMSNorm(p RMSNormParams) error
	// RMSNormBackward computes DX (overwritten) and accumulates DW.
	RMSNormBackward(p RMSNormParams) error

	// Softmax computes a masked softmax over the last axis. See SoftmaxParams.
	Softmax(p SoftmaxParams) error
	// SoftmaxBackward computes dx = y ⊙ (dy − Σ_c dy·y) per row of cols
	// elements, from the softmax output y. dx may alias dy.
	SoftmaxBackward(dx, dy, y Buffer, rows, cols int) error

	// Embedding gathers dst[i, :] = table[ids[i], :] for an Int32 ids of
	// length n, a table of rows×dim and a dst of n×dim. An id outside
	// [0, rows) is an error.
	Embedding(dst, table, ids Buffer, dim int) error
	// EmbeddingBackward scatter-adds dtable[ids[i], :] += dout[i, :].
	EmbeddingBackward(dtable, dout, ids Buffer, dim int) error

	// CrossEntropy computes per-row losses and optionally the gradient of
	// the logits. See CrossEntropyParams.
	CrossEntropy(p CrossEntropyParams) error

	// AdamW takes one torch.optim.AdamW step in place. See AdamWParams.
	AdamW(p AdamWParams) error

	// Dropout computes dst[i] = src[i]·keep(i)/(1−p) with keep(i) =
	// DropoutKeep(seed, offset+i, p): the same seed and offset give the same
	// mask on every backend, so the backward is Dropout applied to dy with
	// the forward's seed and offset. p must be in [0, 1); p = 0 copies.
	Dropout(dst, src Buffer, p float32, seed, offset uint64) error

	// Permute writes dst as src (a contiguous array of shape dims) with its
	// axes permuted: dst has shape (dims[perm[0]], …, dims[perm[3]]). Use 1
	// for unused leading axes. It is how attention splits and merges heads.
	Permute(dst, src Buffer, dims, perm [4]int) error

	// FWHT applies the Walsh–Hadamard transform in natural (Sylvester) order
	// in place to each of batch contiguous vectors of length 2^logN. With
	// orthonormal it scales by 2^(−logN/2), otherwise it is unnormalised.
	FWHT(x Buffer, logN, batch int, orthonormal bool) error

	// KronSum materialises W = Σᵢ Aᵢ ⊗ Bᵢ. See KronParams.
	KronSum(p KronParams) error
	// KronSumBackward accumulates the gradients of A and of B (or of S and T
	// when Rank > 0) from the gradient DW of the materialised W.
	KronSumBackward(p KronParams) error
	// PHM computes Y = X·H + bias for H = Σᵢ Aᵢ ⊗ Bᵢ. See PHMParams.
	PHM(p PHMParams) error
	// PHMBackward computes DX (overwritten, when not nil) and accumulates
	// DA, DW (or DS and DT) and DBias (when not nil).
	PHMBackward(p PHMParams) error
}

// GemmParams describes C = Alpha·op(A)·op(B) + Beta·C with op(A) of M×K and
// op(B) of K×N, all row-major. Without TransA, A is stored M×K with leading
// dimension LDA ≥ K; with TransA it is stored K×M with LDA ≥ M (likewise B).
// LDC ≥ N. With Batch > 1 the product is repeated for b in [0, Batch) on
// A+b·StrideA, B+b·StrideB, C+b·StrideC; a stride of 0 reuses one matrix
// (StrideC must not be 0 then). With Beta = 0, C is not read (NaNs in C do
// not propagate). A zero LD means the tight value (K, M, N, ...).
type GemmParams struct {
	TransA, TransB bool
	M, N, K        int
	Alpha, Beta    float32
	A, B, C        Buffer
	LDA, LDB, LDC  int
	Batch          int
	StrideA        int
	StrideB        int
	StrideC        int
}

// BinaryOp is an elementwise binary operation.
type BinaryOp uint8

// Binary operations.
const (
	Add BinaryOp = iota + 1 // a + b
	Sub                     // a − b
	Mul                     // a · b
)

// String names the operation.
func (o BinaryOp) String() string {
	switch o {
	case Add:
		return "add"
	case Sub:
		return "sub"
	case Mul:
		return "mul"
	}
	return fmt.Sprintf("BinaryOp(%d)", uint8(o))
}

// Activation is an elementwise non-linearity.
type Activation uint8

// Activations, with the formulas every backend computes.
const (
	// ReLU is max(x, 0); its derivative at 0 is 0 (as PyTorch).
	ReLU Activation = iota + 1
	// GeLUNew is the tanh approximation of GELU (Hugging Face "gelu_new",
	// also called tanh-gelu): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
	GeLUNew
	// GeLU is the exact GELU: x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
	GeLU
	// SiLU (swish) is x·σ(x).
	SiLU
	// Tanh is tanh(x).
	Tanh
	// Sigmoid is σ(x) = 1/(1 + e^(−x)).
	Sigmoid
)

// String names the activation as Hugging Face's ACT2FN does.
func (a Activation) String() string {
	switch a {
	case ReLU:
		return "relu"
	case GeLUNew:
		return "gelu_new"
	case GeLU:
		return "gelu"
	case SiLU:
		return "silu"
	case Tanh:
		return "tanh"
	case Sigmoid:
		return "sigmoid"
	}
	return fmt.Sprintf("Activation(%d)", uint8(a))
}

// ParseActivation maps a Hugging Face activation name ("relu", "gelu_new",
// "gelu", "silu", "swish", "tanh", "sigmoid") to an Activation.
func ParseActivation(name string) (Activation, error) {
	switch name {
	case "relu":
		return ReLU, nil
	case "gelu_new", "gelu_pytorch_tanh", "tanh-gelu":
		return GeLUNew, nil
	case "gelu":
		return GeLU, nil
	case "silu", "swish":
		return SiLU, nil
	case "tanh":
		return Tanh, nil
	case "sigmoid":
		return Sigmoid, nil
	}
	return 0, fmt.Errorf("kernels: unknown activation %q", name)
}

// RMSNormParams describes T5LayerNorm on Rows rows of Cols elements:
//
//	rstd[r] = 1/√(mean_c x[r,c]² + Eps)
//	y[r,c]  = w[c]·x[r,c]·rstd[r]
//
// The forward writes Y and RStd (which the backward reads). The backward
// reads X, W, RStd and DY, overwrites DX and accumulates DW (when not nil):
//
//	dw[c] += Σ_r dy[r,c]·x[r,c]·rstd[r]
//	dx[r,c] = rstd[r]·(w[c]·dy[r,c] − x[r,c]·rstd[r]²·mean_c'(w[c']·dy[r,c']·x[r,c']))
type RMSNormParams struct {
	Rows, Cols int
	Eps        float32
	X, W, Y    Buffer // X, Y: Rows×Cols; W: Cols
	RStd       Buffer // Rows
	DY, DX, DW Buffer // backward only
}

// AdditiveMask is a float32 array added to attention scores before the
// softmax, broadcast by its strides: element (b, h, r, c) of the scores gets
// M[b·StrideBatch + h·StrideHead + r·StrideRow + c]. A stride of 0
// broadcasts that axis. A padding mask [B, S] has strides (S, 0, 0); a
// position bias [H, T, S] has strides (0, T·S, S).
type AdditiveMask struct {
	M                                  Buffer
	StrideBatch, StrideHead, StrideRow int
}

// SoftmaxParams describes Y = softmax(X + Σ masks) over the last axis of X,
// an array of shape [Batch, Heads, Rows, Cols]. With Causal, the element
// (r, c) is excluded (probability exactly 0) when c > r + (Cols − Rows), as in
// a decoder with Cols − Rows cached positions. A row whose every element is
// excluded is all zeros. Y may alias X. The max is subtracted before
// exponentiation and the sum is accumulated in at least float32.
type SoftmaxParams struct {
	X, Y                     Buffer
	Batch, Heads, Rows, Cols int
	Masks                    []AdditiveMask
	Causal                   bool
}

// CrossEntropyParams describes the cross-entropy of Rows rows of Vocab logits
// against Int32 labels, as torch.nn.CrossEntropyLoss(reduction='none'):
//
//	Loss[r] = logsumexp(Logits[r, :]) − Logits[r, Labels[r]]
//
// and Loss[r] = 0 where Labels[r] == IgnoreIndex. When DLogits is not nil it
// is overwritten with (softmax(Logits[r, :]) − onehot(Labels[r]))·GradScale,
// and with zeros on ignored rows: GradScale = 1/(number of counted rows)
// gives the gradient of the mean loss. A label outside [0, Vocab) that is not
// IgnoreIndex is an error. DLogits may alias Logits.
type CrossEntropyParams struct {
	Logits      Buffer // Rows×Vocab
	Labels      Buffer // Int32, Rows
	Loss        Buffer // Rows
	DLogits     Buffer // optional, Rows×Vocab
	Rows, Vocab int
	IgnoreIndex int32
	GradScale   float32
}

// AdamWParams describes one step of torch.optim.AdamW (amsgrad off), with the
// same order of operations:
//
//	param *= 1 − LR·WeightDecay
//	m = Beta1·m + (1−Beta1)·grad
//	v = Beta2·v + (1−Beta2)·grad²
//	param −= (LR/(1−Beta1^Step)) · m / (√v/√(1−Beta2^Step) + Eps)
//
// Step counts from 1. Param, Grad, M and V have the same length.
//
// SumSquares, when not nil (one float32), also takes Σ Grad² as the
// SumSquares op would — SumSquares(SumSquares, Grad) before the update, the
// same bits — in the same pass over Grad (a gradient-norm report without
// reading every gradient twice).
type AdamWParams struct {
	Param, Grad, M, V                  Buffer
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int
	SumSquares                         Buffer
}

// KronParams describes the materialised sum of Kronecker products of a PHM
// layer in the conventions of the official Compacter code:
//
//	H = Σᵢ kron(A[i], W[i]),  H[r·(In/N)+s, c·(Out/N)+t] = Σᵢ A[i,r,c]·W[i,s,t]
//
// with A (phm_rule) of shape [N, N, N], W of shape [N, In/N, Out/N] and H of
// shape [In, Out]. When Rank > 0 the layer is low-rank (LPHM, Compacter):
// W[i] = S[i]·T[i] with S (W_left) of shape [N, In/N, Rank] and T (W_right)
// of shape [N, Rank, Out/N], and W is not used. KronSum writes H;
// KronSumBackward reads DH and accumulates DA and DW (or DS and DT) for those
// that are not nil.
type KronParams struct {
	In, Out, N, Rank int
	A, W, S, T       Buffer
	H                Buffer
	DH               Buffer
	DA, DW, DS, DT   Buffer
}

// PHMAlgo selects how a PHM layer is applied.
type PHMAlgo uint8

// PHM algorithms.
const (
	// PHMAuto lets the backend choose from its cost model.
	PHMAuto PHMAlgo = iota
	// PHMFused never materialises H: each row x is reshaped to X of shape
	// [N, In/N] and Y = Σᵢ A[i]ᵀ·X·W[i] (or Σᵢ (A[i]ᵀ·X·S[i])·T[i] for LPHM).
	PHMFused
	// PHMMaterialize builds H with KronSum and applies one GEMM.
	PHMMaterialize
)

// String names the algorithm.
func (a PHMAlgo) String() string {
	switch a {
	case PHMAuto:
		return "auto"
	case PHMFused:
		return "fused"
	case PHMMaterialize:
		return "materialize"
	}
	return fmt.Sprintf("PHMAlgo(%d)", uint8(a))
}

// PHMParams describes a PHM (or, with Rank > 0, LPHM) linear layer on Rows
// rows: Y = X·H + Bias, with H = Σᵢ kron(A[i], W[i]) as in KronParams
// (W[i] = S[i]·T[i] when Rank > 0). X is Rows×In, Y is Rows×Out, Bias (may
// be nil) has Out elements. PHM writes Y. PHMBackward reads DY, X and the
// weights, overwrites DX when not nil and accumulates DA, DW (or DS, DT) and
// DBias for those that are not nil.
//
// With Accumulate, PHM adds X·H + Bias to Y and PHMBackward adds the input
// gradient to DX instead of overwriting them (an adapter's output onto its
// residual, its input gradient onto the one passing by it).
type PHMParams struct {
	Rows             int
	In, Out, N, Rank int
	X, Y             Buffer
	A, W, S, T, Bias Buffer
	DY, DX           Buffer
	DA, DW, DS, DT   Buffer
	DBias            Buffer
	Algo             PHMAlgo
	Accumulate       bool
}
