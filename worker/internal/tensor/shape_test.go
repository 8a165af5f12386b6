package tensor

import (
	"errors"
	"slices"
	"testing"
)

var broadcastCases = []struct {
	name string
	a, b []int
	want []int
	err  error
}{
	{name: "equal shapes", a: []int{2, 3}, b: []int{2, 3}, want: []int{2, 3}},
	{name: "scalar and matrix", a: []int{}, b: []int{4, 5}, want: []int{4, 5}},
	{name: "trailing alignment", a: []int{8, 1, 6, 1}, b: []int{7, 1, 5}, want: []int{8, 7, 6, 5}},
	{name: "ones on both sides", a: []int{1, 3}, b: []int{2, 1}, want: []int{2, 3}},
	{name: "zero size broadcasts with one", a: []int{0, 3}, b: []int{1, 3}, want: []int{0, 3}},
	{name: "mismatch", a: []int{2, 3}, b: []int{2}, err: ErrBroadcast},
	{name: "negative size", a: []int{-1}, b: []int{1}, err: ErrShape},
}

func TestBroadcastShapes(t *testing.T) {
	for _, tc := range broadcastCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BroadcastShapes(tc.a, tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzBroadcastShapes(f *testing.F) {
	// Each byte is one size; 255 stands for -1.
	enc := func(s []int) []byte {
		b := make([]byte, len(s))
		for i, d := range s {
			b[i] = byte(d)
		}
		return b
	}
	dec := func(b []byte) []int {
		s := make([]int, len(b))
		for i, v := range b {
			s[i] = int(v)
			if v == 255 {
				s[i] = -1
			}
		}
		return s
	}
	for _, tc := range broadcastCases {
		f.Add(enc(tc.a), enc(tc.b))
	}
	f.Fuzz(func(t *testing.T, ab, bb []byte) {
		if len(ab) > 8 || len(bb) > 8 {
			return
		}
		a, b := dec(ab), dec(bb)
		out, err := BroadcastShapes(a, b)
		if err != nil {
			return
		}
		// Both operands must broadcast to the result, and the rule is symmetric.
		for _, s := range [][]int{a, b} {
			if _, err := BroadcastStrides(s, out); err != nil {
				t.Fatalf("%v does not broadcast to %v: %v", s, out, err)
			}
		}
		if rev, err := BroadcastShapes(b, a); err != nil || !slices.Equal(rev, out) {
			t.Fatalf("not symmetric: %v vs %v (%v)", out, rev, err)
		}
	})
}

func TestBroadcastStrides(t *testing.T) {
	got, err := BroadcastStrides([]int{3, 1}, []int{2, 3, 4})
	if err != nil || !slices.Equal(got, []int{0, 1, 0}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := BroadcastStrides([]int{3}, []int{4}); !errors.Is(err, ErrBroadcast) {
		t.Fatalf("got %v", err)
	}
}

func TestNumelAndStrides(t *testing.T) {
	for _, tc := range []struct {
		name    string
		shape   []int
		numel   int
		strides []int
	}{
		{name: "scalar", shape: []int{}, numel: 1, strides: []int{}},
		{name: "matrix", shape: []int{3, 4}, numel: 12, strides: []int{4, 1}},
		{name: "empty", shape: []int{2, 0, 3}, numel: 0, strides: []int{0, 3, 1}},
		{name: "negative", shape: []int{2, -1}, numel: -1, strides: []int{-1, 1}},
		{name: "overflow", shape: []int{1 << 40, 1 << 40}, numel: -1, strides: []int{1 << 40, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Numel(tc.shape); got != tc.numel {
				t.Fatalf("Numel = %d, want %d", got, tc.numel)
			}
			if got := Strides(tc.shape); !slices.Equal(got, tc.strides) {
				t.Fatalf("Strides = %v, want %v", got, tc.strides)
			}
		})
	}
}
