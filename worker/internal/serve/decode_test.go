package serve

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// decodeCases are REST bodies and their Inference-Header-Content-Length ("" for none).
var decodeCases = []struct {
	name      string
	body      string
	bin       string // binary data after the JSON body; the header length is then len(body)
	headerLen string // an explicit Inference-Header-Content-Length
	wantErr   bool
	want      []float32 // first input's Float32 data
	wantInts  []int64   // first input's Int64 data
}{
	{name: "flat FP32", body: `{"id":"a","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2.5,-3,4e2]}]}`, want: []float32{1, 2.5, -3, 400}},
	{name: "nested FP32", body: `{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}`, want: []float32{1, 2, 3, 4}},
	{name: "FP64 narrowed", body: `{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[0.1]}]}`, want: []float32{0.1}},
	{name: "INT64", body: `{"inputs":[{"name":"t","shape":[3],"datatype":"INT64","data":[1,-2,9007199254740993]}]}`, wantInts: []int64{1, -2, 9007199254740993}},
	{name: "INT32 widened", body: `{"inputs":[{"name":"t","shape":[1],"datatype":"INT32","data":[7]}]}`, wantInts: []int64{7}},
	{name: "parameters ignored", body: `{"parameters":{"foo":{"bar":1}},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"x":"y"},"data":[1]}]}`, want: []float32{1}},
	{name: "empty tensor", body: `{"inputs":[{"name":"x","shape":[0,3],"datatype":"FP32","data":[]}]}`, want: []float32{}},
	{name: "binary FP32", body: `{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}`, bin: "\x00\x00\x80\x3f\x00\x00\x00\x40", want: []float32{1, 2}},
	{name: "float for INT64", body: `{"inputs":[{"name":"t","shape":[1],"datatype":"INT64","data":[1.5]}]}`, wantErr: true},
	{name: "string data", body: `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["1"]}]}`, wantErr: true},
	{name: "object data", body: `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":{"a":1}}]}`, wantErr: true},
	{name: "huge shape", body: `{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP32","data":[1]}]}`, wantErr: true},
	{name: "shape promising more than the text", body: `{"inputs":[{"name":"x","shape":[100000000],"datatype":"FP32","data":[1]}]}`, wantErr: true},
	{name: "binary and data", body: `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4}}]}`, bin: "abcd", wantErr: true},
	{name: "binary size wrong", body: `{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`, bin: "abcd", wantErr: true},
	{name: "trailing binary", body: `{"inputs":[]}`, bin: "zz", wantErr: true},
	{name: "negative header length", body: `{}`, headerLen: "-1", wantErr: true},
	{name: "binary_data_size not a number", body: `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":"4"}}]}`, wantErr: true},
	{name: "not JSON", body: `inputs`, wantErr: true},
}

func TestDecodeInfer(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodeInfer(caseBody(tc.body, tc.bin, tc.headerLen))
			if tc.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := req.inputs[0].tensor
			if tc.wantInts != nil && !slices.Equal(got.Int64, tc.wantInts) || tc.want != nil && !slices.Equal(got.Float32, tc.want) {
				t.Errorf("data %v %v, want %v %v", got.Float32, got.Int64, tc.want, tc.wantInts)
			}
		})
	}
}

// caseBody returns a case's body and header length.
func caseBody(body, bin, headerLen string) ([]byte, string) {
	if bin != "" && headerLen == "" {
		headerLen = strconv.Itoa(len(body))
	}
	return []byte(body + bin), headerLen
}

func TestEncodeNonFinite(t *testing.T) {
	got := string(appendData(nil, fromRaw("FP32", binary.LittleEndian.AppendUint32(
		binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(math.NaN()))),
			math.Float32bits(float32(math.Inf(-1)))), math.Float32bits(1.5)))))
	if want := `["NaN","-Inf",1.5]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func FuzzDecodeInfer(f *testing.F) {
	for _, tc := range decodeCases {
		body, headerLen := caseBody(tc.body, tc.bin, tc.headerLen)
		f.Add(body, headerLen)
	}
	f.Fuzz(func(t *testing.T, body []byte, headerLen string) {
		req, err := decodeInfer(body, headerLen)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		for _, in := range req.inputs {
			n := 1
			for _, d := range in.tensor.Shape {
				if d < 0 {
					t.Fatalf("negative dimension in %v", in.tensor.Shape)
				}
				n *= d
			}
			if got := len(in.tensor.Float32) + len(in.tensor.Int64); got != n {
				t.Fatalf("input %q: %d elements for shape %v", in.name, got, in.tensor.Shape)
			}
		}
	})
}

// BenchmarkDecodeInfer decodes a ResNet-sized (1×3×224×224) FP32 JSON body.
func BenchmarkDecodeInfer(b *testing.B) {
	x := engine.Tensor{Shape: []int{1, 3, 224, 224}, Float32: make([]float32, 3*224*224)}
	for i := range x.Float32 {
		x.Float32[i] = float32(i%1000)/997 - 0.5
	}
	body := inferBody("x", x)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeInfer(body, ""); err != nil {
			b.Fatal(err)
		}
	}
}
