package repository

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    Config
		wantErr string
	}{
		{name: "empty is the zero config", yaml: "", want: Config{}},
		{name: "every key", yaml: `
max_batch_size: 16
max_queue_delay: 2ms
preferred_batch_sizes: [4, 8]
instances: 2
max_queue_size: 10
request_timeout: 5s
inputs:
  - {name: x, datatype: FP32, dims: [-1, 16]}
outputs:
  - {name: y, datatype: INT64, dims: [-1]}
`, want: Config{MaxBatchSize: 16, MaxQueueDelay: 2 * time.Millisecond, PreferredBatchSizes: []int{4, 8}, Instances: 2,
			MaxQueueSize: 10, RequestTimeout: 5 * time.Second,
			Inputs:  []Tensor{{Name: "x", Datatype: FP32, Dims: []int{-1, 16}}},
			Outputs: []Tensor{{Name: "y", Datatype: INT64, Dims: []int{-1}}}}},
		{name: "unknown key", yaml: "max_batch: 4\n", wantErr: "field max_batch not found"},
		{name: "negative batch", yaml: "max_batch_size: -1\n", wantErr: "negative"},
		{name: "bad duration", yaml: "max_queue_delay: soon\n", wantErr: "bad config"},
		{name: "preferred above max", yaml: "max_batch_size: 4\npreferred_batch_sizes: [8]\n", wantErr: "outside 1..max_batch_size (4)"},
		{name: "preferred above default max", yaml: "preferred_batch_sizes: [9]\n", wantErr: "(8)"},
		{name: "bad datatype", yaml: "inputs: [{name: x, datatype: FP16}]\n", wantErr: `datatype "FP16"`},
		{name: "unnamed input", yaml: "inputs: [{datatype: FP32}]\n", wantErr: "input 0 has no name"},
		{name: "duplicate output", yaml: "outputs: [{name: y, datatype: FP32}, {name: y, datatype: FP32}]\n", wantErr: "used twice"},
		{name: "bad dims", yaml: "inputs: [{name: x, datatype: FP32, dims: [-2]}]\n", wantErr: "below -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tc.yaml))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want ErrConfig containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.MaxBatchSize != tc.want.MaxBatchSize || got.MaxQueueDelay != tc.want.MaxQueueDelay ||
				!slices.Equal(got.PreferredBatchSizes, tc.want.PreferredBatchSizes) || got.Instances != tc.want.Instances ||
				got.MaxQueueSize != tc.want.MaxQueueSize || got.RequestTimeout != tc.want.RequestTimeout ||
				len(got.Inputs) != len(tc.want.Inputs) || len(got.Outputs) != len(tc.want.Outputs) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	d := Config{}.WithDefaults()
	if d.MaxBatchSize != DefaultMaxBatchSize || d.Instances != DefaultInstances || d.MaxQueueSize != DefaultMaxQueueSize || d.RequestTimeout != DefaultRequestTimeout {
		t.Errorf("defaults %+v", d)
	}
	if c := (Config{MaxBatchSize: 1}).WithDefaults(); c.MaxBatchSize != 1 {
		t.Errorf("set value replaced: %+v", c)
	}
}

// mkfile creates a file (and its folders) under dir.
func mkfile(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	dir := t.TempDir()
	mkfile(t, dir, "b/1/model.pt", "")
	mkfile(t, dir, "b/10/model.pt", "")
	mkfile(t, dir, "b/2/model.pt", "")
	mkfile(t, dir, "b/007/model.pt", "") // not a version name
	mkfile(t, dir, "b/latest/model.pt", "")
	mkfile(t, dir, "b/config.yaml", "max_batch_size: 4\n")
	mkfile(t, dir, "a/3/model.pt", "")
	mkfile(t, dir, "README.md", "")
	models, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 2 || models[0].Name != "a" || models[1].Name != "b" {
		t.Fatalf("models %+v", models)
	}
	var nums []int64
	for _, v := range models[1].Versions {
		nums = append(nums, v.Number)
	}
	if !slices.Equal(nums, []int64{1, 2, 10}) || models[1].Default().Number != 10 || models[1].Config.MaxBatchSize != 4 {
		t.Errorf("model b: versions %v, default %d, config %+v", nums, models[1].Default().Number, models[1].Config)
	}
	if p := models[0].Default().Path; p != filepath.Join(dir, "a", "3", "model.pt") {
		t.Errorf("path %s", p)
	}
}

func TestScanErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []string // rel=content
		want  error
	}{
		{name: "no models", files: []string{"README.md="}, want: ErrLayout},
		{name: "model without versions", files: []string{"m/config.yaml="}, want: ErrLayout},
		{name: "version without archive", files: []string{"m/1/other.pt="}, want: ErrLayout},
		{name: "bad config", files: []string{"m/1/model.pt=", "m/config.yaml=nope: 1"}, want: ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				rel, content, _ := strings.Cut(f, "=")
				mkfile(t, dir, rel, content)
			}
			if _, err := Scan(dir); !errors.Is(err, tc.want) {
				t.Errorf("Scan: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := Scan(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrLayout) {
		t.Errorf("Scan of a missing folder: %v", err)
	}
}
