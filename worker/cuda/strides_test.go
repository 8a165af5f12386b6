package cuda

import (
	"slices"
	"testing"
)

func TestBroadcastStrides(t *testing.T) {
	tests := []struct {
		name    string
		in, out []int
		want    []int64
		ok      bool
	}{
		{name: "same shape is contiguous", in: []int{2, 3}, out: []int{2, 3}, want: []int64{3, 1}, ok: true},
		{name: "row vector over a matrix", in: []int{3}, out: []int{2, 3}, want: []int64{0, 1}, ok: true},
		{name: "column over a matrix", in: []int{2, 1}, out: []int{2, 3}, want: []int64{1, 0}, ok: true},
		{name: "scalar over anything", in: []int{}, out: []int{4, 5}, want: []int64{0, 0}, ok: true},
		{name: "mask over heads", in: []int{2, 1, 1, 5}, out: []int{2, 4, 5, 5}, want: []int64{5, 0, 0, 1}, ok: true},
		{name: "size-1 output dim keeps stride 0", in: []int{1, 3}, out: []int{1, 3}, want: []int64{0, 1}, ok: true},
		{name: "mismatch", in: []int{2, 4}, out: []int{2, 3}, ok: false},
		{name: "more dims than the output", in: []int{1, 2, 3}, out: []int{2, 3}, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := broadcastStrides(tc.in, tc.out)
			if ok != tc.ok || (ok && !slices.Equal(got, tc.want)) {
				t.Errorf("broadcastStrides(%v, %v) = %v, %v; want %v, %v", tc.in, tc.out, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestContiguous(t *testing.T) {
	if got := contiguous([]int{2, 3, 4}); !slices.Equal(got, []int64{12, 4, 1}) {
		t.Errorf("contiguous = %v", got)
	}
	if got := contiguous(nil); len(got) != 0 {
		t.Errorf("contiguous(nil) = %v", got)
	}
}
