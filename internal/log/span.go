package log

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// Span is a run of whole batches in one segment file: Len bytes at Pos. A
// fetch sends it from the file (sendfile) instead of reading it (ReadSpan).
// The span holds a reference on its segment until Release, so a segment
// that leaves the log meanwhile (retention, compaction) keeps its file open
// until then.
type Span struct {
	seg  *segment
	Pos  int64
	Len  int
	last int64 // last offset of the last batch
}

// File is the segment file the span is in. The span's bytes are below the
// high watermark: they never change while the span is held.
func (s *Span) File() vfs.File { return s.seg.log }

// Reader reads the span's bytes.
func (s *Span) Reader() *io.SectionReader {
	return io.NewSectionReader(s.seg.log, s.Pos, int64(s.Len))
}

// ReadInto appends the span's bytes to dst.
func (s *Span) ReadInto(dst []byte) ([]byte, error) {
	if s.Len == 0 {
		return dst, nil
	}
	n := len(dst)
	dst = slices.Grow(dst, s.Len)[:n+s.Len] // no zeroing: ReadAt fills it or we fail
	if m, err := s.seg.log.ReadAt(dst[n:], s.Pos); m < s.Len {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return dst[:n], storageErr("read", s.seg.name(), err)
	}
	return dst, nil
}

// Release drops the span's segment reference. It is idempotent.
func (s *Span) Release() {
	if s.seg != nil {
		s.seg.release()
		s.seg = nil
	}
}

// ReadSpan is ReadInto (ReadCommittedInto when committed) that says where
// the batches are rather than reading them: the same batches, in sp, and
// res.Records nil. sp.Len is 0 when there is nothing to read; otherwise
// the caller must Release sp.
func (p *Partition) ReadSpan(offset int64, maxBytes int, minOneBatch, committed bool) (res ReadResult, sp Span, err error) {
	stale := true
	for stale {
		res, stale, err = p.readView(nil, &sp, offset, maxBytes, minOneBatch, committed)
	}
	if err == nil && committed && sp.Len > 0 {
		res.Aborted = p.AbortedTxns(offset, sp.last+1)
	}
	return res, sp, err
}

// spanEnd returns where the whole batches from start (a batch boundary)
// end that fit in maxBytes below limit and begin below stop, and the last
// offset of the last of them; with minOneBatch the first batch counts even
// when larger than maxBytes (KIP-74). end == start: none. It reads the
// batch headers only, hopping over the middle of a long run with the
// offset index.
func (s *segment) spanEnd(start, limit int64, maxBytes int, minOneBatch bool, stop int64) (end, last int64, err error) {
	want := limit
	if m := int64(max(maxBytes, 0)); m < limit-start {
		want = start + m
	}
	from, fromBase := start, int64(-1)
	if want-start > 2*headerScanSize {
		// The last indexed batch that starts at or before want: the batches
		// from start up to it all fit, and (base < stop) all begin below stop.
		var buf [offsetEntrySize]byte
		i, e, err := s.offsets.searchLast(buf[:], func(e []byte) bool {
			_, pos := offsetEntry(e)
			return int64(pos) <= want
		})
		if err == nil && i >= 0 {
			rel, pos := offsetEntry(e)
			if base := s.base + int64(rel); int64(pos) > start && base < stop {
				from, fromBase = int64(pos), base
			}
		}
	}
	var corrupt bool
	checked := from == start // the batch at from is the index entry's
	walk := func(b batchInfo) bool {
		if b.pos == from && fromBase >= 0 {
			if b.base != fromBase {
				return false // a wrong index entry (damaged file)
			}
			checked = true
		}
		if b.base >= stop {
			return false
		}
		bEnd := b.pos + int64(b.size)
		fits := bEnd <= want
		if !fits && !(minOneBatch && b.pos == start) {
			return false
		}
		if bEnd > limit {
			corrupt = true // below the HW position every batch is whole
			return false
		}
		end, last = bEnd, b.last
		return fits
	}
	end, last = from, fromBase-1
	_, err = s.walkHeaders(from, limit, walk)
	if !checked {
		if errors.Is(err, ErrStorage) {
			return start, -1, err
		}
		// The index is a cache: walk from start instead.
		from, fromBase = start, -1
		end, last = start, -1
		_, err = s.walkHeaders(start, limit, walk)
	}
	switch {
	case end > start:
		return end, last, nil // what precedes a bad header is good
	case errors.Is(err, ErrStorage):
		return start, -1, err
	case minOneBatch && (corrupt || err != nil):
		// As readBatches: the first batch must be readable.
		return start, -1, fmt.Errorf("%w: %s: bad batch at %d below the high watermark", records.ErrCorrupt, s.name(), start)
	}
	return start, -1, nil
}

// noStop is spanEnd's stop for reads that are not bounded by the LSO.
const noStop = math.MaxInt64
