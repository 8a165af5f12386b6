package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewClient returns a Redis client for url with the default timeout; see
// NewClientTimeout.
func NewClient(url string) (redis.UniversalClient, error) {
	return NewClientTimeout(url, DefaultTimeout)
}

// NewClientTimeout returns a Redis client for url whose socket reads and
// writes time out after timeout and which honours context deadlines. It does
// not connect. Accepted forms:
//
//	redis://[user:password@]host:port[/db][?option=value...]   single server (go-redis options)
//	rediss://...                                                the same over TLS
//	redis+sentinel://[user:password@]host:port,host:port/master[/db]
//	redis+cluster://[user:password@]host:port,host:port
//
// Credentials of the Sentinel and Cluster forms are those of the Redis
// servers, not of the sentinels. The client never retries a command (a
// retried script could spend a request's cost twice, and a retry would not
// fit the timeout anyway) and dials once per attempt, so a refused
// connection fails at once instead of sleeping through the timeout; the
// limiter's circuit breaker paces reconnection. Errors never contain the URL.
func NewClientTimeout(url string, timeout time.Duration) (redis.UniversalClient, error) {
	opts, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	return redis.NewUniversalClient(opts), nil
}

// LogClientTo sends what the Redis client library logs (a Sentinel's switch to
// a new master, a failed dial) to logger, as records with component
// "go-redis", instead of plain lines on stderr among the JSON ones. The
// library has one logger per process: the last call sets it.
func LogClientTo(logger *slog.Logger) { redis.SetLogger(clientLog{logger}) }

// clientLog is the Redis client library's logger on a slog.Logger.
type clientLog struct{ log *slog.Logger }

// Printf implements the library's logging interface.
func (c clientLog) Printf(ctx context.Context, format string, v ...any) {
	c.log.InfoContext(ctx, fmt.Sprintf(format, v...), slog.String("component", "go-redis"))
}

// parseURL parses a Redis URL into client options.
func parseURL(raw string) (*redis.UniversalOptions, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	switch scheme {
	case "redis", "rediss":
		o, err := redis.ParseURL(raw)
		if err != nil {
			// go-redis errors may quote the URL, and with it a password.
			return nil, fmt.Errorf("%w: not a valid %s:// url", ErrInvalidURL, scheme)
		}
		return &redis.UniversalOptions{
			Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, ClientName: o.ClientName, Protocol: o.Protocol,
			DialTimeout: o.DialTimeout, PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout,
			MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns, MaxActiveConns: o.MaxActiveConns,
			ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
		}, nil
	case "redis+sentinel", "redis+cluster":
	default:
		return nil, fmt.Errorf("%w: scheme must be redis, rediss, redis+sentinel or redis+cluster", ErrInvalidURL)
	}
	if strings.ContainsAny(rest, "?#") {
		return nil, fmt.Errorf("%w: %s urls take no query or fragment", ErrInvalidURL, scheme)
	}
	authority, path, _ := strings.Cut(rest, "/")
	o := &redis.UniversalOptions{}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		user, pass, _ := strings.Cut(authority[:i], ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return nil, fmt.Errorf("%w: bad escape in user name", ErrInvalidURL)
		}
		if o.Password, err = url.PathUnescape(pass); err != nil {
			return nil, fmt.Errorf("%w: bad escape in password", ErrInvalidURL)
		}
		authority = authority[i+1:]
	}
	for addr := range strings.SplitSeq(authority, ",") {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			return nil, fmt.Errorf("%w: an address is not host:port", ErrInvalidURL)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: an address has a bad port", ErrInvalidURL)
		}
		o.Addrs = append(o.Addrs, addr)
	}
	if scheme == "redis+cluster" {
		if path != "" {
			return nil, fmt.Errorf("%w: redis+cluster urls take no path (cluster has no databases)", ErrInvalidURL)
		}
		o.IsClusterMode = true
		return o, nil
	}
	master, db, hasDB := strings.Cut(path, "/")
	if master == "" {
		return nil, fmt.Errorf("%w: redis+sentinel url lacks the master name", ErrInvalidURL)
	}
	o.MasterName = master
	if hasDB {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: database is not a non-negative integer", ErrInvalidURL)
		}
		o.DB = n
	}
	return o, nil
}
