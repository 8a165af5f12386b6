package torchscript

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// maxNesting bounds how deeply pickled containers may nest.
const maxNesting = 512

// recordSource gives the unpickler the bytes of a tensor record ("data/3").
type recordSource func(name string) ([]byte, error)

// unpickler loads one pickle of an archive: data.pkl with storages under data/, or
// constants.pkl with storages under constants/.
type unpickler struct {
	records  recordSource
	dir      string
	storages map[string]*Storage
	// mapping is the file mapping records may alias (nil for Read).
	mapping *mapping
	// broadcast sums the elements tensors have beyond their storages; see maxBroadcastElems.
	broadcast int
}

// load runs the pickle VM over p with torch's hooks and converts the result to the Go
// values described in the package documentation. Every tensor is validated as it is built.
func (u *unpickler) load(p []byte) (v any, err error) {
	if err := scanPickle(p); err != nil {
		return nil, err
	}
	defer func() {
		// The pickle VM indexes its stacks without checks on some malformed streams.
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: %v", ErrPickle, r)
		}
	}()
	vm := pickle.NewUnpickler(bytes.NewReader(p))
	vm.FindClass = u.findClass
	vm.PersistentLoad = u.persistentLoad
	raw, err := vm.Load()
	if err != nil {
		if ours(err) {
			return nil, err // from a hook, already classified
		}
		return nil, fmt.Errorf("%w: %w", ErrPickle, err)
	}
	c := converter{seen: map[any]any{}, active: map[any]bool{}}
	if v, err = c.convert(raw, 0); err != nil {
		return nil, err
	}
	return v, nil
}

// ours reports whether err already wraps one of the package's sentinels.
func ours(err error) bool {
	for _, s := range []error{ErrPickle, ErrUnsupported, ErrFormat, ErrTensor} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// callable adapts a Go function to the pickle VM's Callable.
type callable func(args ...any) (any, error)

func (f callable) Call(args ...any) (any, error) { return f(args...) }

// storageClass is the value of torch.FloatStorage and friends inside a pickle.
type storageClass struct{ dtype DType }

// dtypeValue is the value of torch.float32 and friends inside a pickle.
type dtypeValue struct{ dtype DType }

// objectClass is a __torch__.* class; instantiating it makes a pendingObject.
type objectClass struct{ name string }

func (c objectClass) PyNew(args ...any) (any, error) {
	return &pendingObject{obj: &Object{Class: c.name, Attrs: map[string]any{}}}, nil
}

// pendingObject is an Object during unpickling: BUILD hands it the raw state, which the
// converter turns into the Object's Attrs.
type pendingObject struct {
	obj   *Object
	state any
	set   bool
}

// PySetState records the BUILD state.
func (p *pendingObject) PySetState(state any) error {
	if p.set {
		return fmt.Errorf("%w: object state set twice", ErrPickle)
	}
	p.state, p.set = state, true
	return nil
}

func (u *unpickler) findClass(module, name string) (any, error) {
	switch {
	case module == "torch._utils" && name == "_rebuild_tensor_v2":
		return callable(u.rebuildTensorV2), nil
	case module == "torch._utils" && name == "_rebuild_tensor":
		return callable(u.rebuildTensor), nil
	case module == "torch._utils" && name == "_rebuild_parameter":
		return callable(rebuildParameter), nil
	case module == "torch" && name == "device":
		return callable(newDevice), nil
	case module == "torch" && (name == "UntypedStorage" || name == "ByteStorage"),
		module == "torch.storage" && name == "UntypedStorage":
		return storageClass{Uint8}, nil
	case module == "torch.jit._pickle":
		if f, ok := jitPickleFuncs[name]; ok {
			return f, nil
		}
	case module == "torch":
		if d, ok := storageDTypes[name]; ok {
			return storageClass{d}, nil
		}
		if d, ok := dtypeNames[name]; ok {
			return dtypeValue{d}, nil
		}
	case module == "__torch__" || strings.HasPrefix(module, "__torch__."):
		return objectClass{module + "." + name}, nil
	}
	return nil, fmt.Errorf("%w: pickled class %s.%s", ErrUnsupported, module, name)
}

// persistentLoad resolves ('storage', class, key, location, numel) to a *Storage over
// the record dir/key, checking numel against the record size.
func (u *unpickler) persistentLoad(pid any) (any, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() != 5 || t.Get(0) != "storage" {
		return nil, fmt.Errorf("%w: persistent id %T", ErrPickle, pid)
	}
	var dtype DType
	switch c := t.Get(1).(type) {
	case storageClass:
		dtype = c.dtype
	case dtypeValue:
		dtype = c.dtype
	default:
		return nil, fmt.Errorf("%w: storage type %T", ErrUnsupported, c)
	}
	key, ok1 := t.Get(2).(string)
	location, ok2 := t.Get(3).(string)
	numel, ok3 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || numel < 0 || strings.Contains(key, "/") {
		return nil, fmt.Errorf("%w: malformed storage id", ErrPickle)
	}
	if s, ok := u.storages[key]; ok {
		if s.DType != dtype || s.Numel() != numel {
			return nil, fmt.Errorf("%w: storage %s used with two types", ErrFormat, key)
		}
		return s, nil
	}
	name := u.dir + "/" + key
	data, err := u.records(name)
	if err != nil {
		return nil, err
	}
	if uint64(numel) > uint64(len(data))/uint64(dtype.Size()) {
		return nil, fmt.Errorf("%w: storage %s claims %d %s elements but the record has %d bytes",
			ErrFormat, name, numel, dtype, len(data))
	}
	s := &Storage{DType: dtype, Data: data[:numel*dtype.Size()], Key: name, Device: location}
	if u.mapping.contains(s.Data) {
		s.mapping = u.mapping
	}
	u.storages[key] = s
	return s, nil
}

// rebuildTensorV2 is torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata]).
func (u *unpickler) rebuildTensorV2(args ...any) (any, error) {
	if len(args) < 6 || len(args) > 7 {
		return nil, fmt.Errorf("%w: _rebuild_tensor_v2 with %d arguments", ErrPickle, len(args))
	}
	t, err := u.newTensor(args[:4])
	if err != nil {
		return nil, err
	}
	rg, ok := args[4].(bool)
	if !ok {
		return nil, fmt.Errorf("%w: requires_grad is %T", ErrPickle, args[4])
	}
	t.RequiresGrad = rg
	return t, nil
}

// rebuildTensor is torch._utils._rebuild_tensor(storage, storage_offset, size, stride).
func (u *unpickler) rebuildTensor(args ...any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%w: _rebuild_tensor with %d arguments", ErrPickle, len(args))
	}
	return u.newTensor(args)
}

func (u *unpickler) newTensor(args []any) (*Tensor, error) {
	s, ok := args[0].(*Storage)
	if !ok {
		return nil, fmt.Errorf("%w: tensor storage is %T", ErrPickle, args[0])
	}
	offset, ok := args[1].(int)
	if !ok {
		return nil, fmt.Errorf("%w: storage offset is %T", ErrPickle, args[1])
	}
	shape, err := intTuple(args[2])
	if err != nil {
		return nil, err
	}
	strides, err := intTuple(args[3])
	if err != nil {
		return nil, err
	}
	t := &Tensor{DType: s.DType, Shape: shape, Strides: strides, Offset: offset, Storage: s}
	extra, err := t.validate()
	if err != nil {
		return nil, err
	}
	if u.broadcast += extra; u.broadcast > maxBroadcastElems {
		return nil, fmt.Errorf("%w: broadcast tensors hold more than %d elements", ErrTensor, maxBroadcastElems)
	}
	return t, nil
}

// rebuildParameter is torch._utils._rebuild_parameter(data, requires_grad, backward_hooks).
func rebuildParameter(args ...any) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("%w: _rebuild_parameter with %d arguments", ErrPickle, len(args))
	}
	t, ok1 := args[0].(*Tensor)
	rg, ok2 := args[1].(bool)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: malformed _rebuild_parameter", ErrPickle)
	}
	t.RequiresGrad = rg
	return t, nil
}

func intTuple(v any) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%w: expected a tuple of ints, got %T", ErrPickle, v)
	}
	out := make([]int, t.Len())
	for i, e := range *t {
		n, ok := e.(int)
		if !ok {
			return nil, fmt.Errorf("%w: expected an int, got %T", ErrPickle, e)
		}
		out[i] = n
	}
	return out, nil
}

// newDevice is torch.device(type[, index]).
func newDevice(args ...any) (any, error) {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return Device(s), nil
		}
	}
	if len(args) == 2 {
		s, ok1 := args[0].(string)
		i, ok2 := args[1].(int)
		if ok1 && ok2 {
			return Device(fmt.Sprintf("%s:%d", s, i)), nil
		}
	}
	return nil, fmt.Errorf("%w: malformed torch.device", ErrPickle)
}

// jitPickleFuncs are the torch.jit._pickle helpers TorchScript's pickler emits.
var jitPickleFuncs = map[string]callable{
	"build_intlist":    typedList(func(v any) (int64, bool) { n, ok := v.(int); return int64(n), ok }),
	"build_floatlist":  typedList(func(v any) (float64, bool) { f, ok := v.(float64); return f, ok }),
	"build_doublelist": typedList(func(v any) (float64, bool) { f, ok := v.(float64); return f, ok }),
	"build_boollist":   typedList(func(v any) (bool, bool) { b, ok := v.(bool); return b, ok }),
	"build_tensorlist": typedList(func(v any) (*Tensor, bool) { t, ok := v.(*Tensor); return t, ok && t != nil }),
	"restore_type_tag": func(args ...any) (any, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("%w: restore_type_tag with %d arguments", ErrPickle, len(args))
		}
		return args[0], nil
	},
}

// typedList makes a build_*list helper: one list argument whose elements all convert.
func typedList[T any](elem func(any) (T, bool)) callable {
	return func(args ...any) (any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("%w: build list with %d arguments", ErrPickle, len(args))
		}
		l, ok := args[0].(*types.List)
		if !ok {
			return nil, fmt.Errorf("%w: build list of %T", ErrPickle, args[0])
		}
		out := make([]T, l.Len())
		for i, v := range *l {
			if out[i], ok = elem(v); !ok {
				return nil, fmt.Errorf("%w: list element %T", ErrPickle, v)
			}
		}
		return out, nil
	}
}

// converter turns pickle VM values into the package's Go values. seen maps each VM
// container (by pointer) to its converted value, so shared references stay shared and
// cost nothing extra; active holds the containers being converted, to refuse cycles
// (TorchScript values never have any, and consumers may walk values recursively).
type converter struct {
	seen   map[any]any
	active map[any]bool
}

func (c *converter) convert(v any, depth int) (any, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("%w: values nested deeper than %d", ErrPickle, maxNesting)
	}
	switch x := v.(type) {
	case nil, string, bool, float64, []byte, *Tensor, Device, []int64, []float64, []bool, []*Tensor:
		return v, nil
	case int:
		return int64(x), nil
	case *big.Int:
		return nil, fmt.Errorf("%w: integer %s overflows int64", ErrUnsupported, x)
	}
	switch v.(type) {
	case *types.List, *types.Tuple, *types.Dict, *types.OrderedDict, *pendingObject:
	default:
		return nil, fmt.Errorf("%w: pickled value of type %T", ErrUnsupported, v)
	}
	if done, ok := c.seen[v]; ok {
		if c.active[v] {
			return nil, fmt.Errorf("%w: value contains itself", ErrPickle)
		}
		return done, nil
	}
	c.active[v] = true
	defer delete(c.active, v)
	switch x := v.(type) {
	case *types.List:
		out := make([]any, x.Len())
		c.seen[v] = out
		return out, c.fill(out, *x, depth)
	case *types.Tuple:
		out := make(Tuple, x.Len())
		c.seen[v] = out
		return out, c.fill(out, *x, depth)
	case *types.Dict:
		d := &Dict{}
		c.seen[v] = d
		for _, e := range *x {
			if err := c.add(d, e.Key, e.Value, depth); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *types.OrderedDict:
		d := &Dict{}
		c.seen[v] = d
		for el := x.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			if err := c.add(d, e.Key, e.Value, depth); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	p := v.(*pendingObject) // the only type left by the check above
	c.seen[v] = p.obj
	return p.obj, c.object(p, depth)
}

func (c *converter) fill(out, in []any, depth int) error {
	for i, e := range in {
		var err error
		if out[i], err = c.convert(e, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *converter) add(d *Dict, k, v any, depth int) error {
	ck, err := c.convert(k, depth+1)
	if err != nil {
		return err
	}
	switch ck.(type) {
	case string, int64, float64, bool, nil, *Tensor: // TorchScript's dict key types
	default:
		return fmt.Errorf("%w: dict key of type %T", ErrUnsupported, ck)
	}
	cv, err := c.convert(v, depth+1)
	if err != nil {
		return err
	}
	d.Keys = append(d.Keys, ck)
	d.Values = append(d.Values, cv)
	return nil
}

// object turns a pending object's BUILD state into Attrs (a dict state) or State.
func (c *converter) object(p *pendingObject, depth int) error {
	o := p.obj
	if !p.set {
		return nil
	}
	state, err := c.convert(p.state, depth+1)
	if err != nil {
		return err
	}
	d, ok := state.(*Dict)
	if !ok {
		o.State = state
		return nil
	}
	for i, k := range d.Keys {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("%w: attribute name of type %T in %s", ErrPickle, k, o.Class)
		}
		if _, dup := o.Attrs[name]; !dup {
			o.Order = append(o.Order, name)
		}
		o.Attrs[name] = d.Values[i]
	}
	return nil
}
