package graph

// ops maps torch.<name> and ops.aten.<name> to op builders; prims maps ops.prim.<name>.
// They are filled in init because the builders reach back into the tables.
var ops, prims map[string]*opDef

func init() {
	ops = map[string]*opDef{}
	for _, m := range []map[string]*opDef{nnOps(), mathOps(), layoutOps(), miscOps()} {
		for k, v := range m {
			ops[k] = v
		}
	}
	prims = primOps()
}
