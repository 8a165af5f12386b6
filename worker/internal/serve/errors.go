package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/torchgate/torchgate/worker/internal/batch"
	"github.com/torchgate/torchgate/worker/internal/engine"
)

// Error is a protocol error: one HTTP status and one gRPC code per kind. Returned errors
// are copies of the sentinels below with detail added; errors.Is matches the sentinel.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is the kind's short name, used as the failure metric's reason label.
	Reason string
	// Detail says what went wrong and what was expected; safe to show to the client.
	Detail string
}

// Error returns the detail, or the reason when there is none.
func (e *Error) Error() string {
	if e.Detail == "" {
		return "serve: " + e.Reason
	}
	return e.Detail
}

// Is matches any Error of the same kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// withDetail returns a copy of e with a detail message; the sentinel is never changed.
func (e *Error) withDetail(format string, args ...any) *Error {
	c := *e
	c.Detail = fmt.Sprintf(format, args...)
	return &c
}

// Protocol errors.
var (
	// ErrNotFound reports an unknown model or version (404, NotFound).
	ErrNotFound = &Error{Status: http.StatusNotFound, Code: codes.NotFound, Reason: "not_found"}
	// ErrInvalid reports a malformed request or inputs that do not fit the model (400,
	// InvalidArgument).
	ErrInvalid = &Error{Status: http.StatusBadRequest, Code: codes.InvalidArgument, Reason: "invalid"}
	// ErrTooLarge reports a body over the size limit (413, ResourceExhausted).
	ErrTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: codes.ResourceExhausted, Reason: "too_large"}
	// ErrForbidden reports identity headers from an untrusted peer when those are rejected
	// (403, PermissionDenied).
	ErrForbidden = &Error{Status: http.StatusForbidden, Code: codes.PermissionDenied, Reason: "untrusted_identity"}
	// ErrQueueFull reports a full queue (503 with Retry-After, Unavailable).
	ErrQueueFull = &Error{Status: http.StatusServiceUnavailable, Code: codes.Unavailable, Reason: "queue_full"}
	// ErrUnavailable reports a server that is shutting down (503, Unavailable).
	ErrUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: codes.Unavailable, Reason: "unavailable"}
	// ErrDeadline reports a request whose deadline passed (504, DeadlineExceeded).
	ErrDeadline = &Error{Status: http.StatusGatewayTimeout, Code: codes.DeadlineExceeded, Reason: "deadline"}
	// ErrCancelled reports a request whose client went away (499, Canceled).
	ErrCancelled = &Error{Status: 499, Code: codes.Canceled, Reason: "cancelled"}
	// ErrInternal reports a failure inside the server (500, Internal).
	ErrInternal = &Error{Status: http.StatusInternalServerError, Code: codes.Internal, Reason: "internal"}
)

// toError converts any error from the inference path into an *Error; this is the one
// place where batch, engine and context errors meet the protocol.
func toError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, batch.ErrQueueFull):
		return ErrQueueFull.withDetail("%v", err)
	case errors.Is(err, batch.ErrClosed):
		return ErrUnavailable.withDetail("server is shutting down")
	case errors.Is(err, batch.ErrBatchTooLarge), errors.Is(err, engine.ErrInput):
		return ErrInvalid.withDetail("%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return ErrDeadline.withDetail("deadline passed before the inference finished")
	case errors.Is(err, context.Canceled):
		return ErrCancelled.withDetail("request cancelled")
	default:
		return ErrInternal.withDetail("inference failed")
	}
}
