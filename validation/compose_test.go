package validation

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	yamlv3 "gopkg.in/yaml.v3"
)

// loadCompose loads docker-compose.yml with every profile enabled, as `docker compose` would.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(nil), cli.WithProfiles([]string{"*"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	root, _ := filepath.Abs(repoRoot)
	for _, want := range []string{"redis", "extauthz", "worker", "worker-gpu", "envoy", "prometheus", "grafana"} {
		if _, ok := p.Services[want]; !ok {
			t.Errorf("service %s is missing", want)
		}
	}
	for name, s := range p.Services {
		if !s.ReadOnly {
			t.Errorf("service %s: root filesystem is not read-only", name)
		}
		if !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("service %s: needs cap_drop [ALL] and no-new-privileges", name)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			t.Errorf("service %s: no healthcheck", name)
		}
		if s.User == "0" || strings.HasPrefix(s.User, "root") || strings.HasPrefix(s.User, "0:") {
			t.Errorf("service %s runs as root", name)
		}
		if !pinnedImage(s.Image) {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s: bind mount source %s: %v", name, v.Source, err)
			}
		}
	}
	mounts := map[string]string{
		"envoy":      filepath.Join(root, composeEnvoyCopy),
		"extauthz":   filepath.Join(root, "deploy/extauthz/config.yaml"),
		"prometheus": filepath.Join(root, "deploy/prometheus/prometheus.yml"),
		"grafana":    filepath.Join(root, "dashboards"),
	}
	for svc, src := range mounts {
		if !slices.ContainsFunc(p.Services[svc].Volumes, func(v types.ServiceVolumeConfig) bool { return v.Source == src }) {
			t.Errorf("service %s does not mount %s", svc, src)
		}
	}
	gpu := p.Services["worker-gpu"]
	if !slices.Contains(gpu.Profiles, "gpu") || gpu.Deploy == nil || len(gpu.Deploy.Resources.Reservations.Devices) == 0 ||
		gpu.Deploy.Resources.Reservations.Devices[0].Driver != "nvidia" {
		t.Error("worker-gpu needs the gpu profile and an nvidia device reservation")
	}
	if slices.Contains(p.Services["worker"].Profiles, "gpu") {
		t.Error("the CPU worker must run without a profile")
	}
}

// TestComposeEnvoyMatchesProtos pins Envoy's image to the version of the protos that validate
// its configuration (github.com/envoyproxy/go-control-plane/envoy tracks Envoy's releases).
func TestComposeEnvoyMatchesProtos(t *testing.T) {
	var protos string
	for _, line := range strings.Split(string(readRepoFile(t, "validation", "go.mod")), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/envoyproxy/go-control-plane/envoy" {
			protos = f[1]
		}
	}
	if protos == "" {
		t.Fatal("validation/go.mod does not require github.com/envoyproxy/go-control-plane/envoy")
	}
	image := loadCompose(t).Services["envoy"].Image
	if want := "envoyproxy/envoy:" + protos; image != want {
		t.Errorf("envoy image %s; the configuration is validated against protos %s (want %s)", image, protos, want)
	}
}

// TestPrometheusTargets checks that every compose scrape target names a compose service.
func TestPrometheusTargets(t *testing.T) {
	p := loadCompose(t)
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yamlv3.Unmarshal(readRepoFile(t, "deploy/prometheus/prometheus.yml"), &cfg); err != nil {
		t.Fatal(err)
	}
	jobs := 0
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, _, _ := strings.Cut(target, ":")
				if _, ok := p.Services[host]; !ok {
					t.Errorf("job %s scrapes %s, which is not a compose service", sc.JobName, target)
				}
				jobs++
			}
		}
	}
	if jobs < 3 {
		t.Errorf("%d scrape targets; want extauthz, worker and envoy", jobs)
	}
}

// imageRef is an image with an explicit version tag (not latest).
var imageRef = regexp.MustCompile(`^[a-z0-9./_-]+:[A-Za-z0-9._-]+$`)

func pinnedImage(ref string) bool {
	return imageRef.MatchString(ref) && !strings.HasSuffix(ref, ":latest")
}

func TestDockerfiles(t *testing.T) {
	for _, name := range []string{"extauthz.Dockerfile", "worker.Dockerfile", "worker-gpu.Dockerfile"} {
		t.Run(name, func(t *testing.T) {
			text := string(readRepoFile(t, "deploy", "docker", name))
			var froms []string
			user, healthcheck := "", false
			for _, line := range strings.Split(text, "\n") {
				fields := strings.Fields(line)
				if len(fields) < 2 {
					continue
				}
				switch fields[0] {
				case "FROM":
					froms = append(froms, fields[1])
					user = ""
				case "USER":
					user = fields[1]
				case "HEALTHCHECK":
					healthcheck = true
				}
			}
			if len(froms) < 2 {
				t.Error("not a multi-stage build")
			}
			for _, f := range froms {
				if !pinnedImage(f) {
					t.Errorf("base image %s is not pinned", f)
				}
			}
			if user == "" || user == "0" || strings.HasPrefix(user, "root") {
				t.Errorf("the final stage runs as %q; want a non-root USER", user)
			}
			if !healthcheck {
				t.Error("no HEALTHCHECK")
			}
		})
	}
}

func TestPinnedImage(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		want bool
	}{
		{name: "exact tag", ref: "envoyproxy/envoy:v1.40.0", want: true},
		{name: "registry and tag", ref: "gcr.io/distroless/static-debian12:nonroot", want: true},
		{name: "no tag", ref: "redis"},
		{name: "latest", ref: "redis:latest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pinnedImage(tc.ref); got != tc.want {
				t.Fatalf("pinnedImage(%q) = %v, want %v", tc.ref, got, tc.want)
			}
		})
	}
}

// TestImagesModulesBuildAlone builds the modules the CPU images build, as their Dockerfiles do:
// each on its own (GOWORK=off), with only the go.mod and go.sum it has. A requirement that only
// the workspace (go.work) supplies would break `docker build` while every other check passes.
func TestImagesModulesBuildAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two modules")
	}
	for _, module := range []string{"extauthz", "worker"} {
		t.Run(module, func(t *testing.T) {
			cmd := exec.Command("go", "build", "./...")
			cmd.Dir = repoPath(module)
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("GOWORK=off go build ./... in %s: %v\n%s", module, err, out)
			}
		})
	}
}
