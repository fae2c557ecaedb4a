package broker

// AddOffsetsToTxn: v0-v4.
//
// Behavior: adds a consumer group to the ongoing transaction of a
// transactional id (starting one from Empty or Complete*), persisted before
// the answer, so that TxnOffsetCommit may commit the group's offsets in it.
// Errors as AddPartitionsToTxn: INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED
// (INVALID_PRODUCER_EPOCH before v2), CONCURRENT_TRANSACTIONS.
//
// Version notes: v3 is flexible; v4 only marks transaction version 2
// (KIP-890 part 2) clients, whose implicit adds need the
// transaction.version feature, which this broker does not finalize.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.AddOffsetsToTxn, 0, 4, handleAddOffsetsToTxn) }

func handleAddOffsetsToTxn(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if err := r.c.b.txns.AddOffsets(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group); err != nil {
		resp.ErrorCode = txnErr(err, r.version, 2)
	}
	return resp, nil
}
