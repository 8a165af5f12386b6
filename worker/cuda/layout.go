package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/torchgate/torchgate/worker/cuda/kernels"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// Space is the device memory a Ref points into.
type Space uint8

// Spaces. Status, Meta, Arena and Scratch are regions of the program's one pool block
// (see Lowered.Layout); constants are uploaded once per backend.
const (
	// SpaceNone is an absent operand (a nil pointer).
	SpaceNone Space = iota
	// SpaceArena holds runtime values: the memory plan's slab, the model inputs and the
	// bool values; Off is in bytes.
	SpaceArena
	// SpaceScratch holds one step's temporaries (im2col columns, attention scores); Off is
	// in bytes, and every step may reuse it from 0.
	SpaceScratch
	// SpaceMeta holds the int64 shape and stride words of the kernels; Off is in bytes.
	SpaceMeta
	// SpaceConst is an uploaded constant: Index in Lowered.Consts, Off bytes into it.
	SpaceConst
	// SpaceStatus is the program's int32 status word (set by a kernel on bad input).
	SpaceStatus
	numSpaces
)

// Ref locates a device buffer: Off bytes into a space, or into constant Index.
type Ref struct {
	Space Space
	Index int
	Off   int64
}

// plus returns r moved by n bytes.
func (r Ref) plus(n int64) Ref {
	r.Off += n
	return r
}

// argKind tells what an Arg passes.
type argKind uint8

const (
	argPtr argKind = iota
	argInt
	argFloat
)

// Arg is one kernel parameter: a device pointer, a long long or a double.
type Arg struct {
	kind argKind
	ref  Ref
	i    int64
	f    float64
}

func ptr(r Ref) Arg     { return Arg{kind: argPtr, ref: r} }
func i64(v int) Arg     { return Arg{kind: argInt, i: int64(v)} }
func f64(v float64) Arg { return Arg{kind: argFloat, f: v} }

// Kernel is one kernel launch.
type Kernel struct {
	Name   kernels.Name
	Launch kernels.Launch
	Args   []Arg
}

// Step is one thing the stream runs: exactly one of Kernel and Gemm is set.
type Step struct {
	Kernel *Kernel
	Gemm   *Gemm
	// Node is the graph node the step belongs to (for error positions).
	Node *graph.Node
}

// Binding places a model input or output.
type Binding struct {
	Ref   Ref
	DType graph.DType
	Shape []int
	// Bytes is the size of the data.
	Bytes int64
}

// Const is a constant a program reads: host data to upload and the key under which a
// backend shares the upload between the programs of one model.
type Const struct {
	// Data is a *tensor.Tensor, *tensor.Int64 or *tensor.Bool.
	Data any
	Key  ConstKey
}

// ConstKey identifies a constant's device copy: the archive tensor it comes from (equal
// across graphs built from one archive), else its host data (the key keeps it alive, so
// its address is not reused while cached); plus a hash of the per-channel scale applied
// to it (0: none).
type ConstKey struct {
	Source *torchscript.Tensor
	Data   unsafe.Pointer
	Scale  uint64
}

// Lowered is a graph lowered for the GPU: every address is a Ref, resolved to device
// pointers once the program's block and the constants exist.
type Lowered struct {
	Steps []Step
	// Consts are the constants to upload, by SpaceConst index.
	Consts []Const
	// Meta are the shape/stride words, uploaded into SpaceMeta.
	Meta []int64
	// ArenaBytes, ScratchBytes: the sizes of those spaces.
	ArenaBytes, ScratchBytes int64
	Inputs, Outputs          []Binding
}

// align is the alignment of every region and buffer in bytes.
const align = 256

func alignUp(n int64) int64 { return (n + align - 1) / align * align }

// Layout returns the byte offsets of the spaces in the program's one block (status,
// meta, arena, scratch in that order) and the block's size.
func (l *Lowered) Layout() (offsets [numSpaces]int64, size int64) {
	size = align // the status word
	offsets[SpaceStatus] = 0
	offsets[SpaceMeta] = size
	size += alignUp(int64(len(l.Meta)) * 8)
	offsets[SpaceArena] = size
	size += alignUp(l.ArenaBytes)
	offsets[SpaceScratch] = size
	size += alignUp(l.ScratchBytes)
	return offsets, size
}

// Resolve turns a Ref into a device address, given the program block's base and the
// constants' addresses (by index).
func (l *Lowered) Resolve(r Ref, base uintptr, consts []uintptr) (uintptr, error) {
	offsets, _ := l.Layout()
	sizes := [numSpaces]int64{SpaceStatus: 4, SpaceMeta: int64(len(l.Meta)) * 8, SpaceArena: l.ArenaBytes, SpaceScratch: l.ScratchBytes}
	switch r.Space {
	case SpaceNone:
		return 0, nil
	case SpaceConst:
		if r.Index < 0 || r.Index >= len(consts) || r.Off < 0 {
			return 0, fmt.Errorf("%w: constant %d of %d", errLayout, r.Index, len(consts))
		}
		return consts[r.Index] + uintptr(r.Off), nil
	case SpaceArena, SpaceScratch, SpaceMeta, SpaceStatus:
		if r.Off < 0 || r.Off > sizes[r.Space] { // one past the end: an empty buffer
			return 0, fmt.Errorf("%w: offset %d in space %d of %d bytes", errLayout, r.Off, r.Space, sizes[r.Space])
		}
		return base + uintptr(offsets[r.Space]+r.Off), nil
	}
	return 0, fmt.Errorf("%w: space %d", errLayout, r.Space)
}

// KernelParams resolves a kernel's arguments to the 8-byte words cuLaunchKernel reads.
func (l *Lowered) KernelParams(k *Kernel, base uintptr, consts []uintptr) ([]uint64, error) {
	out := make([]uint64, len(k.Args))
	for i, a := range k.Args {
		switch a.kind {
		case argPtr:
			p, err := l.Resolve(a.ref, base, consts)
			if err != nil {
				return nil, fmt.Errorf("%s argument %d: %w", k.Name, i, err)
			}
			out[i] = uint64(p)
		case argInt:
			out[i] = uint64(a.i)
		case argFloat:
			out[i] = math.Float64bits(a.f)
		}
	}
	return out, nil
}
