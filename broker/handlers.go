package broker

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/meta"
	"github.com/chronik-stream/chronik/internal/records"
)

// handler is a registered API: the versions we implement in full and the
// function that serves them. ApiVersions is built from this table, so what
// we advertise is exactly what is registered.
type handler struct {
	min, max int16
	fn       func(r *request) (kmsg.Response, error)
}

var handlers = map[int16]handler{}

// regKey registers the handler of an API key; called from each API file's
// init.
func regKey(key kmsg.Key, min, max int16, fn func(r *request) (kmsg.Response, error)) {
	if _, dup := handlers[key.Int16()]; dup {
		panic(fmt.Sprintf("API key %d registered twice", key))
	}
	if req := kmsg.RequestForKey(key.Int16()); req == nil || max > req.MaxVersion() {
		panic(fmt.Sprintf("API key %d v%d is beyond what kmsg encodes", key, max))
	}
	handlers[key.Int16()] = handler{min: min, max: max, fn: fn}
}

var errUnsupportedVersion = kerr.UnsupportedVersion.Code

// unsupportedVersion answers a request for a version we do not implement.
// Where the response of that key and version has a top-level error code we
// can encode, the client gets UNSUPPORTED_VERSION; otherwise (as Kafka does)
// the connection is closed with a log line.
func (c *conn) unsupportedVersion(key, version int16, corr int32, h handler, start time.Time) (*pending, error) {
	name := kmsg.NameForKey(key)
	resp := kmsg.ResponseForKey(key)
	if resp != nil && version >= 0 && version <= resp.MaxVersion() {
		resp.SetVersion(version)
		if f := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 && f.CanSet() {
			f.SetInt(int64(errUnsupportedVersion))
			c.log.Warn("unsupported request version; answered UNSUPPORTED_VERSION", "api", name, "version", version, "supported", fmt.Sprintf("%d-%d", h.min, h.max))
			return &pending{corr: corr, resp: resp, flexHdr: resp.IsFlexible(), start: start, key: key}, nil
		}
	}
	return nil, fmt.Errorf("%s v%d is not supported (we support v%d-v%d)", name, version, h.min, h.max)
}

// errorCode maps an internal error to the Kafka error code the client must
// see. One table, so a condition always gets the same code.
func errorCode(err error) int16 {
	var ke *kerr.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ke):
		return ke.Code
	case errors.Is(err, klog.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, klog.ErrInvalidTimestamp):
		return kerr.InvalidTimestamp.Code
	case errors.Is(err, klog.ErrMessageTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, klog.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, klog.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, klog.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, klog.ErrClosed):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, klog.ErrStorage):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, records.ErrUnsupportedCodec):
		return kerr.UnsupportedCompressionType.Code
	case errors.Is(err, records.ErrControlBatch), errors.Is(err, records.ErrInvalid), errors.Is(err, records.ErrUnsupported):
		return kerr.InvalidRecord.Code
	case errors.Is(err, records.ErrCorrupt), errors.Is(err, records.ErrShort):
		return kerr.CorruptMessage.Code
	case errors.Is(err, meta.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, meta.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, meta.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, meta.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, meta.ErrInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, meta.ErrInvalidReplicationFactor):
		return kerr.InvalidReplicationFactor.Code
	}
	return kerr.UnknownServerError.Code
}

// errMsg is the message for a response's ErrorMessage field, or nil.
func errMsg(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// checkLeaderEpoch checks a client's current leader epoch against ours
// (always 0 on a single node): -1 skips the check, a newer epoch is
// UNKNOWN_LEADER_EPOCH, an older one FENCED_LEADER_EPOCH.
func checkLeaderEpoch(epoch int32) int16 {
	switch {
	case epoch < 0 || epoch == leaderEpoch:
		return 0
	case epoch > leaderEpoch:
		return kerr.UnknownLeaderEpoch.Code
	}
	return kerr.FencedLeaderEpoch.Code
}

// leaderEpoch is the epoch of every partition we lead: a single node never
// changes leader.
const leaderEpoch = 0
