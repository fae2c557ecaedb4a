package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/chronik-stream/chronik/internal/records"
)

// Transactions on a partition (Kafka's ProducerStateManager and
// TransactionIndex, reduced):
//
//   - A producer's first transactional batch with no transaction open
//     starts one at its base offset (producerEntry.txnFirst); a marker
//     (AppendMarker) ends it.
//   - The last stable offset (LSO) is the first offset of the oldest
//     transaction not yet ended by a marker below the high watermark,
//     capped at the high watermark: a transaction whose marker is written
//     but not yet durable is still unstable (invariant 2 for transactions).
//   - Aborted transactions (producer id, first offset, marker offset) are
//     kept in memory, in marker order, and written whole to the file
//     "aborted-txns" before every producer snapshot, covering the markers
//     below the snapshot's offset (which are fsynced by then). Recovery
//     loads that file, drops entries at or above the snapshot it replays
//     from, and re-derives the rest while replaying the log's tail, so the
//     list always equals what the surviving log implies, without reading
//     closed segments. Entries whose marker is below the log start are
//     dropped at the next snapshot.
//   - A client may not write control batches (records.ErrControlBatch), nor
//     a non-transactional batch while its producer has a transaction open
//     (ErrInvalidTxnState). The epoch rules are those of idempotence
//     (producer_state.go), and a marker with a newer epoch fences.
//
// The transaction coordinator (internal/txn) decides; this package only
// records what the markers say.

// AbortedTxn is one aborted transaction on this partition.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64 // first offset of the transaction's data here
	LastOffset  int64 // offset of the ABORT marker
}

// txnStart is a transaction an append opens.
type txnStart struct{ pid, first int64 }

// endedTxn is a transaction ended by a marker that may not be durable yet.
type endedTxn struct{ first, marker int64 }

// txnView is what readers need of the transactions. Guarded by vmu.
type txnView struct {
	ongoing map[int64]int64 // producer id -> first offset of its open transaction
	ending  []endedTxn      // ended by markers not known to be below the HW
	// aborted is ordered by LastOffset. Only appended to in place (a
	// reader's slice header never sees later entries); trimming replaces it.
	aborted []AbortedTxn
	maxSpan int64 // the largest LastOffset-FirstOffset in aborted
}

// abortedFile holds the aborted transactions below the newest snapshot.
const abortedFile = "aborted-txns"

// lsoLocked computes the LSO. REQUIRES: vmu held.
func (p *Partition) lsoLocked() int64 {
	lso := p.hw.offset
	for _, f := range p.txv.ongoing {
		lso = min(lso, f)
	}
	for _, e := range p.txv.ending {
		if e.marker >= p.hw.offset {
			lso = min(lso, e.first)
		}
	}
	// Retention and DeleteRecordsBefore may remove the start of an open
	// transaction (Kafka too); the LSO never goes below the log start.
	return max(lso, p.maint.logStart)
}

// LastStableOffset is the LSO: min(HW, first offset of the earliest
// transaction on this partition not yet ended by a marker below the HW).
// With no transactions it equals the HW.
func (p *Partition) LastStableOffset() int64 {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	return p.lsoLocked()
}

// AbortedTxns returns the aborted transactions with LastOffset >= from and
// FirstOffset < to, ordered by FirstOffset.
func (p *Partition) AbortedTxns(from, to int64) []AbortedTxn {
	p.vmu.RLock()
	ab, span := p.txv.aborted, p.txv.maxSpan
	p.vmu.RUnlock()
	// The entries we saw do not change (txnView.aborted).
	i := sort.Search(len(ab), func(i int) bool { return ab[i].LastOffset >= from })
	var out []AbortedTxn
	for _, a := range ab[i:] {
		if a.LastOffset-span >= to {
			break // this one and every later one start at or after to
		}
		if a.FirstOffset < to {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b AbortedTxn) int {
		switch {
		case a.FirstOffset < b.FirstOffset:
			return -1
		case a.FirstOffset > b.FirstOffset:
			return 1
		}
		return 0
	})
	return out
}

// ReadCommittedInto is ReadInto bounded by the LSO instead of the HW: only
// whole batches below the LSO (a transaction's first batch starts at the
// LSO, so a batch starting below it ends below it). It fills Aborted with
// AbortedTxns(offset, end of the records returned), which read_committed
// consumers use to drop aborted records.
func (p *Partition) ReadCommittedInto(buf []byte, offset int64, maxBytes int, minOneBatch bool) (ReadResult, error) {
	var (
		res   ReadResult
		stale = true
		err   error
	)
	for stale {
		res, stale, err = p.readView(buf, nil, offset, maxBytes, minOneBatch, true)
	}
	if err != nil || len(res.Records) == 0 {
		return res, err
	}
	lso := res.LastStableOffset
	end, last := 0, int64(-1)
	for end < len(res.Records) {
		h, err := records.ParseHeader(res.Records[end:])
		if err != nil || h.BaseOffset >= lso {
			break
		}
		end += h.Size()
		last = h.LastOffset()
	}
	res.Records = res.Records[:end:end]
	if end == 0 {
		res.Records = nil
		return res, nil
	}
	res.Aborted = p.AbortedTxns(offset, last+1)
	return res, nil
}

// AppendMarker appends a transaction marker control batch (COMMIT when
// commit, else ABORT) for producer pid at epoch and returns its offset. It
// ends the producer's ongoing transaction on this partition (if it has
// none, the marker is still written, as Kafka does). A marker with an epoch
// older than the producer's is ErrInvalidProducerEpoch; a newer epoch
// becomes the producer's (its next data batch must start at sequence 0).
//
// It does not wait for durability. WaitDurable's argument is the last
// offset that must be durable (it returns once the HW is above it), so a
// caller waits with WaitDurable(ctx, off) for the marker at off, as for an
// append's LastOffset; WaitDurable(ctx, off+1) would wait for a later
// append. The marker's transaction stays below the LSO until then.
func (p *Partition) AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32) (int64, error) {
	batch, err := records.BuildEndTxnMarker(pid, epoch, records.EndTxnMarker{Commit: commit, CoordinatorEpoch: coordinatorEpoch}, p.now().UnixMilli())
	if err != nil {
		return -1, err
	}
	h, err := records.ParseHeader(batch)
	if err != nil {
		return -1, err
	}
	cfg := p.cfg.Load()
	if cfg.LogAppendTime {
		records.SetLogAppendTime(batch, h.MaxTimestamp)
		h.Attributes |= records.TimestampTypeBit
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.usable(); err != nil {
		return -1, err
	}
	e := p.producers.m[pid]
	if e != nil && epoch < e.epoch {
		return -1, fmt.Errorf("%w: marker for producer %d epoch %d is older than %d", ErrInvalidProducerEpoch, pid, epoch, e.epoch)
	}
	p.vmu.RLock()
	off := p.leo.offset
	p.vmu.RUnlock()
	h.BaseOffset = off
	hdrs := []records.Header{h}
	if err := p.writeLocked(cfg, batch, hdrs, off, off+1, nil, func(*records.Header) {}); err != nil {
		return -1, err
	}
	first := p.producers.marker(pid, epoch)
	p.vmu.Lock()
	p.endTxnLocked(pid, first, off, commit)
	p.vmu.Unlock()
	return off, nil
}

// endTxnLocked records that pid's transaction starting at first (-1: none
// open) ended with the marker at off. REQUIRES: vmu held for writing.
func (p *Partition) endTxnLocked(pid, first, off int64, commit bool) {
	// Forget ended transactions whose markers are durable now.
	keep := p.txv.ending[:0]
	for _, e := range p.txv.ending {
		if e.marker >= p.hw.offset {
			keep = append(keep, e)
		}
	}
	p.txv.ending = keep
	if first < 0 {
		return
	}
	delete(p.txv.ongoing, pid)
	p.txv.ending = append(p.txv.ending, endedTxn{first: first, marker: off})
	if !commit {
		p.txv.addAborted(AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: off})
	}
}

// addAborted appends a, whose marker is after every listed one.
func (v *txnView) addAborted(a AbortedTxn) {
	v.aborted = append(v.aborted, a)
	v.maxSpan = max(v.maxSpan, a.LastOffset-a.FirstOffset)
}

// trimAborted drops the entries whose marker is below logStart (their
// records are gone). REQUIRES: vmu held for writing.
func (v *txnView) trimAborted(logStart int64) {
	i := sort.Search(len(v.aborted), func(i int) bool { return v.aborted[i].LastOffset >= logStart })
	if i > 0 {
		v.aborted = slices.Clone(v.aborted[i:]) // readers may hold the old array
	}
}

// Aborted-transactions file (big-endian):
//
//	version int16 (1) | crc uint32 (CRC-32C of the rest) | count int32 |
//	count × ( producerId int64 | firstOffset int64 | lastOffset int64 )
const abortedVersion = 1

func encodeAborted(ab []AbortedTxn) []byte {
	b := make([]byte, 10, 10+24*len(ab))
	binary.BigEndian.PutUint16(b, abortedVersion)
	binary.BigEndian.PutUint32(b[6:], uint32(len(ab)))
	for _, a := range ab {
		b = binary.BigEndian.AppendUint64(b, uint64(a.ProducerID))
		b = binary.BigEndian.AppendUint64(b, uint64(a.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(a.LastOffset))
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b
}

var errBadAborted = errors.New("log: bad aborted-transactions file")

func decodeAborted(b []byte) ([]AbortedTxn, error) {
	if len(b) < 10 || binary.BigEndian.Uint16(b) != abortedVersion {
		return nil, errBadAborted
	}
	if crc32.Checksum(b[6:], castagnoli) != binary.BigEndian.Uint32(b[2:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadAborted)
	}
	n := int(binary.BigEndian.Uint32(b[6:]))
	b = b[10:]
	if n < 0 || len(b) != 24*n {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", errBadAborted, n, len(b))
	}
	out := make([]AbortedTxn, n)
	for i := range out {
		out[i] = AbortedTxn{
			ProducerID:  int64(binary.BigEndian.Uint64(b[0:])),
			FirstOffset: int64(binary.BigEndian.Uint64(b[8:])),
			LastOffset:  int64(binary.BigEndian.Uint64(b[16:])),
		}
		b = b[24:]
	}
	return out, nil
}

// writeAborted persists the aborted transactions with markers below
// offset (and at or above the log start, dropping the others from memory
// too). It runs before every producer snapshot at offset.
// REQUIRES: p.mu held; everything below offset fsynced.
func (p *Partition) writeAborted(offset int64) error {
	p.vmu.Lock()
	p.txv.trimAborted(p.maint.logStart)
	ab := p.txv.aborted
	p.vmu.Unlock()
	n := sort.Search(len(ab), func(i int) bool { return ab[i].LastOffset >= offset })
	keep := ab[:n]
	if len(keep) == 0 {
		if _, _, err := p.fs.Stat(filepath.Join(p.dir, abortedFile)); errors.Is(err, os.ErrNotExist) {
			return nil // nothing to write, nothing to replace
		}
	}
	return writeFileAtomic(p.fs, p.dir, abortedFile, encodeAborted(keep))
}

// loadAborted returns the persisted aborted transactions with markers below
// from. A missing file means none (logs from before transactions); a
// damaged one is rebuilt by scanning the log below from.
func (p *Partition) loadAborted(from int64) ([]AbortedTxn, error) {
	b, err := readFile(p.fs, filepath.Join(p.dir, abortedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var ab []AbortedTxn
	if err == nil {
		ab, err = decodeAborted(b)
	}
	if err != nil {
		p.logger.Warn("rebuilding the aborted-transactions list from the log", "err", err)
		return p.scanAborted(from)
	}
	i := sort.Search(len(ab), func(i int) bool { return ab[i].LastOffset >= from })
	return ab[:i], nil
}

// scanAborted derives the aborted transactions below from by reading every
// batch header of the log (slow; only when the file is damaged).
func (p *Partition) scanAborted(from int64) ([]AbortedTxn, error) {
	st := newProducerState()
	var out []AbortedTxn
	for _, s := range p.segs {
		if s.base >= from {
			break
		}
		r := newBatchReader(s.log, 0, s.size.Load())
		for {
			b, _, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			h, err := records.ParseHeader(b)
			if err != nil {
				return nil, err
			}
			if h.BaseOffset >= from {
				break
			}
			if a, ok, err := st.replayTxn(&h, b); err != nil {
				return nil, err
			} else if ok {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// replayTxn applies a batch read back from the log to the producer state,
// markers included, and returns the aborted transaction a marker ended.
func (s *producerState) replayTxn(h *records.Header, b []byte) (AbortedTxn, bool, error) {
	if h.ProducerID < 0 {
		return AbortedTxn{}, false, nil
	}
	if !h.IsControl() {
		s.replay(h)
		return AbortedTxn{}, false, nil
	}
	typ, err := records.ParseControlType(b)
	if err != nil {
		return AbortedTxn{}, false, err
	}
	if typ != records.ControlAbort && typ != records.ControlCommit {
		return AbortedTxn{}, false, nil // not a transaction marker (we write none)
	}
	first := s.marker(h.ProducerID, h.ProducerEpoch)
	if typ == records.ControlAbort && first >= 0 {
		return AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset}, true, nil
	}
	return AbortedTxn{}, false, nil
}

// marker applies a marker of pid at epoch to the producer state and
// returns the first offset of the transaction it ended, -1 if none.
func (s *producerState) marker(pid int64, epoch int16) int64 {
	e := s.m[pid]
	if e == nil {
		s.m[pid] = &producerEntry{epoch: epoch}
		return -1
	}
	if epoch > e.epoch {
		e.epoch, e.n = epoch, 0
	}
	if !e.txnOpen {
		return -1
	}
	e.txnOpen = false
	return e.txnFirst
}

// abortedSet answers, for the cleaner, whether a data batch belongs to an
// aborted transaction: a producer has one transaction at a time, so a
// transactional batch of pid at offset o is aborted if some aborted
// transaction of pid has FirstOffset <= o < LastOffset.
type abortedSet map[int64][]AbortedTxn // producer id -> its entries, by FirstOffset

func newAbortedSet(ab []AbortedTxn) abortedSet {
	s := abortedSet{}
	for _, a := range ab { // ab is ordered by FirstOffset
		s[a.ProducerID] = append(s[a.ProducerID], a)
	}
	return s
}

func (s abortedSet) has(h *records.Header) bool {
	if !h.IsTransactional() || h.IsControl() || h.ProducerID < 0 {
		return false
	}
	ab := s[h.ProducerID]
	i := sort.Search(len(ab), func(i int) bool { return ab[i].FirstOffset > h.BaseOffset })
	return i > 0 && h.BaseOffset < ab[i-1].LastOffset
}
