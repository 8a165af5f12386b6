package authz

import (
	"context"
	"fmt"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// The Check RPC skips the protobuf runtime: its request is read from the received bytes by
// parseCheckRequest and its response written as bytes by appendResponse. Building and
// marshalling the generated messages (header maps, a Struct of dynamic metadata) cost more CPU
// than the decision itself. Every other service on the server (health, reflection) keeps the
// standard protobuf codec.

// wireResponse is a CheckResponse already in protobuf wire format.
type wireResponse []byte

// Codec is the server codec that carries Check requests and responses in and out as wire
// bytes and hands every other message to the standard protobuf codec. A server that serves
// Register must be built with grpc.ForceServerCodecV2(Codec{}).
type Codec struct{}

var standard = encoding.GetCodecV2(proto.Name)

// Marshal implements encoding.CodecV2.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if w, ok := v.(wireResponse); ok {
		return mem.BufferSlice{mem.SliceBuffer(w)}, nil
	}
	return standard.Marshal(v)
}

// Unmarshal implements encoding.CodecV2.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*request)
	if !ok {
		return standard.Unmarshal(data, v)
	}
	if len(data) == 1 {
		return parseCheckRequest(data[0].ReadOnlyData(), r)
	}
	return parseCheckRequest(data.Materialize(), r)
}

// Name implements encoding.CodecV2: the content subtype stays "proto", as Envoy sends it.
func (Codec) Name() string { return proto.Name }

// checker is what the Check handler needs of the service it is registered with.
type checker interface {
	check(ctx context.Context, r *request) wireResponse
}

// serviceDesc is envoy.service.auth.v3.Authorization with the wire-level Check handler. Its
// names are those of the generated service, so clients and server reflection see the same
// service.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: authv3.Authorization_ServiceDesc.ServiceName,
	HandlerType: (*checker)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Check", Handler: checkHandler}},
	Metadata:    authv3.Authorization_ServiceDesc.Metadata,
}

// Register serves s as envoy.service.auth.v3.Authorization on gs, which must use Codec.
func (s *Service) Register(gs *grpc.Server) { gs.RegisterService(&serviceDesc, s) }

func checkHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	r := new(request)
	if err := dec(r); err != nil {
		return nil, err
	}
	c := srv.(checker)
	if interceptor == nil {
		return c.check(ctx, r), nil
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: authv3.Authorization_Check_FullMethodName}
	return interceptor(ctx, r, info, func(ctx context.Context, req any) (any, error) {
		r, ok := req.(*request)
		if !ok {
			return nil, fmt.Errorf("authz: interceptor passed %T, want the Check request", req)
		}
		return c.check(ctx, r), nil
	})
}
