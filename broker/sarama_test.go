package broker_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func saramaConfig(idempotent bool, acks sarama.RequiredAcks) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_6_0_0
	c.ClientID = "chronik-test"
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.RequiredAcks = acks
	c.Producer.MaxMessageBytes = 2 << 20
	c.Producer.Retry.Backoff = 50 * time.Millisecond
	if idempotent {
		c.Producer.Idempotent = true
		c.Net.MaxOpenRequests = 1
	}
	c.Consumer.Fetch.Default = 4 << 20
	c.Metadata.Retry.Backoff = 50 * time.Millisecond
	return c
}

func TestSaramaProduceConsume(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	modes := []struct {
		name string
		idem bool
		acks sarama.RequiredAcks
	}{
		{"idempotent-acks-all", true, sarama.WaitForAll},
		{"acks-all", false, sarama.WaitForAll},
		{"acks-1", false, sarama.WaitForLocal},
		{"acks-0", false, sarama.NoResponse},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			topic := "sarama-" + m.name
			createTopic(t, addr, topic, 3, nil)
			cfg := saramaConfig(m.idem, m.acks)
			p, err := sarama.NewSyncProducer([]string{addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for i := range 80 {
				part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))})
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				if m.acks != sarama.NoResponse && (part != 0 || off != int64(i)) {
					t.Fatalf("record %d acknowledged at %d/%d", i, part, off)
				}
			}
			for i := range 15 {
				if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: int32(1 + i%2), Value: sarama.StringEncoder(fmt.Sprintf("s%d", i))}); err != nil {
					t.Fatal(err)
				}
			}
			got := consumeSarama(t, addr, topic, 0, 80)
			for i, msg := range got {
				if msg.Offset != int64(i) || string(msg.Value) != fmt.Sprintf("v%d", i) {
					t.Fatalf("partition 0 record %d: offset %d value %q", i, msg.Offset, msg.Value)
				}
			}
			for part := int32(1); part <= 2; part++ {
				var want []string
				for i := range 15 {
					if int32(1+i%2) == part {
						want = append(want, fmt.Sprintf("s%d", i))
					}
				}
				for i, msg := range consumeSarama(t, addr, topic, part, len(want)) {
					if msg.Offset != int64(i) || string(msg.Value) != want[i] {
						t.Fatalf("partition %d record %d: offset %d value %q", part, i, msg.Offset, msg.Value)
					}
				}
			}
		})
	}
}

func consumeSarama(t *testing.T, addr, topic string, partition int32, n int) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer([]string{addr}, saramaConfig(false, sarama.WaitForAll))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, partition, sarama.OffsetOldest)
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

func TestSaramaRecordShapes(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	maxMsg := "2097152"
	createTopic(t, addr, "shapes", 1, map[string]*string{"max.message.bytes": &maxMsg})
	p, err := sarama.NewSyncProducer([]string{addr}, saramaConfig(true, sarama.WaitForAll))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	big := bytes.Repeat([]byte("x"), 1<<20)
	msgs := []*sarama.ProducerMessage{
		{Topic: "shapes", Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder("v"), Headers: []sarama.RecordHeader{{Key: []byte("h1"), Value: []byte("a")}}},
		{Topic: "shapes", Value: sarama.StringEncoder("null key")},
		{Topic: "shapes", Key: sarama.StringEncoder("null value")},
		{Topic: "shapes", Key: sarama.StringEncoder("big"), Value: sarama.ByteEncoder(big)},
	}
	for _, m := range msgs {
		if _, _, err := p.SendMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	got := consumeSarama(t, addr, "shapes", 0, len(msgs))
	if string(got[0].Key) != "k" || string(got[0].Value) != "v" || len(got[0].Headers) != 1 || string(got[0].Headers[0].Key) != "h1" || string(got[0].Headers[0].Value) != "a" {
		t.Fatalf("record 0: %+v", got[0])
	}
	if got[1].Key != nil || string(got[1].Value) != "null key" {
		t.Fatalf("record 1: key %q value %q", got[1].Key, got[1].Value)
	}
	if string(got[2].Key) != "null value" || got[2].Value != nil {
		t.Fatalf("record 2: key %q value %v", got[2].Key, got[2].Value)
	}
	if !bytes.Equal(got[3].Value, big) {
		t.Fatalf("record 3: value of %d bytes", len(got[3].Value))
	}
}
