package kernels

import "testing"

func TestElementwise(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		want Launch
	}{
		{name: "empty still launches one block", n: 0, want: Launch{Grid: 1, Block: 256}},
		{name: "one element", n: 1, want: Launch{Grid: 1, Block: 256}},
		{name: "exactly one block", n: 256, want: Launch{Grid: 1, Block: 256}},
		{name: "one past a block", n: 257, want: Launch{Grid: 2, Block: 256}},
		{name: "resnet activation", n: 32 * 64 * 112 * 112, want: Launch{Grid: MaxGrid, Block: 256}},
		{name: "just under the cap", n: 256 * (MaxGrid - 1), want: Launch{Grid: MaxGrid - 1, Block: 256}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Elementwise(tc.n); got != tc.want {
				t.Errorf("Elementwise(%d) = %+v, want %+v", tc.n, got, tc.want)
			}
		})
	}
}

func TestRows(t *testing.T) {
	tests := []struct {
		name       string
		rows, cols int64
		want       Launch
	}{
		{name: "short rows get a warp", rows: 8, cols: 5, want: Launch{Grid: 8, Block: 32, Shared: 128}},
		{name: "power of two row", rows: 4, cols: 64, want: Launch{Grid: 4, Block: 64, Shared: 256}},
		{name: "round up to a power of two", rows: 4, cols: 65, want: Launch{Grid: 4, Block: 128, Shared: 512}},
		{name: "classifier row", rows: 32, cols: 1000, want: Launch{Grid: 32, Block: 1024, Shared: 4096}},
		{name: "long rows stop at 1024 threads", rows: 2, cols: 50000, want: Launch{Grid: 2, Block: 1024, Shared: 4096}},
		{name: "many rows are capped", rows: 1 << 20, cols: 16, want: Launch{Grid: MaxGrid, Block: 32, Shared: 128}},
		{name: "no rows still launch one block", rows: 0, cols: 16, want: Launch{Grid: 1, Block: 32, Shared: 128}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Rows(tc.rows, tc.cols); got != tc.want {
				t.Errorf("Rows(%d, %d) = %+v, want %+v", tc.rows, tc.cols, got, tc.want)
			}
			if got := Rows(tc.rows, tc.cols); got.Block&(got.Block-1) != 0 {
				t.Errorf("block %d is not a power of two (the block reductions need one)", got.Block)
			}
		})
	}
}
