package ratelimit

import "errors"

// Errors returned by this package. Returned errors wrap them; test with errors.Is.
var (
	// ErrUnavailable means Redis failed (or the circuit breaker is open) and
	// OnError is "deny": the caller should answer 503 with a Retry-After.
	ErrUnavailable = errors.New("ratelimit: redis unavailable")
	// ErrInvalidTier means a tier's limits cannot be enforced.
	ErrInvalidTier = errors.New("ratelimit: invalid tier")
	// ErrInvalidRequest means a request has no client, no tier or a cost below 1.
	ErrInvalidRequest = errors.New("ratelimit: invalid request")
	// ErrInvalidURL means a Redis URL cannot be parsed.
	ErrInvalidURL = errors.New("ratelimit: invalid redis url")
	// errScriptReply means the script's reply has an unexpected shape or
	// disagrees with the Go decision; it counts as a Redis failure.
	errScriptReply = errors.New("ratelimit: unexpected script reply")
)
