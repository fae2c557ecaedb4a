package broker

// AddPartitionsToTxn: v0-v5.
//
// Behavior: adds partitions to the ongoing transaction of a transactional
// id (starting one from Empty or Complete*), persisted before the answer.
// Partitions of unknown topics are UNKNOWN_TOPIC_OR_PARTITION and then, as
// in Kafka, every other partition of the request is OPERATION_NOT_ATTEMPTED
// and nothing is added. An unknown transactional id or another producer id
// is INVALID_PRODUCER_ID_MAPPING, another epoch PRODUCER_FENCED
// (INVALID_PRODUCER_EPOCH before v2), a transaction being ended
// CONCURRENT_TRANSACTIONS (retriable).
//
// Version notes: v4+ is the broker-to-coordinator form (KIP-890 part 1):
// many transactions per request, each either added or, with verify_only,
// only checked (a partition not in the ongoing transaction is
// INVALID_TXN_STATE). A single node verifies in process (internal/txn's
// Guard), so only other tools send it; it needs CLUSTER_ACTION.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/txn"
)

func init() { regKey(kmsg.AddPartitionsToTxn, 0, 5, handleAddPartitionsToTxn) }

// addPartitionsTopic is one topic of either request form.
type addPartitionsTopic struct {
	topic      string
	partitions []int32
}

// addPartitionsResult is a per-partition code list for one topic.
type addPartitionsResult struct {
	topic string
	parts []int32
	codes []int16
}

func handleAddPartitionsToTxn(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if r.version < 4 {
		topics := make([]addPartitionsTopic, len(req.Topics))
		for i, t := range req.Topics {
			topics[i] = addPartitionsTopic{t.Topic, t.Partitions}
		}
		for _, res := range addPartitions(r, req.TransactionalID, req.ProducerID, req.ProducerEpoch, false, topics) {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = res.topic
			for i, p := range res.parts {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, res.codes[i]
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	for _, rt := range req.Transactions {
		topics := make([]addPartitionsTopic, len(rt.Topics))
		for i, t := range rt.Topics {
			topics[i] = addPartitionsTopic{t.Topic, t.Partitions}
		}
		tr := kmsg.NewAddPartitionsToTxnResponseTransaction()
		tr.TransactionalID = rt.TransactionalID
		for _, res := range addPartitions(r, rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, rt.VerifyOnly, topics) {
			st := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			st.Topic = res.topic
			for i, p := range res.parts {
				sp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				sp.Partition, sp.ErrorCode = p, res.codes[i]
				st.Partitions = append(st.Partitions, sp)
			}
			tr.Topics = append(tr.Topics, st)
		}
		resp.Transactions = append(resp.Transactions, tr)
	}
	return resp, nil
}

// addPartitions adds (or verifies) the partitions of one transaction and
// returns a code per partition.
func addPartitions(r *request, id string, pid int64, epoch int16, verifyOnly bool, topics []addPartitionsTopic) []addPartitionsResult {
	b := r.c.b
	out := make([]addPartitionsResult, len(topics))
	var tps []txn.TP
	unknown := false
	for i, t := range topics {
		out[i] = addPartitionsResult{topic: t.topic, parts: t.partitions, codes: make([]int16, len(t.partitions))}
		ts := b.topic(t.topic)
		for j, p := range t.partitions {
			if ts.partition(p) == nil {
				out[i].codes[j] = kerr.UnknownTopicOrPartition.Code
				unknown = true
				continue
			}
			tps = append(tps, txn.TP{Topic: t.topic, Partition: p})
		}
	}
	setAll := func(code int16) {
		for i := range out {
			for j := range out[i].codes {
				if out[i].codes[j] == 0 {
					out[i].codes[j] = code
				}
			}
		}
	}
	if unknown {
		setAll(kerr.OperationNotAttempted.Code)
		return out
	}
	if verifyOnly {
		errs, err := b.txns.Verify(id, pid, epoch, tps)
		if err != nil {
			setAll(txnErr(err, r.version, 2))
			return out
		}
		k := 0
		for i := range out {
			for j := range out[i].codes {
				out[i].codes[j] = errorCode(errs[k])
				k++
			}
		}
		return out
	}
	if err := b.txns.AddPartitions(id, pid, epoch, tps); err != nil {
		setAll(txnErr(err, r.version, 2))
	}
	return out
}
