//go:build !purego

#include "textflag.h"

// Lane offsets 0..7, the lane step 8 and the two MurmurHash3 finaliser
// multipliers.
DATA ffidx<>+0(SB)/4, $0
DATA ffidx<>+4(SB)/4, $1
DATA ffidx<>+8(SB)/4, $2
DATA ffidx<>+12(SB)/4, $3
DATA ffidx<>+16(SB)/4, $4
DATA ffidx<>+20(SB)/4, $5
DATA ffidx<>+24(SB)/4, $6
DATA ffidx<>+28(SB)/4, $7
DATA ffidx<>+32(SB)/4, $8
DATA ffidx<>+36(SB)/4, $0x85ebca6b
DATA ffidx<>+40(SB)/4, $0xc2b2ae35
GLOBL ffidx<>(SB), RODATA|NOPTR, $44

// FFSETUP loads the idxParams at R9 (a0 0, k0 4, a1 8, mask 12, shift 16,
// kg 20, mm 24) into Y8..Y14, the constants into Y3, Y6, Y7 and the lane
// indices i0+0..7 (i0 in AX) into Y15.
#define FFSETUP \
	VPBROADCASTD 0(R9), Y8 \
	VPBROADCASTD 4(R9), Y9 \
	VPBROADCASTD 8(R9), Y10 \
	VPBROADCASTD 12(R9), Y11 \
	VMOVD        16(R9), X12 \
	VPBROADCASTD 20(R9), Y13 \
	VPBROADCASTD 24(R9), Y14 \
	VPBROADCASTD ffidx<>+36(SB), Y6 \
	VPBROADCASTD ffidx<>+40(SB), Y7 \
	VPBROADCASTD ffidx<>+32(SB), Y3 \
	VMOVD        AX, X15 \
	VPBROADCASTD X15, Y15 \
	VPADDD       ffidx<>+0(SB), Y15, Y15

// FFINDEX stores Π(i) mod m of the eight lanes i in Y15 at 0(SP) and the
// 16-bit G indices at 32(SP), then advances Y15 by 8. Clobbers Y0..Y2.
#define FFINDEX \
	VPMULLD Y8, Y15, Y0 \
	VPADDD  Y9, Y0, Y0 \
	VPAND   Y11, Y0, Y0 \
	VPSRLD  X12, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPMULLD Y10, Y0, Y0 \
	VPAND   Y11, Y0, Y0 \
	VPSRLD  X12, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPAND   Y14, Y0, Y0 \
	VMOVDQU Y0, 0(SP) \
	VPADDD  Y13, Y15, Y2 \
	VPSRLD  $16, Y2, Y1 \
	VPXOR   Y1, Y2, Y2 \
	VPMULLD Y6, Y2, Y2 \
	VPSRLD  $13, Y2, Y1 \
	VPXOR   Y1, Y2, Y2 \
	VPMULLD Y7, Y2, Y2 \
	VPSRLD  $16, Y2, Y2 \
	VMOVDQU Y2, 32(SP) \
	VPADDD  Y3, Y15, Y15

// FFGATHER1 sets dst[k] = u[idx[k]]·tab[gidx[k]] for lane k at byte offset
// off.
#define FFGATHER1(off) \
	MOVL   off(SP), R10 \
	MOVL   32+off(SP), R11 \
	VMOVSS (SI)(R10*4), X0 \
	VMULSS (R8)(R11*4), X0, X0 \
	VMOVSS X0, off(DI)

// FFSCATTER1 adds buf[k]·tab[gidx[k]] to acc[idx[k]] for lane k at byte
// offset off (buf at DI).
#define FFSCATTER1(off) \
	MOVL   off(SP), R10 \
	MOVL   32+off(SP), R11 \
	VMOVSS off(DI), X0 \
	VMULSS (R8)(R11*4), X0, X0 \
	VADDSS (SI)(R10*4), X0, X0 \
	VMOVSS X0, (SI)(R10*4)

// func ffGatherAVX2(dst, u []float32, tab *[65536]float32, p *idxParams, i0 uint32)
// dst[j] = u[Π(i0+j) mod m]·G(i0+j) for j < len(dst), a multiple of 8;
// len(u) must exceed p.mm. The indices are computed eight at a time and
// the loads done one by one (vgatherdps is slower on this class of CPU).
TEXT ·ffGatherAVX2(SB), NOSPLIT, $64-68
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ u_base+24(FP), SI
	MOVQ tab+48(FP), R8
	MOVQ p+56(FP), R9
	MOVL i0+64(FP), AX
	SHRQ $3, CX
	JZ   gdone
	FFSETUP

gloop:
	FFINDEX
	FFGATHER1(0)
	FFGATHER1(4)
	FFGATHER1(8)
	FFGATHER1(12)
	FFGATHER1(16)
	FFGATHER1(20)
	FFGATHER1(24)
	FFGATHER1(28)
	ADDQ $32, DI
	DECQ CX
	JNZ  gloop

gdone:
	VZEROUPPER
	RET

// func ffScatterAVX2(acc, buf []float32, tab *[65536]float32, p *idxParams, i0 uint32)
// acc[Π(i0+j) mod m] += buf[j]·G(i0+j) for j < len(buf) (a multiple of 8)
// in order of j; len(acc) must exceed p.mm.
TEXT ·ffScatterAVX2(SB), NOSPLIT, $64-68
	MOVQ acc_base+0(FP), SI
	MOVQ buf_base+24(FP), DI
	MOVQ buf_len+32(FP), CX
	MOVQ tab+48(FP), R8
	MOVQ p+56(FP), R9
	MOVL i0+64(FP), AX
	SHRQ $3, CX
	JZ   sdone
	FFSETUP

sloop:
	FFINDEX
	FFSCATTER1(0)
	FFSCATTER1(4)
	FFSCATTER1(8)
	FFSCATTER1(12)
	FFSCATTER1(16)
	FFSCATTER1(20)
	FFSCATTER1(24)
	FFSCATTER1(28)
	ADDQ $32, DI
	DECQ CX
	JNZ  sloop

sdone:
	VZEROUPPER
	RET
