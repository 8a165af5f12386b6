package torchscript

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// pk builds pickle streams (protocol 2) for tests.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	_ = binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int) *pk {
	p.WriteByte('J')
	_ = binary.Write(&p.Buffer, binary.LittleEndian, int32(n))
	return p
}

func (p *pk) global(module, name string) *pk {
	fmt.Fprintf(&p.Buffer, "c%s\n%s\n", module, name)
	return p
}

func (p *pk) ints(ns ...int) *pk {
	p.op('(')
	for _, n := range ns {
		p.int(n)
	}
	return p.op('t')
}

// tensor pushes _rebuild_tensor_v2 over a persistent storage id.
func (p *pk) tensor(storage, key string, numel, offset int, shape, stride []int) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", storage).str(key).str("cpu").int(numel).op('t', 'Q')
	p.int(offset).ints(shape...).ints(stride...).op('\x89').global("collections", "OrderedDict").op(')', 'R', 't', 'R')
	return p
}

// module wraps attribute pushes (name, value pairs) into a __torch__.M object and STOP.
func module(attrs func(p *pk)) []byte {
	p := &pk{}
	p.op('\x80', 2).global("__torch__", "M").op(')', '\x81', '}', '(')
	p.str("training").op('\x89')
	attrs(p)
	p.op('u', 'b', '.')
	return p.Bytes()
}

// zipEntry is one record of a test archive, relative to its top folder.
type zipEntry struct {
	name   string
	data   []byte
	method uint16
}

// buildZip writes entries under top/ with Go's zip writer (which emits data descriptors).
func buildZip(t testing.TB, top string, entries []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		f, err := w.CreateHeader(&zip.FileHeader{Name: top + "/" + e.name, Method: e.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const minimalCode = "class M(Module):\n  __parameters__ = []\n  __buffers__ = [\"w\", ]\n  w : Tensor\n  training : bool\n  def forward(self: __torch__.M, x: Tensor) -> Tensor:\n    return torch.add(x, self.w)\n"

// validEntries is a minimal well-formed archive with one float tensor "w" of 4 elements.
func validEntries(pickle []byte) []zipEntry {
	return []zipEntry{
		{name: "data.pkl", data: pickle},
		{name: "code/__torch__.py", data: []byte(minimalCode), method: zip.Deflate},
		{name: "data/0", data: make([]byte, 16)},
		{name: "version", data: []byte("3\n")},
	}
}

func tensorModule(storage string, numel, offset int, shape, stride []int) []byte {
	return module(func(p *pk) { p.str("w").tensor(storage, "0", numel, offset, shape, stride) })
}

func replace(entries []zipEntry, name string, data []byte) []zipEntry {
	out := []zipEntry{}
	for _, e := range entries {
		if e.name == name {
			if data == nil {
				continue
			}
			e.data = data
		}
		out = append(out, e)
	}
	return out
}

func readBytes(b []byte) (*Archive, error) { return Read(bytes.NewReader(b), int64(len(b))) }

func TestReadMinimal(t *testing.T) {
	a, err := readBytes(buildZip(t, "m", validEntries(tensorModule("FloatStorage", 4, 0, []int{2, 2}, []int{2, 1}))))
	if err != nil {
		t.Fatal(err)
	}
	w := a.Module.Tensor("w")
	if a.Name != "m" || a.Version != 3 || w == nil || w.Numel() != 4 || a.Module.Class != "__torch__.M" {
		t.Fatalf("archive %+v, w %+v", a, w)
	}
	if _, ok := a.Class("__torch__.M"); !ok {
		t.Error("class M not found")
	}
}

// TestReadLayoutVariants covers what torch 2.x adds: .data/version (preferred over
// version), byteorder, serialization id, traced inputs and extra files, plus a storage
// typed by a dtype instead of a legacy storage class.
func TestReadLayoutVariants(t *testing.T) {
	p := module(func(p *pk) { p.str("w").tensor("bfloat16", "0", 8, 0, []int{8}, []int{1}) })
	entries := append(validEntries(p),
		zipEntry{name: ".data/version", data: []byte("7\n")},
		zipEntry{name: "byteorder", data: []byte("little")},
		zipEntry{name: ".data/serialization_id", data: []byte("1234")},
		zipEntry{name: "traced_inputs.pkl", data: []byte("not a pickle")},
		zipEntry{name: "extra/notes.txt", data: []byte("hello")},
		zipEntry{name: "code/__torch__.py.debug_pkl", data: []byte("junk")},
	)
	a, err := readBytes(buildZip(t, "model_v2", entries))
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "model_v2" || a.Version != 7 {
		t.Errorf("name %q version %d", a.Name, a.Version)
	}
	if w := a.Module.Tensor("w"); w == nil || w.DType != BFloat16 || w.Numel() != 8 {
		t.Errorf("w = %+v", w)
	}
}

func TestReadMalformed(t *testing.T) {
	good := tensorModule("FloatStorage", 4, 0, []int{2, 2}, []int{2, 1})
	mlp, err := os.ReadFile("../../testdata/torch26/mlp.pt")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		archive []byte
		want    error
		msg     string
	}{
		{"truncated zip", mlp[:len(mlp)/2], ErrFormat, "zip"},
		{"empty input", nil, ErrFormat, ""},
		{"missing data.pkl", buildZip(t, "m", replace(validEntries(good), "data.pkl", nil)), ErrFormat, "data.pkl"},
		{"missing version", buildZip(t, "m", replace(validEntries(good), "version", nil)), ErrFormat, "version"},
		{"version 0", buildZip(t, "m", replace(validEntries(good), "version", []byte("0"))), ErrVersion, ""},
		{"version 11", buildZip(t, "m", replace(validEntries(good), "version", []byte("11\n"))), ErrVersion, ""},
		{"version not a number", buildZip(t, "m", replace(validEntries(good), "version", []byte("three"))), ErrFormat, "version"},
		{"big endian", buildZip(t, "m", append(validEntries(good), zipEntry{name: "byteorder", data: []byte("big")})), ErrByteOrder, ""},
		{"unknown byte order", buildZip(t, "m", append(validEntries(good), zipEntry{name: "byteorder", data: []byte("middle")})), ErrFormat, "byteorder"},
		{"storage numel larger than record", buildZip(t, "m", validEntries(tensorModule("FloatStorage", 5, 0, []int{5}, []int{1}))), ErrFormat, "claims 5"},
		{"huge storage numel", buildZip(t, "m", validEntries(tensorModule("DoubleStorage", 1<<30, 0, []int{1}, []int{1}))), ErrFormat, "claims"},
		{"shape past storage", buildZip(t, "m", validEntries(tensorModule("FloatStorage", 4, 0, []int{3, 2}, []int{2, 1}))), ErrTensor, ""},
		{"offset past storage", buildZip(t, "m", validEntries(tensorModule("FloatStorage", 4, 3, []int{2}, []int{1}))), ErrTensor, ""},
		{"negative stride", buildZip(t, "m", validEntries(tensorModule("FloatStorage", 4, 3, []int{2}, []int{-1}))), ErrTensor, ""},
		{"huge stride", buildZip(t, "m", validEntries(tensorModule("FloatStorage", 4, 0, []int{2}, []int{1 << 30}))), ErrTensor, ""},
		{"huge broadcast", buildZip(t, "m", validEntries(tensorModule("FloatStorage", 4, 0, []int{1 << 20, 1 << 20}, []int{0, 0}))), ErrTensor, "elements"},
		{"sizes and strides differ", buildZip(t, "m", validEntries(tensorModule("FloatStorage", 4, 0, []int{2, 2}, []int{1}))), ErrTensor, ""},
		{"missing tensor record", buildZip(t, "m", replace(validEntries(good), "data/0", nil)), ErrFormat, "data/0"},
		{"unknown storage", buildZip(t, "m", validEntries(tensorModule("ComplexFloatStorage", 1, 0, []int{1}, []int{1}))), ErrUnsupported, "ComplexFloatStorage"},
		{"quantized tensor", buildZip(t, "m", validEntries(module(func(p *pk) {
			p.str("q").global("torch._utils", "_rebuild_qtensor").op(')', 'R')
		}))), ErrUnsupported, "_rebuild_qtensor"},
		{"data.pkl not a module", buildZip(t, "m", replace(validEntries(good), "data.pkl", []byte("\x80\x02K\x01."))), ErrFormat, "not a module"},
		{"pickle length past end", buildZip(t, "m", replace(validEntries(good), "data.pkl", []byte("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x7f."))), ErrPickle, "past the end"},
		{"pickle frame past end", buildZip(t, "m", replace(validEntries(good), "data.pkl", []byte("\x80\x04\x95\x00\x00\x00\x00\x01\x00\x00\x00."))), ErrPickle, "frame"},
		{"pickle without stop", buildZip(t, "m", replace(validEntries(good), "data.pkl", good[:len(good)-1])), ErrPickle, "STOP"},
		{"code syntax error", buildZip(t, "m", replace(validEntries(good), "code/__torch__.py", []byte("class M(Module):\n  def forward(self) -> :\n"))), ErrSyntax, "code/__torch__.py:2:"},
		{"lying compressed size", lyingDeflate(t, good), ErrFormat, "impossible size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readBytes(tc.archive)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

// lyingDeflate makes an archive whose deflated data.pkl claims a 1 MiB uncompressed size.
func lyingDeflate(t *testing.T, pickle []byte) []byte {
	entries := validEntries(pickle)
	entries[0].method = zip.Deflate
	b := buildZip(t, "m", entries)
	// Patch the central directory's uncompressed size of m/data.pkl (the first entry).
	cd := bytes.Index(b, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(b[cd+24:], 1<<20)
	return b
}

// TestZip64 reads an archive with more than 65535 entries, which makes Go's zip writer use
// the ZIP64 end of central directory, plus data descriptors on every entry.
func TestZip64(t *testing.T) {
	entries := validEntries(tensorModule("FloatStorage", 4, 0, []int{4}, []int{1}))
	for i := range 1 << 16 {
		entries = append(entries, zipEntry{name: fmt.Sprintf("extra/%d", i)})
	}
	b := buildZip(t, "big", entries)
	if !bytes.Contains(b, []byte("PK\x06\x06")) {
		t.Fatal("writer did not produce a ZIP64 end of central directory")
	}
	a, err := readBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "big" || a.Module.Tensor("w").Numel() != 4 {
		t.Errorf("archive %+v", a)
	}
}
