package revocation

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis names shared by every replica.
const (
	// Channel carries one JSON message per revocation.
	Channel = "torchgate:revocations"
	// KeyPrefixJTI + jti holds "<exp unix seconds>:<client id>" until the token's exp.
	KeyPrefixJTI = "torchgate:revoked:jti:"
	// KeyPrefixClient + client id holds the watermark in Unix nanoseconds for MaxTokenLifetime.
	KeyPrefixClient = "torchgate:revoked:client:"
)

// Message kinds.
const (
	kindJTI    = "jti"
	kindClient = "client"
)

// message is what Channel carries: Unix is the jti's exp in seconds, or the client watermark
// in nanoseconds.
type message struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Client string `json:"client,omitempty"`
	Unix   int64  `json:"t"`
}

// retryDelay is the pause after a failed subscription read before the next try.
const retryDelay = 200 * time.Millisecond

// publish stores the revocation's key with ttl and publishes it, in one round trip.
func (s *Store) publish(ctx context.Context, m message, ttl time.Duration) error {
	ttl = max(ttl, time.Second)
	var key, val string
	if m.Kind == kindJTI {
		key, val = KeyPrefixJTI+m.ID, strconv.FormatInt(m.Unix, 10)+":"+m.Client
	} else {
		key, val = KeyPrefixClient+m.ID, strconv.FormatInt(m.Unix, 10)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("revocation: %w", err)
	}
	_, err = s.opts.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, val, ttl)
		p.Publish(ctx, Channel, body)
		return nil
	})
	if err != nil {
		return fmt.Errorf("revocation: publishing to redis (applied locally only): %w", err)
	}
	return nil
}

// subscribe receives Channel until ctx is done, re-syncing from the keys whenever the
// subscription is (re)established. go-redis reconnects and resubscribes after a failed read.
func (s *Store) subscribe(ctx context.Context) error {
	ps := s.opts.Redis.Subscribe(ctx, Channel)
	// A blocked Receive does not watch ctx; closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	defer ps.Close()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.opts.Logger.Warn("revocation: redis subscription", slog.Any("error", err))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retryDelay):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				if err := s.resync(ctx); err != nil && ctx.Err() == nil {
					s.opts.Logger.Warn("revocation: redis resync", slog.Any("error", err))
				}
			}
		case *redis.Message:
			s.applyMessage(m.Payload)
		}
	}
}

// applyMessage applies one Channel message; malformed ones are logged and ignored.
func (s *Store) applyMessage(payload string) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil || m.ID == "" {
		s.opts.Logger.Warn("revocation: ignoring malformed message")
		return
	}
	switch m.Kind {
	case kindJTI:
		s.applyJTI(m.ID, m.Client, time.Unix(m.Unix, 0))
	case kindClient:
		s.applyClient(m.ID, time.Unix(0, m.Unix))
	}
}

// resync applies every revocation key, on every master in cluster mode.
func (s *Store) resync(ctx context.Context) error {
	if c, ok := s.opts.Redis.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return s.scan(ctx, node)
		})
	}
	return s.scan(ctx, s.opts.Redis)
}

// scanBatch is the SCAN COUNT hint and the MGET size.
const scanBatch = 500

// scan reads the revocation keys of one node.
func (s *Store) scan(ctx context.Context, c redis.Cmdable) error {
	it := c.Scan(ctx, 0, "torchgate:revoked:*", scanBatch).Iterator()
	var keys []string
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		// One GET per key in a pipeline: in cluster mode MGET would need one slot.
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			return fmt.Errorf("revocation: resync: %w", err)
		}
		for i, cmd := range cmds {
			if v, err := cmd.(*redis.StringCmd).Result(); err == nil {
				s.applyKey(keys[i], v)
			}
		}
		keys = keys[:0]
		return nil
	}
	for it.Next(ctx) {
		keys = append(keys, it.Val())
		if len(keys) == scanBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("revocation: resync: %w", err)
	}
	return flush()
}

// applyKey applies one stored revocation; malformed values are ignored.
func (s *Store) applyKey(key, val string) {
	switch {
	case strings.HasPrefix(key, KeyPrefixJTI):
		t, client, _ := strings.Cut(val, ":")
		if exp, err := strconv.ParseInt(t, 10, 64); err == nil {
			s.applyJTI(strings.TrimPrefix(key, KeyPrefixJTI), client, time.Unix(exp, 0))
		}
	case strings.HasPrefix(key, KeyPrefixClient):
		if wm, err := strconv.ParseInt(val, 10, 64); err == nil {
			s.applyClient(strings.TrimPrefix(key, KeyPrefixClient), time.Unix(0, wm))
		}
	}
}
