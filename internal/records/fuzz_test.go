package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

const fuzzLimit = 1 << 20

// seedSections returns small record sections to seed the fuzzers.
func seedSections() [][]byte {
	return [][]byte{
		rawSection(sampleRecords(1, 5, 1)),
		rawSection(sampleRecords(4, 30, 2)),
		rawSection([]Record{{OffsetDelta: 0, Headers: []RecordHeader{{Key: "k", Value: []byte("v")}}}}),
	}
}

func FuzzDecompress(f *testing.F) {
	for _, sec := range seedSections() {
		for _, c := range allCodecs {
			z, err := Compress(c, sec, -1)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(c), z)
		}
	}
	f.Add(uint8(CodecSnappy), snappyFramedSeed())
	f.Add(uint8(CodecZstd), []byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0})
	f.Add(uint8(7), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, codec uint8, data []byte) {
		c := Codec(codec % 8)
		out, err := Decompress(c, data, fuzzLimit)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if c == CodecNone {
			if !bytes.Equal(out, data) {
				t.Fatal("CodecNone changed its input")
			}
			return
		}
		if c > CodecZstd {
			t.Fatalf("codec %d decoded", c)
		}
		if len(out) > fuzzLimit {
			t.Fatalf("%d bytes over the limit", len(out))
		}
		// Whatever decodes survives our own round trip.
		z, err := Compress(c, out, -1)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decompress(c, z, fuzzLimit)
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("round trip of %d decoded bytes: %v", len(out), err)
		}
	})
}

func snappyFramedSeed() []byte {
	z, _ := Compress(CodecSnappy, bytes.Repeat([]byte("ab"), 20<<10), -1)
	return z
}

// checkBatch asserts the contract between Validate, ValidateDeep, CheckCRC,
// RecordsOf and Iterate on any bytes.
func checkBatch(t *testing.T, b []byte) {
	h, err := Validate(b)
	if err != nil && !isRecordsErr(err) {
		t.Fatalf("Validate: unexpected error %v", err)
	}
	if err == nil {
		if cerr := CheckCRC(b); cerr != nil {
			t.Fatalf("Validate passed but CheckCRC: %v", cerr)
		}
		if h.Codec() == CodecNone {
			if _, recs, rerr := RecordsOf(b); rerr != nil || len(recs) != int(h.NumRecords) {
				t.Fatalf("Validate passed but RecordsOf: %d records, %v", len(recs), rerr)
			}
		}
	}
	if _, werr := ValidateWritten(b); (werr == nil) != (err == nil) || (werr != nil && werr.Error() != err.Error()) {
		t.Fatalf("ValidateWritten: %v; Validate: %v", werr, err)
	}
	// For an uncompressed batch, ValidateDeferred plus, when it defers,
	// Validate is Validate. (A compressed one it checks with ValidateDeep,
	// whose 256 MiB default limit is no fuzz input's business.)
	if ph, perr := ParseHeader(b); perr == nil && ph.Codec() == CodecNone {
		dh, deferred, ferr := ValidateDeferred(b)
		if ferr != nil && !isRecordsErr(ferr) {
			t.Fatalf("ValidateDeferred: unexpected error %v", ferr)
		}
		if ferr == nil && deferred {
			if dh.Codec() != CodecNone {
				t.Fatalf("ValidateDeferred deferred the checks of a %v batch", dh.Codec())
			}
			_, ferr = Validate(b)
		}
		if (ferr == nil) != (err == nil) {
			t.Fatalf("ValidateDeferred then Validate: %v; Validate: %v", ferr, err)
		}
	}
	hd, derr := ValidateDeep(b, fuzzLimit)
	if derr != nil && !isRecordsErr(derr) {
		t.Fatalf("ValidateDeep: unexpected error %v", derr)
	}
	switch {
	case derr == nil:
		if err != nil {
			t.Fatalf("ValidateDeep passed where Validate failed: %v", err)
		}
		if hd != h {
			t.Fatalf("headers differ: %+v %+v", hd, h)
		}
		if cerr := CheckCRC(b); cerr != nil {
			t.Fatalf("ValidateDeep passed but CheckCRC: %v", cerr)
		}
		_, recs, rerr := RecordsOf(b)
		if rerr != nil || len(recs) != int(h.NumRecords) {
			t.Fatalf("ValidateDeep passed but RecordsOf: %d records, %v", len(recs), rerr)
		}
		n := 0
		if _, ierr := Iterate(b, fuzzLimit, func(*Record) error { n++; return nil }); ierr != nil || n != len(recs) {
			t.Fatalf("Iterate: %d records, %v", n, ierr)
		}
	case err == nil && h.Codec() == CodecNone:
		t.Fatalf("ValidateDeep failed on an uncompressed batch Validate passed: %v", derr)
	}
}

func FuzzValidate(f *testing.F) {
	for _, sec := range seedSections() {
		recs, err := Records(sec, countRecords(sec))
		if err != nil {
			f.Fatal(err)
		}
		for _, c := range allCodecs {
			f.Add(mustBuild(f, noProducer(c), recs))
		}
	}
	ctl := noProducer(CodecNone)
	ctl.Control, ctl.Transactional = true, true
	f.Add(mustBuild(f, ctl, []Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 5}}}))
	f.Add(mustBuild(f, noProducer(CodecGzip), nil))
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBatch(t, data)
		// Random bytes rarely carry a right CRC; fix it (and the length)
		// so that the checks behind it get explored.
		if len(data) >= HeaderSize {
			checkBatch(t, fixBatch(bytes.Clone(data)))
		}
	})
}

// countRecords counts the records in a well-formed section.
func countRecords(sec []byte) int {
	n := 0
	for len(sec) > 0 {
		l, k := binary.Varint(sec)
		sec = sec[k+int(l):]
		n++
	}
	return n
}

// FuzzRecords wraps a fuzzed section, compressed or not, in a batch with a
// fuzzed count: whatever parses must survive Build and parse again to the
// same records.
func FuzzRecords(f *testing.F) {
	for _, sec := range seedSections() {
		n := countRecords(sec)
		for _, c := range allCodecs {
			z, _ := Compress(c, sec, -1)
			f.Add(uint8(c), int32(n), z)
		}
		f.Add(uint8(CodecNone), int32(n+1), sec)
	}
	template := mustBuild(f, noProducer(CodecNone), nil)
	f.Fuzz(func(t *testing.T, codec uint8, count int32, sec []byte) {
		b := append(bytes.Clone(template[:HeaderSize]), sec...)
		binary.BigEndian.PutUint16(b[attrOffset:], uint16(codec%8))
		binary.BigEndian.PutUint32(b[countOffset:], uint32(count))
		binary.BigEndian.PutUint32(b[lastDeltaOffs:], uint32(count-1))
		fixBatch(b)

		h, recs, err := RecordsOf(b)
		n := 0
		_, ierr := Iterate(b, 0, func(*Record) error { n++; return nil })
		if (err == nil) != (ierr == nil) {
			t.Fatalf("RecordsOf says %v, Iterate %v", err, ierr)
		}
		if codec%8 == 0 && count >= 0 {
			// Checking alone (checkRecord) accepts exactly what parsing does.
			cerr := walkRecords(sec, int(count), nil)
			perr := walkRecords(sec, int(count), func(*Record) {})
			if (cerr == nil) != (perr == nil) || (cerr != nil && errors.Is(cerr, ErrInvalid) != errors.Is(perr, ErrInvalid)) {
				t.Fatalf("checking says %v, parsing %v", cerr, perr)
			}
		}
		if err != nil {
			if !isRecordsErr(err) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(recs) != int(count) || n != len(recs) || h.NumRecords != count {
			t.Fatalf("%d records (Iterate %d) for count %d", len(recs), n, count)
		}
		// Build re-encodes them (canonically) to the same records, with
		// the same codec.
		c := h.Codec()
		rebuilt, err := Build(noProducer(c), recs)
		if err != nil {
			t.Fatal(err)
		}
		if count > 0 {
			if _, err := ValidateDeep(rebuilt, 0); err != nil {
				t.Fatalf("rebuilt batch: %v", err)
			}
		}
		_, again, err := RecordsOf(rebuilt)
		if err != nil {
			t.Fatal(err)
		}
		equalRecords(t, again, recs)
		if c == CodecNone {
			if got, err := Records(sec, int(count)); err != nil || len(got) != len(recs) {
				t.Fatalf("Records: %d, %v", len(got), err)
			}
		}
	})
}
