package vfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDropCacheKeepsData: dropping the cache of synced bytes is advice;
// they read back the same, from the disk.
func TestDropCacheKeepsData(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	f, err := OS.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := bytes.Repeat([]byte("chronik!"), 1<<17) // 1 MiB
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.(osFile).DropCache(0, int64(len(data))); err != nil {
		t.Fatalf("DropCache: %v", err)
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data changed after DropCache")
	}
}
