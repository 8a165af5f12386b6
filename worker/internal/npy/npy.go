package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
)

// Sentinel errors; returned errors wrap them.
var (
	// ErrFormat reports a file that is not a well-formed .npy file.
	ErrFormat = errors.New("npy: malformed file")
	// ErrUnsupported reports a valid .npy file this package does not handle (Fortran
	// order, big-endian or unlisted dtypes).
	ErrUnsupported = errors.New("npy: unsupported array")
)

// DType is a NumPy type descriptor ("<f4"), as it appears in the header.
type DType string

// Supported element types.
const (
	Float16 DType = "<f2"
	Float32 DType = "<f4"
	Float64 DType = "<f8"
	Int8    DType = "|i1"
	Int16   DType = "<i2"
	Int32   DType = "<i4"
	Int64   DType = "<i8"
	Uint8   DType = "|u1"
	Bool    DType = "|b1"
)

var itemSizes = map[DType]int{
	Float16: 2, Float32: 4, Float64: 8, Int8: 1, Int16: 2, Int32: 4, Int64: 8, Uint8: 1, Bool: 1,
}

// Size returns the element size in bytes, or 0 for an unsupported DType.
func (d DType) Size() int { return itemSizes[d] }

const (
	magic = "\x93NUMPY"
	// maxHeader bounds the header dict; NumPy's own limit is far smaller.
	maxHeader = 1 << 20
	// headerAlign is the alignment NumPy pads the header to.
	headerAlign = 64
)

var (
	descrRe   = regexp.MustCompile(`['"]descr['"]\s*:\s*['"]([^'"]*)['"]`)
	fortranRe = regexp.MustCompile(`['"]fortran_order['"]\s*:\s*(True|False)`)
	shapeRe   = regexp.MustCompile(`['"]shape['"]\s*:\s*\(([^)]*)\)`)
)

// Read reads one array: its shape (empty for a scalar), element type and raw data.
func Read(r io.Reader) (shape []int, dtype DType, data []byte, err error) {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil {
		return nil, "", nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if string(pre[:6]) != magic {
		return nil, "", nil, fmt.Errorf("%w: no NUMPY magic", ErrFormat)
	}
	var hlen uint32
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, "", nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		hlen = uint32(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, "", nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		hlen = binary.LittleEndian.Uint32(b[:])
	default:
		return nil, "", nil, fmt.Errorf("%w: format version %d.%d", ErrUnsupported, pre[6], pre[7])
	}
	if hlen > maxHeader {
		return nil, "", nil, fmt.Errorf("%w: %d-byte header", ErrFormat, hlen)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, "", nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	shape, dtype, err = parseHeader(string(header))
	if err != nil {
		return nil, "", nil, err
	}
	n, err := byteCount(shape, dtype)
	if err != nil {
		return nil, "", nil, err
	}
	// ReadAll grows with the data actually present, so a lying shape costs nothing.
	data, err = io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, "", nil, fmt.Errorf("%w: data: %w", ErrFormat, err)
	}
	if uint64(len(data)) != n {
		return nil, "", nil, fmt.Errorf("%w: %d data bytes, header says %d", ErrFormat, len(data), n)
	}
	return shape, dtype, data, nil
}

func parseHeader(h string) ([]int, DType, error) {
	d, f, s := descrRe.FindStringSubmatch(h), fortranRe.FindStringSubmatch(h), shapeRe.FindStringSubmatch(h)
	if d == nil || f == nil || s == nil {
		return nil, "", fmt.Errorf("%w: header %q", ErrFormat, h)
	}
	dtype := DType(d[1])
	if len(dtype) == 3 && (dtype[0] == '<' || dtype[0] == '=') && dtype[2] == '1' {
		dtype = "|" + dtype[1:] // single-byte types have no byte order
	}
	if dtype.Size() == 0 {
		return nil, "", fmt.Errorf("%w: dtype %q", ErrUnsupported, d[1])
	}
	if f[1] == "True" {
		return nil, "", fmt.Errorf("%w: Fortran order", ErrUnsupported)
	}
	var shape []int
	for part := range strings.SplitSeq(s[1], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(part, "L"))
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("%w: shape (%s)", ErrFormat, s[1])
		}
		shape = append(shape, n)
	}
	return shape, dtype, nil
}

// byteCount returns the data size for shape and dtype, refusing overflows.
func byteCount(shape []int, dtype DType) (uint64, error) {
	n := uint64(dtype.Size())
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("%w: shape %v overflows", ErrFormat, shape)
		}
		n = lo
	}
	return n, nil
}

// Write writes one array in format 1.0 (2.0 when the header needs it), with the header
// padded to 64 bytes as NumPy does. len(data) must match shape and dtype.
func Write(w io.Writer, shape []int, dtype DType, data []byte) error {
	if dtype.Size() == 0 {
		return fmt.Errorf("%w: dtype %q", ErrUnsupported, dtype)
	}
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("%w: negative dimension in %v", ErrFormat, shape)
		}
	}
	n, err := byteCount(shape, dtype)
	if err != nil {
		return err
	}
	if uint64(len(data)) != n {
		return fmt.Errorf("%w: %d data bytes for shape %v of %s", ErrFormat, len(data), shape, dtype)
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtype, tuple)
	var buf bytes.Buffer
	buf.WriteString(magic)
	lenSize := 2
	if len(dict)+1+10 > math.MaxUint16 {
		lenSize = 4
	}
	total := len(magic) + 2 + lenSize + len(dict) + 1
	pad := (headerAlign - total%headerAlign) % headerAlign
	hlen := len(dict) + pad + 1
	if lenSize == 2 {
		buf.Write([]byte{1, 0})
		_ = binary.Write(&buf, binary.LittleEndian, uint16(hlen))
	} else {
		buf.Write([]byte{2, 0})
		_ = binary.Write(&buf, binary.LittleEndian, uint32(hlen))
	}
	buf.WriteString(dict)
	buf.WriteString(strings.Repeat(" ", pad))
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}
