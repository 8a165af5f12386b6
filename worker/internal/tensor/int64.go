package tensor

import (
	"fmt"
	"slices"
)

// Int64 is a dense row-major int64 tensor, used for token ids and index inputs.
type Int64 struct {
	Shape []int
	Data  []int64
}

// NewInt64 wraps data (without copying) as an int64 tensor of the given shape.
func NewInt64(data []int64, shape ...int) (*Int64, error) {
	if err := checkLen(len(data), shape); err != nil {
		return nil, err
	}
	return &Int64{Shape: slices.Clone(shape), Data: data}, nil
}

// Validate reports whether len(Data) matches Shape.
func (t *Int64) Validate() error { return checkLen(len(t.Data), t.Shape) }

// Bool is a dense row-major boolean tensor: comparison results and attention masks.
type Bool struct {
	Shape []int
	Data  []bool
}

// NewBool returns a false-filled boolean tensor of the given shape.
func NewBool(shape ...int) (*Bool, error) {
	n := Numel(shape)
	if n < 0 {
		return nil, fmt.Errorf("%w: %v", ErrShape, shape)
	}
	return &Bool{Shape: slices.Clone(shape), Data: make([]bool, n)}, nil
}

// Validate reports whether len(Data) matches Shape.
func (t *Bool) Validate() error { return checkLen(len(t.Data), t.Shape) }
