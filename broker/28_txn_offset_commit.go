package broker

// TxnOffsetCommit: v0-v5.
//
// Behavior: records offsets a transaction commits for a consumer group; the
// transaction coordinator keeps them (durably) until the transaction ends,
// and only a commit makes them the group's committed offsets. The producer
// must be the transactional id's current one (INVALID_PRODUCER_ID_MAPPING,
// INVALID_PRODUCER_EPOCH) and the group must have been added with
// AddOffsetsToTxn (INVALID_TXN_STATE otherwise). From v3 the group member
// is checked as OffsetCommit checks it (UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, FENCED_INSTANCE_ID), unless the request names no
// member. Unknown partitions are UNKNOWN_TOPIC_OR_PARTITION, metadata over
// offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE, each on its own
// partition; other errors apply to every partition.
//
// Version notes: v5 is transaction version 2 (KIP-890 part 2): the group
// is added to the transaction implicitly (no AddOffsetsToTxn needed),
// starting one if none is open.

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/txn"
)

func init() { regKey(kmsg.TxnOffsetCommit, 0, 5, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	b := r.c.b

	maxMeta := 4096
	if s, ok := b.cfg.BrokerConfigs["offset.metadata.max.bytes"]; ok {
		if v, err := strconv.Atoi(s); err == nil && v >= 0 {
			maxMeta = v
		}
	}
	type at struct{ i, j int }
	var todo []at
	var tps []txn.TP
	var offs []txn.Offset
	now := time.Now().UnixMilli()
	for i, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		ts := b.topic(rt.Topic)
		for j, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			md := ""
			if rp.Metadata != nil {
				md = *rp.Metadata
			}
			switch {
			case ts.partition(rp.Partition) == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(md) > maxMeta:
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				todo = append(todo, at{i, j})
				tps = append(tps, txn.TP{Topic: rt.Topic, Partition: rp.Partition})
				le := rp.LeaderEpoch
				if r.version < 2 {
					le = -1
				}
				offs = append(offs, txn.Offset{Offset: rp.Offset, LeaderEpoch: le, Metadata: md, CommitTime: now})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(todo) == 0 {
		return resp, nil
	}
	err := func() error {
		gc, err := b.coordinator()
		if err != nil {
			return err
		}
		if r.version >= 3 {
			if err := gc.ValidateTxnMember(req.Group, req.MemberID, req.InstanceID, req.Generation); err != nil {
				return err
			}
		}
		return b.txns.CommitOffsets(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group, tps, offs, r.version >= 5)
	}()
	if err != nil {
		code := errorCode(err)
		for _, a := range todo {
			resp.Topics[a.i].Partitions[a.j].ErrorCode = code
		}
	}
	return resp, nil
}
