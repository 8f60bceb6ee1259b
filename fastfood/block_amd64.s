//go:build !purego

#include "textflag.h"

// Group offsets 0..7, the step 8, the two MurmurHash3 finaliser
// multipliers, and eight lanes each of the masks 511 and 63.
DATA ffgrp<>+0(SB)/4, $0
DATA ffgrp<>+4(SB)/4, $1
DATA ffgrp<>+8(SB)/4, $2
DATA ffgrp<>+12(SB)/4, $3
DATA ffgrp<>+16(SB)/4, $4
DATA ffgrp<>+20(SB)/4, $5
DATA ffgrp<>+24(SB)/4, $6
DATA ffgrp<>+28(SB)/4, $7
DATA ffgrp<>+32(SB)/4, $8
DATA ffgrp<>+36(SB)/4, $0x85ebca6b
DATA ffgrp<>+40(SB)/4, $0xc2b2ae35
DATA ffgrp<>+44(SB)/4, $0
DATA ffgrp<>+48(SB)/4, $511
DATA ffgrp<>+52(SB)/4, $511
DATA ffgrp<>+56(SB)/4, $511
DATA ffgrp<>+60(SB)/4, $511
DATA ffgrp<>+64(SB)/4, $511
DATA ffgrp<>+68(SB)/4, $511
DATA ffgrp<>+72(SB)/4, $511
DATA ffgrp<>+76(SB)/4, $511
DATA ffgrp<>+80(SB)/4, $63
DATA ffgrp<>+84(SB)/4, $63
DATA ffgrp<>+88(SB)/4, $63
DATA ffgrp<>+92(SB)/4, $63
DATA ffgrp<>+96(SB)/4, $63
DATA ffgrp<>+100(SB)/4, $63
DATA ffgrp<>+104(SB)/4, $63
DATA ffgrp<>+108(SB)/4, $63
GLOBL ffgrp<>(SB), RODATA|NOPTR, $112

// GRPSETUP loads the groupParams at R10 (a2 0, a3 4, gmask 8, shift2 12,
// a4 16, a5 20) into Y5, Y6, Y7, X8, Y9, Y10, key (DX) into Y11, kg (BX)
// into Y12, the finaliser multipliers into Y13, Y14 and the groups
// g0+0..7 (g0 in AX) into Y15.
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
	VPBROADCASTD ffgrp<>+36(SB), Y13 \
	VPBROADCASTD ffgrp<>+40(SB), Y14 \
	VMOVD        AX, X15 \
	VPBROADCASTD X15, Y15 \
	VPADDD       ffgrp<>+0(SB), Y15, Y15

// GRPINDEX computes the byte offsets of the eight groups in Y15, packed
// two to a lane: Y0 = 32τ | 32τ' << 16 (the u group, the table group),
// Y1 = 32pu | 32pg << 16 (the lane permutations), then advances Y15 by 8.
// Clobbers Y2.
#define GRPINDEX \
	VPMULLD      Y5, Y15, Y0 \
	VPADDD       Y11, Y0, Y0 \
	VPAND        Y7, Y0, Y0 \
	VPSRLD       X8, Y0, Y2 \
	VPXOR        Y2, Y0, Y0 \
	VPMULLD      Y6, Y0, Y0 \
	VPAND        Y7, Y0, Y0 \
	VPSRLD       X8, Y0, Y2 \
	VPXOR        Y2, Y0, Y0 \
	VPSLLD       $5, Y0, Y0 \
	VPMULLD      Y9, Y15, Y1 \
	VPADDD       Y12, Y1, Y1 \
	VPAND        ffgrp<>+48(SB), Y1, Y1 \
	VPSRLD       $5, Y1, Y2 \
	VPXOR        Y2, Y1, Y1 \
	VPMULLD      Y10, Y1, Y1 \
	VPAND        ffgrp<>+48(SB), Y1, Y1 \
	VPSRLD       $5, Y1, Y2 \
	VPXOR        Y2, Y1, Y1 \
	VPSLLD       $21, Y1, Y1 \
	VPOR         Y1, Y0, Y0 \
	VPADDD       Y11, Y15, Y1 \
	VPSRLD       $16, Y1, Y2 \
	VPXOR        Y2, Y1, Y1 \
	VPMULLD      Y13, Y1, Y1 \
	VPSRLD       $13, Y1, Y2 \
	VPXOR        Y2, Y1, Y1 \
	VPMULLD      Y14, Y1, Y1 \
	VPSRLD       $16, Y1, Y2 \
	VPXOR        Y2, Y1, Y1 \
	VPSRLD       $26, Y1, Y2 \
	VPSLLD       $5, Y2, Y2 \
	VPSRLD       $20, Y1, Y1 \
	VPAND        ffgrp<>+80(SB), Y1, Y1 \
	VPSLLD       $21, Y1, Y1 \
	VPOR         Y2, Y1, Y1 \
	VPBROADCASTD ffgrp<>+32(SB), Y2 \
	VPADDD       Y2, Y15, Y15

// GRPOFFS unpacks the low lane of R12 (offsets of the u and table groups)
// and R13 (of the lane permutations) into AX, BX, DX and R11.
#define GRPOFFS \
	MOVWQZX R12, AX \
	MOVL    R12, BX \
	SHRL    $16, BX \
	MOVWQZX R13, DX \
	MOVL    R13, R11 \
	SHRL    $16, R11

// GRPGATHER1 writes one group to dst at byte offset off: the u group
// (offset AX) permuted by the lanes at DX times the table group (BX)
// permuted by the lanes at R11.
#define GRPGATHER1(off) \
	GRPOFFS \
	VMOVDQU (R9)(DX*1), Y2 \
	VPERMPS (SI)(AX*1), Y2, Y2 \
	VMOVDQU (R9)(R11*1), Y3 \
	VPERMPS (R8)(BX*1), Y3, Y3 \
	VMULPS  Y3, Y2, Y2 \
	VMOVUPS Y2, off(DI)

// GRPSCATTER1 adds one group of buf (at DI + off) times its permuted
// table group, permuted back by the inverse lane permutation (rows 64..
// of the table at R9), to the acc group.
#define GRPSCATTER1(off) \
	GRPOFFS \
	VMOVDQU (R9)(R11*1), Y2 \
	VPERMPS (R8)(BX*1), Y2, Y2 \
	VMULPS  off(DI), Y2, Y2 \
	VMOVDQU 2048(R9)(DX*1), Y3 \
	VPERMPS Y2, Y3, Y2 \
	VADDPS  (SI)(AX*1), Y2, Y2 \
	VMOVUPS Y2, (SI)(AX*1)

// GRPEIGHT runs OP (GRPGATHER1 or GRPSCATTER1) on the eight groups whose
// packed offsets GRPINDEX left in Y0 and Y1, taking them two lanes at a
// time into R12 and R13 (no round trip through memory).
#define GRPEIGHT(OP) \
	VMOVQ        X0, R12 \
	VMOVQ        X1, R13 \
	OP(0) \
	SHRQ         $32, R12 \
	SHRQ         $32, R13 \
	OP(32) \
	VPEXTRQ      $1, X0, R12 \
	VPEXTRQ      $1, X1, R13 \
	OP(64) \
	SHRQ         $32, R12 \
	SHRQ         $32, R13 \
	OP(96) \
	VEXTRACTI128 $1, Y0, X0 \
	VEXTRACTI128 $1, Y1, X1 \
	VMOVQ        X0, R12 \
	VMOVQ        X1, R13 \
	OP(128) \
	SHRQ         $32, R12 \
	SHRQ         $32, R13 \
	OP(160) \
	VPEXTRQ      $1, X0, R12 \
	VPEXTRQ      $1, X1, R13 \
	OP(192) \
	SHRQ         $32, R12 \
	SHRQ         $32, R13 \
	OP(224)

// func ffGatherGroupsAVX2(dst, u []float32, tab *[4096]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32)
// len(dst) a multiple of 64; u holds the block's chunk (8·(gmask+1)
// floats).
TEXT ·ffGatherGroupsAVX2(SB), NOSPLIT, $0-84
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
	GRPEIGHT(GRPGATHER1)
	ADDQ $256, DI
	DECQ CX
	JNZ  gloop

gdone:
	VZEROUPPER
	RET

// func ffScatterGroupsAVX2(buf, acc []float32, tab *[4096]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32)
// len(buf) a multiple of 64; acc holds the block's chunk. The groups of
// one block go to distinct acc groups, so the order of the adds per
// element is the order of the calls.
TEXT ·ffScatterGroupsAVX2(SB), NOSPLIT, $0-84
	MOVQ buf_base+0(FP), DI
	MOVQ buf_len+8(FP), CX
	MOVQ acc_base+24(FP), SI
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
	GRPEIGHT(GRPSCATTER1)
	ADDQ $256, DI
	DECQ CX
	JNZ  sloop

sdone:
	VZEROUPPER
	RET
