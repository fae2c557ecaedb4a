// Package records parses and validates Kafka record batches (magic 2).
//
// A record batch on the wire and on disk (all integers big-endian):
//
//	offset  size  field
//	     0     8  baseOffset            assigned by the broker; not covered by the CRC
//	     8     4  batchLength           bytes after this field
//	    12     4  partitionLeaderEpoch  not covered by the CRC
//	    16     1  magic                 2
//	    17     4  crc                   CRC-32C (Castagnoli) of bytes [21, end)
//	    21     2  attributes            bits 0-2 codec, 3 timestamp type,
//	                                    4 transactional, 5 control, 6 delete horizon
//	    23     4  lastOffsetDelta
//	    27     8  baseTimestamp
//	    35     8  maxTimestamp
//	    43     8  producerId
//	    51     2  producerEpoch
//	    53     4  baseSequence
//	    57     4  recordCount
//	    61     -  records (compressed as a whole when the codec is not none)
//
// These offsets are part of the wire format.
package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync/atomic"
)

// Wire-format constants.
const (
	HeaderSize    = 61 // bytes before the first record
	LogOverhead   = 12 // baseOffset + batchLength
	crcOffset     = 17
	attrOffset    = 21
	maxTsOffset   = 35
	MagicV2       = 2
	magicOffset   = 16
	lengthOffset  = 8
	epochOffset   = 12
	countOffset   = 57
	lastDeltaOffs = 23
)

// Attribute bits.
const (
	CodecMask          = 0x07
	TimestampTypeBit   = 0x08
	TransactionalBit   = 0x10
	ControlBit         = 0x20
	DeleteHorizonBit   = 0x40
	NoProducerID       = -1
	NoSequence         = -1
	TimestampCreate    = 0
	TimestampLogAppend = 1
)

// Codec is a compression codec as numbered in the attributes.
type Codec int8

const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by validation. Each wraps one meaning; the broker maps them
// to Kafka error codes.
var (
	ErrCorrupt      = errors.New("records: corrupt batch")     // CORRUPT_MESSAGE
	ErrInvalid      = errors.New("records: invalid batch")     // INVALID_RECORD
	ErrUnsupported  = errors.New("records: unsupported magic") // UNSUPPORTED_FOR_MESSAGE_FORMAT / CORRUPT_MESSAGE
	ErrShort        = errors.New("records: short batch")       // a truncated batch: end of log on disk
	ErrControlBatch = fmt.Errorf("%w: control batch from a client", ErrInvalid)
)

// Header is the fixed part of a record batch.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the total size of the batch in bytes.
func (h *Header) Size() int { return int(h.BatchLength) + LogOverhead }

// LastOffset is the offset of the last record of the batch.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec is the batch's compression codec.
func (h *Header) Codec() Codec { return Codec(h.Attributes & CodecMask) }

// IsTransactional reports the transactional attribute.
func (h *Header) IsTransactional() bool { return h.Attributes&TransactionalBit != 0 }

// IsControl reports the control attribute.
func (h *Header) IsControl() bool { return h.Attributes&ControlBit != 0 }

// TimestampType is TimestampCreate or TimestampLogAppend.
func (h *Header) TimestampType() int {
	if h.Attributes&TimestampTypeBit != 0 {
		return TimestampLogAppend
	}
	return TimestampCreate
}

// LastSequence is the sequence number of the last record, wrapping at
// MaxInt32 as Kafka does.
func (h *Header) LastSequence() int32 {
	if h.BaseSequence == NoSequence {
		return NoSequence
	}
	s := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if s > 1<<31-1 {
		s -= 1 << 31
	}
	return int32(s)
}

// PeekSize returns the total size of the batch that starts b, reading only the
// first 12 bytes, or ErrShort if b holds fewer than 12 bytes.
func PeekSize(b []byte) (int, error) {
	if len(b) < LogOverhead {
		return 0, ErrShort
	}
	l := int32(binary.BigEndian.Uint32(b[lengthOffset:]))
	if l < HeaderSize-LogOverhead {
		return 0, fmt.Errorf("%w: batch length %d below the header size", ErrCorrupt, l)
	}
	return int(l) + LogOverhead, nil
}

// ParseHeader decodes the header of the batch that starts b. It checks only
// that the header is present and the length is sane; it does not verify the
// CRC (see Validate).
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		if len(b) >= 17 && b[magicOffset] != MagicV2 {
			return h, fmt.Errorf("%w: magic %d", ErrUnsupported, int8(b[magicOffset]))
		}
		return h, ErrShort
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[0:]))
	h.BatchLength = int32(binary.BigEndian.Uint32(b[8:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[12:]))
	h.Magic = int8(b[16])
	if h.Magic != MagicV2 {
		return h, fmt.Errorf("%w: magic %d", ErrUnsupported, h.Magic)
	}
	h.CRC = binary.BigEndian.Uint32(b[17:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[21:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[23:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[27:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[35:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[43:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[51:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[53:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[57:]))
	if h.BatchLength < HeaderSize-LogOverhead {
		return h, fmt.Errorf("%w: batch length %d below the header size", ErrCorrupt, h.BatchLength)
	}
	return h, nil
}

// Checksum computes the CRC-32C that the batch b should carry.
// REQUIRES: len(b) >= HeaderSize.
func Checksum(b []byte) uint32 { return checksum(b[attrOffset:]) }

// Cold-memory CRC. A batch from a multi-MiB Produce frame is out of the
// cache when it is checked (the socket copy of the rest of the frame evicted
// it), and hash/crc32's loop waits on each load: 4 GB/s on this kind of
// machine against 17 GB/s from the cache, and 9-10 GB/s for loads that do not
// depend on each other. So a large buffer is summed a piece at a time, after
// one load per cache line crcAhead bytes further on starts bringing that part
// in; the CRC of the piece runs while those loads are in flight (7 GB/s cold,
// docs/benchmarks.md "Profiles"). Buffers below crcPrefetchMin are likely
// still in the cache and are summed in one call.
const (
	crcPiece       = 4 << 10
	crcAhead       = 16 << 10
	crcPrefetchMin = 64 << 10
	cacheLine      = 64
)

// crcTouched keeps the compiler from dropping the loads of checksum.
var crcTouched atomic.Uint32

func checksum(b []byte) uint32 {
	if len(b) < crcPrefetchMin {
		return crc32.Checksum(b, castagnoli)
	}
	var (
		sum uint32
		t   byte
	)
	for off := 0; off < len(b); off += crcPiece {
		end := min(off+crcPiece, len(b))
		for i := off + crcAhead; i < end+crcAhead && i < len(b); i += cacheLine {
			t += b[i]
		}
		sum = crc32.Update(sum, castagnoli, b[off:end])
	}
	crcTouched.Store(uint32(t))
	return sum
}

// cachedMax: above this a batch is not all in the cache even right after
// it was copied, and checksum's loads ahead pay again.
const cachedMax = 8 << 20

// cachedChecksum is checksum for bytes in the CPU cache.
func cachedChecksum(b []byte) uint32 {
	if len(b) > cachedMax {
		return checksum(b)
	}
	return crc32.Checksum(b, castagnoli)
}

// CheckCRC verifies the stored CRC of the batch that is exactly b.
func CheckCRC(b []byte) error {
	if len(b) < HeaderSize {
		return ErrShort
	}
	return checkCRCWith(b, Checksum(b))
}

// checkCRCWith compares got, the CRC of the batch b, with the one it carries.
func checkCRCWith(b []byte, got uint32) error {
	if want := binary.BigEndian.Uint32(b[crcOffset:]); got != want {
		return fmt.Errorf("%w: crc32c is %08x, batch says %08x", ErrCorrupt, got, want)
	}
	return nil
}

// Validate checks one batch from a producer, which must be exactly b: its
// length, magic, CRC-32C, that its record count agrees with its last offset
// delta, that its codec is known and, for uncompressed batches, that its
// records parse and fill the batch exactly. Control batches are refused
// (ErrControlBatch, which wraps ErrInvalid); the broker writes those itself
// (BuildEndTxnMarker).
func Validate(b []byte) (Header, error) { return validate(b, bodyCold) }

// ValidateWritten is Validate for a batch that was just read or written
// whole, so that its bytes are in the CPU cache: the CRC skips the loads
// ahead that checksum makes for cold memory, which cost a third of its
// time on cached bytes (BenchmarkChecksumCached). Append runs it right
// after the write(2) of the batches (ValidateDeferred).
func ValidateWritten(b []byte) (Header, error) { return validate(b, bodyCached) }

// How validate treats the CRC and the records of a batch.
const (
	bodySkip   = iota // neither (ValidateDeferred)
	bodyCold          // both, with the CRC's loads ahead
	bodyCached        // both, the bytes in the CPU cache
)

// ValidateDeferred is ValidateDeep for a caller that writes the batch out
// before checking its bytes: for an uncompressed batch it makes every check
// of Validate but the CRC and the record walk, and reports deferred; the
// caller must then run Validate (or ValidateWritten) on the batch before it
// keeps it. Those two
// read every byte of the batch, which a large Produce frame has pushed out
// of the cache; after the write(2) that copied it, they find it there
// (internal/log's Append, docs/benchmarks.md). Compressed batches are checked
// in full (deferred is false). Any error may differ from the one Validate
// would give first; the caller wanting Kafka's answer runs Validate then.
func ValidateDeferred(b []byte) (h Header, deferred bool, err error) {
	if h, err = validate(b, bodySkip); err != nil || h.Codec() == CodecNone {
		return h, err == nil, err
	}
	h, err = ValidateDeep(b, 0)
	return h, false, err
}

func validate(b []byte, body int) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		if errors.Is(err, ErrShort) {
			return h, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorrupt, len(b))
		}
		return h, err
	}
	if h.Size() != len(b) {
		return h, fmt.Errorf("%w: batch length %d does not match the %d bytes given", ErrCorrupt, h.Size(), len(b))
	}
	switch body {
	case bodyCold:
		if err := CheckCRC(b); err != nil {
			return h, err
		}
	case bodyCached:
		if err := checkCRCWith(b, cachedChecksum(b[attrOffset:])); err != nil {
			return h, err
		}
	}
	if h.NumRecords <= 0 {
		return h, fmt.Errorf("%w: record count %d", ErrInvalid, h.NumRecords)
	}
	if h.LastOffsetDelta != h.NumRecords-1 {
		return h, fmt.Errorf("%w: record count %d does not match last offset delta %d", ErrInvalid, h.NumRecords, h.LastOffsetDelta)
	}
	if c := h.Codec(); c > CodecZstd {
		return h, fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, int8(c))
	}
	if h.IsControl() {
		return h, ErrControlBatch
	}
	if body != bodySkip && h.Codec() == CodecNone {
		if err := walkRecords(b[HeaderSize:], int(h.NumRecords), nil); err != nil {
			return h, err
		}
	}
	return h, nil
}

// SetBaseOffset rewrites the base offset of the batch at b. The CRC does not
// cover it, so the producer's CRC stays valid (invariant 4).
func SetBaseOffset(b []byte, offset int64) { binary.BigEndian.PutUint64(b[0:], uint64(offset)) }

// SetPartitionLeaderEpoch rewrites the leader epoch, also outside the CRC.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[epochOffset:], uint32(epoch))
}

// SetLogAppendTime marks the batch at b as carrying log-append time ts, as
// Kafka does for message.timestamp.type=LogAppendTime: the timestamp type bit
// is set, maxTimestamp becomes ts and the CRC is recomputed.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[attrOffset:]) | TimestampTypeBit
	binary.BigEndian.PutUint16(b[attrOffset:], attrs)
	binary.BigEndian.PutUint64(b[maxTsOffset:], uint64(ts))
	binary.BigEndian.PutUint32(b[crcOffset:], Checksum(b))
}

// Split calls fn for each whole batch in b, in order, with its header. It
// stops at the first error from fn, or returns ErrShort / ErrCorrupt if b ends
// in a partial or malformed batch.
func Split(b []byte, fn func(h Header, batch []byte) error) error {
	for len(b) > 0 {
		n, err := PeekSize(b)
		if err != nil {
			return err
		}
		if n > len(b) {
			return ErrShort
		}
		h, err := ParseHeader(b[:n])
		if err != nil {
			return err
		}
		if err := fn(h, b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// CheckRecords walks the records of b, exactly one batch with header h, as
// Validate does when h says they are uncompressed (compressed batches pass).
// Recovery uses it on the active segment's unsynced tail, where a batch that
// was written ahead of its checks (ValidateDeferred) may have been left by a
// crash.
func CheckRecords(b []byte, h Header) error {
	if h.Codec() != CodecNone || len(b) < HeaderSize {
		return nil
	}
	return walkRecords(b[HeaderSize:], int(h.NumRecords), nil)
}
