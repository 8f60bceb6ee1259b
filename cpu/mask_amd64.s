//go:build !purego

#include "textflag.h"

// Bit i of each of the 8 lanes: 1, 2, 4, …, 128.
DATA maskLaneBits<>+0(SB)/4, $1
DATA maskLaneBits<>+4(SB)/4, $2
DATA maskLaneBits<>+8(SB)/4, $4
DATA maskLaneBits<>+12(SB)/4, $8
DATA maskLaneBits<>+16(SB)/4, $16
DATA maskLaneBits<>+20(SB)/4, $32
DATA maskLaneBits<>+24(SB)/4, $64
DATA maskLaneBits<>+28(SB)/4, $128
GLOBL maskLaneBits<>(SB), RODATA|NOPTR, $32

// func packPositiveAVX2(m []int32, x []float32)
// m[w] bit i = x[32w+i] > 0 (ordered: NaN gives 0); len(x) = 32·len(m).
TEXT ·packPositiveAVX2(SB), NOSPLIT, $0-48
	MOVQ   m_base+0(FP), DI
	MOVQ   m_len+8(FP), CX
	MOVQ   x_base+24(FP), SI
	VXORPS Y15, Y15, Y15
	TESTQ  CX, CX
	JZ     ppdone

pploop:
	VMOVUPS   (SI), Y0
	VMOVUPS   32(SI), Y1
	VMOVUPS   64(SI), Y2
	VMOVUPS   96(SI), Y3
	VCMPPS    $0x1e, Y15, Y0, Y0 // x > 0, ordered, quiet
	VCMPPS    $0x1e, Y15, Y1, Y1
	VCMPPS    $0x1e, Y15, Y2, Y2
	VCMPPS    $0x1e, Y15, Y3, Y3
	VMOVMSKPS Y0, AX
	VMOVMSKPS Y1, BX
	SHLL      $8, BX
	ORL       BX, AX
	VMOVMSKPS Y2, BX
	SHLL      $16, BX
	ORL       BX, AX
	VMOVMSKPS Y3, BX
	SHLL      $24, BX
	ORL       BX, AX
	MOVL      AX, (DI)
	ADDQ      $128, SI
	ADDQ      $4, DI
	DECQ      CX
	JNZ       pploop

ppdone:
	VZEROUPPER
	RET

// LANES expands byte k of AX to a lane mask and writes d = x & mask for
// the 8 floats at offset off.
#define LANES(shift, off) \
	MOVL         AX, BX;          \
	SHRL         $shift, BX;      \
	VMOVD        BX, X1;          \
	VPBROADCASTD X1, Y1;          \
	VPAND        Y14, Y1, Y1;     \
	VPCMPEQD     Y14, Y1, Y1;     \
	VANDPS       off(SI), Y1, Y2; \
	VMOVUPS      Y2, off(DI)

// func applyMaskAVX2(d, x []float32, m []int32)
// d[32w+i] = x[32w+i] where bit i of m[w] is set, else +0; len(x) = 32·len(m).
TEXT ·applyMaskAVX2(SB), NOSPLIT, $0-72
	MOVQ    d_base+0(FP), DI
	MOVQ    x_base+24(FP), SI
	MOVQ    m_base+48(FP), R8
	MOVQ    m_len+56(FP), CX
	VMOVDQU maskLaneBits<>(SB), Y14
	TESTQ   CX, CX
	JZ      amdone

amloop:
	MOVL (R8), AX
	LANES(0, 0)
	LANES(8, 32)
	LANES(16, 64)
	LANES(24, 96)
	ADDQ $4, R8
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  amloop

amdone:
	VZEROUPPER
	RET
