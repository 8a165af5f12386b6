package cpu

import (
	"errors"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// iota returns a tensor of the given shape holding 0, 1, 2, ...
func iotaTensor(shape ...int) *tensor.Tensor {
	t, _ := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(i)
	}
	return t
}

func TestPermuteMatchesIndexing(t *testing.T) {
	x := iotaTensor(2, 3, 4, 5)
	for _, perm := range [][]int{{0, 2, 1, 3}, {3, 2, 1, 0}, {0, 1, 3, 2}, {-1, 0, 1, 2}} {
		t.Run("permute", func(t *testing.T) {
			p := make([]int, 4)
			shape := make([]int, 4)
			for i, d := range perm {
				p[i], _ = tensor.NormDim(d, 4)
				shape[i] = x.Shape[p[i]]
			}
			got, _ := tensor.New(shape...)
			if err := Permute(got, x, perm); err != nil {
				t.Fatal(err)
			}
			st := tensor.Strides(x.Shape)
			idx := make([]int, 4)
			for o := range got.Data {
				rem, src := o, 0
				for d := 3; d >= 0; d-- {
					idx[d] = rem % shape[d]
					rem /= shape[d]
					src += idx[d] * st[p[d]]
				}
				if got.Data[o] != x.Data[src] {
					t.Fatalf("perm %v: element %d = %v, want %v", perm, o, got.Data[o], x.Data[src])
				}
			}
		})
	}
	bad, _ := tensor.New(2, 3, 4, 5)
	if err := Permute(bad, x, []int{0, 0, 1, 2}); !errors.Is(err, ErrArgument) {
		t.Fatalf("repeated dim: %v", err)
	}
}

func TestTransposeLastTwo(t *testing.T) {
	x := iotaTensor(2, 3)
	got, _ := tensor.New(3, 2)
	if err := Transpose(got, x, -1, -2); err != nil {
		t.Fatal(err)
	}
	assertClose(t, got.Data, []float32{0, 3, 1, 4, 2, 5}, 0)
}

func TestCatSliceSelect(t *testing.T) {
	a, b := iotaTensor(2, 2), iotaTensor(2, 3)
	got, _ := tensor.New(2, 5)
	if err := Cat(got, []*tensor.Tensor{a, b}, 1); err != nil {
		t.Fatal(err)
	}
	assertClose(t, got.Data, []float32{0, 1, 0, 1, 2, 2, 3, 3, 4, 5}, 0)
	if err := Cat(got, []*tensor.Tensor{a, b}, 0); !errors.Is(err, ErrShape) {
		t.Fatalf("cat mismatch: %v", err)
	}

	x := iotaTensor(3, 7)
	for _, tc := range []struct {
		name             string
		start, end, step int
		want             []float32
	}{
		{name: "step 2", start: 1, end: 6, step: 2, want: []float32{1, 3, 5, 8, 10, 12, 15, 17, 19}},
		{name: "negative start, huge end", start: -2, end: 1 << 62, step: 1, want: []float32{5, 6, 12, 13, 19, 20}},
		{name: "empty", start: 5, end: 2, step: 1, want: []float32{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := SliceLen(7, tc.start, tc.end, tc.step)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := tensor.New(3, n)
			if err := Slice(got, x, 1, tc.start, tc.end, tc.step); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got.Data, tc.want, 0)
		})
	}
	if _, _, err := SliceLen(7, 0, 7, 0); !errors.Is(err, ErrArgument) {
		t.Fatalf("step 0: %v", err)
	}

	row, _ := tensor.New(3)
	if err := Select(row, x, 1, -1); err != nil {
		t.Fatal(err)
	}
	assertClose(t, row.Data, []float32{6, 13, 20}, 0)
	if err := Select(row, x, 1, 7); !errors.Is(err, ErrIndex) {
		t.Fatalf("select out of range: %v", err)
	}
}

func TestPoolRejectsBadParameters(t *testing.T) {
	e := newEngine(t, 1)
	x := iotaTensor(1, 1, 4, 4)
	dst, _ := tensor.New(1, 1, 2, 2)
	for _, tc := range []struct {
		name string
		p    Pool2dParams
		want error
	}{
		{name: "padding above half the kernel", p: Pool2dParams{KernelH: 2, KernelW: 2, PadH: 2}, want: ErrArgument},
		{name: "zero kernel", p: Pool2dParams{}, want: ErrArgument},
		{name: "kernel larger than input", p: Pool2dParams{KernelH: 5, KernelW: 5}, want: ErrShape},
		{name: "wrong destination", p: Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2}, want: ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.MaxPool2d(dst, x, tc.p); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if err := AdaptiveAvgPool2d(iotaTensor(1, 2, 1, 1), x); !errors.Is(err, ErrShape) {
		t.Fatalf("channel mismatch: %v", err)
	}
}
