package tensor

import (
	"fmt"
	"slices"
)

// Tensor is a dense row-major float32 tensor. Data holds exactly Numel(Shape) elements.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape.
func New(shape ...int) (*Tensor, error) {
	n := Numel(shape)
	if n < 0 {
		return nil, fmt.Errorf("%w: %v", ErrShape, shape)
	}
	return &Tensor{Shape: slices.Clone(shape), Data: make([]float32, n)}, nil
}

// FromData wraps data (without copying) as a tensor of the given shape.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	if err := checkLen(len(data), shape); err != nil {
		return nil, err
	}
	return &Tensor{Shape: slices.Clone(shape), Data: data}, nil
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Reshape returns a view of t with a new shape that shares t's data. One size may be -1; it
// is inferred from the others, as torch.reshape does.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	s, err := inferShape(len(t.Data), shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{Shape: s, Data: t.Data}, nil
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
}

// Validate reports whether len(Data) matches Shape.
func (t *Tensor) Validate() error { return checkLen(len(t.Data), t.Shape) }

func checkLen(n int, shape []int) error {
	if m := Numel(shape); m < 0 || m != n {
		return fmt.Errorf("%w: %v does not hold %d elements", ErrShape, shape, n)
	}
	return nil
}

// inferShape resolves one -1 entry of shape so that it holds n elements.
func inferShape(n int, shape []int) ([]int, error) {
	s := slices.Clone(shape)
	free := -1
	prod := 1
	for i, d := range s {
		switch {
		case d == -1 && free < 0:
			free = i
		case d < 0:
			return nil, fmt.Errorf("%w: %v", ErrShape, shape)
		default:
			prod *= d
		}
	}
	if free >= 0 {
		if prod == 0 || n%prod != 0 {
			return nil, fmt.Errorf("%w: cannot view %d elements as %v", ErrShape, n, shape)
		}
		s[free] = n / prod
	}
	if err := checkLen(n, s); err != nil {
		return nil, err
	}
	return s, nil
}
