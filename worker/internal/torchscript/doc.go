// Package torchscript reads TorchScript archives, the zip files torch.jit.save writes
// (torch 1.13 through 2.x), into plain Go values for the graph builder.
//
// # What an Archive holds
//
// [Open] (or [Read]) checks the zip layout and returns an [Archive] with:
//
//   - Module: the root module object unpickled from data.pkl. Every TorchScript module and
//     class instance is an [*Object] whose Attrs hold its attribute dict in the order the
//     pickle declared it (submodules are *Object, parameters and buffers are [*Tensor],
//     plain attributes are Go values, see "Pickle values" below).
//   - Constants: the constants.pkl tuple, indexed by the N of CONSTANTS.cN in code.
//   - Code: every code/**.py file parsed into a [SourceFile] (classes, methods, helper
//     functions), keyed by its qualified module name, e.g.
//     "__torch__.torch.nn.modules.linear.___torch_mangle_3". [Archive.Class] resolves an
//     Object's Class to its [ClassDef].
//
// # Pickle values
//
// Python values map to Go as: int → int64, float → float64, str → string, bool → bool,
// None → nil, bytes → []byte, list → []any (torch.jit._pickle.build_intlist → []int64,
// build_floatlist/build_doublelist → []float64, build_boollist → []bool, build_tensorlist
// → []*Tensor), tuple → [Tuple], dict and collections.OrderedDict → [*Dict] (ordered),
// torch.device → [Device], tensors → [*Tensor], __torch__.* instances → [*Object].
// Values referenced twice in the pickle stay shared (one Go value); cyclic values are
// refused, so consumers may walk values recursively.
//
// # Tensors and memory
//
// Tensor bytes are never copied by Open on Linux: the file is memory-mapped and every
// [Storage] slices its record out of the mapping (records are stored uncompressed, 64-byte
// aligned), so an Archive must stay open (not Closed) while its tensors are in use. [Read]
// from an io.ReaderAt reads each record once into its own buffer. Every storage is checked
// against its record size and every tensor's offset, sizes and strides against its
// storage before an Archive is returned, so consumers may index Storage.Data without
// further bounds checks. Lying size fields never cause allocations beyond the input size.
//
// # Code and positions
//
// Every AST node carries a [Pos] (archive path, line, column) so later stages can report
// "unsupported op aten::foo at code/__torch__/model.py:12:5". Syntax errors are
// [*SyntaxError] values carrying the same position.
//
// # Concurrency
//
// An Archive is read-only after Open returns and may be shared between goroutines; Close
// must not race with readers.
package torchscript
