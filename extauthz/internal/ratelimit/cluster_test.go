package ratelimit

import (
	"context"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startCluster runs a Redis Cluster of three masters on free 127.0.0.1
// ports, each serving a third of the slots, and returns their addresses. The
// processes are killed when the test ends. It skips without redis-server.
func startCluster(t *testing.T) []string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	freePort := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	var addrs []string
	var nodes []*redis.Client
	var firstPort, firstBus int
	for i := range 3 {
		port, bus := freePort(), freePort()
		cmd := exec.Command(path, "--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(bus),
			"--bind", "127.0.0.1", "--cluster-enabled", "yes", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		mustOK(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		waitUntil(t, "a cluster node answers PING", func() bool { return c.Ping(context.Background()).Err() == nil })
		mustOK(t, c.Do(context.Background(), "cluster", "addslotsrange", i*16384/3, (i+1)*16384/3-1).Err())
		if i == 0 {
			firstPort, firstBus = port, bus
		} else { // each node meets the first; gossip does the rest
			mustOK(t, c.Do(context.Background(), "cluster", "meet", "127.0.0.1", firstPort, firstBus).Err())
		}
		addrs, nodes = append(addrs, addr), append(nodes, c)
	}
	// Gossip forms the cluster in about a second when idle, but a CI machine running every
	// package's race-enabled tests at once can take much longer.
	waitLong(t, "the cluster is formed", func() bool {
		for _, c := range nodes {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return false
			}
		}
		return true
	})
	return addrs
}

// TestRedisCluster decides requests of many clients, whose keys spread over
// the three masters of a real cluster. Concurrent Allows share pipelines; a
// batch that spans all nodes is split by go-redis per node; a node that lost
// its scripts reloads the script for its own calls only; and every request
// spends its cost exactly once.
func TestRedisCluster(t *testing.T) {
	addrs := startCluster(t)
	client, err := NewClientTimeout("redis+cluster://"+strings.Join(addrs, ","), time.Second)
	mustOK(t, err)
	t.Cleanup(func() { _ = client.Close() })
	l := NewRedis(client, RedisOptions{Timeout: 5 * time.Second})
	tier := &Tier{Name: "pro", Rate: 1000, Burst: 1000, Quotas: []Quota{{Day, 1000}}}
	nodes := make([]*redis.Client, len(addrs))
	for i, a := range addrs {
		nodes[i] = redis.NewClient(&redis.Options{Addr: a})
		t.Cleanup(func() { _ = nodes[i].Close() })
	}
	const clients = 48
	request := func(i int) Request {
		return Request{ClientID: "client-" + strconv.Itoa(i), Tier: tier, Cost: 1}
	}

	// Concurrent Allows; they load the script on every node.
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			if res, err := l.Allow(context.Background(), request(i)); err != nil || res.Degraded || !res.Allowed {
				t.Errorf("client %d: %+v, %v", i, res, err)
			}
		})
	}
	wg.Wait()

	// One batch of all clients, with the scripts of node 1 flushed.
	for _, n := range nodes {
		mustOK(t, n.ConfigResetStat(context.Background()).Err())
	}
	mustOK(t, nodes[1].ScriptFlush(context.Background()).Err())
	var batch []*call
	for i := range clients {
		batch = append(batch, testCall(context.Background(), scriptCall(l.prefix, request(i))))
	}
	l.pipe.exec(client.Pipeline(), slices.Clone(batch))
	for i, c := range batch {
		if v, err := c.cmd.Int64Slice(); err != nil || len(v) != 4 || v[0] != 1 {
			t.Errorf("client %d in the batch: %v, %v", i, v, err)
		}
	}
	total := 0
	for i, n := range nodes {
		stats := commandStats(t, n)
		total += stats["evalsha"]
		if stats["evalsha"] == 0 {
			t.Errorf("node %d ran no script call: the keys did not spread", i)
		}
		// Each call answered NOSCRIPT counts as an evalsha and is sent again as eval.
		if flushed := i == 1; (stats["eval"] > 0) != flushed || stats["eval"] > stats["evalsha"] {
			t.Errorf("node %d: %d eval, %d evalsha; want reloads on the flushed node only", i, stats["eval"], stats["evalsha"])
		}
	}
	if total != clients {
		t.Errorf("%d evalsha calls on the nodes for a batch of %d", total, clients)
	}

	for i := range clients {
		res, err := l.Allow(context.Background(), request(i))
		if err != nil || res.Degraded || res.Policies[1].Remaining != 1000-3 {
			t.Errorf("client %d after its third request: %+v, %v; want 3 spent", i, res, err)
		}
	}
}
