// Package ratelimit decides whether a client may spend a request's cost now,
// under its tier's rate, burst and calendar quotas.
//
// # Algorithm
//
// The rate and burst of a tier are enforced with GCRA, the generic cell rate
// algorithm: each client has a theoretical arrival time (TAT); a request of
// cost c moves it forward by c emission intervals (T = 1/Rate), and is allowed
// when the new TAT is no further than Burst·T ahead of now. GCRA is a sliding
// limit: there is no window edge at which two bursts can be spent back to back.
// All times are whole microseconds and T is rounded to a whole microsecond, so
// the arithmetic is exact and identical in Go and in the Redis script. Hence
// the bounds that Tier.Validate enforces: Rate at most 1e6 units per second,
// and costs, quota limits and Burst/Rate (in µs) at most 2^50, which keeps
// every sum an exact integer in Lua's doubles.
//
// Calendar quotas (minute, hour, day, month) are counters per UTC window. A
// month is a calendar month.
//
// Every decision is all-or-nothing: all limits are checked first, and a
// request consumes cost from every limit or from none.
//
// A request whose cost can never fit (cost above Burst or above a quota's
// Limit) is denied with Result.Unsatisfiable set and RetryAfter zero: waiting
// would not help, and a Retry-After would lie.
//
// # Limiters
//
// [Local] keeps state in process memory: the limiter of a single replica, and
// the fallback of [Redis]. [Redis] decides all limits of one request in one
// round trip with one Lua script (EVALSHA), taking the time from the Redis
// server's TIME so that replica clocks do not matter. Limits travel as script
// arguments, so a changed tier applies on the next request. The script calls
// of concurrent Allows are auto-pipelined: a call goes out at once when no
// pipeline is on the wire, and the calls that arrive while one is go out
// together as the next (one write, one read); each caller waits for its own
// reply under its own deadline. A Redis that lost the script (restart, SCRIPT
// FLUSH) answers NOSCRIPT, and just those calls are sent again as EVAL, which
// reloads it.
//
// # Redis keys
//
// With the default prefix "torchgate:rl:":
//
//	torchgate:rl:{<client>}:gcra                 TAT in µs; expires when the bucket is full
//	torchgate:rl:{<client>}:q:minute:YYYYMMDDhhmm quota counter; expires at window end + 60 s
//	torchgate:rl:{<client>}:q:hour:YYYYMMDDhh
//	torchgate:rl:{<client>}:q:day:YYYYMMDD
//	torchgate:rl:{<client>}:q:month:YYYYMM
//
// All keys of a client share the hash tag {<client>}, so they live in one
// Redis Cluster slot and the script never crosses slots. The script needs
// Redis 5 or later (effects replication of a script that calls TIME).
//
// # Redis failures
//
// Every script call carries a deadline of RedisOptions.Timeout, so no Allow
// waits longer than that on Redis. After BreakerFailures consecutive failures
// a circuit breaker opens for BreakerCooldown; while it is open Allow does not
// touch Redis. Then a single probe request goes to Redis: success closes the
// breaker, failure opens it again. While Redis is unusable, OnError "local"
// decides with a [Local] limiter whose limits are the tier's divided by
// Replicas (rounded up for burst and quotas, so a request that fits the tier
// still fits one replica; usage recorded in Redis is not known to it), and
// "deny" returns [ErrUnavailable].
//
// # Metrics
//
//	torchgate_ratelimit_decisions_total{tier,result}  result: allowed|rate_limited|quota_exceeded|error
//	torchgate_ratelimit_degraded                      1 while decisions bypass Redis
//	torchgate_redis_errors_total                      failed script calls
//	torchgate_redis_duration_seconds                  script call latency
//	torchgate_quota_used_ratio{client_id,window}      used/limit of the current window
//
// The quota ratio is cardinality-capped: the collector remembers at most
// 1024 (client, window) pairs (when full, a new pair replaces the lowest
// ratio if its own is higher); a scrape exports the 50 highest ratios with
// their client id and the highest of the rest as client_id="other".
//
// # Concurrency
//
// Limiters are safe for concurrent use by multiple goroutines.
package ratelimit
