package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// refAttention is the math path of scaled_dot_product_attention in float64. maskAt returns
// the additive mask for batch b, query i, key j.
func refAttention(q, k, v *tensor.Tensor, scale float64, maskAt func(b, i, j int) float64) []float32 {
	r := q.Rank()
	l, e, s, ev := q.Shape[r-2], q.Shape[r-1], k.Shape[r-2], v.Shape[r-1]
	nb := tensor.Numel(q.Shape[:r-2])
	out := make([]float32, nb*l*ev)
	for b := range nb {
		for i := range l {
			sc := make([]float64, s)
			m := math.Inf(-1)
			for j := range s {
				var d float64
				for x := range e {
					d += float64(q.Data[(b*l+i)*e+x]) * float64(k.Data[(b*s+j)*e+x])
				}
				sc[j] = d*scale + maskAt(b, i, j)
				m = math.Max(m, sc[j])
			}
			var sum float64
			for j := range sc {
				sc[j] = math.Exp(sc[j] - m)
				sum += sc[j]
			}
			for y := range ev {
				var acc float64
				for j := range s {
					acc += sc[j] / sum * float64(v.Data[(b*s+j)*ev+y])
				}
				out[(b*l+i)*ev+y] = float32(acc)
			}
		}
	}
	return out
}

func TestAttentionMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	const l, s, e, ev = 70, 33, 16, 9
	q, k, v := randTensor(r, 2, 3, l, e), randTensor(r, 2, 3, s, e), randTensor(r, 2, 3, s, ev)
	fmask := randTensor(r, 1, 3, 1, s) // broadcast over batch and queries
	bmask, _ := tensor.NewBool(l, s)
	for i := range bmask.Data {
		bmask.Data[i] = i%l == 0 || r.IntN(3) > 0
	}
	none := func(b, i, j int) float64 { return 0 }
	for _, tc := range []struct {
		name   string
		opts   AttentionOptions
		scale  float64
		maskAt func(b, i, j int) float64
	}{
		{name: "no mask", scale: 1 / math.Sqrt(e), maskAt: none},
		{name: "explicit scale", opts: AttentionOptions{Scale: 0.3}, scale: 0.3, maskAt: none},
		{name: "causal", opts: AttentionOptions{Causal: true}, scale: 0.25, maskAt: func(b, i, j int) float64 {
			if j > i {
				return math.Inf(-1)
			}
			return 0
		}},
		{name: "float mask broadcast", opts: AttentionOptions{Mask: fmask}, scale: 0.25, maskAt: func(b, i, j int) float64 {
			return float64(fmask.Data[(b%3)*s+j])
		}},
		{name: "bool mask", opts: AttentionOptions{BoolMask: bmask}, scale: 0.25, maskAt: func(b, i, j int) float64 {
			if !bmask.Data[i*s+j] {
				return math.Inf(-1)
			}
			return 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := refAttention(q, k, v, tc.scale, tc.maskAt)
			got, _ := tensor.New(2, 3, l, ev)
			if err := newEngine(t, 2).ScaledDotProductAttention(got, q, k, v, tc.opts); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got.Data, want, 1e-5)
		})
	}
}

func TestAttentionRejectsBadArguments(t *testing.T) {
	e := newEngine(t, 1)
	q, _ := tensor.New(2, 4, 8)
	k, _ := tensor.New(2, 5, 8)
	v, _ := tensor.New(2, 5, 3)
	dst, _ := tensor.New(2, 4, 3)
	m, _ := tensor.NewBool(4, 5)
	wrongK, _ := tensor.New(2, 5, 7)
	wrongMask, _ := tensor.NewBool(3, 5)
	for _, tc := range []struct {
		name string
		k    *tensor.Tensor
		opts AttentionOptions
		want error
	}{
		{name: "head dims differ", k: wrongK, want: ErrShape},
		{name: "mask and causal", k: k, opts: AttentionOptions{BoolMask: m, Causal: true}, want: ErrArgument},
		{name: "mask does not broadcast", k: k, opts: AttentionOptions{BoolMask: wrongMask}, want: ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.ScaledDotProductAttention(dst, q, tc.k, v, tc.opts); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestExpfAccuracy(t *testing.T) {
	for x := float32(-87); x < 88; x += 0.37 {
		want := math.Exp(float64(x))
		if got := float64(expf(x)); math.Abs(got-want) > 3e-7*want {
			t.Fatalf("expf(%v) = %v, want %v", x, got, want)
		}
	}
	if expf(float32(math.Inf(-1))) != 0 || !math.IsInf(float64(expf(100)), 1) || !math.IsNaN(float64(expf(float32(math.NaN())))) {
		t.Fatal("expf special values")
	}
}

func TestExpSubSumMatchesExp(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	for _, kernel := range []string{"auto", "generic"} {
		t.Run(kernel, func(t *testing.T) {
			for _, n := range []int{1, 7, 8, 9, 64, 67} {
				x := randSlice(r, n)
				for i := range x {
					x[i] *= 60
				}
				x[0] = -200 // below the clamp
				want := make([]float32, n)
				var wantSum float64
				for i, v := range x {
					e := math.Exp(float64(v - 3)) // the kernels subtract in float32
					want[i] = float32(e)
					wantSum += e
				}
				run := func() {
					sum := expSubSum(x, 3)
					if math.Abs(float64(sum)-wantSum) > 1e-6*wantSum+1e-30 {
						t.Fatalf("n=%d: sum %v, want %v", n, sum, wantSum)
					}
				}
				if kernel == "generic" {
					withGeneric(t, run)
				} else {
					run()
				}
				for i := range x {
					if d := math.Abs(float64(x[i] - want[i])); d > 3e-7*float64(want[i])+1e-37 {
						t.Fatalf("n=%d: e^%v: got %v, want %v", n, i, x[i], want[i])
					}
				}
			}
		})
	}
}
