package records

import (
	"encoding/binary"
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
// nil, sees each record; the pointer is reused.
func walkRecords(b []byte, count int, fn func(*Record)) error {
	var r Record
	for i := 0; i < count; i++ {
		l, n := binary.Varint(b)
		if n <= 0 || l < 0 || int64(len(b)-n) < l {
			return fmt.Errorf("%w: record %d: bad length", ErrCorrupt, i)
		}
		rec := b[n : n+int(l)]
		b = b[n+int(l):]
		if err := parseRecord(rec, &r, fn != nil); err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrCorrupt, i, err)
		}
		if r.OffsetDelta != int32(i) {
			return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalid, i, r.OffsetDelta)
		}
		if fn != nil {
			fn(&r)
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(b))
	}
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("bad varint")
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
