package torchscript

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// manifest is what worker/testdata/gen.py writes next to the archives.
type manifest struct {
	Torch    string `json:"torch"`
	Archives []struct {
		Archive      string               `json:"archive"`
		Kind         string               `json:"kind"`
		Frozen       bool                 `json:"frozen"`
		Params       map[string]paramStat `json:"params"`
		ConstantSums []float64            `json:"constant_sums"`
	} `json:"archives"`
}

type paramStat struct {
	Shape  []int     `json:"shape"`
	Stride []int     `json:"stride"`
	Offset int       `json:"offset"`
	DType  string    `json:"dtype"`
	Sum    float64   `json:"sum"`
	First  float64   `json:"first"`
	Values []float64 `json:"values"`
}

// fixtureDirs lists the generated fixture folders: the committed small ones and, when
// gen.py --large has been run, the ResNets under the ignored gen/ folder.
func fixtureDirs(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob("../../testdata/torch*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures under worker/testdata (run gen.py): %v", err)
	}
	large, _ := filepath.Glob("../../testdata/gen/torch*")
	return append(dirs, large...)
}

func readManifest(t *testing.T, dir string) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFixturesMatchPyTorch(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		m := readManifest(t, dir)
		for _, entry := range m.Archives {
			t.Run(filepath.Base(dir)+"/"+entry.Archive, func(t *testing.T) {
				path := filepath.Join(dir, entry.Archive)
				a, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				if want := strings.TrimSuffix(entry.Archive, ".pt"); a.Name != want {
					t.Errorf("Name = %q, want %q", a.Name, want)
				}
				checkModuleTree(t, a)
				for name, want := range entry.Params {
					tensor := lookupTensor(t, a.Module, name)
					if tensor == nil {
						continue
					}
					checkTensor(t, name, tensor, want)
				}
				if entry.Frozen {
					checkConstantSums(t, a, entry.ConstantSums)
				}
			})
		}
	}
}

// checkModuleTree checks that every object in the module tree has its class in Code and
// that every declared parameter and buffer is a tensor attribute.
func checkModuleTree(t *testing.T, a *Archive) {
	t.Helper()
	var walk func(path string, o *Object)
	walk = func(path string, o *Object) {
		c, ok := a.Class(o.Class)
		if !ok {
			t.Errorf("%s: class %s has no code", path, o.Class)
			return
		}
		// Traced submodules may lack forward (their calls are inlined), the root never does.
		if _, ok := c.Method("forward"); !ok && path == "root" {
			t.Errorf("%s: class %s has no forward", path, o.Class)
		}
		for _, name := range slices.Concat(c.Parameters, c.Buffers) {
			if o.Tensor(name) == nil {
				if v, ok := o.Attr(name); !ok || v != nil { // an unset bias is None
					t.Errorf("%s.%s: declared tensor is %T", path, name, v)
				}
			}
		}
		for _, name := range o.Order {
			if sub := o.Module(name); sub != nil {
				walk(path+"."+name, sub)
			}
		}
	}
	walk("root", a.Module)
}

func lookupTensor(t *testing.T, root *Object, dotted string) *Tensor {
	t.Helper()
	parts := strings.Split(dotted, ".")
	o := root
	for _, p := range parts[:len(parts)-1] {
		if o = o.Module(p); o == nil {
			t.Errorf("%s: no submodule %q", dotted, p)
			return nil
		}
	}
	tensor := o.Tensor(parts[len(parts)-1])
	if tensor == nil {
		t.Errorf("%s: not a tensor attribute", dotted)
	}
	return tensor
}

func checkTensor(t *testing.T, name string, got *Tensor, want paramStat) {
	t.Helper()
	if got.DType.String() != want.DType || !slices.Equal(got.Shape, want.Shape) ||
		!slices.Equal(got.Strides, want.Stride) || got.Offset != want.Offset {
		t.Errorf("%s: %s%v strides %v offset %d, want %s%v strides %v offset %d", name,
			got.DType, got.Shape, got.Strides, got.Offset, want.DType, want.Shape, want.Stride, want.Offset)
		return
	}
	vals, err := got.Float32()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var sum float64
	for _, v := range vals {
		sum += float64(v)
	}
	if !closeTo(sum, want.Sum, 1e-4*float64(len(vals))) {
		t.Errorf("%s: sum %g, want %g", name, sum, want.Sum)
	}
	if len(vals) > 0 && !closeTo(float64(vals[0]), want.First, 1e-6) {
		t.Errorf("%s: first %g, want %g", name, vals[0], want.First)
	}
	for i, w := range want.Values {
		if !closeTo(float64(vals[i]), w, 1e-6) {
			t.Errorf("%s[%d] = %g, want %g", name, i, vals[i], w)
		}
	}
	if !got.DType.IsFloat() {
		ints, err := got.Int64()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, w := range want.Values {
			if float64(ints[i]) != w {
				t.Errorf("%s Int64[%d] = %d, want %g", name, i, ints[i], w)
			}
		}
	}
}

func checkConstantSums(t *testing.T, a *Archive, want []float64) {
	t.Helper()
	var got []float64
	for _, c := range a.Constants {
		if tensor, ok := c.(*Tensor); ok {
			vals, err := tensor.Float32()
			if err != nil {
				t.Fatal(err)
			}
			var s float64
			for _, v := range vals {
				s += float64(v)
			}
			got = append(got, s)
		}
	}
	slices.Sort(got)
	if len(got) != len(want) {
		t.Fatalf("%d tensor constants, want %d", len(got), len(want))
	}
	for i := range got {
		if !closeTo(got[i], want[i], 1e-3*math.Max(1, math.Abs(want[i]))) {
			t.Errorf("constant sums %v, want %v", got, want)
			return
		}
	}
}

func closeTo(a, b, tol float64) bool { return math.Abs(a-b) <= tol+1e-6*math.Abs(b) }

// TestReadMatchesOpen checks that the ReaderAt path (no mmap) sees the same tensors.
func TestReadMatchesOpen(t *testing.T) {
	path := "../../testdata/torch26/dtypes.pt"
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b, err := Read(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range a.Module.Order {
		ta, tb := a.Module.Tensor(name), b.Module.Tensor(name)
		if (ta == nil) != (tb == nil) {
			t.Fatalf("%s: tensor in one reader only", name)
		}
		if ta == nil {
			continue
		}
		va, _ := ta.Float32()
		vb, _ := tb.Float32()
		if !slices.Equal(va, vb) {
			t.Errorf("%s: Open %v, Read %v", name, va, vb)
		}
	}
}

// TestSharedStorage checks that a view and its base share one Storage, as in torch.
func TestSharedStorage(t *testing.T) {
	a, err := Open("../../testdata/torch113/dtypes.pt")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	whole, view := a.Module.Tensor("whole"), a.Module.Tensor("view")
	if whole.Storage != view.Storage || view.Offset != 5 {
		t.Fatalf("view storage %p offset %d, whole storage %p", view.Storage, view.Offset, whole.Storage)
	}
	if v, ok := view.Float32View(); !ok || !slices.Equal(v, []float32{5, 6, 7, 8, 9, 10}) {
		t.Errorf("Float32View of the offset view = %v, %v", v, ok)
	}
	if _, ok := a.Module.Tensor("strided").Float32View(); ok {
		t.Error("Float32View of a transposed tensor should fail")
	}
	got, ok := whole.Float32View()
	if !ok || len(got) != 20 || got[7] != 7 {
		t.Errorf("Float32View = %v, %v", got, ok)
	}
}

func TestClassLookup(t *testing.T) {
	a, err := Open("../../testdata/torch26/syntax.pt")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c, ok := a.Class(a.Module.Class)
	if !ok {
		t.Fatalf("no class %s", a.Module.Class)
	}
	k, ok := c.Attr("k")
	if !ok || !k.Final || k.Value.(*ConstExpr).Value != int64(3) {
		t.Errorf("k = %+v", k)
	}
	fn, ok := a.Function("__torch__.scripted_helper")
	if !ok || len(fn.Params) != 2 || fn.Params[1].Name != "n" {
		t.Errorf("scripted_helper = %+v, %v", fn, ok)
	}
	if _, ok := a.Class("__torch__.Nope"); ok {
		t.Error("found a class that does not exist")
	}
	if d, ok := a.Module.Attrs["d"].(*Dict); !ok || d.Len() != 1 {
		t.Errorf("d = %#v", a.Module.Attrs["d"])
	} else if v, _ := d.Get("a"); v != int64(1) {
		t.Errorf(`d["a"] = %v`, v)
	}
	if l, ok := a.Module.Attrs["l"].([]int64); !ok || !slices.Equal(l, []int64{1, 2}) {
		t.Errorf("l = %#v", a.Module.Attrs["l"])
	}
	if v := a.Module.Attrs["training"]; v != false {
		t.Errorf("training = %v", v)
	}
}
