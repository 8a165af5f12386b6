package server

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/torchgate/torchgate/extauthz/internal/config"
)

// reloadDebounce collapses the burst of events one editor save or ConfigMap swap produces.
const reloadDebounce = 250 * time.Millisecond

// Reload reads the configuration file again and, if it is valid, swaps the new policy in.
// Checks in flight finish on the old policy. A bad file is reported and the old configuration
// stays in force. Listener addresses, TLS files and the audit log settings need a restart.
func (s *Server) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := config.Load(s.path)
	if err != nil {
		s.logger.Error("config reload rejected; keeping the previous configuration", "err", err)
		return err
	}
	p, err := buildPolicy(s.ctx, cfg, s.sets, s.caches, s.limiter, s.auth)
	if err != nil {
		s.logger.Error("config reload rejected; keeping the previous configuration", "err", err)
		return err
	}
	if cfg.Listen != s.cfg.Listen || cfg.Audit != s.cfg.Audit || cfg.Redis != s.cfg.Redis || cfg.Issuer != s.cfg.Issuer {
		s.logger.Warn("listen, audit, redis and issuer settings change only on restart")
	}
	s.service.SetPolicy(p)
	s.level.Set(logLevel(cfg.LogLevel))
	s.cfg = cfg
	s.logger.Info("config reloaded", "issuers", len(cfg.Issuers), "routes", len(cfg.Routes))
	return nil
}

// watchConfig reloads on every change of the configuration file until ctx is done. It watches
// the file's directory, so atomic renames and Kubernetes ConfigMap symlink swaps are seen too.
func (s *Server) watchConfig(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(s.path)); err != nil {
		return err
	}
	base := filepath.Base(s.path)
	var pending <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.Events:
			// ConfigMaps swap a "..data" symlink; anything else must be our file.
			if name := filepath.Base(ev.Name); name == base || name == "..data" {
				pending = time.After(reloadDebounce)
			}
		case err := <-w.Errors:
			s.logger.Warn("config watch error", "err", err)
		case <-pending:
			pending = nil
			_ = s.Reload()
		}
	}
}
