package torchscript

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureRecords returns the records of the small committed fixture archives whose names
// (relative to the top folder) satisfy keep.
func fixtureRecords(f *testing.F, keep func(name string) bool) [][]byte {
	f.Helper()
	paths, err := filepath.Glob("../../testdata/torch*/*.pt")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	var out [][]byte
	for _, path := range paths {
		zr, err := zip.OpenReader(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, zf := range zr.File {
			_, name, _ := strings.Cut(zf.Name, "/")
			if !keep(name) {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				f.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
		zr.Close()
	}
	return out
}

// touchTensors converts every tensor reachable from v, as a consumer would, visiting
// shared containers once.
func touchTensors(t *testing.T, v any, seen map[any]bool) {
	var key any
	switch x := v.(type) {
	case []any:
		if len(x) > 0 {
			key = &x[0]
		}
	case Tuple:
		if len(x) > 0 {
			key = &x[0]
		}
	case *Dict, *Object:
		key = x
	}
	if key != nil {
		if seen[key] {
			return
		}
		seen[key] = true
	}
	switch x := v.(type) {
	case *Tensor:
		if _, err := x.Float32(); err != nil {
			t.Fatal(err)
		}
	case *Object:
		for _, a := range x.Attrs {
			touchTensors(t, a, seen)
		}
	case []any:
		for _, e := range x {
			touchTensors(t, e, seen)
		}
	case Tuple:
		for _, e := range x {
			touchTensors(t, e, seen)
		}
	case *Dict:
		for _, e := range x.Values {
			touchTensors(t, e, seen)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range []string{"../../testdata/torch26/mlp.pt", "../../testdata/torch113/branch_frozen.pt"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-30])
	}
	good := tensorModule("FloatStorage", 4, 0, []int{2, 2}, []int{2, 1})
	f.Add(buildZip(f, "m", validEntries(good)))
	f.Add(buildZip(f, "m", validEntries(tensorModule("FloatStorage", 5, 0, []int{5}, []int{1}))))
	f.Add(buildZip(f, "m", append(validEntries(good), zipEntry{name: "byteorder", data: []byte("big")})))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := readBytes(b)
		if err != nil {
			return
		}
		touchTensors(t, a.Module, map[any]bool{})
		touchTensors(t, a.Constants, map[any]bool{})
	})
}

func FuzzPickle(f *testing.F) {
	for _, p := range fixtureRecords(f, func(n string) bool { return strings.HasSuffix(n, ".pkl") && !strings.Contains(n, "debug") }) {
		f.Add(p)
	}
	f.Add(tensorModule("FloatStorage", 4, 0, []int{2, 2}, []int{2, 1}))
	f.Add(tensorModule("HalfStorage", 8, 2, []int{3}, []int{2}))
	f.Add(module(func(p *pk) { p.str("d").global("torch", "device").op('(').str("cuda").int(1).op('t', 'R') }))
	f.Add(module(func(p *pk) {
		p.str("l").global("torch.jit._pickle", "build_intlist").op('(', ']', '(').int(1).int(2).op('e', 't', 'R')
	}))
	f.Add([]byte("\x80\x02(K\x01K\x02K\x03d."))                               // dict with an odd number of items
	f.Add([]byte("\x80\x02\x8a\x00."))                                        // zero-length LONG1
	f.Add([]byte("\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a.")) // self-referencing list
	record := make([]byte, 256)
	f.Fuzz(func(t *testing.T, p []byte) {
		u := &unpickler{records: func(string) ([]byte, error) { return record, nil }, dir: "data", storages: map[string]*Storage{}}
		v, err := u.load(p)
		if err != nil {
			return
		}
		touchTensors(t, v, map[any]bool{})
	})
}

func FuzzParseCode(f *testing.F) {
	for _, src := range fixtureRecords(f, func(n string) bool { return strings.HasSuffix(n, ".py") }) {
		f.Add(src)
	}
	for _, tc := range statementCases {
		f.Add([]byte("def f(x: Tensor) -> Tensor:\n" + tc.body))
	}
	for _, tc := range errorCases {
		f.Add([]byte(tc.src))
	}
	f.Add([]byte(classSource))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("code/__torch__/f.py", "__torch__.f", src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "code/__torch__/f.py:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		if file == nil {
			t.Fatal("nil file without error")
		}
	})
}

// TestPickleValues checks the Go values the hooks produce.
func TestPickleValues(t *testing.T) {
	p := module(func(p *pk) {
		p.str("dev").global("torch", "device").op('(').str("cuda").int(1).op('t', 'R')
		p.str("ints").global("torch.jit._pickle", "build_intlist").op('(', ']', '(').int(1).int(2).op('e', 't', 'R')
		p.str("tag").global("torch.jit._pickle", "restore_type_tag").op('(', '}').str("k").int(7).op('s').str("Dict[str, int]").op('t', 'R')
		p.str("tup").op('(').int(1).str("a").op('\x88', 'N', 't')
		p.str("f").op('G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0)
		p.str("half").tensor("HalfStorage", "0", 4, 1, []int{3}, []int{1})
	})
	record := []byte{0, 0, 0, 0x3c, 0, 0xc0, 0, 0x7c} // 0, 1, -2, +inf as float16
	u := &unpickler{records: func(string) ([]byte, error) { return record, nil }, dir: "data", storages: map[string]*Storage{}}
	v, err := u.load(p)
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*Object)
	if o.Attrs["dev"] != Device("cuda:1") {
		t.Errorf("dev = %#v", o.Attrs["dev"])
	}
	if l, ok := o.Attrs["ints"].([]int64); !ok || len(l) != 2 || l[1] != 2 {
		t.Errorf("ints = %#v", o.Attrs["ints"])
	}
	if d, ok := o.Attrs["tag"].(*Dict); !ok {
		t.Errorf("tag = %#v", o.Attrs["tag"])
	} else if v, _ := d.Get("k"); v != int64(7) {
		t.Errorf(`tag["k"] = %#v`, v)
	}
	if tup, ok := o.Attrs["tup"].(Tuple); !ok || len(tup) != 4 || tup[0] != int64(1) || tup[2] != true || tup[3] != nil {
		t.Errorf("tup = %#v", o.Attrs["tup"])
	}
	if o.Attrs["f"] != 1.5 {
		t.Errorf("f = %#v", o.Attrs["f"])
	}
	got, err := o.Tensor("half").Float32()
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != -2 || !(got[2] > 1e38) {
		t.Errorf("half = %v, %v", got, err)
	}
	if _, err := o.Tensor("half").Int64(); err == nil {
		t.Error("Int64 of a float16 tensor should fail")
	}
	if strings.Join(o.Order, ",") != "training,dev,ints,tag,tup,f,half" {
		t.Errorf("order %q", o.Order)
	}
}

func TestHalfToFloat32(t *testing.T) {
	cases := []struct {
		name string
		bits uint16
		want float32
	}{
		{"one", 0x3c00, 1},
		{"minus two", 0xc000, -2},
		{"largest normal", 0x7bff, 65504},
		{"smallest subnormal", 0x0001, 5.960464477539063e-08},
		{"largest subnormal", 0x03ff, 6.097555160522461e-05},
		{"negative zero", 0x8000, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := halfToFloat32(tc.bits); got != tc.want {
				t.Errorf("halfToFloat32(%#04x) = %g, want %g", tc.bits, got, tc.want)
			}
		})
	}
	if f := halfToFloat32(0x7e00); f == f {
		t.Error("0x7e00 is NaN")
	}
}
