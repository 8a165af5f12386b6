package torchscript

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const (
	// maxMetaRecord bounds the pickles, code files and small text records.
	maxMetaRecord = 64 << 20
	// maxDeflateRatio is deflate's largest possible expansion; a compressed record claiming
	// more than this is lying and is refused before anything is allocated.
	maxDeflateRatio = 1032
	// minZipSize is the size of an empty zip (its end-of-central-directory record).
	minZipSize = 22
)

// Archive is a loaded TorchScript archive. It is read-only once returned and safe for
// concurrent readers.
type Archive struct {
	// Name is the archive's top folder (torch names it after the file: "resnet18").
	Name string
	// Version is the serialization format version from version or .data/version (1–10).
	Version int
	// Module is the root module unpickled from data.pkl.
	Module *Object
	// Constants is the constants.pkl tuple; CONSTANTS.cN in code is Constants[N].
	Constants Tuple
	// Code maps a qualified module name ("__torch__.torch.nn.modules.linear") to its
	// parsed code/ file.
	Code map[string]*SourceFile

	m *mapping // the file mapping of Open; nil for Read
}

// Read loads an archive of size bytes from r. Tensor records are read into memory once.
func Read(r io.ReaderAt, size int64) (*Archive, error) {
	return load(r, size, readerSource{r, size})
}

// Open loads the archive file at path. On Linux it memory-maps the file and tensors alias
// the mapping (no copy); call Close only once no tensor of the archive is used anymore.
// Elsewhere it falls back to Read.
func Open(path string) (*Archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchscript: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torchscript: %w", err)
	}
	size := st.Size()
	if size < minZipSize {
		return nil, fmt.Errorf("%w: %d-byte file is no zip", ErrFormat, size)
	}
	data, unmap, err := mapFile(f, size)
	if errors.Is(err, errNoMmap) {
		return Read(f, size)
	}
	if err != nil {
		return nil, fmt.Errorf("torchscript: mmap %s: %w", path, err)
	}
	m := &mapping{data: data, unmap: unmap}
	a, err := load(bytes.NewReader(data), size, mappedSource{m})
	if err != nil {
		return nil, errors.Join(err, m.close())
	}
	a.m = m
	return a, nil
}

// Evict drops every page of the file mapping made by Open from the process's resident set,
// as Storage.Evict does for one storage: the archive's data stays readable and unchanged,
// and pages read again are faulted back in from the file. Call it once the data has been
// copied where it is used (weights packed). It does nothing for an archive from Read or
// after Close, and is safe for concurrent use.
func (a *Archive) Evict() error {
	if a.m == nil {
		return nil
	}
	return a.m.evictAll()
}

// Close releases the file mapping made by Open. Tensors of the archive must not be used
// after Close. Closing an archive from Read does nothing.
func (a *Archive) Close() error {
	if a.m == nil {
		return nil
	}
	return a.m.close()
}

// source returns the bytes of a stored (uncompressed) zip record.
type source interface {
	slice(off, n int64) ([]byte, error)
}

// mappedSource slices records out of the memory-mapped file without copying.
type mappedSource struct{ m *mapping }

func (s mappedSource) slice(off, n int64) ([]byte, error) {
	m := s.m.data
	if off < 0 || n < 0 || off > int64(len(m)) || n > int64(len(m))-off {
		return nil, fmt.Errorf("%w: record outside the file", ErrFormat)
	}
	return m[off : off+n : off+n], nil
}

// readerSource reads records through ReadAt, once each.
type readerSource struct {
	r    io.ReaderAt
	size int64
}

func (s readerSource) slice(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > s.size || n > s.size-off {
		return nil, fmt.Errorf("%w: record outside the file", ErrFormat)
	}
	buf := make([]byte, n)
	if _, err := s.r.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return buf, nil
}

// layout is the zip directory seen through the archive's top folder.
type layout struct {
	src     source
	files   map[string]*zip.File
	rootDir string
}

func load(r io.ReaderAt, size int64, src source) (*Archive, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	l, err := newLayout(zr, src)
	if err != nil {
		return nil, err
	}
	a := &Archive{Name: l.rootDir}
	if a.Version, err = l.version(); err != nil {
		return nil, err
	}
	if err := l.byteOrder(); err != nil {
		return nil, err
	}
	if err := l.loadPickles(a); err != nil {
		return nil, err
	}
	if a.Code, err = l.parseCode(); err != nil {
		return nil, err
	}
	return a, nil
}

func newLayout(zr *zip.Reader, src source) (*layout, error) {
	l := &layout{src: src, files: map[string]*zip.File{}}
	for _, f := range zr.File {
		if dir, ok := strings.CutSuffix(f.Name, "/data.pkl"); ok && !strings.Contains(dir, "/") {
			l.rootDir = dir
			break
		}
	}
	if l.rootDir == "" {
		return nil, fmt.Errorf("%w: no <name>/data.pkl record", ErrFormat)
	}
	for _, f := range zr.File {
		if name, ok := strings.CutPrefix(f.Name, l.rootDir+"/"); ok {
			if _, dup := l.files[name]; !dup {
				l.files[name] = f
			}
		}
	}
	return l, nil
}

// record returns the bytes of the record name (relative to the top folder). Stored
// records come straight from the source; compressed ones are inflated up to their
// declared size, which must be plausible for their compressed size.
func (l *layout) record(name string) ([]byte, error) {
	f, ok := l.files[name]
	if !ok {
		return nil, fmt.Errorf("%w: missing record %s", ErrFormat, name)
	}
	if f.Method == zip.Store {
		if f.CompressedSize64 != f.UncompressedSize64 {
			return nil, fmt.Errorf("%w: stored record %s has two sizes", ErrFormat, name)
		}
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("%w: record %s: %w", ErrFormat, name, err)
		}
		if f.UncompressedSize64 > 1<<62 {
			return nil, fmt.Errorf("%w: record %s too large", ErrFormat, name)
		}
		return l.src.slice(off, int64(f.UncompressedSize64))
	}
	if f.UncompressedSize64 > maxDeflateRatio*f.CompressedSize64+64 {
		return nil, fmt.Errorf("%w: record %s claims an impossible size", ErrFormat, name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: record %s: %w", ErrFormat, name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: record %s: %w", ErrFormat, name, err)
	}
	if uint64(len(data)) != f.UncompressedSize64 {
		return nil, fmt.Errorf("%w: record %s is not its declared size", ErrFormat, name)
	}
	return data, nil
}

// metaRecord is record for small non-tensor records, with a size cap.
func (l *layout) metaRecord(name string) ([]byte, error) {
	if f, ok := l.files[name]; ok && f.UncompressedSize64 > maxMetaRecord {
		return nil, fmt.Errorf("%w: record %s larger than %d bytes", ErrFormat, name, maxMetaRecord)
	}
	return l.record(name)
}

func (l *layout) version() (int, error) {
	name := ".data/version"
	if _, ok := l.files[name]; !ok {
		name = "version"
	}
	b, err := l.metaRecord(name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%w: version record %q", ErrFormat, b)
	}
	if v < 1 || v > 10 {
		return 0, fmt.Errorf("%w: %d", ErrVersion, v)
	}
	return v, nil
}

func (l *layout) byteOrder() error {
	if _, ok := l.files["byteorder"]; !ok {
		return nil
	}
	b, err := l.metaRecord("byteorder")
	if err != nil {
		return err
	}
	switch order := strings.TrimSpace(string(b)); order {
	case "little":
		return nil
	case "big":
		return fmt.Errorf("%w: big-endian tensors", ErrByteOrder)
	default:
		return fmt.Errorf("%w: byteorder record %q", ErrFormat, order)
	}
}

func (l *layout) loadPickles(a *Archive) error {
	p, err := l.metaRecord("data.pkl")
	if err != nil {
		return err
	}
	ms, _ := l.src.(mappedSource)
	u := &unpickler{records: l.record, dir: "data", storages: map[string]*Storage{}, mapping: ms.m}
	v, err := u.load(p)
	if err != nil {
		return fmt.Errorf("data.pkl: %w", err)
	}
	var ok bool
	if a.Module, ok = v.(*Object); !ok {
		return fmt.Errorf("%w: data.pkl holds %T, not a module", ErrFormat, v)
	}
	if _, ok := l.files["constants.pkl"]; !ok {
		return nil
	}
	if p, err = l.metaRecord("constants.pkl"); err != nil {
		return err
	}
	u = &unpickler{records: l.record, dir: "constants", storages: map[string]*Storage{}, mapping: ms.m}
	if v, err = u.load(p); err != nil {
		return fmt.Errorf("constants.pkl: %w", err)
	}
	if a.Constants, ok = v.(Tuple); !ok {
		return fmt.Errorf("%w: constants.pkl holds %T, not a tuple", ErrFormat, v)
	}
	return nil
}

func (l *layout) parseCode() (map[string]*SourceFile, error) {
	code := map[string]*SourceFile{}
	for name := range l.files {
		rel, ok := strings.CutPrefix(name, "code/")
		if !ok || !strings.HasSuffix(rel, ".py") {
			continue
		}
		src, err := l.metaRecord(name)
		if err != nil {
			return nil, err
		}
		module := strings.ReplaceAll(strings.TrimSuffix(rel, ".py"), "/", ".")
		f, err := Parse(name, module, src)
		if err != nil {
			return nil, err
		}
		code[module] = f
	}
	return code, nil
}
