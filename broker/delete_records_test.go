package broker_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

func TestDeleteRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, addr := startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	ctx := testCtx(t)
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	createTopic(t, addr, "dr", 2, nil)
	createTopic(t, addr, "dr-compact", 1, map[string]*string{"cleanup.policy": ptr("compact")})
	for i := range 10 { // a batch each
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dr", Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	del := func(topic string, part int32, at int64) kadm.DeleteRecordsResponse {
		t.Helper()
		var os kadm.Offsets
		os.AddOffset(topic, part, at, -1)
		rs, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := rs.Lookup(topic, part)
		return r
	}
	start := func() int64 {
		t.Helper()
		ls, err := adm.ListStartOffsets(ctx, "dr")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := ls.Lookup("dr", 0)
		return o.Offset
	}

	if r := del("dr", 0, 4); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete before 4: %+v", r)
	}
	if s := start(); s != 4 {
		t.Fatalf("log start %d after deleting before 4", s)
	}
	// A consumer from the start begins at 4.
	if got := consumeFranz(t, addr, "dr", 0, 6); got[0].Offset != 4 || string(got[0].Value) != "v4" {
		t.Fatalf("first record after delete: %d %q", got[0].Offset, got[0].Value)
	}
	// Below the log start is out of range.
	// Kafka 4.1 answers an out-of-range fetch with -1 offsets (tests/diff).
	if sp := fetchRaw(t, addr, 12, "dr", 2, 1<<20); sp.ErrorCode != kerr.OffsetOutOfRange.Code || sp.LogStartOffset != -1 {
		t.Fatalf("fetch below the log start: error %d log start %d", sp.ErrorCode, sp.LogStartOffset)
	}
	// Lower than the log start: nothing moves.
	if r := del("dr", 0, 2); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete before 2 after 4: %+v", r)
	}
	// Past the high watermark: OFFSET_OUT_OF_RANGE.
	if r := del("dr", 0, 11); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete before 11 of 10: %+v", r)
	}
	// -1 is the high watermark.
	if r := del("dr", 0, -1); r.Err != nil || r.LowWatermark != 10 {
		t.Fatalf("delete before the high watermark: %+v", r)
	}
	if s := start(); s != 10 {
		t.Fatalf("log start %d after deleting everything", s)
	}
	// A compact-only topic refuses, an unknown partition is unknown.
	if r := del("dr-compact", 0, 0); !errors.Is(r.Err, kerr.PolicyViolation) {
		t.Fatalf("compacted topic: %+v", r)
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "dr"
	for _, c := range []struct {
		part int32
		off  int64
	}{{9, 0}, {1, -2}} {
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = c.part, c.off
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	req.SetVersion(2)
	resp := dialRaw(t, addr).roundTrip(req, 1).(*kmsg.DeleteRecordsResponse)
	for i, want := range []int16{kerr.UnknownTopicOrPartition.Code, kerr.OffsetOutOfRange.Code} {
		if p := resp.Topics[0].Partitions[i]; p.ErrorCode != want || p.LowWatermark != -1 {
			t.Errorf("case %d: error %d low watermark %d", i, p.ErrorCode, p.LowWatermark)
		}
	}

	// The log start survives a restart; new records follow it.
	cl.Close()
	b.Close()
	_, addr = startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	cl = newFranz(t, addr)
	adm = kadm.NewClient(cl)
	if s := start(); s != 10 {
		t.Fatalf("log start %d after restart, want 10", s)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dr", Key: []byte("k"), Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := consumeFranz(t, addr, "dr", 0, 1); got[0].Offset != 10 || string(got[0].Value) != "after" {
		t.Fatalf("after restart: %d %q", got[0].Offset, got[0].Value)
	}
	// Legacy clients see it too (ListOffsets v0 earliest).
	lreq := kmsg.NewPtrListOffsetsRequest()
	lreq.SetVersion(0)
	lreq.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "dr"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp, lp.MaxNumOffsets = -2, 1
	lt.Partitions = append(lt.Partitions, lp)
	lreq.Topics = append(lreq.Topics, lt)
	if p := dialRaw(t, addr).roundTrip(lreq, 1).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 || fmt.Sprint(p.OldStyleOffsets) != "[10]" {
		t.Fatalf("ListOffsets v0 earliest: %d %v", p.ErrorCode, p.OldStyleOffsets)
	}
}
