package serve

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/torchgate/torchgate/worker/internal/engine"
	pb "github.com/torchgate/torchgate/worker/internal/inference/inferencepb"
	"github.com/torchgate/torchgate/worker/internal/repository"
)

// grpcService implements inference.GRPCInferenceService on a Server.
type grpcService struct {
	pb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

var _ pb.GRPCInferenceServiceServer = grpcService{}

// RegisterGRPC registers the gRPC inference service on g. Create g with
// grpc.MaxRecvMsgSize(Options.MaxBodyBytes) (see GRPCServerOptions) so the size limit
// matches REST's.
func (s *Server) RegisterGRPC(g *grpc.Server) {
	pb.RegisterGRPCInferenceServiceServer(g, grpcService{s: s})
}

// GRPCServerOptions returns the server options the service expects: the message size
// limit.
func (s *Server) GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(int(s.opts.MaxBodyBytes))}
}

// grpcError converts err to a gRPC status error.
func grpcError(err error) error {
	e := toError(err)
	return status.Error(e.Code, e.Error())
}

// ServerLive implements inference.GRPCInferenceService.
func (g grpcService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

// ServerReady implements inference.GRPCInferenceService.
func (g grpcService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

// ModelReady implements inference.GRPCInferenceService.
func (g grpcService) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	if _, _, err := g.s.lookup(r.GetName(), r.GetVersion()); err != nil {
		return nil, grpcError(err)
	}
	return &pb.ModelReadyResponse{Ready: g.s.Ready()}, nil
}

// ServerMetadata implements inference.GRPCInferenceService.
func (g grpcService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{Name: serverName, Version: serverVersion, Extensions: extensions}, nil
}

// ModelMetadata implements inference.GRPCInferenceService.
func (g grpcService) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	sm, v, err := g.s.lookup(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	meta := func(specs []tensorSpec) []*pb.ModelMetadataResponse_TensorMetadata {
		out := make([]*pb.ModelMetadataResponse_TensorMetadata, len(specs))
		for i, sp := range specs {
			shape := make([]int64, 0, len(sp.dims))
			for _, d := range metaShape(sp.dims) {
				shape = append(shape, int64(d))
			}
			out[i] = &pb.ModelMetadataResponse_TensorMetadata{Name: sp.name, Datatype: sp.datatype, Shape: shape}
		}
		return out
	}
	return &pb.ModelMetadataResponse{Name: sm.name, Versions: sm.numbers, Platform: platform,
		Inputs: meta(v.inputSpecs()), Outputs: meta(v.outputs())}, nil
}

// ModelInfer implements inference.GRPCInferenceService.
func (g grpcService) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var from peerInfo
	if p, ok := peer.FromContext(ctx); ok {
		if p.Addr != nil {
			from.addr = p.Addr.String()
		}
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			from.tls = &ti.State
		}
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	id, err := g.s.identify(from, keys, func(k string) string {
		if vs := md.Get(k); len(vs) > 0 {
			return vs[0]
		}
		return ""
	})
	if err != nil {
		g.s.failed(r.GetModelName(), toError(err))
		return nil, grpcError(err)
	}
	req, err := decodeGRPC(r)
	if err != nil {
		g.s.failed(r.GetModelName(), toError(err))
		return nil, grpcError(err)
	}
	v, outs, err := g.s.serveInfer(ctx, r.GetModelName(), r.GetModelVersion(), req, id)
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &pb.ModelInferResponse{ModelName: v.model, ModelVersion: v.number, Id: req.id,
		Outputs:           make([]*pb.ModelInferResponse_InferOutputTensor, len(outs)),
		RawOutputContents: make([][]byte, len(outs))}
	for i, o := range outs {
		shape := make([]int64, len(o.tensor.Shape))
		for j, d := range o.tensor.Shape {
			shape[j] = int64(d)
		}
		resp.Outputs[i] = &pb.ModelInferResponse_InferOutputTensor{Name: o.name, Datatype: datatype(o.tensor.DType()), Shape: shape}
		resp.RawOutputContents[i] = appendRaw(make([]byte, 0, rawSize(o.tensor)), o.tensor)
	}
	return resp, nil
}

// decodeGRPC converts a ModelInferRequest: raw_input_contents (one entry per input) or
// typed contents. Every error is ErrInvalid with a detail.
func decodeGRPC(r *pb.ModelInferRequest) (*inferRequest, error) {
	raw := r.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(r.GetInputs()) {
		return nil, ErrInvalid.withDetail("raw_input_contents has %d entries for %d inputs", len(raw), len(r.GetInputs()))
	}
	req := &inferRequest{id: r.GetId()}
	for i, ri := range r.GetInputs() {
		in := input{name: ri.GetName(), datatype: ri.GetDatatype()}
		size := elemSize(in.datatype)
		if size == 0 {
			return nil, ErrInvalid.withDetail("input %q: datatype %q is not supported (FP32, INT64; FP64 and INT32 are converted)", in.name, in.datatype)
		}
		n := numel(ri.GetShape())
		if n < 0 {
			return nil, ErrInvalid.withDetail("input %q: invalid shape %v", in.name, ri.GetShape())
		}
		if len(raw) > 0 {
			if ri.GetContents() != nil {
				return nil, ErrInvalid.withDetail("input %q: both contents and raw_input_contents", in.name)
			}
			if want := n * size; len(raw[i]) != want {
				return nil, ErrInvalid.withDetail("input %q: %d raw bytes, shape %v of %s needs %d", in.name, len(raw[i]), ri.GetShape(), in.datatype, want)
			}
			in.tensor = fromRaw(in.datatype, raw[i])
		} else {
			t, got := fromContents(in.datatype, ri.GetContents())
			if got != n {
				return nil, ErrInvalid.withDetail("input %q: %d %s contents, shape %v needs %d", in.name, got, in.datatype, ri.GetShape(), n)
			}
			in.tensor = t
		}
		in.tensor.Shape = intShape(ri.GetShape())
		req.inputs = append(req.inputs, in)
	}
	if outs := r.GetOutputs(); outs != nil {
		req.outputs = make([]requestedOutput, len(outs))
		for i, o := range outs {
			req.outputs[i] = requestedOutput{name: o.GetName()}
		}
	}
	return req, nil
}

// fromContents converts typed contents of datatype dt and returns their element count.
func fromContents(dt string, c *pb.InferTensorContents) (engine.Tensor, int) {
	var t engine.Tensor
	switch dt {
	case repository.FP32:
		t.Float32 = c.GetFp32Contents()
		return t, len(t.Float32)
	case dtFP64:
		for _, v := range c.GetFp64Contents() {
			t.Float32 = append(t.Float32, float32(v))
		}
		return t, len(c.GetFp64Contents())
	case repository.INT64:
		t.Int64 = c.GetInt64Contents()
		return t, len(t.Int64)
	default: // INT32
		for _, v := range c.GetIntContents() {
			t.Int64 = append(t.Int64, int64(v))
		}
		return t, len(c.GetIntContents())
	}
}
