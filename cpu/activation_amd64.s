//go:build !purego

#include "textflag.h"

// dst[i] = max(0, x[i]) as MAXPS(0, x): x when NaN.
// func reluAVX2(dst, x []float32)
TEXT ·reluAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	VXORPS Y15, Y15, Y15
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMAXPS 0(SI)(AX*4), Y15, Y0
	VMAXPS 32(SI)(AX*4), Y15, Y1
	VMAXPS 64(SI)(AX*4), Y15, Y2
	VMAXPS 96(SI)(AX*4), Y15, Y3
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
	VMAXPS (SI)(AX*4), Y15, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMAXSS (SI)(AX*4), X15, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

// dx[i] = dy[i] where !(x[i] <= 0), else 0.
// func reluBackwardAVX2(dx, dy, x []float32)
TEXT ·reluBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dx_len+8(FP), CX
	MOVQ dy_base+24(FP), SI
	MOVQ x_base+48(FP), DX
	VXORPS Y15, Y15, Y15
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   tail8
loop32:
	VMOVUPS 0(DX)(AX*4), Y0
	VMOVUPS 32(DX)(AX*4), Y1
	VMOVUPS 64(DX)(AX*4), Y2
	VMOVUPS 96(DX)(AX*4), Y3
	VCMPPS $6, Y15, Y0, Y0
	VCMPPS $6, Y15, Y1, Y1
	VCMPPS $6, Y15, Y2, Y2
	VCMPPS $6, Y15, Y3, Y3
	VANDPS 0(SI)(AX*4), Y0, Y0
	VANDPS 32(SI)(AX*4), Y1, Y1
	VANDPS 64(SI)(AX*4), Y2, Y2
	VANDPS 96(SI)(AX*4), Y3, Y3
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
	VMOVUPS (DX)(AX*4), Y0
	VCMPPS $6, Y15, Y0, Y0
	VANDPS (SI)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   loop8
tail1:
	CMPQ AX, CX
	JAE  done
loop1:
	VMOVSS (DX)(AX*4), X0
	VCMPSS $6, X15, X0, X0
	VMOVSS (SI)(AX*4), X1
	VANDPS X1, X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   loop1
done:
	VZEROUPPER
	RET

// Constants of the activation kernels, each broadcast to 8 lanes (see
// expClamped and the Go twins in activation_generic.go).
DATA actconst<>+0(SB)/4, $0x3fb8aa3b
DATA actconst<>+4(SB)/4, $0x3fb8aa3b
DATA actconst<>+8(SB)/4, $0x3fb8aa3b
DATA actconst<>+12(SB)/4, $0x3fb8aa3b
DATA actconst<>+16(SB)/4, $0x3fb8aa3b
DATA actconst<>+20(SB)/4, $0x3fb8aa3b
DATA actconst<>+24(SB)/4, $0x3fb8aa3b
DATA actconst<>+28(SB)/4, $0x3fb8aa3b
DATA actconst<>+32(SB)/4, $0x3f318000
DATA actconst<>+36(SB)/4, $0x3f318000
DATA actconst<>+40(SB)/4, $0x3f318000
DATA actconst<>+44(SB)/4, $0x3f318000
DATA actconst<>+48(SB)/4, $0x3f318000
DATA actconst<>+52(SB)/4, $0x3f318000
DATA actconst<>+56(SB)/4, $0x3f318000
DATA actconst<>+60(SB)/4, $0x3f318000
DATA actconst<>+64(SB)/4, $0xb95e8083
DATA actconst<>+68(SB)/4, $0xb95e8083
DATA actconst<>+72(SB)/4, $0xb95e8083
DATA actconst<>+76(SB)/4, $0xb95e8083
DATA actconst<>+80(SB)/4, $0xb95e8083
DATA actconst<>+84(SB)/4, $0xb95e8083
DATA actconst<>+88(SB)/4, $0xb95e8083
DATA actconst<>+92(SB)/4, $0xb95e8083
DATA actconst<>+96(SB)/4, $0x39506967
DATA actconst<>+100(SB)/4, $0x39506967
DATA actconst<>+104(SB)/4, $0x39506967
DATA actconst<>+108(SB)/4, $0x39506967
DATA actconst<>+112(SB)/4, $0x39506967
DATA actconst<>+116(SB)/4, $0x39506967
DATA actconst<>+120(SB)/4, $0x39506967
DATA actconst<>+124(SB)/4, $0x39506967
DATA actconst<>+128(SB)/4, $0x3ab743ce
DATA actconst<>+132(SB)/4, $0x3ab743ce
DATA actconst<>+136(SB)/4, $0x3ab743ce
DATA actconst<>+140(SB)/4, $0x3ab743ce
DATA actconst<>+144(SB)/4, $0x3ab743ce
DATA actconst<>+148(SB)/4, $0x3ab743ce
DATA actconst<>+152(SB)/4, $0x3ab743ce
DATA actconst<>+156(SB)/4, $0x3ab743ce
DATA actconst<>+160(SB)/4, $0x3c088908
DATA actconst<>+164(SB)/4, $0x3c088908
DATA actconst<>+168(SB)/4, $0x3c088908
DATA actconst<>+172(SB)/4, $0x3c088908
DATA actconst<>+176(SB)/4, $0x3c088908
DATA actconst<>+180(SB)/4, $0x3c088908
DATA actconst<>+184(SB)/4, $0x3c088908
DATA actconst<>+188(SB)/4, $0x3c088908
DATA actconst<>+192(SB)/4, $0x3d2aa9c1
DATA actconst<>+196(SB)/4, $0x3d2aa9c1
DATA actconst<>+200(SB)/4, $0x3d2aa9c1
DATA actconst<>+204(SB)/4, $0x3d2aa9c1
DATA actconst<>+208(SB)/4, $0x3d2aa9c1
DATA actconst<>+212(SB)/4, $0x3d2aa9c1
DATA actconst<>+216(SB)/4, $0x3d2aa9c1
DATA actconst<>+220(SB)/4, $0x3d2aa9c1
DATA actconst<>+224(SB)/4, $0x3e2aaaaa
DATA actconst<>+228(SB)/4, $0x3e2aaaaa
DATA actconst<>+232(SB)/4, $0x3e2aaaaa
DATA actconst<>+236(SB)/4, $0x3e2aaaaa
DATA actconst<>+240(SB)/4, $0x3e2aaaaa
DATA actconst<>+244(SB)/4, $0x3e2aaaaa
DATA actconst<>+248(SB)/4, $0x3e2aaaaa
DATA actconst<>+252(SB)/4, $0x3e2aaaaa
DATA actconst<>+256(SB)/4, $0x3f000000
DATA actconst<>+260(SB)/4, $0x3f000000
DATA actconst<>+264(SB)/4, $0x3f000000
DATA actconst<>+268(SB)/4, $0x3f000000
DATA actconst<>+272(SB)/4, $0x3f000000
DATA actconst<>+276(SB)/4, $0x3f000000
DATA actconst<>+280(SB)/4, $0x3f000000
DATA actconst<>+284(SB)/4, $0x3f000000
DATA actconst<>+288(SB)/4, $0x3f800000
DATA actconst<>+292(SB)/4, $0x3f800000
DATA actconst<>+296(SB)/4, $0x3f800000
DATA actconst<>+300(SB)/4, $0x3f800000
DATA actconst<>+304(SB)/4, $0x3f800000
DATA actconst<>+308(SB)/4, $0x3f800000
DATA actconst<>+312(SB)/4, $0x3f800000
DATA actconst<>+316(SB)/4, $0x3f800000
DATA actconst<>+320(SB)/4, $0xbfcc422a
DATA actconst<>+324(SB)/4, $0xbfcc422a
DATA actconst<>+328(SB)/4, $0xbfcc422a
DATA actconst<>+332(SB)/4, $0xbfcc422a
DATA actconst<>+336(SB)/4, $0xbfcc422a
DATA actconst<>+340(SB)/4, $0xbfcc422a
DATA actconst<>+344(SB)/4, $0xbfcc422a
DATA actconst<>+348(SB)/4, $0xbfcc422a
DATA actconst<>+352(SB)/4, $0xbd922279
DATA actconst<>+356(SB)/4, $0xbd922279
DATA actconst<>+360(SB)/4, $0xbd922279
DATA actconst<>+364(SB)/4, $0xbd922279
DATA actconst<>+368(SB)/4, $0xbd922279
DATA actconst<>+372(SB)/4, $0xbd922279
DATA actconst<>+376(SB)/4, $0xbd922279
DATA actconst<>+380(SB)/4, $0xbd922279
DATA actconst<>+384(SB)/4, $0x3fcc422a
DATA actconst<>+388(SB)/4, $0x3fcc422a
DATA actconst<>+392(SB)/4, $0x3fcc422a
DATA actconst<>+396(SB)/4, $0x3fcc422a
DATA actconst<>+400(SB)/4, $0x3fcc422a
DATA actconst<>+404(SB)/4, $0x3fcc422a
DATA actconst<>+408(SB)/4, $0x3fcc422a
DATA actconst<>+412(SB)/4, $0x3fcc422a
DATA actconst<>+416(SB)/4, $0x3e5b33b6
DATA actconst<>+420(SB)/4, $0x3e5b33b6
DATA actconst<>+424(SB)/4, $0x3e5b33b6
DATA actconst<>+428(SB)/4, $0x3e5b33b6
DATA actconst<>+432(SB)/4, $0x3e5b33b6
DATA actconst<>+436(SB)/4, $0x3e5b33b6
DATA actconst<>+440(SB)/4, $0x3e5b33b6
DATA actconst<>+444(SB)/4, $0x3e5b33b6
DATA actconst<>+448(SB)/4, $0xc2aeac4f
DATA actconst<>+452(SB)/4, $0xc2aeac4f
DATA actconst<>+456(SB)/4, $0xc2aeac4f
DATA actconst<>+460(SB)/4, $0xc2aeac4f
DATA actconst<>+464(SB)/4, $0xc2aeac4f
DATA actconst<>+468(SB)/4, $0xc2aeac4f
DATA actconst<>+472(SB)/4, $0xc2aeac4f
DATA actconst<>+476(SB)/4, $0xc2aeac4f
DATA actconst<>+480(SB)/4, $0x42b00000
DATA actconst<>+484(SB)/4, $0x42b00000
DATA actconst<>+488(SB)/4, $0x42b00000
DATA actconst<>+492(SB)/4, $0x42b00000
DATA actconst<>+496(SB)/4, $0x42b00000
DATA actconst<>+500(SB)/4, $0x42b00000
DATA actconst<>+504(SB)/4, $0x42b00000
DATA actconst<>+508(SB)/4, $0x42b00000
GLOBL actconst<>(SB), RODATA|NOPTR, $512
DATA actbias<>+0(SB)/4, $127
DATA actbias<>+4(SB)/4, $127
DATA actbias<>+8(SB)/4, $127
DATA actbias<>+12(SB)/4, $127
DATA actbias<>+16(SB)/4, $127
DATA actbias<>+20(SB)/4, $127
DATA actbias<>+24(SB)/4, $127
DATA actbias<>+28(SB)/4, $127
GLOBL actbias<>(SB), RODATA|NOPTR, $32
DATA acttail<>+0(SB)/4, $0xffffffff
DATA acttail<>+4(SB)/4, $0xffffffff
DATA acttail<>+8(SB)/4, $0xffffffff
DATA acttail<>+12(SB)/4, $0xffffffff
DATA acttail<>+16(SB)/4, $0xffffffff
DATA acttail<>+20(SB)/4, $0xffffffff
DATA acttail<>+24(SB)/4, $0xffffffff
DATA acttail<>+28(SB)/4, $0xffffffff
DATA acttail<>+32(SB)/4, $0x00000000
DATA acttail<>+36(SB)/4, $0x00000000
DATA acttail<>+40(SB)/4, $0x00000000
DATA acttail<>+44(SB)/4, $0x00000000
DATA acttail<>+48(SB)/4, $0x00000000
DATA acttail<>+52(SB)/4, $0x00000000
DATA acttail<>+56(SB)/4, $0x00000000
DATA acttail<>+60(SB)/4, $0x00000000
GLOBL acttail<>(SB), RODATA|NOPTR, $64

// func geluNewAVX2(dst, x []float32)
// dst[i] = gelu_new(x[i]) = x/(1 + e^(−2u)), u = √(2/π)(x + 0.044715x³).
TEXT ·geluNewAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	VMOVUPS actconst<>+448(SB), Y14
	VMOVUPS actconst<>+480(SB), Y13
	VMOVUPS actconst<>+288(SB), Y12
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   tail
loop:
	VMOVUPS (SI), Y0
	VMULPS Y0, Y0, Y1
	VMOVUPS actconst<>+352(SB), Y2
	VFMADD213PS actconst<>+320(SB), Y1, Y2
	VMULPS Y2, Y0, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y3
	VDIVPS Y3, Y0, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ BX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
	LEAQ acttail<>(SB), AX
	NEGQ CX
	VMOVUPS 32(AX)(CX*4), Y15
	VMASKMOVPS (SI), Y15, Y0
	VMULPS Y0, Y0, Y1
	VMOVUPS actconst<>+352(SB), Y2
	VFMADD213PS actconst<>+320(SB), Y1, Y2
	VMULPS Y2, Y0, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y3
	VDIVPS Y3, Y0, Y4
	VMASKMOVPS Y4, Y15, (DI)
done:
	VZEROUPPER
	RET

// func geluNewBackwardAVX2(dx, dy, x []float32)
// dx[i] = dy[i]·gelu_new'(x[i]) = dy·(s + x·s(1−s)·2u'), s = σ(2u).
TEXT ·geluNewBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dx_len+8(FP), CX
	MOVQ dy_base+24(FP), DX
	MOVQ x_base+48(FP), SI
	VMOVUPS actconst<>+448(SB), Y14
	VMOVUPS actconst<>+480(SB), Y13
	VMOVUPS actconst<>+288(SB), Y12
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   tail
loop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y8
	VMULPS Y0, Y0, Y1
	VMOVUPS actconst<>+352(SB), Y2
	VFMADD213PS actconst<>+320(SB), Y1, Y2
	VMULPS Y2, Y0, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y6
	VDIVPS Y6, Y12, Y6
	VMULPS Y6, Y3, Y7
	VMULPS Y6, Y7, Y7
	VMULPS Y0, Y0, Y1
	VMOVUPS actconst<>+416(SB), Y2
	VFMADD213PS actconst<>+384(SB), Y1, Y2
	VMULPS Y0, Y7, Y7
	VFMADD213PS Y6, Y2, Y7
	VMULPS Y8, Y7, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ BX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
	LEAQ acttail<>(SB), AX
	NEGQ CX
	VMOVUPS 32(AX)(CX*4), Y15
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DX), Y15, Y8
	VMULPS Y0, Y0, Y1
	VMOVUPS actconst<>+352(SB), Y2
	VFMADD213PS actconst<>+320(SB), Y1, Y2
	VMULPS Y2, Y0, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y6
	VDIVPS Y6, Y12, Y6
	VMULPS Y6, Y3, Y7
	VMULPS Y6, Y7, Y7
	VMULPS Y0, Y0, Y1
	VMOVUPS actconst<>+416(SB), Y2
	VFMADD213PS actconst<>+384(SB), Y1, Y2
	VMULPS Y0, Y7, Y7
	VFMADD213PS Y6, Y2, Y7
	VMULPS Y8, Y7, Y4
	VMASKMOVPS Y4, Y15, (DI)
done:
	VZEROUPPER
	RET

// func siluAVX2(dst, x []float32)
// dst[i] = x/(1 + e^(−x)).
TEXT ·siluAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	VMOVUPS actconst<>+448(SB), Y14
	VMOVUPS actconst<>+480(SB), Y13
	VMOVUPS actconst<>+288(SB), Y12
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   tail
loop:
	VMOVUPS (SI), Y0
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y3
	VDIVPS Y3, Y0, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ BX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
	LEAQ acttail<>(SB), AX
	NEGQ CX
	VMOVUPS 32(AX)(CX*4), Y15
	VMASKMOVPS (SI), Y15, Y0
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y3
	VDIVPS Y3, Y0, Y4
	VMASKMOVPS Y4, Y15, (DI)
done:
	VZEROUPPER
	RET

// func siluBackwardAVX2(dx, dy, x []float32)
// dx[i] = dy[i]·(s + x·s(1−s)), s = σ(x).
TEXT ·siluBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dx_len+8(FP), CX
	MOVQ dy_base+24(FP), DX
	MOVQ x_base+48(FP), SI
	VMOVUPS actconst<>+448(SB), Y14
	VMOVUPS actconst<>+480(SB), Y13
	VMOVUPS actconst<>+288(SB), Y12
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   tail
loop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y8
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y6
	VDIVPS Y6, Y12, Y6
	VMULPS Y6, Y3, Y7
	VMULPS Y6, Y7, Y7
	VFMADD213PS Y6, Y0, Y7
	VMULPS Y8, Y7, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ BX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
	LEAQ acttail<>(SB), AX
	NEGQ CX
	VMOVUPS 32(AX)(CX*4), Y15
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DX), Y15, Y8
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y6
	VDIVPS Y6, Y12, Y6
	VMULPS Y6, Y3, Y7
	VMULPS Y6, Y7, Y7
	VFMADD213PS Y6, Y0, Y7
	VMULPS Y8, Y7, Y4
	VMASKMOVPS Y4, Y15, (DI)
done:
	VZEROUPPER
	RET

// func sigmoidAVX2(dst, x []float32)
// dst[i] = 1/(1 + e^(−x)).
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	VMOVUPS actconst<>+448(SB), Y14
	VMOVUPS actconst<>+480(SB), Y13
	VMOVUPS actconst<>+288(SB), Y12
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   tail
loop:
	VMOVUPS (SI), Y0
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y3
	VDIVPS Y3, Y12, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ BX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
	LEAQ acttail<>(SB), AX
	NEGQ CX
	VMOVUPS 32(AX)(CX*4), Y15
	VMASKMOVPS (SI), Y15, Y0
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y3
	VDIVPS Y3, Y12, Y4
	VMASKMOVPS Y4, Y15, (DI)
done:
	VZEROUPPER
	RET

// func sigmoidBackwardAVX2(dx, dy, x []float32)
// dx[i] = dy[i]·s(1−s), s = σ(x).
TEXT ·sigmoidBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dx_len+8(FP), CX
	MOVQ dy_base+24(FP), DX
	MOVQ x_base+48(FP), SI
	VMOVUPS actconst<>+448(SB), Y14
	VMOVUPS actconst<>+480(SB), Y13
	VMOVUPS actconst<>+288(SB), Y12
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   tail
loop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y8
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y6
	VDIVPS Y6, Y12, Y6
	VMULPS Y6, Y3, Y7
	VMULPS Y6, Y7, Y7
	VMULPS Y8, Y7, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ BX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
	LEAQ acttail<>(SB), AX
	NEGQ CX
	VMOVUPS 32(AX)(CX*4), Y15
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DX), Y15, Y8
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y1
	VMAXPS Y1, Y14, Y1
	VMINPS Y1, Y13, Y1
	VMULPS actconst<>+0(SB), Y1, Y2
	VROUNDPS $0, Y2, Y2
	VFNMADD231PS actconst<>+32(SB), Y2, Y1
	VFNMADD231PS actconst<>+64(SB), Y2, Y1
	VCVTPS2DQ Y2, Y2
	VPADDD actbias<>(SB), Y2, Y2
	VPSLLD $23, Y2, Y2
	VMOVUPS actconst<>+96(SB), Y3
	VFMADD213PS actconst<>+128(SB), Y1, Y3
	VFMADD213PS actconst<>+160(SB), Y1, Y3
	VFMADD213PS actconst<>+192(SB), Y1, Y3
	VFMADD213PS actconst<>+224(SB), Y1, Y3
	VFMADD213PS actconst<>+256(SB), Y1, Y3
	VMULPS Y1, Y1, Y5
	VFMADD213PS Y1, Y5, Y3
	VADDPS Y12, Y3, Y3
	VMULPS Y2, Y3, Y3
	VADDPS Y12, Y3, Y6
	VDIVPS Y6, Y12, Y6
	VMULPS Y6, Y3, Y7
	VMULPS Y6, Y7, Y7
	VMULPS Y8, Y7, Y4
	VMASKMOVPS Y4, Y15, (DI)
done:
	VZEROUPPER
	RET
