package kernels

import "fmt"

// SignMasker is an optional Backend interface for keeping the sign pattern
// of an activation as bits instead of floats: the backward of ReLU needs
// only [x > 0], so a frozen feed-forward layer can keep 1 bit of its
// [rows, d_ff] hidden activation instead of 32 (t5-base, 1,024 tokens:
// 0.4 MB instead of 12.6 MB a layer).
//
// A mask of n bits is an Int32 buffer of MaskWords(n) words; bit i is bit
// i%32 of word i/32 (as uint32), and the bits from n up are zero.
type SignMasker interface {
	// PackPositive sets bit i of mask to x[i] > 0 for i < x.Len() (NaN and
	// −0 give 0).
	PackPositive(mask, x Buffer) error
	// ApplyMask sets dst[i] = x[i] where bit i of mask is set, else 0;
	// dst may be x.
	ApplyMask(dst, x, mask Buffer) error
}

// MaskWords is the number of 32-bit words of a mask of n bits.
func MaskWords(n int) int { return (n + 31) / 32 }

// CheckPackPositive validates the buffers of SignMasker.PackPositive.
func CheckPackPositive(mask, x Buffer) error {
	if mask == nil || x == nil {
		return fmt.Errorf("kernels: pack positive: nil buffer: %w", ErrShape)
	}
	if x.DType() != Float32 || mask.DType() != Int32 {
		return fmt.Errorf("kernels: pack positive: x %v, mask %v, want float32 and int32: %w", x.DType(), mask.DType(), ErrDType)
	}
	if mask.Len() != MaskWords(x.Len()) {
		return fmt.Errorf("kernels: pack positive: mask of %d words for %d elements, want %d: %w", mask.Len(), x.Len(), MaskWords(x.Len()), ErrShape)
	}
	return nil
}

// CheckApplyMask validates the buffers of SignMasker.ApplyMask.
func CheckApplyMask(dst, x, mask Buffer) error {
	if dst == nil || x == nil || mask == nil {
		return fmt.Errorf("kernels: apply mask: nil buffer: %w", ErrShape)
	}
	if dst.DType() != Float32 || x.DType() != Float32 || mask.DType() != Int32 {
		return fmt.Errorf("kernels: apply mask: dst %v, x %v, mask %v, want float32, float32, int32: %w", dst.DType(), x.DType(), mask.DType(), ErrDType)
	}
	if dst.Len() != x.Len() || mask.Len() != MaskWords(x.Len()) {
		return fmt.Errorf("kernels: apply mask: dst %d, x %d elements, mask %d words: %w", dst.Len(), x.Len(), mask.Len(), ErrShape)
	}
	return nil
}
