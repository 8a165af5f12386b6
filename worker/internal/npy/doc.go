// Package npy reads and writes NumPy .npy files (format versions 1.0, 2.0 and 3.0), the
// input and output format of "worker run".
//
// Only C-order, little-endian (or single-byte) arrays of the types listed as DType
// constants are supported; anything else is refused with ErrUnsupported. Data is the raw
// little-endian element bytes; ToFloat32 and ToInt64 convert them, EncodeFloat32 and
// EncodeInt64 go the other way.
//
// Read never allocates more than the input actually holds: a header that claims a huge
// shape fails with ErrFormat once the data runs out.
package npy
