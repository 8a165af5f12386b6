package serve

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// encodeInfer writes the REST response: JSON, followed by the raw data of the outputs the
// client asked to get as binary. It returns the body and the JSON part's length, which is
// less than len(body) only when binary data follows.
func encodeInfer(v *version, req *inferRequest, outs []output) ([]byte, int) {
	binary := make([]bool, len(outs))
	for i := range outs {
		binary[i] = req.binaryOutputs || req.outputs != nil && req.outputs[i].binary
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"model_name":`...)
	b = appendString(b, v.model)
	b = append(b, `,"model_version":`...)
	b = appendString(b, v.number)
	if req.id != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, req.id)
	}
	b = append(b, `,"outputs":[`...)
	for i, o := range outs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, o.name)
		b = append(b, `,"datatype":"`...)
		b = append(b, datatype(o.tensor.DType())...)
		b = append(b, `","shape":[`...)
		for j, d := range o.tensor.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, ']')
		if binary[i] {
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(rawSize(o.tensor)), 10)
			b = append(b, "}}"...)
			continue
		}
		b = append(b, `,"data":`...)
		b = appendData(b, o.tensor)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	jsonLen := len(b)
	for i, o := range outs {
		if binary[i] {
			b = appendRaw(b, o.tensor)
		}
	}
	return b, jsonLen
}

// appendData appends a tensor's data as a flat JSON array. JSON has no NaN or infinities:
// they are written as the strings "NaN", "Inf" and "-Inf" (binary outputs carry them
// exactly).
func appendData(b []byte, t engine.Tensor) []byte {
	b = append(b, '[')
	if t.Int64 != nil {
		for i, v := range t.Int64 {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, v, 10)
		}
		return append(b, ']')
	}
	for i, v := range t.Float32 {
		if i > 0 {
			b = append(b, ',')
		}
		switch f := float64(v); {
		case math.IsNaN(f):
			b = append(b, `"NaN"`...)
		case math.IsInf(f, 1):
			b = append(b, `"Inf"`...)
		case math.IsInf(f, -1):
			b = append(b, `"-Inf"`...)
		default:
			b = strconv.AppendFloat(b, f, 'g', -1, 32)
		}
	}
	return append(b, ']')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
