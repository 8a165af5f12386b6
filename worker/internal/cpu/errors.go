package cpu

import "errors"

// Errors returned by the kernels. Returned errors wrap them with the offending shapes or
// values; match them with errors.Is.
var (
	// ErrShape reports operands whose shapes do not fit the kernel or each other.
	ErrShape = errors.New("cpu: shape mismatch")
	// ErrArgument reports an invalid parameter (a stride of 0, an unknown mode, a dim out of
	// range).
	ErrArgument = errors.New("cpu: invalid argument")
	// ErrIndex reports an index out of range, such as a token id outside an embedding table.
	ErrIndex = errors.New("cpu: index out of range")
	// ErrClosed reports a call on an Engine after Close.
	ErrClosed = errors.New("cpu: engine closed")
)
