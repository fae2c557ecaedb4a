// Package vfs is the filesystem seam under Chronik's storage. Everything
// that must survive a crash (segment files, indexes, checkpoints, metadata)
// is written through FS, so tests can substitute a filesystem that keeps only
// what was synced and "crash" it (see MemFS).
//
// The contract follows the POSIX calls a log needs:
//   - File.Write appends at the current position (files are opened for
//     appending or written sequentially); data is durable only after Sync.
//   - A new directory entry (create, rename, remove) is durable only after
//     SyncDir on its parent.
package vfs

import (
	"errors"
	"io"
	"os"
	"sort"
)

// File is an open file.
type File interface {
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync makes every byte written so far durable (fdatasync).
	Sync() error
	// Truncate changes the size of the file. The new size is durable only
	// after Sync.
	Truncate(size int64) error
	// Size returns the current size of the file, synced or not.
	Size() (int64, error)
	// Name returns the path the file was opened with.
	Name() string
}

// FS is a filesystem.
type FS interface {
	// OpenFile opens name with os.O_* flags, like os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldname, newname string) error
	MkdirAll(name string, perm os.FileMode) error
	// ReadDir returns the names of the entries of a directory, sorted.
	ReadDir(name string) ([]string, error)
	// SyncDir makes the entries of directory name durable.
	SyncDir(name string) error
	// Stat reports whether name exists, its size and whether it is a directory.
	Stat(name string) (size int64, isDir bool, err error)
}

// OS is the real filesystem.
var OS FS = osFS{}

type osFS struct{}

type osFile struct{ *os.File }

// Sync uses fdatasync where the platform has it: it makes the data and the
// metadata needed to read it back (the size) durable, without the
// modification-time write that a full fsync adds to every append.
func (f osFile) Sync() error { return datasync(f.File) }

func (f osFile) Size() (int64, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) RemoveAll(name string) error          { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) MkdirAll(name string, perm os.FileMode) error {
	return os.MkdirAll(name, perm)
}

func (osFS) ReadDir(name string) ([]string, error) {
	des, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(des))
	for i, de := range des {
		names[i] = de.Name()
	}
	sort.Strings(names)
	return names, nil
}

func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (osFS) Stat(name string) (int64, bool, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, false, err
	}
	return fi.Size(), fi.IsDir(), nil
}

// DropCache drops the page cache of [off, off+n) of f where the file
// system supports it (see osFile.DropCache); elsewhere it does nothing. It
// is advice: the data stays readable, from the disk.
func DropCache(f File, off, n int64) {
	if d, ok := f.(interface{ DropCache(off, n int64) error }); ok && n > 0 {
		_ = d.DropCache(off, n)
	}
}

// Reserve allocates disk blocks for [off, off+n) of f without changing its
// size, where the file system can (see osFile.Reserve); elsewhere it
// returns errors.ErrUnsupported. Writes into reserved blocks find them
// allocated; bytes past the size stay unreadable, and a reservation left
// after a crash costs disk space only.
func Reserve(f File, off, n int64) error {
	if r, ok := f.(interface{ Reserve(off, n int64) error }); ok && n > 0 {
		return r.Reserve(off, n)
	}
	return errors.ErrUnsupported
}

// Unreserve frees the blocks of f in [size, end) that Reserve allocated
// past its size of size bytes. The file's contents and size do not change.
func Unreserve(f File, size, end int64) error {
	if r, ok := f.(interface{ Unreserve(size, end int64) error }); ok && end > size {
		return r.Unreserve(size, end)
	}
	return nil
}
