package records

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Record is one record of a batch. Key, Value and header slices alias the
// buffer they were parsed from. A nil Key or Value is a null.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte
	Value          []byte
	Headers        []RecordHeader
}

// RecordHeader is one record header.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Records parses the count records in b, the (uncompressed) record section
// of a batch.
func Records(b []byte, count int) ([]Record, error) {
	out := make([]Record, 0, max(min(count, len(b)/7+1), 0))
	err := walkRecords(b, count, func(r *Record) {
		out = append(out, *r)
		r.Headers = nil // the copy owns them: walkRecords reuses r
	})
	return out, err
}

// walkRecords parses count records that must fill b exactly. fn, if not
// nil, sees each record; the pointer is reused. Without fn it only checks
// them (checkRecord: the same checks, without building a Record).
func walkRecords(b []byte, count int, fn func(*Record)) error {
	var r Record
	for i := 0; i < count; i++ {
		l, n := varint(b)
		if n <= 0 || l < 0 || int64(len(b)-n) < l {
			return fmt.Errorf("%w: record %d: bad length", ErrCorrupt, i)
		}
		rec := b[n : n+int(l)]
		b = b[n+int(l):]
		if fn == nil {
			od, err := checkRecord(rec)
			if err != nil {
				return fmt.Errorf("%w: record %d: %v", ErrCorrupt, i, err)
			}
			if od != int32(i) {
				return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalid, i, od)
			}
			continue
		}
		if err := parseRecord(rec, &r, true); err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrCorrupt, i, err)
		}
		if r.OffsetDelta != int32(i) {
			return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalid, i, r.OffsetDelta)
		}
		fn(&r)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(b))
	}
	return nil
}

// varint is binary.Varint with the one-byte encoding decoded inline and
// the two-byte one without a loop (every length and delta of a small
// record).
func varint(b []byte) (int64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return int64(b[0]>>1) ^ -int64(b[0]&1), 1
	}
	return varint2(b)
}

func varint2(b []byte) (int64, int) {
	if len(b) > 1 && b[1] < 0x80 {
		u := uint64(b[0]&0x7f) | uint64(b[1])<<7
		return int64(u>>1) ^ -int64(u&1), 2
	}
	return binary.Varint(b)
}

var (
	errEmptyRecord = errors.New("empty record")
	errBadVarint   = errors.New("bad varint")
	errNullHdrKey  = errors.New("null header key")
)

// checkRecord makes parseRecord's checks of the record b and returns its
// offset delta.
func checkRecord(b []byte) (int32, error) {
	if len(b) < 1 {
		return 0, errEmptyRecord
	}
	b = b[1:]         // attributes
	_, n := varint(b) // timestamp delta
	if n <= 0 {
		return 0, errBadVarint
	}
	b = b[n:]
	od, n := varint(b)
	if n <= 0 {
		return 0, errBadVarint
	}
	if od < 0 || od > 1<<31-1 {
		return 0, fmt.Errorf("bad offset delta %d", od)
	}
	b = b[n:]
	var err error
	if b, _, err = skipBytes(b); err != nil { // key
		return 0, err
	}
	if b, _, err = skipBytes(b); err != nil { // value
		return 0, err
	}
	nh, n := varint(b)
	if n <= 0 {
		return 0, errBadVarint
	}
	b = b[n:]
	if nh < 0 || nh > int64(len(b)) {
		return 0, fmt.Errorf("bad header count %d", nh)
	}
	for j := int64(0); j < nh; j++ {
		var keyNull bool
		if b, keyNull, err = skipBytes(b); err != nil {
			return 0, err
		}
		if b, _, err = skipBytes(b); err != nil {
			return 0, err
		}
		if keyNull {
			return 0, errNullHdrKey
		}
	}
	if len(b) != 0 {
		return 0, fmt.Errorf("%d trailing bytes", len(b))
	}
	return int32(od), nil
}

// skipBytes skips a varint-length-prefixed byte string (-1: null).
func skipBytes(b []byte) (rest []byte, null bool, err error) {
	l, n := varint(b)
	if n <= 0 {
		return b, false, errBadVarint
	}
	b = b[n:]
	if l == -1 {
		return b, true, nil
	}
	if l < -1 || l > int64(len(b)) {
		return b, false, fmt.Errorf("bad length %d", l)
	}
	return b[l:], false, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := varint(r.b)
	if n <= 0 {
		r.err = errBadVarint
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes reads a varint-length-prefixed byte string; -1 is null.
func (r *reader) bytes() []byte {
	l := r.varint()
	if r.err != nil {
		return nil
	}
	if l == -1 {
		return nil
	}
	if l < -1 || l > int64(len(r.b)) {
		r.err = fmt.Errorf("bad length %d", l)
		return nil
	}
	v := r.b[:l:l]
	r.b = r.b[l:]
	if v == nil {
		v = []byte{}
	}
	return v
}

func parseRecord(b []byte, r *Record, full bool) error {
	if len(b) < 1 {
		return fmt.Errorf("empty record")
	}
	rd := reader{b: b[1:]}
	r.Attributes = int8(b[0])
	r.TimestampDelta = rd.varint()
	od := rd.varint()
	if od < 0 || od > 1<<31-1 {
		return fmt.Errorf("bad offset delta %d", od)
	}
	r.OffsetDelta = int32(od)
	r.Key = rd.bytes()
	r.Value = rd.bytes()
	nh := rd.varint()
	if rd.err != nil {
		return rd.err
	}
	if nh < 0 || nh > int64(len(rd.b)) {
		return fmt.Errorf("bad header count %d", nh)
	}
	r.Headers = r.Headers[:0]
	for j := int64(0); j < nh; j++ {
		k := rd.bytes()
		v := rd.bytes()
		if rd.err != nil {
			return rd.err
		}
		if k == nil {
			return fmt.Errorf("null header key")
		}
		if full {
			r.Headers = append(r.Headers, RecordHeader{Key: string(k), Value: v})
		}
	}
	if len(rd.b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(rd.b))
	}
	return nil
}
