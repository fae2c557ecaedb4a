package log

import (
	"bytes"
	"os"
	"syscall"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// allocated returns the bytes of disk allocated to file name.
func allocated(t *testing.T, name string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(name, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestReserveOnDisk: on the real file system the active segment holds
// allocated blocks past its size while it takes appends, its size is what
// was written, and closing the partition frees the blocks past the end;
// what was written reads back.
func TestReserveOnDisk(t *testing.T) {
	dir := t.TempDir()
	p, err := Open(dir, "t", 0, Config{}, Options{FS: vfs.OS, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	batch := makeBatch(batchSpec{records: 16, valueSize: 4000})
	for range 40 {
		if _, err := p.Append(bytes.Clone(batch)); err != nil {
			t.Fatal(err)
		}
	}
	names, sizes := segmentFiles(p)
	name, size := names[0], sizes[0]
	if size != int64(40*len(batch)) {
		t.Fatalf("segment is %d bytes, want %d", size, 40*len(batch))
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Fatalf("file size %d, want the %d bytes written", fi.Size(), size)
	}
	if a := allocated(t, name); a < size+reserveMin {
		t.Skipf("%d bytes allocated for %d written: the file system did not reserve (fallocate KEEP_SIZE)", a, size)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if a := allocated(t, name); a >= size+reserveMin {
		t.Fatalf("after Close, %d bytes allocated for %d written", a, size)
	}

	p, err = Open(dir, "t", 0, Config{}, Options{FS: vfs.OS, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Read(0, 1<<30, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != int(size) || res.HighWatermark != 40*16 {
		t.Fatalf("read back %d bytes with high watermark %d, want %d bytes and %d", len(res.Records), res.HighWatermark, size, 40*16)
	}
}
