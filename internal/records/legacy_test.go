package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
)

var legacyCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4}

// legacyMsg is a message for building test sets.
type legacyMsg struct {
	offset     int64
	ts         int64
	key, value []byte
	attrs      int8
}

// legacySet encodes msgs as uncompressed entries of magic.
func legacySet(magic int8, msgs []legacyMsg) []byte {
	var b []byte
	for _, m := range msgs {
		b = appendLegacyMessage(b, magic, m.offset, m.attrs, m.ts, m.key, m.value)
	}
	return b
}

// legacyWrapper encodes msgs as one compressed wrapper, as a producer does:
// inner offsets 0..n-1 and, for magic 1, the wrapper at the last one.
func legacyWrapper(t testing.TB, magic int8, c Codec, wrapperTs int64, msgs []legacyMsg) []byte {
	t.Helper()
	for i := range msgs {
		msgs[i].offset = int64(i)
	}
	z, err := Compress(c, legacySet(magic, msgs), -1)
	if err != nil {
		t.Fatal(err)
	}
	if c == CodecLZ4 && magic == MagicV0 {
		breakLZ4Checksum(z)
	}
	return appendLegacyMessage(nil, magic, int64(len(msgs)-1), int8(c), wrapperTs, nil, z)
}

// legacyRecord is what a legacy consumer sees.
type legacyRecord struct {
	offset     int64
	ts         int64
	tsType     bool
	key, value []byte
	codec      Codec
}

// readLegacySet reads a fetched message set as a legacy consumer does:
// every entry, wrappers unwrapped with absolute offsets. It checks CRCs.
func readLegacySet(t testing.TB, set []byte) []legacyRecord {
	t.Helper()
	var out []legacyRecord
	for len(set) > 0 {
		m, rest, err := nextLegacy(set)
		if err != nil {
			t.Fatalf("fetched set: %v", err)
		}
		set = rest
		if m.codec() == CodecNone {
			out = append(out, legacyRecord{m.offset, m.timestamp, m.logAppendTime(), m.key, m.value, CodecNone})
			continue
		}
		var inner []legacyMessage
		if err := walkWrapper(&m, 0, func(im *legacyMessage) error { inner = append(inner, *im); return nil }); err != nil {
			t.Fatalf("fetched wrapper: %v", err)
		}
		base := int64(0)
		if m.magic == MagicV1 {
			base = m.offset - inner[len(inner)-1].offset
		}
		for _, im := range inner {
			out = append(out, legacyRecord{base + im.offset, im.timestamp, m.logAppendTime(), im.key, im.value, m.codec()})
		}
	}
	return out
}

func TestXXH32(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0x02cc5d05},
		{"a", 0x550d7456},
		{"abc", 0x32d153ff},
		{"Nobody inspects the spammish repetition", 0xe2293b2f},
	} {
		if got := xxh32([]byte(c.in), 0); got != c.want {
			t.Errorf("xxh32(%q) = %08x, want %08x", c.in, got, c.want)
		}
	}
	// Our descriptor checksum agrees with the lz4 encoder's.
	z, err := Compress(CodecLZ4, []byte("hello hello hello hello"), -1)
	if err != nil {
		t.Fatal(err)
	}
	p := lz4DescriptorEnd(z)
	if got := byte(xxh32(z[4:p], 0) >> 8); got != z[p] {
		t.Fatalf("descriptor checksum %02x, encoder wrote %02x", got, z[p])
	}
	if !bytes.Equal(fixLZ4Checksum(z), z) {
		t.Fatal("fixLZ4Checksum changed a correct frame")
	}
}

func sampleLegacy(n int) []legacyMsg {
	msgs := make([]legacyMsg, n)
	for i := range msgs {
		m := &msgs[i]
		m.offset = int64(i)
		m.ts = 1_700_000_000_000 + int64(i*13)
		switch i % 4 {
		case 0:
			m.key = nil
		case 1:
			m.key = []byte{}
		default:
			m.key = fmt.Appendf(nil, "k%d", i)
		}
		switch i % 3 {
		case 0:
			m.value = nil
		default:
			m.value = bytes.Repeat(fmt.Appendf(nil, "value %d ", i), i%7+1)
		}
	}
	return msgs
}

// checkConverted checks that batch is a valid v2 batch holding msgs.
func checkConverted(t *testing.T, batch []byte, magic int8, codec Codec, msgs []legacyMsg) {
	t.Helper()
	h, err := ValidateDeep(batch, 0)
	if err != nil {
		t.Fatalf("converted batch does not validate: %v", err)
	}
	if h.Codec() != codec || h.ProducerID != NoProducerID || h.BaseSequence != NoSequence || h.ProducerEpoch != -1 {
		t.Fatalf("header %+v, want codec %v and no producer", h, codec)
	}
	_, recs, err := RecordsOf(batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(msgs) {
		t.Fatalf("%d records, want %d", len(recs), len(msgs))
	}
	var maxTs int64 = -1
	for i, r := range recs {
		m := msgs[i]
		wantTs := m.ts
		if magic == MagicV0 {
			wantTs = -1
		}
		maxTs = max(maxTs, wantTs)
		if ts := h.BaseTimestamp + r.TimestampDelta; ts != wantTs {
			t.Fatalf("record %d timestamp %d, want %d", i, ts, wantTs)
		}
		if (r.Key == nil) != (m.key == nil) || !bytes.Equal(r.Key, m.key) || (r.Value == nil) != (m.value == nil) || !bytes.Equal(r.Value, m.value) {
			t.Fatalf("record %d: key %q value %q, want %q %q", i, r.Key, r.Value, m.key, m.value)
		}
		if len(r.Headers) != 0 {
			t.Fatalf("record %d has headers", i)
		}
	}
	if h.MaxTimestamp != maxTs {
		t.Fatalf("max timestamp %d, want %d", h.MaxTimestamp, maxTs)
	}
}

func TestConvertLegacy(t *testing.T) {
	for _, magic := range []int8{MagicV0, MagicV1} {
		for _, c := range legacyCodecs {
			t.Run(fmt.Sprintf("magic%d-%v", magic, c), func(t *testing.T) {
				msgs := sampleLegacy(23)
				var set []byte
				if c == CodecNone {
					// Producers send any offsets; the broker renumbers.
					for i := range msgs {
						msgs[i].offset = 1000 - int64(i)
					}
					set = legacySet(magic, msgs)
				} else {
					set = legacyWrapper(t, magic, c, 0, msgs)
				}
				in := bytes.Clone(set)
				b, err := ConvertLegacy(set, CodecProducer, -1, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(in, set) {
					t.Fatal("ConvertLegacy changed its input")
				}
				checkConverted(t, b, magic, c, msgs)
				// An explicit target codec (compression.type) wins.
				for _, target := range allCodecs {
					b, err := ConvertLegacy(set, target, -1, 0)
					if err != nil {
						t.Fatal(err)
					}
					checkConverted(t, b, magic, target, msgs)
				}
			})
		}
	}
}

func TestConvertLegacyLogAppendTimeWrapper(t *testing.T) {
	msgs := sampleLegacy(3)
	set := legacyWrapper(t, MagicV1, CodecGzip, 42, msgs)
	// Mark the wrapper LogAppendTime (and fix its CRC): inner messages take
	// its timestamp.
	set[17] |= legacyTsTypeBit
	binary.BigEndian.PutUint32(set[12:], crc32.ChecksumIEEE(set[16:]))
	b, err := ConvertLegacy(set, CodecProducer, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range msgs {
		msgs[i].ts = 42
	}
	checkConverted(t, b, MagicV1, CodecGzip, msgs)
}

func TestConvertLegacyErrors(t *testing.T) {
	msgs := sampleLegacy(3)
	good0 := legacySet(MagicV0, msgs)
	good1 := legacySet(MagicV1, msgs)
	gz := legacyWrapper(t, MagicV1, CodecGzip, 0, sampleLegacy(3))

	reCRC := func(b []byte, at int) []byte {
		binary.BigEndian.PutUint32(b[at+12:], crc32.ChecksumIEEE(b[at+16:at+12+int(binary.BigEndian.Uint32(b[at+8:]))]))
		return b
	}
	wrap := func(magic int8, c Codec, inner []byte, off int64) []byte {
		z, err := Compress(c, inner, -1)
		if err != nil {
			t.Fatal(err)
		}
		return appendLegacyMessage(nil, magic, off, int8(c), 0, nil, z)
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	attrs := func(b []byte, a byte) []byte { b = bytes.Clone(b); b[17] = a; return reCRC(b, 0) }
	magic := func(b []byte, m byte) []byte { b = bytes.Clone(b); b[16] = m; return reCRC(b, 0) }
	bomb := wrap(MagicV1, CodecGzip, legacySet(MagicV1, []legacyMsg{{value: make([]byte, 1<<20)}}), 0)

	cases := []struct {
		name  string
		set   []byte
		limit int
		want  error
	}{
		{"empty", nil, 0, ErrInvalid},
		{"bad crc", flip(good0, 20), 0, ErrCorrupt},
		{"bad crc second", flip(good1, len(good1)-1), 0, ErrCorrupt},
		{"truncated", good0[:len(good0)-1], 0, ErrCorrupt},
		{"trailing bytes", append(bytes.Clone(good0), 1, 2, 3), 0, ErrCorrupt},
		{"tiny size", binary.BigEndian.AppendUint32(make([]byte, 8), 5), 0, ErrCorrupt},
		{"mixed magic", append(bytes.Clone(good0), good1...), 0, ErrInvalid},
		{"two wrappers", append(bytes.Clone(gz), gz...), 0, ErrInvalid},
		{"plain then wrapper", append(bytes.Clone(good1), gz...), 0, ErrInvalid},
		{"null wrapper value", appendLegacyMessage(nil, MagicV1, 0, int8(CodecGzip), 0, nil, nil), 0, ErrInvalid},
		{"empty wrapper", wrap(MagicV1, CodecSnappy, []byte{}, 0), 0, ErrInvalid},
		{"nested compression", wrap(MagicV1, CodecGzip, gz, 0), 0, ErrInvalid},
		{"inner magic mismatch", wrap(MagicV1, CodecGzip, good0, 0), 0, ErrInvalid},
		{"inner bad crc", wrap(MagicV0, CodecGzip, flip(good0, len(good0)-1), 0), 0, ErrCorrupt},
		{"wrapper offset below last inner", wrap(MagicV1, CodecGzip, legacySet(MagicV1, []legacyMsg{{offset: 0}, {offset: 5}}), 3), 0, ErrInvalid},
		{"zstd", attrs(good1, byte(CodecZstd)), 0, ErrUnsupportedCodec},
		{"codec 6", attrs(good1, 6), 0, ErrCorrupt},
		{"magic 2", magic(good1, 2), 0, ErrInvalid},
		{"magic 3", magic(good1, 3), 0, ErrCorrupt},
		{"key overruns", func() []byte {
			b := bytes.Clone(good0)
			binary.BigEndian.PutUint32(b[18:], 1000)
			return reCRC(b, 0)
		}(), 0, ErrCorrupt},
		{"bomb", bomb, 64 << 10, ErrDecompressLimit},
		{"lz4 magic 1 broken checksum", func() []byte {
			z, _ := Compress(CodecLZ4, good1, -1)
			breakLZ4Checksum(z)
			return appendLegacyMessage(nil, MagicV1, 0, int8(CodecLZ4), 0, nil, z)
		}(), 0, ErrCorrupt},
	}
	for _, c := range cases {
		_, err := ConvertLegacy(c.set, CodecProducer, -1, c.limit)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Wrapper offset 0 (librdkafka) is fine.
	if _, err := ConvertLegacy(wrap(MagicV1, CodecGzip, legacySet(MagicV1, []legacyMsg{{offset: 0}, {offset: 1}}), 0), CodecProducer, -1, 0); err != nil {
		t.Errorf("wrapper offset 0: %v", err)
	}
}

// v2Batches builds batches of sampleRecords at consecutive offsets.
func v2Batches(t testing.TB, codecs []Codec, n int, logAppend bool) ([]byte, [][]Record) {
	t.Helper()
	var all []byte
	var recs [][]Record
	off := int64(100)
	for i, c := range codecs {
		rs := sampleRecords(n, 40, uint64(i+1))
		opts := noProducer(c)
		opts.BaseOffset = off
		opts.LogAppendTime = logAppend
		all = append(all, mustBuild(t, opts, rs)...)
		recs = append(recs, rs)
		off += int64(n)
	}
	return all, recs
}

func TestDownConvertRoundTrip(t *testing.T) {
	for _, magic := range []int8{MagicV0, MagicV1} {
		for _, logAppend := range []bool{false, true} {
			t.Run(fmt.Sprintf("magic%d-logappend-%v", magic, logAppend), func(t *testing.T) {
				src, recs := v2Batches(t, legacyCodecs, 9, logAppend)
				out, err := DownConvert(nil, src, magic, 100, len(src)*10, 0)
				if err != nil {
					t.Fatal(err)
				}
				got := readLegacySet(t, out)
				if len(got) != 9*len(legacyCodecs) {
					t.Fatalf("%d messages, want %d", len(got), 9*len(legacyCodecs))
				}
				for bi, rs := range recs {
					for ri, r := range rs {
						g := got[bi*9+ri]
						wantTs := int64(1_700_000_000_000) + r.TimestampDelta
						if logAppend {
							wantTs = 1_700_000_000_000
						}
						if magic == MagicV0 {
							wantTs = -1
						}
						if g.offset != int64(100+bi*9+ri) || g.ts != wantTs || g.codec != legacyCodecs[bi] || g.tsType != (logAppend && magic == MagicV1) {
							t.Fatalf("batch %d record %d: %+v, want offset %d ts %d", bi, ri, g, 100+bi*9+ri, wantTs)
						}
						if (g.key == nil) != (r.Key == nil) || !bytes.Equal(g.key, r.Key) || (g.value == nil) != (r.Value == nil) || !bytes.Equal(g.value, r.Value) {
							t.Fatalf("batch %d record %d: key/value differ", bi, ri)
						}
					}
				}
				// Each converted batch converts back (the produce path).
				if logAppend {
					return
				}
				for _, c := range legacyCodecs {
					one, oneRecs := v2Batches(t, []Codec{c}, 9, false)
					set, err := DownConvert(nil, one, magic, 0, 1<<20, 0)
					if err != nil {
						t.Fatal(err)
					}
					b, err := ConvertLegacy(set, CodecProducer, -1, 0)
					if err != nil {
						t.Fatalf("codec %v: %v", c, err)
					}
					_, back, err := RecordsOf(b)
					if err != nil {
						t.Fatal(err)
					}
					for ri, r := range back {
						w := oneRecs[0][ri]
						if !bytes.Equal(r.Key, w.Key) || !bytes.Equal(r.Value, w.Value) || (r.Key == nil) != (w.Key == nil) || (r.Value == nil) != (w.Value == nil) {
							t.Fatalf("codec %v record %d: round trip changed key or value", c, ri)
						}
					}
				}
			})
		}
	}
}

func TestDownConvertMagic0LZ4(t *testing.T) {
	src, _ := v2Batches(t, []Codec{CodecLZ4}, 5, false)
	out, err := DownConvert(nil, src, MagicV0, 0, 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := nextLegacy(out)
	if err != nil {
		t.Fatal(err)
	}
	// The frame carries Kafka's magic 0 checksum, which a standard reader
	// refuses and Kafka's (and ours, for magic 0) ignores.
	if _, err := Decompress(CodecLZ4, m.value, 0); err == nil {
		t.Fatal("the magic 0 lz4 frame has a standard descriptor checksum")
	}
	p := lz4DescriptorEnd(m.value)
	if want := byte(xxh32(m.value[:p], 0) >> 8); m.value[p] != want {
		t.Fatalf("descriptor checksum %02x, want Kafka's magic 0 value %02x", m.value[p], want)
	}
	if got := readLegacySet(t, out); len(got) != 5 {
		t.Fatalf("%d messages", len(got))
	}
}

func TestDownConvertFetchOffsetAndBudget(t *testing.T) {
	src, _ := v2Batches(t, []Codec{CodecNone, CodecGzip, CodecNone}, 10, false)
	// Mid uncompressed batch: the records below the offset are dropped.
	out, err := DownConvert(nil, src, MagicV1, 104, len(src), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := readLegacySet(t, out)
	if got[0].offset != 104 || len(got) != 26 {
		t.Fatalf("first offset %d, %d messages; want 104 and 26", got[0].offset, len(got))
	}
	// Mid compressed batch: kept whole.
	first, _ := PeekSize(src)
	out, err = DownConvert(nil, src[first:], MagicV1, 115, len(src), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := readLegacySet(t, out); got[0].offset != 110 {
		t.Fatalf("first offset %d, want 110", got[0].offset)
	}
	// A tiny budget still gets the whole first batch, then nothing more.
	out, err = DownConvert(nil, src, MagicV0, 100, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := readLegacySet(t, out); len(got) != 10 {
		t.Fatalf("%d messages with a tiny budget, want the first batch's 10", len(got))
	}
	// A budget cutting the third batch stops at a message boundary.
	full, _ := DownConvert(nil, src, MagicV0, 100, 1<<20, 0)
	out, err = DownConvert([]byte("prefix"), src, MagicV0, 100, len(full)-30, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatal("dst prefix lost")
	}
	if got := readLegacySet(t, out[6:]); len(got) >= 30 || len(got) <= 20 || !bytes.Equal(out[6:], full[:len(out)-6]) {
		t.Fatalf("%d messages with a budget cutting the last batch", len(got))
	}
	// A partial batch at the end is ignored.
	if out, err := DownConvert(nil, src[:len(src)-3], MagicV1, 100, 1<<20, 0); err != nil || len(readLegacySet(t, out)) != 20 {
		t.Fatalf("partial tail: %v", err)
	}
}

func TestDownConvertSkipsAndRefuses(t *testing.T) {
	plain, _ := v2Batches(t, []Codec{CodecNone}, 3, false)
	z, _ := v2Batches(t, []Codec{CodecZstd}, 3, false)
	ctrlOpts := noProducer(CodecNone)
	ctrlOpts.Control = true
	ctrlOpts.BaseOffset = 99
	ctrl := mustBuild(t, ctrlOpts, []Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0, 0, 0, 0, 0, 0}}})

	out, err := DownConvert(nil, append(bytes.Clone(ctrl), plain...), MagicV1, 0, 1<<20, 0)
	if err != nil || len(readLegacySet(t, out)) != 3 {
		t.Fatalf("control batch not skipped: %v", err)
	}
	if _, err := DownConvert(nil, z, MagicV1, 0, 1<<20, 0); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("zstd first: %v", err)
	}
	out, err = DownConvert(nil, append(bytes.Clone(plain), z...), MagicV1, 0, 1<<20, 0)
	if err != nil || len(readLegacySet(t, out)) != 3 {
		t.Fatalf("zstd after data: %v, want the data before it", err)
	}
	bad := bytes.Clone(plain)
	binary.BigEndian.PutUint32(bad[lengthOffset:], 3)
	if _, err := DownConvert(nil, bad, MagicV1, 0, 1<<20, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad length: %v", err)
	}
	if _, err := DownConvert(nil, plain, MagicV2, 0, 1<<20, 0); err == nil {
		t.Fatal("down-converted to magic 2")
	}
}

func TestRecompress(t *testing.T) {
	recs := sampleRecords(17, 60, 9)
	for _, from := range allCodecs {
		for _, to := range allCodecs {
			opts := BuildOptions{Codec: from, ProducerID: 77, ProducerEpoch: 3, BaseSequence: 41,
				BaseTimestamp: 1_700_000_000_000, BaseOffset: 5, PartitionLeaderEpoch: 2}
			batch := mustBuild(t, opts, recs)
			in := bytes.Clone(batch)
			out, err := Recompress(batch, to, -1, 0)
			if err != nil {
				t.Fatalf("%v -> %v: %v", from, to, err)
			}
			if !bytes.Equal(in, batch) {
				t.Fatal("Recompress changed its input")
			}
			if from == to && &out[0] != &batch[0] {
				t.Fatalf("%v -> %v: rebuilt a batch already in the codec", from, to)
			}
			h, err := ValidateDeep(out, 0)
			if err != nil {
				t.Fatalf("%v -> %v: %v", from, to, err)
			}
			hin, _ := ParseHeader(batch)
			hin.Attributes = hin.Attributes&^CodecMask | int16(to)
			hin.BatchLength, hin.CRC = h.BatchLength, h.CRC
			if h != hin {
				t.Fatalf("%v -> %v: header\n got %+v\nwant %+v", from, to, h, hin)
			}
			_, got, err := RecordsOf(out)
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, recs)
		}
	}
	// Damage is reported, not laundered into a fresh CRC.
	batch := mustBuild(t, noProducer(CodecGzip), recs)
	batch[len(batch)-5] ^= 0xff
	if _, err := Recompress(batch, CodecNone, -1, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt batch: %v", err)
	}
	// A bomb hits the limit.
	big := mustBuild(t, noProducer(CodecZstd), []Record{{Value: make([]byte, 4<<20)}})
	if _, err := Recompress(big, CodecNone, -1, 1<<20); !errors.Is(err, ErrDecompressLimit) {
		t.Fatalf("bomb: %v", err)
	}
}

// FuzzConvertLegacy: ConvertLegacy never panics, stays within the
// decompression limit, and what it accepts is a valid v2 batch holding as
// many records as the set has messages.
func FuzzConvertLegacy(f *testing.F) {
	f.Add(legacySet(MagicV0, sampleLegacy(3)), uint8(0))
	f.Add(legacySet(MagicV1, sampleLegacy(5)), uint8(1))
	for _, c := range legacyCodecs[1:] {
		f.Add(legacyWrapper(f, MagicV1, c, 0, sampleLegacy(4)), uint8(c))
		f.Add(legacyWrapper(f, MagicV0, c, 0, sampleLegacy(4)), uint8(0xff))
	}
	f.Add([]byte{}, uint8(0))
	f.Add(make([]byte, 26), uint8(0))
	f.Fuzz(func(t *testing.T, set []byte, target uint8) {
		codec := CodecProducer
		if target < 5 {
			codec = Codec(target)
		}
		in := bytes.Clone(set)
		b, err := ConvertLegacy(set, codec, -1, fuzzLimit)
		if !bytes.Equal(in, set) {
			t.Fatal("input changed")
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupportedCodec) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		n := 0
		if _, _, err := walkLegacy(set, fuzzLimit, func(*legacyMessage) error { n++; return nil }); err != nil {
			t.Fatalf("converted a set walkLegacy refuses: %v", err)
		}
		h, err := ValidateDeep(b, fuzzLimit+len(set)*4)
		if err != nil {
			t.Fatalf("converted batch invalid: %v", err)
		}
		if int(h.NumRecords) != n {
			t.Fatalf("%d records from %d messages", h.NumRecords, n)
		}
	})
}

// FuzzDownConvert: DownConvert never panics on any log data, and what it
// returns is a message set whose every message passes its CRC.
func FuzzDownConvert(f *testing.F) {
	src, _ := v2Batches(f, allCodecs, 4, false)
	f.Add(src, uint8(0), int64(0), uint16(100))
	f.Add(src, uint8(1), int64(102), uint16(10))
	lat, _ := v2Batches(f, legacyCodecs, 3, true)
	f.Add(lat, uint8(1), int64(0), uint16(1000))
	f.Add([]byte{}, uint8(0), int64(0), uint16(0))
	f.Fuzz(func(t *testing.T, src []byte, magic uint8, off int64, budget uint16) {
		out, err := DownConvert(nil, src, int8(magic%2), off, int(budget), fuzzLimit)
		if err != nil {
			if !isRecordsErr(err) && !errors.Is(err, ErrUnsupportedCodec) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for rest := out; len(rest) > 0; {
			m, r, err := nextLegacy(rest)
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if m.codec() != CodecNone {
				if err := walkWrapper(&m, 0, func(*legacyMessage) error { return nil }); err != nil {
					t.Fatalf("output wrapper does not parse: %v", err)
				}
			}
			rest = r
		}
	})
}
