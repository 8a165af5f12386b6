package ratelimit

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Values of RedisOptions.OnError.
const (
	// OnErrorLocal decides with the local fallback while Redis fails.
	OnErrorLocal = "local"
	// OnErrorDeny returns ErrUnavailable while Redis fails.
	OnErrorDeny = "deny"
)

// Defaults of RedisOptions.
const (
	DefaultTimeout         = 20 * time.Millisecond
	DefaultKeyPrefix       = "torchgate:rl:"
	DefaultBreakerFailures = 3
	DefaultBreakerCooldown = 500 * time.Millisecond
)

// RedisOptions configures a Redis limiter. The zero value means every default.
type RedisOptions struct {
	// Timeout bounds every script call (default 20ms): no Allow waits longer
	// on Redis. The client must honour context deadlines
	// (ContextTimeoutEnabled, as NewClient sets).
	Timeout time.Duration
	// OnError is OnErrorLocal (default, also for "") or OnErrorDeny; any other
	// value is logged and treated as OnErrorDeny, the stricter.
	OnError string
	// Replicas is the number of limiter replicas sharing Redis; the local
	// fallback divides each limit by it (default 1).
	Replicas int
	// KeyPrefix starts every key (default "torchgate:rl:").
	KeyPrefix string
	// Now is the clock of the local fallback and the circuit breaker
	// (default time.Now). Decisions in Redis use the Redis server's time.
	Now func() time.Time
	// Registerer receives the metrics listed in the package documentation;
	// nil means not registered.
	Registerer prometheus.Registerer
	// Logger reports circuit breaker changes; nil means slog.Default().
	Logger *slog.Logger
	// BreakerFailures is the number of consecutive failures that opens the
	// circuit breaker (default 3).
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before a probe
	// (default 500ms).
	BreakerCooldown time.Duration
}

// Redis is a limiter whose state lives in Redis, shared by all replicas. Each
// Allow is one script call; the calls of concurrent Allows share pipelines
// (one round trip for a batch). When Redis fails it falls back as
// RedisOptions.OnError says.
type Redis struct {
	timeout time.Duration
	deny    bool
	prefix  string
	local   *Local
	breaker *breaker
	log     *slog.Logger
	metrics *decisionMetrics
	redisM  *redisMetrics
	pipe    *pipeliner
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a limiter on client. It does not contact Redis: a Redis
// that is down at start only means decisions start in fallback.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	log := loggerOr(opts.Logger)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	l := &Redis{
		timeout: positiveOr(opts.Timeout, DefaultTimeout),
		prefix:  cmp.Or(opts.KeyPrefix, DefaultKeyPrefix),
		local:   newLocal(opts.Replicas, now),
		breaker: newBreaker(positiveOr(opts.BreakerFailures, DefaultBreakerFailures),
			positiveOr(opts.BreakerCooldown, DefaultBreakerCooldown), now),
		log:     log,
		metrics: newDecisionMetrics(opts.Registerer, log, now),
		redisM:  newRedisMetrics(opts.Registerer, log),
		pipe:    newPipeliner(client),
	}
	switch opts.OnError {
	case "", OnErrorLocal:
	case OnErrorDeny:
		l.deny = true
	default:
		log.Error("ratelimit: unknown on_error, denying while redis fails", slog.String("on_error", opts.OnError))
		l.deny = true
	}
	return l
}

// Allow decides r in Redis, or by the fallback while Redis fails. It returns
// ErrUnavailable when Redis fails and OnError is "deny", ErrInvalidRequest
// for a bad request, and the context's error when ctx ends during the call.
func (l *Redis) Allow(ctx context.Context, r Request) (Result, error) {
	res, err := l.allow(ctx, r)
	l.metrics.observe(r, res, err)
	return res, err
}

func (l *Redis) allow(ctx context.Context, r Request) (Result, error) {
	if err := r.validate(); err != nil {
		return Result{}, err
	}
	if l.breaker.allow() {
		res, err := l.eval(ctx, r)
		switch {
		case err == nil:
			l.redisM.degraded.Set(0)
			if l.breaker.record(true) == closed {
				l.log.Info("ratelimit: redis circuit closed")
			}
			return res, nil
		case ctx.Err() != nil:
			l.breaker.abandon()
			return Result{}, fmt.Errorf("ratelimit: %w", ctx.Err())
		}
		l.redisM.errors.Inc()
		if l.breaker.record(false) == opened {
			l.log.Warn("ratelimit: redis circuit open", slog.Any("error", err))
		}
	}
	l.redisM.degraded.Set(1)
	if l.deny {
		return Result{}, ErrUnavailable
	}
	res := l.local.decide(r)
	res.Degraded = true
	return res, nil
}

// eval runs the script for r within the timeout.
func (l *Redis) eval(ctx context.Context, r Request) (Result, error) {
	start := time.Now()
	v, err := l.pipe.do(ctx, l.timeout, scriptCall(l.prefix, r))
	l.redisM.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis script: %w", err)
	}
	allowed, now, st, err := parseReply(v, r.Tier)
	if err != nil {
		return Result{}, err
	}
	res, _ := decide(now, r.Tier, r.Cost, st)
	if res.Allowed != allowed {
		return Result{}, fmt.Errorf("%w: script and decide disagree", errScriptReply)
	}
	return res, nil
}

// positiveOr returns v, or def when v is zero or negative.
func positiveOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
