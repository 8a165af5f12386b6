// Package inferencepb holds the Go code generated from grpc_predict_v2.proto: the messages and
// the client and server stubs of the Open Inference Protocol's inference.GRPCInferenceService.
//
// Regenerate with protoc 3.21+ (Debian: apt-get install protobuf-compiler) and the plugins
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
//
// on PATH, then run `go generate` in this directory.
package inferencepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative grpc_predict_v2.proto
