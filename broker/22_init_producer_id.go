package broker

// InitProducerId: v0-v5.
//
// Behavior: for idempotent producers (no transactional id) allocates a new
// producer id at epoch 0; ids are never reused, across restarts and kill -9
// (internal/meta persists a high-water mark ahead of what it hands out).
// As in Kafka, an idempotent producer that sends its old id and epoch (v3+,
// KIP-360) gets a fresh id; one of the two set without the other is
// INVALID_REQUEST.
//
// With a transactional id the transaction coordinator (internal/txn) answers:
// the first call gets a new producer id at epoch 0; later calls bump the
// epoch (a new id when it would overflow), which fences the previous
// producer: its open transaction is aborted first, markers written and
// durable, before the answer. A timeout above transaction.max.timeout.ms is
// INVALID_TRANSACTION_TIMEOUT. From v3 a producer may present its id and
// epoch (KIP-360): if it no longer owns the transactional id it is
// PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v4, as Kafka answers).

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/txn"
)

func init() { regKey(kmsg.InitProducerID, 0, 5, handleInitProducerID) }

func handleInitProducerID(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.version >= 3 && (req.ProducerID == -1) != (req.ProducerEpoch == -1) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	if req.TransactionalID != nil && *req.TransactionalID != "" {
		pe, err := r.c.b.txns.InitProducerID(*req.TransactionalID,
			time.Duration(req.TransactionTimeoutMillis)*time.Millisecond,
			txn.ProducerIDAndEpoch{ID: req.ProducerID, Epoch: req.ProducerEpoch})
		if err != nil {
			resp.ErrorCode = txnErr(err, r.version, 4)
			return resp, nil
		}
		resp.ProducerID, resp.ProducerEpoch = pe.ID, pe.Epoch
		return resp, nil
	}
	id, err := r.c.b.meta.NextProducerID()
	if err != nil {
		r.c.log.Error("allocating a producer id failed", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
