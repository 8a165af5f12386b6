package cli

import (
	"fmt"
	"runtime"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/repository"
	"github.com/torchgate/torchgate/worker/internal/serve"
)

// loadRepository loads every version of every model, config.yaml's instances copies each.
func loadRepository(dir string, dev device) ([]serve.ModelVersion, []*engine.Model, error) {
	repo, err := repository.Scan(dir)
	if err != nil {
		return nil, nil, err
	}
	var versions []serve.ModelVersion
	var loaded []*engine.Model
	for _, m := range repo {
		cfg := m.Config.WithDefaults()
		idev := dev.perInstance(cfg.Instances, runtime.NumCPU())
		for _, v := range m.Versions {
			mv := serve.ModelVersion{Name: m.Name, Version: v.Number, Config: m.Config}
			for range cfg.Instances {
				em, err := idev.load(v.Path)
				if err != nil {
					closeModels(loaded)
					return nil, nil, fmt.Errorf("serve: model %s version %d: %w", m.Name, v.Number, err)
				}
				loaded = append(loaded, em)
				mv.Instances = append(mv.Instances, em)
			}
			versions = append(versions, mv)
		}
	}
	return versions, loaded, nil
}

// closeModels releases loaded models.
func closeModels(models []*engine.Model) {
	for _, m := range models {
		m.Close()
	}
}
