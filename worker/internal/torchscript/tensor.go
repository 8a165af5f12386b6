package torchscript

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"unsafe"
)

// maxBroadcastElems bounds the elements, summed over one pickle, of tensors that have more
// elements than their storage (zero strides, as torch.expand makes); it keeps lying shapes
// from turning tiny storages into huge Float32 allocations.
const maxBroadcastElems = 1 << 24

// Storage is one tensor record of the archive: the raw little-endian bytes of Numel
// elements of DType. Several tensors may share one Storage.
type Storage struct {
	// DType is the element type.
	DType DType
	// Data holds exactly Numel*DType.Size() bytes. With Open on Linux it aliases the
	// memory-mapped file: never write to it.
	Data []byte
	// Key names the record inside the archive ("data/3", "constants/0").
	Key string
	// Device is the location torch saved the storage from ("cpu", "cuda:0").
	Device string

	mapping *mapping // the file mapping Data aliases, or nil
}

// Evict tells the system that Data will not be read again soon. When Data aliases the
// archive's file mapping (Open on Linux), the memory pages lying wholly inside it leave the
// process's resident set; reading Data later faults them back in from the file, unchanged.
// Use it once a copy of the data (a packed weight) has been made. It does nothing for data
// read into memory, after Close, and on other systems. It is safe for concurrent use.
func (s *Storage) Evict() error {
	if s.mapping == nil {
		return nil
	}
	return s.mapping.evict(s.Data)
}

// Numel returns the number of elements in the storage.
func (s *Storage) Numel() int { return len(s.Data) / s.DType.Size() }

// Tensor is a strided view of a Storage, as torch._utils._rebuild_tensor_v2 describes it.
// Shape, Strides and Offset count elements, not bytes. Read validates every Tensor: all
// indices it addresses lie inside its Storage.
type Tensor struct {
	DType        DType
	Shape        []int
	Strides      []int
	Offset       int
	Storage      *Storage
	RequiresGrad bool
}

// Numel returns the number of elements (the product of Shape; 1 for a scalar).
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// IsContiguous reports whether the tensor is laid out row-major without gaps.
func (t *Tensor) IsContiguous() bool {
	want := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		if t.Shape[i] != 1 && t.Strides[i] != want {
			return false
		}
		want *= t.Shape[i]
	}
	return true
}

// nativeLittleEndian reports whether the host stores integers little-endian, which lets
// Float32View alias storage bytes.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Float32View returns the tensor's elements without copying when it is a contiguous,
// 4-byte aligned float32 tensor on a little-endian host; ok is false otherwise (use Float32).
// The slice aliases Storage.Data and must not be written.
func (t *Tensor) Float32View() (view []float32, ok bool) {
	if t.DType != Float32 || !nativeLittleEndian || !t.IsContiguous() {
		return nil, false
	}
	n := t.Numel()
	if n == 0 {
		return []float32{}, true
	}
	b := t.Storage.Data[t.Offset*4 : (t.Offset+n)*4]
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), true
}

// Float32 returns a contiguous row-major copy of the elements converted to float32
// (from any float, integer or bool dtype).
func (t *Tensor) Float32() ([]float32, error) {
	out := make([]float32, t.Numel())
	load := t.elementF64
	i := 0
	t.walk(func(idx int) {
		out[i] = float32(load(idx))
		i++
	})
	return out, nil
}

// Int64 returns a contiguous row-major copy of an integer or bool tensor as int64.
// Floating-point tensors give ErrDType.
func (t *Tensor) Int64() ([]int64, error) {
	if t.DType.IsFloat() {
		return nil, fmt.Errorf("%w: %s to int64", ErrDType, t.DType)
	}
	out := make([]int64, t.Numel())
	i := 0
	t.walk(func(idx int) {
		out[i] = t.elementI64(idx)
		i++
	})
	return out, nil
}

// walk calls f with the storage element index of every element in row-major order.
func (t *Tensor) walk(f func(int)) {
	n := t.Numel()
	if n == 0 {
		return
	}
	pos := make([]int, len(t.Shape))
	idx := t.Offset
	for range n {
		f(idx)
		for d := len(t.Shape) - 1; d >= 0; d-- {
			pos[d]++
			idx += t.Strides[d]
			if pos[d] < t.Shape[d] {
				break
			}
			idx -= pos[d] * t.Strides[d]
			pos[d] = 0
		}
	}
}

func (t *Tensor) elementF64(i int) float64 {
	b := t.Storage.Data
	switch t.DType {
	case Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:])))
	case Float64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b[i*8:]))
	case Float16:
		return float64(halfToFloat32(binary.LittleEndian.Uint16(b[i*2:])))
	case BFloat16:
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[i*2:])) << 16))
	}
	return float64(t.elementI64(i))
}

func (t *Tensor) elementI64(i int) int64 {
	b := t.Storage.Data
	switch t.DType {
	case Uint8, Bool:
		return int64(b[i])
	case Int8:
		return int64(int8(b[i]))
	case Int16:
		return int64(int16(binary.LittleEndian.Uint16(b[i*2:])))
	case Int32:
		return int64(int32(binary.LittleEndian.Uint32(b[i*4:])))
	case Int64:
		return int64(binary.LittleEndian.Uint64(b[i*8:]))
	}
	return 0
}

// halfToFloat32 converts IEEE 754 binary16 bits to float32, including subnormals, infinities
// and NaN.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// validate checks that every element the tensor addresses lies inside its storage. It
// returns how many elements the tensor has beyond its storage's (0 for most tensors).
func (t *Tensor) validate() (extra int, err error) {
	if t.Storage == nil {
		return 0, fmt.Errorf("%w: no storage", ErrTensor)
	}
	if len(t.Shape) != len(t.Strides) {
		return 0, fmt.Errorf("%w: %d sizes but %d strides", ErrTensor, len(t.Shape), len(t.Strides))
	}
	if t.DType != t.Storage.DType {
		return 0, fmt.Errorf("%w: dtype %s on %s storage", ErrTensor, t.DType, t.Storage.DType)
	}
	limit := uint64(t.Storage.Numel())
	if t.Offset < 0 {
		return 0, fmt.Errorf("%w: negative storage offset", ErrTensor)
	}
	numel, last := uint64(1), uint64(t.Offset)
	for i, size := range t.Shape {
		stride := t.Strides[i]
		if size < 0 || stride < 0 {
			return 0, fmt.Errorf("%w: negative size or stride", ErrTensor)
		}
		hi, lo := bits.Mul64(numel, uint64(size))
		if hi != 0 || lo > math.MaxInt32*uint64(math.MaxInt32) {
			return 0, fmt.Errorf("%w: element count overflows", ErrTensor)
		}
		numel = lo
		if size == 0 {
			continue
		}
		hi, lo = bits.Mul64(uint64(size-1), uint64(stride))
		if hi != 0 || lo > limit {
			return 0, fmt.Errorf("%w: stride %d of dim %d leaves storage of %d", ErrTensor, stride, i, limit)
		}
		last += lo
	}
	if numel == 0 {
		return 0, nil
	}
	if last >= limit {
		return 0, fmt.Errorf("%w: addresses element %d of a %d-element storage %q", ErrTensor, last, limit, t.Storage.Key)
	}
	if numel > limit {
		if numel > maxBroadcastElems {
			return 0, fmt.Errorf("%w: %d elements over a %d-element storage", ErrTensor, numel, limit)
		}
		return int(numel - limit), nil
	}
	return 0, nil
}
