package npy

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ToFloat32 converts raw data of a float32, float64, integer or bool dtype to float32
// values. Float16 data is refused with ErrUnsupported (convert it with NumPy first).
func ToFloat32(dtype DType, data []byte) ([]float32, error) {
	size := dtype.Size()
	if size == 0 || dtype == Float16 {
		return nil, fmt.Errorf("%w: %q as float32", ErrUnsupported, dtype)
	}
	if len(data)%size != 0 {
		return nil, fmt.Errorf("%w: %d bytes of %q", ErrFormat, len(data), dtype)
	}
	out := make([]float32, len(data)/size)
	for i := range out {
		b := data[i*size:]
		switch dtype {
		case Float32:
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		case Float64:
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		default:
			out[i] = float32(intAt(dtype, b))
		}
	}
	return out, nil
}

// ToInt64 converts raw data of an integer or bool dtype to int64 values (token ids).
func ToInt64(dtype DType, data []byte) ([]int64, error) {
	size := dtype.Size()
	if size == 0 || dtype == Float16 || dtype == Float32 || dtype == Float64 || len(data)%size != 0 {
		return nil, fmt.Errorf("%w: %q as int64", ErrUnsupported, dtype)
	}
	out := make([]int64, len(data)/size)
	for i := range out {
		out[i] = intAt(dtype, data[i*size:])
	}
	return out, nil
}

func intAt(dtype DType, b []byte) int64 {
	switch dtype {
	case Int8:
		return int64(int8(b[0]))
	case Int16:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case Int32:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	case Int64:
		return int64(binary.LittleEndian.Uint64(b))
	}
	return int64(b[0]) // Uint8, Bool
}

// EncodeFloat32 returns the little-endian bytes of v, for Write with Float32.
func EncodeFloat32(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
	}
	return out
}

// EncodeInt64 returns the little-endian bytes of v, for Write with Int64.
func EncodeInt64(v []int64) []byte {
	out := make([]byte, 8*len(v))
	for i, n := range v {
		binary.LittleEndian.PutUint64(out[8*i:], uint64(n))
	}
	return out
}
