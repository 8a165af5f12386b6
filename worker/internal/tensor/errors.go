package tensor

import "errors"

// Errors returned by this package. Callers match them with errors.Is; the returned errors
// wrap them with the offending shapes.
var (
	// ErrShape reports a shape that is invalid (a negative size) or that does not fit the
	// data or the other operand.
	ErrShape = errors.New("tensor: invalid shape")
	// ErrBroadcast reports shapes that cannot be broadcast together.
	ErrBroadcast = errors.New("tensor: shapes cannot be broadcast")
	// ErrArenaFull reports an arena allocation that does not fit the remaining slab.
	ErrArenaFull = errors.New("tensor: arena exhausted")
)
