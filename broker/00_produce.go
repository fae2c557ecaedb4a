package broker

// Produce: v0-v13.
//
// Behavior: from v3 each partition's records must be exactly one magic-2
// record batch (Kafka's rule), which internal/log validates (CRC-32C,
// lengths, count against last offset delta, codec, no control batches,
// max.message.bytes), deduplicates for idempotent producers and appends
// under the partition lock. With acks=1 or acks=-1 the response is written
// only after the fsync that covers every appended batch (invariant 1); the
// append itself happens in arrival order on the connection's reader, the
// wait on its writer, so a pipelining client keeps the disk busy. acks=0 is
// never answered; if it fails, the connection is closed, as Kafka does, so
// the client notices.
//
// compression.type: "producer" (the default) stores the producer's batch
// byte for byte (invariant 4). A codec or "uncompressed" makes us rebuild a
// batch in another codec with that codec (records.Recompress: records,
// producer id, epoch, sequence and timestamps kept, CRC recomputed), as
// Kafka's LogValidator does; decompression is bounded, so a bomb is
// CORRUPT_MESSAGE.
//
// Version notes: v0-v2 carry magic 0 or 1 message sets, which we convert
// into one magic-2 batch (records.ConvertLegacy: CRC-32 checked, compressed
// wrappers unwrapped, keys, values and magic-1 timestamps kept, magic 0
// without timestamps) compressed with the topic's compression.type, the
// wrapper's codec for "producer". Like Kafka, a v0-v2 request may also carry
// a magic-2 batch, and an empty message set appends nothing (offset -1).
// zstd needs v7+ (UNSUPPORTED_COMPRESSION_TYPE below). v13 addresses topics
// by id (KIP-516).
//
// Transactions: a transactional batch is appended only if its producer id
// and epoch own an ongoing transaction that contains the partition
// (INVALID_PRODUCER_ID_MAPPING, INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE
// otherwise), checked and appended under the transaction's guard so that
// no batch can follow the transaction's marker. From v12, as in Kafka 4, a
// partition not yet in the transaction is added to it implicitly (KIP-890
// part 2's produce path). A request carrying
// transactional batches without a transactional id is
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as from Kafka. Control batches from
// clients are INVALID_RECORD.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/txn"
)

func init() { regKey(kmsg.Produce, 0, 13, handleProduce) }

func handleProduce(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	b := r.c.b

	type appended struct {
		p    *klog.Partition
		last int64
		rp   *kmsg.ProduceResponseTopicPartition
	}
	var waits []appended
	failed := false

	badAcks := req.Acks != 0 && req.Acks != 1 && req.Acks != -1
	// A transactional produce holds its transaction from the check that its
	// partitions are in it until its batches are appended (internal/txn).
	var guard txnGuard
	defer guard.release()
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		// Sized up front: waits keep pointers into this slice.
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		var ts *topicState
		unknown := kerr.UnknownTopicOrPartition.Code
		if r.version >= 13 {
			ts = b.topicByID(rt.TopicID)
			unknown = kerr.UnknownTopicID.Code
		} else {
			ts = b.topic(rt.Topic)
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			fail := func(code int16, err error) {
				sp.ErrorCode = code
				if err != nil {
					sp.ErrorMessage = errMsg(err)
				}
				failed = true
			}
			p := ts.partition(rp.Partition)
			switch {
			case badAcks:
				fail(kerr.InvalidRequiredAcks.Code, nil)
			case ts == nil && b.isOffsetsTopic(r.version, rt.Topic, rt.TopicID):
				// As Kafka: "Cannot append to internal topic".
				fail(kerr.InvalidTopicException.Code, errors.New("cannot append to internal topic "+offsetsTopic))
			case ts == nil:
				fail(unknown, nil)
			case p == nil:
				fail(kerr.UnknownTopicOrPartition.Code, nil)
			default:
				recs, code, err := produceRecords(r.version, rp.Records, &ts.conv, p.Config().MaxMessageBytes)
				if code != 0 {
					fail(code, err)
					break
				}
				if recs == nil {
					break // an empty legacy message set: nothing to append
				}
				if h, _ := records.ParseHeader(recs); h.IsTransactional() {
					if req.TransactionID == nil {
						// As Kafka: authorizing a null transactional id fails.
						fail(kerr.TransactionalIDAuthorizationFailed.Code, errors.New("transactional records need the request's transactional id"))
						break
					}
					implicit := r.version >= 12
					if code, err := guard.check(b, h, *req.TransactionID, ts.meta.Name, rp.Partition, implicit); code != 0 {
						fail(code, err)
						break
					}
				}
				res, err := p.Append(recs)
				if err != nil {
					fail(errorCode(err), err)
					sp.LogStartOffset = appendErrLogStart(p, sp.ErrorCode)
					var te *klog.TimestampError
					if errors.As(err, &te) && r.version >= 8 {
						for _, i := range te.Indexes {
							er := kmsg.NewProduceResponseTopicPartitionErrorRecord()
							er.RelativeOffset = i
							er.ErrorMessage = &te.Msg
							sp.ErrorRecords = append(sp.ErrorRecords, er)
						}
					}
					b.metrics.produceError(ts.meta.Name)
					break
				}
				sp.BaseOffset = res.BaseOffset
				sp.LogAppendTime = res.LogAppendTime
				sp.LogStartOffset = res.LogStartOffset
				if !res.Duplicate {
					b.metrics.produced(ts.meta.Name, len(rp.Records), res.LastOffset-res.BaseOffset+1)
				}
				st.Partitions = append(st.Partitions, sp)
				waits = append(waits, appended{p: p, last: res.LastOffset, rp: &st.Partitions[len(st.Partitions)-1]})
				continue
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		r.noResponse = true
		if failed {
			r.c.log.Warn("acks=0 produce failed; closing the connection so the client notices")
			return nil, errors.New("acks=0 produce failed")
		}
		return nil, nil
	}
	if len(waits) > 0 {
		ctx := b.ctx
		r.wait = func() {
			for _, w := range waits {
				if err := w.p.WaitDurable(ctx, w.last); err != nil {
					w.rp.ErrorCode = errorCode(err)
					if errors.Is(err, context.Canceled) {
						w.rp.ErrorCode = kerr.NotLeaderForPartition.Code
					}
					w.rp.BaseOffset, w.rp.LogAppendTime = -1, -1
					w.rp.ErrorMessage = errMsg(err)
				}
			}
		}
	}
	return resp, nil
}

// produceRecords applies the request-level checks to one partition's
// records and returns the batch to append, converted from a legacy message
// set or recompressed for the topic's compression.type where needed; nil
// for an empty legacy set. Like Kafka, a batch to recompress must fit
// max.message.bytes as sent, and (checked by the log) as stored.
func produceRecords(version int16, recs []byte, conv *conversion, maxMessageBytes int) ([]byte, int16, error) {
	if version < 3 {
		if len(recs) == 0 {
			return nil, 0, nil
		}
		if m, ok := records.Magic(recs); !ok || m != records.MagicV2 {
			b, err := records.ConvertLegacy(recs, conv.codec, conv.level, 0)
			if err != nil {
				return nil, errorCode(err), err
			}
			return b, 0, nil
		}
	}
	if code, err := checkProduceRecords(recs); code != 0 {
		return nil, code, err
	}
	h, _ := records.ParseHeader(recs) // checked above
	if h.Codec() == records.CodecZstd && version < 7 {
		return nil, kerr.UnsupportedCompressionType.Code, fmt.Errorf("produce requests with version %d are not allowed to use ZStandard compression", version)
	}
	if conv.codec != records.CodecProducer && h.Codec() != conv.codec {
		if len(recs) > maxMessageBytes {
			return nil, kerr.MessageTooLarge.Code, fmt.Errorf("batch of %d bytes exceeds max.message.bytes %d", len(recs), maxMessageBytes)
		}
		b, err := records.Recompress(recs, conv.codec, conv.level, 0)
		if err != nil {
			return nil, errorCode(err), err
		}
		return b, 0, nil
	}
	return recs, 0, nil
}

// checkProduceRecords applies the request-level rules Kafka applies before
// the log sees a batch: exactly one record batch, magic 2, not a control
// batch.
func checkProduceRecords(recs []byte) (int16, error) {
	n, err := records.PeekSize(recs)
	if err != nil {
		return kerr.InvalidRecord.Code, errors.New("produce requests of version 3 and above must contain exactly one record batch")
	}
	if n != len(recs) {
		if n < len(recs) {
			return kerr.InvalidRecord.Code, errors.New("produce requests of version 3 and above must contain exactly one record batch")
		}
		return kerr.InvalidRecord.Code, fmt.Errorf("record batch declares %d bytes but %d were sent", n, len(recs))
	}
	h, err := records.ParseHeader(recs)
	if err != nil {
		if errors.Is(err, records.ErrUnsupported) {
			return kerr.InvalidRecord.Code, errors.New("produce requests of version 3 and above must contain record batches of magic 2")
		}
		return kerr.CorruptMessage.Code, err
	}
	if h.IsControl() {
		return kerr.InvalidRecord.Code, errors.New("control batches are written by the transaction coordinator only")
	}
	return 0, nil
}

// txnGuard is a produce request's hold on its producer's transaction.
type txnGuard struct {
	g   *txn.Guard
	pid int64
	err error
}

// check verifies that the transactional batch h may be appended to the
// partition: its producer owns an ongoing transaction at its epoch that
// contains the partition. The first call takes the guard. With implicit
// (produce v12+, as Kafka 4 does for every version 2 client and accepts
// from version 1 clients too), a partition not yet in the transaction is
// added to it first (durably), starting the transaction if none is open.
func (tg *txnGuard) check(b *Broker, h records.Header, id, topic string, partition int32, implicit bool) (int16, error) {
	if tg.g == nil && tg.err == nil {
		tg.pid = h.ProducerID
		tg.g, tg.err = b.txns.BeginProduce(h.ProducerID, h.ProducerEpoch)
	}
	if h.ProducerID != tg.pid {
		return kerr.InvalidRequest.Code, errors.New("a produce request carries batches of more than one transactional producer")
	}
	missing := tg.err == nil && !tg.g.Contains(topic, partition)
	if implicit && (missing || errors.Is(tg.err, kerr.InvalidTxnState)) {
		// Adding takes the transaction's write lock: let go of ours. What
		// this request appended before stays ahead of any marker.
		tg.release()
		if err := b.txns.AddPartitions(id, h.ProducerID, h.ProducerEpoch, []txn.TP{{Topic: topic, Partition: partition}}); err != nil {
			tg.err = err
			if errors.Is(err, kerr.ProducerFenced) {
				tg.err = kerr.InvalidProducerEpoch // produce has no PRODUCER_FENCED
			}
		} else {
			tg.g, tg.err = b.txns.BeginProduce(h.ProducerID, h.ProducerEpoch)
		}
	}
	switch {
	case tg.err != nil:
		return errorCode(tg.err), tg.err
	case !tg.g.Contains(topic, partition):
		return kerr.InvalidTxnState.Code, fmt.Errorf("partition %s-%d was not added to the transaction", topic, partition)
	}
	return 0, nil
}

func (tg *txnGuard) release() {
	if tg.g != nil {
		tg.g.Release()
		tg.g = nil
	}
}

// isOffsetsTopic reports whether a produce names the internal offsets
// topic (by name, or by id from v13).
func (b *Broker) isOffsetsTopic(version int16, name string, id [16]byte) bool {
	if version >= 13 {
		n, ok := b.groupTopicName(id)
		return ok && n == offsetsTopic
	}
	_, ok := b.groupTopicID(name)
	return ok && name == offsetsTopic
}

// appendErrLogStart is the log start offset Kafka reports with a failed
// append: -1 where the batch never reached the log's validation (too large,
// corrupt, storage failure), the partition's log start otherwise (invalid
// records, sequence and epoch errors).
func appendErrLogStart(p *klog.Partition, code int16) int64 {
	switch code {
	case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code, kerr.CorruptMessage.Code, kerr.KafkaStorageError.Code, kerr.NotLeaderForPartition.Code:
		return -1
	}
	logStart, _, _ := p.Offsets()
	return logStart
}
