// Package redistest runs a real redis-server process on a free loopback port, for integration
// tests and load generators: a single server, a replica of one, or a Sentinel that monitors
// one. Nothing is persisted; the process is stopped by its PID.
package redistest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotInstalled means no redis-server binary is on PATH.
var ErrNotInstalled = errors.New("redistest: redis-server not installed (apt-get install redis-server)")

// Server is a running (or stopped, restartable) redis-server.
type Server struct {
	path  string
	dir   string
	port  int
	lead  []string // arguments before the options: a Sentinel's config file (one it can rewrite) and --sentinel
	extra []string // options after the common ones
	cmd   *exec.Cmd
}

// Start runs redis-server on a free 127.0.0.1 port and kills it when the test ends. It skips
// the test when redis-server is not installed (CI installs it).
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, nil)
}

// start is Start with setup applied to the server before it first starts.
func start(t testing.TB, setup func(*Server) error) *Server {
	t.Helper()
	s, err := run(t.TempDir(), setup)
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// Run starts redis-server on a free 127.0.0.1 port with its working directory in dir (created
// if missing), and waits until it answers PING. The caller must Kill it.
func Run(dir string) (*Server, error) {
	return run(dir, nil)
}

// run is Run with setup applied to the server before it first starts.
func run(dir string, setup func(*Server) error) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{path: path, dir: dir, port: port}
	if setup != nil {
		if err := setup(s); err != nil {
			return nil, err
		}
	}
	return s, s.Restart()
}

// StartReplica runs a redis-server that replicates master, and waits until master sees it in
// sync; it is killed when the test ends.
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	r := start(t, func(s *Server) error {
		s.extra = []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.port)}
		return nil
	})
	c := redis.NewClient(&redis.Options{Addr: master.Addr(), MaxRetries: -1})
	defer func() { _ = c.Close() }()
	online := fmt.Sprintf("port=%d,state=online", r.port)
	err := poll(30*time.Second, func() (bool, error) {
		info, err := c.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, online), err
	})
	if err != nil {
		t.Fatalf("redistest: replica %s not in sync with %s: %v", r.Addr(), master.Addr(), err)
	}
	return r
}

// StartSentinel runs a Redis Sentinel that monitors master under name, alone (quorum 1); it is
// killed when the test ends. It returns once the Sentinel knows all the replicas master has
// then, so that a failover can pick one.
func StartSentinel(t testing.TB, name string, master *Server) *Server {
	t.Helper()
	s := start(t, func(s *Server) error {
		conf := filepath.Join(s.dir, "sentinel.conf")
		if err := os.WriteFile(conf, nil, 0o600); err != nil {
			return fmt.Errorf("redistest: %w", err)
		}
		s.lead = []string{conf, "--sentinel"}
		s.extra = []string{"--sentinel", "monitor", name, "127.0.0.1", strconv.Itoa(master.port), "1"}
		return nil
	})
	m := redis.NewClient(&redis.Options{Addr: master.Addr(), MaxRetries: -1})
	defer func() { _ = m.Close() }()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer func() { _ = sc.Close() }()
	ctx := context.Background()
	err := poll(30*time.Second, func() (bool, error) {
		info, err := m.Info(ctx, "replication").Result()
		if err != nil {
			return false, err
		}
		replicas, err := sc.Replicas(ctx, name).Result()
		return err == nil && strings.Contains(info, fmt.Sprintf("connected_slaves:%d\r\n", len(replicas))), err
	})
	if err != nil {
		t.Fatalf("redistest: sentinel %s does not know the replicas of %s: %v", s.Addr(), master.Addr(), err)
	}
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Restart starts the server (again) on its port and waits until PING works.
func (s *Server) Restart() error {
	// A master starts a replica's full sync at once, not after the default 5 s wait for more.
	args := slices.Concat(s.lead, []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--dir", s.dir}, s.extra)
	s.cmd = exec.Command(s.path, args...)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer func() { _ = c.Close() }()
	err := poll(10*time.Second, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := c.Ping(ctx).Err()
		return err == nil, err
	})
	if err != nil {
		s.Kill()
		return fmt.Errorf("redistest: redis-server on %s does not answer PING: %w", s.Addr(), err)
	}
	return nil
}

// poll calls ready every 10 ms until it reports true, for at most timeout. When time runs
// out it returns the last error ready gave, or one saying it timed out.
func poll(timeout time.Duration, ready func() (bool, error)) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		ok, err := ready()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, cmp.Or(err, errors.New("condition not met")))
		}
	}
}

// Kill stops the server by its PID (SIGKILL, like a crash) and reaps it.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing is answered, like a
// Redis stalled by a long command or swapping.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

// PID is the server's process id, or 0 when stopped.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) signal(sig os.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return errors.New("redistest: server not running")
	}
	return s.cmd.Process.Signal(sig)
}
