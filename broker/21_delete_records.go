package broker

// DeleteRecords: v0-v2.
//
// Behavior: moves each partition's log start offset up to the requested
// offset, as Kafka's Partition.deleteRecordsOnLeader does: -1 stands for
// the high watermark; an offset above the high watermark (or below -1) is
// OFFSET_OUT_OF_RANGE; an offset at or below the current log start changes
// nothing. The answer's low watermark is the log start offset afterwards.
// The new log start is persisted before we answer (internal/log's
// log-start-offset checkpoint), so fetches below it are OFFSET_OUT_OF_RANGE
// and ListOffsets earliest returns it, also after a restart; closed
// segments wholly below it are deleted. A topic whose cleanup.policy does
// not include "delete" is POLICY_VIOLATION, as in Kafka. An unknown
// partition is UNKNOWN_TOPIC_OR_PARTITION with low watermark -1. ACLs:
// DELETE on the topic (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes: v1 is v0 (throttling), v2 is flexible. The timeout is not
// needed: with one replica the low watermark has moved when we answer.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.DeleteRecords, 0, 2, handleDeleteRecords) }

func handleDeleteRecords(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	b := r.c.b
	for _, rt := range req.Topics {
		ts := b.topic(rt.Topic)
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		allowed := r.authorize(auth.OpDelete, auth.ResourceTopic, rt.Topic)
		deletable := ts != nil && meta.EffectiveLogConfig(ts.meta, b.brokerConfigs()).Delete
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			p := ts.partition(rp.Partition)
			switch {
			case !allowed:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !deletable:
				sp.ErrorCode = kerr.PolicyViolation.Code
			default:
				logStart, err := p.DeleteRecordsBefore(rp.Offset)
				sp.ErrorCode = errorCode(err)
				if err == nil {
					sp.LowWatermark = logStart
				} else if sp.ErrorCode != kerr.OffsetOutOfRange.Code {
					b.log.Warn("delete records failed", "topic", rt.Topic, "partition", rp.Partition, "offset", rp.Offset, "err", err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
