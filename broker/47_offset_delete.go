package broker

// OffsetDelete: v0.
//
// Behavior (KIP-496): deletes committed offsets of a group. An Empty group
// loses them all; a consumer group with members loses those of topics none
// of its members subscribes to (the others get GROUP_SUBSCRIBED_TO_TOPIC;
// subscriptions are read from the members' consumer protocol metadata); any
// other group with members refuses with NON_EMPTY_GROUP, an unknown group
// with GROUP_ID_NOT_FOUND. A group-level error is answered without
// partitions. Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
// The answer comes once the tombstones are durable.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() { regKey(kmsg.OffsetDelete, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	b := r.c.b
	topics := make([]group.FetchTopic, len(req.Topics))
	for i, t := range req.Topics {
		topics[i].Topic = t.Topic
		for _, p := range t.Partitions {
			topics[i].Partitions = append(topics[i].Partitions, p.Partition)
		}
	}
	r.wait = func() {
		var res group.DeleteOffsetsResult
		c, err := b.coordinator()
		if err == nil {
			res, err = awaitGroup(b, c.DeleteOffsets(req.Group, topics))
		}
		if err == nil {
			err = res.Err
		}
		if err != nil {
			resp.ErrorCode = errorCode(err)
			return
		}
		for i, t := range topics {
			st := kmsg.NewOffsetDeleteResponseTopic()
			st.Topic = t.Topic
			for j, p := range t.Partitions {
				sp := kmsg.NewOffsetDeleteResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, errorCode(res.Errs[i][j])
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	return resp, nil
}
