package records

// Legacy message sets: magic 0 and 1 (Kafka's LegacyRecord and
// AbstractLegacyRecordBatch), spoken by Produce v0-v2 and Fetch v0-v3. We
// store only magic 2, so a legacy produce is converted to one batch on the
// way in (ConvertLegacy) and a legacy fetch is down-converted on the way out
// (DownConvert).
//
// A message set is a sequence of entries, each holding one message (all
// integers big-endian):
//
//	offset  size  field
//	     0     8  offset           of a compressed wrapper: that of its last inner message
//	     8     4  messageSize      bytes after this field
//	    12     4  crc              CRC-32 (IEEE, not Castagnoli) of bytes [16, end)
//	    16     1  magic            0 or 1 (the same position as a batch's magic)
//	    17     1  attributes       bits 0-2 codec (none, gzip, snappy, lz4),
//	                               bit 3 timestamp type (magic 1 only)
//	    18     8  timestamp        magic 1 only; -1 is none
//	     -     4  keyLength        -1 is null
//	     -     -  key
//	     -     4  valueLength      -1 is null
//	     -     -  value
//
// A compressed message (a "wrapper") carries in its value a whole message
// set of uncompressed messages, compressed with its codec. Inner offsets are
// absolute for magic 0 and relative (0..n-1) for magic 1, where the
// wrapper's offset is that of the last inner message. A magic 1 wrapper with
// the LogAppendTime type gives every inner message its own timestamp.
//
// LZ4 with magic 0: Kafka before 0.10 (KafkaLZ4BlockOutputStream) computed
// the frame descriptor checksum over the frame's magic number too. Kafka
// still writes it that way for magic 0 and never checks it when reading
// magic 0; we do the same.
//
// These offsets are part of the wire format.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Legacy wire-format constants.
const (
	MagicV0 = 0
	MagicV1 = 1

	legacyOverheadV0 = 14 // crc, magic, attributes, key and value lengths
	legacyOverheadV1 = 22 // plus the timestamp
	legacyTsTypeBit  = 0x08
)

// ErrUnsupportedCodec is returned for a codec the format in use cannot
// carry: zstd in a legacy message set, or a zstd batch that a legacy fetch
// would have to down-convert (Kafka's UNSUPPORTED_COMPRESSION_TYPE).
var ErrUnsupportedCodec = errors.New("records: unsupported compression type")

// CodecProducer, given as the target codec to ConvertLegacy, keeps the
// codec the producer used (compression.type=producer).
const CodecProducer Codec = -1

// Magic returns the magic byte of the batch or message that starts b, which
// sits at the same position in every format, or false if b is too short.
func Magic(b []byte) (int8, bool) {
	if len(b) <= magicOffset {
		return 0, false
	}
	return int8(b[magicOffset]), true
}

// legacyMessage is one parsed message. key and value alias the input or a
// decompressed buffer; nil is null.
type legacyMessage struct {
	offset    int64
	magic     int8
	attrs     int8
	timestamp int64 // -1 for magic 0
	key       []byte
	value     []byte
}

func (m *legacyMessage) codec() Codec { return Codec(m.attrs & CodecMask) }

func (m *legacyMessage) logAppendTime() bool {
	return m.magic > MagicV0 && m.attrs&legacyTsTypeBit != 0
}

func legacyOverhead(magic int8) int {
	if magic == MagicV0 {
		return legacyOverheadV0
	}
	return legacyOverheadV1
}

// nextLegacy parses the entry at the start of b, checking its size, magic
// (0 or 1), CRC-32 and that its key and value fill it exactly. It returns
// the rest of b.
func nextLegacy(b []byte) (legacyMessage, []byte, error) {
	var m legacyMessage
	if len(b) < LogOverhead {
		return m, nil, fmt.Errorf("%w: %d bytes after the last message", ErrCorrupt, len(b))
	}
	m.offset = int64(binary.BigEndian.Uint64(b))
	size := int32(binary.BigEndian.Uint32(b[8:]))
	if size < legacyOverheadV0 {
		return m, nil, fmt.Errorf("%w: message size %d is less than the minimum record overhead (%d)", ErrCorrupt, size, legacyOverheadV0)
	}
	if int64(size) > int64(len(b)-LogOverhead) {
		return m, nil, fmt.Errorf("%w: message of %d bytes with only %d left", ErrCorrupt, size, len(b)-LogOverhead)
	}
	msg := b[LogOverhead : LogOverhead+int(size)]
	rest := b[LogOverhead+int(size):]
	m.magic = int8(msg[4])
	switch m.magic {
	case MagicV0, MagicV1:
	case MagicV2:
		return m, nil, fmt.Errorf("%w: a magic 2 batch in a legacy message set", ErrInvalid)
	default:
		return m, nil, fmt.Errorf("%w: invalid magic %d", ErrCorrupt, m.magic)
	}
	if got, want := crc32.ChecksumIEEE(msg[4:]), binary.BigEndian.Uint32(msg); got != want {
		return m, nil, fmt.Errorf("%w: record is corrupt (stored crc = %d, computed crc = %d)", ErrCorrupt, want, got)
	}
	m.attrs = int8(msg[5])
	p := 6
	m.timestamp = -1
	if m.magic == MagicV1 {
		if len(msg) < legacyOverheadV1 {
			return m, nil, fmt.Errorf("%w: magic 1 message of %d bytes", ErrCorrupt, len(msg))
		}
		m.timestamp = int64(binary.BigEndian.Uint64(msg[6:]))
		p = 14
	}
	var err error
	if m.key, p, err = legacyBytes(msg, p); err != nil {
		return m, nil, err
	}
	if m.value, p, err = legacyBytes(msg, p); err != nil {
		return m, nil, err
	}
	if p != len(msg) {
		return m, nil, fmt.Errorf("%w: %d bytes after the value of a message", ErrCorrupt, len(msg)-p)
	}
	return m, rest, nil
}

// legacyBytes reads an int32-length-prefixed byte string at b[p:].
func legacyBytes(b []byte, p int) ([]byte, int, error) {
	if len(b)-p < 4 {
		return nil, 0, fmt.Errorf("%w: truncated message", ErrCorrupt)
	}
	l := int32(binary.BigEndian.Uint32(b[p:]))
	p += 4
	if l == -1 {
		return nil, p, nil
	}
	if l < -1 || int64(l) > int64(len(b)-p) {
		return nil, 0, fmt.Errorf("%w: bad length %d in a message", ErrCorrupt, l)
	}
	return b[p : p+int(l) : p+int(l)], p + int(l), nil
}

// walkLegacy applies Kafka's checks for a legacy message set from a producer
// (UnifiedLog.analyzeAndValidateRecords, LogValidator and the deep iterator
// of AbstractLegacyRecordBatch) and calls fn with each message, inner
// messages of a wrapper in place of the wrapper, timestamps resolved. It
// returns the set's magic and codec.
//
// The rules: every entry is whole and passes its CRC (ErrCorrupt); all have
// the first one's magic (ErrInvalid); a compressed wrapper must be the only
// entry and hold at least one message, none of them compressed, all of the
// wrapper's magic (ErrInvalid), each with a valid CRC (ErrCorrupt); a magic
// 1 wrapper's offset is 0 or at least its last inner offset (ErrInvalid).
// zstd is ErrUnsupportedCodec, codecs 5-7 ErrCorrupt. The decompressed set
// is at most limit bytes (limit <= 0: DefaultDecompressLimit).
func walkLegacy(set []byte, limit int, fn func(m *legacyMessage) error) (int8, Codec, error) {
	if len(set) == 0 {
		return 0, 0, fmt.Errorf("%w: empty message set", ErrInvalid)
	}
	first, rest, err := nextLegacy(set)
	if err != nil {
		return 0, 0, err
	}
	magic, codec := first.magic, first.codec()
	if err := checkLegacyCodec(codec); err != nil {
		return 0, 0, err
	}
	if codec != CodecNone {
		if len(rest) > 0 {
			return 0, 0, fmt.Errorf("%w: compressed outer record has more than one batch", ErrInvalid)
		}
		return magic, codec, walkWrapper(&first, limit, fn)
	}
	m := first
	for {
		if err := fn(&m); err != nil {
			return 0, 0, err
		}
		if len(rest) == 0 {
			return magic, codec, nil
		}
		if m, rest, err = nextLegacy(rest); err != nil {
			return 0, 0, err
		}
		if m.magic != magic {
			return 0, 0, fmt.Errorf("%w: batch magic %d is not the same as the first batch's magic byte %d", ErrInvalid, m.magic, magic)
		}
		if m.codec() != CodecNone {
			if err := checkLegacyCodec(m.codec()); err != nil {
				return 0, 0, err
			}
			return 0, 0, fmt.Errorf("%w: compressed outer record has more than one batch", ErrInvalid)
		}
	}
}

func checkLegacyCodec(c Codec) error {
	switch {
	case c == CodecZstd:
		return fmt.Errorf("%w: zstd in a magic 0 or 1 message set", ErrUnsupportedCodec)
	case c > CodecZstd:
		return fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, int8(c))
	}
	return nil
}

// walkWrapper calls fn for each inner message of the compressed wrapper w.
func walkWrapper(w *legacyMessage, limit int, fn func(m *legacyMessage) error) error {
	if w.value == nil {
		return fmt.Errorf("%w: found invalid compressed record set with null value (magic = %d)", ErrInvalid, w.magic)
	}
	z := w.value
	if w.codec() == CodecLZ4 && w.magic == MagicV0 {
		z = fixLZ4Checksum(z)
	}
	raw, err := Decompress(w.codec(), z, limit)
	if err != nil {
		return err
	}
	n := 0
	var last int64
	for rest := raw; len(rest) > 0; n++ {
		var m legacyMessage
		if m, rest, err = nextLegacy(rest); err != nil {
			return err
		}
		if m.magic != w.magic {
			return fmt.Errorf("%w: compressed message magic %d does not match wrapper magic %d", ErrInvalid, m.magic, w.magic)
		}
		if m.codec() != CodecNone {
			return fmt.Errorf("%w: inner messages must not be compressed", ErrInvalid)
		}
		if w.logAppendTime() {
			m.timestamp = w.timestamp
		}
		last = m.offset
		if err := fn(&m); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: found invalid compressed record set with no inner records", ErrInvalid)
	}
	if w.magic == MagicV1 && w.offset != 0 && w.offset < last {
		return fmt.Errorf("%w: found invalid wrapper offset in compressed v1 message set, wrapper offset '%d' is less than the last inner message offset '%d' and it is not zero", ErrInvalid, w.offset, last)
	}
	return nil
}

// ConvertLegacy converts a magic 0 or 1 message set from a producer
// (Produce v0-v2) into one magic 2 batch, as Kafka's LogValidator does when
// the log's format is v2: keys, values and magic 1 timestamps are kept
// (magic 0 has none: -1), offsets become deltas 0..n-1, there is no producer
// id and the timestamp type is CreateTime (the log applies LogAppendTime).
// The batch is compressed with codec at level (see Compress), or with the
// set's own codec when codec is CodecProducer. limit bounds decompression
// (<= 0: DefaultDecompressLimit). The checks are walkLegacy's; errors wrap
// ErrCorrupt, ErrInvalid or ErrUnsupportedCodec.
func ConvertLegacy(set []byte, codec Codec, level, limit int) ([]byte, error) {
	if codec != CodecProducer && (codec < CodecNone || codec > CodecZstd) {
		return nil, fmt.Errorf("records: unknown compression codec %d", int8(codec))
	}
	// Records are appended after the header space; a v2 record is rarely
	// larger than the legacy entry it comes from.
	raw := make([]byte, HeaderSize, HeaderSize+min(len(set), 1<<20))
	var n int32
	var base, maxTs int64 = -1, -1
	_, source, err := walkLegacy(set, limit, func(m *legacyMessage) error {
		if n == math.MaxInt32 {
			return fmt.Errorf("%w: too many messages", ErrInvalid)
		}
		if n == 0 {
			base = m.timestamp
		}
		maxTs = max(maxTs, m.timestamp)
		r := Record{TimestampDelta: m.timestamp - base, OffsetDelta: n, Key: m.key, Value: m.value}
		raw = AppendRecord(raw, &r)
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if codec == CodecProducer {
		codec = source
	}
	b := raw
	if codec != CodecNone {
		b = make([]byte, HeaderSize, HeaderSize+len(raw)/2+64)
		if b, err = appendCompressed(b, codec, raw[HeaderSize:], level); err != nil {
			return nil, err
		}
	}
	if len(b)-LogOverhead > math.MaxInt32 {
		return nil, fmt.Errorf("%w: converted batch of %d bytes is too large", ErrInvalid, len(b))
	}
	putBatchHeader(b, codec, n, base, maxTs)
	return b, nil
}

// putBatchHeader fills in the header of a magic 2 batch without a producer
// whose records follow it in b. REQUIRES: len(b) >= HeaderSize.
func putBatchHeader(b []byte, codec Codec, n int32, baseTs, maxTs int64) {
	be := binary.BigEndian
	be.PutUint64(b[0:], 0)
	be.PutUint32(b[lengthOffset:], uint32(len(b)-LogOverhead))
	be.PutUint32(b[epochOffset:], 0)
	b[magicOffset] = MagicV2
	be.PutUint16(b[attrOffset:], uint16(codec))
	be.PutUint32(b[lastDeltaOffs:], uint32(n-1))
	be.PutUint64(b[27:], uint64(baseTs))
	be.PutUint64(b[maxTsOffset:], uint64(maxTs))
	be.PutUint64(b[43:], math.MaxUint64) // producer id -1
	be.PutUint16(b[51:], math.MaxUint16) // producer epoch -1
	be.PutUint32(b[53:], math.MaxUint32) // base sequence -1
	be.PutUint32(b[countOffset:], uint32(n))
	be.PutUint32(b[crcOffset:], Checksum(b))
}

// DownConvert appends to dst the magic 2 batches of src (whole batches as
// the log returns them; a partial batch at the end is ignored) as a message
// set of magic toMagic (0 or 1), as Kafka's RecordsUtil.downConvert does
// for Fetch v0-v3:
//
//   - control batches are dropped, and headers (legacy messages have none);
//   - an uncompressed batch becomes one message per record, leaving out
//     records below fetchOffset (legacy clients expect the first message at
//     or after the offset they asked for);
//   - a compressed batch becomes one wrapper of the same codec holding all
//     its records (the client skips those below its offset); lz4 with magic
//     0 gets the old broken descriptor checksum;
//   - magic 1 keeps timestamps and the timestamp type: a LogAppendTime batch
//     gives every message its max timestamp. Magic 0 has no timestamps.
//
// Like Kafka's lazy down-conversion, the first batch that yields messages
// is always converted whole; after it, messages are added while the output
// stays within budget bytes (Kafka's budget is the size read from the log),
// and conversion stops at the first that does not fit.
//
// A zstd batch cannot be down-converted: ErrUnsupportedCodec if it comes
// first, otherwise conversion stops before it. limit bounds the
// decompression of each batch. Damaged batches are ErrCorrupt.
func DownConvert(dst, src []byte, toMagic int8, fetchOffset int64, budget, limit int) ([]byte, error) {
	if toMagic != MagicV0 && toMagic != MagicV1 {
		return dst, fmt.Errorf("records: cannot down-convert to magic %d", toMagic)
	}
	start := len(dst)
	for len(src) > 0 {
		size, err := PeekSize(src)
		if err != nil || size > len(src) {
			if errors.Is(err, ErrCorrupt) {
				return dst, err
			}
			break // a partial batch at the end of a read
		}
		batch := src[:size]
		src = src[size:]
		h, err := ParseHeader(batch)
		if err != nil {
			return dst, err
		}
		if h.IsControl() || h.NumRecords == 0 {
			continue
		}
		if h.Codec() == CodecZstd {
			if len(dst) == start {
				return dst, fmt.Errorf("%w: down-conversion of zstandard-compressed batches is not supported", ErrUnsupportedCodec)
			}
			break
		}
		whole := len(dst) == start // the first batch with output goes whole
		var full bool
		if h.Codec() == CodecNone {
			dst, full, err = downConvertPlain(dst, batch, &h, toMagic, fetchOffset, start, budget, whole, limit)
		} else {
			dst, full, err = downConvertWrapped(dst, batch, &h, toMagic, start, budget, whole, limit)
		}
		if err != nil || full {
			return dst, err
		}
	}
	return dst, nil
}

// recordTimestamp is the timestamp a record of batch h carries.
func recordTimestamp(h *Header, r *Record) int64 {
	if h.TimestampType() == TimestampLogAppend {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + r.TimestampDelta
}

// legacyAttrs are the attributes of a message of batch h with codec c.
func legacyAttrs(h *Header, magic int8, c Codec) int8 {
	a := int8(c)
	if magic > MagicV0 && h.TimestampType() == TimestampLogAppend {
		a |= legacyTsTypeBit
	}
	return a
}

func downConvertPlain(dst, batch []byte, h *Header, magic int8, fetchOffset int64, start, budget int, whole bool, limit int) ([]byte, bool, error) {
	attrs := legacyAttrs(h, magic, CodecNone)
	full := false
	out := dst
	_, err := Iterate(batch, limit, func(r *Record) error {
		off := h.BaseOffset + int64(r.OffsetDelta)
		if off < fetchOffset {
			return nil
		}
		size := LogOverhead + legacyOverhead(magic) + len(r.Key) + len(r.Value)
		if !whole && len(out)-start+size > budget {
			full = true
			return errStop
		}
		out = appendLegacyMessage(out, magic, off, attrs, recordTimestamp(h, r), r.Key, r.Value)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return dst, false, err
	}
	return out, full, nil
}

// errStop ends an Iterate early.
var errStop = errors.New("records: stop")

func downConvertWrapped(dst, batch []byte, h *Header, magic int8, start, budget int, whole bool, limit int) ([]byte, bool, error) {
	attrs := legacyAttrs(h, magic, CodecNone)
	var inner []byte
	var first, last int64 = -1, -1
	var maxTs int64 = -1
	_, err := Iterate(batch, limit, func(r *Record) error {
		off := h.BaseOffset + int64(r.OffsetDelta)
		if first < 0 {
			first = off
		}
		last = off
		ts := recordTimestamp(h, r)
		maxTs = max(maxTs, ts)
		innerOff := off
		if magic > MagicV0 {
			innerOff = off - first // relative offsets for magic 1
		}
		inner = appendLegacyMessage(inner, magic, innerOff, attrs, ts, r.Key, r.Value)
		return nil
	})
	if err != nil {
		return dst, false, err
	}
	if first < 0 {
		return dst, false, nil
	}
	z, err := Compress(h.Codec(), inner, -1)
	if err != nil {
		return dst, false, err
	}
	if h.Codec() == CodecLZ4 && magic == MagicV0 {
		breakLZ4Checksum(z)
	}
	if h.TimestampType() == TimestampLogAppend {
		maxTs = h.MaxTimestamp
	}
	size := LogOverhead + legacyOverhead(magic) + len(z)
	if !whole && len(dst)-start+size > budget {
		return dst, true, nil
	}
	return appendLegacyMessage(dst, magic, last, legacyAttrs(h, magic, h.Codec()), maxTs, nil, z), false, nil
}

// appendLegacyMessage appends one legacy entry to dst.
func appendLegacyMessage(dst []byte, magic int8, offset int64, attrs int8, ts int64, key, value []byte) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(offset))
	dst = be.AppendUint32(dst, uint32(legacyOverhead(magic)+len(key)+len(value)))
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(magic), byte(attrs))
	if magic > MagicV0 {
		dst = be.AppendUint64(dst, uint64(ts))
	}
	dst = appendLegacyBytes(dst, key)
	dst = appendLegacyBytes(dst, value)
	be.PutUint32(dst[at:], crc32.ChecksumIEEE(dst[at+4:]))
	return dst
}

func appendLegacyBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.BigEndian.AppendUint32(dst, math.MaxUint32) // -1: null
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// lz4DescriptorEnd returns the position of the header checksum byte of the
// LZ4 frame z, or -1 if z is too short to hold one.
func lz4DescriptorEnd(z []byte) int {
	if len(z) < 7 {
		return -1
	}
	p := 6 // magic, FLG, BD
	if z[4]&0x08 != 0 {
		p += 8 // content size
	}
	if z[4]&0x01 != 0 {
		p += 4 // dictionary id
	}
	if p >= len(z) {
		return -1
	}
	return p
}

// fixLZ4Checksum returns z with the descriptor checksum a standard reader
// expects, copying z if it has to change a byte: magic 0 frames may carry
// the broken checksum, which Kafka does not check for them.
func fixLZ4Checksum(z []byte) []byte {
	p := lz4DescriptorEnd(z)
	if p < 0 {
		return z // too short: the decoder reports it
	}
	want := byte(xxh32(z[4:p], 0) >> 8)
	if z[p] == want {
		return z
	}
	c := make([]byte, len(z))
	copy(c, z)
	c[p] = want
	return c
}

// breakLZ4Checksum rewrites the descriptor checksum of the frame z the way
// Kafka's magic 0 writer computes it: over the frame magic number too.
func breakLZ4Checksum(z []byte) {
	if p := lz4DescriptorEnd(z); p >= 0 {
		z[p] = byte(xxh32(z[:p], 0) >> 8)
	}
}

// xxh32 is the 32-bit xxHash, which LZ4 frame descriptors use.
func xxh32(b []byte, seed uint32) uint32 {
	const (
		p1 = 2654435761
		p2 = 2246822519
		p3 = 3266489917
		p4 = 668265263
		p5 = 374761393
	)
	rotl := func(x uint32, r uint) uint32 { return x<<r | x>>(32-r) }
	round := func(acc, in uint32) uint32 { return rotl(acc+in*p2, 13) * p1 }
	n := len(b)
	var h uint32
	if n >= 16 {
		v1, v2, v3, v4 := seed+p1+p2, seed+p2, seed, seed-p1
		for len(b) >= 16 {
			v1 = round(v1, binary.LittleEndian.Uint32(b[0:]))
			v2 = round(v2, binary.LittleEndian.Uint32(b[4:]))
			v3 = round(v3, binary.LittleEndian.Uint32(b[8:]))
			v4 = round(v4, binary.LittleEndian.Uint32(b[12:]))
			b = b[16:]
		}
		h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)
	} else {
		h = seed + p5
	}
	h += uint32(n)
	for ; len(b) >= 4; b = b[4:] {
		h = rotl(h+binary.LittleEndian.Uint32(b)*p3, 17) * p4
	}
	for _, c := range b {
		h = rotl(h+uint32(c)*p5, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}
