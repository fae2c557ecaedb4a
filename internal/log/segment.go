package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// File suffixes, as in Apache Kafka (LogFileUtils). Part of the on-disk format.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	snapshotSuffix  = ".snapshot"
	brokenSuffix    = ".broken"
	tmpSuffix       = ".tmp"
	recoveryFile    = "recovery-point"
)

// fileName is the 20-digit zero-padded base offset plus suffix.
func fileName(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// parseFileName returns the offset of a "<20 digits><suffix>" name.
func parseFileName(name, suffix string) (int64, bool) {
	s, ok := strings.CutSuffix(name, suffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(s, 10, 64)
	if err != nil || off < 0 {
		return 0, false
	}
	return off, true
}

// segment is one .log file and its two indexes (Kafka's LogSegment). Its
// bytes are written only by the partition's appender, under Partition.mu;
// readers use ReadAt, which is safe concurrently with writes.
type segment struct {
	base    int64
	log     vfs.File
	size    atomic.Int64 // bytes written; readers bound themselves by the HW position instead
	offsets *indexFile
	times   *indexFile

	// Guarded by Partition.mu while the segment is active.
	rollAt          int64 // unix ms of the first append, for segment.ms
	bytesSinceIndex int
	reserved        int64 // end of the blocks reserved ahead of appends (reserve.go)
	noReserve       bool  // the file system refused a reservation
	lastTimeEntry   int64 // timestamp of the last time index entry, -1 if none

	// The segment's largest timestamp once it is closed (loaded lazily for
	// segments we did not scan).
	tsMu     sync.Mutex
	tsKnown  bool
	maxTs    int64
	maxTsOff int64

	life segLife // reads in flight, for removal (retention.go)
}

func (s *segment) name() string { return s.log.Name() }

// openSegment opens (creating when create is set) the files of the segment
// at base in dir.
func openSegment(fs vfs.FS, dir string, base int64, create bool) (*segment, error) {
	flag := os.O_RDWR | os.O_APPEND
	if create {
		flag |= os.O_CREATE | os.O_TRUNC
	}
	path := fileName(dir, base, logSuffix)
	f, err := fs.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, storageErr("open", path, err)
	}
	s := &segment{base: base, log: f, lastTimeEntry: -1, maxTs: -1, maxTsOff: -1}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, storageErr("stat", path, err)
	}
	s.size.Store(size)
	if create {
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if err := fs.Remove(fileName(dir, base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
				f.Close()
				return nil, storageErr("remove", fileName(dir, base, suf), err)
			}
		}
	}
	if s.offsets, err = openIndexFile(fs, fileName(dir, base, indexSuffix), offsetEntrySize); err != nil {
		f.Close()
		return nil, err
	}
	if s.times, err = openIndexFile(fs, fileName(dir, base, timeIndexSuffix), timeEntrySize); err != nil {
		f.Close()
		s.offsets.close()
		return nil, err
	}
	return s, nil
}

func (s *segment) close() error {
	return errors.Join(s.log.Close(), s.offsets.close(), s.times.close())
}

// syncAll fsyncs the log and both indexes.
func (s *segment) syncAll() error {
	if err := s.log.Sync(); err != nil {
		return storageErr("fsync", s.name(), err)
	}
	if err := s.offsets.sync(); err != nil {
		return err
	}
	return s.times.sync()
}

// setMaxTimestamp records the segment's final largest timestamp.
func (s *segment) setMaxTimestamp(ts, off int64) {
	s.tsMu.Lock()
	s.tsKnown, s.maxTs, s.maxTsOff = true, ts, off
	s.tsMu.Unlock()
}

// maxTimestamp returns the largest timestamp of a closed segment and the
// base offset of the batch that holds it (-1, -1 if empty). The last time
// index entry holds it: a final entry is written when a segment is closed.
func (s *segment) maxTimestamp() (int64, int64, error) {
	s.tsMu.Lock()
	defer s.tsMu.Unlock()
	if s.tsKnown {
		return s.maxTs, s.maxTsOff, nil
	}
	n := s.times.len()
	if n == 0 {
		s.tsKnown = true
		return s.maxTs, s.maxTsOff, nil
	}
	var buf [timeEntrySize]byte
	e, err := s.times.entry(n-1, buf[:])
	if err != nil {
		return -1, -1, err
	}
	ts, rel := timeEntry(e)
	s.tsKnown, s.maxTs, s.maxTsOff = true, ts, s.base+int64(rel)
	return s.maxTs, s.maxTsOff, nil
}

// lookup returns the position of the last indexed batch whose base offset is
// <= offset and that batch's base offset, or (0, base).
func (s *segment) lookup(offset int64) (pos, entryOffset int64, err error) {
	if offset <= s.base {
		return 0, s.base, nil
	}
	var buf [offsetEntrySize]byte
	target := offset - s.base
	i, e, err := s.offsets.searchLast(buf[:], func(e []byte) bool {
		rel, _ := offsetEntry(e)
		return int64(rel) <= target
	})
	if err != nil || i < 0 {
		return 0, s.base, err
	}
	rel, p := offsetEntry(e)
	return int64(p), s.base + int64(rel), nil
}

// headerScanSize is how much we read at a time when hopping from batch
// header to batch header.
const headerScanSize = 4096

var scanBufPool = sync.Pool{New: func() any { b := make([]byte, headerScanSize); return &b }}

// walkHeaders calls fn with the base offset, last offset and size of each
// batch starting at pos and ending before limit, reading only around the
// headers, until fn returns false. It returns the position where it stopped.
// Bytes below the HW position are trusted (recovery checked them), so a
// malformed header there is reported as corruption.
// batchInfo is what walkHeaders reports about each batch.
type batchInfo struct {
	pos        int64
	base, last int64
	size       int
	maxTs      int64
}

func (s *segment) walkHeaders(pos, limit int64, fn func(b batchInfo) bool) (int64, error) {
	bp := scanBufPool.Get().(*[]byte)
	defer scanBufPool.Put(bp)
	buf := *bp
	var chunk []byte
	chunkPos := int64(-1)
	for pos < limit {
		// The fields we need end with maxTimestamp (byte 43).
		const need = 43
		if pos < chunkPos || pos+need > chunkPos+int64(len(chunk)) {
			n := min(int64(len(buf)), limit-pos)
			if n < need {
				return pos, fmt.Errorf("%w: %s: partial batch header at %d", records.ErrCorrupt, s.name(), pos)
			}
			if _, err := s.log.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
				return pos, storageErr("read", s.name(), err)
			}
			chunk, chunkPos = buf[:n], pos
		}
		h := chunk[pos-chunkPos:]
		size, err := records.PeekSize(h)
		if err != nil {
			return pos, fmt.Errorf("%s at %d: %w", s.name(), pos, err)
		}
		base := int64(binary.BigEndian.Uint64(h[0:]))
		b := batchInfo{
			pos:   pos,
			base:  base,
			last:  base + int64(int32(binary.BigEndian.Uint32(h[23:]))),
			size:  size,
			maxTs: int64(binary.BigEndian.Uint64(h[35:])),
		}
		if !fn(b) {
			return pos, nil
		}
		pos += int64(size)
	}
	return pos, nil
}

// find returns the position of the first batch below limit whose last
// offset is >= offset, or -1.
func (s *segment) find(offset, limit int64) (int64, error) {
	start, entryOffset, err := s.lookup(offset)
	if err != nil {
		return -1, err
	}
	found := int64(-1)
	bad := start >= limit && start > 0
	scan := func(b batchInfo) bool {
		// An index entry names the base offset of the batch it points at.
		// The start of a segment has none: after compaction its first
		// batch may start above the segment's base offset.
		if b.pos == start && start > 0 && b.base != entryOffset {
			bad = true
			return false
		}
		if b.last >= offset {
			found = b.pos
			return false
		}
		return true
	}
	if !bad {
		_, err = s.walkHeaders(start, limit, scan)
		bad = bad || (err != nil && start > 0 && !errors.Is(err, ErrStorage))
	}
	if bad {
		// The index is a cache and this entry is wrong (a damaged file):
		// walk from the start of the segment instead.
		start, entryOffset, found = 0, s.base, -1
		_, err = s.walkHeaders(0, limit, scan)
	}
	return found, err
}

// batchReader reads whole batches sequentially from a segment file with a
// large buffer, for recovery and index rebuilds.
type batchReader struct {
	f     vfs.File
	pos   int64 // file position of buf[off]
	limit int64
	buf   []byte
	off   int // start of unread data in buf
	end   int // end of valid data in buf
	err   error
}

func newBatchReader(f vfs.File, pos, limit int64) *batchReader {
	n := min(max(limit-pos, records.LogOverhead), 1<<20)
	return &batchReader{f: f, pos: pos, limit: limit, buf: make([]byte, n)}
}

// fill makes at least n bytes available at buf[off:], or as many as remain.
func (r *batchReader) fill(n int) int {
	avail := r.end - r.off
	if avail >= n {
		return avail
	}
	if r.off > 0 {
		copy(r.buf, r.buf[r.off:r.end])
		r.pos += int64(r.off)
		r.end -= r.off
		r.off = 0
	}
	if n > len(r.buf) {
		nb := make([]byte, n)
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	fileAt := r.pos + int64(r.end)
	want := min(int64(len(r.buf)-r.end), r.limit-fileAt)
	if want > 0 {
		m, err := r.f.ReadAt(r.buf[r.end:r.end+int(want)], fileAt)
		r.end += m
		if err != nil && !errors.Is(err, io.EOF) {
			r.err = storageErr("read", r.f.Name(), err)
		}
	}
	return r.end - r.off
}

// next returns the next batch (aliasing the buffer until the next call) and
// its position. It returns io.EOF at a clean end; records.ErrShort at a
// partial batch; the records error for a malformed one.
func (r *batchReader) next() (batch []byte, pos int64, err error) {
	pos = r.pos + int64(r.off)
	avail := r.fill(records.LogOverhead)
	if r.err != nil {
		return nil, pos, r.err
	}
	if avail == 0 {
		return nil, pos, io.EOF
	}
	size, err := records.PeekSize(r.buf[r.off:r.end])
	if err != nil {
		return nil, pos, err
	}
	if int64(size) > r.limit-pos {
		return nil, pos, records.ErrShort
	}
	avail = r.fill(size)
	if r.err != nil {
		return nil, pos, r.err
	}
	if avail < size {
		return nil, pos, records.ErrShort
	}
	batch = r.buf[r.off : r.off+size]
	r.off += size
	return batch, pos, nil
}
