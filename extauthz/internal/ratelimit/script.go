package ratelimit

import (
	_ "embed"
	"fmt"

	"github.com/redis/go-redis/v9"
)

//go:embed script.lua
var scriptSource string

// scriptSHA is the SHA1 of the script, under which Redis caches it.
var scriptSHA = redis.NewScript(scriptSource).Hash()

// scriptCall returns the command that decides r in Redis: EVALSHA with the
// script's KEYS (the GCRA key and the quota key prefix, both hash-tagged with
// the client id, so one Cluster slot holds them) and ARGV. The normal case is
// this one command; see evalArgs for a Redis that lost the script.
//
// ARGV carries what the decision needs, computed here rather than in Redis,
// where the script runs on the server's one thread: the TAT increment and
// the tolerance of GCRA, the cost, and per quota its window and room (limit
// minus cost). r must be valid (Request.validate), so every value is exact.
func scriptCall(prefix string, r Request) []any {
	base := prefix + "{" + r.ClientID + "}:"
	t := r.Tier
	emission := t.emissionMicros()
	tolerance := t.Burst * emission
	increment := tolerance + 1 // a cost above Burst never fits (and cost·T may overflow)
	if r.Cost <= t.Burst {
		increment = r.Cost * emission
	}
	args := make([]any, 0, 8+2*len(t.Quotas))
	args = append(args, "evalsha", scriptSHA, 2, base+"gcra", base+"q:",
		increment, tolerance, r.Cost)
	for _, q := range t.Quotas {
		args = append(args, string(q.Window), q.Limit-r.Cost)
	}
	return args
}

// evalArgs turns a scriptCall command into EVAL of the script's source, for
// a Redis that answered NOSCRIPT (after a restart or SCRIPT FLUSH); EVAL also
// caches the script, so the next EVALSHA finds it.
func evalArgs(evalsha []any) []any {
	return append([]any{"eval", scriptSource}, evalsha[2:]...)
}

// parseReply checks the script's reply for a tier and returns its parts:
// whether it allowed, the Redis time and the prior state.
func parseReply(v []int64, t *Tier) (allowed bool, now int64, st state, err error) {
	if len(v) != 3+len(t.Quotas) || v[0] < 0 || v[0] > 1 {
		return false, 0, state{}, fmt.Errorf("%w: %d values", errScriptReply, len(v))
	}
	return v[0] == 1, v[1], state{tat: v[2], used: v[3:]}, nil
}
