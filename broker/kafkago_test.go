package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

func kafkagoProduce(t *testing.T, addr, topic string, partition int, acks kafka.RequiredAcks, values ...[]byte) int64 {
	t.Helper()
	// A transport of its own: the default one caches metadata across tests.
	cl := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second, Transport: &kafka.Transport{}}
	var recs []kafka.Record
	for _, v := range values {
		recs = append(recs, kafka.Record{Value: kafka.NewBytes(v)})
	}
	resp, err := cl.Produce(context.Background(), &kafka.ProduceRequest{
		Topic: topic, Partition: partition, RequiredAcks: acks,
		Records: kafka.NewRecordReader(recs...),
	})
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("produce: %v", resp.Error)
	}
	return resp.BaseOffset
}

func kafkagoConsume(t *testing.T, addr, topic string, partition, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: partition, MaxBytes: 4 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d from %s/%d: %v", len(out), n, topic, partition, err)
		}
		out = append(out, m)
	}
	return out
}

func TestKafkaGoProduceConsume(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	for _, acks := range []kafka.RequiredAcks{kafka.RequireAll, kafka.RequireOne} {
		t.Run(fmt.Sprintf("acks%d", acks), func(t *testing.T) {
			topic := fmt.Sprintf("kafkago-%d", acks)
			createTopic(t, addr, topic, 3, nil)
			// 50 records one by one, then 30 in a batch: offsets 0-79.
			for i := range 50 {
				if off := kafkagoProduce(t, addr, topic, 0, acks, fmt.Appendf(nil, "v%d", i)); off != int64(i) {
					t.Fatalf("record %d acknowledged at offset %d", i, off)
				}
			}
			var batch [][]byte
			for i := 50; i < 80; i++ {
				batch = append(batch, fmt.Appendf(nil, "v%d", i))
			}
			if off := kafkagoProduce(t, addr, topic, 0, acks, batch...); off != 50 {
				t.Fatalf("batch acknowledged at base offset %d", off)
			}
			for i := range 15 {
				kafkagoProduce(t, addr, topic, 1+i%2, acks, fmt.Appendf(nil, "s%d", i))
			}
			for i, m := range kafkagoConsume(t, addr, topic, 0, 80) {
				if m.Offset != int64(i) || string(m.Value) != fmt.Sprintf("v%d", i) {
					t.Fatalf("partition 0 record %d: offset %d value %q", i, m.Offset, m.Value)
				}
			}
			for p := 1; p <= 2; p++ {
				var want []string
				for i := range 15 {
					if 1+i%2 == p {
						want = append(want, fmt.Sprintf("s%d", i))
					}
				}
				for i, m := range kafkagoConsume(t, addr, topic, p, len(want)) {
					if m.Offset != int64(i) || string(m.Value) != want[i] {
						t.Fatalf("partition %d record %d: offset %d value %q", p, i, m.Offset, m.Value)
					}
				}
			}
		})
	}
	t.Run("writer-acks-none", func(t *testing.T) {
		topic := "kafkago-writer"
		createTopic(t, addr, topic, 1, nil)
		w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireNone, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
		defer w.Close()
		for i := range 50 {
			if err := w.WriteMessages(context.Background(), kafka.Message{Value: fmt.Appendf(nil, "w%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		for i, m := range kafkagoConsume(t, addr, topic, 0, 50) {
			if string(m.Value) != fmt.Sprintf("w%d", i) {
				t.Fatalf("record %d: %q", i, m.Value)
			}
		}
	})
}

func TestKafkaGoRecordShapes(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	maxMsg := "2097152"
	createTopic(t, addr, "shapes", 1, map[string]*string{"max.message.bytes": &maxMsg})
	big := bytes.Repeat([]byte("x"), 1<<20)
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "shapes", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 4 << 20, Transport: &kafka.Transport{}}
	defer w.Close()
	msgs := []kafka.Message{
		{Key: []byte("k"), Value: []byte("v"), Headers: []kafka.Header{{Key: "h1", Value: []byte("a")}}},
		{Value: []byte("null key")},
		{Key: []byte("null value")},
		{Key: []byte("big"), Value: big},
	}
	for _, m := range msgs {
		if err := w.WriteMessages(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := kafkagoConsume(t, addr, "shapes", 0, len(msgs))
	if string(got[0].Key) != "k" || string(got[0].Value) != "v" || len(got[0].Headers) != 1 || got[0].Headers[0].Key != "h1" {
		t.Fatalf("record 0: %+v", got[0])
	}
	if got[1].Key != nil || string(got[1].Value) != "null key" {
		t.Fatalf("record 1: key %q value %q", got[1].Key, got[1].Value)
	}
	if string(got[2].Key) != "null value" || got[2].Value != nil {
		t.Fatalf("record 2: key %q value %v", got[2].Key, got[2].Value)
	}
	if !bytes.Equal(got[3].Value, big) {
		t.Fatalf("record 3: %d bytes", len(got[3].Value))
	}
}
