package validation

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// gpuOnlyMetrics are dcgm-exporter's names that the worker exports only on a machine with a GPU
// (NVML present): no test machine has one, so these names are accepted without a scrape. Each
// entry is a name the worker's GPU telemetry must export, in dcgm-exporter's units and labels
// (gpu, UUID, device, modelName, Hostname); the GPU check (make gpu-check) is where they are
// seen. A DCGM name used in a dashboard or alert and missing here fails the test.
var gpuOnlyMetrics = []string{
	"DCGM_FI_DEV_GPU_UTIL",    // %
	"DCGM_FI_DEV_FB_USED",     // MiB
	"DCGM_FI_DEV_FB_FREE",     // MiB
	"DCGM_FI_DEV_GPU_TEMP",    // °C
	"DCGM_FI_DEV_POWER_USAGE", // W
	"DCGM_FI_DEV_SM_CLOCK",    // MHz
	"DCGM_FI_DEV_MEM_CLOCK",   // MHz
}

// metricUse is one place that names a metric.
type metricUse struct{ name, where string }

// usedMetrics collects every metric name the dashboards (panel targets and template variables)
// and the alert rules name.
func usedMetrics(t *testing.T) []metricUse {
	t.Helper()
	var uses []metricUse
	add := func(where, expr string) {
		for _, n := range metricNames(expr) {
			uses = append(uses, metricUse{n, where})
		}
	}
	files, err := filepath.Glob(repoPath("dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards found (%v)", err)
	}
	for _, f := range files {
		d := readDashboard(t, f)
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatalf("%s variable %s: %v", d.Title, v.Name, err)
			}
			add(fmt.Sprintf("%s variable %s", d.Title, v.Name), q.Query)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				add(fmt.Sprintf("%s panel %q", d.Title, p.Title), tg.Expr)
			}
		}
	}
	js, err := yaml.YAMLToJSON(readRepoFile(t, "k8s/components/monitoring/alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := decodeObject(js)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range o.value.(*prometheusRule).Spec.Groups {
		for _, r := range g.Rules {
			add("alert "+r.Alert, r.Expr)
		}
	}
	return uses
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"` // a string, or {"query": ...} for query variables
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T, path string) dashboard {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

func TestDashboards(t *testing.T) {
	want := []string{"Access and quota", "GPU", "Inference"}
	var titles []string
	files, _ := filepath.Glob(repoPath("dashboards", "*.json"))
	for _, f := range files {
		d := readDashboard(t, f)
		titles = append(titles, d.Title)
		if d.UID == "" || len(d.Panels) == 0 {
			t.Errorf("%s: needs a uid and panels", f)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s panel %q: needs targets on the ${datasource} variable", d.Title, p.Title)
			}
			for _, tg := range p.Targets {
				if len(metricNames(tg.Expr)) == 0 {
					t.Errorf("%s panel %q: query %q names no metric", d.Title, p.Title, tg.Expr)
				}
			}
		}
	}
	slices.Sort(titles)
	if !slices.Equal(titles, want) {
		t.Errorf("dashboards %q, want %q", titles, want)
	}
}

// owner says which component must export a metric name, by prefix.
func owner(name string) string {
	switch {
	case slices.Contains(gpuOnlyMetrics, name):
		return "gpu"
	case strings.HasPrefix(name, "DCGM_"):
		return "unknown DCGM name (add it to gpuOnlyMetrics only if the worker exports it)"
	case strings.HasPrefix(name, "torchgate_issuer_"):
		return "issuer"
	case strings.HasPrefix(name, "torchgate_inference_"), strings.HasPrefix(name, "torchgate_gpu_"):
		return "worker"
	case strings.HasPrefix(name, "torchgate_"):
		return "extauthz"
	}
	return "unknown"
}

// exported reports whether name is among the scraped series: a family name, or a histogram or
// summary family's _bucket, _sum or _count.
func exported(families map[string]string, name string) bool {
	if _, ok := families[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			typ := families[base]
			if typ == "histogram" || (typ == "summary" && suffix != "_bucket") {
				return true
			}
		}
	}
	return false
}

// parseExposition returns the metric families (name → type) of a Prometheus text exposition.
func parseExposition(text string) map[string]string {
	families := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if f := strings.Fields(rest); len(f) == 2 {
				families[f[0]] = f[1]
			}
		}
	}
	return families
}

func TestExported(t *testing.T) {
	families := parseExposition("# HELP a_seconds x\n# TYPE a_seconds histogram\na_seconds_bucket{le=\"1\"} 1\n" +
		"# TYPE b_total counter\nb_total 1\n# TYPE s summary\n")
	tests := []struct {
		name string
		want bool
	}{
		{"a_seconds", true}, {"a_seconds_bucket", true}, {"a_seconds_count", true},
		{"b_total", true}, {"b_total_count", false}, {"s_sum", true}, {"s_bucket", false}, {"c", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exported(families, tc.name); got != tc.want {
				t.Fatalf("exported(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

// TestMetricsExported is the "no panel points at nothing" check: every name a dashboard or an
// alert uses is exported by a running extauthz (after real Checks and, when the binary has the
// issuer, token requests) or a running worker (after an inference), or is a GPU-only DCGM name.
func TestMetricsExported(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs extauthz and the worker")
	}
	byOwner := map[string][]metricUse{}
	for _, u := range usedMetrics(t) {
		o := owner(u.name)
		byOwner[o] = append(byOwner[o], u)
	}
	for o, uses := range byOwner {
		switch o {
		case "extauthz", "issuer", "worker", "gpu":
		default:
			for _, u := range uses {
				t.Errorf("%s uses %s: %s", u.where, u.name, o)
			}
		}
	}
	check := func(t *testing.T, families map[string]string, uses []metricUse) {
		for _, u := range uses {
			if !exported(families, u.name) {
				t.Errorf("%s uses %s, which the running server does not export", u.where, u.name)
			}
		}
	}
	t.Run("extauthz", func(t *testing.T) {
		s := startExtauthz(t)
		check(t, s.scrape(t), byOwner["extauthz"])
		t.Run("issuer", func(t *testing.T) {
			if !s.issuer {
				t.Skipf("this extauthz has no issuer yet (config key issuer:); not checked: %v", names(byOwner["issuer"]))
			}
			check(t, s.scrape(t), byOwner["issuer"])
		})
	})
	t.Run("worker", func(t *testing.T) {
		families, ok := scrapeWorker(t)
		if !ok {
			t.Skipf("this worker has no serve command yet; not checked: %v", names(byOwner["worker"]))
		}
		check(t, families, byOwner["worker"])
	})
}

func names(uses []metricUse) []string {
	var out []string
	for _, u := range uses {
		out = append(out, u.name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
