package serve

import (
	"encoding/binary"
	"math"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/repository"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// Wire datatypes accepted besides FP32 and INT64: converted to the model's dtype.
const (
	dtFP64  = "FP64"
	dtINT32 = "INT32"
)

// maxElements bounds one tensor's element count before any allocation.
const maxElements = 1 << 31

// input is one decoded request input: its wire name and datatype and its data already in
// the engine's representation (FP32 and FP64 as Float32, INT64 and INT32 as Int64).
type input struct {
	name     string
	datatype string
	tensor   engine.Tensor
}

// output is one response output.
type output struct {
	name   string
	tensor engine.Tensor
}

// datatype returns the wire datatype of an engine tensor or dtype.
func datatype(d engine.DType) string {
	if d == torchscript.Int64 {
		return repository.INT64
	}
	return repository.FP32
}

// elemSize returns the wire size of one element of a datatype, or 0 for one not accepted.
func elemSize(dt string) int {
	switch dt {
	case repository.FP32, dtINT32:
		return 4
	case repository.INT64, dtFP64:
		return 8
	}
	return 0
}

// isInt reports whether an accepted datatype holds integers.
func isInt(dt string) bool { return dt == repository.INT64 || dt == dtINT32 }

// numel returns the element count of a wire shape, or -1 when a dimension is negative or
// the count is too large.
func numel(shape []int64) int {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || d > maxElements {
			return -1
		}
		n *= d
		if n > maxElements {
			return -1
		}
	}
	return int(n)
}

// intShape converts a checked wire shape.
func intShape(shape []int64) []int {
	s := make([]int, len(shape))
	for i, d := range shape {
		s[i] = int(d)
	}
	return s
}

// fromRaw converts little-endian raw elements of datatype dt into engine data; the caller
// has checked len(raw) == numel·elemSize(dt).
func fromRaw(dt string, raw []byte) engine.Tensor {
	var t engine.Tensor
	switch dt {
	case repository.FP32:
		t.Float32 = make([]float32, len(raw)/4)
		for i := range t.Float32 {
			t.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case dtFP64:
		t.Float32 = make([]float32, len(raw)/8)
		for i := range t.Float32 {
			t.Float32[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	case repository.INT64:
		t.Int64 = make([]int64, len(raw)/8)
		for i := range t.Int64 {
			t.Int64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case dtINT32:
		t.Int64 = make([]int64, len(raw)/4)
		for i := range t.Int64 {
			t.Int64[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	}
	return t
}

// appendRaw appends an output's elements as little-endian raw bytes.
func appendRaw(b []byte, t engine.Tensor) []byte {
	if t.Int64 != nil {
		for _, v := range t.Int64 {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		return b
	}
	for _, v := range t.Float32 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// rawSize returns the size of an output as raw bytes.
func rawSize(t engine.Tensor) int { return 4*len(t.Float32) + 8*len(t.Int64) }
