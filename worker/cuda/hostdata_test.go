package cuda

import (
	"errors"
	"slices"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// TestConstRoundTrip checks that a constant survives the trip to device bytes and back
// (what constant folding does with a node's outputs) for every dtype.
func TestConstRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		dtype graph.DType
		data  any
	}{
		{name: "float32", dtype: torchscript.Float32, data: &tensor.Tensor{Shape: []int{2, 2}, Data: []float32{1, -2.5, 3, 0}}},
		{name: "int64", dtype: torchscript.Int64, data: &tensor.Int64{Shape: []int{3}, Data: []int64{-1, 1 << 40, 7}}},
		{name: "bool", dtype: torchscript.Bool, data: &tensor.Bool{Shape: []int{1, 3}, Data: []bool{true, false, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hostBytes(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			var shape []int
			switch d := tc.data.(type) {
			case *tensor.Tensor:
				shape = d.Shape
			case *tensor.Int64:
				shape = d.Shape
			case *tensor.Bool:
				shape = d.Shape
			}
			v := &graph.Value{Shape: shape, DType: tc.dtype}
			got, err := constOf(b, v)
			if err != nil {
				t.Fatal(err)
			}
			if !equalConst(got, tc.data) {
				t.Errorf("round trip gave %+v, want %+v", got, tc.data)
			}
			alias, err := aliasConst(tc.data, &graph.Value{Shape: []int{tensor.Numel(shape)}})
			if err != nil {
				t.Fatal(err)
			}
			ab, _ := hostBytes(alias)
			if &ab[0] != &b[0] {
				t.Error("a reshaped constant does not share its input's data")
			}
		})
	}
	if _, err := hostBytes(3.0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("hostBytes(float64): err %v, want ErrUnsupported", err)
	}
}

func equalConst(a, b any) bool {
	switch x := a.(type) {
	case *tensor.Tensor:
		y, ok := b.(*tensor.Tensor)
		return ok && slices.Equal(x.Shape, y.Shape) && slices.Equal(x.Data, y.Data)
	case *tensor.Int64:
		y, ok := b.(*tensor.Int64)
		return ok && slices.Equal(x.Shape, y.Shape) && slices.Equal(x.Data, y.Data)
	case *tensor.Bool:
		y, ok := b.(*tensor.Bool)
		return ok && slices.Equal(x.Shape, y.Shape) && slices.Equal(x.Data, y.Data)
	}
	return false
}

func TestOutputAndInputBytes(t *testing.T) {
	bools := output([]byte{1, 0, 1}, Binding{DType: torchscript.Bool, Shape: []int{3}})
	if !slices.Equal(bools.Float32, []float32{1, 0, 1}) {
		t.Errorf("bool output %v, want 0/1 floats as the CPU engine returns", bools.Float32)
	}
	in := engine.Tensor{Shape: []int{2}, Int64: []int64{4, 5}}
	b, err := inputBytes(in, Binding{DType: torchscript.Int64, Shape: []int{2}, Bytes: 16})
	if err != nil || len(b) != 16 {
		t.Fatalf("inputBytes = %d bytes, %v", len(b), err)
	}
	if got := output(b, Binding{DType: torchscript.Int64, Shape: []int{2}}); !slices.Equal(got.Int64, in.Int64) {
		t.Errorf("int64 output %v, want %v", got.Int64, in.Int64)
	}
	if _, err := inputBytes(in, Binding{DType: torchscript.Int64, Shape: []int{3}, Bytes: 24}); !errors.Is(err, engine.ErrInput) {
		t.Errorf("short input: err %v, want engine.ErrInput", err)
	}
}
