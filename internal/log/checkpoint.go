package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/chronik-stream/chronik/internal/vfs"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recoveryPoint is the content of the recovery-point file: everything below
// byte pos of segment segBase (offsets below offset) is fsynced and valid,
// and so are the indexes of every segment before it. Open scans only what
// follows. maxTs/maxTsOff carry the segment's largest timestamp up to pos.
type recoveryPoint struct {
	segBase, pos, offset, maxTs, maxTsOff int64
}

// Wire format of the recovery-point file (big-endian):
//
//	version int16 (1) | crc uint32 (CRC-32C of the rest) |
//	segmentBase int64 | position int64 | offset int64 |
//	maxTimestamp int64 | maxTimestampOffset int64
const (
	recoveryVersion = 1
	recoverySize    = 2 + 4 + 5*8
)

func (r recoveryPoint) encode() []byte {
	b := make([]byte, recoverySize)
	binary.BigEndian.PutUint16(b[0:], recoveryVersion)
	for i, v := range []int64{r.segBase, r.pos, r.offset, r.maxTs, r.maxTsOff} {
		binary.BigEndian.PutUint64(b[6+8*i:], uint64(v))
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b
}

func decodeRecoveryPoint(b []byte) (recoveryPoint, error) {
	var r recoveryPoint
	if len(b) != recoverySize || binary.BigEndian.Uint16(b) != recoveryVersion {
		return r, fmt.Errorf("log: bad recovery point (%d bytes)", len(b))
	}
	if crc32.Checksum(b[6:], castagnoli) != binary.BigEndian.Uint32(b[2:]) {
		return r, errors.New("log: recovery point checksum mismatch")
	}
	v := make([]int64, 5)
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[6+8*i:]))
	}
	r = recoveryPoint{segBase: v[0], pos: v[1], offset: v[2], maxTs: v[3], maxTsOff: v[4]}
	if r.segBase < 0 || r.pos < 0 || r.offset < r.segBase {
		return r, errors.New("log: recovery point out of range")
	}
	return r, nil
}

// writeFileAtomic replaces dir/name with data: write a temp file, fsync it,
// rename it over name, fsync the directory (STYLE 7).
func writeFileAtomic(fs vfs.FS, dir, name string, data []byte) error {
	defer takeSyncSlot()()
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	f, err := fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return storageErr("create", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return storageErr("write", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return storageErr("fsync", tmp, err)
	}
	if err := f.Close(); err != nil {
		return storageErr("close", tmp, err)
	}
	if err := fs.Rename(tmp, path); err != nil {
		return storageErr("rename", tmp, err)
	}
	if err := fs.SyncDir(dir); err != nil {
		return storageErr("fsync dir", dir, err)
	}
	return nil
}

// readFile reads a whole (small) file.
func readFile(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// mkdirAllDurable creates dir and any missing parents, fsyncing the parent of
// each directory it creates so the new entries survive a power loss.
func mkdirAllDurable(fs vfs.FS, dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, _, err := fs.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return storageErr("stat", d, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return storageErr("mkdir", dir, err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		parent := filepath.Dir(missing[i])
		if err := fs.SyncDir(parent); err != nil {
			return storageErr("fsync dir", parent, err)
		}
	}
	return nil
}

// syncSlots bounds the files the log opens only to write and fsync them
// (recovery points, indexes of active segments) that are open at once.
// Each waits for the disk while it is open, and with fsyncs queued in one
// io_uring (internal/vfs) the first checkpoints of thousands of partitions
// would otherwise hold a descriptor each: 4,500 more than the partitions'
// own with 10,000 partitions (scripts/scale.sh), past a ulimit sized as the
// README says.
var syncSlots = make(chan struct{}, 64)

// takeSyncSlot waits for a slot and returns the function that frees it.
func takeSyncSlot() func() {
	syncSlots <- struct{}{}
	return func() { <-syncSlots }
}
