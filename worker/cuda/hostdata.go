package cuda

import (
	"fmt"
	"unsafe"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// hostBytes returns a constant's data as the bytes the device holds (bools one byte each,
// as Go stores them). The slice aliases the constant.
func hostBytes(c any) ([]byte, error) {
	switch t := c.(type) {
	case *tensor.Tensor:
		return asBytes(t.Data), nil
	case *tensor.Int64:
		return asBytes(t.Data), nil
	case *tensor.Bool:
		return asBytes(t.Data), nil
	}
	return nil, fmt.Errorf("%w: constant of type %T", ErrUnsupported, c)
}

// asBytes views a slice of plain values as bytes.
func asBytes[T float32 | int64 | bool | byte](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(z)))
}

// inputBytes returns an engine input's data as bytes for binding b.
func inputBytes(t engine.Tensor, b Binding) ([]byte, error) {
	var data []byte
	switch b.DType {
	case torchscript.Float32:
		data = asBytes(t.Float32)
	case torchscript.Int64:
		data = asBytes(t.Int64)
	default:
		return nil, fmt.Errorf("%w: %s input", ErrUnsupported, b.DType)
	}
	if int64(len(data)) != b.Bytes {
		return nil, fmt.Errorf("%w: input of %d bytes for %v %s", ErrInput, len(data), b.Shape, b.DType)
	}
	return data, nil
}

// output converts the bytes of an output as the device holds them into an engine tensor
// (bool outputs become 0/1 floats, as the CPU engine returns them), copying.
func output(data []byte, b Binding) engine.Tensor {
	t := engine.Tensor{Shape: append([]int(nil), b.Shape...)}
	n := tensor.Numel(b.Shape)
	switch b.DType {
	case torchscript.Int64:
		t.Int64 = make([]int64, n)
		copy(asBytes(t.Int64), data)
	case torchscript.Bool:
		t.Float32 = make([]float32, n)
		for i, v := range data[:n] {
			if v != 0 {
				t.Float32[i] = 1
			}
		}
	default:
		t.Float32 = make([]float32, n)
		copy(asBytes(t.Float32), data)
	}
	return t
}

// constOf turns a folded output's bytes into the constant the graph stores.
func constOf(data []byte, v *graph.Value) (any, error) {
	n := v.Numel()
	switch v.DType {
	case torchscript.Float32:
		t := &tensor.Tensor{Shape: v.Shape, Data: make([]float32, n)}
		copy(asBytes(t.Data), data)
		return t, nil
	case torchscript.Int64:
		t := &tensor.Int64{Shape: v.Shape, Data: make([]int64, n)}
		copy(asBytes(t.Data), data)
		return t, nil
	case torchscript.Bool:
		t := &tensor.Bool{Shape: v.Shape, Data: make([]bool, n)}
		for i, x := range data[:n] {
			t.Data[i] = x != 0
		}
		return t, nil
	}
	return nil, fmt.Errorf("%w: %s constant", ErrUnsupported, v.DType)
}

// aliasConst is a reshape's output constant: the input's data under the output's shape.
func aliasConst(in any, out *graph.Value) (any, error) {
	switch t := in.(type) {
	case *tensor.Tensor:
		return &tensor.Tensor{Shape: out.Shape, Data: t.Data}, nil
	case *tensor.Int64:
		return &tensor.Int64{Shape: out.Shape, Data: t.Data}, nil
	case *tensor.Bool:
		return &tensor.Bool{Shape: out.Shape, Data: t.Data}, nil
	}
	return nil, fmt.Errorf("%w: constant of type %T", ErrUnsupported, in)
}
