package edge

import (
	"bytes"
	"io"
	"net/http"

	bufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
)

// bufferFilter is the buffer filter: the whole request body is read before the request goes
// upstream, and a body over the limit is answered 413 (Envoy: "Payload Too Large").
type bufferFilter struct {
	name string
	max  int64
}

func (f *bufferFilter) decode(x *exchange) bool {
	max := f.max
	if x.route != nil {
		if pr, ok := x.route.perFilter[f.name].(*bufferv3.BufferPerRoute); ok {
			if pr.GetDisabled() {
				return true
			}
			max = int64(pr.GetBuffer().GetMaxRequestBytes().GetValue())
		}
	}
	r := x.r
	if r.ContentLength > max {
		x.reply(http.StatusRequestEntityTooLarge, nil, "Payload Too Large", "")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		x.reply(http.StatusBadRequest, nil, "", "DPE")
		return false
	}
	if int64(len(body)) > max {
		x.reply(http.StatusRequestEntityTooLarge, nil, "Payload Too Large", "")
		return false
	}
	r.Body = http.NoBody
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	return true
}
