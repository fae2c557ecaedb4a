package vfs

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, m *MemFS, name string, data []byte, sync bool) File {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	mustT(t, err)
	_, err = f.Write(data)
	mustT(t, err)
	if sync {
		mustT(t, f.Sync())
	}
	return f
}

func TestMemFSCrashKeepsOnlySynced(t *testing.T) {
	m := NewMemFS()
	mustT(t, m.MkdirAll("/d", 0o755))
	mustT(t, m.SyncDir("/"))
	f := writeFile(t, m, "/d/a", []byte("hello"), true)
	_, err := f.Write([]byte(" world"))
	mustT(t, err)
	writeFile(t, m, "/d/b", []byte("never synced entry"), true)
	mustT(t, m.SyncDir("/d")) // a and b entries durable now
	writeFile(t, m, "/d/c", []byte("entry not synced"), true)

	c := m.Crash()
	got, err := c.ReadFile("/d/a")
	mustT(t, err)
	if string(got) != "hello" {
		t.Fatalf("a after crash: %q", got)
	}
	if got, _ := c.ReadFile("/d/b"); string(got) != "never synced entry" {
		t.Fatalf("b after crash: %q", got)
	}
	if _, _, err := c.Stat("/d/c"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("c survived: %v", err)
	}
	// The crashed copy is independent of the old one.
	_, err = f.Write([]byte("!"))
	mustT(t, err)
	mustT(t, f.Sync())
	if got, _ := c.ReadFile("/d/a"); string(got) != "hello" {
		t.Fatalf("old handle changed the crashed FS: %q", got)
	}
	// Current state still has everything.
	if got, _ := m.ReadFile("/d/a"); string(got) != "hello world!" {
		t.Fatalf("a: %q", got)
	}
}

func TestMemFSUnsyncedDirsVanish(t *testing.T) {
	m := NewMemFS()
	mustT(t, m.MkdirAll("/x/y", 0o755))
	writeFile(t, m, "/x/y/f", []byte("data"), true)
	mustT(t, m.SyncDir("/x/y"))
	c := m.Crash()
	if _, _, err := c.Stat("/x"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("/x survived without SyncDir(/): %v", err)
	}
}

func TestMemFSRenameAndTruncate(t *testing.T) {
	m := NewMemFS()
	writeFile(t, m, "/old", []byte("0123456789"), true)
	mustT(t, m.SyncDir("/"))
	mustT(t, m.Rename("/old", "/new"))
	c := m.Crash()
	if _, _, err := c.Stat("/old"); err != nil {
		t.Fatalf("unsynced rename lost the old name: %v", err)
	}
	if _, _, err := c.Stat("/new"); err == nil {
		t.Fatal("unsynced rename survived")
	}
	mustT(t, m.SyncDir("/"))
	f, err := m.OpenFile("/new", os.O_RDWR|os.O_APPEND, 0)
	mustT(t, err)
	mustT(t, f.Truncate(4))
	if c := m.Crash(); !bytes.Equal(mustRead(t, c, "/new"), []byte("0123456789")) {
		t.Fatal("unsynced truncate was durable")
	}
	_, err = f.Write([]byte("ab")) // O_APPEND: after the truncation point
	mustT(t, err)
	mustT(t, f.Sync())
	if got := mustRead(t, m.Crash(), "/new"); string(got) != "0123ab" {
		t.Fatalf("after truncate+append+sync: %q", got)
	}
	buf := make([]byte, 10)
	n, err := f.ReadAt(buf, 2)
	if n != 4 || err != io.EOF || string(buf[:n]) != "23ab" {
		t.Fatalf("ReadAt: %d %v %q", n, err, buf[:n])
	}
}

func mustRead(t *testing.T, m *MemFS, name string) []byte {
	t.Helper()
	b, err := m.ReadFile(name)
	mustT(t, err)
	return b
}

func TestMemFSCrashWithTornTail(t *testing.T) {
	m := NewMemFS()
	f := writeFile(t, m, "/f", []byte("synced|"), true)
	mustT(t, m.SyncDir("/"))
	_, err := f.Write([]byte("unsynced tail"))
	mustT(t, err)
	seen := map[int]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		got := mustRead(t, m.CrashWith(rng), "/f")
		if !bytes.HasPrefix([]byte("synced|unsynced tail"), got) || len(got) < len("synced|") {
			t.Fatalf("not a prefix: %q", got)
		}
		seen[len(got)] = true
	}
	if len(seen) < 5 {
		t.Fatalf("torn lengths not random: %v", seen)
	}
}

func TestMemFSHook(t *testing.T) {
	m := NewMemFS()
	f := writeFile(t, m, "/f", []byte("x"), false)
	boom := errors.New("boom")
	m.SetHook(func(op Op, path string) error {
		if op == OpSync && path == "/f" {
			return boom
		}
		return nil
	})
	if err := f.Sync(); !errors.Is(err, boom) {
		t.Fatalf("sync: %v", err)
	}
	m.SetHook(nil)
	mustT(t, f.Sync())
	mustT(t, f.Close())
	if _, err := f.Write([]byte("y")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := m.OpenFile("/missing/f", os.O_CREATE|os.O_RDWR, 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open in missing dir: %v", err)
	}
	if _, err := m.OpenFile("/f", os.O_CREATE|os.O_EXCL|os.O_RDWR, 0); !errors.Is(err, os.ErrExist) {
		t.Fatalf("O_EXCL: %v", err)
	}
}
