package records

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Recompress returns batch, which must be exactly one magic 2 batch that
// Validate accepts, with its records compressed with codec at level (see
// Compress) instead of the producer's codec: what Kafka's LogValidator does
// when a topic's compression.type names a codec other than the batch's. The
// records are kept byte for byte, and so is every header field but the
// codec bits, the length and the CRC (producer id, epoch and sequence,
// transactional flag, timestamps and timestamp type). A batch already in
// codec is returned as is: like Kafka, we do not recompress for a different
// level. Decompression is bounded by limit (<= 0: DefaultDecompressLimit),
// so a bomb is an ErrCorrupt, not an allocation.
//
// Validation happens first, so a damaged batch is never given a fresh CRC.
func Recompress(batch []byte, codec Codec, level, limit int) ([]byte, error) {
	if codec < CodecNone || codec > CodecZstd {
		return nil, fmt.Errorf("records: unknown compression codec %d", int8(codec))
	}
	h, err := Validate(batch)
	if err != nil {
		return nil, err
	}
	if h.Codec() == codec {
		return batch, nil
	}
	raw, err := Decompress(h.Codec(), batch[HeaderSize:], limit)
	if err != nil {
		return nil, err
	}
	if err := walkRecords(raw, int(h.NumRecords), nil); err != nil {
		return nil, err
	}
	out := make([]byte, HeaderSize, HeaderSize+len(raw)/2+64)
	copy(out, batch[:HeaderSize])
	if out, err = appendCompressed(out, codec, raw, level); err != nil {
		return nil, err
	}
	if len(out)-LogOverhead > math.MaxInt32 {
		return nil, fmt.Errorf("%w: recompressed batch of %d bytes is too large", ErrInvalid, len(out))
	}
	attrs := uint16(h.Attributes)&^CodecMask | uint16(codec)
	binary.BigEndian.PutUint16(out[attrOffset:], attrs)
	binary.BigEndian.PutUint32(out[lengthOffset:], uint32(len(out)-LogOverhead))
	binary.BigEndian.PutUint32(out[crcOffset:], Checksum(out))
	return out, nil
}
