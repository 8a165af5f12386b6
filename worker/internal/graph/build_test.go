package graph

import (
	"errors"
	"slices"
	"testing"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

func f32(shape ...int) InputSpec { return InputSpec{Shape: shape, DType: ts.Float32} }

func TestBuildRejectsInputsThatDoNotFit(t *testing.T) {
	tests := []struct {
		name    string
		archive string
		inputs  []InputSpec
		want    error
	}{
		{"no inputs", "torch113/mlp.pt", nil, ErrInput},
		{"two inputs for one", "torch113/mlp.pt", []InputSpec{f32(1, 16), f32(1, 16)}, ErrInput},
		{"wrong feature size", "torch113/mlp_frozen.pt", []InputSpec{f32(1, 15)}, ErrInput},
		{"int64 into a linear layer", "torch26/mlp.pt", []InputSpec{{Shape: []int{1, 16}, DType: ts.Int64}}, ErrInput},
		{"bool dtype", "torch26/mlp.pt", []InputSpec{{Shape: []int{1, 16}, DType: ts.Bool}}, ErrInput},
		{"negative size", "torch26/mlp.pt", []InputSpec{f32(-1, 16)}, ErrInput},
		{"image without batch", "torch113/cnn.pt", []InputSpec{f32(3, 16, 16)}, ErrInput},
		{"wrong channel count", "torch26/cnn_frozen.pt", []InputSpec{f32(1, 4, 16, 16)}, ErrInput},
		{"image too small to pool", "torch26/cnn.pt", []InputSpec{f32(1, 3, 1, 1)}, ErrInput},
		{"wrong embedding size", "torch113/transformer_nograd.pt", []InputSpec{f32(2, 5, 15)}, ErrInput},
		{"traced view of the wrong size", "torch113/transformer.pt", []InputSpec{f32(2, 5, 12)}, ErrInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(open(t, fixtures+tc.archive), tc.inputs)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Build error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBuildSpecialisesPerBatch(t *testing.T) {
	for _, name := range []string{"torch113/transformer.pt", "torch26/transformer_frozen.pt", "torch26/transformer_nograd.pt"} {
		arc := open(t, fixtures+name)
		for _, b := range []int{1, 3, 7} {
			g, err := Build(arc, []InputSpec{f32(b, 5, 16)})
			if err != nil {
				t.Fatalf("%s batch %d: %v", name, b, err)
			}
			if got := g.Outputs[0].Shape; !slices.Equal(got, []int{b, 5, 16}) {
				t.Errorf("%s batch %d: output %v", name, b, got)
			}
		}
	}
}

func TestBuildFollowsScriptedBranch(t *testing.T) {
	arc := open(t, fixtures+"torch113/branch.pt")
	for _, tc := range []struct {
		name  string
		batch int
		op    Op
	}{
		{"batch above one takes the mean branch", 4, OpReduce},
		{"batch of one takes the tanh branch", 1, OpActivation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Build(arc, []InputSpec{f32(tc.batch, 8)})
			if err != nil {
				t.Fatal(err)
			}
			if g.OpCounts()[tc.op.String()] != 1 {
				t.Errorf("ops %v, want one %s", g.OpCounts(), tc.op)
			}
		})
	}
}

func TestPassesFoldAndFuse(t *testing.T) {
	tests := []struct {
		name            string
		archive         string
		input           InputSpec
		folded, fused   int
		wantNoneOf      []Op
		residualLayers  int
		activatedLayers int
	}{
		{"CNN folds both batch norms and fuses both ReLUs", "torch113/cnn.pt", f32(2, 3, 16, 16), 2, 2,
			[]Op{OpBatchNorm, OpActivation}, 0, 2},
		{"frozen CNN was folded by torch", "torch26/cnn_frozen.pt", f32(2, 3, 16, 16), 0, 2, []Op{OpActivation}, 0, 2},
		{"transformer fuses residuals into the projections", "torch26/transformer_nograd.pt", f32(2, 5, 16), 0, 6,
			[]Op{OpBatchNorm}, 4, 2},
		{"MLP fuses its ReLU", "torch113/mlp.pt", f32(3, 16), 0, 1, []Op{OpActivation}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Build(open(t, fixtures+tc.archive), []InputSpec{tc.input})
			if err != nil {
				t.Fatal(err)
			}
			folded, err := FoldBatchNorm(g)
			if err != nil {
				t.Fatal(err)
			}
			fused := Fuse(g)
			if folded != tc.folded || fused != tc.fused {
				t.Errorf("folded %d fused %d, want %d and %d", folded, fused, tc.folded, tc.fused)
			}
			res, act, scaled := 0, 0, 0
			for _, n := range g.Nodes {
				if n.Op == OpConv2d {
					w, a := n.In[1], n.Attr.(Conv2d)
					if w.Source == nil {
						t.Errorf("conv weight %v is not the archive's tensor", w.Shape)
					}
					if a.Scale != nil {
						scaled++
						if len(a.Scale) != w.Shape[0] {
							t.Errorf("%d scales for weight %v", len(a.Scale), w.Shape)
						}
					}
				}
				if slices.Contains(tc.wantNoneOf, n.Op) {
					t.Errorf("%s left after the passes", n.Op)
				}
				if n.Op == OpConv2d || n.Op == OpLinear {
					if len(n.In) == 4 {
						res++
					}
					if epilogueAct(n) != ActNone {
						act++
					}
				}
			}
			if scaled != tc.folded {
				t.Errorf("%d convolutions carry BatchNorm scales, want %d", scaled, tc.folded)
			}
			if res != tc.residualLayers || act != tc.activatedLayers {
				t.Errorf("%d layers with a residual and %d with an activation, want %d and %d", res, act, tc.residualLayers, tc.activatedLayers)
			}
		})
	}
}

// TestPlanMemoryNeverOverlapsLiveBuffers checks the plan against lifetimes computed here.
func TestPlanMemoryNeverOverlapsLiveBuffers(t *testing.T) {
	for _, name := range []string{"torch113/cnn.pt", "torch26/block.pt", "torch113/transformer.pt", "torch26/transformer_nograd_frozen.pt"} {
		t.Run(name, func(t *testing.T) {
			shape := []int{2, 5, 16}
			if name == "torch113/cnn.pt" {
				shape = []int{2, 3, 16, 16}
			}
			g, err := Build(open(t, fixtures+name), []InputSpec{f32(shape...)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := FoldBatchNorm(g); err != nil {
				t.Fatal(err)
			}
			Fuse(g)
			p := PlanMemory(g)
			type span struct{ def, last, off, size int }
			spans := map[int]*span{}
			for i, n := range g.Nodes {
				for _, o := range n.Out {
					if off := p.Offset[o.ID]; off >= 0 {
						spans[o.ID] = &span{def: i, last: i, off: off, size: o.Numel()}
					}
				}
				for _, v := range n.In {
					if v != nil && p.Root[v.ID] != nil {
						if s := spans[p.Root[v.ID].ID]; s != nil {
							s.last = i
						}
					}
				}
			}
			for _, o := range g.Outputs {
				if s := spans[p.Root[o.ID].ID]; s != nil {
					s.last = len(g.Nodes)
				}
			}
			total := 0
			for a, sa := range spans {
				total += sa.size
				if sa.off+sa.size > p.Size {
					t.Errorf("value %d ends past the slab", a)
				}
				for b, sb := range spans {
					live := a < b && sa.def <= sb.last && sb.def <= sa.last
					if live && sa.off < sb.off+sb.size && sb.off < sa.off+sa.size {
						t.Errorf("values %d and %d are live together and overlap", a, b)
					}
				}
			}
			if p.Size >= total+planAlign*len(spans) {
				t.Errorf("slab of %d elements reuses nothing (%d in values)", p.Size, total)
			}
		})
	}
}

func TestScalarArith(t *testing.T) {
	tests := []struct {
		name string
		op   string
		a, b any
		want any
	}{
		{"int floor division rounds down", "//", int64(-7), int64(2), int64(-4)},
		{"int modulo takes the divisor's sign", "%", int64(-7), int64(2), int64(1)},
		{"true division of ints is float", "/", int64(7), int64(2), 3.5},
		{"trunc division of ints", "trunc", int64(-7), int64(2), int64(-3)},
		{"float floor", "floor", -7.0, 2.0, -4.0},
		{"int times float", "*", int64(3), 0.5, 1.5},
		{"bool counts as int", "+", true, int64(2), int64(3)},
		{"int power stays int", "**", int64(2), int64(10), int64(1024)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scalarArith(tc.op, tc.a, tc.b)
			if err != nil || got != tc.want {
				t.Errorf("%v %s %v = %v (%v), want %v", tc.a, tc.op, tc.b, got, err, tc.want)
			}
		})
	}
	if _, err := scalarArith("//", int64(1), int64(0)); !errors.Is(err, ErrModel) {
		t.Errorf("division by zero gave %v", err)
	}
}

// FuzzBuildShapes builds fixture models for arbitrary input shapes: Build must return a
// graph or an error, never panic.
func FuzzBuildShapes(f *testing.F) {
	archives := []string{"torch113/mlp.pt", "torch26/cnn.pt", "torch113/transformer.pt", "torch26/transformer_nograd_frozen.pt", "torch113/branch.pt"}
	f.Add(uint8(0), int8(2), int8(16), int8(0), int8(0))
	f.Add(uint8(1), int8(1), int8(3), int8(8), int8(8))
	f.Add(uint8(2), int8(2), int8(5), int8(16), int8(0))
	f.Add(uint8(3), int8(0), int8(5), int8(16), int8(0))
	f.Add(uint8(4), int8(1), int8(8), int8(-1), int8(0))
	arcs := make([]*ts.Archive, len(archives))
	for i, a := range archives {
		arc, err := ts.Open(fixtures + a)
		if err != nil {
			f.Fatal(err)
		}
		arcs[i] = arc
	}
	f.Fuzz(func(t *testing.T, which uint8, d0, d1, d2, d3 int8) {
		var shape []int
		for _, d := range []int8{d0, d1, d2, d3} {
			if d != -1 {
				shape = append(shape, int(d)%40)
			}
		}
		g, err := Build(arcs[int(which)%len(arcs)], []InputSpec{f32(shape...)})
		if err == nil && len(g.Outputs) == 0 {
			t.Fatal("graph without outputs")
		}
	})
}
