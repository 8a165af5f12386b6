package serve

import (
	"encoding/json"
	"strconv"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// HeaderContentLength is the Triton binary tensor extension's header: the length of the
// JSON part of a body followed by raw tensor data.
const HeaderContentLength = "Inference-Header-Content-Length"

// jsonInferRequest is the REST request body (Open Inference Protocol, plus the binary
// tensor extension's parameters).
type jsonInferRequest struct {
	ID         string          `json:"id"`
	Parameters jsonParameters  `json:"parameters"`
	Inputs     []jsonInput     `json:"inputs"`
	Outputs    []jsonReqOutput `json:"outputs"`
}

// jsonParameters holds the parameters the server understands; others are ignored.
type jsonParameters struct {
	BinaryDataSize   *int64 `json:"binary_data_size"`
	BinaryData       bool   `json:"binary_data"`
	BinaryDataOutput bool   `json:"binary_data_output"`
}

type jsonInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters jsonParameters  `json:"parameters"`
	Data       json.RawMessage `json:"data"`
}

type jsonReqOutput struct {
	Name       string         `json:"name"`
	Parameters jsonParameters `json:"parameters"`
}

// decodeInfer decodes a REST inference body. headerLen is the Inference-Header-Content-
// Length header ("" without binary data): the body's first headerLen bytes are JSON and
// the rest holds the inputs that declare parameters.binary_data_size, in input order.
// Every error is ErrInvalid with a detail.
func decodeInfer(body []byte, headerLen string) (*inferRequest, error) {
	jsonPart, bin := body, []byte(nil)
	if headerLen != "" {
		n, err := strconv.ParseInt(headerLen, 10, 64)
		if err != nil || n < 0 || n > int64(len(body)) {
			return nil, ErrInvalid.withDetail("%s %q is not a length within the %d-byte body", HeaderContentLength, headerLen, len(body))
		}
		jsonPart, bin = body[:n], body[n:]
	}
	var jr jsonInferRequest
	if err := json.Unmarshal(jsonPart, &jr); err != nil {
		return nil, ErrInvalid.withDetail("malformed request JSON: %v", err)
	}
	req := &inferRequest{id: jr.ID, binaryOutputs: jr.Parameters.BinaryDataOutput}
	for _, ji := range jr.Inputs {
		in, rest, err := decodeInput(ji, bin)
		if err != nil {
			return nil, err
		}
		bin = rest
		req.inputs = append(req.inputs, in)
	}
	if len(bin) > 0 {
		return nil, ErrInvalid.withDetail("%d bytes of binary data follow the inputs' binary_data_size", len(bin))
	}
	if jr.Outputs != nil {
		req.outputs = make([]requestedOutput, len(jr.Outputs))
		for i, o := range jr.Outputs {
			req.outputs[i] = requestedOutput{name: o.Name, binary: o.Parameters.BinaryData}
		}
	}
	return req, nil
}

// decodeInput decodes one input from its JSON data or from the front of bin, returning
// what is left of bin.
func decodeInput(ji jsonInput, bin []byte) (input, []byte, error) {
	in := input{name: ji.Name, datatype: ji.Datatype}
	size := elemSize(ji.Datatype)
	if size == 0 {
		return input{}, nil, ErrInvalid.withDetail("input %q: datatype %q is not supported (FP32, INT64; FP64 and INT32 are converted)", ji.Name, ji.Datatype)
	}
	n := numel(ji.Shape)
	if n < 0 {
		return input{}, nil, ErrInvalid.withDetail("input %q: invalid shape %v", ji.Name, ji.Shape)
	}
	if bs := ji.Parameters.BinaryDataSize; bs != nil {
		if len(ji.Data) > 0 && string(ji.Data) != "null" {
			return input{}, nil, ErrInvalid.withDetail("input %q: both data and binary_data_size", ji.Name)
		}
		want := int64(n) * int64(size)
		if *bs != want {
			return input{}, nil, ErrInvalid.withDetail("input %q: binary_data_size %d, shape %v of %s needs %d bytes", ji.Name, *bs, ji.Shape, ji.Datatype, want)
		}
		if want > int64(len(bin)) {
			return input{}, nil, ErrInvalid.withDetail("input %q: binary_data_size %d, only %d bytes of binary data left", ji.Name, want, len(bin))
		}
		in.tensor = fromRaw(ji.Datatype, bin[:want])
		in.tensor.Shape = intShape(ji.Shape)
		return in, bin[want:], nil
	}
	t, err := parseNumbers(ji.Data, isInt(ji.Datatype), n)
	if err != nil {
		return input{}, nil, ErrInvalid.withDetail("input %q: %v", ji.Name, err)
	}
	t.Shape = intShape(ji.Shape)
	in.tensor = t
	return in, bin, nil
}

// numberError is a data parsing failure; its text goes to the client.
type numberError string

func (e numberError) Error() string { return string(e) }

// parseNumbers reads want numbers from a JSON array, flat or nested (row-major), as int64
// or float32 data.
func parseNumbers(raw []byte, ints bool, want int) (engine.Tensor, error) {
	var t engine.Tensor
	// Every number takes at least one byte and one separator: refuse before allocating
	// when the shape promises more numbers than the text can hold.
	if want > len(raw)/2+1 {
		return t, numberError("shape needs " + strconv.Itoa(want) + " elements, data holds fewer")
	}
	if ints {
		t.Int64 = make([]int64, 0, want)
	} else {
		t.Float32 = make([]float32, 0, want)
	}
	count := 0
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '[' || c == ']' || c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
			continue
		case c != '-' && (c < '0' || c > '9'):
			return engine.Tensor{}, numberError("data must be an array of numbers")
		}
		j := i + 1
		for j < len(raw) && isNumberByte(raw[j]) {
			j++
		}
		if count == want {
			return engine.Tensor{}, numberError("data holds more than the shape's " + strconv.Itoa(want) + " elements")
		}
		tok := string(raw[i:j])
		if ints {
			v, err := strconv.ParseInt(tok, 10, 64)
			if err != nil {
				return engine.Tensor{}, numberError("data element " + strconv.Itoa(count) + " is not an integer")
			}
			t.Int64 = append(t.Int64, v)
		} else {
			v, err := strconv.ParseFloat(tok, 32)
			if err != nil && !isRangeError(err) {
				return engine.Tensor{}, numberError("data element " + strconv.Itoa(count) + " is not a number")
			}
			t.Float32 = append(t.Float32, float32(v))
		}
		count++
		i = j
	}
	if count != want {
		return engine.Tensor{}, numberError("data holds " + strconv.Itoa(count) + " elements, shape needs " + strconv.Itoa(want))
	}
	return t, nil
}

// isNumberByte reports whether c can continue a JSON number.
func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// isRangeError reports an out-of-range float, which ParseFloat rounds to ±Inf as IEEE does.
func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
