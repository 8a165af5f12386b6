package edge

import (
	"fmt"
	"os"
	"sync"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	bufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// typedConfigs are the only messages a typed_config (an Any) may hold: the extensions the dev
// edge implements. Any other @type is refused while parsing.
var typedConfigs = sync.OnceValues(func() (*protoregistry.Types, error) {
	types := new(protoregistry.Types)
	for _, m := range []proto.Message{
		&hcmv3.HttpConnectionManager{},
		&routerv3.Router{},
		&extauthzv3.ExtAuthz{}, &extauthzv3.ExtAuthzPerRoute{},
		&headermutationv3.HeaderMutation{},
		&bufferv3.Buffer{}, &bufferv3.BufferPerRoute{},
		&streamv3.StdoutAccessLog{},
		&upstreamhttpv3.HttpProtocolOptions{},
	} {
		if err := types.RegisterMessage(m.ProtoReflect().Type()); err != nil {
			return nil, fmt.Errorf("edge: register %T: %w", m, err)
		}
	}
	return types, nil
})

// Load reads an Envoy bootstrap from a YAML (or JSON) file; see Parse.
func Load(path string) (*bootstrapv3.Bootstrap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Parse decodes an Envoy v3 bootstrap from YAML exactly as Envoy reads it (YAML → JSON →
// protojson, unknown fields rejected) and runs the protos' validation rules on it and on every
// typed_config it holds. Only the extensions the dev edge implements resolve as typed_config
// types; any other is an error naming its type URL.
func Parse(data []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return nil, err
	}
	types, err := typedConfigs()
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{}
	res := &recordingResolver{Types: types}
	if err := (protojson.UnmarshalOptions{Resolver: res}).Unmarshal(js, b); err != nil {
		if res.missing != "" {
			return nil, fmt.Errorf("%w: typed_config %s is not implemented: %w", ErrUnsupported, res.missing, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return b, nil
}

// recordingResolver remembers the first type URL it could not resolve, to tell a valid but
// unimplemented extension from a malformed file.
type recordingResolver struct {
	*protoregistry.Types
	missing string
}

// FindMessageByURL resolves a typed_config @type among the implemented extensions.
func (r *recordingResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	mt, err := r.Types.FindMessageByURL(url)
	if err != nil && r.missing == "" {
		r.missing = url
	}
	return mt, err
}
