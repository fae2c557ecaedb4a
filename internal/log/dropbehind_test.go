package log

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// dropFS is the real file system with its DropCache calls recorded.
type dropFS struct {
	vfs.FS
	mu    sync.Mutex
	drops map[string][][2]int64 // file -> [off, end) ranges
}

type dropFile struct {
	vfs.File
	fs *dropFS
}

func (f *dropFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return dropFile{file, f}, nil
}

func (f dropFile) DropCache(off, n int64) error {
	f.fs.mu.Lock()
	f.fs.drops[f.Name()] = append(f.fs.drops[f.Name()], [2]int64{off, off + n})
	f.fs.mu.Unlock()
	vfs.DropCache(f.File, off, n) // the real fadvise, which must not lose data
	return nil
}

// TestDropBehind: after each fsync the syncer drops the page cache of the
// active segment's synced bytes except the last CacheTail, in contiguous
// ranges of a MiB or more, never past the synced point; everything stays
// readable (from the disk).
func TestDropBehind(t *testing.T) {
	const tail = 1 << 20
	fs := &dropFS{FS: vfs.OS, drops: map[string][][2]int64{}}
	dir := t.TempDir()
	p, err := Open(dir, "t", 0, Config{}, Options{FS: fs, Logger: testLogger(t), CacheTail: tail})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	batch := makeBatch(batchSpec{records: 16, valueSize: 4000})
	var written int64
	var last AppendResult
	for written < 6<<20 {
		if last, err = p.Append(bytes.Clone(batch)); err != nil {
			t.Fatal(err)
		}
		written += int64(len(batch))
		if err := p.WaitDurable(context.Background(), last.LastOffset); err != nil {
			t.Fatal(err)
		}
	}
	fs.mu.Lock()
	var name string
	for n := range fs.drops {
		name = n
	}
	ranges := fs.drops[name]
	fs.mu.Unlock()
	if len(fs.drops) != 1 || len(ranges) == 0 {
		t.Fatalf("drops %v: want ranges of the one segment", fs.drops)
	}
	var at int64
	for _, r := range ranges {
		if r[0] != at || r[1]-r[0] < 1<<20 {
			t.Fatalf("drops %v: want contiguous ranges of >= 1 MiB from 0", ranges)
		}
		at = r[1]
	}
	if at > written-tail || at < written-tail-(1<<20)-int64(len(batch)) {
		t.Fatalf("dropped up to %d of %d bytes written: want the last %d (and at most a MiB more) kept", at, written, tail)
	}
	var got int64
	for off := int64(0); off <= last.LastOffset; {
		res, err := p.Read(off, 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		for b := res.Records; len(b) > 0; {
			h := headerOf(t, b)
			if h.BaseOffset != off {
				t.Fatalf("read offset %d, want %d", h.BaseOffset, off)
			}
			off = h.BaseOffset + int64(h.LastOffsetDelta) + 1
			got += int64(h.BatchLength) + 12
			b = b[h.BatchLength+12:]
		}
	}
	if got != written {
		t.Fatalf("read back %d bytes, wrote %d", got, written)
	}

	// CacheTail 0 drops nothing.
	fs0 := &dropFS{FS: vfs.OS, drops: map[string][][2]int64{}}
	p0, err := Open(t.TempDir(), "t", 0, Config{}, Options{FS: fs0, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p0.Close()
	for i := 0; i < 100; i++ {
		res, err := p0.Append(bytes.Clone(batch))
		if err != nil {
			t.Fatal(err)
		}
		if err := p0.WaitDurable(context.Background(), res.LastOffset); err != nil {
			t.Fatal(err)
		}
	}
	if len(fs0.drops) != 0 {
		t.Fatalf("CacheTail 0 dropped %v", fs0.drops)
	}
}
