//go:build !purego

#include "textflag.h"

// Group offsets 0..7, the step 8, the masks 511 and 63 (eight lanes each)
// and the two MurmurHash3 finaliser multipliers.
DATA ffgrp<>+0(SB)/4, $0
DATA ffgrp<>+4(SB)/4, $1
DATA ffgrp<>+8(SB)/4, $2
DATA ffgrp<>+12(SB)/4, $3
DATA ffgrp<>+16(SB)/4, $4
DATA ffgrp<>+20(SB)/4, $5
DATA ffgrp<>+24(SB)/4, $6
DATA ffgrp<>+28(SB)/4, $7
DATA ffgrp<>+32(SB)/4, $8
DATA ffgrp<>+36(SB)/4, $511
DATA ffgrp<>+40(SB)/4, $63
DATA ffgrp<>+44(SB)/4, $0x85ebca6b
DATA ffgrp<>+48(SB)/4, $0xc2b2ae35
GLOBL ffgrp<>(SB), RODATA|NOPTR, $52

// GRPSETUP loads the groupParams at R10 (a2 0, a3 4, gmask 8, shift2 12,
// a4 16, a5 20) into Y5, Y6, Y7, X8, Y9, Y10, key (DX) into Y11, kg (BX)
// into Y12, the finaliser multipliers into Y13, Y14, the masks 511 and 63
// into Y3, Y4 and the groups g0+0..7 (g0 in AX) into Y15.
#define GRPSETUP \
	VPBROADCASTD 0(R10), Y5 \
	VPBROADCASTD 4(R10), Y6 \
	VPBROADCASTD 8(R10), Y7 \
	VMOVD        12(R10), X8 \
	VPBROADCASTD 16(R10), Y9 \
	VPBROADCASTD 20(R10), Y10 \
	VMOVD        DX, X11 \
	VPBROADCASTD X11, Y11 \
	VMOVD        BX, X12 \
	VPBROADCASTD X12, Y12 \
	VPBROADCASTD ffgrp<>+44(SB), Y13 \
	VPBROADCASTD ffgrp<>+48(SB), Y14 \
	VPBROADCASTD ffgrp<>+36(SB), Y3 \
	VPBROADCASTD ffgrp<>+40(SB), Y4 \
	VMOVD        AX, X15 \
	VPBROADCASTD X15, Y15 \
	VPADDD       ffgrp<>+0(SB), Y15, Y15

// GRPINDEX stores the byte offsets of the eight groups in Y15 at 0(SP)
// (32τ: the u group), 32(SP) (32τ': the table group), 64(SP) (32pu) and
// 96(SP) (32pg: the lane permutations), then advances Y15 by 8. Clobbers
// Y0..Y2.
#define GRPINDEX \
	VPMULLD Y5, Y15, Y0 \
	VPADDD  Y11, Y0, Y0 \
	VPAND   Y7, Y0, Y0 \
	VPSRLD  X8, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPMULLD Y6, Y0, Y0 \
	VPAND   Y7, Y0, Y0 \
	VPSRLD  X8, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPSLLD  $5, Y0, Y0 \
	VMOVDQU Y0, 0(SP) \
	VPMULLD Y9, Y15, Y0 \
	VPADDD  Y12, Y0, Y0 \
	VPAND   Y3, Y0, Y0 \
	VPSRLD  $5, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPMULLD Y10, Y0, Y0 \
	VPAND   Y3, Y0, Y0 \
	VPSRLD  $5, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPSLLD  $5, Y0, Y0 \
	VMOVDQU Y0, 32(SP) \
	VPADDD  Y11, Y15, Y0 \
	VPSRLD  $16, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPMULLD Y13, Y0, Y0 \
	VPSRLD  $13, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPMULLD Y14, Y0, Y0 \
	VPSRLD  $16, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPSRLD  $26, Y0, Y1 \
	VPSLLD  $5, Y1, Y1 \
	VMOVDQU Y1, 64(SP) \
	VPSRLD  $20, Y0, Y0 \
	VPAND   Y4, Y0, Y0 \
	VPSLLD  $5, Y0, Y0 \
	VMOVDQU Y0, 96(SP) \
	VPBROADCASTD ffgrp<>+32(SB), Y0 \
	VPADDD  Y0, Y15, Y15

// GRPGATHER1 writes group k (byte offset off = 4k into the index rows) to
// dst: the u group permuted by pu times the table group permuted by pg.
#define GRPGATHER1(off, dsto) \
	MOVL    off(SP), AX \
	MOVL    32+off(SP), BX \
	MOVL    64+off(SP), DX \
	MOVL    96+off(SP), R11 \
	VMOVDQU (R9)(DX*1), Y0 \
	VPERMPS (SI)(AX*1), Y0, Y0 \
	VMOVDQU (R9)(R11*1), Y1 \
	VPERMPS (R8)(BX*1), Y1, Y1 \
	VMULPS  Y1, Y0, Y0 \
	VMOVUPS Y0, dsto(DI)

// GRPSCATTER1 adds group k of buf (at DI) times its permuted table group,
// permuted back by the inverse of pu (rows 64.. of the table at R9), to
// the acc group.
#define GRPSCATTER1(off, bufo) \
	MOVL    off(SP), AX \
	MOVL    32+off(SP), BX \
	MOVL    64+off(SP), DX \
	MOVL    96+off(SP), R11 \
	VMOVDQU (R9)(R11*1), Y1 \
	VPERMPS (R8)(BX*1), Y1, Y1 \
	VMULPS  bufo(DI), Y1, Y1 \
	VMOVDQU 2048(R9)(DX*1), Y0 \
	VPERMPS Y1, Y0, Y1 \
	VADDPS  (SI)(AX*1), Y1, Y1 \
	VMOVUPS Y1, (SI)(AX*1)

// func ffGatherGroupsAVX2(dst, u []float32, tab *[4096]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32)
// len(dst) a multiple of 64; u holds the block's chunk (8·(gmask+1)
// floats).
TEXT ·ffGatherGroupsAVX2(SB), NOSPLIT, $128-84
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ u_base+24(FP), SI
	MOVQ tab+48(FP), R8
	MOVQ pats+56(FP), R9
	MOVQ q+64(FP), R10
	MOVL g0+72(FP), AX
	MOVL key+76(FP), DX
	MOVL kg+80(FP), BX
	SHRQ $6, CX
	JZ   gdone
	GRPSETUP

gloop:
	GRPINDEX
	GRPGATHER1(0, 0)
	GRPGATHER1(4, 32)
	GRPGATHER1(8, 64)
	GRPGATHER1(12, 96)
	GRPGATHER1(16, 128)
	GRPGATHER1(20, 160)
	GRPGATHER1(24, 192)
	GRPGATHER1(28, 224)
	ADDQ $256, DI
	DECQ CX
	JNZ  gloop

gdone:
	VZEROUPPER
	RET

// func ffScatterGroupsAVX2(acc, buf []float32, tab *[4096]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32)
// len(buf) a multiple of 64; acc holds the block's chunk. The groups of
// one block go to distinct acc groups, so the order of the adds per
// element is the order of the calls.
TEXT ·ffScatterGroupsAVX2(SB), NOSPLIT, $128-84
	MOVQ acc_base+0(FP), SI
	MOVQ buf_base+24(FP), DI
	MOVQ buf_len+32(FP), CX
	MOVQ tab+48(FP), R8
	MOVQ pats+56(FP), R9
	MOVQ q+64(FP), R10
	MOVL g0+72(FP), AX
	MOVL key+76(FP), DX
	MOVL kg+80(FP), BX
	SHRQ $6, CX
	JZ   sdone
	GRPSETUP

sloop:
	GRPINDEX
	GRPSCATTER1(0, 0)
	GRPSCATTER1(4, 32)
	GRPSCATTER1(8, 64)
	GRPSCATTER1(12, 96)
	GRPSCATTER1(16, 128)
	GRPSCATTER1(20, 160)
	GRPSCATTER1(24, 192)
	GRPSCATTER1(28, 224)
	ADDQ $256, DI
	DECQ CX
	JNZ  sloop

sdone:
	VZEROUPPER
	RET
