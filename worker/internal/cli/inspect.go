package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// inspect prints the model's inputs, op counts and parameters.
func inspect(args []string, w io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("inspect takes one MODEL.pt")
	}
	m, err := engine.Load(args[0], engine.Options{Threads: 1})
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintln(w, "inputs:")
	for _, in := range m.Inputs() {
		fmt.Fprintf(w, "  %s: %s %s\n", in.Name, in.DType, shapeString(in.Shape))
	}
	fmt.Fprintln(w, "outputs:")
	fmt.Fprintln(w, "  determined by the input shapes (traced code); run the model to see them")
	st := m.Stats()
	fmt.Fprintln(w, "ops (call sites per forward):")
	names := make([]string, 0, len(st.OpCalls))
	for k := range st.OpCalls {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %-32s %d\n", k, st.OpCalls[k])
	}
	fmt.Fprintf(w, "parameters: %d (%d bytes)\n", st.Params, st.ParamBytes)
	return nil
}

// shapeString formats a shape with ? for unknown sizes.
func shapeString(s []int) string {
	if s == nil {
		return "[?]"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
		if d < 0 {
			parts[i] = "?"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
