package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

func refSoftmax(x *tensor.Tensor, dim int, logOut bool) []float32 {
	d, _ := tensor.NormDim(dim, x.Rank())
	outer, size, inner := splitAt(x.Shape, d)
	out := make([]float32, len(x.Data))
	for o := range outer {
		for in := range inner {
			at := func(i int) int { return (o*size+i)*inner + in }
			m := math.Inf(-1)
			for i := range size {
				m = math.Max(m, float64(x.Data[at(i)]))
			}
			var s float64
			for i := range size {
				s += math.Exp(float64(x.Data[at(i)]) - m)
			}
			for i := range size {
				v := float64(x.Data[at(i)]) - m
				if logOut {
					out[at(i)] = float32(v - math.Log(s))
				} else {
					out[at(i)] = float32(math.Exp(v) / s)
				}
			}
		}
	}
	return out
}

func TestSoftmaxAlongEveryDim(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	x := randTensor(r, 3, 17, 5)
	for i := range x.Data {
		x.Data[i] *= 50 // large logits: the max subtraction matters
	}
	for _, dim := range []int{0, 1, 2, -1, -3} {
		for _, logOut := range []bool{false, true} {
			name := "softmax"
			if logOut {
				name = "log_softmax"
			}
			t.Run(name, func(t *testing.T) {
				got, _ := tensor.New(x.Shape...)
				var err error
				if logOut {
					err = LogSoftmax(got, x, dim)
				} else {
					err = Softmax(got, x, dim)
				}
				if err != nil {
					t.Fatal(err)
				}
				assertClose(t, got.Data, refSoftmax(x, dim, logOut), 1e-6)
			})
		}
	}
	got, _ := tensor.New(x.Shape...)
	if err := Softmax(got, x, 3); !errors.Is(err, ErrArgument) {
		t.Fatalf("dim 3: %v", err)
	}
}

func TestLayerNormMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	x := randTensor(r, 4, 3, 65)
	for i := range x.Data {
		x.Data[i] = x.Data[i]*10 + 100 // a large mean: catches one-pass variance
	}
	w, b := randSlice(r, 65), randSlice(r, 65)
	for _, tc := range []struct {
		name  string
		w, b  []float32
		shape []int
	}{
		{name: "affine", w: w, b: b, shape: []int{65}},
		{name: "no affine", shape: []int{65}},
		{name: "last two dims", w: randSlice(r, 195), b: randSlice(r, 195), shape: []int{3, 65}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tensor.Numel(tc.shape)
			want := make([]float32, len(x.Data))
			for off := 0; off < len(x.Data); off += n {
				var mean, v float64
				for _, e := range x.Data[off : off+n] {
					mean += float64(e)
				}
				mean /= float64(n)
				for _, e := range x.Data[off : off+n] {
					v += (float64(e) - mean) * (float64(e) - mean)
				}
				v /= float64(n)
				for i, e := range x.Data[off : off+n] {
					y := (float64(e) - mean) / math.Sqrt(v+1e-5)
					if tc.w != nil {
						y = y*float64(tc.w[i]) + float64(tc.b[i])
					}
					want[off+i] = float32(y)
				}
			}
			got, _ := tensor.New(x.Shape...)
			if err := LayerNorm(got, x, tc.shape, tc.w, tc.b, 1e-5); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got.Data, want, 1e-5)
		})
	}
	got, _ := tensor.New(x.Shape...)
	if err := LayerNorm(got, x, []int{64}, nil, nil, 1e-5); !errors.Is(err, ErrShape) {
		t.Fatalf("wrong normalized shape: %v", err)
	}
}

func TestBatchNormPerChannel(t *testing.T) {
	x := &tensor.Tensor{Shape: []int{2, 2, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8}}
	got, _ := tensor.New(2, 2, 2)
	mean, variance := []float32{1, 2}, []float32{4, 0.25}
	w, b := []float32{2, 1}, []float32{0, -1}
	if err := BatchNorm(got, x, mean, variance, w, b, 0); err != nil {
		t.Fatal(err)
	}
	// channel 0: (x-1)/2*2; channel 1: (x-2)/0.5 - 1
	assertClose(t, got.Data, []float32{0, 1, 1, 3, 4, 5, 9, 11}, 1e-6)
	if err := BatchNorm(got, x, mean[:1], variance, w, b, 0); !errors.Is(err, ErrShape) {
		t.Fatalf("short mean: %v", err)
	}
}

func TestEmbedding(t *testing.T) {
	w := &tensor.Tensor{Shape: []int{3, 2}, Data: []float32{0, 1, 10, 11, 20, 21}}
	for _, tc := range []struct {
		name string
		ids  []int64
		want []float32
		err  error
	}{
		{name: "lookup", ids: []int64{2, 0, 1, 2}, want: []float32{20, 21, 0, 1, 10, 11, 20, 21}},
		{name: "id past the vocabulary", ids: []int64{0, 3, 1, 1}, err: ErrIndex},
		{name: "negative id", ids: []int64{-1, 0, 0, 0}, err: ErrIndex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, _ := tensor.NewInt64(tc.ids, 2, 2)
			got, _ := tensor.New(2, 2, 2)
			err := Embedding(got, ids, w)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if tc.err == nil {
				assertClose(t, got.Data, tc.want, 0)
			}
		})
	}
}
