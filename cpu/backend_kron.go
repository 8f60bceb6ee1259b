package cpu

import "github.com/compacter-go/compacter/kernels"

// TEMPORARY stubs: replaced by the real implementations.

func (b *Backend) KronSum(p kernels.KronParams) error         { return errTODO }
func (b *Backend) KronSumBackward(p kernels.KronParams) error { return errTODO }
func (b *Backend) PHM(p kernels.PHMParams) error              { return errTODO }
func (b *Backend) PHMBackward(p kernels.PHMParams) error      { return errTODO }
