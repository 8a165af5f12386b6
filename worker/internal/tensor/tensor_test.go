package tensor

import (
	"errors"
	"slices"
	"testing"
)

func TestReshapeSharesData(t *testing.T) {
	x, err := New(2, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		shape []int
		want  []int
		err   error
	}{
		{name: "flatten", shape: []int{6, 4}, want: []int{6, 4}},
		{name: "inferred", shape: []int{-1, 12}, want: []int{2, 12}},
		{name: "wrong count", shape: []int{5, 5}, err: ErrShape},
		{name: "two inferred", shape: []int{-1, -1}, err: ErrShape},
		{name: "not divisible", shape: []int{-1, 5}, err: ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := x.Reshape(tc.shape...)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if !slices.Equal(v.Shape, tc.want) {
				t.Fatalf("shape %v, want %v", v.Shape, tc.want)
			}
			v.Data[5] = 42
			if x.Data[5] != 42 {
				t.Fatal("reshape copied the data")
			}
		})
	}
}

func TestConstructorsValidate(t *testing.T) {
	if _, err := FromData(make([]float32, 5), 2, 3); !errors.Is(err, ErrShape) {
		t.Fatalf("FromData: %v", err)
	}
	if _, err := NewInt64(make([]int64, 6), 2, 3); err != nil {
		t.Fatalf("NewInt64: %v", err)
	}
	if _, err := New(-1); !errors.Is(err, ErrShape) {
		t.Fatalf("New: %v", err)
	}
	b, err := NewBool(2, 2)
	if err != nil || len(b.Data) != 4 {
		t.Fatalf("NewBool: %v", err)
	}
	c := (&Tensor{Shape: []int{2}, Data: []float32{1, 2}}).Clone()
	if c.Validate() != nil || c.Data[1] != 2 {
		t.Fatal("Clone")
	}
}

func TestArena(t *testing.T) {
	a := NewArena(64)
	x, err := a.Alloc(3, 5)
	if err != nil {
		t.Fatal(err)
	}
	y, err := a.Alloc(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if &x.Data[0] == &y.Data[0] || cap(x.Data) != 15 {
		t.Fatal("allocations overlap or are not capped")
	}
	if _, err := a.Alloc(64); !errors.Is(err, ErrArenaFull) {
		t.Fatalf("overfull: %v", err)
	}
	a.Reset()
	z, _ := a.Alloc(1)
	if &z.Data[0] != &x.Data[0] {
		t.Fatal("Reset did not reuse the slab")
	}
	if a.HighWater() != 32 {
		t.Fatalf("high water %d, want 32", a.HighWater())
	}
	p, err := a.At(48, 4, 4)
	if err != nil || len(p.Data) != 16 {
		t.Fatalf("At: %v", err)
	}
	if _, err := a.At(50, 4, 4); !errors.Is(err, ErrArenaFull) {
		t.Fatalf("At past the end: %v", err)
	}
	a.Grow = true
	big, err := a.Alloc(100)
	if err != nil || len(big.Data) != 100 || a.Cap() < 100 {
		t.Fatalf("Grow: %v", err)
	}
}

func TestArenaAllocDoesNotAllocateData(t *testing.T) {
	a := NewArena(1 << 12)
	allocs := testing.AllocsPerRun(100, func() {
		a.Reset()
		if _, err := a.Alloc(32, 32); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 { // the header, its shape and the variadic argument; never the 4 KiB of data
		t.Fatalf("%v allocations", allocs)
	}
}
