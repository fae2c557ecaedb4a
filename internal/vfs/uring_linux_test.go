package vfs

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// newTestRing returns a ring of its own, or skips where the kernel or a
// seccomp profile refuses io_uring (datasync falls back there).
func newTestRing(t *testing.T) *uring {
	t.Helper()
	r, err := newUring()
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	t.Cleanup(r.close)
	return r
}

// Many goroutines syncing many files at once, more than the ring has
// slots: each gets its own answer, and the data is in the files.
func TestUringFdatasync(t *testing.T) {
	r := newTestRing(t)
	dir := t.TempDir()
	const files, rounds = 2 * ringEntries, 5
	var wg sync.WaitGroup
	errs := make(chan error, files)
	for i := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprint(i)), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for j := range rounds {
				if _, err := fmt.Fprintf(f, "%d.%d\n", i, j); err != nil {
					errs <- err
					return
				}
				err, ok := r.fdatasync(f)
				if !ok || err != nil {
					errs <- fmt.Errorf("file %d round %d: ok %v, %v", i, j, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if r.dead.Load() {
		t.Fatal("ring marked dead")
	}
	if len(r.slots) != ringEntries {
		t.Fatalf("%d of %d slots free after all syncs", len(r.slots), ringEntries)
	}
}

// The ring's errors are the system call's: a pipe cannot be synced
// (EINVAL, which sends the caller to the system call, which says the
// same), and the ring stays in use.
func TestUringFdatasyncErrors(t *testing.T) {
	r := newTestRing(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	err, ok := r.fdatasync(pw)
	if ok || err != syscall.EINVAL {
		t.Fatalf("fdatasync of a pipe through the ring: ok %v, %v", ok, err)
	}

	// datasync as the log calls it, on the shared ring.
	if err := datasync(pw); err == nil {
		t.Fatal("datasync of a pipe succeeded")
	}
	if theRing != nil && theRing.dead.Load() {
		t.Fatal("a pipe's EINVAL took the ring out of use")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	if err := datasync(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// A closed file is refused before anything is submitted.
	if err := datasync(f); err == nil {
		t.Fatal("datasync of a closed file succeeded")
	}
}

// A ring whose reaper stopped hands every waiter back to the system call.
func TestUringFailedReaper(t *testing.T) {
	r := newTestRing(t)
	r.efd.Close() // the reaper's Read fails
	for i := 0; i < 100 && !r.dead.Load(); i++ {
		r.mu.Lock() // let the reaper run
		r.mu.Unlock()
		syscall.Nanosleep(&syscall.Timespec{Nsec: 1e6}, nil)
	}
	if !r.dead.Load() {
		t.Fatal("ring not dead after its eventfd closed")
	}
	for i := range r.done {
		if got := <-r.done[i]; got != resRingFailed {
			t.Fatalf("slot %d: %d", i, got)
		}
	}
}

// A Close racing a sync waits for it: the worker that runs the request
// looks the descriptor up then, so the file must still be open. The sync
// either completes or is refused as closed before it is submitted; the
// kernel never sees a closed (or reused) descriptor.
func TestUringCloseWaitsForSync(t *testing.T) {
	r := newTestRing(t)
	dir := t.TempDir()
	for i := range 300 {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("x"); err != nil {
			t.Fatal(err)
		}
		res := make(chan error, 1)
		go func() {
			err, ok := r.fdatasync(f)
			if !ok && err == nil {
				err = os.ErrClosed // refused before submission
			}
			res <- err
		}()
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-res; err != nil && err != os.ErrClosed {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}
