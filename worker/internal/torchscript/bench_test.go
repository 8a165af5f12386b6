package torchscript

import (
	"os"
	"testing"
)

// benchArchive returns the generated ResNet-18 when gen.py --large has been run, else the
// committed small CNN.
func benchArchive(b *testing.B) string {
	for _, p := range []string{"../../testdata/gen/torch26/resnet18.pt", "../../testdata/torch26/cnn.pt"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	b.Skip("no fixture archive")
	return ""
}

// BenchmarkOpen measures Open (mmap, no tensor copies) of a whole archive.
func BenchmarkOpen(b *testing.B) {
	path := benchArchive(b)
	b.ReportAllocs()
	for b.Loop() {
		a, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		a.Close()
	}
}

// BenchmarkRead measures Read through io.ReaderAt, which copies every record once.
func BenchmarkRead(b *testing.B) {
	path := benchArchive(b)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(f, st.Size()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse measures the code parser on the class source of the parser tests.
func BenchmarkParse(b *testing.B) {
	src := []byte(classSource)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("code/__torch__.py", "__torch__", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloat32 measures converting a strided float16 tensor to float32.
func BenchmarkFloat32(b *testing.B) {
	data := make([]byte, 2*512*512)
	t := &Tensor{DType: Float16, Shape: []int{512, 512}, Strides: []int{1, 512},
		Storage: &Storage{DType: Float16, Data: data}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Float32(); err != nil {
			b.Fatal(err)
		}
	}
}
