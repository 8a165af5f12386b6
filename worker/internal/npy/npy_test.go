package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadNumPyFiles(t *testing.T) {
	cases := []struct {
		file   string
		shape  []int
		dtype  DType
		floats []float32
		ints   []int64
		err    error
	}{
		{file: "f32_2x3.npy", shape: []int{2, 3}, dtype: Float32, floats: []float32{-2.5, -1.5, -0.5, 0.5, 1.5, 2.5}},
		{file: "f64_4.npy", shape: []int{4}, dtype: Float64, floats: []float32{1.5, -2.25, float32(math.Inf(1)), 0}},
		{file: "i64_2x2.npy", shape: []int{2, 2}, dtype: Int64, ints: []int64{1, -2, 3, 1 << 40}},
		{file: "i32_3.npy", shape: []int{3}, dtype: Int32, ints: []int64{7, -8, 9}},
		{file: "u8_3.npy", shape: []int{3}, dtype: Uint8, ints: []int64{0, 128, 255}},
		{file: "bool_3.npy", shape: []int{3}, dtype: Bool, ints: []int64{1, 0, 1}},
		{file: "scalar.npy", shape: nil, dtype: Float32, floats: []float32{3.5}},
		{file: "empty_0x4.npy", shape: []int{0, 4}, dtype: Float32, floats: []float32{}},
		{file: "v2_f32_2.npy", shape: []int{2}, dtype: Float32, floats: []float32{1, 2}},
		{file: "f16_3.npy", shape: []int{3}, dtype: Float16},
		{file: "fortran_2x3.npy", err: ErrUnsupported},
		{file: "bigendian_2.npy", err: ErrUnsupported},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			shape, dtype, data, err := Read(f)
			if tc.err != nil || err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if !slices.Equal(shape, tc.shape) || dtype != tc.dtype {
				t.Fatalf("got %v %s, want %v %s", shape, dtype, tc.shape, tc.dtype)
			}
			if tc.floats != nil {
				got, err := ToFloat32(dtype, data)
				if err != nil || !slices.Equal(got, tc.floats) {
					t.Errorf("ToFloat32 = %v, %v; want %v", got, err, tc.floats)
				}
			}
			if tc.ints != nil {
				got, err := ToInt64(dtype, data)
				if err != nil || !slices.Equal(got, tc.ints) {
					t.Errorf("ToInt64 = %v, %v; want %v", got, err, tc.ints)
				}
			}
		})
	}
}

func TestWriteRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
		dtype DType
		data  []byte
	}{
		{"matrix", []int{2, 3}, Float32, EncodeFloat32([]float32{1, 2, 3, 4, 5, 6})},
		{"vector", []int{2}, Int64, EncodeInt64([]int64{-1, 1 << 50})},
		{"scalar", nil, Float32, EncodeFloat32([]float32{7})},
		{"empty", []int{0, 3}, Float32, nil},
		{"bytes", []int{4}, Uint8, []byte{1, 2, 3, 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tc.shape, tc.dtype, tc.data); err != nil {
				t.Fatal(err)
			}
			hlen := int(binary.LittleEndian.Uint16(buf.Bytes()[8:]))
			if (10+hlen)%64 != 0 {
				t.Errorf("header ends at %d, not 64-aligned", 10+hlen)
			}
			shape, dtype, data, err := Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(shape, tc.shape) || dtype != tc.dtype || !bytes.Equal(data, tc.data) {
				t.Errorf("round trip gave %v %s %v", shape, dtype, data)
			}
		})
	}
}

// TestWriteMatchesNumPy checks that our bytes equal what numpy.save wrote.
func TestWriteMatchesNumPy(t *testing.T) {
	want, err := os.ReadFile("testdata/f32_2x3.npy")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, []int{2, 3}, Float32, EncodeFloat32([]float32{-2.5, -1.5, -0.5, 0.5, 1.5, 2.5})); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

func TestMalformed(t *testing.T) {
	header := func(dict string) []byte {
		b := append([]byte("\x93NUMPY\x01\x00"), byte(len(dict)), byte(len(dict)>>8))
		return append(b, dict...)
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"bad magic", []byte("\x93NUMPX\x01\x00\x00\x00"), ErrFormat},
		{"version 9", []byte("\x93NUMPY\x09\x00\x00\x00"), ErrUnsupported},
		{"truncated header", append([]byte("\x93NUMPY\x01\x00\xff\x00"), "{'descr'"...), ErrFormat},
		{"huge v2 header", []byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f"), ErrFormat},
		{"no shape", header("{'descr': '<f4', 'fortran_order': False, }\n"), ErrFormat},
		{"negative dim", header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n"), ErrFormat},
		{"object dtype", header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n"), ErrUnsupported},
		{"lying shape", header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000), }\n"), ErrFormat},
		{"overflowing shape", header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n"), ErrFormat},
		{"short data", append(header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"), 1, 2, 3), ErrFormat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := Read(bytes.NewReader(tc.in)); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	if err := Write(&bytes.Buffer{}, []int{2}, Float32, []byte{1}); !errors.Is(err, ErrFormat) {
		t.Errorf("Write with short data: %v", err)
	}
	if _, err := ToInt64(Float32, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ToInt64(Float32): %v", err)
	}
}

func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.npy")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, dtype, data, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, shape, dtype, data); err != nil {
			t.Fatalf("re-writing a read array: %v", err)
		}
		shape2, dtype2, data2, err := Read(&buf)
		if err != nil || !slices.Equal(shape, shape2) || dtype != dtype2 || !bytes.Equal(data, data2) {
			t.Fatalf("round trip changed the array: %v", err)
		}
	})
}
