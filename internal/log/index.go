package log

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sync"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// Index entry widths. Part of the on-disk format.
const (
	offsetEntrySize = 8  // relativeOffset uint32 | position uint32
	timeEntrySize   = 12 // timestamp int64 | relativeOffset uint32
)

// indexFile is an append-only file of fixed-width entries: the common part of
// the offset index and the time index. Indexes are caches of the log: they
// can always be rebuilt from the segment, so they carry no checksum.
//
// While its segment is active the whole index is in mem and the file is not
// kept open: entries are added to mem and written to the file, which is
// opened for the purpose, when it is synced (on roll, on Close and before a
// recovery point that covers them is written) or closed. An active
// partition thus holds one file descriptor (its .log), which is what lets
// one broker serve tens of thousands of partitions. A sealed index keeps
// its file open and nothing in memory: lookups binary-search the file with
// ReadAt, so a huge log costs no RAM.
type indexFile struct {
	mu     sync.RWMutex
	fs     vfs.FS
	path   string
	f      vfs.File // open while sealed; nil while active
	width  int
	mem    []byte // the entries while active; nil when sealed
	n      int    // number of entries
	onDisk int    // entries written to the file, while active
	dirty  bool   // the file has writes not yet fsynced, while active
	seal   bool
	torn   bool // the file ended in a partial entry when opened

	// summary holds the first entry of every page of a sealed index, built
	// on the first lookup: a lookup then costs one page read instead of a
	// read per binary-search probe, for 1/pageEntries of the index in RAM.
	summary []byte
}

// pageEntries is how many entries make an index page (4 KiB of offset
// index entries).
const pageEntries = 512

func openIndexFile(fs vfs.FS, path string, width int) (*indexFile, error) {
	f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, storageErr("open", path, err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, storageErr("stat", path, err)
	}
	x := &indexFile{fs: fs, path: path, f: f, width: width, n: int(size) / width, seal: true}
	x.torn = size%int64(width) != 0
	return x, nil
}

// activate loads the file into memory so the segment can append to it,
// and closes it.
func (x *indexFile) activate() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.seal {
		return nil
	}
	buf := make([]byte, x.n*x.width, max(x.n*x.width, 256)) // small: 10,000 idle partitions hold 20,000 of these
	if _, err := x.f.ReadAt(buf, 0); err != nil && len(buf) > 0 {
		return storageErr("read", x.path, err)
	}
	if x.torn {
		if err := x.f.Truncate(int64(x.n * x.width)); err != nil {
			return storageErr("truncate", x.path, err)
		}
		x.torn = false
		x.dirty = true
	}
	if err := x.f.Close(); err != nil {
		return storageErr("close", x.path, err)
	}
	x.f = nil
	x.mem = buf
	x.onDisk = x.n
	x.seal = false
	return nil
}

// sealed opens the file for lookups and drops the in-memory copy.
// REQUIRES: the index was synced.
func (x *indexFile) sealed() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.seal {
		return nil
	}
	f, err := x.fs.OpenFile(x.path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return storageErr("open", x.path, err)
	}
	x.f = f
	x.mem = nil
	x.seal = true
	x.summary = nil
	return nil
}

// flushLocked writes the entries the file lacks (active only), opening it
// for the purpose, and fsyncs it if sync is set. REQUIRES: x.mu held.
func (x *indexFile) flushLocked(sync bool) error {
	if x.onDisk == x.n && (!x.dirty || !sync) {
		return nil
	}
	defer takeSyncSlot()()
	f, err := x.fs.OpenFile(x.path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return storageErr("open", x.path, err)
	}
	if x.onDisk < x.n {
		if _, err := f.Write(x.mem[x.onDisk*x.width : x.n*x.width]); err != nil {
			f.Close()
			return storageErr("write", x.path, err)
		}
		x.onDisk = x.n
		x.dirty = true
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return storageErr("fsync", x.path, err)
		}
		x.dirty = false
	}
	if err := f.Close(); err != nil {
		return storageErr("close", x.path, err)
	}
	return nil
}

func (x *indexFile) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// entry reads entry i into buf (len >= width). REQUIRES: x.mu held.
func (x *indexFile) entryLocked(i int, buf []byte) ([]byte, error) {
	buf = buf[:x.width]
	if !x.seal {
		copy(buf, x.mem[i*x.width:])
		return buf, nil
	}
	if _, err := x.f.ReadAt(buf, int64(i*x.width)); err != nil {
		return nil, storageErr("read", x.path, err)
	}
	return buf, nil
}

func (x *indexFile) entry(i int, buf []byte) ([]byte, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.entryLocked(i, buf)
}

// searchLast returns the index of the last entry for which before is true,
// or -1; before must be true for a prefix of the entries and false after it.
// It copies that entry into buf.
func (x *indexFile) searchLast(buf []byte, before func(e []byte) bool) (int, []byte, error) {
	x.mu.RLock()
	if x.seal && x.summary == nil && x.n > 0 {
		x.mu.RUnlock()
		if err := x.buildSummary(); err != nil {
			return -1, nil, err
		}
		x.mu.RLock()
	}
	defer x.mu.RUnlock()
	if !x.seal || x.summary == nil {
		return searchEntries(x.mem, x.width, x.n, buf, before, x.entryLocked)
	}
	// Find the page, then search inside it.
	w := x.width
	np := len(x.summary) / w
	lo, hi := 0, np
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if before(x.summary[m*w : (m+1)*w]) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return -1, nil, nil
	}
	page := lo - 1
	first := page * pageEntries
	cnt := min(pageEntries, x.n-first)
	bp := pagePool.Get().(*[]byte)
	defer pagePool.Put(bp)
	pb := (*bp)[:cnt*w]
	if _, err := x.f.ReadAt(pb, int64(first*w)); err != nil {
		return -1, nil, storageErr("read", x.path, err)
	}
	i, e, err := searchEntries(pb, w, cnt, buf, before, nil)
	if err != nil || i < 0 {
		return i, e, err // i < 0 cannot happen: the page's first entry is before
	}
	return first + i, e, nil
}

var pagePool = sync.Pool{New: func() any { b := make([]byte, pageEntries*timeEntrySize); return &b }}

// searchEntries binary-searches n entries of width w held in mem, or read
// with entry when mem is nil.
func searchEntries(mem []byte, w, n int, buf []byte, before func(e []byte) bool, entry func(int, []byte) ([]byte, error)) (int, []byte, error) {
	get := func(i int) ([]byte, error) {
		if mem != nil || entry == nil {
			return mem[i*w : (i+1)*w], nil
		}
		return entry(i, buf)
	}
	lo, hi := 0, n // invariant: entries < lo are before, >= hi are not
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e, err := get(m)
		if err != nil {
			return -1, nil, err
		}
		if before(e) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return -1, nil, nil
	}
	e, err := get(lo - 1)
	if err != nil {
		return -1, nil, err
	}
	buf = buf[:w]
	copy(buf, e)
	return lo - 1, buf, nil
}

// buildSummary reads a sealed index once, keeping the first entry of each
// page.
func (x *indexFile) buildSummary() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.summary != nil || !x.seal {
		return nil
	}
	w := x.width
	pages := (x.n + pageEntries - 1) / pageEntries
	sum := make([]byte, 0, pages*w)
	chunk := make([]byte, min(x.n*w, 256*pageEntries*w))
	for off := 0; off < x.n*w; off += len(chunk) {
		c := chunk[:min(len(chunk), x.n*w-off)]
		if _, err := x.f.ReadAt(c, int64(off)); err != nil {
			return storageErr("read", x.path, err)
		}
		// Chunks are a whole number of pages, so page starts align.
		for p := 0; p < len(c); p += pageEntries * w {
			sum = append(sum, c[p:p+w]...)
		}
	}
	x.summary = sum
	return nil
}

// append adds entries (a multiple of width bytes): to mem while active
// (the file gets them when synced or closed), to the file when sealed.
func (x *indexFile) append(e []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.seal {
		if _, err := x.f.Write(e); err != nil {
			return storageErr("write", x.path, err)
		}
	} else {
		x.mem = append(x.mem, e...)
	}
	x.summary = nil
	x.n += len(e) / x.width
	return nil
}

// truncate keeps the first n entries.
func (x *indexFile) truncate(n int) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.seal:
		if err := x.f.Truncate(int64(n * x.width)); err != nil {
			return storageErr("truncate", x.path, err)
		}
	case n < x.onDisk:
		f, err := x.fs.OpenFile(x.path, os.O_RDWR, 0o644)
		if err != nil {
			return storageErr("open", x.path, err)
		}
		err = f.Truncate(int64(n * x.width))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return storageErr("truncate", x.path, err)
		}
		x.onDisk = n
		x.dirty = true
	}
	x.n = n
	x.torn = false
	x.summary = nil
	if !x.seal {
		x.mem = x.mem[:n*x.width]
	}
	return nil
}

// sync makes every entry durable.
func (x *indexFile) sync() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.seal {
		return x.flushLocked(true)
	}
	if err := x.f.Sync(); err != nil {
		return storageErr("fsync", x.path, err)
	}
	return nil
}

// close writes what the file lacks (not fsynced) and closes it.
func (x *indexFile) close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.seal {
		return x.flushLocked(false)
	}
	return x.f.Close()
}

// Offset index entries map the base offset of a batch, relative to the
// segment's base offset, to the batch's byte position in the segment.

func putOffsetEntry(b []byte, rel uint32, pos uint32) {
	binary.BigEndian.PutUint32(b[0:], rel)
	binary.BigEndian.PutUint32(b[4:], pos)
}

func offsetEntry(e []byte) (rel, pos uint32) {
	return binary.BigEndian.Uint32(e[0:]), binary.BigEndian.Uint32(e[4:])
}

// Time index entries hold the largest timestamp seen so far in the segment
// and the relative base offset of the batch that carries it.

func putTimeEntry(b []byte, ts int64, rel uint32) {
	binary.BigEndian.PutUint64(b[0:], uint64(ts))
	binary.BigEndian.PutUint32(b[8:], rel)
}

func timeEntry(e []byte) (ts int64, rel uint32) {
	return int64(binary.BigEndian.Uint64(e[0:])), binary.BigEndian.Uint32(e[8:])
}

// relOffset converts an absolute offset to one relative to base.
// REQUIRES: base <= off <= base+MaxInt32 (rolls guarantee it).
func relOffset(off, base int64) uint32 {
	d := off - base
	if d < 0 || d > math.MaxInt32 {
		panic(fmt.Sprintf("log: offset %d not representable in segment %d", off, base))
	}
	return uint32(d)
}
