package log

import (
	"errors"
	"fmt"
	"io"

	"github.com/chronik-stream/chronik/internal/records"
)

// OffsetForTimestamp returns the earliest offset whose record timestamp is
// >= ts, and that timestamp (ListOffsets by time). Only data below the high
// watermark is considered. ok is false if there is none.
//
// Segments whose largest timestamp is below ts are skipped; in the first
// other one the time index gives the last batch known to be entirely below
// ts, and we look at batch headers from there and at the records of the
// first batch whose max timestamp reaches ts.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool, err error) {
	for {
		offset, timestamp, ok, stale, err := p.offsetForTimestamp(ts)
		if !stale {
			return offset, timestamp, ok, err
		}
	}
}

func (p *Partition) offsetForTimestamp(ts int64) (offset, timestamp int64, ok, stale bool, err error) {
	p.vmu.RLock()
	segs, hw, logStart, closed, failErr := p.segs, p.hw, p.maint.logStart, p.closed, p.failErr
	p.vmu.RUnlock()
	if failErr != nil {
		return 0, 0, false, false, failErr
	}
	if closed {
		return 0, 0, false, false, ErrClosed
	}
	for i, seg := range segs {
		if i+1 == len(segs) || segs[i+1].base > logStart { // not wholly below the log start
			if !seg.acquire() {
				return 0, 0, false, true, nil
			}
			maxTs, limit := hw.maxTs, hw.pos
			if seg != hw.seg {
				maxTs, _, err = seg.maxTimestamp()
				limit = seg.size.Load()
			}
			if err == nil && maxTs >= ts {
				offset, timestamp, ok, err = p.offsetForTimestampIn(seg, ts, limit, logStart)
			}
			seg.release()
			if ok || err != nil {
				return offset, timestamp, ok, false, p.readErr(err)
			}
		}
		if seg == hw.seg {
			break
		}
	}
	return 0, 0, false, false, nil
}

func (p *Partition) offsetForTimestampIn(seg *segment, ts, limit, logStart int64) (int64, int64, bool, error) {
	var buf [timeEntrySize]byte
	start := int64(0)
	i, e, err := seg.times.searchLast(buf[:], func(e []byte) bool {
		t, _ := timeEntry(e)
		return t < ts
	})
	if err != nil {
		return 0, 0, false, err
	}
	if i >= 0 {
		// Every record up to this entry's batch is older than ts.
		_, rel := timeEntry(e)
		if start, err = seg.find(seg.base+int64(rel), limit); err != nil {
			return 0, 0, false, err
		}
		if start < 0 {
			return 0, 0, false, nil
		}
	}
	for start < limit {
		var found batchInfo
		hit := false
		_, err = seg.walkHeaders(start, limit, func(b batchInfo) bool {
			if b.maxTs >= ts && b.last >= logStart {
				found, hit = b, true
				return false
			}
			return true
		})
		if err != nil || !hit {
			return 0, 0, false, err
		}
		batch, err := readBatchAt(seg, found.pos, found.size)
		if err != nil {
			return 0, 0, false, err
		}
		h, err := records.ParseHeader(batch)
		if err != nil {
			return 0, 0, false, fmt.Errorf("%s at %d: %w", seg.name(), found.pos, err)
		}
		if h.NumRecords == 0 {
			// Emptied by the cleaner, kept for its offsets: no record here.
			start = found.pos + int64(found.size)
			continue
		}
		off, t, ok, err := firstRecordAtOrAfter(batch, ts, logStart)
		if err != nil {
			return 0, 0, false, fmt.Errorf("%s at %d: %w", seg.name(), found.pos, err)
		}
		if !ok {
			// The max timestamp said otherwise; trust the header as Kafka does.
			return max(found.base, logStart), found.maxTs, true, nil
		}
		return off, t, true, nil
	}
	return 0, 0, false, nil
}

// firstRecordAtOrAfter finds the first record of batch at or after offset
// from with a timestamp >= ts. Compressed batches are decompressed
// (records.Iterate).
func firstRecordAtOrAfter(batch []byte, ts, from int64) (int64, int64, bool, error) {
	h, err := records.ParseHeader(batch)
	if err != nil {
		return 0, 0, false, err
	}
	if h.TimestampType() == records.TimestampLogAppend {
		// Every record carries the batch's log-append time.
		return max(h.BaseOffset, from), h.MaxTimestamp, h.MaxTimestamp >= ts, nil
	}
	var off, t int64
	found := false
	errStop := errors.New("stop")
	_, err = records.Iterate(batch, 0, func(r *records.Record) error {
		if rt := h.BaseTimestamp + r.TimestampDelta; rt >= ts && h.BaseOffset+int64(r.OffsetDelta) >= from {
			off, t, found = h.BaseOffset+int64(r.OffsetDelta), rt, true
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, 0, false, err
	}
	return off, t, found, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp below the high watermark (ListOffsets -3, KIP-734); the
// first such record if several share it. ok is false if the log is empty.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, ok bool, err error) {
	for {
		offset, timestamp, ok, stale, err := p.maxTimestamp()
		if !stale {
			return offset, timestamp, ok, err
		}
	}
}

func (p *Partition) maxTimestamp() (offset, timestamp int64, ok, stale bool, err error) {
	p.vmu.RLock()
	segs, hw, closed, failErr := p.segs, p.hw, p.closed, p.failErr
	p.vmu.RUnlock()
	if failErr != nil {
		return 0, 0, false, false, failErr
	}
	if closed {
		return 0, 0, false, false, ErrClosed
	}
	var (
		best      *segment
		bestTs    int64 = -1
		bestOff   int64 = -1
		bestLimit int64
	)
	for _, seg := range segs {
		maxTs, maxOff, limit := hw.maxTs, hw.maxTsOff, hw.pos
		if seg != hw.seg {
			if !seg.acquire() {
				return 0, 0, false, true, nil
			}
			maxTs, maxOff, err = seg.maxTimestamp()
			seg.release()
			if err != nil {
				return 0, 0, false, false, p.readErr(err)
			}
			limit = seg.size.Load()
		}
		if maxOff >= 0 && (best == nil || maxTs > bestTs) {
			best, bestTs, bestOff, bestLimit = seg, maxTs, maxOff, limit
		}
		if seg == hw.seg {
			break
		}
	}
	if best == nil {
		return 0, 0, false, false, nil
	}
	if !best.acquire() {
		return 0, 0, false, true, nil
	}
	defer best.release()
	offset, timestamp, ok, err = maxTimestampIn(best, bestOff, bestLimit)
	return offset, timestamp, ok, false, p.readErr(err)
}

// maxTimestampIn returns the first record with the largest timestamp of the
// batch of seg that holds offset off.
func maxTimestampIn(best *segment, bestOff, bestLimit int64) (offset, timestamp int64, ok bool, err error) {
	pos, err := best.find(bestOff, bestLimit)
	if err != nil || pos < 0 {
		return 0, 0, false, err
	}
	var hdr [records.LogOverhead]byte
	if _, err := best.log.ReadAt(hdr[:], pos); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, false, storageErr("read", best.name(), err)
	}
	size, err := records.PeekSize(hdr[:])
	if err != nil {
		return 0, 0, false, err
	}
	batch, err := readBatchAt(best, pos, size)
	if err != nil {
		return 0, 0, false, err
	}
	h, err := records.ParseHeader(batch)
	if err != nil {
		return 0, 0, false, err
	}
	if h.TimestampType() == records.TimestampLogAppend {
		return h.BaseOffset, h.MaxTimestamp, true, nil
	}
	offset, timestamp = h.BaseOffset, h.MaxTimestamp
	first := true
	_, err = records.Iterate(batch, 0, func(r *records.Record) error {
		if rt := h.BaseTimestamp + r.TimestampDelta; first || rt > timestamp {
			offset, timestamp, first = h.BaseOffset+int64(r.OffsetDelta), rt, false
		}
		return nil
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("%s at %d: %w", best.name(), pos, err)
	}
	return offset, timestamp, true, nil
}

func readBatchAt(seg *segment, pos int64, size int) ([]byte, error) {
	b := make([]byte, size)
	if _, err := seg.log.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
		return nil, storageErr("read", seg.name(), err)
	}
	return b, nil
}
