// Package tensor holds the dense, row-major tensors the worker's kernels read and write.
//
// A [Tensor] is float32 data with a shape; [Int64] carries token ids and [Bool] carries masks
// (the results of comparisons). All three are plain structs: Shape lists the sizes of the
// dimensions, outermost first, and Data holds exactly Numel(Shape) elements in row-major
// order. A zero-dimensional tensor (empty Shape) is a scalar with one element.
//
// Shape helpers ([Numel], [Strides], [BroadcastShapes]) follow NumPy/PyTorch rules. Reshape
// returns a view that shares Data. An [Arena] hands out tensors from one preallocated slab so a
// warmed-up model runs without allocating; the memory plan decides the offsets.
//
// Tensors carry no locks: callers that share one between goroutines synchronise themselves.
package tensor
