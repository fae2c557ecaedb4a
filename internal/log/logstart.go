package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The log start offset (Kafka's logStartOffset): the first offset a reader
// may ask for. It starts at the first segment's base offset and only moves
// forward: DeleteRecordsBefore moves it to any offset up to the high
// watermark, retention to the base of the first segment it keeps. It is
// persisted before anyone can observe it, so a restart never moves it back,
// and it is never below the first segment's base (segments wholly below it
// are deleted, at the latest on the next Open).

// Checkpoint files of the log start and the cleaner, next to the recovery
// point. Part of the on-disk format.
const (
	logStartFile = "log-start-offset"
	cleanerFile  = "cleaner-offset"
)

// Wire format of an offset checkpoint (big-endian), written with
// writeFileAtomic:
//
//	version int16 (1) | crc uint32 (CRC-32C of the rest) | offset int64
const (
	offsetCheckpointVersion = 1
	offsetCheckpointSize    = 2 + 4 + 8
)

func encodeOffsetCheckpoint(off int64) []byte {
	b := make([]byte, offsetCheckpointSize)
	binary.BigEndian.PutUint16(b[0:], offsetCheckpointVersion)
	binary.BigEndian.PutUint64(b[6:], uint64(off))
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b
}

func decodeOffsetCheckpoint(b []byte) (int64, error) {
	if len(b) != offsetCheckpointSize || binary.BigEndian.Uint16(b) != offsetCheckpointVersion {
		return 0, fmt.Errorf("log: bad offset checkpoint (%d bytes)", len(b))
	}
	if crc32.Checksum(b[6:], castagnoli) != binary.BigEndian.Uint32(b[2:]) {
		return 0, errors.New("log: offset checkpoint checksum mismatch")
	}
	off := int64(binary.BigEndian.Uint64(b[6:]))
	if off < 0 {
		return 0, fmt.Errorf("log: negative offset %d in checkpoint", off)
	}
	return off, nil
}

// readOffsetCheckpoint returns the offset in dir/name; ok is false if the
// file is missing or damaged (logged: it is only an optimisation or, for
// the log start, falls back to the first segment's base).
func (p *Partition) readOffsetCheckpoint(name string) (int64, bool) {
	path := filepath.Join(p.dir, name)
	b, err := readFile(p.fs, path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false
	}
	var off int64
	if err == nil {
		off, err = decodeOffsetCheckpoint(b)
	}
	if err != nil {
		p.logger.Warn("ignoring checkpoint", "file", path, "err", err)
		return 0, false
	}
	return off, true
}

// maintenance is the state of the work that removes or replaces closed
// segments: retention, DeleteRecordsBefore and the cleaner.
type maintenance struct {
	// mu serialises every change to the closed segments (removal,
	// replacement by the cleaner) and Close. Lock order: cleanMu, then mu,
	// then Partition.mu.
	mu sync.Mutex
	// logStart is guarded by Partition.vmu (readers check it) and changed
	// only with mu held too.
	logStart int64
	// firstDirty is the cleaner checkpoint: offsets below it were mapped by
	// a finished cleaning (Kafka's cleaner-offset-checkpoint). Changed with
	// mu held.
	firstDirty atomic.Int64

	cleanMu     sync.Mutex  // one cleaning of this partition at a time
	uncleanable atomic.Bool // the cleaner failed on this log; skip it until reopened

	pmu     sync.Mutex
	pending map[*segment]*time.Timer // removed segments waiting for file.delete.delay.ms
}

// LogStartOffset returns the log start offset.
func (p *Partition) LogStartOffset() int64 {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	return p.maint.logStart
}

// loadLogStart sets the log start at Open from its checkpoint: never below
// the first segment's base and never past the log end. Segments wholly
// below it are what a crash kept from being deleted: they go now.
// REQUIRES: called from load, after the segments are recovered.
func (p *Partition) loadLogStart() error {
	first := p.segs[0].base
	ls := first
	if off, ok := p.readOffsetCheckpoint(logStartFile); ok && off > ls {
		ls = off
	}
	if ls > p.leo.offset {
		// Only possible with FlushInterval > 0, whose HW may pass the
		// synced data that recovery kept.
		p.logger.Warn("log start offset is past the recovered log end; starting at the log end",
			"log_start_offset", ls, "log_end_offset", p.leo.offset)
		ls = p.leo.offset
		if err := writeFileAtomic(p.fs, p.dir, logStartFile, encodeOffsetCheckpoint(ls)); err != nil {
			return err
		}
	}
	n := 0
	for n+1 < len(p.segs) && p.segs[n+1].base <= ls {
		n++
	}
	for _, s := range p.segs[:n] {
		p.logger.Info("deleting segment below the log start offset", "file", s.name(), "log_start_offset", ls)
		_ = s.close()
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			path := fileName(p.dir, s.base, suf)
			if err := p.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return storageErr("remove", path, err)
			}
		}
	}
	if n > 0 {
		p.segs = slices.Clone(p.segs[n:])
		if err := p.fs.SyncDir(p.dir); err != nil {
			return storageErr("fsync dir", p.dir, err)
		}
	}
	p.maint.logStart = ls
	// A checkpoint past the log end (a crash kept less than FlushInterval
	// mode had shown) is reset, as Kafka's LogCleanerManager does: the
	// next cleaning maps the whole log.
	if off, ok := p.readOffsetCheckpoint(cleanerFile); ok && off <= p.leo.offset {
		p.maint.firstDirty.Store(off)
	}
	return nil
}

// DeleteRecordsBefore makes offset the log start offset (Kafka's
// DeleteRecords; -1 stands for the high watermark, as in that request) and
// returns the log start offset, which never moves back: an offset at or
// below it changes nothing. An offset above the high watermark is
// ErrOffsetOutOfRange. Whole closed segments below the new log start are
// deleted (their files after file.delete.delay.ms); reads below it fail with
// ErrOffsetOutOfRange from now on, also after a restart or a crash.
func (p *Partition) DeleteRecordsBefore(offset int64) (logStart int64, err error) {
	p.maint.mu.Lock()
	defer p.maint.mu.Unlock()
	if err := p.usable(); err != nil {
		return -1, err
	}
	p.vmu.RLock()
	hw, ls := p.hw.offset, p.maint.logStart
	p.vmu.RUnlock()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return ls, fmt.Errorf("%w: cannot delete records before offset %d: high watermark is %d", ErrOffsetOutOfRange, offset, hw)
	}
	if offset > ls {
		if err := p.advanceLogStart(offset); err != nil {
			return ls, err
		}
		p.logger.Info("log start offset moved by DeleteRecords", "log_start_offset", offset)
		ls = offset
	}
	if _, err := p.deleteSegments(false); err != nil {
		return ls, err
	}
	return ls, nil
}

// advanceLogStart persists to as the log start, then publishes it.
// REQUIRES: p.maint.mu held; to is above the current log start and at most
// the high watermark.
func (p *Partition) advanceLogStart(to int64) error {
	if err := writeFileAtomic(p.fs, p.dir, logStartFile, encodeOffsetCheckpoint(to)); err != nil {
		p.fail(err)
		return err
	}
	p.vmu.Lock()
	p.maint.logStart = to
	p.vmu.Unlock()
	return nil
}

// stablePrefixLocked is how many segments from the first are closed and
// wholly below the high watermark, and not the segment any of the log end,
// synced point or HW positions points into (which readers use to bound
// themselves): those may be removed or replaced.
// REQUIRES: p.vmu held.
func (p *Partition) stablePrefixLocked() int {
	n := len(p.segs) - 1 // never the active segment
	for i := 0; i < n; i++ {
		s := p.segs[i]
		if s == p.hw.seg || s == p.synced.seg || s == p.leo.seg || p.segs[i+1].base > p.hw.offset {
			return i
		}
	}
	return n
}

// removePrefix removes doomed, the first segments of the log, after making
// newStart (the base of the first segment kept, or more) the log start:
// their files are renamed to ".deleted" at once and removed after
// file.delete.delay.ms, once no read uses them.
// REQUIRES: p.maint.mu held; doomed is a prefix of the stable segments.
func (p *Partition) removePrefix(doomed []*segment, newStart int64) error {
	p.vmu.RLock()
	ls := p.maint.logStart
	ok := len(doomed) < len(p.segs) && slices.Equal(p.segs[:len(doomed)], doomed)
	p.vmu.RUnlock()
	if !ok {
		return errors.New("log: segments to delete are not the start of the log")
	}
	if newStart > ls {
		if err := p.advanceLogStart(newStart); err != nil {
			return err
		}
	}
	p.vmu.Lock()
	p.segs = slices.Clone(p.segs[len(doomed):])
	p.vmu.Unlock()
	if err := p.renameDeleted(doomed); err != nil {
		p.fail(err)
		return err
	}
	p.scheduleDestroy(doomed)
	return nil
}

// renameDeleted renames the files of segs to "<name>.deleted" and fsyncs
// the directory. Open removes such files; a crash before the renames are
// durable leaves segments below the log start, which Open deletes too.
func (p *Partition) renameDeleted(segs []*segment) error {
	for _, s := range segs {
		// The .log last: a crash in between leaves a whole segment, below
		// the log start, which Open deletes.
		for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
			path := fileName(p.dir, s.base, suf)
			if err := p.fs.Rename(path, path+deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return storageErr("rename", path, err)
			}
		}
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		return storageErr("fsync dir", p.dir, err)
	}
	return nil
}
