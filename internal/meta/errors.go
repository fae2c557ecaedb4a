package meta

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the Store returns for a bad request wraps one
// of these (test with errors.Is); its Error() is a message for the client,
// worded like Kafka's, which the broker puts in the response's ErrorMessage.
var (
	ErrTopicExists              = errors.New("meta: topic already exists")
	ErrUnknownTopic             = errors.New("meta: unknown topic")
	ErrInvalidTopic             = errors.New("meta: invalid topic")
	ErrInvalidPartitions        = errors.New("meta: invalid partitions")
	ErrInvalidConfig            = errors.New("meta: invalid config")
	ErrInvalidReplicationFactor = errors.New("meta: invalid replication factor")
	// ErrCorrupt is returned by Open when the metadata file fails its checks.
	ErrCorrupt = errors.New("meta: corrupt metadata file")
	// ErrProducerIDsExhausted is returned when no producer id is left.
	ErrProducerIDsExhausted = errors.New("meta: producer ids exhausted")
)

// kafkaError is a sentinel plus the message a Kafka client should see. Its
// Error() is only the message: "meta: invalid config: Invalid value ..."
// would leak our package layout into every client's error log.
type kafkaError struct {
	kind error
	msg  string
}

func (e *kafkaError) Error() string { return e.msg }
func (e *kafkaError) Unwrap() error { return e.kind }

// errorf returns an error that wraps kind and reads as the formatted message.
func errorf(kind error, format string, args ...any) error {
	return &kafkaError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
