package broker

// EndTxn: v0-v5.
//
// Behavior: commits or aborts the ongoing transaction of a transactional
// id: PrepareCommit/PrepareAbort made durable, a COMMIT/ABORT marker
// appended to every partition of the transaction and fsynced, the
// transaction's offsets committed to their groups, CompleteCommit/
// CompleteAbort made durable; only then the answer (see internal/txn). A
// retry of an ended transaction with the same outcome succeeds; the other
// outcome, or ending without a transaction, is INVALID_TXN_STATE. Another
// producer id is INVALID_PRODUCER_ID_MAPPING, another epoch PRODUCER_FENCED
// (INVALID_PRODUCER_EPOCH before v2). If a marker cannot be written the
// answer is CONCURRENT_TRANSACTIONS and the coordinator retries.
//
// Version notes: v5 is transaction version 2 (KIP-890 part 2, the
// transaction.version feature is finalized at 2 in ApiVersions): the epoch
// is bumped as the transaction ends, the markers carry the new epoch, and
// the answer carries the producer id and epoch to continue with (a new id
// when the epoch would overflow). A retry with the previous epoch of a
// completed end gets the same answer; an abort with no transaction open
// succeeds and bumps the epoch.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.EndTxn, 0, 5, handleEndTxn) }

func handleEndTxn(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	pe, err := r.c.b.txns.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit, r.version >= 5)
	if err != nil {
		resp.ErrorCode = txnErr(err, r.version, 2)
		return resp, nil
	}
	if r.version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = pe.ID, pe.Epoch
	}
	return resp, nil
}
