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
// Version notes: transactional ids need the transaction coordinator, which
// does not exist yet: they are refused with INVALID_REQUEST, a fatal error
// for clients, rather than a retriable one they would loop on.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	if req.TransactionalID != nil {
		r.c.log.Warn("transactional producer refused: transactions are not supported yet", "transactional_id", *req.TransactionalID)
		resp.ErrorCode = kerr.InvalidRequest.Code
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
