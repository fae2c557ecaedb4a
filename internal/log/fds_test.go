package log

import (
	"bytes"
	"context"
	"os"
	"sync/atomic"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// countFS counts the files open through it.
type countFS struct {
	vfs.FS
	open atomic.Int64
}

type countFile struct {
	vfs.File
	fs     *countFS
	closed atomic.Bool
}

func (c *countFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	c.open.Add(1)
	return &countFile{File: f, fs: c}, nil
}

func (f *countFile) Close() error {
	if f.closed.CompareAndSwap(false, true) {
		f.fs.open.Add(-1)
	}
	return f.File.Close()
}

// TestActiveSegmentHoldsOneFile: an active segment keeps only its .log
// open (its indexes live in memory and are written when synced), a closed
// one its three files, so the partition count a broker can hold is not a
// third of its file descriptor limit. Indexes written that way still serve
// lookups after a restart.
func TestActiveSegmentHoldsOneFile(t *testing.T) {
	fs := &countFS{FS: vfs.OS}
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 64 << 10, IndexIntervalBytes: 1024}
	p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if n := fs.open.Load(); n != 1 {
		t.Fatalf("%d files open after creating the partition, want 1 (the active .log)", n)
	}
	batch := makeBatch(batchSpec{records: 4, valueSize: 500})
	var last AppendResult
	for i := 0; i < 100; i++ { // ~200 KiB: 3 or 4 segments of 64 KiB
		if last, err = p.Append(bytes.Clone(batch)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WaitDurable(context.Background(), last.LastOffset); err != nil {
		t.Fatal(err)
	}
	p.vmu.RLock()
	nsegs := len(p.segs)
	p.vmu.RUnlock()
	if nsegs < 3 {
		t.Fatalf("%d segments, want >= 3", nsegs)
	}
	if n, want := fs.open.Load(), int64(3*(nsegs-1)+1); n != want {
		t.Fatalf("%d files open with %d segments, want %d", n, nsegs, want)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := fs.open.Load(); n != 0 {
		t.Fatalf("%d files open after Close", n)
	}

	// Reopen: lookups through the indexes of every segment find every batch.
	p, err = Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for off := int64(0); off <= last.LastOffset; off += 4 {
		res, err := p.Read(off, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		if h := headerOf(t, res.Records); h.BaseOffset != off {
			t.Fatalf("read at %d found batch %d", off, h.BaseOffset)
		}
	}
}
