package records

import (
	"encoding/binary"
	"fmt"
)

// Control batches (attributes transactional|control) hold one control
// record written by the broker, never by a client (Validate refuses them).
// Wire format of that record, big-endian, part of Kafka's protocol:
//
//	key:   version int16 (0) | type int16
//	value: version int16 (0) | coordinatorEpoch int32   (ABORT and COMMIT)
//
// Consumers skip control batches; read_committed consumers use ABORT
// markers, with the aborted-transactions list of a fetch, to drop the
// records of aborted transactions.

// ControlType is the type in a control record's key.
type ControlType int16

// Control record types (Kafka's ControlRecordType); wire format.
const (
	ControlAbort  ControlType = 0
	ControlCommit ControlType = 1
)

// EndTxnMarker is the content of a transaction marker: COMMIT or ABORT, and
// the epoch of the transaction coordinator that wrote it.
type EndTxnMarker struct {
	Commit           bool
	CoordinatorEpoch int32
}

// BuildEndTxnMarker encodes the control batch that ends producer pid's
// transaction at epoch: magic 2, transactional and control, base sequence
// -1, base offset 0 (the log assigns it), one record at timestamp.
func BuildEndTxnMarker(pid int64, epoch int16, m EndTxnMarker, timestamp int64) ([]byte, error) {
	typ := ControlAbort
	if m.Commit {
		typ = ControlCommit
	}
	key := binary.BigEndian.AppendUint16([]byte{0, 0}, uint16(typ))
	value := binary.BigEndian.AppendUint32([]byte{0, 0}, uint32(m.CoordinatorEpoch))
	return Build(BuildOptions{
		ProducerID:    pid,
		ProducerEpoch: epoch,
		BaseSequence:  NoSequence,
		Transactional: true,
		Control:       true,
		BaseTimestamp: timestamp,
	}, []Record{{Key: key, Value: value}})
}

// ParseControlType returns the type of the control batch that is exactly b,
// from the key of its first record. Errors wrap ErrCorrupt: a batch that is
// not a control batch, has no record, or whose key is shorter than 4 bytes
// or has a negative version or type. Other types than ABORT and COMMIT are returned as they are.
func ParseControlType(b []byte) (ControlType, error) {
	var typ ControlType = -1
	seen := false
	h, err := Iterate(b, 0, func(r *Record) error {
		if seen {
			return nil
		}
		seen = true
		if len(r.Key) < 4 {
			return fmt.Errorf("%w: control record key of %d bytes", ErrCorrupt, len(r.Key))
		}
		// Kafka reads newer key versions as version 0 (ControlRecordType.parseTypeId).
		if v := int16(binary.BigEndian.Uint16(r.Key)); v < 0 {
			return fmt.Errorf("%w: control record key version %d", ErrCorrupt, v)
		}
		if t := ControlType(binary.BigEndian.Uint16(r.Key[2:])); t >= 0 {
			typ = t
			return nil
		}
		return fmt.Errorf("%w: control record type %d", ErrCorrupt, int16(binary.BigEndian.Uint16(r.Key[2:])))
	})
	if err != nil {
		return -1, err
	}
	if !h.IsControl() {
		return -1, fmt.Errorf("%w: not a control batch", ErrCorrupt)
	}
	if typ < 0 {
		return -1, fmt.Errorf("%w: control batch without a record", ErrCorrupt)
	}
	return typ, nil
}

// ParseEndTxnMarker decodes the transaction marker that is exactly b.
func ParseEndTxnMarker(b []byte) (EndTxnMarker, error) {
	typ, err := ParseControlType(b)
	if err != nil {
		return EndTxnMarker{}, err
	}
	if typ != ControlAbort && typ != ControlCommit {
		return EndTxnMarker{}, fmt.Errorf("%w: control type %d is not a transaction marker", ErrCorrupt, typ)
	}
	var m EndTxnMarker
	seen := false
	_, err = Iterate(b, 0, func(r *Record) error {
		if seen {
			return nil
		}
		seen = true
		if len(r.Value) < 6 {
			return fmt.Errorf("%w: transaction marker value of %d bytes", ErrCorrupt, len(r.Value))
		}
		m = EndTxnMarker{Commit: typ == ControlCommit, CoordinatorEpoch: int32(binary.BigEndian.Uint32(r.Value[2:]))}
		return nil
	})
	return m, err
}
