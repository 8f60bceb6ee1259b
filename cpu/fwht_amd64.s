//go:build !purego

#include "textflag.h"

// Every loop starts on a 64-byte boundary (PCALIGN): the small transforms
// otherwise moved by ±10 % with the placement of the code.

// FWHTTOSETUP loads the arguments of the radix kernels below: src at SI
// with row stride R8 = 4·hs bytes (R9 = 3 rows), dst at DI with row stride
// R11 = 4·hd bytes (R12 = 3 rows), CX = w/8 column groups.
#define FWHTTOSETUP \
	MOVQ dst_base+0(FP), DI \
	MOVQ src_base+24(FP), SI \
	MOVQ hd+48(FP), R11 \
	MOVQ hs+56(FP), R8 \
	MOVQ w+64(FP), CX \
	SHLQ $2, R8 \
	LEAQ (R8)(R8*2), R9 \
	SHLQ $2, R11 \
	LEAQ (R11)(R11*2), R12

// Sign vectors of the in-register butterflies: level 0 pairs (i, i^1),
// level 1 (i, i^2), level 2 (i, i^4); out = perm(x) + x·sign is a+b in the
// low and a−b in the high element of each pair, exactly rounded once.
DATA fwhtsign<>+0(SB)/4, $0x3f800000
DATA fwhtsign<>+4(SB)/4, $0xbf800000
DATA fwhtsign<>+8(SB)/4, $0x3f800000
DATA fwhtsign<>+12(SB)/4, $0xbf800000
DATA fwhtsign<>+16(SB)/4, $0x3f800000
DATA fwhtsign<>+20(SB)/4, $0xbf800000
DATA fwhtsign<>+24(SB)/4, $0x3f800000
DATA fwhtsign<>+28(SB)/4, $0xbf800000
DATA fwhtsign<>+32(SB)/4, $0x3f800000
DATA fwhtsign<>+36(SB)/4, $0x3f800000
DATA fwhtsign<>+40(SB)/4, $0xbf800000
DATA fwhtsign<>+44(SB)/4, $0xbf800000
DATA fwhtsign<>+48(SB)/4, $0x3f800000
DATA fwhtsign<>+52(SB)/4, $0x3f800000
DATA fwhtsign<>+56(SB)/4, $0xbf800000
DATA fwhtsign<>+60(SB)/4, $0xbf800000
DATA fwhtsign<>+64(SB)/4, $0x3f800000
DATA fwhtsign<>+68(SB)/4, $0x3f800000
DATA fwhtsign<>+72(SB)/4, $0x3f800000
DATA fwhtsign<>+76(SB)/4, $0x3f800000
DATA fwhtsign<>+80(SB)/4, $0xbf800000
DATA fwhtsign<>+84(SB)/4, $0xbf800000
DATA fwhtsign<>+88(SB)/4, $0xbf800000
DATA fwhtsign<>+92(SB)/4, $0xbf800000
GLOBL fwhtsign<>(SB), RODATA|NOPTR, $96

// FWHT64BODY applies levels 0..5 to the 64 elements at SI; Y8..Y10 hold
// the sign vectors.
#define FWHT64BODY \
	VMOVUPS 0(SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	VMOVUPS 64(SI), Y2 \
	VMOVUPS 96(SI), Y3 \
	VMOVUPS 128(SI), Y4 \
	VMOVUPS 160(SI), Y5 \
	VMOVUPS 192(SI), Y6 \
	VMOVUPS 224(SI), Y7 \
	VPERMILPS $0xB1, Y0, Y11 \
	VFMADD213PS Y11, Y8, Y0 \
	VPERMILPS $0xB1, Y1, Y12 \
	VFMADD213PS Y12, Y8, Y1 \
	VPERMILPS $0xB1, Y2, Y13 \
	VFMADD213PS Y13, Y8, Y2 \
	VPERMILPS $0xB1, Y3, Y14 \
	VFMADD213PS Y14, Y8, Y3 \
	VPERMILPS $0xB1, Y4, Y15 \
	VFMADD213PS Y15, Y8, Y4 \
	VPERMILPS $0xB1, Y5, Y11 \
	VFMADD213PS Y11, Y8, Y5 \
	VPERMILPS $0xB1, Y6, Y12 \
	VFMADD213PS Y12, Y8, Y6 \
	VPERMILPS $0xB1, Y7, Y13 \
	VFMADD213PS Y13, Y8, Y7 \
	VPERMILPS $0x4E, Y0, Y14 \
	VFMADD213PS Y14, Y9, Y0 \
	VPERMILPS $0x4E, Y1, Y15 \
	VFMADD213PS Y15, Y9, Y1 \
	VPERMILPS $0x4E, Y2, Y11 \
	VFMADD213PS Y11, Y9, Y2 \
	VPERMILPS $0x4E, Y3, Y12 \
	VFMADD213PS Y12, Y9, Y3 \
	VPERMILPS $0x4E, Y4, Y13 \
	VFMADD213PS Y13, Y9, Y4 \
	VPERMILPS $0x4E, Y5, Y14 \
	VFMADD213PS Y14, Y9, Y5 \
	VPERMILPS $0x4E, Y6, Y15 \
	VFMADD213PS Y15, Y9, Y6 \
	VPERMILPS $0x4E, Y7, Y11 \
	VFMADD213PS Y11, Y9, Y7 \
	VPERM2F128 $0x01, Y0, Y0, Y12 \
	VFMADD213PS Y12, Y10, Y0 \
	VPERM2F128 $0x01, Y1, Y1, Y13 \
	VFMADD213PS Y13, Y10, Y1 \
	VPERM2F128 $0x01, Y2, Y2, Y14 \
	VFMADD213PS Y14, Y10, Y2 \
	VPERM2F128 $0x01, Y3, Y3, Y15 \
	VFMADD213PS Y15, Y10, Y3 \
	VPERM2F128 $0x01, Y4, Y4, Y11 \
	VFMADD213PS Y11, Y10, Y4 \
	VPERM2F128 $0x01, Y5, Y5, Y12 \
	VFMADD213PS Y12, Y10, Y5 \
	VPERM2F128 $0x01, Y6, Y6, Y13 \
	VFMADD213PS Y13, Y10, Y6 \
	VPERM2F128 $0x01, Y7, Y7, Y14 \
	VFMADD213PS Y14, Y10, Y7 \
	VADDPS Y1, Y0, Y11 \
	VSUBPS Y1, Y0, Y1 \
	VADDPS Y3, Y2, Y12 \
	VSUBPS Y3, Y2, Y3 \
	VADDPS Y5, Y4, Y13 \
	VSUBPS Y5, Y4, Y5 \
	VADDPS Y7, Y6, Y14 \
	VSUBPS Y7, Y6, Y7 \
	VADDPS Y12, Y11, Y15 \
	VSUBPS Y12, Y11, Y12 \
	VADDPS Y3, Y1, Y0 \
	VSUBPS Y3, Y1, Y3 \
	VADDPS Y14, Y13, Y2 \
	VSUBPS Y14, Y13, Y14 \
	VADDPS Y7, Y5, Y4 \
	VSUBPS Y7, Y5, Y7 \
	VADDPS Y2, Y15, Y6 \
	VSUBPS Y2, Y15, Y2 \
	VADDPS Y4, Y0, Y11 \
	VSUBPS Y4, Y0, Y4 \
	VADDPS Y14, Y12, Y1 \
	VSUBPS Y14, Y12, Y14 \
	VADDPS Y7, Y3, Y13 \
	VSUBPS Y7, Y3, Y7 \
	VMOVUPS Y6, 0(SI) \
	VMOVUPS Y11, 32(SI) \
	VMOVUPS Y1, 64(SI) \
	VMOVUPS Y13, 96(SI) \
	VMOVUPS Y2, 128(SI) \
	VMOVUPS Y4, 160(SI) \
	VMOVUPS Y14, 192(SI) \
	VMOVUPS Y7, 224(SI)

// FWHTR8BODY is one column group of the in-place radix-8 pass: rows at SI
// + k·R8 (R9 = 3·R8), R10 = SI + 4·R8.
#define FWHTR8BODY \
	VMOVUPS (SI), Y0 \
	VMOVUPS (SI)(R8*1), Y1 \
	VMOVUPS (SI)(R8*2), Y2 \
	VMOVUPS (SI)(R9*1), Y3 \
	VMOVUPS (R10), Y4 \
	VMOVUPS (R10)(R8*1), Y5 \
	VMOVUPS (R10)(R8*2), Y6 \
	VMOVUPS (R10)(R9*1), Y7 \
	VADDPS Y1, Y0, Y8 \
	VSUBPS Y1, Y0, Y1 \
	VADDPS Y3, Y2, Y9 \
	VSUBPS Y3, Y2, Y3 \
	VADDPS Y5, Y4, Y10 \
	VSUBPS Y5, Y4, Y5 \
	VADDPS Y7, Y6, Y11 \
	VSUBPS Y7, Y6, Y7 \
	VADDPS Y9, Y8, Y12 \
	VSUBPS Y9, Y8, Y9 \
	VADDPS Y3, Y1, Y13 \
	VSUBPS Y3, Y1, Y3 \
	VADDPS Y11, Y10, Y14 \
	VSUBPS Y11, Y10, Y11 \
	VADDPS Y7, Y5, Y15 \
	VSUBPS Y7, Y5, Y7 \
	VADDPS Y14, Y12, Y0 \
	VSUBPS Y14, Y12, Y14 \
	VADDPS Y15, Y13, Y2 \
	VSUBPS Y15, Y13, Y15 \
	VADDPS Y11, Y9, Y4 \
	VSUBPS Y11, Y9, Y11 \
	VADDPS Y7, Y3, Y6 \
	VSUBPS Y7, Y3, Y7 \
	VMOVUPS Y0, (SI) \
	VMOVUPS Y2, (SI)(R8*1) \
	VMOVUPS Y4, (SI)(R8*2) \
	VMOVUPS Y6, (SI)(R9*1) \
	VMOVUPS Y14, (R10) \
	VMOVUPS Y15, (R10)(R8*1) \
	VMOVUPS Y11, (R10)(R8*2) \
	VMOVUPS Y7, (R10)(R9*1)

// func fwht64AVX2(x []float32)
// Levels 0..5 (butterfly spans 1..32) of the transform of every 64-element
// chunk of x; len(x) must be a multiple of 64.
TEXT ·fwht64AVX2(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $6, CX
	JZ   done
	VMOVUPS fwhtsign<>+0(SB), Y8
	VMOVUPS fwhtsign<>+32(SB), Y9
	VMOVUPS fwhtsign<>+64(SB), Y10
	PCALIGN $64
loop:
	FWHT64BODY
	ADDQ $256, SI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func fwhtR8AVX2(x []float32, h, w int)
// Levels of spans h, 2h, 4h on the rows x[j+k·h], k < 8, for j < w (a
// multiple of 8): a radix-8 pass over one group of 8h elements.
TEXT ·fwhtR8AVX2(SB), NOSPLIT, $0-40
	MOVQ x_base+0(FP), SI
	MOVQ h+24(FP), R8
	MOVQ w+32(FP), CX
	SHRQ $3, CX
	JZ   done
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	PCALIGN $64
loop:
	LEAQ (SI)(R8*4), R10
	FWHTR8BODY
	ADDQ $32, SI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func fwhtR4AVX2(x []float32, h, w int)
// Levels of spans h, 2h on the rows x[j+k·h], k < 4, for j < w (a multiple
// of 8): a radix-4 pass over one group of 4h elements.
TEXT ·fwhtR4AVX2(SB), NOSPLIT, $0-40
	MOVQ x_base+0(FP), SI
	MOVQ h+24(FP), R8
	MOVQ w+32(FP), CX
	SHRQ $3, CX
	JZ   done
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	PCALIGN $64
loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VADDPS Y1, Y0, Y4
	VSUBPS Y1, Y0, Y1
	VADDPS Y3, Y2, Y5
	VSUBPS Y3, Y2, Y3
	VADDPS Y5, Y4, Y6
	VSUBPS Y5, Y4, Y5
	VADDPS Y3, Y1, Y7
	VSUBPS Y3, Y1, Y3
	VMOVUPS Y6, (SI)
	VMOVUPS Y7, (SI)(R8*1)
	VMOVUPS Y5, (SI)(R8*2)
	VMOVUPS Y3, (SI)(R9*1)
	ADDQ $32, SI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func fwhtR2AVX2(x []float32, h, w int)
// The level of span h on the rows x[j], x[j+h] for j < w (a multiple of 8).
TEXT ·fwhtR2AVX2(SB), NOSPLIT, $0-40
	MOVQ x_base+0(FP), SI
	MOVQ h+24(FP), R8
	MOVQ w+32(FP), CX
	SHRQ $3, CX
	JZ   done
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	PCALIGN $64
loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VADDPS Y1, Y0, Y2
	VSUBPS Y1, Y0, Y1
	VMOVUPS Y2, (SI)
	VMOVUPS Y1, (SI)(R8*1)
	ADDQ $32, SI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func fwhtR8ToAVX2(dst, src []float32, hd, hs, w int)
// Levels of spans hs, 2hs, 4hs on the rows src[j+k·hs], k < 8, written to
// dst[j+k·hd], for j < w (a multiple of 8): a radix-8 pass over one group
// (in place when dst = src and hd = hs: each column is read before it is
// written).
TEXT ·fwhtR8ToAVX2(SB), NOSPLIT, $0-72
	FWHTTOSETUP
	SHRQ $3, CX
	JZ   done
	PCALIGN $64
loop:
	LEAQ (SI)(R8*4), R10
	LEAQ (DI)(R11*4), R13
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7
	VADDPS Y1, Y0, Y8
	VSUBPS Y1, Y0, Y1
	VADDPS Y3, Y2, Y9
	VSUBPS Y3, Y2, Y3
	VADDPS Y5, Y4, Y10
	VSUBPS Y5, Y4, Y5
	VADDPS Y7, Y6, Y11
	VSUBPS Y7, Y6, Y7
	VADDPS Y9, Y8, Y12
	VSUBPS Y9, Y8, Y9
	VADDPS Y3, Y1, Y13
	VSUBPS Y3, Y1, Y3
	VADDPS Y11, Y10, Y14
	VSUBPS Y11, Y10, Y11
	VADDPS Y7, Y5, Y15
	VSUBPS Y7, Y5, Y7
	VADDPS Y14, Y12, Y0
	VSUBPS Y14, Y12, Y14
	VADDPS Y15, Y13, Y2
	VSUBPS Y15, Y13, Y15
	VADDPS Y11, Y9, Y4
	VSUBPS Y11, Y9, Y11
	VADDPS Y7, Y3, Y6
	VSUBPS Y7, Y3, Y7
	VMOVUPS Y0, (DI)
	VMOVUPS Y2, (DI)(R11*1)
	VMOVUPS Y4, (DI)(R11*2)
	VMOVUPS Y6, (DI)(R12*1)
	VMOVUPS Y14, (R13)
	VMOVUPS Y15, (R13)(R11*1)
	VMOVUPS Y11, (R13)(R11*2)
	VMOVUPS Y7, (R13)(R12*1)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func fwhtR4ToAVX2(dst, src []float32, hd, hs, w int)
// Levels of spans hs, 2hs on the rows src[j+k·hs], k < 4, written to
// dst[j+k·hd], for j < w (a multiple of 8): a radix-4 pass over one group.
TEXT ·fwhtR4ToAVX2(SB), NOSPLIT, $0-72
	FWHTTOSETUP
	SHRQ $3, CX
	JZ   done
	PCALIGN $64
loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VADDPS Y1, Y0, Y4
	VSUBPS Y1, Y0, Y1
	VADDPS Y3, Y2, Y5
	VSUBPS Y3, Y2, Y3
	VADDPS Y5, Y4, Y6
	VSUBPS Y5, Y4, Y5
	VADDPS Y3, Y1, Y7
	VSUBPS Y3, Y1, Y3
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, (DI)(R11*1)
	VMOVUPS Y5, (DI)(R11*2)
	VMOVUPS Y3, (DI)(R12*1)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func fwhtR2ToAVX2(dst, src []float32, hd, hs, w int)
// The level of span hs on the rows src[j], src[j+hs], written to dst[j],
// dst[j+hd], for j < w (a multiple of 8).
TEXT ·fwhtR2ToAVX2(SB), NOSPLIT, $0-72
	FWHTTOSETUP
	SHRQ $3, CX
	JZ   done
	PCALIGN $64
loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VADDPS Y1, Y0, Y2
	VSUBPS Y1, Y0, Y1
	VMOVUPS Y2, (DI)
	VMOVUPS Y1, (DI)(R11*1)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func fwht64PfAVX2(x, pf []float32)
// fwht64AVX2 that also prefetches the cache lines of pf in order, four per
// 64 elements of x (as many bytes as it transforms), until pf is covered:
// pf is the next leaf, which arrives from memory while this one computes.
TEXT ·fwht64PfAVX2(SB), NOSPLIT, $0-48
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ pf_base+24(FP), DX
	MOVQ pf_len+32(FP), BX
	LEAQ (DX)(BX*4), BX
	SHRQ $6, CX
	JZ   done
	VMOVUPS fwhtsign<>+0(SB), Y8
	VMOVUPS fwhtsign<>+32(SB), Y9
	VMOVUPS fwhtsign<>+64(SB), Y10
	PCALIGN $64
loop:
	CMPQ DX, BX
	JAE  nopf
	PREFETCHT0 (DX)
	ADDQ $64, DX
	CMPQ DX, BX
	JAE  nopf
	PREFETCHT0 (DX)
	ADDQ $64, DX
	CMPQ DX, BX
	JAE  nopf
	PREFETCHT0 (DX)
	ADDQ $64, DX
	CMPQ DX, BX
	JAE  nopf
	PREFETCHT0 (DX)
	ADDQ $64, DX
nopf:
	FWHT64BODY
	ADDQ $256, SI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET
