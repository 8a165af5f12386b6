package torchscript

// Tuple is a Python tuple.
type Tuple []any

// Device is a torch.device, as its string form ("cpu", "cuda:0").
type Device string

// Dict is a Python dict or collections.OrderedDict with its insertion order kept.
// Keys are string, int64, float64, bool, nil or *Tensor (TorchScript's key types; the
// reader refuses others), so Get's == comparison is safe for keys of those types.
type Dict struct {
	Keys   []any
	Values []any
}

// Get returns the value stored under key (compared with ==) and whether it exists.
func (d *Dict) Get(key any) (any, bool) {
	for i, k := range d.Keys {
		if k == key {
			return d.Values[i], true
		}
	}
	return nil, false
}

// Len returns the number of entries.
func (d *Dict) Len() int { return len(d.Keys) }

// Object is an instance of a TorchScript class: a module (__torch__.MLP) or a scripted
// class. TorchScript pickles an object's attribute dict as its state; Attrs holds it and
// Order its keys in pickle order (parameters, buffers and submodules alike; the class's
// ClassDef says which is which). State holds a state that is not a dict (a class with a
// custom __getstate__), else nil.
type Object struct {
	Class string
	Attrs map[string]any
	Order []string
	State any
}

// Attr returns the attribute name and whether the object has it.
func (o *Object) Attr(name string) (any, bool) {
	v, ok := o.Attrs[name]
	return v, ok
}

// Module returns the submodule (an *Object attribute) called name, or nil.
func (o *Object) Module(name string) *Object {
	m, _ := o.Attrs[name].(*Object)
	return m
}

// Tensor returns the tensor attribute called name, or nil.
func (o *Object) Tensor(name string) *Tensor {
	t, _ := o.Attrs[name].(*Tensor)
	return t
}
