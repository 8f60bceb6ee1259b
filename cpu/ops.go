package cpu

import (
	"errors"

	"github.com/compacter-go/compacter/kernels"
)

// TEMPORARY stubs: replaced by the real implementations.
var errTODO = errors.New("cpu: not implemented yet")

func (b *Backend) Binary(op kernels.BinaryOp, dst, a, c kernels.Buffer) error { return errTODO }
func (b *Backend) Axpby(dst kernels.Buffer, alpha float32, x kernels.Buffer, beta float32) error {
	return errTODO
}
func (b *Backend) Scale(dst kernels.Buffer, alpha float32) error                     { return errTODO }
func (b *Backend) AddBias(x, bias kernels.Buffer, rows, cols int) error              { return errTODO }
func (b *Backend) SumRows(dst, x kernels.Buffer, rows, cols int, beta float32) error { return errTODO }
func (b *Backend) SumSquares(dst, x kernels.Buffer) error                            { return errTODO }
func (b *Backend) Act(f kernels.Activation, dst, x kernels.Buffer) error             { return errTODO }
func (b *Backend) ActBackward(f kernels.Activation, dx, dy, x kernels.Buffer) error  { return errTODO }
func (b *Backend) RMSNorm(p kernels.RMSNormParams) error                             { return errTODO }
func (b *Backend) RMSNormBackward(p kernels.RMSNormParams) error                     { return errTODO }
func (b *Backend) Softmax(p kernels.SoftmaxParams) error                             { return errTODO }
func (b *Backend) SoftmaxBackward(dx, dy, y kernels.Buffer, rows, cols int) error    { return errTODO }
func (b *Backend) Embedding(dst, table, ids kernels.Buffer, dim int) error           { return errTODO }
func (b *Backend) EmbeddingBackward(dtable, dout, ids kernels.Buffer, dim int) error {
	return errTODO
}
func (b *Backend) CrossEntropy(p kernels.CrossEntropyParams) error { return errTODO }
func (b *Backend) AdamW(p kernels.AdamWParams) error               { return errTODO }
func (b *Backend) Dropout(dst, src kernels.Buffer, p float32, seed, offset uint64) error {
	return errTODO
}
func (b *Backend) Permute(dst, src kernels.Buffer, dims, perm [4]int) error       { return errTODO }
func (b *Backend) FWHT(x kernels.Buffer, logN, batch int, orthonormal bool) error { return errTODO }
