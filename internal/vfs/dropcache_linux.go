package vfs

import "golang.org/x/sys/unix"

// DropCache asks the kernel to drop the cached pages of [off, off+n) of
// the file (posix_fadvise DONTNEED). Only clean pages go: call it after
// Sync. The pages return to the free lists, where the next appends reuse
// them, instead of the log taking ever more fresh pages.
func (f osFile) DropCache(off, n int64) error {
	return unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
