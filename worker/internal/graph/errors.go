package graph

import (
	"errors"
	"fmt"
	"strings"

	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// Sentinel errors; returned errors wrap them (test with errors.Is).
var (
	// ErrUnsupported reports ops or constructs this package cannot build; the error is an
	// *UnsupportedError listing all of them.
	ErrUnsupported = errors.New("graph: unsupported")
	// ErrInput reports inputs that do not fit the model: wrong count, dtype or shape.
	ErrInput = errors.New("graph: invalid input")
	// ErrModel reports a model that cannot be built for the given inputs: an exception
	// raised by its code, a failed assert, arguments an op rejects.
	ErrModel = errors.New("graph: invalid model")
)

// Unsupported is one unsupported op or construct and where the code uses it.
type Unsupported struct {
	// What names it: "aten::foo", "ops.prim.Bar", "while loop", ...
	What string
	// Pos is its position in the archive's code.
	Pos torchscript.Pos
}

// UnsupportedError lists every unsupported op or construct an archive uses.
type UnsupportedError struct {
	Items []Unsupported
}

// Error lists the items one per line with their positions.
func (e *UnsupportedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: %d unsupported ops or constructs:", len(e.Items))
	for _, it := range e.Items {
		fmt.Fprintf(&b, "\n  %s at %s", it.What, it.Pos)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// posError attaches a code position to a build error.
func posError(pos torchscript.Pos, err error) error {
	return fmt.Errorf("%s: %w", pos, err)
}
