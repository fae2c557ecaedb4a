package records

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	kzstd "github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	kgzip "github.com/segmentio/kafka-go/compress/gzip"
	klz4 "github.com/segmentio/kafka-go/compress/lz4"
	ksnappy "github.com/segmentio/kafka-go/compress/snappy"
	kzstdcodec "github.com/segmentio/kafka-go/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

// ---- franz-go ----

// franzBatch frames records the way franz-go does, with kmsg's encoders
// and compress as the codec, computing the CRC independently of this
// package.
func franzBatch(t testing.TB, codec Codec, recs []Record, compress func([]byte) []byte) []byte {
	t.Helper()
	var sec []byte
	maxTs := int64(-1)
	for i := range recs {
		kr := franzRecord(&recs[i])
		sec = kr.AppendTo(sec)
		maxTs = max(maxTs, 1_700_000_000_000+recs[i].TimestampDelta)
	}
	if codec != CodecNone {
		sec = compress(sec)
	}
	kb := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(codec),
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: 1_700_000_000_000, MaxTimestamp: maxTs,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: sec,
	}
	b := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func franzCodec(c Codec, level int) kgo.CompressionCodec {
	switch c {
	case CodecGzip:
		return kgo.GzipCompression().WithLevel(level)
	case CodecSnappy:
		return kgo.SnappyCompression()
	case CodecLZ4:
		return kgo.Lz4Compression().WithLevel(level)
	case CodecZstd:
		return kgo.ZstdCompression().WithLevel(level)
	}
	return kgo.NoCompression()
}

// TestFranzProducedBatches decodes batches compressed by franz-go's own
// compressor, at its default and other levels.
func TestFranzProducedBatches(t *testing.T) {
	recs := sampleRecords(300, 200, 20)
	levels := map[Codec][]int{
		CodecGzip:   {0, 1, 9},
		CodecSnappy: {0},
		CodecLZ4:    {0, int(lz4.Level1), int(lz4.Level9)},
		CodecZstd:   {0, int(kzstd.SpeedFastest), int(kzstd.SpeedBestCompression)},
	}
	for c, ls := range levels {
		for _, l := range ls {
			comp, err := kgo.DefaultCompressor(franzCodec(c, l))
			if err != nil {
				t.Fatal(err)
			}
			b := franzBatch(t, c, recs, func(raw []byte) []byte {
				out, used := comp.Compress(new(bytes.Buffer), raw)
				if int8(used) != int8(c) {
					t.Fatalf("franz-go used codec %d for %s", used, c)
				}
				return bytes.Clone(out)
			})
			if _, err := ValidateDeep(b, 0); err != nil {
				t.Fatalf("%s level %d: %v", c, l, err)
			}
			_, got, err := RecordsOf(b)
			if err != nil {
				t.Fatalf("%s level %d: %v", c, l, err)
			}
			equalRecords(t, got, recs)
		}
	}
}

// TestFranzReadsOurs decompresses our output with franz-go's consumer-side
// decompressor, which reads xerial framing as Java writes it.
func TestFranzReadsOurs(t *testing.T) {
	raw := rawSection(sampleRecords(100, 200, 21))
	dec := kgo.DefaultDecompressor()
	for _, c := range allCodecs[1:] {
		for _, l := range levels(c) {
			z, err := Compress(c, raw, l)
			if err != nil {
				t.Fatal(err)
			}
			out, err := dec.Decompress(z, kgo.CompressionCodecType(c))
			if err != nil || !bytes.Equal(out, raw) {
				t.Fatalf("%s level %d: franz-go read %d bytes, %v", c, l, len(out), err)
			}
		}
	}
	// And whole batches.
	recs := sampleRecords(30, 50, 22)
	for _, c := range allCodecs {
		b := mustBuild(t, noProducer(c), recs)
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		sec, err := dec.Decompress(kb.Records, kgo.CompressionCodecType(c))
		if err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			var kr kmsg.Record
			if err := kr.ReadFrom(sec); err != nil {
				t.Fatalf("%s record %d: %v", c, i, err)
			}
			if kr.OffsetDelta != int32(i) || !bytes.Equal(kr.Value, recs[i].Value) || (kr.Key == nil) != (recs[i].Key == nil) {
				t.Fatalf("%s record %d: franz-go read %+v", c, i, kr)
			}
			sec = sec[len(kr.AppendTo(nil)):]
		}
	}
}

// ---- segmentio/kafka-go ----

type kafkaGoCodec interface {
	NewReader(io.Reader) io.ReadCloser
	NewWriter(io.Writer) io.WriteCloser
}

func kafkaGoCodecs() map[string]struct {
	c     Codec
	codec kafkaGoCodec
} {
	type e = struct {
		c     Codec
		codec kafkaGoCodec
	}
	return map[string]e{
		"gzip":            {CodecGzip, &kgzip.Codec{Level: 6}},
		"gzip best":       {CodecGzip, &kgzip.Codec{Level: 9}},
		"snappy xerial":   {CodecSnappy, &ksnappy.Codec{Framing: ksnappy.Framed}},
		"snappy best":     {CodecSnappy, &ksnappy.Codec{Framing: ksnappy.Framed, Compression: ksnappy.BestCompression}},
		"snappy unframed": {CodecSnappy, &ksnappy.Codec{Framing: ksnappy.Unframed}},
		"lz4":             {CodecLZ4, &klz4.Codec{}},
		"zstd":            {CodecZstd, &kzstdcodec.Codec{Level: 3}},
		"zstd 19":         {CodecZstd, &kzstdcodec.Codec{Level: 19}},
	}
}

func TestKafkaGoInterop(t *testing.T) {
	raw := rawSection(sampleRecords(400, 250, 23))
	for name, kc := range kafkaGoCodecs() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w := kc.codec.NewWriter(&buf)
			// Several writes, as a producer streaming records.
			for rem := raw; len(rem) > 0; {
				n := min(len(rem), 10_000)
				if _, err := w.Write(rem[:n]); err != nil {
					t.Fatal(err)
				}
				rem = rem[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			out, err := Decompress(kc.c, buf.Bytes(), 0)
			if err != nil || !bytes.Equal(out, raw) {
				t.Fatalf("we read %d bytes of kafka-go's, %v", len(out), err)
			}

			z, err := Compress(kc.c, raw, -1)
			if err != nil {
				t.Fatal(err)
			}
			r := kc.codec.NewReader(bytes.NewReader(z))
			out, err = io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(out, raw) {
				t.Fatalf("kafka-go read %d bytes of ours, %v", len(out), err)
			}
		})
	}
}

// ---- golden batches ----
//
// testdata/golden holds tiny batches framed by kmsg (franz-go) and
// compressed the way the Java client, librdkafka and Go clients write them,
// by encoders other than this package's Compress. They pin the formats
// against regressions. Regenerate with
//
//	go test -run TestGolden -update ./internal/records/

// goldenRecords are the records of every golden batch; the .batch files
// depend on them, so do not change them.
func goldenRecords(big bool) []Record {
	recs := []Record{
		{OffsetDelta: 0, TimestampDelta: 0, Key: nil, Value: []byte("hello, kafka")},
		{OffsetDelta: 1, TimestampDelta: 5, Key: []byte("k1"), Value: nil},
		{OffsetDelta: 2, TimestampDelta: -3, Key: []byte{}, Value: []byte{},
			Headers: []RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "null-value", Value: nil}}},
		{OffsetDelta: 3, TimestampDelta: 1 << 40, Key: []byte("\x00\xff"), Value: []byte(strings.Repeat("chronik ", 20))},
	}
	if big {
		// Spans three xerial blocks and two 64 KiB lz4 blocks.
		var v []byte
		for i := 0; len(v) < 70_000; i++ {
			v = fmt.Appendf(v, "line %d of a big golden record\n", i)
		}
		recs = append(recs, Record{OffsetDelta: 4, TimestampDelta: 9, Key: []byte("big"), Value: v})
	}
	return recs
}

type goldenCase struct {
	name  string
	codec Codec
	big   bool
	make  func(raw []byte) []byte
}

func goldenCases(t testing.TB) []goldenCase {
	stdGzip := func(level int) func([]byte) []byte {
		return func(raw []byte) []byte {
			var buf bytes.Buffer
			w, _ := stdgzip.NewWriterLevel(&buf, level)
			w.Write(raw)
			w.Close()
			return buf.Bytes()
		}
	}
	javaSnappy := func(raw []byte) []byte {
		// snappy-java's SnappyOutputStream: header, then 32 KiB blocks.
		out := []byte("\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01")
		for len(raw) > 0 {
			n := min(len(raw), 32<<10)
			blk := snappy.Encode(nil, raw[:n])
			out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
			out = append(out, blk...)
			raw = raw[n:]
		}
		return out
	}
	pierrec := func(opts ...lz4.Option) func([]byte) []byte {
		return func(raw []byte) []byte {
			var buf bytes.Buffer
			w := lz4.NewWriter(&buf)
			if err := w.Apply(opts...); err != nil {
				t.Fatal(err)
			}
			w.Write(raw)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}
	}
	zstdStream := func(raw []byte) []byte {
		// zstd-jni's ZstdOutputStream: no content size, checksum.
		var buf bytes.Buffer
		w, _ := kzstd.NewWriter(&buf, kzstd.WithEncoderConcurrency(1), kzstd.WithEncoderCRC(true))
		w.Write(raw[:len(raw)/2])
		w.Flush() // the header goes out before the size is known
		w.Write(raw[len(raw)/2:])
		w.Close()
		return buf.Bytes()
	}
	zstdAll := func(raw []byte) []byte {
		// franz-go's settings: 64 KiB window, content size.
		e, _ := kzstd.NewWriter(nil, kzstd.WithWindowSize(64<<10), kzstd.WithEncoderConcurrency(1), kzstd.WithZeroFrames(true))
		return e.EncodeAll(raw, nil)
	}
	return []goldenCase{
		{"none", CodecNone, false, nil},
		{"gzip_java", CodecGzip, false, stdGzip(stdgzip.DefaultCompression)},
		{"gzip_two_members", CodecGzip, true, func(raw []byte) []byte {
			return append(stdGzip(1)(raw[:len(raw)/2]), stdGzip(9)(raw[len(raw)/2:])...)
		}},
		{"snappy_java", CodecSnappy, false, javaSnappy},
		{"snappy_java_blocks", CodecSnappy, true, javaSnappy},
		{"snappy_raw", CodecSnappy, false, func(raw []byte) []byte { return snappy.Encode(nil, raw) }},
		{"lz4_java", CodecLZ4, true, pierrec(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false))},
		{"lz4_librdkafka", CodecLZ4, false, pierrec(lz4.SizeOption(uint64(len(rawSection(goldenRecords(false))))),
			lz4.BlockChecksumOption(true), lz4.ChecksumOption(true))},
		{"zstd_java", CodecZstd, true, zstdStream},
		{"zstd_franz", CodecZstd, true, zstdAll},
		{"zstd_franz_tiny", CodecZstd, false, zstdAll},
	}
}

func goldenPath(name string) string { return filepath.Join("testdata", "golden", name+".batch") }

// controlGolden is a transaction commit marker as the broker writes it:
// key version 0 type 1 (commit), value version 0 and coordinator epoch 5.
func controlGolden(t testing.TB) []byte {
	kr := franzRecord(&Record{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 5}})
	kb := kmsg.RecordBatch{
		FirstOffset: 10, PartitionLeaderEpoch: 0, Magic: 2, Attributes: int16(TransactionalBit | ControlBit),
		FirstTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000,
		ProducerID: 4000, ProducerEpoch: 2, FirstSequence: -1, NumRecords: 1, Records: kr.AppendTo(nil),
	}
	b := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestGolden(t *testing.T) {
	cases := goldenCases(t)
	if *update {
		if err := os.MkdirAll(filepath.Join("testdata", "golden"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, gc := range cases {
			b := franzBatch(t, gc.codec, goldenRecords(gc.big), gc.make)
			if err := os.WriteFile(goldenPath(gc.name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(goldenPath("control_commit"), controlGolden(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, gc := range cases {
		t.Run(gc.name, func(t *testing.T) {
			b, err := os.ReadFile(goldenPath(gc.name))
			if err != nil {
				t.Fatal(err)
			}
			h, err := ValidateDeep(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if h.Codec() != gc.codec {
				t.Fatalf("codec %s, want %s", h.Codec(), gc.codec)
			}
			_, got, err := RecordsOf(b)
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, goldenRecords(gc.big))
			// The section decodes to what we would write.
			sec, _ := Decompress(gc.codec, b[HeaderSize:], 0)
			if !bytes.Equal(sec, rawSection(goldenRecords(gc.big))) {
				t.Fatal("record section differs from AppendRecord's")
			}
		})
	}
	t.Run("control_commit", func(t *testing.T) {
		b, err := os.ReadFile(goldenPath("control_commit"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Validate(b); !errors.Is(err, ErrControlBatch) {
			t.Fatalf("Validate: %v", err)
		}
		h, recs, err := RecordsOf(b)
		if err != nil || !h.IsControl() || !h.IsTransactional() || len(recs) != 1 ||
			!bytes.Equal(recs[0].Key, []byte{0, 0, 0, 1}) {
			t.Fatalf("%+v %+v %v", h, recs, err)
		}
		// Build writes the same bytes.
		built := mustBuild(t, BuildOptions{
			BaseOffset: 10, ProducerID: 4000, ProducerEpoch: 2, BaseSequence: -1,
			Transactional: true, Control: true, BaseTimestamp: 1_700_000_000_000,
		}, recs)
		if !bytes.Equal(built, b) {
			t.Fatalf("Build:\n% x\nwant\n% x", built, b)
		}
	})
}

// TestGoldenFormats checks that the golden files hold what their names say,
// so that regenerating them cannot silently change the shapes tested.
func TestGoldenFormats(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(goldenPath(name))
		if err != nil {
			t.Fatal(err)
		}
		return b[HeaderSize:]
	}
	if s := read("snappy_java_blocks"); !bytes.HasPrefix(s, xerialHeader) || countXerialBlocks(s) != 3 {
		t.Errorf("snappy_java_blocks: %d xerial blocks", countXerialBlocks(s))
	}
	if s := read("snappy_raw"); bytes.HasPrefix(s, xerialHeader[:8]) {
		t.Error("snappy_raw is framed")
	}
	if s := read("gzip_two_members"); bytes.Count(s, []byte{0x1f, 0x8b, 8}) < 2 {
		t.Error("gzip_two_members has one member")
	}
	if s := read("lz4_java"); s[4] != 0x60 || s[5] != 0x40 {
		t.Errorf("lz4_java FLG/BD %02x %02x, want 60 40 (Kafka's)", s[4], s[5])
	}
	if s := read("lz4_librdkafka"); s[4]&0x1c != 0x1c {
		t.Errorf("lz4_librdkafka FLG %02x: want block checksum, content size and checksum", s[4])
	}
	var h kzstd.Header
	if err := h.Decode(read("zstd_java")); err != nil || h.HasFCS || !h.HasCheckSum {
		t.Errorf("zstd_java: %+v %v", h, err)
	}
	if err := h.Decode(read("zstd_franz")); err != nil || !h.HasFCS {
		t.Errorf("zstd_franz: %+v %v", h, err)
	}
}

func countXerialBlocks(s []byte) int {
	n := 0
	for rem := s[16:]; len(rem) >= 4; n++ {
		rem = rem[4+binary.BigEndian.Uint32(rem):]
	}
	return n
}

// TestGoldenNames lists the golden files so that a stray one is noticed.
func TestGoldenNames(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".batch"))
	}
	want := []string{"control_commit"}
	for _, gc := range goldenCases(t) {
		want = append(want, gc.name)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("golden files %v, want %v", names, want)
	}
}
