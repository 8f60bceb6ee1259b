//go:build !purego

#include "textflag.h"

// func adamwAVX2(p, g, m, v []float32, c *adamwConsts)
// The AdamW update of adamwGeneric on 8 elements at a time (len(p) a
// multiple of 8), with the same float32 operations in the same order and no
// fused multiply-adds, so it gives the same bits: VSQRTPS and VDIVPS are
// correctly rounded like the float64 square root rounded to float32.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-104
	MOVQ p_base+0(FP), DI
	MOVQ p_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ c+96(FP), AX
	VBROADCASTSS 0(AX), Y8   // decay
	VBROADCASTSS 4(AX), Y9   // beta1
	VBROADCASTSS 8(AX), Y10  // 1 − beta1
	VBROADCASTSS 12(AX), Y11 // beta2
	VBROADCASTSS 16(AX), Y12 // 1 − beta2
	VBROADCASTSS 20(AX), Y13 // √(1 − beta2^t)
	VBROADCASTSS 24(AX), Y14 // eps
	VBROADCASTSS 28(AX), Y15 // step
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y0      // g
	VMULPS  (DI), Y8, Y1  // x = p·decay
	VMULPS  (R8), Y9, Y2  // beta1·m
	VMULPS  Y0, Y10, Y3   // (1−beta1)·g
	VADDPS  Y3, Y2, Y2    // m
	VMULPS  (R9), Y11, Y4 // beta2·v
	VMULPS  Y0, Y12, Y5   // (1−beta2)·g
	VMULPS  Y0, Y5, Y5    // ·g
	VADDPS  Y5, Y4, Y4    // v
	VMOVUPS Y2, (R8)
	VMOVUPS Y4, (R9)
	VSQRTPS Y4, Y6
	VDIVPS  Y13, Y6, Y6   // √v / √(1−beta2^t)
	VADDPS  Y14, Y6, Y6   // + eps
	VDIVPS  Y6, Y2, Y7    // m / denom
	VMULPS  Y7, Y15, Y7   // step·(m / denom)
	VSUBPS  Y7, Y1, Y1    // x − step·(m / denom)
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
