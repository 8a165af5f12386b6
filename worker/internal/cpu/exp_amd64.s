//go:build !purego

#include "textflag.h"

// Eight-wide constants of the Cephes expf polynomial (see expf in expf.go).
#define VEC8(name, bits) \
	DATA name<>+0(SB)/4, $bits \
	DATA name<>+4(SB)/4, $bits \
	DATA name<>+8(SB)/4, $bits \
	DATA name<>+12(SB)/4, $bits \
	DATA name<>+16(SB)/4, $bits \
	DATA name<>+20(SB)/4, $bits \
	DATA name<>+24(SB)/4, $bits \
	DATA name<>+28(SB)/4, $bits \
	GLOBL name<>(SB), RODATA|NOPTR, $32

VEC8(expMin, 0xc2aeac50)   // -87.33654
VEC8(expLog2e, 0x3fb8aa3b) // 1.442695
VEC8(expLn2hi, 0x3f318000) // 0.693359375
VEC8(expLn2lo, 0xb95e8083) // -2.12194440e-4
VEC8(expC0, 0x39506967)    // 1.9875691500e-4
VEC8(expC1, 0x3ab743ce)    // 1.3981999507e-3
VEC8(expC2, 0x3c088908)    // 8.3334519073e-3
VEC8(expC3, 0x3d2aa9c1)    // 4.1665795894e-2
VEC8(expC4, 0x3e2aaaaa)    // 1.6666665459e-1
VEC8(expC5, 0x3f000000)    // 5.0000001201e-1
VEC8(expOne, 0x3f800000)   // 1
VEC8(expBias, 0x0000007f)  // 127
VEC8(expMax, 0x42b17218)   // 88.72283
VEC8(absMask, 0x7fffffff)
VEC8(signMask, 0x80000000)
VEC8(half, 0x3f000000)     // 0.5
VEC8(two, 0x40000000)      // 2
VEC8(rsqrt2, 0x3f3504f3)   // 1/√2
VEC8(asP, 0x3ea7ba05)      // 0.3275911
VEC8(asA1, 0x3e827906)     // 0.254829592
VEC8(asA2, 0xbe91a98e)     // -0.284496736
VEC8(asA3, 0x3fb5f0e3)     // 1.421413741
VEC8(asA4, 0xbfba00e3)     // -1.453152027
VEC8(asA5, 0x3f87dc22)     // 1.061405429
VEC8(tanhK, 0x3f4c422a)    // √(2/π) = 0.7978846
VEC8(tanhC, 0x3d372713)    // 0.044715

// EXPY0 replaces Y0 by e^Y0 (clamped to [-87.33654, 88.72283]; NaN stays NaN), using Y1-Y4.
#define EXPY0 \
	VMAXPS       Y0, Y13, Y0 \
	VMINPS       expMax<>(SB), Y0, Y0 \
	VMULPS       Y12, Y0, Y1 \
	VROUNDPS     $0, Y1, Y1 \
	VFNMADD231PS expLn2hi<>(SB), Y1, Y0 \
	VFNMADD231PS expLn2lo<>(SB), Y1, Y0 \
	VMOVUPS      expC0<>(SB), Y2 \
	VFMADD213PS  expC1<>(SB), Y0, Y2 \
	VFMADD213PS  expC2<>(SB), Y0, Y2 \
	VFMADD213PS  expC3<>(SB), Y0, Y2 \
	VFMADD213PS  expC4<>(SB), Y0, Y2 \
	VFMADD213PS  expC5<>(SB), Y0, Y2 \
	VMULPS       Y0, Y0, Y3 \
	VFMADD213PS  Y0, Y3, Y2 \
	VADDPS       Y11, Y2, Y2 \
	VCVTPS2DQ    Y1, Y4 \
	VPADDD       Y10, Y4, Y4 \
	VPSLLD       $23, Y4, Y4 \
	VMULPS       Y4, Y2, Y0

// func expSubSumAVX2(x *float32, n int, m float32) float32
//
// Replaces x[i] by e^(x[i]-m) for n (a multiple of 8) elements and returns their sum.
// Arguments below -87.33654 give e^-87.33654 instead of a subnormal; NaN stays NaN.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	VXORPS       Y14, Y14, Y14
	VMOVUPS      expMin<>(SB), Y13
	VMOVUPS      expLog2e<>(SB), Y12
	VMOVUPS      expOne<>(SB), Y11
	VMOVUPS      expBias<>(SB), Y10
	SHRQ         $3, CX
	JZ           done

loop:
	VMOVUPS      (SI), Y0
	VSUBPS       Y15, Y0, Y0
	VMAXPS       Y0, Y13, Y0
	VMULPS       Y12, Y0, Y1
	VROUNDPS     $0, Y1, Y1
	VFNMADD231PS expLn2hi<>(SB), Y1, Y0
	VFNMADD231PS expLn2lo<>(SB), Y1, Y0
	VMOVUPS      expC0<>(SB), Y2
	VFMADD213PS  expC1<>(SB), Y0, Y2
	VFMADD213PS  expC2<>(SB), Y0, Y2
	VFMADD213PS  expC3<>(SB), Y0, Y2
	VFMADD213PS  expC4<>(SB), Y0, Y2
	VFMADD213PS  expC5<>(SB), Y0, Y2
	VMULPS       Y0, Y0, Y3
	VFMADD213PS  Y0, Y3, Y2
	VADDPS       Y11, Y2, Y2
	VCVTPS2DQ    Y1, Y4
	VPADDD       Y10, Y4, Y4
	VPSLLD       $23, Y4, Y4
	VMULPS       Y4, Y2, Y2
	VMOVUPS      Y2, (SI)
	VADDPS       Y2, Y14, Y14
	ADDQ         $32, SI
	DECQ         CX
	JNZ          loop

done:
	VEXTRACTF128 $1, Y14, X1
	VADDPS       X1, X14, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+24(FP)
	RET

// func geluAVX2(x *float32, n int)
//
// Replaces x[i] by gelu(x[i]) = x/2·(1+erf(x/√2)) for n (a multiple of 8) elements, erf by
// Abramowitz–Stegun 7.1.26 as in PyTorch's vectorised kernel.
TEXT ·geluAVX2(SB), NOSPLIT, $0-16
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS expMin<>(SB), Y13
	VMOVUPS expLog2e<>(SB), Y12
	VMOVUPS expOne<>(SB), Y11
	VMOVUPS expBias<>(SB), Y10
	SHRQ    $3, CX
	JZ      gdone

gloop:
	VMOVUPS     (SI), Y9
	VANDPS      absMask<>(SB), Y9, Y8
	VMULPS      rsqrt2<>(SB), Y8, Y8      // z = |x|/√2
	VMOVUPS     Y11, Y7
	VFMADD231PS asP<>(SB), Y8, Y7         // 1 + p·z
	VDIVPS      Y7, Y11, Y7               // t
	VMOVUPS     asA5<>(SB), Y6
	VFMADD213PS asA4<>(SB), Y7, Y6
	VFMADD213PS asA3<>(SB), Y7, Y6
	VFMADD213PS asA2<>(SB), Y7, Y6
	VFMADD213PS asA1<>(SB), Y7, Y6
	VMULPS      Y7, Y6, Y6                // poly(t)
	VMULPS      Y8, Y8, Y0
	VXORPS      signMask<>(SB), Y0, Y0    // -z²
	EXPY0
	VMULPS      Y0, Y6, Y6
	VSUBPS      Y6, Y11, Y6               // erf(|x|/√2)
	VANDPS      signMask<>(SB), Y9, Y5
	VORPS       Y5, Y6, Y6                // with the sign of x
	VADDPS      Y11, Y6, Y6
	VMULPS      half<>(SB), Y9, Y9
	VMULPS      Y6, Y9, Y9
	VMOVUPS     Y9, (SI)
	ADDQ        $32, SI
	DECQ        CX
	JNZ         gloop

gdone:
	VZEROUPPER
	RET

// func geluTanhAVX2(x *float32, n int)
//
// Replaces x[i] by x/2·(1+tanh(√(2/π)·(x+0.044715x³))) for n (a multiple of 8) elements, with
// tanh(u) = 1 − 2/(1+e^(2u)).
TEXT ·geluTanhAVX2(SB), NOSPLIT, $0-16
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS expMin<>(SB), Y13
	VMOVUPS expLog2e<>(SB), Y12
	VMOVUPS expOne<>(SB), Y11
	VMOVUPS expBias<>(SB), Y10
	SHRQ    $3, CX
	JZ      tdone

tloop:
	VMOVUPS     (SI), Y9
	VMULPS      Y9, Y9, Y8
	VMULPS      tanhC<>(SB), Y8, Y8
	VFMADD213PS Y9, Y9, Y8                // x + c·x³
	VMULPS      tanhK<>(SB), Y8, Y8       // u
	VMULPS      two<>(SB), Y8, Y0
	EXPY0                                 // e^(2u)
	VADDPS      Y11, Y0, Y0
	VMOVUPS     two<>(SB), Y6
	VDIVPS      Y0, Y6, Y6                // 2/(1+e^(2u))
	VSUBPS      Y6, Y11, Y6               // tanh(u)
	VADDPS      Y11, Y6, Y6
	VMULPS      half<>(SB), Y9, Y9
	VMULPS      Y6, Y9, Y9
	VMOVUPS     Y9, (SI)
	ADDQ        $32, SI
	DECQ        CX
	JNZ         tloop

tdone:
	VZEROUPPER
	RET
