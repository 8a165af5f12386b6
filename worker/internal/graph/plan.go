package graph

import "github.com/torchgate/torchgate/worker/internal/torchscript"

// planAlign is the buffer alignment in float32 elements (64 bytes).
const planAlign = 16

// MemoryPlan places every runtime Float32 value in one slab. Values whose buffers are not
// planned (inputs, constants, Int64 and Bool values) have Offset -1; a reshape shares its
// source's buffer (Root).
type MemoryPlan struct {
	// Offset is each value's element offset in the slab, by value ID, or -1.
	Offset []int
	// Root is, by value ID, the value whose buffer the value uses (itself unless a reshape).
	Root []*Value
	// Size is the slab size in elements.
	Size int
}

// PlanMemory assigns slab offsets so that values whose lifetimes do not overlap share
// memory. A node's outputs never share memory with its inputs.
func PlanMemory(g *Graph) *MemoryPlan {
	n := g.NumValues()
	p := &MemoryPlan{Offset: make([]int, n), Root: make([]*Value, n)}
	for i := range p.Offset {
		p.Offset[i] = -1
	}
	root := func(v *Value) *Value {
		for v.Producer != nil && v.Producer.Op == OpReshape {
			v = v.Producer.In[0]
		}
		return v
	}
	last := make([]int, n) // last node index reading a root's buffer
	for i, nd := range g.Nodes {
		for _, v := range append(nd.In, nd.Out...) {
			if v != nil {
				r := root(v)
				p.Root[v.ID] = r
				last[r.ID] = i
			}
		}
	}
	for _, v := range append(g.Inputs, g.Outputs...) {
		p.Root[v.ID] = root(v)
	}
	for _, o := range g.Outputs {
		last[root(o).ID] = len(g.Nodes)
	}
	type block struct{ off, size, id int }
	var live []block // sorted by offset
	alloc := func(id, size int) int {
		off := 0
		at := len(live)
		for i, b := range live {
			if b.off-off >= size {
				at = i
				break
			}
			off = b.off + b.size
		}
		live = append(live[:at], append([]block{{off, size, id}}, live[at:]...)...)
		p.Size = max(p.Size, off+size)
		return off
	}
	for i, nd := range g.Nodes {
		for _, o := range nd.Out {
			if nd.Op == OpReshape || o.DType != torchscript.Float32 {
				continue
			}
			size := (o.Numel() + planAlign - 1) / planAlign * planAlign
			p.Offset[o.ID] = alloc(o.ID, max(size, planAlign))
		}
		kept := live[:0]
		for _, b := range live {
			if last[b.id] > i {
				kept = append(kept, b)
			}
		}
		live = kept
	}
	return p
}
