package cpu

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// goldenCase is one entry of testdata/kernels.json, written by testdata/gen_kernels.py with
// real PyTorch.
type goldenCase struct {
	Name   string          `json:"name"`
	Op     string          `json:"op"`
	Params json.RawMessage `json:"params"`
	Inputs []goldenTensor  `json:"inputs"`
	Output goldenTensor    `json:"output"`
}

type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

func (g goldenTensor) tensor(t *testing.T) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromData(g.Data, g.Shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

type goldenParams struct {
	Dim        int   `json:"dim"`
	Normalized []int `json:"normalized"`
	Eps        float64
	Stride     int  `json:"stride"`
	Pad        int  `json:"pad"`
	Dil        int  `json:"dil"`
	Groups     int  `json:"groups"`
	K          int  `json:"k"`
	Ceil       bool `json:"ceil"`
	Include    bool `json:"include"`
}

func TestGoldenAgainstPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/kernels.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 20 {
		t.Fatalf("only %d golden cases", len(file.Cases))
	}
	e := newEngine(t, 2)
	for _, gc := range file.Cases {
		t.Run(gc.Name, func(t *testing.T) {
			var p goldenParams
			if err := json.Unmarshal(gc.Params, &p); err != nil {
				t.Fatal(err)
			}
			in := make([]*tensor.Tensor, len(gc.Inputs))
			for i, g := range gc.Inputs {
				in[i] = g.tensor(t)
			}
			want := gc.Output.tensor(t)
			got, err := tensor.New(want.Shape...)
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-6
			switch gc.Op {
			case "gelu":
				err = Activate(got, in[0], ActGELU)
			case "gelu_tanh":
				err = Activate(got, in[0], ActGELUTanh)
			case "sigmoid":
				err = Activate(got, in[0], ActSigmoid)
			case "tanh":
				err = Activate(got, in[0], ActTanh)
			case "softmax":
				err = Softmax(got, in[0], p.Dim)
			case "log_softmax":
				err = LogSoftmax(got, in[0], p.Dim)
			case "layer_norm":
				tol = 1e-5
				err = LayerNorm(got, in[0], p.Normalized, in[1].Data, in[2].Data, p.Eps)
			case "conv2d":
				tol = gemmTol(in[1].Numel() / in[1].Shape[0])
				var w *ConvWeights
				if w, err = PackConv2d(in[1], p.Groups, nil); err == nil {
					cp := Conv2dParams{StrideH: p.Stride, StrideW: p.Stride, PadH: p.Pad, PadW: p.Pad, DilationH: p.Dil, DilationW: p.Dil}
					err = e.Conv2d(got, in[0], w, cp, &Epilogue{Bias: in[2].Data})
				}
			case "max_pool2d":
				err = e.MaxPool2d(got, in[0], Pool2dParams{KernelH: p.K, KernelW: p.K, StrideH: p.Stride, StrideW: p.Stride,
					PadH: p.Pad, PadW: p.Pad, DilationH: p.Dil, DilationW: p.Dil, CeilMode: p.Ceil})
			case "avg_pool2d":
				tol = 1e-5
				err = AvgPool2d(got, in[0], Pool2dParams{KernelH: p.K, KernelW: p.K, StrideH: p.Stride, StrideW: p.Stride,
					PadH: p.Pad, PadW: p.Pad, CeilMode: p.Ceil, CountIncludePad: p.Include})
			case "adaptive_avg_pool2d":
				tol = 1e-5
				err = AdaptiveAvgPool2d(got, in[0])
			case "div_trunc":
				err = Div(got, in[0], in[1], RoundTrunc)
			case "div_floor":
				err = Div(got, in[0], in[1], RoundFloor)
			default:
				t.Fatalf("unknown op %q", gc.Op)
			}
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, got.Data, want.Data, tol)
		})
	}
}
