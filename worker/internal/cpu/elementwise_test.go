package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// refBroadcast evaluates f over the broadcast of a and b by multi-index arithmetic.
func refBroadcast(a, b *tensor.Tensor, f func(x, y float64) float64) *tensor.Tensor {
	shape, _ := tensor.BroadcastShapes(a.Shape, b.Shape)
	out, _ := tensor.New(shape...)
	sa, _ := tensor.BroadcastStrides(a.Shape, shape)
	sb, _ := tensor.BroadcastStrides(b.Shape, shape)
	for i := range out.Data {
		ia, ib, rem := 0, 0, i
		for d := len(shape) - 1; d >= 0; d-- {
			ia += rem % shape[d] * sa[d]
			ib += rem % shape[d] * sb[d]
			rem /= shape[d]
		}
		out.Data[i] = float32(f(float64(a.Data[ia]), float64(b.Data[ib])))
	}
	return out
}

func TestBinaryOpsBroadcast(t *testing.T) {
	shapes := [][2][]int{
		{{3, 17}, {3, 17}},
		{{2, 1, 5}, {4, 1}},
		{{1}, {6, 7}},
		{{}, {2, 3}},
		{{65, 3}, {}},
		{{2, 3, 1, 4}, {3, 5, 1}},
		{{0, 3}, {1, 3}},
	}
	ops := []struct {
		name string
		run  func(dst, a, b *tensor.Tensor) error
		ref  func(x, y float64) float64
	}{
		{"add alpha", func(d, a, b *tensor.Tensor) error { return Add(d, a, b, 2) }, func(x, y float64) float64 { return x + 2*y }},
		{"add", func(d, a, b *tensor.Tensor) error { return Add(d, a, b, 1) }, func(x, y float64) float64 { return x + y }},
		{"sub", func(d, a, b *tensor.Tensor) error { return Sub(d, a, b, 1) }, func(x, y float64) float64 { return x - y }},
		{"rsub alpha", func(d, a, b *tensor.Tensor) error { return Rsub(d, a, b, 3) }, func(x, y float64) float64 { return y - 3*x }},
		{"mul", Mul, func(x, y float64) float64 { return x * y }},
		{"div", func(d, a, b *tensor.Tensor) error { return Div(d, a, b, RoundNone) }, func(x, y float64) float64 { return x / y }},
		{"div trunc", func(d, a, b *tensor.Tensor) error { return Div(d, a, b, RoundTrunc) }, func(x, y float64) float64 { return math.Trunc(float64(float32(x) / float32(y))) }},
		{"div floor", func(d, a, b *tensor.Tensor) error { return Div(d, a, b, RoundFloor) }, func(x, y float64) float64 { return math.Floor(x / y) }},
	}
	r := rand.New(rand.NewPCG(8, 8))
	for _, op := range ops {
		for _, s := range shapes {
			t.Run(op.name, func(t *testing.T) {
				a, b := randTensor(r, s[0]...), randTensor(r, s[1]...)
				for i := range a.Data {
					a.Data[i] *= 8
				}
				want := refBroadcast(a, b, op.ref)
				got, _ := tensor.New(want.Shape...)
				if err := op.run(got, a, b); err != nil {
					t.Fatal(err)
				}
				assertClose(t, got.Data, want.Data, 1e-5)
			})
		}
	}
}

func TestDivFloorEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a, b, want float32
	}{
		{name: "negative quotient rounds down", a: -7, b: 2, want: -4},
		{name: "negative divisor", a: 7, b: -2, want: -4},
		{name: "both negative", a: -7, b: -2, want: 3},
		{name: "exact", a: 6, b: 3, want: 2},
		{name: "zero keeps sign of quotient", a: -0.5, b: 4, want: -1},
		{name: "division by zero", a: 1, b: 0, want: float32(math.Inf(1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := divFloor(tc.a, tc.b); got != tc.want {
				t.Fatalf("divFloor(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
	negZero := float32(math.Copysign(0, -1))
	if got := divFloor(negZero, 4); got != 0 || !math.Signbit(float64(got)) {
		t.Fatalf("divFloor(-0, 4) = %v, want -0", got)
	}
}

func TestBinaryRejectsBadShapes(t *testing.T) {
	a, _ := tensor.New(2, 3)
	b, _ := tensor.New(4)
	d, _ := tensor.New(2, 3)
	if err := Add(d, a, b, 1); !errors.Is(err, ErrShape) {
		t.Fatalf("incompatible: %v", err)
	}
	wrong, _ := tensor.New(3, 2)
	if err := Mul(wrong, a, a); !errors.Is(err, ErrShape) {
		t.Fatalf("wrong destination: %v", err)
	}
	if err := Div(d, a, a, RoundingMode(7)); !errors.Is(err, ErrArgument) {
		t.Fatalf("bad mode: %v", err)
	}
}

func TestActivationsMatchFormulas(t *testing.T) {
	x, _ := tensor.New(71) // 64 elements take the vector path, 7 the scalar tail
	for i := range x.Data {
		x.Data[i] = float32(i-35) * 0.37
	}
	x.Data[0], x.Data[70] = -100, 100
	for _, tc := range []struct {
		name string
		act  Activation
		f    func(float64) float64
	}{
		{"relu", ActReLU, func(v float64) float64 { return math.Max(v, 0) }},
		{"gelu", ActGELU, func(v float64) float64 { return v * 0.5 * math.Erfc(-v/math.Sqrt2) }},
		{"gelu tanh", ActGELUTanh, func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}},
		{"tanh", ActTanh, math.Tanh},
		{"sigmoid", ActSigmoid, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }},
	} {
		for _, kernel := range []string{"auto", "generic"} {
			t.Run(tc.name+" "+kernel, func(t *testing.T) {
				got := x.Clone()
				run := func() {
					if err := Activate(got, got, tc.act); err != nil {
						t.Fatal(err)
					}
				}
				if kernel == "generic" {
					withGeneric(t, run)
				} else {
					run()
				}
				want := make([]float32, len(x.Data))
				for i, v := range x.Data {
					want[i] = float32(tc.f(float64(v)))
				}
				assertClose(t, got.Data, want, 1e-6)
			})
		}
	}
}

func TestCompareAndMaskedFill(t *testing.T) {
	a := &tensor.Tensor{Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}
	b := &tensor.Tensor{Shape: []int{3}, Data: []float32{2, 2, 7}}
	for _, tc := range []struct {
		name string
		op   CompareOp
		want []bool
	}{
		{"gt", Greater, []bool{false, false, false, true, true, false}},
		{"lt", Less, []bool{true, false, true, false, false, true}},
		{"eq", Equal, []bool{false, true, false, false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := tensor.NewBool(2, 3)
			if err := Compare(m, a, b, tc.op); err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				if m.Data[i] != tc.want[i] {
					t.Fatalf("mask %v, want %v", m.Data, tc.want)
				}
			}
		})
	}
	mask := &tensor.Bool{Shape: []int{1, 3}, Data: []bool{true, false, true}}
	got := a.Clone()
	if err := MaskedFill(got, got, mask, -1); err != nil {
		t.Fatal(err)
	}
	assertClose(t, got.Data, []float32{-1, 2, -1, -1, 5, -1}, 0)
	if err := MaskedFill(got, got, &tensor.Bool{Shape: []int{2}, Data: []bool{true, true}}, 0); !errors.Is(err, ErrShape) {
		t.Fatalf("bad mask: %v", err)
	}
}
