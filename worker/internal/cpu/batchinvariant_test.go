package cpu

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// The tests in this file check batch invariance: a row (or image) computed in a call of m
// rows must equal, bit for bit, the same row computed in a call of any other size, with any
// thread count and with either kernel flavour. The server's dynamic batching relies on it.

// bigBatch is the size of the reference calls: past mcBlock, so that its rows fall into two
// A blocks, and with m mod 6 = 1 so that its last row runs the one-row kernels.
const bigBatch = mcBlock + 7

// forKernels runs f for the automatic and the portable kernels, with one and two threads.
func forKernels(t *testing.T, f func(t *testing.T, e *Engine)) {
	for _, kernel := range []string{"auto", "generic"} {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads=%d", kernel, threads), func(t *testing.T) {
				e := newEngine(t, threads)
				if kernel == "generic" {
					withGeneric(t, func() { f(t, e) })
					return
				}
				f(t, e)
			})
		}
	}
}

// assertSameBits fails unless got and want hold the same bits.
func assertSameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s, element %d: %v (%#08x), want %v (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func TestLinearRowsDoNotDependOnBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in, out int
		act     Activation
	}{
		{name: "narrow, gelu", in: 37, out: 20, act: ActGELU},
		{name: "four whole panels and a part, relu", in: 64, out: 70, act: ActReLU},
		{name: "two k blocks, gelu tanh", in: kcBlock + 45, out: 130, act: ActGELUTanh},
		{name: "wide, no activation", in: 96, out: 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.in), uint64(tc.out)))
			lw, err := PackLinear(randTensor(r, tc.out, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			x := randTensor(r, bigBatch, tc.in)
			epi := &Epilogue{Bias: randSlice(r, tc.out), Act: tc.act}
			forKernels(t, func(t *testing.T, e *Engine) {
				linear := func(rows []float32) []float32 {
					m := len(rows) / tc.in
					xt, _ := tensor.FromData(rows, m, tc.in)
					dst, _ := tensor.New(m, tc.out)
					if err := e.Linear(dst, xt, lw, epi); err != nil {
						t.Fatal(err)
					}
					return dst.Data
				}
				all := linear(x.Data)
				for m := 1; m <= 13; m++ {
					for _, i0 := range []int{0, bigBatch - m} {
						got := linear(x.Data[i0*tc.in : (i0+m)*tc.in])
						assertSameBits(t, fmt.Sprintf("rows %d..%d alone", i0, i0+m), got, all[i0*tc.out:(i0+m)*tc.out])
					}
				}
			})
		})
	}
}

func TestSgemmRowsDoNotDependOnM(t *testing.T) {
	const n, k = 75, kcBlock + 19
	for _, tc := range []struct {
		name        string
		ta, tb      bool
		alpha, beta float32
	}{
		{name: "plain", alpha: 1},
		{name: "transposed a, accumulating", ta: true, alpha: 1, beta: 1},
		{name: "transposed b, scaled", tb: true, alpha: 0.5, beta: -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			a, b := randSlice(r, bigBatch*k), randSlice(r, k*n)
			c0 := randSlice(r, bigBatch*n)
			forKernels(t, func(t *testing.T, e *Engine) {
				// rows i0..i0+m of op(A); with transA they are columns of the stored k x bigBatch A.
				gemm := func(i0, m int) []float32 {
					c := append([]float32(nil), c0[i0*n:(i0+m)*n]...)
					lda, ldb, ad := k, n, a[i0*k:]
					if tc.ta {
						lda, ad = bigBatch, a[i0:]
					}
					if tc.tb {
						ldb = k
					}
					if err := e.Sgemm(tc.ta, tc.tb, m, n, k, tc.alpha, ad, lda, b, ldb, tc.beta, c, n, nil); err != nil {
						t.Fatal(err)
					}
					return c
				}
				all := gemm(0, bigBatch)
				for m := 1; m <= 13; m++ {
					for _, i0 := range []int{0, 5, bigBatch - m} {
						assertSameBits(t, fmt.Sprintf("rows %d..%d alone", i0, i0+m), gemm(i0, m), all[i0*n:(i0+m)*n])
					}
				}
			})
		})
	}
}

func TestConv2dImagesDoNotDependOnBatch(t *testing.T) {
	for _, tc := range []struct {
		name             string
		c, h, w, oc, k   int
		groups           int
		p                Conv2dParams
		residual, biased bool
		act              Activation
	}{
		{name: "3x3 shifted, seven channels", c: 5, h: 3, w: 40, oc: 7, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, biased: true},
		{name: "3x3 stride 2 phases, residual", c: 4, h: 6, w: 40, oc: 13, k: 3, p: Conv2dParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, residual: true},
		{name: "3x3 shifted, one GEMM per image", c: 3, h: 9, w: 40, oc: 8, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, biased: true},
		{name: "im2col, gelu", c: 3, h: 9, w: 11, oc: 7, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, act: ActGELU},
		{name: "im2col on a small plane", c: 6, h: 5, w: 5, oc: 8, k: 3, p: Conv2dParams{PadH: 1, PadW: 1, DilationH: 2, DilationW: 2}},
		{name: "pointwise", c: 9, h: 6, w: 7, oc: 19, k: 1, biased: true},
		{name: "grouped", c: 6, h: 8, w: 8, oc: 9, k: 3, groups: 3, p: Conv2dParams{PadH: 1, PadW: 1}},
		{name: "depthwise", c: 5, h: 8, w: 8, oc: 5, k: 3, groups: 5, p: Conv2dParams{PadH: 1, PadW: 1}, biased: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const batch = 13
			r := rand.New(rand.NewPCG(uint64(tc.c), uint64(tc.oc)))
			cw, oh, ow := randConv(t, r, tc.oc, tc.c, tc.k, tc.groups, tc.h, tc.w, tc.p)
			x := randTensor(r, batch, tc.c, tc.h, tc.w)
			res := randSlice(r, batch*tc.oc*oh*ow)
			epi := &Epilogue{BiasAxis: BiasPerRow, Act: cmp.Or(tc.act, ActReLU)}
			if tc.biased {
				epi.Bias = randSlice(r, tc.oc)
			}
			in, out := tc.c*tc.h*tc.w, tc.oc*oh*ow
			forKernels(t, func(t *testing.T, e *Engine) {
				conv := func(i0, n int) []float32 {
					xt, _ := tensor.FromData(x.Data[i0*in:(i0+n)*in], n, tc.c, tc.h, tc.w)
					dst, _ := tensor.New(n, tc.oc, oh, ow)
					ep := *epi
					if tc.residual {
						ep.Residual = res[i0*out : (i0+n)*out]
					}
					if err := e.Conv2d(dst, xt, cw, tc.p, &ep); err != nil {
						t.Fatal(err)
					}
					return dst.Data
				}
				all := conv(0, batch)
				for n := 1; n < batch; n++ {
					i0 := batch - n
					assertSameBits(t, fmt.Sprintf("images %d..%d alone", i0, batch), conv(i0, n), all[i0*out:])
				}
			})
		})
	}
}

func TestActivateRowsDoNotDependOnBatch(t *testing.T) {
	const row = 13 // not a multiple of the vector width
	r := rand.New(rand.NewPCG(5, 6))
	x := randTensor(r, 7, row)
	for i := range x.Data {
		x.Data[i] *= 4
	}
	for _, tc := range []struct {
		name string
		act  Activation
	}{{"gelu", ActGELU}, {"gelu tanh", ActGELUTanh}, {"tanh", ActTanh}, {"sigmoid", ActSigmoid}} {
		act := tc.act
		t.Run(tc.name, func(t *testing.T) {
			all, _ := tensor.New(7, row)
			if err := Activate(all, x, act); err != nil {
				t.Fatal(err)
			}
			for i := range 7 {
				xi, _ := tensor.FromData(x.Data[i*row:(i+1)*row], 1, row)
				got, _ := tensor.New(1, row)
				if err := Activate(got, xi, act); err != nil {
					t.Fatal(err)
				}
				assertSameBits(t, fmt.Sprintf("row %d alone", i), got.Data, all.Data[i*row:(i+1)*row])
			}
		})
	}
}

// TestConv2dImageParallelMatchesOneThread checks that a batch Conv2d splits across threads
// by whole images (or groups of images sharing a GEMM), each run alone, gives the bits that
// one thread gives, on every GEMM path. A batch of 5 on two threads runs 4 images (or 2 of 3
// groups) image-parallel and the rest on the whole pool.
func TestConv2dImageParallelMatchesOneThread(t *testing.T) {
	for _, tc := range []struct {
		name           string
		c, h, w, oc, k int
		groups         int
		p              Conv2dParams
		path           string // "shift", "im2col" or "pointwise"
		shared         bool   // several images share one GEMM
	}{
		{name: "3x3 shifted in bands, weights taller than a block", c: 4, h: 40, w: 40, oc: mcBlock + 6, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, path: "shift"},
		{name: "3x3 stride 2 phases", c: 4, h: 20, w: 40, oc: 13, k: 3, p: Conv2dParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, path: "shift"},
		{name: "3x3 shifted, small planes", c: 8, h: 2, w: 40, oc: 16, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, path: "shift", shared: true},
		{name: "im2col", c: 3, h: 12, w: 11, oc: 7, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, path: "im2col"},
		{name: "im2col, small planes", c: 6, h: 5, w: 5, oc: 8, k: 3, p: Conv2dParams{PadH: 1, PadW: 1, DilationH: 2, DilationW: 2}, path: "im2col", shared: true},
		{name: "pointwise", c: 9, h: 12, w: 12, oc: 19, k: 1, path: "pointwise"},
		{name: "pointwise, small planes", c: 9, h: 6, w: 7, oc: 19, k: 1, path: "pointwise", shared: true},
		{name: "grouped", c: 6, h: 12, w: 12, oc: 9, k: 3, groups: 3, p: Conv2dParams{PadH: 1, PadW: 1}, path: "im2col"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const batch = 5
			r := rand.New(rand.NewPCG(uint64(tc.h), uint64(tc.oc)))
			cw, oh, ow := randConv(t, r, tc.oc, tc.c, tc.k, tc.groups, tc.h, tc.w, tc.p)
			geo := convGeom{c: tc.c, h: tc.h, w: tc.w, oh: oh, ow: ow, kh: tc.k, kw: tc.k, p: tc.p.withDefaults()}
			run := convRun{w: cw, geo: geo}
			pointwise, sb, shift := convPath(cw, &geo)
			run.sb, run.shift = sb, shift
			path := map[bool]string{true: "shift", false: "im2col"}[shift]
			if pointwise {
				path = "pointwise"
			}
			if shared := imagesPerGEMM(cw, batch, run.columns()) > 1; path != tc.path || shared != tc.shared {
				t.Fatalf("the case takes path %s, shared GEMMs %v; want %s, %v", path, shared, tc.path, tc.shared)
			}
			x := randTensor(r, batch, tc.c, tc.h, tc.w)
			out := tc.oc * oh * ow
			epi := &Epilogue{BiasAxis: BiasPerRow, Bias: randSlice(r, tc.oc), Residual: randSlice(r, batch*out), Act: ActGELU}
			conv := func(e *Engine, i0, n int) []float32 {
				xt, _ := tensor.FromData(x.Data[i0*tc.c*tc.h*tc.w:(i0+n)*tc.c*tc.h*tc.w], n, tc.c, tc.h, tc.w)
				dst, _ := tensor.New(n, tc.oc, oh, ow)
				ep := *epi
				ep.Residual = epi.Residual[i0*out : (i0+n)*out]
				if err := e.Conv2d(dst, xt, cw, tc.p, &ep); err != nil {
					t.Fatal(err)
				}
				return dst.Data
			}
			one, two := newEngine(t, 1), newEngine(t, 2)
			for _, kernel := range []string{"auto", "generic"} {
				t.Run(kernel, func(t *testing.T) {
					check := func() {
						want := conv(one, 0, batch)
						assertSameBits(t, "batch on two threads", conv(two, 0, batch), want)
						for i := range batch {
							assertSameBits(t, fmt.Sprintf("image %d alone on two threads", i), conv(two, i, 1), want[i*out:(i+1)*out])
						}
					}
					if kernel == "generic" {
						withGeneric(t, check)
						return
					}
					check()
				})
			}
		})
	}
}

// randConv packs random weights for an oc x c/groups x k x k convolution and returns them with
// the output size for an h x w input.
func randConv(t *testing.T, r *rand.Rand, oc, c, k, groups, h, w int, p Conv2dParams) (cw *ConvWeights, oh, ow int) {
	t.Helper()
	cw, err := PackConv2d(randTensor(r, oc, c/max(groups, 1), k, k), groups, nil)
	if err != nil {
		t.Fatal(err)
	}
	if oh, ow, err = cw.OutputSize(h, w, p); err != nil {
		t.Fatal(err)
	}
	return cw, oh, ow
}
