//go:build !purego

#include "textflag.h"

// The 12×32 AVX-512 SGEMM micro-kernel: two packed 6-row A panels (AX, CX)
// against 32 columns of B (columns 0–15 at BX, 16–31 at BX+R13; the next
// k row R12 bytes on: two packed panels, or op(B) read in place), 24 zmm
// accumulators
// (row r in Z(2r) for columns 0–15 and Z(2r+1) for 16–31). One k step: two
// B loads, twelve A broadcasts, 24 FMAs — the same FMAs, in the same k
// order, per element, as sgemmKernelAVX2 on each 6×16 quarter, so the two
// kernels give the same bits.
// One A broadcast into bz and its two FMAs against the B row in Z24, Z25.
#define FMA2(off, A, bz, lo, hi) \
	VBROADCASTSS off(A), bz;  \
	VFMADD231PS  Z24, bz, lo; \
	VFMADD231PS  Z25, bz, hi

#define KSTEP \
	VMOVUPS (BX), Z24;              \
	VMOVUPS (BX)(R13*1), Z25;       \
	KBODY12

// A k step reading B in place (a row stride that the hardware prefetchers
// do not follow): it also prefetches the B row PFROWS k steps ahead (DX).
#define KSTEPPF \
	PREFETCHT0 (DX);                \
	PREFETCHT0 (DX)(R13*1);         \
	ADDQ    R12, DX;                \
	KSTEP

#define KBODY12 \
	FMA2(0, AX, Z26, Z0, Z1);       \
	FMA2(4, AX, Z27, Z2, Z3);       \
	FMA2(8, AX, Z28, Z4, Z5);       \
	FMA2(12, AX, Z29, Z6, Z7);      \
	FMA2(16, AX, Z26, Z8, Z9);      \
	FMA2(20, AX, Z27, Z10, Z11);    \
	FMA2(0, CX, Z28, Z12, Z13);     \
	FMA2(4, CX, Z29, Z14, Z15);     \
	FMA2(8, CX, Z26, Z16, Z17);     \
	FMA2(12, CX, Z27, Z18, Z19);    \
	FMA2(16, CX, Z28, Z20, Z21);    \
	FMA2(20, CX, Z29, Z22, Z23);    \
	ADDQ    $24, AX;                \
	ADDQ    $24, CX;                \
	ADDQ    R12, BX

// Row update with beta ≠ 0: C = acc + beta·C (acc already scaled by alpha).
#define ROWBETA(lo, hi) \
	VFMADD231PS (R8), Z25, lo;   \
	VFMADD231PS 64(R8), Z25, hi; \
	VMOVUPS     lo, (R8);        \
	VMOVUPS     hi, 64(R8);      \
	ADDQ        R9, R8

// Row update with beta = 0: C = acc, C not read.
#define ROWSTORE(lo, hi) \
	VMOVUPS lo, (R8);   \
	VMOVUPS hi, 64(R8); \
	ADDQ    R9, R8

#define PF2 \
	PREFETCHT0 (R10);   \
	PREFETCHT0 124(R10); \
	ADDQ       R9, R10

// The k steps a B row is prefetched ahead of its use when B is read in
// place.
#define PFROWS 48

// BSTRIDES loads the B row stride (R12) and the offset of columns 16–31
// (R13) in bytes.
#define BSTRIDES \
	MOVQ rsb+56(FP), R12;    \
	SHLQ $2, R12;            \
	MOVQ hb+64(FP), R13;     \
	SHLQ $2, R13

// BPREFETCH sets the prefetch pointer DX, PFROWS B rows ahead of BX.
#define BPREFETCH \
	MOVQ R12, DX;            \
	IMULQ $PFROWS, DX;       \
	ADDQ BX, DX

// func sgemmKernel12x32AVX512(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel12x32AVX512(SB), NOSPLIT, $0-112
	MOVQ k+0(FP), SI
	MOVQ a_base+8(FP), AX
	LEAQ (SI)(SI*2), CX
	SHLQ $3, CX              // 24·k bytes: one packed A panel
	ADDQ AX, CX
	MOVQ b_base+32(FP), BX
	BSTRIDES
	BPREFETCH
	MOVQ c_base+72(FP), R8
	MOVQ ldc+96(FP), R9
	SHLQ $2, R9

	// Warm the C tile while the products run.
	MOVQ R8, R10
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	MOVQ SI, DI
	SHRQ $2, DI
	JZ   tail
	CMPQ R12, $64
	JNE  loop4pf             // B in place: prefetch its rows

	PCALIGN $32
loop4:
	KSTEP
	KSTEP
	KSTEP
	KSTEP
	DECQ DI
	JNZ  loop4
	JMP  tail

	PCALIGN $32
loop4pf:
	KSTEPPF
	KSTEPPF
	KSTEPPF
	KSTEPPF
	DECQ DI
	JNZ  loop4pf

tail:
	ANDQ $3, SI
	JZ   done

loop1:
	KSTEP
	DECQ SI
	JNZ  loop1

done:
	VBROADCASTSS alpha+104(FP), Z24
	VMULPS       Z24, Z0, Z0
	VMULPS       Z24, Z1, Z1
	VMULPS       Z24, Z2, Z2
	VMULPS       Z24, Z3, Z3
	VMULPS       Z24, Z4, Z4
	VMULPS       Z24, Z5, Z5
	VMULPS       Z24, Z6, Z6
	VMULPS       Z24, Z7, Z7
	VMULPS       Z24, Z8, Z8
	VMULPS       Z24, Z9, Z9
	VMULPS       Z24, Z10, Z10
	VMULPS       Z24, Z11, Z11
	VMULPS       Z24, Z12, Z12
	VMULPS       Z24, Z13, Z13
	VMULPS       Z24, Z14, Z14
	VMULPS       Z24, Z15, Z15
	VMULPS       Z24, Z16, Z16
	VMULPS       Z24, Z17, Z17
	VMULPS       Z24, Z18, Z18
	VMULPS       Z24, Z19, Z19
	VMULPS       Z24, Z20, Z20
	VMULPS       Z24, Z21, Z21
	VMULPS       Z24, Z22, Z22
	VMULPS       Z24, Z23, Z23

	// beta = ±0 (all bits but the sign clear): store without reading C.
	MOVL beta+108(FP), R11
	SHLL $1, R11
	JZ   store

	VBROADCASTSS beta+108(FP), Z25
	ROWBETA(Z0, Z1)
	ROWBETA(Z2, Z3)
	ROWBETA(Z4, Z5)
	ROWBETA(Z6, Z7)
	ROWBETA(Z8, Z9)
	ROWBETA(Z10, Z11)
	ROWBETA(Z12, Z13)
	ROWBETA(Z14, Z15)
	ROWBETA(Z16, Z17)
	ROWBETA(Z18, Z19)
	ROWBETA(Z20, Z21)
	ROWBETA(Z22, Z23)
	VZEROUPPER
	RET

store:
	ROWSTORE(Z0, Z1)
	ROWSTORE(Z2, Z3)
	ROWSTORE(Z4, Z5)
	ROWSTORE(Z6, Z7)
	ROWSTORE(Z8, Z9)
	ROWSTORE(Z10, Z11)
	ROWSTORE(Z12, Z13)
	ROWSTORE(Z14, Z15)
	ROWSTORE(Z16, Z17)
	ROWSTORE(Z18, Z19)
	ROWSTORE(Z20, Z21)
	ROWSTORE(Z22, Z23)
	VZEROUPPER
	RET

// One k step of the 6×32 tile: two B loads (as in KSTEP), six A broadcasts
// from the one packed A panel at AX, twelve FMAs into Z0–Z11 (row r in Z(2r), Z(2r+1)).
#define KSTEP6 \
	VMOVUPS (BX), Z24;              \
	VMOVUPS (BX)(R13*1), Z25;       \
	FMA2(0, AX, Z26, Z0, Z1);       \
	FMA2(4, AX, Z27, Z2, Z3);       \
	FMA2(8, AX, Z28, Z4, Z5);       \
	FMA2(12, AX, Z29, Z6, Z7);      \
	FMA2(16, AX, Z26, Z8, Z9);      \
	FMA2(20, AX, Z27, Z10, Z11);    \
	ADDQ    $24, AX;                \
	ADDQ    R12, BX

// func sgemmKernel6x32AVX512(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel6x32AVX512(SB), NOSPLIT, $0-112
	MOVQ k+0(FP), SI
	MOVQ a_base+8(FP), AX
	MOVQ b_base+32(FP), BX
	BSTRIDES
	MOVQ c_base+72(FP), R8
	MOVQ ldc+96(FP), R9
	SHLQ $2, R9

	MOVQ R8, R10
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

	MOVQ SI, DI
	SHRQ $2, DI
	JZ   tail6

	PCALIGN $32
loop6x4:
	KSTEP6
	KSTEP6
	KSTEP6
	KSTEP6
	DECQ DI
	JNZ  loop6x4

tail6:
	ANDQ $3, SI
	JZ   done6

loop6x1:
	KSTEP6
	DECQ SI
	JNZ  loop6x1

done6:
	VBROADCASTSS alpha+104(FP), Z24
	VMULPS       Z24, Z0, Z0
	VMULPS       Z24, Z1, Z1
	VMULPS       Z24, Z2, Z2
	VMULPS       Z24, Z3, Z3
	VMULPS       Z24, Z4, Z4
	VMULPS       Z24, Z5, Z5
	VMULPS       Z24, Z6, Z6
	VMULPS       Z24, Z7, Z7
	VMULPS       Z24, Z8, Z8
	VMULPS       Z24, Z9, Z9
	VMULPS       Z24, Z10, Z10
	VMULPS       Z24, Z11, Z11

	MOVL beta+108(FP), R11
	SHLL $1, R11
	JZ   store6

	VBROADCASTSS beta+108(FP), Z25
	ROWBETA(Z0, Z1)
	ROWBETA(Z2, Z3)
	ROWBETA(Z4, Z5)
	ROWBETA(Z6, Z7)
	ROWBETA(Z8, Z9)
	ROWBETA(Z10, Z11)
	VZEROUPPER
	RET

store6:
	ROWSTORE(Z0, Z1)
	ROWSTORE(Z2, Z3)
	ROWSTORE(Z4, Z5)
	ROWSTORE(Z6, Z7)
	ROWSTORE(Z8, Z9)
	ROWSTORE(Z10, Z11)
	VZEROUPPER
	RET

// The 12×32 kernel reading A in place: A[r, l] at a + 4·(r·rsa + l·csa)
// bytes, so op(A) itself, either transpose, with no packing. Rows 0–2,
// 3–5, 6–8 and 9–11 are broadcast from the bases AX, CX, R8 and R9 (each
// 3·rsa on from the one before) with the row stride R10 as index, and the
// four bases step by csa (R11) per k; C and ldc are loaded again for the
// write-back. The FMAs are those of KBODY12, in the same order: the same
// bits as the packed kernel on a packed copy of the same A.
#define FMA2M(mem, bz, lo, hi) \
	VBROADCASTSS mem, bz;     \
	VFMADD231PS  Z24, bz, lo; \
	VFMADD231PS  Z25, bz, hi

#define KBODY12S \
	FMA2M((AX), Z26, Z0, Z1);          \
	FMA2M((AX)(R10*1), Z27, Z2, Z3);   \
	FMA2M((AX)(R10*2), Z28, Z4, Z5);   \
	FMA2M((CX), Z29, Z6, Z7);          \
	FMA2M((CX)(R10*1), Z26, Z8, Z9);   \
	FMA2M((CX)(R10*2), Z27, Z10, Z11); \
	FMA2M((R8), Z28, Z12, Z13);        \
	FMA2M((R8)(R10*1), Z29, Z14, Z15); \
	FMA2M((R8)(R10*2), Z26, Z16, Z17); \
	FMA2M((R9), Z27, Z18, Z19);        \
	FMA2M((R9)(R10*1), Z28, Z20, Z21); \
	FMA2M((R9)(R10*2), Z29, Z22, Z23); \
	ADDQ    R11, AX;                   \
	ADDQ    R11, CX;                   \
	ADDQ    R11, R8;                   \
	ADDQ    R11, R9;                   \
	ADDQ    R12, BX

#define KSTEPS \
	VMOVUPS (BX), Z24;        \
	VMOVUPS (BX)(R13*1), Z25; \
	KBODY12S

#define KSTEPSPF \
	PREFETCHT0 (DX);        \
	PREFETCHT0 (DX)(R13*1); \
	ADDQ    R12, DX;        \
	KSTEPS

// func sgemmKernel12x32StridedAVX512(k int, a []float32, rsa, csa int, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel12x32StridedAVX512(SB), NOSPLIT, $0-128
	MOVQ k+0(FP), SI
	MOVQ b_base+48(FP), BX
	MOVQ rsb+72(FP), R12
	SHLQ $2, R12
	MOVQ hb+80(FP), R13
	SHLQ $2, R13
	BPREFETCH

	// Warm the C tile while the products run.
	MOVQ c_base+88(FP), R10
	MOVQ ldc+112(FP), R9
	SHLQ $2, R9
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2
	PF2

	MOVQ a_base+8(FP), AX
	MOVQ rsa+32(FP), R10
	SHLQ $2, R10
	MOVQ csa+40(FP), R11
	SHLQ $2, R11
	LEAQ (R10)(R10*2), CX    // 3·rsa bytes
	LEAQ (AX)(CX*2), R8      // row 6
	LEAQ (R8)(CX*1), R9      // row 9
	ADDQ AX, CX              // row 3

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	MOVQ SI, DI
	SHRQ $2, DI
	JZ   stail
	CMPQ R12, $64
	JNE  sloop4pf            // B in place: prefetch its rows

	PCALIGN $32
sloop4:
	KSTEPS
	KSTEPS
	KSTEPS
	KSTEPS
	DECQ DI
	JNZ  sloop4
	JMP  stail

	PCALIGN $32
sloop4pf:
	KSTEPSPF
	KSTEPSPF
	KSTEPSPF
	KSTEPSPF
	DECQ DI
	JNZ  sloop4pf

stail:
	ANDQ $3, SI
	JZ   sdone

sloop1:
	KSTEPS
	DECQ SI
	JNZ  sloop1

sdone:
	MOVQ c_base+88(FP), R8
	MOVQ ldc+112(FP), R9
	SHLQ $2, R9
	VBROADCASTSS alpha+120(FP), Z24
	VMULPS       Z24, Z0, Z0
	VMULPS       Z24, Z1, Z1
	VMULPS       Z24, Z2, Z2
	VMULPS       Z24, Z3, Z3
	VMULPS       Z24, Z4, Z4
	VMULPS       Z24, Z5, Z5
	VMULPS       Z24, Z6, Z6
	VMULPS       Z24, Z7, Z7
	VMULPS       Z24, Z8, Z8
	VMULPS       Z24, Z9, Z9
	VMULPS       Z24, Z10, Z10
	VMULPS       Z24, Z11, Z11
	VMULPS       Z24, Z12, Z12
	VMULPS       Z24, Z13, Z13
	VMULPS       Z24, Z14, Z14
	VMULPS       Z24, Z15, Z15
	VMULPS       Z24, Z16, Z16
	VMULPS       Z24, Z17, Z17
	VMULPS       Z24, Z18, Z18
	VMULPS       Z24, Z19, Z19
	VMULPS       Z24, Z20, Z20
	VMULPS       Z24, Z21, Z21
	VMULPS       Z24, Z22, Z22
	VMULPS       Z24, Z23, Z23

	MOVL beta+124(FP), R11
	SHLL $1, R11
	JZ   sstore

	VBROADCASTSS beta+124(FP), Z25
	ROWBETA(Z0, Z1)
	ROWBETA(Z2, Z3)
	ROWBETA(Z4, Z5)
	ROWBETA(Z6, Z7)
	ROWBETA(Z8, Z9)
	ROWBETA(Z10, Z11)
	ROWBETA(Z12, Z13)
	ROWBETA(Z14, Z15)
	ROWBETA(Z16, Z17)
	ROWBETA(Z18, Z19)
	ROWBETA(Z20, Z21)
	ROWBETA(Z22, Z23)
	VZEROUPPER
	RET

sstore:
	ROWSTORE(Z0, Z1)
	ROWSTORE(Z2, Z3)
	ROWSTORE(Z4, Z5)
	ROWSTORE(Z6, Z7)
	ROWSTORE(Z8, Z9)
	ROWSTORE(Z10, Z11)
	ROWSTORE(Z12, Z13)
	ROWSTORE(Z14, Z15)
	ROWSTORE(Z16, Z17)
	ROWSTORE(Z18, Z19)
	ROWSTORE(Z20, Z21)
	ROWSTORE(Z22, Z23)
	VZEROUPPER
	RET
