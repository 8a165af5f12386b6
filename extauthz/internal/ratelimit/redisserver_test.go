package ratelimit

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server process on a loopback port, for tests.
type redisServer struct {
	t    testing.TB
	path string
	dir  string
	port int
	cmd  *exec.Cmd
}

// startRedis starts redis-server on a free 127.0.0.1 port and stops it when
// the test ends. It skips the test when redis-server is not installed.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server); CI installs it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s := &redisServer{t: t, path: path, dir: t.TempDir(), port: port}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// addr is the server's host:port.
func (s *redisServer) addr() string {
	return "127.0.0.1:" + strconv.Itoa(s.port)
}

// start runs the server (again) on its port and waits until PING works.
func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.path, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.kill()
			s.t.Fatalf("redis-server on %s does not answer PING: %v", s.addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops the server by its PID (SIGKILL, like a crash) and reaps it.
func (s *redisServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// pause freezes the server (SIGSTOP): connections stay open and accepted,
// but nothing is answered, like a Redis stalled by a long command or swap.
func (s *redisServer) pause() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatal(err)
	}
}

// resume continues a paused server (SIGCONT).
func (s *redisServer) resume() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatal(err)
	}
}

// client returns a go-redis client configured as NewClientTimeout does.
func (s *redisServer) client(timeout time.Duration) redis.UniversalClient {
	s.t.Helper()
	c, err := NewClientTimeout("redis://"+s.addr()+"/0", timeout)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}
