package torchscript

import "fmt"

// DType is a tensor element type. Its values equal PyTorch's c10::ScalarType numbers, so the
// integers TorchScript code passes as dtype arguments (torch.to(x, 6)) convert directly.
type DType int

// Element types that storages can hold.
const (
	Uint8    DType = 0  // torch.uint8 (ByteStorage)
	Int8     DType = 1  // torch.int8 (CharStorage)
	Int16    DType = 2  // torch.int16 (ShortStorage)
	Int32    DType = 3  // torch.int32 (IntStorage)
	Int64    DType = 4  // torch.int64 (LongStorage)
	Float16  DType = 5  // torch.float16 (HalfStorage)
	Float32  DType = 6  // torch.float32 (FloatStorage)
	Float64  DType = 7  // torch.float64 (DoubleStorage)
	Bool     DType = 11 // torch.bool (BoolStorage)
	BFloat16 DType = 15 // torch.bfloat16 (BFloat16Storage)
)

var dtypeInfo = map[DType]struct {
	name    string
	size    int
	storage string
}{
	Uint8:    {"uint8", 1, "ByteStorage"},
	Int8:     {"int8", 1, "CharStorage"},
	Int16:    {"int16", 2, "ShortStorage"},
	Int32:    {"int32", 4, "IntStorage"},
	Int64:    {"int64", 8, "LongStorage"},
	Float16:  {"float16", 2, "HalfStorage"},
	Float32:  {"float32", 4, "FloatStorage"},
	Float64:  {"float64", 8, "DoubleStorage"},
	Bool:     {"bool", 1, "BoolStorage"},
	BFloat16: {"bfloat16", 2, "BFloat16Storage"},
}

// storageDTypes maps a legacy typed storage class name (torch.FloatStorage) to its dtype.
var storageDTypes = func() map[string]DType {
	m := make(map[string]DType, len(dtypeInfo))
	for d, info := range dtypeInfo {
		m[info.storage] = d
	}
	return m
}()

// dtypeNames maps torch's dtype attribute names (torch.float32, torch.half, ...) to DTypes.
var dtypeNames = map[string]DType{
	"uint8": Uint8, "int8": Int8, "int16": Int16, "short": Int16, "int32": Int32, "int": Int32,
	"int64": Int64, "long": Int64, "float16": Float16, "half": Float16, "float32": Float32,
	"float": Float32, "float64": Float64, "double": Float64, "bool": Bool, "bfloat16": BFloat16,
}

// Size returns the element size in bytes, or 0 for an unknown DType.
func (d DType) Size() int { return dtypeInfo[d].size }

// Valid reports whether d is one of the element types above.
func (d DType) Valid() bool { return dtypeInfo[d].size > 0 }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float16 || d == Float32 || d == Float64 || d == BFloat16
}

// String returns torch's name without the "torch." prefix ("float32"), or "dtype(N)".
func (d DType) String() string {
	if info, ok := dtypeInfo[d]; ok {
		return info.name
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}
