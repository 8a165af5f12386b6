//go:build cuda

package cuda

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph"
)

// checkEvery is how many steps Run enqueues between looks at its context.
const checkEvery = 64

// program is a lowered graph bound to device memory: every launch's parameters and every
// GEMM's pointers are resolved once, at load.
type program struct {
	b      *Backend
	low    *Lowered
	res    *resources
	status uintptr
	runs   []func() error
	ins    []uintptr // device address of each input
	outs   []uintptr // device address of each output
	// stage holds the pinned-buffer offsets of each input, then each output, then the
	// status word; stageSize is the buffer size needed.
	stage     []int
	stageSize int
}

var _ engine.Program = (*program)(nil)

// resources is what a program gives back, once: explicitly (constant folding) or when the
// program is garbage (the engine drops programs without telling the backend).
type resources struct {
	once   sync.Once
	b      *Backend
	block  Block
	consts []ConstKey
}

func (r *resources) release() { r.once.Do(func() { r.b.release(r.block, r.consts) }) }

// load binds a Lowered to a fresh pool block and the uploaded constants. The caller has
// made the context current on a locked thread.
func (b *Backend) load(low *Lowered) (*program, error) {
	offsets, size := low.Layout()
	blk, err := b.pool.Get(size)
	if err != nil {
		return nil, err
	}
	res := &resources{b: b, block: blk}
	fail := func(err error) (*program, error) {
		res.release()
		return nil, err
	}
	consts := make([]uintptr, len(low.Consts))
	for i, c := range low.Consts {
		p, ok, err := b.constant(c)
		if err != nil {
			return fail(err)
		}
		consts[i] = p
		if ok {
			res.consts = append(res.consts, c.Key)
		}
	}
	if len(low.Meta) > 0 {
		meta := make([]byte, 8*len(low.Meta))
		for i, w := range low.Meta {
			binary.LittleEndian.PutUint64(meta[8*i:], uint64(w))
		}
		if err := copyHtoD(blk.Ptr+uintptr(offsets[SpaceMeta]), meta); err != nil {
			return fail(err)
		}
	}
	p := &program{b: b, low: low, res: res, status: blk.Ptr + uintptr(offsets[SpaceStatus])}
	for _, st := range low.Steps {
		run, err := p.bind(st, consts)
		if err != nil {
			return fail(fmt.Errorf("%s: %s: %w", st.Node.Pos, st.Node.Op, err))
		}
		p.runs = append(p.runs, run)
	}
	for i, bd := range append(append([]Binding(nil), low.Inputs...), low.Outputs...) {
		addr, err := low.Resolve(bd.Ref, blk.Ptr, consts)
		if err != nil {
			return fail(err)
		}
		if i < len(low.Inputs) {
			p.ins = append(p.ins, addr)
		} else {
			p.outs = append(p.outs, addr)
		}
		p.stage = append(p.stage, p.stageSize)
		p.stageSize += int(alignUp(bd.Bytes))
	}
	p.stage = append(p.stage, p.stageSize)
	p.stageSize += align
	runtime.AddCleanup(p, func(r *resources) { r.release() }, res)
	return p, nil
}

// bind resolves one step into a closure that enqueues it.
func (p *program) bind(st Step, consts []uintptr) (func() error, error) {
	low, base := p.low, p.res.block.Ptr
	if g := st.Gemm; g != nil {
		cm := g.ColMajor()
		var ptrs [3]uintptr
		for i, r := range []Ref{cm.A, cm.B, cm.C} {
			a, err := low.Resolve(r, base, consts)
			if err != nil {
				return nil, err
			}
			ptrs[i] = a
		}
		return func() error { return p.b.blas.gemm(&cm, ptrs[0], ptrs[1], ptrs[2]) }, nil
	}
	words, err := low.KernelParams(st.Kernel, base, consts)
	if err != nil {
		return nil, err
	}
	args := make([]unsafe.Pointer, len(words))
	for i := range words {
		args[i] = unsafe.Pointer(&words[i])
	}
	k := st.Kernel
	return func() error { return p.b.dev.launch(k, args) }, nil
}

// Run copies the inputs in through pinned memory, enqueues every step on the backend's
// stream, copies the outputs out and waits.
func (p *program) Run(ctx context.Context, inputs []engine.Tensor, outs []engine.Tensor) error {
	raw, err := p.run(ctx, inputs)
	if err != nil {
		return err
	}
	for i, b := range p.low.Outputs {
		outs[i] = output(raw[i], b)
	}
	return nil
}

// run executes the program and returns each output's bytes in the pinned buffer (valid
// until the backend's next run).
func (p *program) run(ctx context.Context, inputs []engine.Tensor) ([][]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d := p.b.dev
	if err := d.current(); err != nil {
		return nil, err
	}
	if len(inputs) != len(p.low.Inputs) {
		return nil, fmt.Errorf("%w: %d inputs, want %d", ErrInput, len(inputs), len(p.low.Inputs))
	}
	buf, err := p.b.staging.bytes(p.stageSize)
	if err != nil {
		return nil, err
	}
	for i, b := range p.low.Inputs {
		data, err := inputBytes(inputs[i], b)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		if len(data) == 0 {
			continue
		}
		at := p.stage[i]
		copy(buf[at:], data)
		if err := cu.MemcpyHtoDAsync(cu.DevicePtr(p.ins[i]), unsafe.Pointer(&buf[at]), int64(len(data)), d.stream); err != nil {
			return nil, syncAfter(fmt.Errorf("%w: upload input %d: %w", ErrDevice, i, err), d)
		}
	}
	if err := cu.MemsetD32Async(cu.DevicePtr(p.status), 0, 1, d.stream); err != nil {
		return nil, syncAfter(fmt.Errorf("%w: %w", ErrDevice, err), d)
	}
	for i, run := range p.runs {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, syncAfter(err, d)
			}
		}
		if err := run(); err != nil {
			st := p.low.Steps[i]
			return nil, syncAfter(fmt.Errorf("%s: %s: %w", st.Node.Pos, st.Node.Op, err), d)
		}
	}
	raw := make([][]byte, len(p.low.Outputs))
	for i, b := range p.low.Outputs {
		at := p.stage[len(p.low.Inputs)+i]
		raw[i] = buf[at : at+int(b.Bytes)]
		if b.Bytes == 0 {
			continue
		}
		if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&buf[at]), cu.DevicePtr(p.outs[i]), b.Bytes, d.stream); err != nil {
			return nil, syncAfter(fmt.Errorf("%w: download output %d: %w", ErrDevice, i, err), d)
		}
	}
	at := p.stage[len(p.stage)-1]
	if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&buf[at]), cu.DevicePtr(p.status), 4, d.stream); err != nil {
		return nil, syncAfter(fmt.Errorf("%w: download status: %w", ErrDevice, err), d)
	}
	if err := d.sync(); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(buf[at:]) != 0 {
		return nil, fmt.Errorf("%w: token id outside the embedding", ErrInput)
	}
	return raw, nil
}

// syncAfter waits for the work already enqueued (it uses the program's memory and the
// pinned buffer) and returns err.
func syncAfter(err error, d *device) error {
	if serr := d.sync(); serr != nil {
		return fmt.Errorf("%w (then: %w)", err, serr)
	}
	return err
}

// fold is graph.FoldConstants's evaluator: a reshape aliases its input on the host; any
// other node runs alone on the GPU and its outputs come back as constants.
func (b *Backend) fold(n *graph.Node) error {
	if n.Op == graph.OpReshape {
		c, err := aliasConst(n.In[0].Const, n.Out[0])
		if err != nil {
			return err
		}
		n.Out[0].Const = c
		return nil
	}
	low, err := LowerNode(n)
	if err != nil {
		return err
	}
	p, err := b.load(low)
	if err != nil {
		return err
	}
	defer p.res.release()
	raw, err := p.run(context.Background(), nil)
	if err != nil {
		return err
	}
	for i, o := range n.Out {
		c, err := constOf(raw[i], o)
		if err != nil {
			return err
		}
		o.Const = c
	}
	return nil
}

// copyHtoD copies host bytes to the device synchronously.
func copyHtoD(dst uintptr, data []byte) error {
	if err := cu.MemcpyHtoD(cu.DevicePtr(dst), unsafe.Pointer(&data[0]), int64(len(data))); err != nil {
		return fmt.Errorf("%w: upload %d bytes: %w", ErrDevice, len(data), err)
	}
	return nil
}
