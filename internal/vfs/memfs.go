package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MemFS is an in-memory FS that can simulate a power loss (the model is
// Pebble's NewCrashableMem). For every file it tracks what was written and
// what was synced; for every directory, its current entries and the entries
// as of its last SyncDir. Crash returns a new, independent MemFS holding only
// what a power loss would leave: synced file contents reachable through
// synced directory entries. Files whose entry was never synced vanish, and
// leftover handles of the "crashed process" cannot touch the new FS.
//
// A hook, if set, runs before every operation and can fail it (to test a
// failed fsync) or block it (to observe state before an fsync completes).
type MemFS struct {
	mu        sync.Mutex
	root      *memNode
	hook      atomic.Pointer[Hook]
	readBytes atomic.Int64
}

// Op names an FS or File operation, for hooks.
type Op string

// Operations passed to a Hook.
const (
	OpOpen      Op = "open"
	OpRead      Op = "read"
	OpWrite     Op = "write"
	OpSync      Op = "sync"
	OpTruncate  Op = "truncate"
	OpSize      Op = "size"
	OpClose     Op = "close"
	OpRemove    Op = "remove"
	OpRemoveAll Op = "removeall"
	OpRename    Op = "rename"
	OpMkdirAll  Op = "mkdirall"
	OpReadDir   Op = "readdir"
	OpSyncDir   Op = "syncdir"
	OpStat      Op = "stat"
)

// Hook is called before each operation with the operation and the path (for
// File methods, the name the file was opened with). A non-nil error fails
// the operation without performing it. It is called without locks held, so
// it may block.
type Hook func(op Op, path string) error

type memNode struct {
	dir bool
	// Files.
	data   []byte
	synced []byte // durable contents
	shared bool   // synced aliases data's backing array
	// reserved is the end of the blocks Reserve allocated (0 if none).
	reserved int
	// Directories.
	children map[string]*memNode
	durable  map[string]*memNode // entries as of the last SyncDir
}

func newDir() *memNode {
	return &memNode{dir: true, children: map[string]*memNode{}, durable: map[string]*memNode{}}
}

// NewMemFS returns an empty MemFS. Its root directory always exists.
func NewMemFS() *MemFS { return &MemFS{root: newDir()} }

// SetHook installs h (nil removes it).
func (m *MemFS) SetHook(h Hook) {
	if h == nil {
		m.hook.Store(nil)
		return
	}
	m.hook.Store(&h)
}

// ReadBytes returns how many bytes ReadAt calls have returned so far.
func (m *MemFS) ReadBytes() int64 { return m.readBytes.Load() }

func (m *MemFS) run(op Op, name string) error {
	if h := m.hook.Load(); h != nil {
		return (*h)(op, name)
	}
	return nil
}

func split(name string) []string {
	name = strings.Trim(path.Clean("/"+name), "/")
	if name == "" {
		return nil
	}
	return strings.Split(name, "/")
}

// lookup returns the node at name, or nil. REQUIRES: m.mu held.
func (m *MemFS) lookup(name string) *memNode {
	n := m.root
	for _, p := range split(name) {
		if !n.dir {
			return nil
		}
		if n = n.children[p]; n == nil {
			return nil
		}
	}
	return n
}

// parent returns the directory holding name and name's last element.
// REQUIRES: m.mu held.
func (m *MemFS) parent(op, name string) (*memNode, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	d := m.lookup(strings.Join(parts[:len(parts)-1], "/"))
	if d == nil || !d.dir {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return d, parts[len(parts)-1], nil
}

// OpenFile opens name. Supported flags: O_RDONLY, O_WRONLY, O_RDWR,
// O_CREATE, O_EXCL, O_TRUNC, O_APPEND.
func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if err := m.run(OpOpen, name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("open", name)
	if err != nil {
		return nil, err
	}
	n := d.children[base]
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case n == nil:
		n = &memNode{}
		d.children[base] = n
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case n.dir:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	if flag&os.O_TRUNC != 0 {
		n.truncate(0)
	}
	return &memFile{fs: m, n: n, name: name, flag: flag}, nil
}

// Remove removes a file or an empty directory.
func (m *MemFS) Remove(name string) error {
	if err := m.run(OpRemove, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("remove", name)
	if err != nil {
		return err
	}
	n := d.children[base]
	if n == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.dir && len(n.children) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
	}
	delete(d.children, base)
	return nil
}

// RemoveAll removes name and everything below it; a missing name is no
// error.
func (m *MemFS) RemoveAll(name string) error {
	if err := m.run(OpRemoveAll, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("removeall", name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	delete(d.children, base)
	return nil
}

// Rename moves oldname to newname, replacing a file there.
func (m *MemFS) Rename(oldname, newname string) error {
	if err := m.run(OpRename, oldname); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	od, ob, err := m.parent("rename", oldname)
	if err != nil {
		return err
	}
	n := od.children[ob]
	if n == nil {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	nd, nb, err := m.parent("rename", newname)
	if err != nil {
		return err
	}
	if old := nd.children[nb]; old != nil && old.dir && (!n.dir || len(old.children) > 0) {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrExist}
	}
	delete(od.children, ob)
	nd.children[nb] = n
	return nil
}

// MkdirAll creates name and missing parents. New entries are durable only
// after SyncDir on their parent.
func (m *MemFS) MkdirAll(name string, perm os.FileMode) error {
	if err := m.run(OpMkdirAll, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.root
	for _, p := range split(name) {
		n := d.children[p]
		if n == nil {
			n = newDir()
			d.children[p] = n
		} else if !n.dir {
			return &fs.PathError{Op: "mkdir", Path: name, Err: errors.New("not a directory")}
		}
		d = n
	}
	return nil
}

// ReadDir returns the sorted names in directory name.
func (m *MemFS) ReadDir(name string) ([]string, error) {
	if err := m.run(OpReadDir, name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.lookup(name)
	if d == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	if !d.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return slices.Sorted(maps.Keys(d.children)), nil
}

// SyncDir makes the current entries of directory name durable.
func (m *MemFS) SyncDir(name string) error {
	if err := m.run(OpSyncDir, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.lookup(name)
	if d == nil || !d.dir {
		return &fs.PathError{Op: "syncdir", Path: name, Err: fs.ErrNotExist}
	}
	d.durable = maps.Clone(d.children)
	return nil
}

// Stat reports name's size and kind.
func (m *MemFS) Stat(name string) (int64, bool, error) {
	if err := m.run(OpStat, name); err != nil {
		return 0, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.lookup(name)
	if n == nil {
		return 0, false, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return int64(len(n.data)), n.dir, nil
}

// ReadFile returns a copy of the current contents of name (no hook).
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.lookup(name)
	if n == nil || n.dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(n.data), nil
}

// WriteFile replaces the contents of name, creating it, and makes both the
// contents and the entry durable (no hook): a test's way to damage files.
func (m *MemFS) WriteFile(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("write", name)
	if err != nil {
		return err
	}
	n := d.children[base]
	if n == nil {
		n = &memNode{}
		d.children[base] = n
	}
	n.truncate(0)
	n.writeAt(data, 0)
	n.sync()
	d.durable[base] = n
	return nil
}

// Crash returns a new MemFS with what a power loss would leave: only synced
// data under synced directory entries.
func (m *MemFS) Crash() *MemFS { return m.crash(nil) }

// CrashWith is Crash, except that each file whose unsynced writes extend its
// synced contents keeps a random prefix of them (rng decides), as a torn
// write would.
func (m *MemFS) CrashWith(rng *rand.Rand) *MemFS { return m.crash(rng) }

func (m *MemFS) crash(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	memo := map[*memNode]*memNode{}
	var clone func(n *memNode) *memNode
	clone = func(n *memNode) *memNode {
		if c := memo[n]; c != nil {
			return c // the same file under two durable names stays one file
		}
		if n.dir {
			c := newDir()
			memo[n] = c
			for name, ch := range n.durable {
				c.children[name] = clone(ch)
			}
			c.durable = maps.Clone(c.children)
			return c
		}
		d := bytes.Clone(n.synced)
		if d == nil {
			d = []byte{}
		}
		if rng != nil && len(n.data) > len(n.synced) && bytes.Equal(n.data[:len(n.synced)], n.synced) {
			k := rng.IntN(len(n.data) - len(n.synced) + 1)
			d = append(d, n.data[len(n.synced):len(n.synced)+k]...)
		}
		c := &memNode{data: d}
		c.sync()
		memo[n] = c
		return c
	}
	return &MemFS{root: clone(m.root)}
}

// sync makes the current contents durable.
func (n *memNode) sync() {
	n.synced = n.data[:len(n.data):len(n.data)]
	n.shared = true
}

// mutating is called before bytes at index >= at change: if the synced
// view shares those bytes, it gets its own copy first.
func (n *memNode) mutating(at int) {
	if n.shared && at < len(n.synced) {
		n.synced = bytes.Clone(n.synced)
		n.shared = false
	}
}

func (n *memNode) writeAt(p []byte, off int) {
	n.mutating(off)
	if end := off + len(p); end > len(n.data) {
		n.data = slices.Grow(n.data, end-len(n.data))[:end]
	}
	copy(n.data[off:], p)
}

func (n *memNode) truncate(size int) {
	n.reserved = min(n.reserved, size) // ext4 frees blocks past the new size
	if size < len(n.data) {
		n.mutating(size)
		n.data = n.data[:size]
		return
	}
	n.data = append(n.data, make([]byte, size-len(n.data))...)
}

type memFile struct {
	fs     *MemFS
	n      *memNode
	name   string
	flag   int
	pos    int
	closed bool
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) check(op string, write bool) error {
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	if write && f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return &fs.PathError{Op: op, Path: f.name, Err: errors.New("file not open for writing")}
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.run(OpRead, f.name); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	f.fs.readBytes.Add(int64(n))
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	if err := f.fs.run(OpWrite, f.name); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		f.pos = len(f.n.data)
	}
	f.n.writeAt(p, f.pos)
	f.pos += len(p)
	return len(p), nil
}

func (f *memFile) Sync() error {
	if err := f.fs.run(OpSync, f.name); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	f.n.sync()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	if err := f.fs.run(OpTruncate, f.name); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	f.n.truncate(int(size))
	return nil
}

// Reserve records the reservation (Reserved reports it); MemFS allocates
// nothing.
func (f *memFile) Reserve(off, n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("fallocate", true); err != nil {
		return err
	}
	f.n.reserved = max(f.n.reserved, int(off+n))
	return nil
}

// Unreserve drops the recorded reservation past size.
func (f *memFile) Unreserve(size, end int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("fallocate", true); err != nil {
		return err
	}
	if f.n.reserved > int(size) {
		f.n.reserved = max(int(size), len(f.n.data))
	}
	return nil
}

// Reserved returns the end of the blocks reserved past the size of file
// name (see Reserve), or its size when none are; -1 if there is no such
// file.
func (m *MemFS) Reserved(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.lookup(name)
	if n == nil || n.dir {
		return -1
	}
	return int64(max(n.reserved, len(n.data)))
}

func (f *memFile) Size() (int64, error) {
	if err := f.fs.run(OpSize, f.name); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat", false); err != nil {
		return 0, err
	}
	return int64(len(f.n.data)), nil
}

func (f *memFile) Close() error {
	if err := f.fs.run(OpClose, f.name); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}

var _ FS = (*MemFS)(nil)
