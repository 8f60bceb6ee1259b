//go:build !purego

#include "textflag.h"

// func ffScaleAVX2(dst, y []float32, c float32)
// dst[i] = c·y[i] for i < len(dst), a multiple of 8.
TEXT ·ffScaleAVX2(SB), NOSPLIT, $0-52
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         y_base+24(FP), SI
	VBROADCASTSS c+48(FP), Y0
	SHRQ         $3, CX
	JZ           done
loop:
	VMULPS  (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop
done:
	VZEROUPPER
	RET

// func ffAddScaledAVX2(dst, h []float32, alpha, c float32)
// dst[i] += alpha·(c·h[i]) for i < len(dst), a multiple of 8: two rounded
// products, then the sum (no FMA, like the pure-Go twin).
TEXT ·ffAddScaledAVX2(SB), NOSPLIT, $0-56
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         h_base+24(FP), SI
	VBROADCASTSS alpha+48(FP), Y0
	VBROADCASTSS c+52(FP), Y1
	SHRQ         $3, CX
	JZ           done
loop:
	VMULPS  (SI), Y1, Y2
	VMULPS  Y2, Y0, Y2
	VADDPS  (DI), Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop
done:
	VZEROUPPER
	RET
