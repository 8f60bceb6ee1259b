//go:build !purego

#include "textflag.h"

// Constants of expShiftAVX2, each broadcast to 8 lanes (see expNonPos).
DATA expconst<>+0(SB)/4, $0x3fb8aa3b
DATA expconst<>+4(SB)/4, $0x3fb8aa3b
DATA expconst<>+8(SB)/4, $0x3fb8aa3b
DATA expconst<>+12(SB)/4, $0x3fb8aa3b
DATA expconst<>+16(SB)/4, $0x3fb8aa3b
DATA expconst<>+20(SB)/4, $0x3fb8aa3b
DATA expconst<>+24(SB)/4, $0x3fb8aa3b
DATA expconst<>+28(SB)/4, $0x3fb8aa3b
DATA expconst<>+32(SB)/4, $0x3f318000
DATA expconst<>+36(SB)/4, $0x3f318000
DATA expconst<>+40(SB)/4, $0x3f318000
DATA expconst<>+44(SB)/4, $0x3f318000
DATA expconst<>+48(SB)/4, $0x3f318000
DATA expconst<>+52(SB)/4, $0x3f318000
DATA expconst<>+56(SB)/4, $0x3f318000
DATA expconst<>+60(SB)/4, $0x3f318000
DATA expconst<>+64(SB)/4, $0xb95e8083
DATA expconst<>+68(SB)/4, $0xb95e8083
DATA expconst<>+72(SB)/4, $0xb95e8083
DATA expconst<>+76(SB)/4, $0xb95e8083
DATA expconst<>+80(SB)/4, $0xb95e8083
DATA expconst<>+84(SB)/4, $0xb95e8083
DATA expconst<>+88(SB)/4, $0xb95e8083
DATA expconst<>+92(SB)/4, $0xb95e8083
DATA expconst<>+96(SB)/4, $0xc2aeac4f
DATA expconst<>+100(SB)/4, $0xc2aeac4f
DATA expconst<>+104(SB)/4, $0xc2aeac4f
DATA expconst<>+108(SB)/4, $0xc2aeac4f
DATA expconst<>+112(SB)/4, $0xc2aeac4f
DATA expconst<>+116(SB)/4, $0xc2aeac4f
DATA expconst<>+120(SB)/4, $0xc2aeac4f
DATA expconst<>+124(SB)/4, $0xc2aeac4f
DATA expconst<>+128(SB)/4, $0x39506967
DATA expconst<>+132(SB)/4, $0x39506967
DATA expconst<>+136(SB)/4, $0x39506967
DATA expconst<>+140(SB)/4, $0x39506967
DATA expconst<>+144(SB)/4, $0x39506967
DATA expconst<>+148(SB)/4, $0x39506967
DATA expconst<>+152(SB)/4, $0x39506967
DATA expconst<>+156(SB)/4, $0x39506967
DATA expconst<>+160(SB)/4, $0x3ab743ce
DATA expconst<>+164(SB)/4, $0x3ab743ce
DATA expconst<>+168(SB)/4, $0x3ab743ce
DATA expconst<>+172(SB)/4, $0x3ab743ce
DATA expconst<>+176(SB)/4, $0x3ab743ce
DATA expconst<>+180(SB)/4, $0x3ab743ce
DATA expconst<>+184(SB)/4, $0x3ab743ce
DATA expconst<>+188(SB)/4, $0x3ab743ce
DATA expconst<>+192(SB)/4, $0x3c088908
DATA expconst<>+196(SB)/4, $0x3c088908
DATA expconst<>+200(SB)/4, $0x3c088908
DATA expconst<>+204(SB)/4, $0x3c088908
DATA expconst<>+208(SB)/4, $0x3c088908
DATA expconst<>+212(SB)/4, $0x3c088908
DATA expconst<>+216(SB)/4, $0x3c088908
DATA expconst<>+220(SB)/4, $0x3c088908
DATA expconst<>+224(SB)/4, $0x3d2aa9c1
DATA expconst<>+228(SB)/4, $0x3d2aa9c1
DATA expconst<>+232(SB)/4, $0x3d2aa9c1
DATA expconst<>+236(SB)/4, $0x3d2aa9c1
DATA expconst<>+240(SB)/4, $0x3d2aa9c1
DATA expconst<>+244(SB)/4, $0x3d2aa9c1
DATA expconst<>+248(SB)/4, $0x3d2aa9c1
DATA expconst<>+252(SB)/4, $0x3d2aa9c1
DATA expconst<>+256(SB)/4, $0x3e2aaaaa
DATA expconst<>+260(SB)/4, $0x3e2aaaaa
DATA expconst<>+264(SB)/4, $0x3e2aaaaa
DATA expconst<>+268(SB)/4, $0x3e2aaaaa
DATA expconst<>+272(SB)/4, $0x3e2aaaaa
DATA expconst<>+276(SB)/4, $0x3e2aaaaa
DATA expconst<>+280(SB)/4, $0x3e2aaaaa
DATA expconst<>+284(SB)/4, $0x3e2aaaaa
DATA expconst<>+288(SB)/4, $0x3f000000
DATA expconst<>+292(SB)/4, $0x3f000000
DATA expconst<>+296(SB)/4, $0x3f000000
DATA expconst<>+300(SB)/4, $0x3f000000
DATA expconst<>+304(SB)/4, $0x3f000000
DATA expconst<>+308(SB)/4, $0x3f000000
DATA expconst<>+312(SB)/4, $0x3f000000
DATA expconst<>+316(SB)/4, $0x3f000000
DATA expconst<>+320(SB)/4, $0x3f800000
DATA expconst<>+324(SB)/4, $0x3f800000
DATA expconst<>+328(SB)/4, $0x3f800000
DATA expconst<>+332(SB)/4, $0x3f800000
DATA expconst<>+336(SB)/4, $0x3f800000
DATA expconst<>+340(SB)/4, $0x3f800000
DATA expconst<>+344(SB)/4, $0x3f800000
DATA expconst<>+348(SB)/4, $0x3f800000
GLOBL expconst<>(SB), RODATA|NOPTR, $352

// 127 in 8 int32 lanes: the exponent bias.
DATA expbias<>+0(SB)/4, $127
DATA expbias<>+4(SB)/4, $127
DATA expbias<>+8(SB)/4, $127
DATA expbias<>+12(SB)/4, $127
DATA expbias<>+16(SB)/4, $127
DATA expbias<>+20(SB)/4, $127
DATA expbias<>+24(SB)/4, $127
DATA expbias<>+28(SB)/4, $127
GLOBL expbias<>(SB), RODATA|NOPTR, $32

// Eight all-ones lanes then eight zero lanes: the 8−r lane offset gives
// a mask of the first r lanes for the tail.
DATA exptail<>+0(SB)/4, $0xffffffff
DATA exptail<>+4(SB)/4, $0xffffffff
DATA exptail<>+8(SB)/4, $0xffffffff
DATA exptail<>+12(SB)/4, $0xffffffff
DATA exptail<>+16(SB)/4, $0xffffffff
DATA exptail<>+20(SB)/4, $0xffffffff
DATA exptail<>+24(SB)/4, $0xffffffff
DATA exptail<>+28(SB)/4, $0xffffffff
DATA exptail<>+32(SB)/4, $0x00000000
DATA exptail<>+36(SB)/4, $0x00000000
DATA exptail<>+40(SB)/4, $0x00000000
DATA exptail<>+44(SB)/4, $0x00000000
DATA exptail<>+48(SB)/4, $0x00000000
DATA exptail<>+52(SB)/4, $0x00000000
DATA exptail<>+56(SB)/4, $0x00000000
DATA exptail<>+60(SB)/4, $0x00000000
GLOBL exptail<>(SB), RODATA|NOPTR, $64

// func expShiftAVX2(y []float32, m float32) float32
// y[i] = e^(y[i]−m) for a maximum m of y (the polynomial of expNonPos,
// with fused multiply-adds); returns the sum in 8 float32 partial sums.
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-36
	MOVQ y_base+0(FP), SI
	MOVQ y_len+8(FP), CX
	VBROADCASTSS m+24(FP), Y15
	VMOVUPS expconst<>+0(SB), Y14
	VMOVUPS expconst<>+32(SB), Y12
	VMOVUPS expconst<>+64(SB), Y11
	VMOVUPS expconst<>+96(SB), Y10
	VMOVUPS expconst<>+320(SB), Y3
	VXORPS Y2, Y2, Y2
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   tail
loop:
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	VCMPPS $1, Y10, Y0, Y13
	VMULPS Y14, Y0, Y1
	VROUNDPS $0, Y1, Y1
	VFNMADD231PS Y12, Y1, Y0
	VFNMADD231PS Y11, Y1, Y0
	VCVTPS2DQ Y1, Y1
	VPADDD expbias<>(SB), Y1, Y1
	VPSLLD $23, Y1, Y1
	VMOVUPS expconst<>+128(SB), Y4
	VFMADD213PS expconst<>+160(SB), Y0, Y4
	VFMADD213PS expconst<>+192(SB), Y0, Y4
	VFMADD213PS expconst<>+224(SB), Y0, Y4
	VFMADD213PS expconst<>+256(SB), Y0, Y4
	VFMADD213PS expconst<>+288(SB), Y0, Y4
	VMULPS Y0, Y0, Y5
	VFMADD213PS Y0, Y5, Y4
	VADDPS Y3, Y4, Y4
	VMULPS Y1, Y4, Y4
	VANDNPS Y4, Y13, Y4
	VMOVUPS Y4, (SI)
	VADDPS Y4, Y2, Y2
	ADDQ $32, SI
	DECQ BX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
	LEAQ exptail<>(SB), DX
	NEGQ CX
	VMOVUPS 32(DX)(CX*4), Y6
	VMASKMOVPS (SI), Y6, Y0
	VSUBPS Y15, Y0, Y0
	VCMPPS $1, Y10, Y0, Y13
	VMULPS Y14, Y0, Y1
	VROUNDPS $0, Y1, Y1
	VFNMADD231PS Y12, Y1, Y0
	VFNMADD231PS Y11, Y1, Y0
	VCVTPS2DQ Y1, Y1
	VPADDD expbias<>(SB), Y1, Y1
	VPSLLD $23, Y1, Y1
	VMOVUPS expconst<>+128(SB), Y4
	VFMADD213PS expconst<>+160(SB), Y0, Y4
	VFMADD213PS expconst<>+192(SB), Y0, Y4
	VFMADD213PS expconst<>+224(SB), Y0, Y4
	VFMADD213PS expconst<>+256(SB), Y0, Y4
	VFMADD213PS expconst<>+288(SB), Y0, Y4
	VMULPS Y0, Y0, Y5
	VFMADD213PS Y0, Y5, Y4
	VADDPS Y3, Y4, Y4
	VMULPS Y1, Y4, Y4
	VANDNPS Y4, Y13, Y4
	VANDPS Y6, Y4, Y4
	VMASKMOVPS Y4, Y6, (SI)
	VADDPS Y4, Y2, Y2
done:
	VEXTRACTF128 $1, Y2, X0
	VADDPS X2, X0, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDPS X1, X0, X0
	VMOVSS X0, ret+32(FP)
	VZEROUPPER
	RET
