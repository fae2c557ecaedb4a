package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/records"
)

// legacySarama is a sarama config speaking an old protocol: V0_9_0_0
// produces magic 0 message sets (Produce v1) and fetches v1 (magic 0);
// V0_10_0_0 produces magic 1 (Produce v2) and fetches v2 (magic 1). Offsets
// are listed with ListOffsets v0.
func legacySarama(version sarama.KafkaVersion, codec sarama.CompressionCodec) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = version
	c.ClientID = "chronik-legacy"
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Compression = codec
	c.Producer.Flush.Messages = 10 // batch, so that wrappers hold many messages
	c.Producer.Flush.Frequency = 20 * time.Millisecond
	c.Metadata.Retry.Backoff = 50 * time.Millisecond
	c.Consumer.Fetch.Default = 64 << 10
	return c
}

// legacyMsgs are the messages the legacy tests send: keys and values with
// nulls and empties, and distinct timestamps.
func legacyMsgs(topic string, n int) []*sarama.ProducerMessage {
	base := time.UnixMilli(1_700_000_000_000)
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: 0, Timestamp: base.Add(time.Duration(i) * time.Second)}
		if i%3 != 0 {
			m.Key = sarama.StringEncoder(fmt.Sprintf("key-%d", i))
		}
		if i%4 != 1 {
			m.Value = sarama.ByteEncoder(bytes.Repeat(fmt.Appendf(nil, "value %d ", i), i%9+1))
		}
		msgs[i] = m
	}
	return msgs
}

func encoded(e sarama.Encoder) []byte {
	if e == nil {
		return nil
	}
	b, _ := e.Encode()
	return b
}

func consumeSaramaWith(t *testing.T, cfg *sarama.Config, addr, topic string, partition int32, from int64, n int) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, partition, from)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case err := <-pc.Errors():
			t.Fatalf("consume %s/%d: %v", topic, partition, err)
		case <-timeout:
			t.Fatalf("consumed %d of %d records from %s/%d", len(out), n, topic, partition)
		}
	}
	return out
}

// TestSaramaLegacyProduceConsume produces magic 0 and magic 1 message sets
// in every legacy codec with sarama, reads them back with the same old
// protocol (down-converted) and with franz-go (as stored).
func TestSaramaLegacyProduceConsume(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	type mode struct {
		version sarama.KafkaVersion
		magic   int
		codec   sarama.CompressionCodec
	}
	var modes []mode
	for _, c := range []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy} {
		modes = append(modes, mode{sarama.V0_9_0_0, 0, c})
	}
	for _, c := range []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4} {
		modes = append(modes, mode{sarama.V0_10_0_0, 1, c})
	}
	for _, m := range modes {
		t.Run(fmt.Sprintf("magic%d-%v", m.magic, m.codec), func(t *testing.T) {
			t.Parallel()
			topic := fmt.Sprintf("legacy-m%d-%v", m.magic, m.codec)
			createTopic(t, addr, topic, 1, nil)
			cfg := legacySarama(m.version, m.codec)
			p, err := sarama.NewSyncProducer([]string{addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			msgs := legacyMsgs(topic, 60)
			if err := p.SendMessages(msgs); err != nil {
				t.Fatal(err)
			}
			for i, msg := range msgs {
				if msg.Offset != int64(i) {
					t.Fatalf("message %d acknowledged at offset %d", i, msg.Offset)
				}
			}

			got := consumeSaramaWith(t, cfg, addr, topic, 0, sarama.OffsetOldest, len(msgs))
			for i, g := range got {
				w := msgs[i]
				if g.Offset != int64(i) || !bytes.Equal(g.Key, encoded(w.Key)) || !bytes.Equal(g.Value, encoded(w.Value)) {
					t.Fatalf("message %d: offset %d key %q value %q", i, g.Offset, g.Key, g.Value)
				}
				if (g.Key == nil) != (w.Key == nil) || (g.Value == nil) != (w.Value == nil) {
					t.Fatalf("message %d: null key/value not kept", i)
				}
				if m.magic == 1 && !g.Timestamp.Equal(w.Timestamp) {
					t.Fatalf("message %d: timestamp %v, want %v", i, g.Timestamp, w.Timestamp)
				}
			}

			// Stored as magic 2: a modern client sees the same, with -1 as the
			// timestamp of magic 0 messages.
			for i, r := range consumeFranz(t, addr, topic, 0, len(msgs)) {
				w := msgs[i]
				if !bytes.Equal(r.Key, encoded(w.Key)) || !bytes.Equal(r.Value, encoded(w.Value)) || (r.Key == nil) != (w.Key == nil) || (r.Value == nil) != (w.Value == nil) {
					t.Fatalf("franz record %d: key %q value %q", i, r.Key, r.Value)
				}
				wantTs := w.Timestamp.UnixMilli()
				if m.magic == 0 {
					wantTs = -1
				}
				if r.Timestamp.UnixMilli() != wantTs {
					t.Fatalf("franz record %d: timestamp %d, want %d", i, r.Timestamp.UnixMilli(), wantTs)
				}
			}

			// ListOffsets v0 (sarama below 0.10.1).
			cl, err := sarama.NewClient([]string{addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if off, err := cl.GetOffset(topic, 0, sarama.OffsetNewest); err != nil || off != int64(len(msgs)) {
				t.Fatalf("newest offset %d, %v", off, err)
			}
			if off, err := cl.GetOffset(topic, 0, sarama.OffsetOldest); err != nil || off != 0 {
				t.Fatalf("oldest offset %d, %v", off, err)
			}
		})
	}
}

// TestLegacyConsumersReadModernBatches: what modern producers write
// (idempotent, with headers, any codec but zstd) reads back through
// Fetch v1 and v2, from the middle too. lz4 is left out of the magic 0
// reader: Kafka (and we) write magic 0 lz4 frames with the pre-0.10 broken
// descriptor checksum, which librdkafka, kafka-python and the old Java
// client expect, but sarama's decoder refuses (sarama cannot use lz4 below
// 0.10 either).
func TestLegacyConsumersReadModernBatches(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	ctx := testCtx(t)
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression()}
	createTopic(t, addr, "modern", 1, nil)
	var want []*kgo.Record
	for _, c := range codecs {
		cl := newFranz(t, addr, kgo.ProducerBatchCompression(c))
		var rs []*kgo.Record
		for i := range 25 {
			rs = append(rs, &kgo.Record{Topic: "modern", Key: fmt.Appendf(nil, "k%d", len(want)+i), Value: fmt.Appendf(nil, "v%d", len(want)+i),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("dropped in v0/v1")}}})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want = append(want, rs...)
	}
	for _, v := range []sarama.KafkaVersion{sarama.V0_9_0_0, sarama.V0_10_0_0} {
		for _, from := range []int64{0, 37} {
			n := len(want) - int(from)
			if v == sarama.V0_9_0_0 {
				n -= 25 // the lz4 batch
			}
			got := consumeSaramaWith(t, legacySarama(v, sarama.CompressionNone), addr, "modern", 0, from, n)
			for i, g := range got {
				w := want[int(from)+i]
				if g.Offset != w.Offset || !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) {
					t.Fatalf("%v from %d: message %d offset %d key %q", v, from, i, g.Offset, g.Key)
				}
				if v == sarama.V0_10_0_0 && !g.Timestamp.Equal(w.Timestamp.Truncate(time.Millisecond)) {
					t.Fatalf("%v: message %d timestamp %v, want %v", v, i, g.Timestamp, w.Timestamp)
				}
			}
		}
	}
}

// fetchRaw reads a partition at the given Fetch version over a raw
// connection, so the version is exactly the one asked for.
func fetchRaw(t *testing.T, addr string, version int16, topic string, offset int64, maxBytes int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	req.ReplicaID = -1
	req.MaxWaitMillis = 10
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = offset, maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := dialRaw(t, addr).roundTrip(req, 7).(*kmsg.FetchResponse)
	return resp.Topics[0].Partitions[0]
}

// legacyOffsets walks a legacy message set's top-level entries and returns
// each entry's offset and magic.
func legacyEntries(t *testing.T, set []byte) (offsets []int64, magics []int8) {
	t.Helper()
	for len(set) > 0 {
		if len(set) < 17 {
			t.Fatalf("partial entry of %d bytes", len(set))
		}
		size := int(int32(uint32(set[8])<<24 | uint32(set[9])<<16 | uint32(set[10])<<8 | uint32(set[11])))
		if size+12 > len(set) {
			t.Fatalf("entry of %d bytes with %d left", size, len(set)-12)
		}
		var off int64
		for _, c := range set[:8] {
			off = off<<8 | int64(c)
		}
		offsets = append(offsets, off)
		magics = append(magics, int8(set[16]))
		set = set[12+size:]
	}
	return offsets, magics
}

func TestLegacyFetchVersions(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	ctx := testCtx(t)
	createTopic(t, addr, "fv", 1, nil)
	cl := newFranz(t, addr, kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := range 10 { // one batch each
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "fv", Value: bytes.Repeat([]byte{'a' + byte(i)}, 100)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		version int16
		magic   int8
	}{{0, 0}, {1, 0}, {2, 1}, {3, 1}} {
		sp := fetchRaw(t, addr, c.version, "fv", 4, 1<<20)
		if sp.ErrorCode != 0 || sp.HighWatermark != 10 {
			t.Fatalf("v%d: error %d hw %d", c.version, sp.ErrorCode, sp.HighWatermark)
		}
		offs, magics := legacyEntries(t, sp.RecordBatches)
		if len(offs) != 6 || offs[0] != 4 {
			t.Fatalf("v%d: offsets %v, want 4..9", c.version, offs)
		}
		for _, m := range magics {
			if m != c.magic {
				t.Fatalf("v%d: magic %d, want %d", c.version, m, c.magic)
			}
		}
	}
	// v0-v2 limits are hard: a partition max below the first batch gives
	// nothing; v3 gives the first batch whole (KIP-74).
	if sp := fetchRaw(t, addr, 2, "fv", 0, 50); sp.ErrorCode != 0 || len(sp.RecordBatches) != 0 {
		t.Fatalf("v2 with a tiny limit: error %d, %d bytes", sp.ErrorCode, len(sp.RecordBatches))
	}
	if sp := fetchRaw(t, addr, 3, "fv", 0, 50); sp.ErrorCode != 0 || len(sp.RecordBatches) == 0 {
		t.Fatalf("v3 with a tiny limit: error %d, %d bytes", sp.ErrorCode, len(sp.RecordBatches))
	}
	// A limit inside the data stops at a message boundary.
	sp := fetchRaw(t, addr, 1, "fv", 0, 600)
	if offs, _ := legacyEntries(t, sp.RecordBatches); len(offs) == 0 || len(offs) >= 10 || len(sp.RecordBatches) > 600 {
		t.Fatalf("v1 with a 600-byte limit: %d messages in %d bytes", len(offs), len(sp.RecordBatches))
	}
	// Out of range is still OFFSET_OUT_OF_RANGE.
	if sp := fetchRaw(t, addr, 0, "fv", 11, 1<<20); sp.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("v0 past the end: error %d", sp.ErrorCode)
	}
}

func TestLegacyFetchRefusals(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	ctx := testCtx(t)
	createTopic(t, addr, "zstd-batches", 1, nil)
	createTopic(t, addr, "zstd-topic", 1, map[string]*string{"compression.type": ptr("zstd")})
	createTopic(t, addr, "no-downconversion", 1, map[string]*string{"message.downconversion.enable": ptr("false")})
	for _, topic := range []string{"zstd-batches", "zstd-topic", "no-downconversion"} {
		cl := newFranz(t, addr, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
		// Compressible, or franz-go sends it uncompressed.
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: bytes.Repeat([]byte("z"), 1000)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if sp := fetchRaw(t, addr, 3, "zstd-batches", 0, 1<<20); sp.ErrorCode != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("zstd batch at v3: error %d", sp.ErrorCode)
	}
	if sp := fetchRaw(t, addr, 9, "zstd-topic", 0, 1<<20); sp.ErrorCode != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("compression.type=zstd at v9: error %d", sp.ErrorCode)
	}
	if sp := fetchRaw(t, addr, 10, "zstd-topic", 0, 1<<20); sp.ErrorCode != 0 || len(sp.RecordBatches) == 0 {
		t.Fatalf("compression.type=zstd at v10: error %d", sp.ErrorCode)
	}
	if sp := fetchRaw(t, addr, 1, "no-downconversion", 0, 1<<20); sp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("message.downconversion.enable=false at v1: error %d", sp.ErrorCode)
	}
}

func ptr(s string) *string { return &s }

// legacySetOf is a magic 0 or 1 message set of the given messages.
func legacySetOf(magic int8, values ...string) []byte {
	var set []byte
	for _, v := range values {
		set = append(set, legacyMessage(magic, []byte("k-"+v), []byte(v))...)
	}
	return set
}

func TestLegacyProduceRaw(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	createTopic(t, addr, "raw", 1, nil)
	c := dialRaw(t, addr)
	for i, tc := range []struct {
		name    string
		version int16
		records []byte
		code    int16
		base    int64
	}{
		{"v0 magic 0", 0, legacySetOf(0, "a", "b", "c"), 0, 0},
		{"v1 magic 0", 1, legacySetOf(0, "d"), 0, 3},
		{"v2 magic 1", 2, legacySetOf(1, "e", "f"), 0, 4},
		{"v2 magic 2 batch", 2, validBatch("g", "h"), 0, 6},
		{"v2 empty", 2, []byte{}, 0, -1},
		{"mixed magic", 2, append(legacySetOf(0, "x"), legacySetOf(1, "y")...), kerr.InvalidRecord.Code, -1},
		{"bad crc", 1, func() []byte { b := legacySetOf(0, "zz"); b[len(b)-1] ^= 1; return b }(), kerr.CorruptMessage.Code, -1},
		{"truncated", 1, legacySetOf(0, "zz")[:20], kerr.CorruptMessage.Code, -1},
		{"zstd wrapper", 2, func() []byte {
			b := legacySetOf(1, "zz")
			b[17] = 4
			return fixLegacyCRC(b)
		}(), kerr.UnsupportedCompressionType.Code, -1},
	} {
		p := producePartition(t, c.roundTrip(produceReq(tc.version, -1, "raw", 0, tc.records), int32(i+1)))
		if p.ErrorCode != tc.code || p.BaseOffset != tc.base {
			t.Fatalf("%s: error %d base offset %d, want %d and %d (%s)", tc.name, p.ErrorCode, p.BaseOffset, tc.code, tc.base, deref(p.ErrorMessage))
		}
	}
	got := consumeFranz(t, addr, "raw", 0, 8)
	for i, r := range got {
		if want := string(rune('a' + i)); string(r.Value) != want {
			t.Fatalf("record %d: %q, want %q", i, r.Value, want)
		}
	}
	// ListOffsets v0 with MaxNumOffsets: newest first, capped.
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(0)
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "raw"
	for _, c := range []struct {
		ts  int64
		max int32
	}{{-1, 5}, {-1, 1}, {-2, 5}, {-3, 1}, {time.Now().Add(time.Hour).UnixMilli(), 5}} {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.MaxNumOffsets = c.ts, c.max
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req, 100).(*kmsg.ListOffsetsResponse)
	ps := resp.Topics[0].Partitions
	want := []struct {
		code int16
		offs []int64
	}{{0, []int64{8, 0}}, {0, []int64{8}}, {0, []int64{0}}, {kerr.UnsupportedVersion.Code, nil}, {0, []int64{8, 0}}}
	for i, w := range want {
		if ps[i].ErrorCode != w.code || fmt.Sprint(ps[i].OldStyleOffsets) != fmt.Sprint(w.offs) {
			t.Errorf("ListOffsets v0 case %d: error %d offsets %v, want %d %v", i, ps[i].ErrorCode, ps[i].OldStyleOffsets, w.code, w.offs)
		}
	}
}

// fixLegacyCRC recomputes the CRC of the single legacy message in b.
func fixLegacyCRC(b []byte) []byte {
	crc := crc32.ChecksumIEEE(b[16:])
	b[12], b[13], b[14], b[15] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return b
}

// TestCompressionType: a topic's compression.type recompresses batches in
// another codec, keeps idempotence intact, and applies to legacy produce.
func TestCompressionType(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	ctx := testCtx(t)
	cases := []struct {
		config string
		send   kgo.CompressionCodec
		want   records.Codec
	}{
		{"producer", kgo.Lz4Compression(), records.CodecLZ4},
		{"gzip", kgo.NoCompression(), records.CodecGzip},
		{"uncompressed", kgo.SnappyCompression(), records.CodecNone},
		{"zstd", kgo.GzipCompression(), records.CodecZstd},
		{"lz4", kgo.ZstdCompression(), records.CodecLZ4},
		{"snappy", kgo.SnappyCompression(), records.CodecSnappy},
	}
	for _, c := range cases {
		topic := "ct-" + c.config
		createTopic(t, addr, topic, 1, map[string]*string{"compression.type": ptr(c.config)})
		cl := newFranz(t, addr, kgo.ProducerBatchCompression(c.send), kgo.ProducerLinger(0))
		var rs []*kgo.Record
		for i := range 20 {
			rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: bytes.Repeat(fmt.Appendf(nil, "value %d ", i), 20),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("kept")}}})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("%s: %v", c.config, err)
		}
		for _, codec := range storedCodecs(t, addr, topic) {
			if codec != c.want {
				t.Fatalf("compression.type=%s: stored codec %v, want %v", c.config, codec, c.want)
			}
		}
		got := consumeFranz(t, addr, topic, 0, len(rs))
		for i, r := range got {
			if !bytes.Equal(r.Value, rs[i].Value) || len(r.Headers) != 1 || string(r.Headers[0].Value) != "kept" {
				t.Fatalf("compression.type=%s: record %d changed", c.config, i)
			}
			if r.ProducerID != rs[i].ProducerID || r.ProducerEpoch != rs[i].ProducerEpoch {
				t.Fatalf("compression.type=%s: record %d producer %d/%d, want %d/%d", c.config, i, r.ProducerID, r.ProducerEpoch, rs[i].ProducerID, rs[i].ProducerEpoch)
			}
		}
	}

	// A retried idempotent batch is still recognised as a duplicate after
	// recompression: same producer id and sequence, same offsets.
	createTopic(t, addr, "ct-dup", 1, map[string]*string{"compression.type": ptr("gzip")})
	batch := idempotentBatch(t, 4242, 0, 0, "one", "two")
	c := dialRaw(t, addr)
	p1 := producePartition(t, c.roundTrip(produceReq(9, -1, "ct-dup", 0, bytes.Clone(batch)), 1))
	p2 := producePartition(t, c.roundTrip(produceReq(9, -1, "ct-dup", 0, bytes.Clone(batch)), 2))
	if p1.ErrorCode != 0 || p2.ErrorCode != 0 || p1.BaseOffset != p2.BaseOffset {
		t.Fatalf("retry after recompression: %d@%d then %d@%d", p1.ErrorCode, p1.BaseOffset, p2.ErrorCode, p2.BaseOffset)
	}
	if codecs := storedCodecs(t, addr, "ct-dup"); len(codecs) != 1 || codecs[0] != records.CodecGzip {
		t.Fatalf("stored %v, want one gzip batch", codecs)
	}

	// Legacy produce into a topic with a codec.
	createTopic(t, addr, "ct-legacy", 1, map[string]*string{"compression.type": ptr("lz4")})
	pl := producePartition(t, c.roundTrip(produceReq(1, -1, "ct-legacy", 0, legacySetOf(0, "a", "b")), 3))
	if pl.ErrorCode != 0 {
		t.Fatalf("legacy produce: %d", pl.ErrorCode)
	}
	if codecs := storedCodecs(t, addr, "ct-legacy"); len(codecs) != 1 || codecs[0] != records.CodecLZ4 {
		t.Fatalf("stored %v, want one lz4 batch", codecs)
	}

	// A bomb is CORRUPT_MESSAGE, not an allocation.
	createTopic(t, addr, "ct-bomb", 1, map[string]*string{"compression.type": ptr("uncompressed")})
	bomb := makeBomb(t)
	pb := producePartition(t, c.roundTrip(produceReq(9, -1, "ct-bomb", 0, bomb), 4))
	if pb.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("bomb: error %d (%s)", pb.ErrorCode, deref(pb.ErrorMessage))
	}
	// zstd needs Produce v7.
	zb := idempotentBatch(t, -1, -1, -1, "z")
	zb, err := records.Recompress(zb, records.CodecZstd, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p := producePartition(t, c.roundTrip(produceReq(6, -1, "ct-bomb", 0, zb), 5)); p.ErrorCode != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("zstd at Produce v6: error %d", p.ErrorCode)
	}
}

// idempotentBatch builds an uncompressed batch with a producer.
func idempotentBatch(t *testing.T, pid int64, epoch int16, seq int32, values ...string) []byte {
	t.Helper()
	recs := make([]records.Record, len(values))
	for i, v := range values {
		recs[i] = records.Record{OffsetDelta: int32(i), Value: []byte(v)}
	}
	b, err := records.Build(records.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, BaseTimestamp: time.Now().UnixMilli()}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// makeBomb is a zstd batch whose one frame of RLE blocks declares far more
// than the decompression limit: 8 KiB that would expand to 256 MiB + 128 KiB.
func makeBomb(t *testing.T) []byte {
	t.Helper()
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // magic; no size, 128 KiB window
	const block = 128 << 10
	n := records.DefaultDecompressLimit/block + 1
	for i := range n {
		bh := uint32(block)<<3 | 1<<1 // RLE
		if i == n-1 {
			bh |= 1 // last
		}
		frame = append(frame, byte(bh), byte(bh>>8), byte(bh>>16), 'x')
	}
	b, err := records.Build(records.BuildOptions{Codec: records.CodecZstd, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []records.Record{{Value: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	b = append(b[:records.HeaderSize:records.HeaderSize], frame...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], records.Checksum(b))
	return b
}

// storedCodecs returns the codec of every batch in the partition, read with
// a modern fetch.
func storedCodecs(t *testing.T, addr, topic string) []records.Codec {
	t.Helper()
	sp := fetchRaw(t, addr, 12, topic, 0, 16<<20)
	if sp.ErrorCode != 0 {
		t.Fatalf("fetch %s: error %d", topic, sp.ErrorCode)
	}
	var out []records.Codec
	err := records.Split(sp.RecordBatches, func(h records.Header, b []byte) error {
		if _, err := records.ValidateDeep(b, 0); err != nil {
			return err
		}
		out = append(out, h.Codec())
		return nil
	})
	if err != nil && !errors.Is(err, records.ErrShort) {
		t.Fatal(err)
	}
	return out
}

var _ = context.Background
