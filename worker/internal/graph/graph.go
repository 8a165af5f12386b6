package graph

import (
	"fmt"
	"slices"

	"github.com/torchgate/torchgate/worker/internal/tensor"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// DType is a runtime element type; values are PyTorch's ScalarType numbers. Graph values are
// Float32 (all floating-point data is computed in float32), Int64 (token ids) or Bool (masks).
type DType = torchscript.DType

// Value is one tensor of the graph: a model input, a constant or a node's output.
type Value struct {
	// ID numbers the values of one graph from 0.
	ID int
	// Shape is the value's concrete shape.
	Shape []int
	// DType is Float32, Int64 or Bool.
	DType DType
	// Const holds the data of a constant: *tensor.Tensor, *tensor.Int64 or *tensor.Bool.
	// It is nil for values computed at run time.
	Const any
	// Source is the archive tensor a constant holds unchanged (converted to float32 or
	// int64), or nil. Graphs built from one archive give equal data for equal Sources, so
	// backends may key work derived from constants (packed weights) by it.
	Source *torchscript.Tensor
	// Producer is the node computing the value; nil for inputs and constants.
	Producer *Node
	// Input is the index of the model input the value is, or -1.
	Input int
}

// Numel returns the number of elements.
func (v *Value) Numel() int { return tensor.Numel(v.Shape) }

// IsConst reports whether the value is a constant.
func (v *Value) IsConst() bool { return v.Const != nil }

// Float32 returns the data of a Float32 constant, or nil.
func (v *Value) Float32() *tensor.Tensor {
	t, _ := v.Const.(*tensor.Tensor)
	return t
}

// Node is one operation: Op reads In (an entry may be nil for an absent optional operand)
// and writes Out. Attr holds the op's parameters (see the Op constants for its type).
type Node struct {
	Op   Op
	In   []*Value
	Out  []*Value
	Attr any
	// Pos is where the code calls the op.
	Pos torchscript.Pos
}

// Graph is a straight-line program over values with concrete shapes.
type Graph struct {
	// Inputs are the model inputs in forward's argument order.
	Inputs []*Value
	// Outputs are the values forward returns (a tuple gives several).
	Outputs []*Value
	// Nodes run in order.
	Nodes []*Node
	// Plan is set by PlanMemory.
	Plan *MemoryPlan

	nextID int
}

// newValue adds a runtime value of the given shape and dtype.
func (g *Graph) newValue(shape []int, dt DType) *Value {
	v := &Value{ID: g.nextID, Shape: slices.Clone(shape), DType: dt, Input: -1}
	g.nextID++
	return v
}

// newConst adds a constant value holding t (*tensor.Tensor, *tensor.Int64 or *tensor.Bool).
func (g *Graph) newConst(t any) *Value {
	var v *Value
	switch c := t.(type) {
	case *tensor.Tensor:
		v = g.newValue(c.Shape, torchscript.Float32)
	case *tensor.Int64:
		v = g.newValue(c.Shape, torchscript.Int64)
	case *tensor.Bool:
		v = g.newValue(c.Shape, torchscript.Bool)
	default:
		panic(fmt.Sprintf("graph: newConst of %T", t)) // programming error inside this package
	}
	v.Const = t
	return v
}

// NumValues returns one more than the largest value ID.
func (g *Graph) NumValues() int { return g.nextID }

// add appends a node computing outputs of the given shapes (all of dtype dt).
func (g *Graph) add(op Op, pos torchscript.Pos, attr any, in []*Value, dt DType, shapes ...[]int) *Node {
	n := &Node{Op: op, In: in, Attr: attr, Pos: pos}
	for _, s := range shapes {
		v := g.newValue(s, dt)
		v.Producer = n
		n.Out = append(n.Out, v)
	}
	g.Nodes = append(g.Nodes, n)
	return n
}

// OpCounts returns how many nodes of each op the graph runs.
func (g *Graph) OpCounts() map[string]int {
	m := map[string]int{}
	for _, n := range g.Nodes {
		m[n.Op.String()]++
	}
	return m
}

// uses counts, for every value ID, the nodes reading it plus one if it is an output.
func (g *Graph) uses() []int {
	u := make([]int, g.nextID)
	for _, n := range g.Nodes {
		for _, in := range n.In {
			if in != nil {
				u[in.ID]++
			}
		}
	}
	for _, o := range g.Outputs {
		u[o.ID]++
	}
	return u
}
