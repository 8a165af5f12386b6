package cuda

import (
	"errors"
	"testing"

	"github.com/torchgate/torchgate/worker/cuda/kernels"
	"github.com/torchgate/torchgate/worker/internal/graph"
)

// TestOpCoverage checks that every op of the graph package (the CPU engine's op set) has
// a GPU lowering.
func TestOpCoverage(t *testing.T) {
	n := 0
	for op := graph.Op(0); op.String() != "op?"; op++ {
		n++
		if lowerers[op] == nil {
			t.Errorf("op %s has no GPU lowering", op)
		}
	}
	if n != len(lowerers) {
		t.Errorf("%d graph ops, %d lowerings", n, len(lowerers))
	}
}

// TestLowerFixtures lowers every golden fixture and checks the result's bookkeeping: each
// launch passes as many arguments as its PTX entry takes, every address lies inside its
// space, and every GEMM operand fits in the buffer it reads or writes.
func TestLowerFixtures(t *testing.T) {
	for _, gc := range goldenCases(t) {
		t.Run(gc.name, func(t *testing.T) {
			if gc.large && testing.Short() {
				t.Skip("large model in -short mode")
			}
			low, err := Lower(preparedGraph(t, gc.archive, gc.inputs))
			if err != nil {
				t.Fatal(err)
			}
			checkLowered(t, low)
		})
	}
}

func checkLowered(t *testing.T, low *Lowered) {
	t.Helper()
	const base = 1 << 40
	consts := make([]uintptr, len(low.Consts))
	for i := range consts {
		consts[i] = uintptr(2+i) << 40
	}
	for i, st := range low.Steps {
		switch {
		case st.Kernel != nil:
			k := st.Kernel
			want, err := kernels.ParamCount(k.Name)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if len(k.Args) != want {
				t.Errorf("step %d: %s gets %d arguments, its PTX takes %d", i, k.Name, len(k.Args), want)
			}
			if _, err := low.KernelParams(k, base, consts); err != nil {
				t.Errorf("step %d: %v", i, err)
			}
		case st.Gemm != nil:
			checkGemm(t, i, low, st.Gemm)
		default:
			t.Errorf("step %d is empty", i)
		}
	}
	for _, b := range append(append([]Binding(nil), low.Inputs...), low.Outputs...) {
		if _, err := low.Resolve(b.Ref, base, consts); err != nil {
			t.Errorf("binding %v: %v", b.Shape, err)
		}
	}
}

// checkGemm checks that the last element each operand touches lies in its space.
func checkGemm(t *testing.T, i int, low *Lowered, g *Gemm) {
	t.Helper()
	extent := func(rows, cols, ld int, stride int64) int64 {
		return (int64(g.Batch-1)*stride + int64((rows-1)*ld+cols)) * 4
	}
	ar, ac := g.M, g.K
	if g.TransA {
		ar, ac = ac, ar
	}
	br, bc := g.K, g.N
	if g.TransB {
		br, bc = bc, br
	}
	for _, op := range []struct {
		name string
		ref  Ref
		end  int64
	}{
		{"A", g.A, extent(ar, ac, g.LDA, g.StrideA)},
		{"B", g.B, extent(br, bc, g.LDB, g.StrideB)},
		{"C", g.C, extent(g.M, g.N, g.LDC, g.StrideC)},
	} {
		var size int64
		switch op.ref.Space {
		case SpaceArena:
			size = low.ArenaBytes
		case SpaceScratch:
			size = low.ScratchBytes
		case SpaceConst:
			b, err := hostBytes(low.Consts[op.ref.Index].Data)
			if err != nil {
				t.Fatal(err)
			}
			size = int64(len(b))
		default:
			t.Errorf("step %d: GEMM %s in space %d", i, op.name, op.ref.Space)
			continue
		}
		if op.ref.Off+op.end > size {
			t.Errorf("step %d: GEMM %dx%dx%d operand %s ends at %d, space holds %d", i, g.M, g.N, g.K, op.name, op.ref.Off+op.end, size)
		}
	}
}

func TestLowerErrors(t *testing.T) {
	if _, err := Lower(&graph.Graph{}); !errors.Is(err, errLayout) {
		t.Errorf("graph without plan: err %v, want errLayout", err)
	}
}

func TestResolve(t *testing.T) {
	low := &Lowered{Meta: make([]int64, 3), ArenaBytes: 1000, ScratchBytes: 64}
	const base = 1 << 20
	tests := []struct {
		name string
		ref  Ref
		want uintptr
		err  error
	}{
		{name: "nil operand", ref: Ref{}, want: 0},
		{name: "status word first", ref: Ref{Space: SpaceStatus}, want: base},
		{name: "meta after the status", ref: Ref{Space: SpaceMeta, Off: 8}, want: base + align + 8},
		{name: "arena after the meta", ref: Ref{Space: SpaceArena, Off: 4}, want: base + 2*align + 4},
		{name: "scratch after the arena", ref: Ref{Space: SpaceScratch}, want: base + 2*align + 1024},
		{name: "constant plus offset", ref: Ref{Space: SpaceConst, Index: 1, Off: 8}, want: 7<<30 + 8},
		{name: "arena overrun", ref: Ref{Space: SpaceArena, Off: 1004}, err: errLayout},
		{name: "meta overrun into the arena", ref: Ref{Space: SpaceMeta, Off: 32}, err: errLayout},
		{name: "negative offset", ref: Ref{Space: SpaceScratch, Off: -4}, err: errLayout},
		{name: "missing constant", ref: Ref{Space: SpaceConst, Index: 2}, err: errLayout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := low.Resolve(tc.ref, base, []uintptr{6 << 30, 7 << 30})
			if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
				t.Errorf("Resolve(%+v) = %#x, %v; want %#x, %v", tc.ref, got, err, tc.want, tc.err)
			}
		})
	}
}
