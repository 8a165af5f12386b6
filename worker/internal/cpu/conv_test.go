package cpu

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// refConv2d is a direct float64 convolution with bias.
func refConv2d(x, w *tensor.Tensor, bias []float32, p Conv2dParams, groups int) *tensor.Tensor {
	p = p.withDefaults()
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oc, cg, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	oh := convOutSize(h, kh, p.StrideH, p.PadH, p.DilationH)
	ow := convOutSize(wd, kw, p.StrideW, p.PadW, p.DilationW)
	out, _ := tensor.New(n, oc, oh, ow)
	ocg := oc / groups
	for b := range n {
		for o := range oc {
			g := o / ocg
			for y := range oh {
				for xx := range ow {
					var s float64
					if bias != nil {
						s = float64(bias[o])
					}
					for ci := range cg {
						ch := g*cg + ci
						for i := range kh {
							for j := range kw {
								iy := y*p.StrideH - p.PadH + i*p.DilationH
								ix := xx*p.StrideW - p.PadW + j*p.DilationW
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += float64(x.Data[((b*c+ch)*h+iy)*wd+ix]) * float64(w.Data[((o*cg+ci)*kh+i)*kw+j])
							}
						}
					}
					out.Data[((b*oc+o)*oh+y)*ow+xx] = float32(s)
				}
			}
		}
	}
	_ = c
	return out
}

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t, _ := tensor.FromData(randSlice(r, tensor.Numel(shape)), shape...)
	return t
}

func TestConv2dMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		n, c, h, w, oc, k, g int
		p                    Conv2dParams
		shift                bool // the case runs the shifted formulation
	}{
		{name: "3x3 same padding", n: 2, c: 3, h: 17, w: 13, oc: 7, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}},
		{name: "1x1 pointwise", n: 1, c: 65, h: 5, w: 7, oc: 17, k: 1},
		{name: "1x1 stride 2", n: 2, c: 8, h: 9, w: 9, oc: 16, k: 1, p: Conv2dParams{StrideH: 2, StrideW: 2}, shift: true},
		{name: "7x7 stride 2 pad 3", n: 1, c: 3, h: 33, w: 31, oc: 8, k: 7, p: Conv2dParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}},
		{name: "dilated asymmetric", n: 1, c: 4, h: 12, w: 15, oc: 5, k: 3, p: Conv2dParams{StrideH: 1, StrideW: 2, PadH: 2, PadW: 1, DilationH: 2, DilationW: 1}, shift: true},
		{name: "grouped", n: 2, c: 6, h: 8, w: 8, oc: 9, k: 3, g: 3, p: Conv2dParams{PadH: 1, PadW: 1}},
		{name: "depthwise", n: 2, c: 5, h: 10, w: 9, oc: 5, k: 3, g: 5, p: Conv2dParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
		{name: "depthwise multiplier 2 uses gemm", n: 1, c: 3, h: 6, w: 6, oc: 6, k: 3, g: 3},
		{name: "one pixel", n: 3, c: 1, h: 1, w: 1, oc: 1, k: 1},
		{name: "shifted 3x3 same padding", n: 2, c: 5, h: 9, w: 40, oc: 13, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, shift: true},
		{name: "shifted dilated", n: 1, c: 3, h: 11, w: 30, oc: 7, k: 3, p: Conv2dParams{PadH: 2, PadW: 2, DilationH: 2, DilationW: 2}, shift: true},
		{name: "shifted 7x7 stride 2", n: 2, c: 3, h: 20, w: 70, oc: 8, k: 7, p: Conv2dParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}, shift: true},
		{name: "shifted stride 3 dilation 2", n: 1, c: 2, h: 17, w: 61, oc: 5, k: 3, p: Conv2dParams{StrideH: 3, StrideW: 3, PadH: 1, PadW: 1, DilationH: 2, DilationW: 2}, shift: true},
		{name: "shifted without padding", n: 1, c: 4, h: 6, w: 33, oc: 8, k: 3, shift: true},
		{name: "shifted grouped 5x5", n: 2, c: 4, h: 7, w: 64, oc: 6, k: 5, g: 2, p: Conv2dParams{PadH: 2, PadW: 2}, shift: true},
		{name: "shifted in two row bands", n: 2, c: 3, h: 40, w: 100, oc: 40, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, shift: true},
		{name: "shifted 7x7 stride 2 in row bands", n: 1, c: 3, h: 120, w: 120, oc: 64, k: 7, p: Conv2dParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}, shift: true},
		{name: "shifted tall weight in row bands", n: 1, c: 2, h: 30, w: 32, oc: 150, k: 3, p: Conv2dParams{PadH: 1, PadW: 1}, shift: true},
	} {
		for _, kernel := range []string{"auto", "generic"} {
			t.Run(fmt.Sprintf("%s %s", tc.name, kernel), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(tc.c*tc.h), 9))
				g := max(tc.g, 1)
				x := randTensor(r, tc.n, tc.c, tc.h, tc.w)
				wt := randTensor(r, tc.oc, tc.c/g, tc.k, tc.k)
				bias := randSlice(r, tc.oc)
				want := refConv2d(x, wt, bias, tc.p, g)
				res := randSlice(r, len(want.Data))
				for i := range want.Data {
					want.Data[i] = max(want.Data[i]+res[i], 0)
				}
				pw, err := PackConv2d(wt, g, nil)
				if err != nil {
					t.Fatal(err)
				}
				cp := tc.p.withDefaults()
				geo := convGeom{h: tc.h, w: tc.w, kh: tc.k, kw: tc.k, p: cp,
					oh: convOutSize(tc.h, tc.k, cp.StrideH, cp.PadH, cp.DilationH), ow: convOutSize(tc.w, tc.k, cp.StrideW, cp.PadW, cp.DilationW)}
				pointwise := tc.k == 1 && cp.StrideH == 1 && cp.StrideW == 1 && cp.PadH == 0 && cp.PadW == 0
				if _, shift := newShiftB(&geo); (shift && !pointwise) != tc.shift {
					t.Fatalf("shifted formulation %v, want %v", !tc.shift, tc.shift)
				}
				got, _ := tensor.New(want.Shape...)
				e := newEngine(t, 2)
				run := func() {
					if err := e.Conv2d(got, x, pw, tc.p, &Epilogue{Bias: bias, Residual: res, Act: ActReLU}); err != nil {
						t.Fatal(err)
					}
				}
				if kernel == "generic" {
					withGeneric(t, run)
				} else {
					run()
				}
				assertClose(t, got.Data, want.Data, gemmTol(tc.c/g*tc.k*tc.k))
			})
		}
	}
}

func TestConv2dRejectsBadShapes(t *testing.T) {
	e := newEngine(t, 1)
	w, _ := tensor.New(4, 3, 3, 3)
	pw, err := PackConv2d(w, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.New(1, 3, 5, 5)
	small, _ := tensor.New(1, 3, 2, 2)
	ok, _ := tensor.New(1, 4, 3, 3)
	for _, tc := range []struct {
		name   string
		dst, x *tensor.Tensor
		p      Conv2dParams
		epi    *Epilogue
		want   error
	}{
		{name: "wrong channels", dst: ok, x: ok, want: ErrShape},
		{name: "input smaller than kernel", dst: ok, x: small, want: ErrShape},
		{name: "wrong destination", dst: x, x: x, want: ErrShape},
		{name: "negative padding", dst: ok, x: x, p: Conv2dParams{PadH: -1}, want: ErrArgument},
		{name: "bias length", dst: ok, x: x, epi: &Epilogue{Bias: make([]float32, 3)}, want: ErrShape},
		{name: "residual length", dst: ok, x: x, epi: &Epilogue{Residual: make([]float32, 3)}, want: ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.Conv2d(tc.dst, tc.x, pw, tc.p, tc.epi); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := PackConv2d(w, 3, nil); !errors.Is(err, ErrShape) {
		t.Fatalf("4 output channels in 3 groups: got %v", err)
	}
}

func TestFoldBatchNormMatchesConvThenBatchNorm(t *testing.T) {
	tests := []struct {
		name            string
		c, oc, g, folds int
	}{
		{"dense", 3, 4, 1, 1},
		{"grouped", 4, 6, 2, 1},
		{"depthwise", 4, 4, 4, 1},
		{"dense with two BatchNorms", 3, 4, 1, 2},
		{"depthwise with two BatchNorms", 4, 4, 4, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, uint64(tc.oc*tc.g)))
			x := randTensor(r, 2, tc.c, 6, 6)
			w := randTensor(r, tc.oc, tc.c/tc.g, 3, 3)
			orig := w.Clone()
			bias := randSlice(r, tc.oc)
			p := Conv2dParams{PadH: 1, PadW: 1}
			want := refConv2d(x, w, bias, p, tc.g)
			scale := make([]float64, tc.oc)
			for i := range scale {
				scale[i] = 1
			}
			fb := append([]float32(nil), bias...)
			for range tc.folds {
				mean, gamma, beta := randSlice(r, tc.oc), randSlice(r, tc.oc), randSlice(r, tc.oc)
				variance := make([]float32, tc.oc)
				for i := range variance {
					variance[i] = 0.1 + float32(i)*0.5
				}
				bn := want.Clone()
				if err := BatchNorm(bn, want, mean, variance, gamma, beta, 1e-5); err != nil {
					t.Fatal(err)
				}
				want = bn
				if err := FoldBatchNorm(scale, fb, mean, variance, gamma, beta, 1e-5); err != nil {
					t.Fatal(err)
				}
			}
			pw, err := PackConv2d(w, tc.g, scale)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := tensor.New(want.Shape...)
			if err := newEngine(t, 1).Conv2d(got, x, pw, p, &Epilogue{Bias: fb}); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got.Data, want.Data, 1e-4)
			if !slices.Equal(w.Data, orig.Data) {
				t.Error("PackConv2d wrote to the weight")
			}
		})
	}
}

func TestFoldBatchNormRejectsBadShapes(t *testing.T) {
	ones := []float32{1, 1, 1, 1}
	if err := FoldBatchNorm(make([]float64, 4), ones[:3], ones, ones, nil, nil, 1e-5); !errors.Is(err, ErrShape) {
		t.Errorf("short bias: got %v", err)
	}
	if err := FoldBatchNorm(make([]float64, 3), ones, ones, ones, nil, nil, 1e-5); !errors.Is(err, ErrShape) {
		t.Errorf("short scale: got %v", err)
	}
	w, _ := tensor.New(4, 3, 3, 3)
	if _, err := PackConv2d(w, 1, make([]float64, 3)); !errors.Is(err, ErrShape) {
		t.Errorf("PackConv2d with 3 scales for 4 channels: got %v", err)
	}
}

// BenchmarkConv2dResNet18 times ResNet-18's convolution shapes at batch 1 and 8; GFLOP/s and
// CPU time count the whole batch.
func BenchmarkConv2dResNet18(b *testing.B) {
	layers := []struct {
		name                 string
		c, hw, oc, k, stride int
	}{
		{"conv1_3x224_7x7s2", 3, 224, 64, 7, 2},
		{"layer1_64x56_3x3", 64, 56, 64, 3, 1},
		{"layer2_128x28_3x3", 128, 28, 128, 3, 1},
		{"layer3_256x14_3x3", 256, 14, 256, 3, 1},
		{"layer4_512x7_3x3", 512, 7, 512, 3, 1},
	}
	for _, l := range layers {
		for _, batch := range []int{1, 8} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/b%d/threads=%d", l.name, batch, threads), func(b *testing.B) {
					e := newEngine(b, threads)
					r := rand.New(rand.NewPCG(1, 1))
					x := randTensor(r, batch, l.c, l.hw, l.hw)
					w := randTensor(r, l.oc, l.c, l.k, l.k)
					pw, _ := PackConv2d(w, 1, nil)
					p := Conv2dParams{StrideH: l.stride, StrideW: l.stride, PadH: l.k / 2, PadW: l.k / 2}
					oh := convOutSize(l.hw, l.k, l.stride, l.k/2, 1)
					dst, _ := tensor.New(batch, l.oc, oh, oh)
					bias := randSlice(r, l.oc)
					epi := &Epilogue{Bias: bias, Act: ActReLU}
					cpu0 := processCPUSeconds()
					for b.Loop() {
						if err := e.Conv2d(dst, x, pw, p, epi); err != nil {
							b.Fatal(err)
						}
					}
					reportGFLOPS(b, 2*float64(batch*l.oc*oh*oh)*float64(l.c*l.k*l.k), cpu0)
				})
			}
		}
	}
}
