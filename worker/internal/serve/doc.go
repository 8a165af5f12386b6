// Package serve answers the Open Inference Protocol (KServe v2) over REST and gRPC for the
// model versions of a repository, feeding each version's batch.Batcher.
//
// # REST
//
//	GET  /v2                                   server metadata
//	GET  /v2/health/live, /v2/health/ready     200, or 503 when not ready
//	GET  /v2/models/{m}[/versions/{v}]         model metadata (404 when unknown)
//	GET  /v2/models/{m}[/versions/{v}]/ready   200, 503 when not ready, 404 when unknown
//	POST /v2/models/{m}[/versions/{v}]/infer   inference
//	GET  /metrics                              Prometheus
//
// Without a version the highest is used. Inference bodies are JSON tensors (name, shape,
// datatype, data flat or nested row-major), or Triton's binary tensor extension: the
// Inference-Header-Content-Length header gives the JSON part's length, and the raw
// little-endian data of each input with parameters.binary_data_size follows in input order.
// An output requested with parameters.binary_data (or every output, with the request
// parameter binary_data_output) comes back the same way. The request id is echoed; other
// parameters are ignored.
//
// # gRPC
//
// inference.GRPCInferenceService (see package inferencepb). Inputs come as
// raw_input_contents or typed contents; outputs always go back as raw_output_contents.
//
// # Names and datatypes
//
// Inputs are named as forward's arguments (or as config.yaml says); INPUT__0, INPUT__1, ...
// name them by position too. Outputs are OUTPUT__0, OUTPUT__1, ... (the engine's
// output_0, output_1, ... in order) unless config.yaml names them; OUTPUT__i is then
// accepted too. Models take and give FP32 and INT64; an FP64 input is narrowed to an
// FP32 argument and an INT32 input widened to an INT64 one. In JSON, NaN and infinite
// outputs are the strings "NaN", "Inf" and "-Inf" (JSON has no such numbers).
//
// # Errors
//
// Every error has one HTTP status and one gRPC code (see Error): unknown model or version
// 404/NotFound; a wrong input name, datatype, shape or data length 400/InvalidArgument
// with {"error": "..."} naming what was expected; a body over Options.MaxBodyBytes
// 413/ResourceExhausted; a full queue 503 with Retry-After/Unavailable; a passed deadline
// (config request_timeout, the client's grpc-timeout) 504/DeadlineExceeded.
//
// # Trust
//
// x-torchgate-client-id and x-torchgate-priority (headers or gRPC metadata) are believed
// only from Options.TrustedPeers, which should be Envoy, or from a peer whose verified TLS
// client certificate names one of Options.TrustedClientNames (Envoy with mTLS). The worker
// must be reachable only through Envoy (the k8s NetworkPolicy enforces it). From other peers they are ignored (anonymous, priority 0) or, with
// Options.RejectUntrusted, refused with 403/PermissionDenied.
//
// # Metrics
//
// torchgate_inference_request_success_total and _failure_total{reason}, _count_total
// (items), _exec_count_total (batches), histograms of request, queue and compute duration
// and of batch size, the queue depth gauge (all by model and version), and
// torchgate_inference_client_requests_total{client_id,model}, capped at
// Options.MaxClients client ids (first seen; the rest count as "other").
package serve
