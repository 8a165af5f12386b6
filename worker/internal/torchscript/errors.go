package torchscript

import "errors"

// Sentinel errors; returned errors wrap them (test with errors.Is).
var (
	// ErrFormat reports a malformed archive: bad zip, missing or inconsistent records.
	ErrFormat = errors.New("torchscript: malformed archive")
	// ErrVersion reports an archive format version outside 1–10.
	ErrVersion = errors.New("torchscript: unsupported archive version")
	// ErrByteOrder reports a big-endian archive; only little-endian tensors are supported.
	ErrByteOrder = errors.New("torchscript: unsupported byte order")
	// ErrPickle reports a malformed or unsupported pickle stream (data.pkl, constants.pkl).
	ErrPickle = errors.New("torchscript: bad pickle")
	// ErrUnsupported reports a valid construct this reader does not handle, such as
	// quantized tensors or an unknown storage type.
	ErrUnsupported = errors.New("torchscript: unsupported")
	// ErrTensor reports a tensor whose sizes, strides or offset do not fit its storage.
	ErrTensor = errors.New("torchscript: invalid tensor")
	// ErrSyntax reports code that does not parse; the error is a *SyntaxError.
	ErrSyntax = errors.New("torchscript: syntax error")
	// ErrDType reports a tensor conversion that is not possible (Int64 of a float tensor).
	ErrDType = errors.New("torchscript: unsupported dtype conversion")

	// errNoMmap tells Open that this platform has no file mapping; Open never returns it.
	errNoMmap = errors.New("torchscript: mmap not supported")
)
