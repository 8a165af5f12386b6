//go:build !purego

#include "textflag.h"

// func fuseRowAVX2(dst, src, bias, res *float32, n int, flags int)
//
// dst[i] = act(src[i] + bias + res[i]) for n (a multiple of 8) elements. flags: 1 adds
// bias[i], 2 adds the scalar *bias, 4 adds res[i], 8 applies relu as max(0, x), which keeps
// NaN. dst may equal src.
TEXT ·fuseRowAVX2(SB), NOSPLIT, $0-48
	MOVQ   dst+0(FP), DI
	MOVQ   src+8(FP), SI
	MOVQ   bias+16(FP), BX
	MOVQ   res+24(FP), DX
	MOVQ   n+32(FP), CX
	MOVQ   flags+40(FP), R8
	VXORPS Y15, Y15, Y15
	VXORPS Y14, Y14, Y14
	TESTQ  $2, R8
	JZ     noscalar
	VBROADCASTSS (BX), Y14

noscalar:
	SHRQ $3, CX
	JZ   fdone

floop:
	VMOVUPS (SI), Y0
	VADDPS  Y14, Y0, Y0
	TESTQ   $1, R8
	JZ      novec
	VADDPS  (BX), Y0, Y0
	ADDQ    $32, BX

novec:
	TESTQ  $4, R8
	JZ     nores
	VADDPS (DX), Y0, Y0
	ADDQ   $32, DX

nores:
	TESTQ  $8, R8
	JZ     store
	VMAXPS Y0, Y15, Y0

store:
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     floop

fdone:
	VZEROUPPER
	RET
