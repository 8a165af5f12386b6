package kernels

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

//go:embed kernels_sm80.ptx
var ptxSM80 string

//go:embed kernels_sm90.ptx
var ptxSM90 string

// PTX returns the PTX module for a GPU of compute capability major.minor: the compute_90
// build for Hopper and newer (the driver JIT-compiles it for later architectures), the
// compute_80 build for Ampere and Ada.
func PTX(major, minor int) (string, error) {
	switch {
	case major >= 9:
		return ptxSM90, nil
	case major == 8:
		return ptxSM80, nil
	}
	return "", fmt.Errorf("%w: %d.%d", ErrArch, major, minor)
}

// paramCounts parses the entry points of the PTX and counts their parameters.
var paramCounts = sync.OnceValue(func() map[Name]int {
	re := regexp.MustCompile(`(?s)\.visible \.entry (\w+)\((.*?)\)`)
	out := map[Name]int{}
	for _, m := range re.FindAllStringSubmatch(ptxSM90, -1) {
		out[Name(m[1])] = strings.Count(m[2], ".param")
	}
	return out
})

// ParamCount returns how many parameters kernel n takes, read from the PTX.
func ParamCount(n Name) (int, error) {
	c, ok := paramCounts()[n]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrNoKernel, n)
	}
	return c, nil
}
