//go:build !purego

#include "textflag.h"

// AVX2/FMA kernels of the Kronecker (PHM/LPHM) layers; pure-Go twins and
// semantics in kron_generic.go. Tail loads use VMASKMOVPS, whose masked-out
// lanes are not read (and never fault); tail stores write 4, 2 and 1 lanes
// with plain stores (a masked store is microcoded and slow on AMD). No
// kernel touches memory outside the rows it is given.

// kronMask<>+32-4r holds r lanes of all-ones followed by zeros.
DATA kronMask<>+0(SB)/4, $0xffffffff
DATA kronMask<>+4(SB)/4, $0xffffffff
DATA kronMask<>+8(SB)/4, $0xffffffff
DATA kronMask<>+12(SB)/4, $0xffffffff
DATA kronMask<>+16(SB)/4, $0xffffffff
DATA kronMask<>+20(SB)/4, $0xffffffff
DATA kronMask<>+24(SB)/4, $0xffffffff
DATA kronMask<>+28(SB)/4, $0xffffffff
DATA kronMask<>+32(SB)/4, $0
DATA kronMask<>+36(SB)/4, $0
DATA kronMask<>+40(SB)/4, $0
DATA kronMask<>+44(SB)/4, $0
DATA kronMask<>+48(SB)/4, $0
DATA kronMask<>+52(SB)/4, $0
DATA kronMask<>+56(SB)/4, $0
DATA kronMask<>+60(SB)/4, $0
GLOBL kronMask<>(SB), RODATA|NOPTR, $64

// func kronDotAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool)
// C[i,j] (+)= Σ_l A[i,l]·B[j,l]: two rows of A times four rows of B at a
// time (eight independent accumulators), then one row, then one column.
TEXT ·kronDotAVX2(SB), NOSPLIT, $0-121
	MOVQ m+0(FP), R8
	TESTQ R8, R8
	JLE  dot_ret
	MOVQ n+8(FP), AX
	TESTQ AX, AX
	JLE  dot_ret
	MOVQ k+16(FP), R10
	MOVQ R10, AX
	ANDQ $7, AX
	LEAQ kronMask<>(SB), BX
	NEGQ AX
	VMOVDQU 32(BX)(AX*4), Y15
	SHRQ $3, R10
	MOVQ a_base+24(FP), SI
	MOVQ lda+48(FP), R11
	SHLQ $2, R11
	MOVQ ldb+80(FP), R12
	SHLQ $2, R12
	LEAQ (R12)(R12*2), R15
	MOVQ c_base+88(FP), DX
	MOVQ ldc+112(FP), R13
	SHLQ $2, R13

dot_pair:
	CMPQ R8, $2
	JLT  dot_row
	MOVQ b_base+56(FP), DI
	MOVQ DX, CX
	MOVQ n+8(FP), R9

dot2_j4:
	CMPQ R9, $4
	JLT  dot2_j1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   dot2_j4_tail

dot2_j4_loop:
	VMOVUPS     (AX), Y8
	VMOVUPS     (AX)(R11*1), Y9
	VMOVUPS     (BX), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMOVUPS     (BX)(R12*1), Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y5
	VMOVUPS     (BX)(R12*2), Y12
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y12, Y9, Y6
	VMOVUPS     (BX)(R15*1), Y13
	VFMADD231PS Y13, Y8, Y3
	VFMADD231PS Y13, Y9, Y7
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ R14
	JNZ  dot2_j4_loop

dot2_j4_tail:
	VMASKMOVPS  (AX), Y15, Y8
	VMASKMOVPS  (AX)(R11*1), Y15, Y9
	VMASKMOVPS  (BX), Y15, Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMASKMOVPS  (BX)(R12*1), Y15, Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y5
	VMASKMOVPS  (BX)(R12*2), Y15, Y12
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y12, Y9, Y6
	VMASKMOVPS  (BX)(R15*1), Y15, Y13
	VFMADD231PS Y13, Y8, Y3
	VFMADD231PS Y13, Y9, Y7
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	CMPB acc+120(FP), $0
	JEQ  dot2_j4_store
	VADDPS (CX), X0, X0
	VADDPS (CX)(R13*1), X4, X4

dot2_j4_store:
	VMOVUPS X0, (CX)
	VMOVUPS X4, (CX)(R13*1)
	ADDQ $16, CX
	LEAQ (DI)(R12*4), DI
	SUBQ $4, R9
	JMP  dot2_j4

dot2_j1:
	TESTQ R9, R9
	JZ   dot2_next
	VXORPS Y0, Y0, Y0
	VXORPS Y4, Y4, Y4
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   dot2_j1_tail

dot2_j1_loop:
	VMOVUPS     (BX), Y10
	VFMADD231PS (AX), Y10, Y0
	VFMADD231PS (AX)(R11*1), Y10, Y4
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ R14
	JNZ  dot2_j1_loop

dot2_j1_tail:
	VMASKMOVPS  (AX), Y15, Y8
	VMASKMOVPS  (AX)(R11*1), Y15, Y9
	VMASKMOVPS  (BX), Y15, Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VHADDPS X4, X4, X4
	VHADDPS X4, X4, X4
	CMPB acc+120(FP), $0
	JEQ  dot2_j1_store
	VADDSS (CX), X0, X0
	VADDSS (CX)(R13*1), X4, X4

dot2_j1_store:
	VMOVSS X0, (CX)
	VMOVSS X4, (CX)(R13*1)
	ADDQ $4, CX
	ADDQ R12, DI
	DECQ R9
	JMP  dot2_j1

dot2_next:
	LEAQ (SI)(R11*2), SI
	LEAQ (DX)(R13*2), DX
	SUBQ $2, R8
	JMP  dot_pair

dot_row:
	TESTQ R8, R8
	JZ   dot_done
	MOVQ b_base+56(FP), DI
	MOVQ DX, CX
	MOVQ n+8(FP), R9

dot_j4:
	CMPQ R9, $4
	JLT  dot_j1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   dot_j4_tail

dot_j4_loop:
	VMOVUPS     (AX), Y4
	VFMADD231PS (BX), Y4, Y0
	VFMADD231PS (BX)(R12*1), Y4, Y1
	VFMADD231PS (BX)(R12*2), Y4, Y2
	VFMADD231PS (BX)(R15*1), Y4, Y3
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ R14
	JNZ  dot_j4_loop

dot_j4_tail:
	VMASKMOVPS  (AX), Y15, Y4
	VMASKMOVPS  (BX), Y15, Y5
	VFMADD231PS Y5, Y4, Y0
	VMASKMOVPS  (BX)(R12*1), Y15, Y6
	VFMADD231PS Y6, Y4, Y1
	VMASKMOVPS  (BX)(R12*2), Y15, Y7
	VFMADD231PS Y7, Y4, Y2
	VMASKMOVPS  (BX)(R15*1), Y15, Y8
	VFMADD231PS Y8, Y4, Y3
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	CMPB acc+120(FP), $0
	JEQ  dot_j4_store
	VADDPS (CX), X0, X0

dot_j4_store:
	VMOVUPS X0, (CX)
	ADDQ $16, CX
	LEAQ (DI)(R12*4), DI
	SUBQ $4, R9
	JMP  dot_j4

dot_j1:
	TESTQ R9, R9
	JZ   dot_next
	VXORPS Y0, Y0, Y0
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   dot_j1_tail

dot_j1_loop:
	VMOVUPS     (AX), Y4
	VFMADD231PS (BX), Y4, Y0
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ R14
	JNZ  dot_j1_loop

dot_j1_tail:
	VMASKMOVPS  (AX), Y15, Y4
	VMASKMOVPS  (BX), Y15, Y5
	VFMADD231PS Y5, Y4, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	CMPB acc+120(FP), $0
	JEQ  dot_j1_store
	VADDSS (CX), X0, X0

dot_j1_store:
	VMOVSS X0, (CX)
	ADDQ $4, CX
	ADDQ R12, DI
	DECQ R9
	JMP  dot_j1

dot_next:
	ADDQ R11, SI
	ADDQ R13, DX
	DECQ R8
	JNZ  dot_row

dot_done:
	VZEROUPPER

dot_ret:
	RET

// func kronAxpyAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool)
// C[i,:n] (+)= Σ_l A[i,l]·B[l,:n]: two rows of C by 32 (then 8, then a
// tail of) columns at a time in registers, then a last odd row.
TEXT ·kronAxpyAVX2(SB), NOSPLIT, $0-121
	MOVQ m+0(FP), R8
	TESTQ R8, R8
	JLE  axpy_ret
	MOVQ n+8(FP), AX
	TESTQ AX, AX
	JLE  axpy_ret
	MOVQ n+8(FP), AX
	ANDQ $7, AX
	LEAQ kronMask<>(SB), BX
	NEGQ AX
	VMOVDQU 32(BX)(AX*4), Y15
	MOVQ k+16(FP), R10
	MOVQ a_base+24(FP), SI
	MOVQ lda+48(FP), R11
	SHLQ $2, R11
	MOVQ b_base+56(FP), DI
	MOVQ ldb+80(FP), R12
	SHLQ $2, R12
	MOVQ c_base+88(FP), DX
	MOVQ ldc+112(FP), R13
	SHLQ $2, R13

axpy_pair:
	CMPQ R8, $2
	JLT  axpy_row
	XORQ AX, AX
	MOVQ n+8(FP), R9
	LEAQ (DX)(R13*1), R15

axpy2_c32:
	CMPQ R9, $32
	JLT  axpy2_c8
	CMPB acc+120(FP), $0
	JEQ  axpy2_c32_zero
	VMOVUPS (DX)(AX*1), Y0
	VMOVUPS 32(DX)(AX*1), Y1
	VMOVUPS 64(DX)(AX*1), Y2
	VMOVUPS 96(DX)(AX*1), Y3
	VMOVUPS (R15)(AX*1), Y4
	VMOVUPS 32(R15)(AX*1), Y5
	VMOVUPS 64(R15)(AX*1), Y6
	VMOVUPS 96(R15)(AX*1), Y7
	JMP  axpy2_c32_go

axpy2_c32_zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

axpy2_c32_go:
	LEAQ (DI)(AX*1), BX
	MOVQ SI, CX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   axpy2_c32_store

axpy2_c32_loop:
	VBROADCASTSS (CX), Y8
	VBROADCASTSS (CX)(R11*1), Y9
	VMOVUPS      (BX), Y10
	VFMADD231PS  Y10, Y8, Y0
	VFMADD231PS  Y10, Y9, Y4
	VMOVUPS      32(BX), Y11
	VFMADD231PS  Y11, Y8, Y1
	VFMADD231PS  Y11, Y9, Y5
	VMOVUPS      64(BX), Y12
	VFMADD231PS  Y12, Y8, Y2
	VFMADD231PS  Y12, Y9, Y6
	VMOVUPS      96(BX), Y13
	VFMADD231PS  Y13, Y8, Y3
	VFMADD231PS  Y13, Y9, Y7
	ADDQ $4, CX
	ADDQ R12, BX
	DECQ R14
	JNZ  axpy2_c32_loop

axpy2_c32_store:
	VMOVUPS Y0, (DX)(AX*1)
	VMOVUPS Y1, 32(DX)(AX*1)
	VMOVUPS Y2, 64(DX)(AX*1)
	VMOVUPS Y3, 96(DX)(AX*1)
	VMOVUPS Y4, (R15)(AX*1)
	VMOVUPS Y5, 32(R15)(AX*1)
	VMOVUPS Y6, 64(R15)(AX*1)
	VMOVUPS Y7, 96(R15)(AX*1)
	ADDQ $128, AX
	SUBQ $32, R9
	JMP  axpy2_c32

axpy2_c8:
	CMPQ R9, $8
	JLT  axpy2_tail
	CMPB acc+120(FP), $0
	JEQ  axpy2_c8_zero
	VMOVUPS (DX)(AX*1), Y0
	VMOVUPS (R15)(AX*1), Y4
	JMP  axpy2_c8_go

axpy2_c8_zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y4, Y4, Y4

axpy2_c8_go:
	LEAQ (DI)(AX*1), BX
	MOVQ SI, CX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   axpy2_c8_store

axpy2_c8_loop:
	VMOVUPS      (BX), Y10
	VBROADCASTSS (CX), Y8
	VFMADD231PS  Y10, Y8, Y0
	VBROADCASTSS (CX)(R11*1), Y9
	VFMADD231PS  Y10, Y9, Y4
	ADDQ $4, CX
	ADDQ R12, BX
	DECQ R14
	JNZ  axpy2_c8_loop

axpy2_c8_store:
	VMOVUPS Y0, (DX)(AX*1)
	VMOVUPS Y4, (R15)(AX*1)
	ADDQ $32, AX
	SUBQ $8, R9
	JMP  axpy2_c8

axpy2_tail:
	TESTQ R9, R9
	JZ   axpy2_next
	VXORPS Y0, Y0, Y0
	VXORPS Y4, Y4, Y4
	CMPB acc+120(FP), $0
	JEQ  axpy2_tail_go
	VMASKMOVPS (DX)(AX*1), Y15, Y0
	VMASKMOVPS (R15)(AX*1), Y15, Y4

axpy2_tail_go:
	LEAQ (DI)(AX*1), BX
	MOVQ SI, CX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   axpy2_tail_store

axpy2_tail_loop:
	VMASKMOVPS   (BX), Y15, Y10
	VBROADCASTSS (CX), Y8
	VFMADD231PS  Y10, Y8, Y0
	VBROADCASTSS (CX)(R11*1), Y9
	VFMADD231PS  Y10, Y9, Y4
	ADDQ $4, CX
	ADDQ R12, BX
	DECQ R14
	JNZ  axpy2_tail_loop

axpy2_tail_store:
	LEAQ (DX)(AX*1), BX
	MOVQ R9, CX
	CMPQ CX, $4
	JLT  tst101_lt4
	VMOVUPS X0, (BX)
	VEXTRACTF128 $1, Y0, X0
	ADDQ $16, BX
	SUBQ $4, CX

tst101_lt4:
	CMPQ CX, $2
	JLT  tst101_lt2
	VMOVQ X0, (BX)
	VMOVHLPS X0, X0, X0
	ADDQ $8, BX
	SUBQ $2, CX

tst101_lt2:
	TESTQ CX, CX
	JZ   tst101_done
	VMOVSS X0, (BX)

tst101_done:
	LEAQ (R15)(AX*1), BX
	MOVQ R9, CX
	CMPQ CX, $4
	JLT  tst102_lt4
	VMOVUPS X4, (BX)
	VEXTRACTF128 $1, Y4, X4
	ADDQ $16, BX
	SUBQ $4, CX

tst102_lt4:
	CMPQ CX, $2
	JLT  tst102_lt2
	VMOVQ X4, (BX)
	VMOVHLPS X4, X4, X4
	ADDQ $8, BX
	SUBQ $2, CX

tst102_lt2:
	TESTQ CX, CX
	JZ   tst102_done
	VMOVSS X4, (BX)

tst102_done:

axpy2_next:
	LEAQ (SI)(R11*2), SI
	LEAQ (DX)(R13*2), DX
	SUBQ $2, R8
	JMP  axpy_pair

axpy_row:
	TESTQ R8, R8
	JZ   axpy_done
	XORQ AX, AX
	MOVQ n+8(FP), R9

axpy_c32:
	CMPQ R9, $32
	JLT  axpy_c8
	CMPB acc+120(FP), $0
	JEQ  axpy_c32_zero
	VMOVUPS (DX)(AX*1), Y0
	VMOVUPS 32(DX)(AX*1), Y1
	VMOVUPS 64(DX)(AX*1), Y2
	VMOVUPS 96(DX)(AX*1), Y3
	JMP  axpy_c32_go

axpy_c32_zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

axpy_c32_go:
	LEAQ (DI)(AX*1), BX
	MOVQ SI, CX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   axpy_c32_store

axpy_c32_loop:
	VBROADCASTSS (CX), Y4
	VFMADD231PS  (BX), Y4, Y0
	VFMADD231PS  32(BX), Y4, Y1
	VFMADD231PS  64(BX), Y4, Y2
	VFMADD231PS  96(BX), Y4, Y3
	ADDQ $4, CX
	ADDQ R12, BX
	DECQ R14
	JNZ  axpy_c32_loop

axpy_c32_store:
	VMOVUPS Y0, (DX)(AX*1)
	VMOVUPS Y1, 32(DX)(AX*1)
	VMOVUPS Y2, 64(DX)(AX*1)
	VMOVUPS Y3, 96(DX)(AX*1)
	ADDQ $128, AX
	SUBQ $32, R9
	JMP  axpy_c32

axpy_c8:
	CMPQ R9, $8
	JLT  axpy_tail
	CMPB acc+120(FP), $0
	JEQ  axpy_c8_zero
	VMOVUPS (DX)(AX*1), Y0
	JMP  axpy_c8_go

axpy_c8_zero:
	VXORPS Y0, Y0, Y0

axpy_c8_go:
	LEAQ (DI)(AX*1), BX
	MOVQ SI, CX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   axpy_c8_store

axpy_c8_loop:
	VBROADCASTSS (CX), Y4
	VFMADD231PS  (BX), Y4, Y0
	ADDQ $4, CX
	ADDQ R12, BX
	DECQ R14
	JNZ  axpy_c8_loop

axpy_c8_store:
	VMOVUPS Y0, (DX)(AX*1)
	ADDQ $32, AX
	SUBQ $8, R9
	JMP  axpy_c8

axpy_tail:
	TESTQ R9, R9
	JZ   axpy_next
	VXORPS Y0, Y0, Y0
	CMPB acc+120(FP), $0
	JEQ  axpy_tail_go
	VMASKMOVPS (DX)(AX*1), Y15, Y0

axpy_tail_go:
	LEAQ (DI)(AX*1), BX
	MOVQ SI, CX
	MOVQ R10, R14
	TESTQ R14, R14
	JZ   axpy_tail_store

axpy_tail_loop:
	VBROADCASTSS (CX), Y4
	VMASKMOVPS   (BX), Y15, Y5
	VFMADD231PS  Y5, Y4, Y0
	ADDQ $4, CX
	ADDQ R12, BX
	DECQ R14
	JNZ  axpy_tail_loop

axpy_tail_store:
	LEAQ (DX)(AX*1), BX
	MOVQ R9, CX
	CMPQ CX, $4
	JLT  tst1_lt4
	VMOVUPS X0, (BX)
	VEXTRACTF128 $1, Y0, X0
	ADDQ $16, BX
	SUBQ $4, CX

tst1_lt4:
	CMPQ CX, $2
	JLT  tst1_lt2
	VMOVQ X0, (BX)
	VMOVHLPS X0, X0, X0
	ADDQ $8, BX
	SUBQ $2, CX

tst1_lt2:
	TESTQ CX, CX
	JZ   tst1_done
	VMOVSS X0, (BX)

tst1_done:

axpy_next:
	ADDQ R11, SI
	ADDQ R13, DX
	DECQ R8
	JNZ  axpy_row

axpy_done:
	VZEROUPPER

axpy_ret:
	RET

// func kronAccTAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int)
// C[j,:n] += Σ_i A[i,j]·B[i,:n]: per 16 (then 8, then masked) columns,
// four rows of C in registers while the reduction runs over the m rows.
TEXT ·kronAccTAVX2(SB), NOSPLIT, $0-120
	MOVQ m+0(FP), R15
	TESTQ R15, R15
	JLE  acct_ret
	MOVQ n+8(FP), AX
	TESTQ AX, AX
	JLE  acct_ret
	MOVQ k+16(FP), R10
	TESTQ R10, R10
	JLE  acct_ret
	MOVQ n+8(FP), AX
	ANDQ $7, AX
	LEAQ kronMask<>(SB), BX
	NEGQ AX
	VMOVDQU 32(BX)(AX*4), Y15
	MOVQ a_base+24(FP), SI
	MOVQ lda+48(FP), R11
	SHLQ $2, R11
	MOVQ b_base+56(FP), DI
	MOVQ ldb+80(FP), R12
	SHLQ $2, R12
	MOVQ c_base+88(FP), DX
	MOVQ ldc+112(FP), R13
	SHLQ $2, R13
	XORQ AX, AX
	MOVQ n+8(FP), R9

acct_chunk16:
	CMPQ R9, $16
	JLT  acct_chunk

acct_wide:
	XORQ R14, R14
	MOVQ DX, R8

acct_wide_j4:
	MOVQ R10, CX
	SUBQ R14, CX
	CMPQ CX, $4
	JLT  acct_wide_j1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	LEAQ (SI)(R14*4), CX
	LEAQ (DI)(AX*1), BX
	MOVQ m+0(FP), R15

acct_wide_j4_loop:
	VMOVUPS      (BX), Y8
	VMOVUPS      32(BX), Y9
	VBROADCASTSS (CX), Y10
	VFMADD231PS  Y10, Y8, Y0
	VFMADD231PS  Y10, Y9, Y4
	VBROADCASTSS 4(CX), Y11
	VFMADD231PS  Y11, Y8, Y1
	VFMADD231PS  Y11, Y9, Y5
	VBROADCASTSS 8(CX), Y12
	VFMADD231PS  Y12, Y8, Y2
	VFMADD231PS  Y12, Y9, Y6
	VBROADCASTSS 12(CX), Y13
	VFMADD231PS  Y13, Y8, Y3
	VFMADD231PS  Y13, Y9, Y7
	ADDQ R11, CX
	ADDQ R12, BX
	DECQ R15
	JNZ  acct_wide_j4_loop
	VADDPS  (R8)(AX*1), Y0, Y0
	VADDPS  32(R8)(AX*1), Y4, Y4
	VMOVUPS Y0, (R8)(AX*1)
	VMOVUPS Y4, 32(R8)(AX*1)
	ADDQ R13, R8
	VADDPS  (R8)(AX*1), Y1, Y1
	VADDPS  32(R8)(AX*1), Y5, Y5
	VMOVUPS Y1, (R8)(AX*1)
	VMOVUPS Y5, 32(R8)(AX*1)
	ADDQ R13, R8
	VADDPS  (R8)(AX*1), Y2, Y2
	VADDPS  32(R8)(AX*1), Y6, Y6
	VMOVUPS Y2, (R8)(AX*1)
	VMOVUPS Y6, 32(R8)(AX*1)
	ADDQ R13, R8
	VADDPS  (R8)(AX*1), Y3, Y3
	VADDPS  32(R8)(AX*1), Y7, Y7
	VMOVUPS Y3, (R8)(AX*1)
	VMOVUPS Y7, 32(R8)(AX*1)
	ADDQ R13, R8
	ADDQ $4, R14
	JMP  acct_wide_j4

acct_wide_j1:
	CMPQ R14, R10
	JGE  acct_wide_end
	VXORPS Y0, Y0, Y0
	VXORPS Y4, Y4, Y4
	LEAQ (SI)(R14*4), CX
	LEAQ (DI)(AX*1), BX
	MOVQ m+0(FP), R15

acct_wide_j1_loop:
	VBROADCASTSS (CX), Y10
	VFMADD231PS  (BX), Y10, Y0
	VFMADD231PS  32(BX), Y10, Y4
	ADDQ R11, CX
	ADDQ R12, BX
	DECQ R15
	JNZ  acct_wide_j1_loop
	VADDPS  (R8)(AX*1), Y0, Y0
	VADDPS  32(R8)(AX*1), Y4, Y4
	VMOVUPS Y0, (R8)(AX*1)
	VMOVUPS Y4, 32(R8)(AX*1)
	ADDQ R13, R8
	INCQ R14
	JMP  acct_wide_j1

acct_wide_end:
	ADDQ $64, AX
	SUBQ $16, R9
	JMP  acct_chunk16

acct_chunk:
	CMPQ R9, $8
	JLT  acct_tail

acct_full:
	XORQ R14, R14
	MOVQ DX, R8

acct_full_j4:
	MOVQ R10, CX
	SUBQ R14, CX
	CMPQ CX, $4
	JLT  acct_full_j1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LEAQ (SI)(R14*4), CX
	LEAQ (DI)(AX*1), BX
	MOVQ m+0(FP), R15

acct_full_j4_loop:
	VMOVUPS (BX), Y4
	VBROADCASTSS (CX), Y5
	VFMADD231PS  Y5, Y4, Y0
	VBROADCASTSS 4(CX), Y6
	VFMADD231PS  Y6, Y4, Y1
	VBROADCASTSS 8(CX), Y7
	VFMADD231PS  Y7, Y4, Y2
	VBROADCASTSS 12(CX), Y8
	VFMADD231PS  Y8, Y4, Y3
	ADDQ R11, CX
	ADDQ R12, BX
	DECQ R15
	JNZ  acct_full_j4_loop
	VADDPS (R8)(AX*1), Y0, Y0
	VMOVUPS Y0, (R8)(AX*1)
	ADDQ R13, R8
	VADDPS (R8)(AX*1), Y1, Y1
	VMOVUPS Y1, (R8)(AX*1)
	ADDQ R13, R8
	VADDPS (R8)(AX*1), Y2, Y2
	VMOVUPS Y2, (R8)(AX*1)
	ADDQ R13, R8
	VADDPS (R8)(AX*1), Y3, Y3
	VMOVUPS Y3, (R8)(AX*1)
	ADDQ R13, R8
	ADDQ $4, R14
	JMP  acct_full_j4

acct_full_j1:
	CMPQ R14, R10
	JGE  acct_full_end
	VXORPS Y0, Y0, Y0
	LEAQ (SI)(R14*4), CX
	LEAQ (DI)(AX*1), BX
	MOVQ m+0(FP), R15

acct_full_j1_loop:
	VMOVUPS (BX), Y4
	VBROADCASTSS (CX), Y5
	VFMADD231PS  Y5, Y4, Y0
	ADDQ R11, CX
	ADDQ R12, BX
	DECQ R15
	JNZ  acct_full_j1_loop
	VADDPS (R8)(AX*1), Y0, Y0
	VMOVUPS Y0, (R8)(AX*1)
	ADDQ R13, R8
	INCQ R14
	JMP  acct_full_j1

acct_full_end:
	ADDQ $32, AX
	SUBQ $8, R9
	JMP  acct_chunk

acct_tail:
	TESTQ R9, R9
	JZ   acct_done

acct_mask:
	XORQ R14, R14
	MOVQ DX, R8

acct_mask_j4:
	MOVQ R10, CX
	SUBQ R14, CX
	CMPQ CX, $4
	JLT  acct_mask_j1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LEAQ (SI)(R14*4), CX
	LEAQ (DI)(AX*1), BX
	MOVQ m+0(FP), R15

acct_mask_j4_loop:
	VMASKMOVPS (BX), Y15, Y4
	VBROADCASTSS (CX), Y5
	VFMADD231PS  Y5, Y4, Y0
	VBROADCASTSS 4(CX), Y6
	VFMADD231PS  Y6, Y4, Y1
	VBROADCASTSS 8(CX), Y7
	VFMADD231PS  Y7, Y4, Y2
	VBROADCASTSS 12(CX), Y8
	VFMADD231PS  Y8, Y4, Y3
	ADDQ R11, CX
	ADDQ R12, BX
	DECQ R15
	JNZ  acct_mask_j4_loop
	VMASKMOVPS (R8)(AX*1), Y15, Y9
	VADDPS Y9, Y0, Y0
	LEAQ (R8)(AX*1), BX
	MOVQ R9, CX
	CMPQ CX, $4
	JLT  tst4_lt4
	VMOVUPS X0, (BX)
	VEXTRACTF128 $1, Y0, X0
	ADDQ $16, BX
	SUBQ $4, CX

tst4_lt4:
	CMPQ CX, $2
	JLT  tst4_lt2
	VMOVQ X0, (BX)
	VMOVHLPS X0, X0, X0
	ADDQ $8, BX
	SUBQ $2, CX

tst4_lt2:
	TESTQ CX, CX
	JZ   tst4_done
	VMOVSS X0, (BX)

tst4_done:
	ADDQ R13, R8
	VMASKMOVPS (R8)(AX*1), Y15, Y9
	VADDPS Y9, Y1, Y1
	LEAQ (R8)(AX*1), BX
	MOVQ R9, CX
	CMPQ CX, $4
	JLT  tst5_lt4
	VMOVUPS X1, (BX)
	VEXTRACTF128 $1, Y1, X1
	ADDQ $16, BX
	SUBQ $4, CX

tst5_lt4:
	CMPQ CX, $2
	JLT  tst5_lt2
	VMOVQ X1, (BX)
	VMOVHLPS X1, X1, X1
	ADDQ $8, BX
	SUBQ $2, CX

tst5_lt2:
	TESTQ CX, CX
	JZ   tst5_done
	VMOVSS X1, (BX)

tst5_done:
	ADDQ R13, R8
	VMASKMOVPS (R8)(AX*1), Y15, Y9
	VADDPS Y9, Y2, Y2
	LEAQ (R8)(AX*1), BX
	MOVQ R9, CX
	CMPQ CX, $4
	JLT  tst6_lt4
	VMOVUPS X2, (BX)
	VEXTRACTF128 $1, Y2, X2
	ADDQ $16, BX
	SUBQ $4, CX

tst6_lt4:
	CMPQ CX, $2
	JLT  tst6_lt2
	VMOVQ X2, (BX)
	VMOVHLPS X2, X2, X2
	ADDQ $8, BX
	SUBQ $2, CX

tst6_lt2:
	TESTQ CX, CX
	JZ   tst6_done
	VMOVSS X2, (BX)

tst6_done:
	ADDQ R13, R8
	VMASKMOVPS (R8)(AX*1), Y15, Y9
	VADDPS Y9, Y3, Y3
	LEAQ (R8)(AX*1), BX
	MOVQ R9, CX
	CMPQ CX, $4
	JLT  tst7_lt4
	VMOVUPS X3, (BX)
	VEXTRACTF128 $1, Y3, X3
	ADDQ $16, BX
	SUBQ $4, CX

tst7_lt4:
	CMPQ CX, $2
	JLT  tst7_lt2
	VMOVQ X3, (BX)
	VMOVHLPS X3, X3, X3
	ADDQ $8, BX
	SUBQ $2, CX

tst7_lt2:
	TESTQ CX, CX
	JZ   tst7_done
	VMOVSS X3, (BX)

tst7_done:
	ADDQ R13, R8
	ADDQ $4, R14
	JMP  acct_mask_j4

acct_mask_j1:
	CMPQ R14, R10
	JGE  acct_mask_end
	VXORPS Y0, Y0, Y0
	LEAQ (SI)(R14*4), CX
	LEAQ (DI)(AX*1), BX
	MOVQ m+0(FP), R15

acct_mask_j1_loop:
	VMASKMOVPS (BX), Y15, Y4
	VBROADCASTSS (CX), Y5
	VFMADD231PS  Y5, Y4, Y0
	ADDQ R11, CX
	ADDQ R12, BX
	DECQ R15
	JNZ  acct_mask_j1_loop
	VMASKMOVPS (R8)(AX*1), Y15, Y9
	VADDPS Y9, Y0, Y0
	LEAQ (R8)(AX*1), BX
	MOVQ R9, CX
	CMPQ CX, $4
	JLT  tst8_lt4
	VMOVUPS X0, (BX)
	VEXTRACTF128 $1, Y0, X0
	ADDQ $16, BX
	SUBQ $4, CX

tst8_lt4:
	CMPQ CX, $2
	JLT  tst8_lt2
	VMOVQ X0, (BX)
	VMOVHLPS X0, X0, X0
	ADDQ $8, BX
	SUBQ $2, CX

tst8_lt2:
	TESTQ CX, CX
	JZ   tst8_done
	VMOVSS X0, (BX)

tst8_done:
	ADDQ R13, R8
	INCQ R14
	JMP  acct_mask_j1

acct_mask_end:

acct_done:
	VZEROUPPER

acct_ret:
	RET

// func kronMixAVX2(rows, n, J int, m []float32, p []float32, q []float32)
// Per row of n×J matrices: Q[c,:] = Σ_a M[(a·n+c)·J+:] ⊙ P[a,:].
TEXT ·kronMixAVX2(SB), NOSPLIT, $0-96
	MOVQ rows+0(FP), R8
	TESTQ R8, R8
	JLE  mix_ret
	MOVQ n+8(FP), R9
	TESTQ R9, R9
	JLE  mix_ret
	MOVQ J+16(FP), R10
	TESTQ R10, R10
	JLE  mix_ret
	MOVQ R10, AX
	ANDQ $7, AX
	LEAQ kronMask<>(SB), BX
	NEGQ AX
	VMOVDQU 32(BX)(AX*4), Y15
	MOVQ R10, R12
	SHLQ $2, R12
	MOVQ R12, R11
	IMULQ R9, R11
	MOVQ p_base+48(FP), SI
	MOVQ q_base+72(FP), DI

mix_row:
	MOVQ m_base+24(FP), BX
	MOVQ DI, CX
	MOVQ n+8(FP), R9

mix_c:
	XORQ AX, AX
	MOVQ R10, R13

mix_chunk:
	CMPQ R13, $8
	JLT  mix_tail
	VXORPS Y0, Y0, Y0
	LEAQ (BX)(AX*1), R15
	LEAQ (SI)(AX*1), DX
	MOVQ n+8(FP), R14

mix_full_loop:
	VMOVUPS     (R15), Y1
	VFMADD231PS (DX), Y1, Y0
	ADDQ R11, R15
	ADDQ R12, DX
	DECQ R14
	JNZ  mix_full_loop
	VMOVUPS Y0, (CX)(AX*1)
	ADDQ $32, AX
	SUBQ $8, R13
	JMP  mix_chunk

mix_tail:
	TESTQ R13, R13
	JZ   mix_c_next
	VXORPS Y0, Y0, Y0
	LEAQ (BX)(AX*1), R15
	LEAQ (SI)(AX*1), DX
	MOVQ n+8(FP), R14

mix_tail_loop:
	VMASKMOVPS  (R15), Y15, Y1
	VMASKMOVPS  (DX), Y15, Y2
	VFMADD231PS Y2, Y1, Y0
	ADDQ R11, R15
	ADDQ R12, DX
	DECQ R14
	JNZ  mix_tail_loop
	LEAQ (CX)(AX*1), R15
	MOVQ R13, DX
	CMPQ DX, $4
	JLT  tst2_lt4
	VMOVUPS X0, (R15)
	VEXTRACTF128 $1, Y0, X0
	ADDQ $16, R15
	SUBQ $4, DX

tst2_lt4:
	CMPQ DX, $2
	JLT  tst2_lt2
	VMOVQ X0, (R15)
	VMOVHLPS X0, X0, X0
	ADDQ $8, R15
	SUBQ $2, DX

tst2_lt2:
	TESTQ DX, DX
	JZ   tst2_done
	VMOVSS X0, (R15)

tst2_done:

mix_c_next:
	ADDQ R12, BX
	ADDQ R12, CX
	DECQ R9
	JNZ  mix_c
	ADDQ R11, SI
	ADDQ R11, DI
	DECQ R8
	JNZ  mix_row
	VZEROUPPER

mix_ret:
	RET

// func kronMixGradAVX2(rows, n, J int, p []float32, dq []float32, dm []float32)
// dM[(a·n+c)·J+:] += Σ_rows P[a,:] ⊙ dQ[c,:] over rows of n×J matrices.
TEXT ·kronMixGradAVX2(SB), NOSPLIT, $0-96
	MOVQ rows+0(FP), R8
	TESTQ R8, R8
	JLE  mixg_ret
	MOVQ n+8(FP), R9
	TESTQ R9, R9
	JLE  mixg_ret
	MOVQ J+16(FP), R10
	TESTQ R10, R10
	JLE  mixg_ret
	MOVQ R10, AX
	ANDQ $7, AX
	LEAQ kronMask<>(SB), BX
	NEGQ AX
	VMOVDQU 32(BX)(AX*4), Y15
	MOVQ R10, R12
	SHLQ $2, R12
	MOVQ R12, R11
	IMULQ R9, R11
	MOVQ p_base+24(FP), SI
	MOVQ dm_base+72(FP), DI
	XORQ R9, R9

mixg_a:
	MOVQ dq_base+48(FP), BX
	XORQ R8, R8

mixg_c:
	XORQ AX, AX
	MOVQ R10, R13

mixg_chunk:
	CMPQ R13, $8
	JLT  mixg_tail
	VXORPS Y0, Y0, Y0
	LEAQ (SI)(AX*1), R15
	LEAQ (BX)(AX*1), DX
	MOVQ rows+0(FP), R14

mixg_full_loop:
	VMOVUPS     (R15), Y1
	VFMADD231PS (DX), Y1, Y0
	ADDQ R11, R15
	ADDQ R11, DX
	DECQ R14
	JNZ  mixg_full_loop
	VADDPS  (DI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	SUBQ $8, R13
	JMP  mixg_chunk

mixg_tail:
	TESTQ R13, R13
	JZ   mixg_c_next
	VXORPS Y0, Y0, Y0
	LEAQ (SI)(AX*1), R15
	LEAQ (BX)(AX*1), DX
	MOVQ rows+0(FP), R14

mixg_tail_loop:
	VMASKMOVPS  (R15), Y15, Y1
	VMASKMOVPS  (DX), Y15, Y2
	VFMADD231PS Y2, Y1, Y0
	ADDQ R11, R15
	ADDQ R11, DX
	DECQ R14
	JNZ  mixg_tail_loop
	VMASKMOVPS (DI)(AX*1), Y15, Y3
	VADDPS     Y3, Y0, Y0
	LEAQ (DI)(AX*1), R15
	MOVQ R13, DX
	CMPQ DX, $4
	JLT  tst3_lt4
	VMOVUPS X0, (R15)
	VEXTRACTF128 $1, Y0, X0
	ADDQ $16, R15
	SUBQ $4, DX

tst3_lt4:
	CMPQ DX, $2
	JLT  tst3_lt2
	VMOVQ X0, (R15)
	VMOVHLPS X0, X0, X0
	ADDQ $8, R15
	SUBQ $2, DX

tst3_lt2:
	TESTQ DX, DX
	JZ   tst3_done
	VMOVSS X0, (R15)

tst3_done:

mixg_c_next:
	ADDQ R12, BX
	ADDQ R12, DI
	INCQ R8
	CMPQ R8, n+8(FP)
	JLT  mixg_c
	ADDQ R12, SI
	INCQ R9
	CMPQ R9, n+8(FP)
	JLT  mixg_a
	VZEROUPPER

mixg_ret:
	RET
