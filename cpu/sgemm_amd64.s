//go:build !purego

#include "textflag.h"

// One k step of the 6×16 tile: two 8-float loads of the B row at DI, six
// broadcasts of the A column (rows at SI, SI+rsa, ..., SI+5·rsa), twelve
// FMAs into the accumulators Y4..Y15 (row r in Y(4+2r), Y(5+2r)); then SI
// and DI step to the next k.
#define KSTEP \
	VMOVUPS      (DI), Y0;            \
	VMOVUPS      32(DI), Y1;          \
	VBROADCASTSS (SI), Y2;            \
	VFMADD231PS  Y0, Y2, Y4;          \
	VFMADD231PS  Y1, Y2, Y5;          \
	VBROADCASTSS (SI)(R9*1), Y3;      \
	VFMADD231PS  Y0, Y3, Y6;          \
	VFMADD231PS  Y1, Y3, Y7;          \
	VBROADCASTSS (SI)(R9*2), Y2;      \
	VFMADD231PS  Y0, Y2, Y8;          \
	VFMADD231PS  Y1, Y2, Y9;          \
	VBROADCASTSS (SI)(R10*1), Y3;     \
	VFMADD231PS  Y0, Y3, Y10;         \
	VFMADD231PS  Y1, Y3, Y11;         \
	VBROADCASTSS (SI)(R9*4), Y2;      \
	VFMADD231PS  Y0, Y2, Y12;         \
	VFMADD231PS  Y1, Y2, Y13;         \
	VBROADCASTSS (SI)(R11*1), Y3;     \
	VFMADD231PS  Y0, Y3, Y14;         \
	VFMADD231PS  Y1, Y3, Y15;         \
	ADDQ         R12, SI;             \
	ADDQ         R13, DI

// Row update with beta ≠ 0: C = acc + beta·C (acc already scaled by alpha).
#define ROWBETA(lo, hi) \
	VFMADD231PS (DX), Y1, lo;   \
	VFMADD231PS 32(DX), Y1, hi; \
	VMOVUPS     lo, (DX);       \
	VMOVUPS     hi, 32(DX);     \
	ADDQ        R8, DX

// Row update with beta = 0: C = acc, C not read.
#define ROWSTORE(lo, hi) \
	VMOVUPS lo, (DX);   \
	VMOVUPS hi, 32(DX); \
	ADDQ    R8, DX

// func sgemmKernelAVX2(k int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernelAVX2(SB), NOSPLIT, $0-120
	MOVQ k+0(FP), CX
	MOVQ a_base+8(FP), SI
	MOVQ rsa+32(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	MOVQ csa+40(FP), R12
	SHLQ $2, R12
	MOVQ b_base+48(FP), DI
	MOVQ csb+72(FP), R13
	SHLQ $2, R13
	MOVQ c_base+80(FP), DX
	MOVQ ldc+104(FP), R8
	SHLQ $2, R8

	// Warm the C tile while the products run.
	MOVQ       DX, AX
	PREFETCHT0 (AX)
	PREFETCHT0 60(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 60(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 60(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 60(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 60(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 60(AX)

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   tail

loop4:
	KSTEP
	KSTEP
	KSTEP
	KSTEP
	DECQ BX
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   done

loop1:
	KSTEP
	DECQ CX
	JNZ  loop1

done:
	VBROADCASTSS alpha+112(FP), Y0
	VMULPS       Y0, Y4, Y4
	VMULPS       Y0, Y5, Y5
	VMULPS       Y0, Y6, Y6
	VMULPS       Y0, Y7, Y7
	VMULPS       Y0, Y8, Y8
	VMULPS       Y0, Y9, Y9
	VMULPS       Y0, Y10, Y10
	VMULPS       Y0, Y11, Y11
	VMULPS       Y0, Y12, Y12
	VMULPS       Y0, Y13, Y13
	VMULPS       Y0, Y14, Y14
	VMULPS       Y0, Y15, Y15

	// beta = ±0 (all bits but the sign clear): store without reading C.
	MOVL beta+116(FP), AX
	SHLL $1, AX
	JZ   store

	VBROADCASTSS beta+116(FP), Y1
	ROWBETA(Y4, Y5)
	ROWBETA(Y6, Y7)
	ROWBETA(Y8, Y9)
	ROWBETA(Y10, Y11)
	ROWBETA(Y12, Y13)
	ROWBETA(Y14, Y15)
	VZEROUPPER
	RET

store:
	ROWSTORE(Y4, Y5)
	ROWSTORE(Y6, Y7)
	ROWSTORE(Y8, Y9)
	ROWSTORE(Y10, Y11)
	ROWSTORE(Y12, Y13)
	ROWSTORE(Y14, Y15)
	VZEROUPPER
	RET
