package broker

// OffsetFetch: v0-v9.
//
// Behavior: every requested partition is answered; one never committed has
// offset -1, metadata "" and leader epoch -1 with no error, as does every
// partition of a group we do not know. Null topics (v2+) ask for every
// offset the group committed. Offsets are visible once durable. The group
// id may be empty, as Kafka allows for offsets.
//
// The request is processed on the connection's writer, after every earlier
// request of the connection was answered (see OffsetCommit).
//
// Version notes: v2 allows null topics and adds a top-level error code (a
// group-level error then has no partitions; before v2 each partition
// carries it); v5 adds the leader epoch; v6 is flexible; v7 adds
// require_stable (KIP-447): a partition whose offset an open transaction
// has committed (TxnOffsetCommit, transaction not ended) answers
// UNSTABLE_OFFSET_COMMIT with offset -1, and the client retries;
// v8 batches groups (KIP-709); v9 adds member id and epoch (KIP-848): a
// consumer-protocol group checks them as Kafka's
// ConsumerGroup.validateOffsetFetch does, unless the member id is null and
// the epoch negative (an admin, or a consumer outside the group): the
// member must exist (UNKNOWN_MEMBER_ID) and fetch at its current epoch
// (STALE_MEMBER_EPOCH), answered as the group's error. Classic groups
// ignore both. Not done: v10 (topic ids).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() { regKey(kmsg.OffsetFetch, 0, 9, handleOffsetFetch) }

func handleOffsetFetch(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	b := r.c.b

	fetch := func(c *group.Coordinator, groupID string, topics []group.FetchTopic, memberID *string, memberEpoch int32) group.FetchResult {
		if c == nil {
			_, err := b.coordinator()
			return group.FetchResult{Err: err}
		}
		res := c.Fetch(group.FetchRequest{Group: groupID, Topics: topics, RequireStable: req.RequireStable, MemberID: memberID, MemberEpoch: memberEpoch})
		if req.RequireStable {
			// KIP-447: an offset an open transaction has committed is not
			// stable yet; the client retries until the transaction ends.
			for i := range res.Topics {
				t := &res.Topics[i]
				for j := range t.Partitions {
					p := &t.Partitions[j]
					if p.Err == nil && b.txns.HasPendingOffsets(groupID, t.Topic, p.Partition) {
						*p = group.FetchPartition{Partition: p.Partition, Offset: -1, LeaderEpoch: -1, Err: kerr.UnstableOffsetCommit}
					}
				}
			}
		}
		return res
	}

	if r.version >= 8 {
		r.wait = func() {
			c := b.groups()
			for _, rg := range req.Groups {
				sg := kmsg.NewOffsetFetchResponseGroup()
				sg.Group = rg.Group
				var topics []group.FetchTopic
				if rg.Topics != nil {
					topics = make([]group.FetchTopic, len(rg.Topics))
					for i, t := range rg.Topics {
						topics[i] = group.FetchTopic{Topic: t.Topic, Partitions: t.Partitions}
					}
				}
				memberID, memberEpoch := rg.MemberID, rg.MemberEpoch
				if r.version < 9 {
					memberID, memberEpoch = nil, -1
				}
				res := fetch(c, rg.Group, topics, memberID, memberEpoch)
				sg.ErrorCode = errorCode(res.Err)
				for _, t := range res.Topics {
					st := kmsg.NewOffsetFetchResponseGroupTopic()
					st.Topic = t.Topic
					for _, p := range t.Partitions {
						sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
						sp.Partition, sp.Offset, sp.LeaderEpoch = p.Partition, p.Offset, p.LeaderEpoch
						sp.Metadata = kmsg.StringPtr(p.Metadata)
						sp.ErrorCode = errorCode(p.Err)
						st.Partitions = append(st.Partitions, sp)
					}
					sg.Topics = append(sg.Topics, st)
				}
				resp.Groups = append(resp.Groups, sg)
			}
		}
		return resp, nil
	}

	var topics []group.FetchTopic
	if req.Topics != nil || r.version < 2 {
		// Null topics mean "all" only from v2; before, an empty list is none.
		topics = make([]group.FetchTopic, len(req.Topics))
		for i, t := range req.Topics {
			topics[i] = group.FetchTopic{Topic: t.Topic, Partitions: t.Partitions}
		}
	}
	r.wait = func() {
		res := fetch(b.groups(), req.Group, topics, nil, -1)
		if res.Err != nil {
			code := errorCode(res.Err)
			if r.version >= 2 {
				resp.ErrorCode = code
				return
			}
			for _, t := range topics {
				st := kmsg.NewOffsetFetchResponseTopic()
				st.Topic = t.Topic
				for _, p := range t.Partitions {
					sp := kmsg.NewOffsetFetchResponseTopicPartition()
					sp.Partition, sp.Offset, sp.Metadata, sp.ErrorCode = p, -1, kmsg.StringPtr(""), code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return
		}
		for _, t := range res.Topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch = p.Partition, p.Offset, p.LeaderEpoch
				sp.Metadata = kmsg.StringPtr(p.Metadata)
				sp.ErrorCode = errorCode(p.Err)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	return resp, nil
}
