package broker

// DescribeTopicPartitions: v0.
//
// Behavior: describes topics' partitions in pages (KIP-966), as Kafka's
// DescribeTopicPartitionsRequestHandler and KRaftMetadataCache do. The
// topics are the requested ones (or every topic when none is named), those
// sorting at or after the cursor's topic, in name order; the first topic
// starts at the cursor's partition. Partitions are added until the limit —
// the request's response_partition_limit capped at
// max.request.partition.size.limit (2000), at least 1 — is reached; then
// next_cursor names the first partition left out (a topic the limit ends
// exactly at leaves the cursor on the next topic's partition 0). A named
// topic that does not exist gets UNKNOWN_TOPIC_OR_PARTITION (or
// INVALID_TOPIC_EXCEPTION for an illegal name), without using the limit; in
// an "all topics" request there are none. A cursor on a topic that is not
// in the request, or with a negative partition, makes every requested topic
// INVALID_REQUEST (Kafka's error response). Each partition has this node as
// leader, only replica and ISR, leader epoch 0 and empty ELR lists. ACLs:
// DESCRIBE on each topic; a named topic without it gets
// TOPIC_AUTHORIZATION_FAILED (no id, whether or not it exists, at the end
// of the answer), an "all topics" request leaves it out.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.DescribeTopicPartitions, 0, 0, handleDescribeTopicPartitions) }

// maxRequestPartitionSizeLimit is Kafka's max.request.partition.size.limit.
const maxRequestPartitionSizeLimit = 2000

func handleDescribeTopicPartitions(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeTopicPartitionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	b := r.c.b

	all := len(req.Topics) == 0
	cursorTopic := ""
	if req.Cursor != nil {
		cursorTopic = req.Cursor.Topic
	}
	set := make(map[string]bool)
	if all {
		for _, ts := range b.allTopics() {
			if ts.meta.Name >= cursorTopic {
				set[ts.meta.Name] = true
			}
		}
	} else {
		for _, rt := range req.Topics {
			if rt.Topic >= cursorTopic {
				set[rt.Topic] = true
			}
		}
	}
	if req.Cursor != nil && ((!all && !set[req.Cursor.Topic]) || req.Cursor.Partition < 0) {
		for _, rt := range req.Topics {
			st := kmsg.NewDescribeTopicPartitionsResponseTopic()
			name := rt.Topic
			st.Topic = &name
			st.ErrorCode = kerr.InvalidRequest.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range set {
			if !yield(n) {
				return
			}
		}
	})

	var denied []kmsg.DescribeTopicPartitionsResponseTopic
	names = slices.DeleteFunc(names, func(name string) bool {
		if r.authorize(auth.OpDescribe, auth.ResourceTopic, name) {
			return false
		}
		if !all {
			st := kmsg.NewDescribeTopicPartitionsResponseTopic()
			n := name
			st.Topic, st.ErrorCode = &n, kerr.TopicAuthorizationFailed.Code
			denied = append(denied, st)
		}
		return true
	})

	remaining := max(min(int(req.ResponsePartitionLimit), maxRequestPartitionSizeLimit), 1)
	for _, name := range names {
		if remaining == 0 {
			c := kmsg.NewDescribeTopicPartitionsResponseNextCursor()
			c.Topic, c.Partition = name, 0
			resp.NextCursor = &c
			break
		}
		ts := b.topic(name)
		st := kmsg.NewDescribeTopicPartitionsResponseTopic()
		n := name
		st.Topic = &n
		if ts == nil {
			if all {
				continue
			}
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if meta.ValidateTopicName(name) != nil {
				st.ErrorCode = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = ts.meta.ID
		st.IsInternal = isInternalTopic(name)
		st.AuthorizedOperations = topicOps
		start := 0
		if req.Cursor != nil && name == cursorTopic {
			start = int(req.Cursor.Partition)
		}
		upper := min(len(ts.parts), start+remaining)
		for i := start; i < upper; i++ {
			sp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
			sp.Partition, sp.LeaderID, sp.LeaderEpoch = int32(i), b.cfg.NodeID, leaderEpoch
			sp.Replicas, sp.ISR = []int32{b.cfg.NodeID}, []int32{b.cfg.NodeID}
			sp.EligibleLeaderReplicas, sp.LastKnownELR, sp.OfflineReplicas = []int32{}, []int32{}, []int32{}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
		if upper < len(ts.parts) {
			c := kmsg.NewDescribeTopicPartitionsResponseNextCursor()
			c.Topic, c.Partition = name, int32(upper)
			resp.NextCursor = &c
			break
		}
		remaining -= max(upper-start, 0)
	}
	resp.Topics = append(resp.Topics, denied...)
	return resp, nil
}

// isInternalTopic is Kafka's Topic.isInternal.
func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}
