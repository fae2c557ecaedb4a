package broker

// EndTxn: v0-v4.
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
// Version notes: v5 (KIP-890 part 2: the epoch bumps on every end) is not
// offered: it belongs to transaction.version 2, which is not finalized here.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.EndTxn, 0, 4, handleEndTxn) }

func handleEndTxn(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if err := r.c.b.txns.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit); err != nil {
		resp.ErrorCode = txnErr(err, r.version, 2)
	}
	return resp, nil
}
