package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Iterate calls fn for each record of the batch that is exactly batch, after
// decompressing it with at most limit bytes of output (limit <= 0 means
// DefaultDecompressLimit). It checks that the batch holds exactly
// NumRecords records whose offset deltas increase and stay within
// LastOffsetDelta, and stops at the first error from fn, which it returns as
// is. Gaps between offset deltas are allowed: Iterate reads stored batches,
// and the log cleaner removes records from a batch while the rest keep their
// offsets (and the batch its last offset delta), as Kafka's cleaner does.
// Batches from producers are checked for deltas 0..n-1 by Validate and
// ValidateDeep.
//
// The *Record and its Headers slice are reused between calls: copy what must
// outlive fn. Key, Value and header values alias batch, or for a compressed
// batch a fresh buffer that nothing else uses, so they stay valid.
//
// Iterate does not verify the CRC (see Validate and CheckCRC). Errors are
// ErrCorrupt or ErrInvalid, like Validate's.
func Iterate(batch []byte, limit int, fn func(r *Record) error) (Header, error) {
	h, raw, err := recordSection(batch, limit)
	if err != nil {
		return h, err
	}
	return h, iterRecords(raw, int(h.NumRecords), h.LastOffsetDelta, fn)
}

// RecordsOf parses all records of the batch that is exactly batch,
// compressed or not, with the checks of Iterate and DefaultDecompressLimit.
// The records' byte slices alias batch or the decompressed section.
func RecordsOf(batch []byte) (Header, []Record, error) {
	h, raw, err := recordSection(batch, DefaultDecompressLimit)
	if err != nil {
		return h, nil, err
	}
	// A record takes at least 7 bytes, so a lying count allocates nothing.
	out := make([]Record, 0, min(int(h.NumRecords), len(raw)/7+1))
	err = iterRecords(raw, int(h.NumRecords), h.LastOffsetDelta, func(r *Record) error {
		out = append(out, *r)
		r.Headers = nil // the copy owns them; the next record gets its own
		return nil
	})
	if err != nil {
		return h, nil, err
	}
	return h, out, nil
}

// ValidateDeep is Validate plus, for a compressed batch, what Kafka's
// LogValidator checks inside it: the section decompresses (to at most limit
// bytes; limit <= 0 means DefaultDecompressLimit) and holds exactly
// NumRecords well-formed records with offset deltas 0..n-1.
func ValidateDeep(batch []byte, limit int) (Header, error) {
	h, err := Validate(batch)
	if err != nil || h.Codec() == CodecNone {
		return h, err // Validate walked an uncompressed batch already
	}
	raw, err := Decompress(h.Codec(), batch[HeaderSize:], limit)
	if err != nil {
		return h, err
	}
	return h, walkRecords(raw, int(h.NumRecords), nil)
}

// recordSection checks the framing of the whole batch and returns its
// uncompressed record section.
func recordSection(batch []byte, limit int) (Header, []byte, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		if errors.Is(err, ErrShort) {
			return h, nil, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorrupt, len(batch))
		}
		return h, nil, err
	}
	if h.Size() != len(batch) {
		return h, nil, fmt.Errorf("%w: batch length %d does not match the %d bytes given", ErrCorrupt, h.Size(), len(batch))
	}
	if h.NumRecords < 0 {
		return h, nil, fmt.Errorf("%w: record count %d", ErrCorrupt, h.NumRecords)
	}
	raw := batch[HeaderSize:]
	c := h.Codec()
	if c > CodecZstd {
		return h, nil, fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, int8(c))
	}
	if c == CodecNone || (h.NumRecords == 0 && len(raw) == 0) {
		return h, raw, nil // an empty batch (left by compaction) has no payload
	}
	raw, err = Decompress(c, raw, limit)
	return h, raw, err
}

// iterRecords is walkRecords with a callback that can stop the walk, for
// stored batches: offset deltas must increase and not pass lastDelta, but
// may leave gaps (records removed by compaction).
func iterRecords(b []byte, count int, lastDelta int32, fn func(*Record) error) error {
	var r Record
	prev := int32(-1)
	for i := 0; i < count; i++ {
		l, n := varint(b)
		if n <= 0 || l < 0 || int64(len(b)-n) < l {
			return fmt.Errorf("%w: record %d: bad length", ErrCorrupt, i)
		}
		rec := b[n : n+int(l)]
		b = b[n+int(l):]
		if err := parseRecord(rec, &r, fn != nil); err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrCorrupt, i, err)
		}
		if r.OffsetDelta <= prev || r.OffsetDelta > lastDelta {
			return fmt.Errorf("%w: record %d has offset delta %d (previous %d, last offset delta %d)", ErrInvalid, i, r.OffsetDelta, prev, lastDelta)
		}
		prev = r.OffsetDelta
		if fn != nil {
			if err := fn(&r); err != nil {
				return err
			}
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(b))
	}
	return nil
}

// BuildOptions describes the batch Build writes.
//
// Every field is written as given; in particular the zero value has
// ProducerID 0, ProducerEpoch 0 and BaseSequence 0, which is a valid
// idempotent producer. A batch without a producer needs
// NoProducerID, -1 and NoSequence.
type BuildOptions struct {
	BaseOffset int64
	Codec      Codec
	// Level is the compression level (see Compress); 0 here means the
	// codec's default, like -1.
	Level                int
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	Transactional        bool
	Control              bool
	BaseTimestamp        int64
	LogAppendTime        bool // the timestamp type; MaxTimestamp is then BaseTimestamp
	PartitionLeaderEpoch int32
}

// Build encodes a magic 2 batch of recs: it computes the batch length, the
// attributes (codec, timestamp type, transactional, control), the record
// count, the last offset delta, the max timestamp and the CRC-32C, and
// compresses the records with opts.Codec.
//
// The records' OffsetDelta and TimestampDelta are written as given: the
// caller numbers records 0..n-1 (anything else fails Validate) and sets
// their timestamps relative to opts.BaseTimestamp. Record.Attributes is
// written as given too (Kafka writes 0).
//
// The last offset delta is that of the last record; a batch of no records
// gets -1, so that it occupies no offsets. The max timestamp is the largest
// BaseTimestamp+TimestampDelta, -1 (no timestamp) for no records, or
// BaseTimestamp with LogAppendTime.
func Build(opts BuildOptions, recs []Record) ([]byte, error) {
	if opts.Codec < CodecNone || opts.Codec > CodecZstd {
		return nil, fmt.Errorf("records: unknown compression codec %d", int8(opts.Codec))
	}
	if len(recs) > math.MaxInt32 {
		return nil, fmt.Errorf("records: %d records do not fit a batch", len(recs))
	}
	size := 0
	for i := range recs {
		n := recordBodySize(&recs[i])
		size += n + varintLen(int64(n))
	}
	var b []byte
	if opts.Codec == CodecNone {
		b = make([]byte, HeaderSize, HeaderSize+size)
		for i := range recs {
			b = AppendRecord(b, &recs[i])
		}
	} else {
		raw := make([]byte, 0, size)
		for i := range recs {
			raw = AppendRecord(raw, &recs[i])
		}
		level := opts.Level
		if level == 0 {
			level = -1
		}
		// A first guess at the compressed size; appending grows it.
		b = make([]byte, HeaderSize, HeaderSize+size/3+64)
		var err error
		if b, err = appendCompressed(b, opts.Codec, raw, level); err != nil {
			return nil, err
		}
	}
	if len(b)-LogOverhead > math.MaxInt32 {
		return nil, fmt.Errorf("records: a batch of %d bytes is too large", len(b))
	}

	attrs := uint16(opts.Codec)
	if opts.LogAppendTime {
		attrs |= TimestampTypeBit
	}
	if opts.Transactional {
		attrs |= TransactionalBit
	}
	if opts.Control {
		attrs |= ControlBit
	}
	lastDelta := int32(-1)
	if len(recs) > 0 {
		lastDelta = recs[len(recs)-1].OffsetDelta
	}
	maxTs := int64(-1) // as Kafka's MemoryRecordsBuilder: NO_TIMESTAMP, then the max
	for i := range recs {
		maxTs = max(maxTs, opts.BaseTimestamp+recs[i].TimestampDelta)
	}
	if opts.LogAppendTime {
		maxTs = opts.BaseTimestamp
	}

	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(opts.BaseOffset))
	be.PutUint32(b[lengthOffset:], uint32(len(b)-LogOverhead))
	be.PutUint32(b[epochOffset:], uint32(opts.PartitionLeaderEpoch))
	b[magicOffset] = MagicV2
	be.PutUint16(b[attrOffset:], attrs)
	be.PutUint32(b[lastDeltaOffs:], uint32(lastDelta))
	be.PutUint64(b[27:], uint64(opts.BaseTimestamp))
	be.PutUint64(b[maxTsOffset:], uint64(maxTs))
	be.PutUint64(b[43:], uint64(opts.ProducerID))
	be.PutUint16(b[51:], uint16(opts.ProducerEpoch))
	be.PutUint32(b[53:], uint32(opts.BaseSequence))
	be.PutUint32(b[countOffset:], uint32(len(recs)))
	be.PutUint32(b[crcOffset:], Checksum(b))
	return b, nil
}

// AppendRecord appends the wire encoding of r to dst: its varint length,
// then attributes, timestamp delta, offset delta, key, value and headers. A
// nil Key, Value or header value is written as null.
func AppendRecord(dst []byte, r *Record) []byte {
	dst = binary.AppendVarint(dst, int64(recordBodySize(r)))
	dst = append(dst, byte(r.Attributes))
	dst = binary.AppendVarint(dst, r.TimestampDelta)
	dst = binary.AppendVarint(dst, int64(r.OffsetDelta))
	dst = appendNullableBytes(dst, r.Key)
	dst = appendNullableBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullableBytes(dst, h.Value)
	}
	return dst
}

func appendNullableBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// recordBodySize is the encoded size of r after its length prefix.
func recordBodySize(r *Record) int {
	n := 1 + varintLen(r.TimestampDelta) + varintLen(int64(r.OffsetDelta)) +
		nullableLen(r.Key) + nullableLen(r.Value) + varintLen(int64(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		n += varintLen(int64(len(h.Key))) + len(h.Key) + nullableLen(h.Value)
	}
	return n
}

func nullableLen(b []byte) int {
	if b == nil {
		return 1 // varint -1
	}
	return varintLen(int64(len(b))) + len(b)
}

// varintLen is the size of v as a zig-zag varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
