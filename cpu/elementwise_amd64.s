//go:build !purego

#include "textflag.h"

// dst[i] = a[i] + b[i] for i < len(dst).
// func addAVX2(dst, a, b []float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMOVUPS 0(SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VADDPS 0(DX)(AX*4), Y0, Y0
	VADDPS 32(DX)(AX*4), Y1, Y1
	VADDPS 64(DX)(AX*4), Y2, Y2
	VADDPS 96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, 0(DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMOVUPS (SI)(AX*4), Y0
	VADDPS (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMOVSS (SI)(AX*4), X0
	VADDSS (DX)(AX*4), X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

// dst[i] = a[i] - b[i] for i < len(dst).
// func subAVX2(dst, a, b []float32)
TEXT ·subAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMOVUPS 0(SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VSUBPS 0(DX)(AX*4), Y0, Y0
	VSUBPS 32(DX)(AX*4), Y1, Y1
	VSUBPS 64(DX)(AX*4), Y2, Y2
	VSUBPS 96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, 0(DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMOVUPS (SI)(AX*4), Y0
	VSUBPS (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMOVSS (SI)(AX*4), X0
	VSUBSS (DX)(AX*4), X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

// dst[i] = a[i] * b[i] for i < len(dst).
// func mulAVX2(dst, a, b []float32)
TEXT ·mulAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMOVUPS 0(SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VMULPS 0(DX)(AX*4), Y0, Y0
	VMULPS 32(DX)(AX*4), Y1, Y1
	VMULPS 64(DX)(AX*4), Y2, Y2
	VMULPS 96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, 0(DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMOVUPS (SI)(AX*4), Y0
	VMULPS (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMOVSS (SI)(AX*4), X0
	VMULSS (DX)(AX*4), X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

// dst[i] = alpha * x[i] for i < len(dst).
// func scaleToAVX2(dst, x []float32, alpha float32)
TEXT ·scaleToAVX2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	VBROADCASTSS alpha+48(FP), Y15
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMULPS 0(SI)(AX*4), Y15, Y0
	VMULPS 32(SI)(AX*4), Y15, Y1
	VMULPS 64(SI)(AX*4), Y15, Y2
	VMULPS 96(SI)(AX*4), Y15, Y3
	VMOVUPS Y0, 0(DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMULPS (SI)(AX*4), Y15, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMULSS (SI)(AX*4), X15, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

// dst[i] = alpha*x[i] + beta*dst[i] (one fused multiply-add) for i < len(dst).
// func axpbyAVX2(dst, x []float32, alpha, beta float32)
TEXT ·axpbyAVX2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	VBROADCASTSS alpha+48(FP), Y14
	VBROADCASTSS beta+52(FP), Y15
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMULPS 0(DI)(AX*4), Y15, Y0
	VMULPS 32(DI)(AX*4), Y15, Y1
	VMULPS 64(DI)(AX*4), Y15, Y2
	VMULPS 96(DI)(AX*4), Y15, Y3
	VFMADD231PS 0(SI)(AX*4), Y14, Y0
	VFMADD231PS 32(SI)(AX*4), Y14, Y1
	VFMADD231PS 64(SI)(AX*4), Y14, Y2
	VFMADD231PS 96(SI)(AX*4), Y14, Y3
	VMOVUPS Y0, 0(DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMULPS (DI)(AX*4), Y15, Y0
	VFMADD231PS (SI)(AX*4), Y14, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMULSS (DI)(AX*4), X15, X0
	VFMADD231SS (SI)(AX*4), X14, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

// dst[i] = w[i] * (x[i]*s) for i < len(dst).
// func scaleMulAVX2(dst, x, w []float32, s float32)
TEXT ·scaleMulAVX2(SB), NOSPLIT, $0-76
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ w_base+48(FP), DX
	VBROADCASTSS s+72(FP), Y15
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMULPS 0(SI)(AX*4), Y15, Y0
	VMULPS 32(SI)(AX*4), Y15, Y1
	VMULPS 64(SI)(AX*4), Y15, Y2
	VMULPS 96(SI)(AX*4), Y15, Y3
	VMULPS 0(DX)(AX*4), Y0, Y0
	VMULPS 32(DX)(AX*4), Y1, Y1
	VMULPS 64(DX)(AX*4), Y2, Y2
	VMULPS 96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, 0(DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMULPS (SI)(AX*4), Y15, Y0
	VMULPS (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMULSS (SI)(AX*4), X15, X0
	VMULSS (DX)(AX*4), X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

// returns sum of x[i]^2, in float32 with 32 partial sums.
// func sumSquaresAVX2(x []float32) float32
TEXT ·sumSquaresAVX2(SB), NOSPLIT, $0-28
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMOVUPS 0(SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VMOVUPS 64(SI)(AX*4), Y6
	VMOVUPS 96(SI)(AX*4), Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDPS X1, X0, X0
	VXORPS X5, X5, X5
	CMPQ AX, CX
	JAE  done
loop1:
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS X4, X4, X5
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VADDSS X5, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// returns sum of x[i]*y[i] for i < len(x), in float32 with 32 partial sums.
// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMOVUPS 0(SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VMOVUPS 64(SI)(AX*4), Y6
	VMOVUPS 96(SI)(AX*4), Y7
	VFMADD231PS 0(DX)(AX*4), Y4, Y0
	VFMADD231PS 32(DX)(AX*4), Y5, Y1
	VFMADD231PS 64(DX)(AX*4), Y6, Y2
	VFMADD231PS 96(DX)(AX*4), Y7, Y3
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DX)(AX*4), Y4, Y0
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDPS X1, X0, X0
	VXORPS X5, X5, X5
	CMPQ AX, CX
	JAE  done
loop1:
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DX)(AX*4), X4, X5
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VADDSS X5, X0, X0
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// dst[i] += (a[i]*s) * b[i] (one fused multiply-add) for i < len(dst).
// func mulAddAVX2(dst, a, b []float32, s float32)
TEXT ·mulAddAVX2(SB), NOSPLIT, $0-76
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	VBROADCASTSS s+72(FP), Y15
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMULPS 0(SI)(AX*4), Y15, Y4
	VMULPS 32(SI)(AX*4), Y15, Y5
	VMULPS 64(SI)(AX*4), Y15, Y6
	VMULPS 96(SI)(AX*4), Y15, Y7
	VMOVUPS 0(DI)(AX*4), Y0
	VMOVUPS 32(DI)(AX*4), Y1
	VMOVUPS 64(DI)(AX*4), Y2
	VMOVUPS 96(DI)(AX*4), Y3
	VFMADD231PS 0(DX)(AX*4), Y4, Y0
	VFMADD231PS 32(DX)(AX*4), Y5, Y1
	VFMADD231PS 64(DX)(AX*4), Y6, Y2
	VFMADD231PS 96(DX)(AX*4), Y7, Y3
	VMOVUPS Y0, 0(DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMULPS (SI)(AX*4), Y15, Y4
	VMOVUPS (DI)(AX*4), Y0
	VFMADD231PS (DX)(AX*4), Y4, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMULSS (SI)(AX*4), X15, X4
	VMOVSS (DI)(AX*4), X0
	VFMADD231SS (DX)(AX*4), X4, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

DATA ninf<>+0(SB)/4, $0xff800000
GLOBL ninf<>(SB), RODATA|NOPTR, $4

// returns the maximum of x (−∞ for an empty x); NaNs are not reliably
// propagated.
// func maxAVX2(x []float32) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-28
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	VBROADCASTSS ninf<>(SB), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMAXPS 0(SI)(AX*4), Y0, Y0
	VMAXPS 32(SI)(AX*4), Y1, Y1
	VMAXPS 64(SI)(AX*4), Y2, Y2
	VMAXPS 96(SI)(AX*4), Y3, Y3
	ADDQ $32, AX
	CMPQ AX, BX
	JB   loop32
tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  tail1
loop8:
	VMAXPS (SI)(AX*4), Y0, Y0
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXPS X1, X0, X0
	CMPQ AX, CX
	JAE  done
loop1:
	VMAXSS (SI)(AX*4), X0, X0
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET
