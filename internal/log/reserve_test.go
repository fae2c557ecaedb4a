package log

import (
	"bytes"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// segmentFiles returns the .log files of p's segments and their sizes.
func segmentFiles(p *Partition) (names []string, sizes []int64) {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	for _, s := range p.segs {
		names = append(names, s.name())
		sizes = append(sizes, s.size.Load())
	}
	return names, sizes
}

// TestReserve: the active segment's blocks are reserved ahead of its
// appends (never behind its end, never past segment.bytes, never more than
// reserveMax+reserveMin ahead, only about reserveMin ahead while it is
// small); a segment that rolls and the active segment of a partition that
// closes keep no reservation past their end; a reopened partition reserves
// again; preallocate reserves the whole segment at the first append.
func TestReserve(t *testing.T) {
	const segBytes = 12 << 20
	fs := vfs.NewMemFS()
	dir := "/data/t-0"
	open := func(cfg Config) *Partition {
		t.Helper()
		p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	batch := makeBatch(batchSpec{records: 10, valueSize: 1000})
	p := open(Config{SegmentBytes: segBytes})
	sawAhead := false
	for i := 0; ; i++ {
		if _, err := p.Append(bytes.Clone(batch)); err != nil {
			t.Fatal(err)
		}
		names, sizes := segmentFiles(p)
		for j, name := range names[:len(names)-1] {
			if r := fs.Reserved(name); r != sizes[j] {
				t.Fatalf("closed segment %s: %d bytes reserved past its %d", name, r, sizes[j])
			}
		}
		active, size := names[len(names)-1], sizes[len(sizes)-1]
		r := fs.Reserved(active)
		switch {
		case r < size:
			t.Fatalf("append %d: reserved up to %d, below the segment's end %d", i, r, size)
		case r > segBytes:
			t.Fatalf("append %d: reserved up to %d, past segment.bytes %d", i, r, segBytes)
		case r-size > reserveMax+reserveMin:
			t.Fatalf("append %d: %d bytes reserved ahead", i, r-size)
		case size < reserveMin && r > 2*reserveMin:
			t.Fatalf("append %d: a %d-byte segment reserved up to %d", i, size, r)
		}
		sawAhead = sawAhead || r > size
		if len(names) == 2 && size > 2*reserveMin {
			break
		}
	}
	if !sawAhead {
		t.Fatal("never reserved ahead of the appends")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	names, sizes := segmentFiles(p)
	for j, name := range names {
		if r := fs.Reserved(name); r != sizes[j] {
			t.Fatalf("after Close, %s: reserved up to %d, size %d", name, r, sizes[j])
		}
	}

	p = open(Config{SegmentBytes: segBytes})
	if _, err := p.Append(bytes.Clone(batch)); err != nil {
		t.Fatal(err)
	}
	names, sizes = segmentFiles(p)
	if r, size := fs.Reserved(names[len(names)-1]), sizes[len(sizes)-1]; r <= size {
		t.Fatalf("reopened: reserved up to %d, size %d", r, size)
	}
	p.Close()

	fs = vfs.NewMemFS()
	p = open(Config{SegmentBytes: segBytes, Preallocate: true})
	defer p.Close()
	if _, err := p.Append(bytes.Clone(batch)); err != nil {
		t.Fatal(err)
	}
	names, _ = segmentFiles(p)
	if r := fs.Reserved(names[0]); r != segBytes {
		t.Fatalf("preallocate: reserved up to %d, want segment.bytes %d", r, segBytes)
	}
}
