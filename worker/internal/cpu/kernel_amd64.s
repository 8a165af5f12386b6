//go:build !purego

#include "textflag.h"

// func kernel6x16AVX2(k int, a, b, c *float32, ldc int, accumulate bool)
//
// Computes the 6x16 product of a packed A micro-panel (k steps of 6 floats) and a packed B
// micro-panel (k steps of 16 floats) in twelve YMM accumulators, then stores it to C (row
// stride ldc floats) or adds it to C when accumulate is set.
TEXT ·kernel6x16AVX2(SB), NOSPLIT, $0-41
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	CMPQ CX, $4
	JLT  tail

loop4:
#define STEP(AOFF, BOFF) \
	VMOVUPS BOFF(DI), Y12 \
	VMOVUPS BOFF+32(DI), Y13 \
	VBROADCASTSS AOFF(SI), Y14 \
	VBROADCASTSS AOFF+4(SI), Y15 \
	VFMADD231PS Y12, Y14, Y0 \
	VFMADD231PS Y13, Y14, Y1 \
	VFMADD231PS Y12, Y15, Y2 \
	VFMADD231PS Y13, Y15, Y3 \
	VBROADCASTSS AOFF+8(SI), Y14 \
	VBROADCASTSS AOFF+12(SI), Y15 \
	VFMADD231PS Y12, Y14, Y4 \
	VFMADD231PS Y13, Y14, Y5 \
	VFMADD231PS Y12, Y15, Y6 \
	VFMADD231PS Y13, Y15, Y7 \
	VBROADCASTSS AOFF+16(SI), Y14 \
	VBROADCASTSS AOFF+20(SI), Y15 \
	VFMADD231PS Y12, Y14, Y8 \
	VFMADD231PS Y13, Y14, Y9 \
	VFMADD231PS Y12, Y15, Y10 \
	VFMADD231PS Y13, Y15, Y11

	STEP(0, 0)
	STEP(24, 64)
	STEP(48, 128)
	STEP(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JEQ   store
	STEP(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JMP  tail

store:
	MOVBLZX accumulate+40(FP), AX
	TESTQ   AX, AX
	JEQ     plain

#define ACCROW(R0, R1) \
	VADDPS (DX), R0, R0 \
	VADDPS 32(DX), R1, R1 \
	VMOVUPS R0, (DX) \
	VMOVUPS R1, 32(DX) \
	ADDQ R8, DX

	ACCROW(Y0, Y1)
	ACCROW(Y2, Y3)
	ACCROW(Y4, Y5)
	ACCROW(Y6, Y7)
	ACCROW(Y8, Y9)
	ACCROW(Y10, Y11)
	VZEROUPPER
	RET

plain:
#define STROW(R0, R1) \
	VMOVUPS R0, (DX) \
	VMOVUPS R1, 32(DX) \
	ADDQ R8, DX

	STROW(Y0, Y1)
	STROW(Y2, Y3)
	STROW(Y4, Y5)
	STROW(Y6, Y7)
	STROW(Y8, Y9)
	STROW(Y10, Y11)
	VZEROUPPER
	RET

// func kernel1x16AVX2(k int, a *float32, lda int, b, c *float32, accumulate bool)
//
// The one-row variant: a steps by lda floats, b is a packed micro-panel of k groups of 16
// floats, and the 16 results go to c. Each result is one chain of FMAs in k order from zero,
// exactly as in kernel6x16AVX2, so that a row's answer does not depend on the kernel that
// computed it (the batch size); kernel1x64AVX2 hides the chain's latency instead.
TEXT ·kernel1x16AVX2(SB), NOSPLIT, $0-41
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ b+24(FP), DI
	MOVQ c+32(FP), DX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

loop1:
	TESTQ        CX, CX
	JEQ          store1
	VBROADCASTSS (SI), Y8
	ADDQ         R8, SI
	VFMADD231PS  (DI), Y8, Y0
	VFMADD231PS  32(DI), Y8, Y1
	ADDQ         $64, DI
	DECQ         CX
	JMP          loop1

store1:
	MOVBLZX accumulate+40(FP), AX
	TESTQ   AX, AX
	JEQ     st1
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1

st1:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET

// func kernel1x64AVX2(k int, a *float32, lda int, b *float32, ldb int, c *float32, accumulate bool)
//
// One row times four packed B micro-panels, ldb floats apart: the 64 results go to c (four
// adjacent 16-float tiles). Eight accumulators, each the same FMA chain as kernel1x16AVX2,
// keep both FMA units busy.
TEXT ·kernel1x64AVX2(SB), NOSPLIT, $0-49
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	SHLQ $2, R9
	MOVQ c+40(FP), DX
	LEAQ (DI)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	LEAQ (R11)(R9*1), R12

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

loop4:
	TESTQ        CX, CX
	JEQ          store4
	VBROADCASTSS (SI), Y8
	ADDQ         R8, SI
	VFMADD231PS  (DI), Y8, Y0
	VFMADD231PS  32(DI), Y8, Y1
	VFMADD231PS  (R10), Y8, Y2
	VFMADD231PS  32(R10), Y8, Y3
	VFMADD231PS  (R11), Y8, Y4
	VFMADD231PS  32(R11), Y8, Y5
	VFMADD231PS  (R12), Y8, Y6
	VFMADD231PS  32(R12), Y8, Y7
	ADDQ         $64, DI
	ADDQ         $64, R10
	ADDQ         $64, R11
	ADDQ         $64, R12
	DECQ         CX
	JMP          loop4

store4:
	MOVBLZX accumulate+48(FP), AX
	TESTQ   AX, AX
	JEQ     st4
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VADDPS  64(DX), Y2, Y2
	VADDPS  96(DX), Y3, Y3
	VADDPS  128(DX), Y4, Y4
	VADDPS  160(DX), Y5, Y5
	VADDPS  192(DX), Y6, Y6
	VADDPS  224(DX), Y7, Y7

st4:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET
