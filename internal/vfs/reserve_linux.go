package vfs

import "golang.org/x/sys/unix"

// Reserve is fallocate(FALLOC_FL_KEEP_SIZE): the blocks are allocated (as
// unwritten extents, read as zeros) and the size stays. A write into them
// finds its blocks already mapped: no delayed-allocation reservation and
// extent-status update per page written, no block allocation at writeback
// (docs/benchmarks.md, "Reserving segment blocks"). RocksDB reserves its
// WAL files the same way.
func (f osFile) Reserve(off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// Unreserve truncates the file to its size: ext4 frees the blocks past the
// end even when the size does not change (a punched hole past the end frees
// nothing there), and no byte that can be read changes.
func (f osFile) Unreserve(size, end int64) error { return f.File.Truncate(size) }
