package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchEmptyRecordsNotNull: an empty fetch answer carries a zero-length
// record set, never a null one (size -1). librdkafka rejects the latter with
// "invalid MessageSetSize -1" and loops forever; found with kcat.
func TestFetchEmptyRecordsNotNull(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	createTopic(t, addr, "empty", 1, nil)
	c := dialRaw(t, addr)
	for _, v := range []int16{4, 11, 12} {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(v)
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "empty"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		resp := c.roundTrip(req, int32(v)).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, p.ErrorCode)
		}
		if p.RecordBatches == nil {
			t.Fatalf("v%d: null record set for an empty partition", v)
		}
	}
}
