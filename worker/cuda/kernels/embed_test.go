package kernels

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// entries parses a PTX module's kernel entry points and their parameter counts
// independently of ParamCount.
func entries(t *testing.T, ptx string) map[Name]int {
	t.Helper()
	re := regexp.MustCompile(`(?s)\.entry (\w+)\(\s*(.*?)\)\s*\{`)
	out := map[Name]int{}
	for _, m := range re.FindAllStringSubmatch(ptx, -1) {
		out[Name(m[1])] = strings.Count(m[2], ".param")
	}
	if len(out) == 0 {
		t.Fatal("no .entry in the PTX")
	}
	return out
}

func TestPTX(t *testing.T) {
	tests := []struct {
		name         string
		major, minor int
		target       string
		err          error
	}{
		{name: "hopper gets compute_90", major: 9, minor: 0, target: ".target sm_90"},
		{name: "blackwell JITs the compute_90 PTX", major: 10, minor: 0, target: ".target sm_90"},
		{name: "ampere gets compute_80", major: 8, minor: 0, target: ".target sm_80"},
		{name: "ada gets compute_80", major: 8, minor: 9, target: ".target sm_80"},
		{name: "volta is too old", major: 7, minor: 0, err: ErrArch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ptx, err := PTX(tc.major, tc.minor)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.err == nil && !strings.Contains(ptx, tc.target+"\n") {
				t.Errorf("PTX lacks %q", tc.target)
			}
		})
	}
}

// TestEntries checks that both PTX builds define exactly the kernels of Names, with
// 8-byte parameters only (the launch contract), and the same signatures.
func TestEntries(t *testing.T) {
	e80, e90 := entries(t, ptxSM80), entries(t, ptxSM90)
	var got []Name
	for n := range e90 {
		got = append(got, n)
	}
	want := slices.Clone(Names)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("PTX entries %v, Names %v", got, want)
	}
	for n, c := range e90 {
		if e80[n] != c {
			t.Errorf("%s: %d parameters for compute_90, %d for compute_80", n, c, e80[n])
		}
	}
	for _, ptx := range []string{ptxSM80, ptxSM90} {
		for _, line := range strings.Split(ptx, "\n") {
			if strings.Contains(line, ".param .") && strings.Contains(line, "_param_") &&
				!strings.Contains(line, ".u64") && !strings.Contains(line, ".f64") {
				t.Errorf("parameter not 8 bytes wide: %s", strings.TrimSpace(line))
			}
		}
	}
}

// TestParamCount exposes each kernel's parameter count for the lowering's tests.
func TestParamCount(t *testing.T) {
	for _, n := range Names {
		got, err := ParamCount(n)
		if err != nil {
			t.Fatal(err)
		}
		if want := entries(t, ptxSM90)[n]; got != want {
			t.Errorf("%s: ParamCount %d, PTX %d", n, got, want)
		}
	}
	if _, err := ParamCount("no_such_kernel"); !errors.Is(err, ErrNoKernel) {
		t.Errorf("unknown kernel: err %v, want ErrNoKernel", err)
	}
}
