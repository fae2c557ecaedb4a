package log

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// Open opens (creating if needed) the partition log in dir and recovers it.
//
// Recovery (Kafka's LogLoader, etcd's Repair): segments wholly before the
// recovery point are trusted, their indexes checked only cheaply; the rest
// is scanned batch by batch (length, header, CRC-32C, offset continuity).
// At the first failure we truncate, keep the cut bytes in
// "<segment>.log.broken", drop later segments and log what was lost.
// Start-up work is proportional to the unsynced tail, not to the log
// (invariant 6).
func Open(dir string, topic string, partition int32, cfg Config, opts Options) (*Partition, error) {
	opts = opts.withDefaults()
	c := cfg.normalize()
	p := &Partition{
		dir:        dir,
		topic:      topic,
		partition:  partition,
		fs:         opts.FS,
		logger:     opts.Logger.With("topic", topic, "partition", partition),
		now:        opts.Now,
		onSync:     opts.OnSync,
		cacheTail:  opts.CacheTail,
		producers:  newProducerState(),
		hwCh:       make(chan struct{}),
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		syncerDone: make(chan struct{}),
	}
	p.cfg.Store(&c)
	if err := p.load(); err != nil {
		p.vmu.Lock()
		for _, s := range p.segs {
			s.close()
		}
		p.vmu.Unlock()
		return nil, err
	}
	go p.runSyncer()
	return p, nil
}

// loader is the state of one Open.
type loader struct {
	p        *Partition
	fs       vfs.FS
	dir      string
	segs     []*segment
	dirDirty bool  // entries were created or removed: fsync the directory
	lastBase int64 // base of the last segment, the active one
}

func (p *Partition) load() error {
	fs, dir := p.fs, p.dir
	if err := mkdirAllDurable(fs, dir); err != nil {
		return err
	}
	names, err := fs.ReadDir(dir)
	if err != nil {
		return storageErr("read dir", dir, err)
	}
	l := &loader{p: p, fs: fs, dir: dir}
	if names, err = l.finishCleanerFiles(names); err != nil {
		return err
	}
	var bases, snaps []int64
	idxFiles := map[int64]bool{}
	rpFound := false
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, tmpSuffix):
			// An unfinished atomic write: the old file (if any) is intact.
			if err := fs.Remove(filepath.Join(dir, name)); err != nil {
				return storageErr("remove", name, err)
			}
			l.dirDirty = true
		case name == recoveryFile:
			rpFound = true
		default:
			if off, ok := parseFileName(name, logSuffix); ok {
				bases = append(bases, off)
			} else if off, ok := parseFileName(name, snapshotSuffix); ok {
				snaps = append(snaps, off)
			} else if off, ok := parseFileName(name, indexSuffix); ok {
				idxFiles[off] = true
			} else if off, ok := parseFileName(name, timeIndexSuffix); ok {
				idxFiles[off] = true
			}
		}
	}
	slices.Sort(bases)
	for off := range idxFiles {
		if _, found := slices.BinarySearch(bases, off); !found {
			for _, suf := range []string{indexSuffix, timeIndexSuffix} {
				if err := fs.Remove(fileName(dir, off, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return storageErr("remove", fileName(dir, off, suf), err)
				}
			}
			l.dirDirty = true
		}
	}

	var rp recoveryPoint
	rpOK := false
	if rpFound {
		b, err := readFile(fs, filepath.Join(dir, recoveryFile))
		if err == nil {
			rp, err = decodeRecoveryPoint(b)
		}
		if err != nil {
			p.logger.Warn("ignoring recovery point; scanning the whole log", "err", err)
		} else if _, found := slices.BinarySearch(bases, rp.segBase); found {
			rpOK = true
		}
	}

	end, err := l.recoverSegments(bases, rp, rpOK)
	p.segs = l.segs
	if err != nil {
		return err
	}
	if l.dirDirty {
		if err := fs.SyncDir(dir); err != nil {
			return storageErr("fsync dir", dir, err)
		}
	}
	p.leo, p.synced, p.hw = end, end, end
	p.activeMax.ts, p.activeMax.off = end.maxTs, end.maxTsOff
	if err := p.checkpoint(end, true); err != nil {
		return err
	}
	if err := p.loadLogStart(); err != nil {
		return err
	}
	return p.loadProducerState(snaps, end)
}

// recoverSegments opens every segment, scanning those at or after the
// recovery point, and returns the log end. The last segment becomes active.
func (l *loader) recoverSegments(bases []int64, rp recoveryPoint, rpOK bool) (logPos, error) {
	p := l.p
	if len(bases) == 0 {
		s, err := openSegment(l.fs, l.dir, 0, true)
		if err != nil {
			return logPos{}, err
		}
		l.segs = append(l.segs, s)
		l.dirDirty = true
		if err := l.activate(s); err != nil {
			return logPos{}, err
		}
		return logPos{offset: 0, seg: s, maxTs: -1, maxTsOff: -1}, nil
	}
	l.lastBase = bases[len(bases)-1]
	var end logPos
	next := int64(-1) // offset the next segment must start at
	for i, base := range bases {
		if next >= 0 && base != next {
			// Only a scanned segment can end somewhere else than where the
			// next one starts; it becomes the active segment again.
			p.logger.Warn("segment does not continue the log; dropping it and later segments",
				"file", fileName(l.dir, base, logSuffix), "expected_base_offset", next)
			if err := l.dropSegments(bases[i:]); err != nil {
				return end, err
			}
			return end, l.activate(l.segs[len(l.segs)-1])
		}
		s, err := openSegment(l.fs, l.dir, base, false)
		if err != nil {
			return end, err
		}
		l.segs = append(l.segs, s)
		last := i == len(bases)-1
		switch {
		case rpOK && base < rp.segBase:
			// Trusted: fully written and fsynced before the recovery point.
			if err := l.checkClosedIndexes(s, bases[i+1]); err != nil {
				return end, err
			}
			next = bases[i+1]
			continue
		case rpOK && base == rp.segBase && rp.pos <= s.size.Load():
			end, err = l.scan(s, logPos{offset: rp.offset, seg: s, pos: rp.pos, maxTs: rp.maxTs, maxTsOff: rp.maxTsOff})
		default:
			if rpOK && base == rp.segBase {
				p.logger.Warn("segment shorter than its recovery point; scanning it whole",
					"file", s.name(), "size", s.size.Load(), "recovery_position", rp.pos)
			}
			end, err = l.scan(s, logPos{offset: base, seg: s, pos: 0, maxTs: -1, maxTsOff: -1})
		}
		if err != nil {
			return end, err
		}
		next = end.offset
		if end.pos < s.size.Load() {
			if err := l.cut(s, end, bases[i+1:]); err != nil {
				return end, err
			}
			last = true
		}
		if last {
			if err := s.syncAll(); err != nil { // what we read may be only in the page cache
				return end, err
			}
			return end, l.activate(s)
		}
		// A scanned segment that is not the last one is closed: finalise its
		// time index like a roll would.
		if err := l.finishClosed(s, end); err != nil {
			return end, err
		}
	}
	// The last segment was trusted only if the recovery point was past it,
	// which cannot be; reached when every segment before rp was dropped.
	return end, errors.New("log: recovery ended without an active segment")
}

// scan checks the batches of s from `from` on, rebuilding index entries for
// them, and returns the end of the valid prefix.
func (l *loader) scan(s *segment, from logPos) (logPos, error) {
	cfg := l.p.cfg.Load()
	if err := l.keepIndexPrefix(s, from); err != nil {
		return from, err
	}
	end := from
	r := newBatchReader(s.log, from.pos, s.size.Load())
	var offs, times []byte
	bytesSince := 0
	lastTime := s.lastTimeEntry
	for {
		b, pos, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrStorage) {
				return end, err
			}
			l.p.logger.Debug("scan stopped", "file", s.name(), "position", pos, "err", err)
			break
		}
		h, err := records.ParseHeader(b)
		if err == nil {
			err = records.CheckCRC(b)
		}
		// Offsets continue from batch to batch, except that a closed
		// segment may have gaps: the cleaner removes records and the rest
		// keep their offsets. The active segment is never cleaned.
		if err == nil && (h.BaseOffset < end.offset || (h.BaseOffset > end.offset && s.base == l.lastBase)) {
			err = fmt.Errorf("base offset %d, expected %d", h.BaseOffset, end.offset)
		}
		if err == nil && (h.LastOffsetDelta < 0 || h.LastOffset()-s.base > 1<<31-1) {
			err = fmt.Errorf("bad last offset delta %d", h.LastOffsetDelta)
		}
		// Append writes a batch before walking its records and cuts it
		// off if they are malformed (records.ValidateDeferred); a crash
		// in between leaves it here, at the end of the last segment.
		if err == nil && s.base == l.lastBase {
			err = records.CheckRecords(b, h)
		}
		if err != nil {
			l.p.logger.Debug("scan stopped", "file", s.name(), "position", pos, "err", err)
			break
		}
		if h.MaxTimestamp > end.maxTs {
			end.maxTs, end.maxTsOff = h.MaxTimestamp, h.BaseOffset
		}
		if bytesSince >= cfg.IndexIntervalBytes {
			var e [offsetEntrySize]byte
			putOffsetEntry(e[:], relOffset(h.BaseOffset, s.base), uint32(pos))
			offs = append(offs, e[:]...)
			bytesSince = 0
			if end.maxTs > lastTime {
				var t [timeEntrySize]byte
				putTimeEntry(t[:], end.maxTs, relOffset(end.maxTsOff, s.base))
				times = append(times, t[:]...)
				lastTime = end.maxTs
			}
		}
		bytesSince += len(b)
		end.offset = h.LastOffset() + 1
		end.pos = pos + int64(len(b))
	}
	if len(offs) > 0 {
		if err := s.offsets.append(offs); err != nil {
			return end, err
		}
	}
	if len(times) > 0 {
		if err := s.times.append(times); err != nil {
			return end, err
		}
	}
	s.lastTimeEntry = lastTime
	s.bytesSinceIndex = bytesSince
	return end, nil
}

// keepIndexPrefix drops index entries at or after from (and any that are not
// monotonic: an index is only a cache, possibly torn by a crash).
func (l *loader) keepIndexPrefix(s *segment, from logPos) error {
	// Read each index whole once rather than entry by entry.
	if err := s.offsets.activate(); err != nil {
		return err
	}
	if err := s.times.activate(); err != nil {
		return err
	}
	var buf [timeEntrySize]byte
	keep := 0
	prevRel, prevPos := int64(-1), int64(-1)
	for i := 0; i < s.offsets.len(); i++ {
		e, err := s.offsets.entry(i, buf[:])
		if err != nil {
			return err
		}
		rel, pos := offsetEntry(e)
		if int64(rel) <= prevRel || int64(pos) <= prevPos || int64(pos) >= from.pos || s.base+int64(rel) >= from.offset {
			break
		}
		prevRel, prevPos = int64(rel), int64(pos)
		keep++
	}
	if keep != s.offsets.len() || s.offsets.torn {
		if err := s.offsets.truncate(keep); err != nil {
			return err
		}
	}
	keep = 0
	prevTs, prevRel := int64(-1)<<62, int64(-1)
	for i := 0; i < s.times.len(); i++ {
		e, err := s.times.entry(i, buf[:])
		if err != nil {
			return err
		}
		ts, rel := timeEntry(e)
		if ts <= prevTs || int64(rel) < prevRel || s.base+int64(rel) >= from.offset || ts > from.maxTs {
			break
		}
		prevTs, prevRel = ts, int64(rel)
		keep++
	}
	if keep != s.times.len() || s.times.torn {
		if err := s.times.truncate(keep); err != nil {
			return err
		}
	}
	s.lastTimeEntry = -1
	if keep > 0 {
		s.lastTimeEntry = prevTs
	}
	return nil
}

// checkClosedIndexes validates the indexes of a trusted closed segment
// cheaply (sizes, first and last entries, bounds) and rebuilds them from the
// segment when they fail.
func (l *loader) checkClosedIndexes(s *segment, nextBase int64) error {
	valid := func() (bool, error) {
		size := s.size.Load()
		if s.offsets.torn || s.times.torn {
			return false, nil
		}
		var a, b [timeEntrySize]byte
		if n := s.offsets.len(); n > 0 {
			e0, err := s.offsets.entry(0, a[:])
			if err != nil {
				return false, err
			}
			en, err := s.offsets.entry(n-1, b[:])
			if err != nil {
				return false, err
			}
			r0, p0 := offsetEntry(e0)
			rn, pn := offsetEntry(en)
			if r0 > rn || p0 > pn || int64(pn) >= size || s.base+int64(rn) >= nextBase {
				return false, nil
			}
		}
		n := s.times.len()
		if n == 0 {
			return size == 0, nil // a closed non-empty segment has a final time entry
		}
		e0, err := s.times.entry(0, a[:])
		if err != nil {
			return false, err
		}
		en, err := s.times.entry(n-1, b[:])
		if err != nil {
			return false, err
		}
		t0, r0 := timeEntry(e0)
		tn, rn := timeEntry(en)
		return t0 <= tn && r0 <= rn && s.base+int64(rn) < nextBase, nil
	}
	ok, err := valid()
	if err != nil || ok {
		return err
	}
	l.p.logger.Info("rebuilding indexes", "file", s.name())
	if err := s.offsets.truncate(0); err != nil {
		return err
	}
	if err := s.times.truncate(0); err != nil {
		return err
	}
	end, err := l.scan(s, logPos{offset: s.base, seg: s, maxTs: -1, maxTsOff: -1})
	if err != nil {
		return err
	}
	if end.pos < s.size.Load() || end.offset != nextBase {
		// Below the recovery point we do not truncate: that would drop
		// acknowledged data after it. Serve what is there.
		l.p.logger.Error("bad batch below the recovery point; index covers the valid prefix only",
			"file", s.name(), "position", end.pos, "size", s.size.Load())
	}
	return l.finishClosed(s, end)
}

// finishClosed writes the final time index entry of a closed segment, fsyncs
// its indexes and drops their in-memory copies.
func (l *loader) finishClosed(s *segment, end logPos) error {
	if end.maxTs > s.lastTimeEntry {
		var t [timeEntrySize]byte
		putTimeEntry(t[:], end.maxTs, relOffset(end.maxTsOff, s.base))
		if err := s.times.append(t[:]); err != nil {
			return err
		}
		s.lastTimeEntry = end.maxTs
	}
	if err := s.syncAll(); err != nil {
		return err
	}
	if err := errors.Join(s.offsets.sealed(), s.times.sealed()); err != nil {
		return err
	}
	s.setMaxTimestamp(end.maxTs, end.maxTsOff)
	return nil
}

// activate makes s the active segment: indexes in memory, roll clock set.
func (l *loader) activate(s *segment) error {
	if err := s.offsets.activate(); err != nil {
		return err
	}
	if err := s.times.activate(); err != nil {
		return err
	}
	now := l.p.now().UnixMilli()
	s.rollAt = now
	// Like Kafka, time the roll from the first batch's timestamp when it is
	// plausible, so restarts do not postpone segment.ms forever.
	var hdr [records.HeaderSize]byte
	if s.size.Load() >= records.HeaderSize {
		if _, err := s.log.ReadAt(hdr[:], 0); err == nil {
			if h, err := records.ParseHeader(hdr[:]); err == nil && h.MaxTimestamp > 0 && h.MaxTimestamp <= now {
				s.rollAt = h.MaxTimestamp
			}
		}
	}
	if n := s.offsets.len(); n > 0 {
		var buf [offsetEntrySize]byte
		e, err := s.offsets.entry(n-1, buf[:])
		if err != nil {
			return err
		}
		_, pos := offsetEntry(e)
		if s.bytesSinceIndex == 0 {
			s.bytesSinceIndex = int(s.size.Load() - int64(pos))
		}
	} else if s.bytesSinceIndex == 0 {
		s.bytesSinceIndex = int(s.size.Load())
	}
	if n := s.times.len(); n > 0 && s.lastTimeEntry < 0 {
		var buf [timeEntrySize]byte
		e, err := s.times.entry(n-1, buf[:])
		if err != nil {
			return err
		}
		s.lastTimeEntry, _ = timeEntry(e)
	}
	return nil
}

// cut truncates s at end.pos, keeping the cut bytes in a .broken file, and
// drops the segments after it.
func (l *loader) cut(s *segment, end logPos, later []int64) error {
	size := s.size.Load()
	lost := size - end.pos
	broken, head, err := l.writeBroken(s, end.pos, size)
	if err != nil {
		return err
	}
	// Best effort: walk the headers of the cut bytes without trusting them.
	lastLost := int64(-1)
	for b := head; len(b) >= records.HeaderSize; {
		h, err := records.ParseHeader(b)
		if err != nil || h.LastOffsetDelta < 0 || h.BaseOffset < end.offset {
			break
		}
		lastLost = max(lastLost, h.LastOffset())
		if h.Size() > len(b) {
			break
		}
		b = b[h.Size():]
	}
	if err := s.log.Truncate(end.pos); err != nil {
		return storageErr("truncate", s.name(), err)
	}
	s.size.Store(end.pos)
	if err := s.log.Sync(); err != nil {
		return storageErr("fsync", s.name(), err)
	}
	l.p.logger.Warn("truncated corrupt log tail",
		"file", s.name(), "position", end.pos, "bytes_dropped", lost,
		"first_offset_lost", end.offset, "last_offset_lost_estimate", lastLost,
		"broken_file", broken, "later_segments_dropped", len(later))
	return l.dropSegments(later)
}

// writeBroken copies bytes [from, to) of s to "<segment>.log.broken" (or
// "….broken.N" if that exists), as etcd's Repair keeps evidence. It returns
// the file name and the first chunk of the bytes.
func (l *loader) writeBroken(s *segment, from, to int64) (string, []byte, error) {
	path := s.name() + brokenSuffix
	for i := 1; ; i++ {
		if _, _, err := l.fs.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		path = fmt.Sprintf("%s%s.%d", s.name(), brokenSuffix, i)
	}
	f, err := l.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return path, nil, storageErr("create", path, err)
	}
	var head []byte
	buf := make([]byte, min(to-from, 1<<20))
	for pos := from; pos < to && err == nil; pos += int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), to-pos)]
		if _, err = s.log.ReadAt(chunk, pos); err != nil && !errors.Is(err, io.EOF) {
			break
		}
		if head == nil {
			head = bytes.Clone(chunk)
		}
		_, err = f.Write(chunk)
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return path, nil, storageErr("write", path, err)
	}
	l.dirDirty = true
	return path, head, nil
}

// dropSegments renames the .log files of bases to .log.broken and removes
// their indexes: they follow a cut, so their offsets no longer continue the
// log.
func (l *loader) dropSegments(bases []int64) error {
	for _, base := range bases {
		name := fileName(l.dir, base, logSuffix)
		if size, _, err := l.fs.Stat(name); err == nil {
			l.p.logger.Warn("dropping segment after a cut", "file", name, "bytes_dropped", size)
		}
		broken := name + brokenSuffix
		for i := 1; ; i++ {
			if _, _, err := l.fs.Stat(broken); errors.Is(err, os.ErrNotExist) {
				break
			}
			broken = fmt.Sprintf("%s%s.%d", name, brokenSuffix, i)
		}
		if err := l.fs.Rename(name, broken); err != nil {
			return storageErr("rename", name, err)
		}
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if err := l.fs.Remove(fileName(l.dir, base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return storageErr("remove", fileName(l.dir, base, suf), err)
			}
		}
		l.dirDirty = true
	}
	return nil
}
