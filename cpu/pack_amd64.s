//go:build !purego

#include "textflag.h"

// SGEMM packing kernels (AVX2): they move floats, never compute, so they
// give the same bits as their pure-Go twins in pack_generic.go.

// TRANSPOSE8 transposes the 8×8 block of rows Y0–Y7 into columns Y8–Y15
// (column c in Y(8+c)), destroying Y0–Y7.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8;          \
	VUNPCKHPS  Y1, Y0, Y9;          \
	VUNPCKLPS  Y3, Y2, Y10;         \
	VUNPCKHPS  Y3, Y2, Y11;         \
	VUNPCKLPS  Y5, Y4, Y12;         \
	VUNPCKHPS  Y5, Y4, Y13;         \
	VUNPCKLPS  Y7, Y6, Y14;         \
	VUNPCKHPS  Y7, Y6, Y15;         \
	VSHUFPS    $0x44, Y10, Y8, Y0;  \
	VSHUFPS    $0xEE, Y10, Y8, Y1;  \
	VSHUFPS    $0x44, Y11, Y9, Y2;  \
	VSHUFPS    $0xEE, Y11, Y9, Y3;  \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xEE, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8;   \
	VPERM2F128 $0x20, Y5, Y1, Y9;   \
	VPERM2F128 $0x20, Y6, Y2, Y10;  \
	VPERM2F128 $0x20, Y7, Y3, Y11;  \
	VPERM2F128 $0x31, Y4, Y0, Y12;  \
	VPERM2F128 $0x31, Y5, Y1, Y13;  \
	VPERM2F128 $0x31, Y6, Y2, Y14;  \
	VPERM2F128 $0x31, Y7, Y3, Y15

// LOAD8 loads 8 floats from each of the 8 rows at AX (row stride DX bytes,
// R8 = 3·DX) into Y0–Y7, advancing AX by 4 rows.
#define LOAD8 \
	VMOVUPS (AX), Y0;          \
	VMOVUPS (AX)(DX*1), Y1;    \
	VMOVUPS (AX)(DX*2), Y2;    \
	VMOVUPS (AX)(R8*1), Y3;    \
	LEAQ    (AX)(DX*4), AX;    \
	VMOVUPS (AX), Y4;          \
	VMOVUPS (AX)(DX*1), Y5;    \
	VMOVUPS (AX)(DX*2), Y6;    \
	VMOVUPS (AX)(R8*1), Y7

// func packBT16AVX2(dst, src []float32, ld, kc int)
// dst[l·16+x] = src[x·ld+l] for x < 16, l < kc; kc a multiple of 8.
TEXT ·packBT16AVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ ld+48(FP), DX
	MOVQ kc+56(FP), CX
	SHLQ $2, DX                 // row stride in bytes
	LEAQ (DX)(DX*2), R8         // 3·ld
	LEAQ (SI)(DX*8), R9         // rows 8–15
	SHRQ $3, CX
	JZ   btdone

btloop:
	// Columns 0–7 of the panel: rows 0–7 of src.
	MOVQ    SI, AX
	LOAD8
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)

	// Columns 8–15: rows 8–15.
	MOVQ    R9, AX
	LOAD8
	TRANSPOSE8
	VMOVUPS Y8, 32(DI)
	VMOVUPS Y9, 96(DI)
	VMOVUPS Y10, 160(DI)
	VMOVUPS Y11, 224(DI)
	VMOVUPS Y12, 288(DI)
	VMOVUPS Y13, 352(DI)
	VMOVUPS Y14, 416(DI)
	VMOVUPS Y15, 480(DI)

	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $512, DI
	DECQ CX
	JNZ  btloop

btdone:
	VZEROUPPER
	RET

// func packBN16AVX2(dst, src []float32, ld, kc int)
// dst[l·16+x] = src[l·ld+x] for x < 16, l < kc.
TEXT ·packBN16AVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ ld+48(FP), DX
	MOVQ kc+56(FP), CX
	SHLQ $2, DX
	TESTQ CX, CX
	JZ   bndone

bnloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    DX, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     bnloop

bndone:
	VZEROUPPER
	RET

// func packA6NAVX2(dst, src []float32, ld, kc int)
// dst[l·6+r] = src[r·ld+l] for r < 6, l < kc; kc a multiple of 8.
TEXT ·packA6NAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ ld+48(FP), DX
	MOVQ kc+56(FP), CX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R8
	SHRQ $3, CX
	JZ   andone

anloop:
	MOVQ    SI, AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(DX*1), Y1
	VMOVUPS (AX)(DX*2), Y2
	VMOVUPS (AX)(R8*1), Y3
	LEAQ    (AX)(DX*4), AX
	VMOVUPS (AX), Y4
	VMOVUPS (AX)(DX*1), Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	TRANSPOSE8

	// Column l holds rows 0–5 in its first six floats: 4 + 2 stores.
#define STORE6(Y, X, off) \
	VMOVUPS      X, off(DI);      \
	VEXTRACTF128 $1, Y, X0;       \
	VMOVQ        X0, off+16(DI)

	STORE6(Y8, X8, 0)
	STORE6(Y9, X9, 24)
	STORE6(Y10, X10, 48)
	STORE6(Y11, X11, 72)
	STORE6(Y12, X12, 96)
	STORE6(Y13, X13, 120)
	STORE6(Y14, X14, 144)
	STORE6(Y15, X15, 168)

	ADDQ $32, SI
	ADDQ $192, DI
	DECQ CX
	JNZ  anloop

andone:
	VZEROUPPER
	RET

// func packA6TAVX2(dst, src []float32, ld, kc int)
// dst[l·6+r] = src[l·ld+r] for r < 6, l < kc.
TEXT ·packA6TAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ ld+48(FP), DX
	MOVQ kc+56(FP), CX
	SHLQ $2, DX
	TESTQ CX, CX
	JZ   atdone

atloop:
	VMOVUPS (SI), X0
	VMOVQ   16(SI), X1
	VMOVUPS X0, (DI)
	VMOVQ   X1, 16(DI)
	ADDQ    DX, SI
	ADDQ    $24, DI
	DECQ    CX
	JNZ     atloop

atdone:
	RET

// func transposeAVX2(dst []float32, ldd int, src []float32, lds, rows, cols int)
// dst[i·ldd+j] = src[j·lds+i] for i < rows, j < cols; rows and cols
// multiples of 8, rows ≥ 8, cols ≥ 8.
TEXT ·transposeAVX2(SB), NOSPLIT, $0-80
	MOVQ dst_base+0(FP), DI
	MOVQ ldd+24(FP), R9
	SHLQ $2, R9                 // dst row stride in bytes
	MOVQ src_base+32(FP), SI
	MOVQ lds+56(FP), DX
	SHLQ $2, DX                 // src row stride in bytes
	LEAQ (DX)(DX*2), R8         // 3·lds
	MOVQ rows+64(FP), R10
	MOVQ cols+72(FP), R11

tjloop:
	// Columns j…j+7 of dst are rows j…j+7 of src (SI); CX walks dst's
	// rows down the column block.
	MOVQ DI, CX
	XORQ BX, BX

tiloop:
	LEAQ    (SI)(BX*4), AX
	LOAD8
	TRANSPOSE8
	VMOVUPS Y8, (CX)
	ADDQ    R9, CX
	VMOVUPS Y9, (CX)
	ADDQ    R9, CX
	VMOVUPS Y10, (CX)
	ADDQ    R9, CX
	VMOVUPS Y11, (CX)
	ADDQ    R9, CX
	VMOVUPS Y12, (CX)
	ADDQ    R9, CX
	VMOVUPS Y13, (CX)
	ADDQ    R9, CX
	VMOVUPS Y14, (CX)
	ADDQ    R9, CX
	VMOVUPS Y15, (CX)
	ADDQ    R9, CX
	ADDQ    $8, BX
	CMPQ    BX, R10
	JLT     tiloop

	LEAQ (SI)(DX*8), SI
	ADDQ $32, DI
	SUBQ $8, R11
	JNZ  tjloop

	VZEROUPPER
	RET
