package cpu

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// refMatmul is torch.matmul for rank ≥ 2 operands with broadcast batch dimensions, in float64.
func refMatmul(a, b *tensor.Tensor) *tensor.Tensor {
	as, bs := a.Shape, b.Shape
	m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	batch, _ := tensor.BroadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	sa, _ := tensor.BroadcastStrides(as[:len(as)-2], batch)
	sb, _ := tensor.BroadcastStrides(bs[:len(bs)-2], batch)
	out, _ := tensor.New(append(append([]int(nil), batch...), m, n)...)
	for t := range tensor.Numel(batch) {
		ao, bo, rem := 0, 0, t
		for d := len(batch) - 1; d >= 0; d-- {
			ao += rem % batch[d] * sa[d]
			bo += rem % batch[d] * sb[d]
			rem /= batch[d]
		}
		refGemm(false, false, m, n, k, 1, a.Data[ao*m*k:], k, b.Data[bo*k*n:], n, 0, out.Data[t*m*n:], n)
	}
	return out
}

func TestMatmulMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   []int
		outRef func(a, b *tensor.Tensor) *tensor.Tensor
		want   []int
	}{
		{name: "matrix by matrix", a: []int{17, 33}, b: []int{33, 5}, want: []int{17, 5}},
		{name: "batched attention scores", a: []int{2, 3, 65, 16}, b: []int{2, 3, 16, 65}, want: []int{2, 3, 65, 65}},
		{name: "broadcast shared weight folds into one gemm", a: []int{4, 7, 9}, b: []int{9, 3}, want: []int{4, 7, 3}},
		{name: "broadcast batch of one", a: []int{1, 5, 6}, b: []int{3, 6, 2}, want: []int{3, 5, 2}},
		{name: "broadcast across both", a: []int{2, 1, 4, 3}, b: []int{1, 5, 3, 4}, want: []int{2, 5, 4, 4}},
		{name: "large single matrix goes parallel", a: []int{1, 70, 300}, b: []int{1, 300, 90}, want: []int{1, 70, 90}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, uint64(len(tc.a))))
			a, b := randTensor(r, tc.a...), randTensor(r, tc.b...)
			want := refMatmul(a, b)
			got, _ := tensor.New(tc.want...)
			e := newEngine(t, 2)
			if err := e.Matmul(got, a, b); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got.Data, want.Data, gemmTol(tc.a[len(tc.a)-1]))
		})
	}
}

func TestMatmulVectors(t *testing.T) {
	e := newEngine(t, 1)
	v := &tensor.Tensor{Shape: []int{3}, Data: []float32{1, 2, 3}}
	m := &tensor.Tensor{Shape: []int{3, 2}, Data: []float32{1, 2, 3, 4, 5, 6}}
	mt := &tensor.Tensor{Shape: []int{2, 3}, Data: []float32{1, 3, 5, 2, 4, 6}}
	for _, tc := range []struct {
		name string
		a, b *tensor.Tensor
		want *tensor.Tensor
	}{
		{name: "dot product is a scalar", a: v, b: v, want: &tensor.Tensor{Shape: []int{}, Data: []float32{14}}},
		{name: "vector by matrix", a: v, b: m, want: &tensor.Tensor{Shape: []int{2}, Data: []float32{22, 28}}},
		{name: "matrix by vector", a: mt, b: v, want: &tensor.Tensor{Shape: []int{2}, Data: []float32{22, 28}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := tensor.New(tc.want.Shape...)
			if err := e.Matmul(got, tc.a, tc.b); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got.Data, tc.want.Data, 1e-6)
		})
	}
}

func TestMatmulRejectsBadShapes(t *testing.T) {
	e := newEngine(t, 1)
	a, _ := tensor.New(2, 3, 4)
	b, _ := tensor.New(3, 4, 5)
	c, _ := tensor.New(2, 5, 2)
	dst, _ := tensor.New(2, 3, 5)
	if err := e.Matmul(dst, a, c); !errors.Is(err, ErrShape) {
		t.Fatalf("inner mismatch: got %v", err)
	}
	if err := e.Bmm(dst, a, b); !errors.Is(err, ErrShape) {
		t.Fatalf("batch mismatch: got %v", err)
	}
	if err := e.Matmul(dst, a, &tensor.Tensor{Shape: []int{4, 5}, Data: make([]float32, 3)}); !errors.Is(err, ErrShape) {
		t.Fatalf("short data: got %v", err)
	}
}

func TestLinearMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 1))
	for _, tc := range []struct {
		name         string
		batch        []int
		in, out      int
		act          Activation
		withResidual bool
	}{
		{name: "batch 1", batch: []int{1}, in: 512, out: 65},
		{name: "3-D input gelu", batch: []int{2, 17}, in: 33, out: 40, act: ActGELU},
		{name: "vector input", batch: nil, in: 7, out: 3, act: ActReLU},
		{name: "residual", batch: []int{5}, in: 16, out: 16, withResidual: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := randTensor(r, tc.out, tc.in)
			bias := randSlice(r, tc.out)
			x := randTensor(r, append(append([]int(nil), tc.batch...), tc.in)...)
			m := tensor.Numel(tc.batch)
			want := make([]float32, m*tc.out)
			refGemm(false, true, m, tc.out, tc.in, 1, x.Data, tc.in, w.Data, tc.in, 0, want, tc.out)
			epi := &Epilogue{Bias: bias, Act: tc.act}
			if tc.withResidual {
				epi.Residual = randSlice(r, m*tc.out)
			}
			refEpilogue(want, m, tc.out, epi)
			lw, err := PackLinear(w)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := tensor.New(append(append([]int(nil), tc.batch...), tc.out)...)
			if err := newEngine(t, 2).Linear(got, x, lw, epi); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got.Data, want, gemmTol(tc.in))
		})
	}
}

func TestLinearRejectsWrongInputWidth(t *testing.T) {
	w, _ := tensor.New(4, 3)
	lw, _ := PackLinear(w)
	x, _ := tensor.New(2, 5)
	dst, _ := tensor.New(2, 4)
	if err := newEngine(t, 1).Linear(dst, x, lw, nil); !errors.Is(err, ErrShape) {
		t.Fatalf("got %v", err)
	}
}
