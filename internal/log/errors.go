package log

import (
	"errors"
	"fmt"
)

// Errors returned by a Partition. Validation errors from package records
// (records.ErrCorrupt, ErrInvalid, ErrUnsupported, ErrControlBatch) are
// returned wrapped, so errors.Is works for them too.
var (
	ErrOffsetOutOfRange     = errors.New("log: offset out of range")
	ErrMessageTooLarge      = errors.New("log: message too large")
	ErrOutOfOrderSequence   = errors.New("log: out of order sequence number")
	ErrInvalidProducerEpoch = errors.New("log: invalid producer epoch")
	ErrClosed               = errors.New("log: partition closed")
	// ErrInvalidTxnState: a non-transactional batch from a producer with a
	// transaction open on the partition.
	ErrInvalidTxnState = errors.New("log: invalid transaction state")
	// ErrInvalidTimestamp: a CreateTime record outside
	// message.timestamp.before/after.max.ms (see *TimestampError).
	ErrInvalidTimestamp = errors.New("log: invalid timestamp")
	// ErrStorage wraps every I/O error. Once a write or fsync fails the
	// partition is failed: every later Append and WaitDurable returns the
	// same error, like Pebble's LogWriter.
	ErrStorage = errors.New("log: storage error")
)

func storageErr(op, name string, err error) error {
	return fmt.Errorf("%w: %s %s: %w", ErrStorage, op, name, err)
}

// TimestampError is an append refused for records whose timestamps are out
// of the topic's bounds. It names the offending records by their index in
// the request's batch, as Kafka's produce response does.
type TimestampError struct {
	Indexes []int32
	Msg     string
}

func (e *TimestampError) Error() string { return e.Msg }
func (e *TimestampError) Unwrap() error { return ErrInvalidTimestamp }
