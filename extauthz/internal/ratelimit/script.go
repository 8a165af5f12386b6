package ratelimit

import (
	_ "embed"
	"fmt"

	"github.com/redis/go-redis/v9"
)

//go:embed script.lua
var scriptSource string

// script decides one request in Redis. Run sends EVALSHA and falls back to
// EVAL only when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH),
// so the normal case is one round trip.
var script = redis.NewScript(scriptSource)

// scriptKeys returns the script's KEYS for a client: the GCRA key and the
// quota key prefix, both hash-tagged with the client id.
func scriptKeys(prefix, client string) []string {
	base := prefix + "{" + client + "}:"
	return []string{base + "gcra", base + "q:"}
}

// scriptArgs returns the script's ARGV for a request.
func scriptArgs(t *Tier, cost int64) []any {
	args := make([]any, 0, 4+2*len(t.Quotas))
	args = append(args, t.emissionMicros(), t.Burst, cost, len(t.Quotas))
	for _, q := range t.Quotas {
		args = append(args, string(q.Window), q.Limit)
	}
	return args
}

// parseReply checks the script's reply for a tier and returns its parts:
// whether it allowed, the Redis time and the prior state.
func parseReply(v []int64, t *Tier) (allowed bool, now int64, st state, err error) {
	if len(v) != 3+len(t.Quotas) || v[0] < 0 || v[0] > 1 {
		return false, 0, state{}, fmt.Errorf("%w: %d values", errScriptReply, len(v))
	}
	return v[0] == 1, v[1], state{tat: v[2], used: v[3:]}, nil
}
