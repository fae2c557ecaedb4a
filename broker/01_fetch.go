package broker

// Fetch: v0-v17.
//
// Behavior: reads whole batches from each partition below its high
// watermark (invariant 2) — the batch containing the fetch offset first, so
// an offset inside a batch returns that batch. max_bytes and each
// partition's max bytes are honoured, except that from v3 the first
// partition with data may return one batch larger than both (KIP-74); v0-v2
// limits are hard, as in Kafka. When fewer than min_bytes are available the
// request long-polls: it waits on every requested partition's "high
// watermark advanced" signal until max_wait. OFFSET_OUT_OF_RANGE for
// offsets outside [log start, log end].
//
// Version notes: v0-v3 get message sets down-converted to magic 0 (v0-v1)
// or magic 1 (v2-v3) by records.DownConvert, as Kafka 3's lazy
// down-conversion does: control batches and headers dropped, records of an
// uncompressed batch below the fetch offset dropped, the first converted
// batch whole and the rest within the size read. A zstd batch cannot be
// down-converted (UNSUPPORTED_COMPRESSION_TYPE when it comes first), and a
// topic with compression.type=zstd answers every fetch below v10 with
// UNSUPPORTED_COMPRESSION_TYPE, as Kafka does. message.downconversion.enable
// =false answers v0-v3 with UNSUPPORTED_VERSION (Kafka 3's rule; Kafka 4
// dropped those versions). Fetch sessions (KIP-227, v7+) are answered
// sessionless: session id 0 tells the client no session was created, so it
// keeps sending full requests; an unknown session id gets
// FETCH_SESSION_ID_NOT_FOUND. v13+ addresses topics by id. Rack-aware
// replica selection (v11) has nothing to select on one node.
//
// Transactions (v4+): every partition reports its last stable offset (LSO:
// below the first transaction not yet ended by a durable marker). With
// isolation_level=read_committed, reads stop at the LSO instead of the
// high watermark (whole batches below it) and the partition lists the
// aborted transactions that overlap the records returned (producer id,
// first offset), from the log's aborted-transaction index, so the client
// drops their records; control batches are returned as they are, and
// clients skip them. read_uncommitted gets a null list, as from Kafka.

import (
	"errors"
	"math"
	"reflect"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/records"
)

func init() { regKey(kmsg.Fetch, 0, 17, handleFetch) }

func handleFetch(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FetchRequest)
	b := r.c.b
	if r.version >= 7 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		switch {
		case req.SessionID != 0:
			resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
			return resp, nil
		case req.SessionEpoch > 0:
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
			return resp, nil
		}
	}

	maxWait := time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond
	deadline := time.Now().Add(maxWait)
	var timer *time.Timer
	arena := getFetchArena()
	r.release = arena.release // once the writer has encoded the response
	var splice *fetchSplice
	if r.version >= 4 && r.c.sendfile {
		// From v4 records are sent as stored (no down-conversion): from
		// the files, on a plaintext connection (fetch_splice.go).
		splice = &fetchSplice{}
		r.splice = splice
		r.release = func() {
			splice.release()
			arena.release()
		}
	}
	for {
		// Take the wake-up signals before reading so an append between the
		// read and the wait is not missed.
		notify := collectNotify(b, req, r.version)
		arena.reset() // a response read before is dropped
		if splice != nil {
			splice.release()
		}
		resp, n, hasErr := readFetch(b, req, r.version, arena, splice)
		r.sizeHint = fetchSizeHint(resp, n)
		if splice != nil {
			r.sizeHint -= splice.bytes // the spans are not encoded
		}
		remaining := time.Until(deadline)
		if n >= int(req.MinBytes) || hasErr || remaining <= 0 || len(notify) == 0 {
			if timer != nil {
				timer.Stop()
			}
			return resp, nil
		}
		if timer == nil {
			timer = time.NewTimer(remaining)
		}
		if !waitAny(notify, timer.C, b.stopping) {
			return resp, nil // timed out or shutting down: what we have
		}
	}
}

// fetchTopic resolves a request topic by name or, from v13, by id.
func fetchTopic(b *Broker, rt *kmsg.FetchRequestTopic, version int16) (*topicState, int16) {
	if version >= 13 {
		if ts := b.topicByID(rt.TopicID); ts != nil {
			return ts, 0
		}
		return nil, kerr.UnknownTopicID.Code
	}
	if ts := b.topic(rt.Topic); ts != nil {
		return ts, 0
	}
	return nil, kerr.UnknownTopicOrPartition.Code
}

func collectNotify(b *Broker, req *kmsg.FetchRequest, version int16) []<-chan struct{} {
	var chans []<-chan struct{}
	for i := range req.Topics {
		ts, _ := fetchTopic(b, &req.Topics[i], version)
		for _, rp := range req.Topics[i].Partitions {
			if p := ts.partition(rp.Partition); p != nil {
				chans = append(chans, p.Notify())
			}
		}
	}
	return chans
}

// readFetch builds one response from what is readable now. It returns the
// record bytes gathered and whether any partition has an error.
//
// With splice set, records of at least spliceMinBytes are not read but left
// in the segment files: the partition's records are a marker and splice
// holds the span (fetch_splice.go).
func readFetch(b *Broker, req *kmsg.FetchRequest, version int16, arena *fetchArena, splice *fetchSplice) (*kmsg.FetchResponse, int, bool) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	budget := math.MaxInt32
	if version >= 3 && req.MaxBytes >= 0 {
		budget = int(req.MaxBytes)
	}
	total, hasErr := 0, false
	readCommitted := version >= 4 && req.IsolationLevel == 1
	for i := range req.Topics {
		rt := &req.Topics[i]
		ts, code := fetchTopic(b, rt, version)
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			// Never null: kmsg would encode nil as size -1, which Kafka
			// never sends and librdkafka rejects ("invalid MessageSetSize").
			sp.RecordBatches = []byte{}
			p := ts.partition(rp.Partition)
			switch {
			case code != 0:
				sp.ErrorCode = code
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				sp.ErrorCode = checkLeaderEpoch(rp.CurrentLeaderEpoch)
				if sp.ErrorCode == 0 && version < 10 && ts.conv.codec == records.CodecZstd {
					sp.ErrorCode = kerr.UnsupportedCompressionType.Code
				}
				if sp.ErrorCode == 0 && version <= 3 && !ts.conv.downConvert {
					sp.ErrorCode = kerr.UnsupportedVersion.Code
				}
			}
			if sp.ErrorCode != 0 {
				hasErr = true
				sp.AbortedTransactions = noAborted(version)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			limit := min(int(rp.PartitionMaxBytes), budget-total)
			// KIP-74 (v3+): only until some partition returned data.
			minOne := total == 0 && version >= 3
			var res klog.ReadResult
			var err error
			spanned := 0 // record bytes left in the files, for splice
			switch {
			case (limit > 0 || minOne) && splice != nil:
				var sp klog.Span
				res, sp, err = p.ReadSpan(rp.FetchOffset, max(limit, 0), minOne, readCommitted)
				switch {
				case sp.Len >= spliceMinBytes:
					spanned = sp.Len
					res.Records = splice.add(sp, len(resp.Topics), len(st.Partitions))
				case sp.Len > 0:
					res.Records, err = sp.ReadInto(arena.buf[len(arena.buf):])
					arena.took(res.Records)
					sp.Release()
				}
			case (limit > 0 || minOne) && readCommitted:
				res, err = p.ReadCommittedInto(arena.buf, rp.FetchOffset, max(limit, 0), minOne)
				arena.took(res.Records)
			case limit > 0 || minOne:
				res, err = p.ReadInto(arena.buf, rp.FetchOffset, max(limit, 0), minOne)
				arena.took(res.Records)
			default:
				res.LogStartOffset, res.HighWatermark, _ = p.Offsets()
				res.LastStableOffset = p.LastStableOffset()
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				hasErr = true
				if !errors.Is(err, klog.ErrOffsetOutOfRange) {
					b.log.Warn("fetch read failed", "topic", ts.meta.Name, "partition", rp.Partition, "offset", rp.FetchOffset, "err", err)
				}
				// Kafka answers an errored partition with -1 offsets.
				res = klog.ReadResult{HighWatermark: -1, LogStartOffset: -1, LastStableOffset: -1}
			}
			if version <= 3 && len(res.Records) > 0 {
				magic := int8(records.MagicV1)
				if version <= 1 {
					magic = records.MagicV0
				}
				conv, err := records.DownConvert(nil, res.Records, magic, rp.FetchOffset, len(res.Records), 0)
				if err != nil {
					sp.ErrorCode = errorCode(err)
					hasErr = true
					conv = nil
					if !errors.Is(err, records.ErrUnsupportedCodec) {
						b.log.Warn("fetch down-conversion failed", "topic", ts.meta.Name, "partition", rp.Partition, "offset", rp.FetchOffset, "err", err)
					}
				}
				res.Records = conv
			}
			sp.HighWatermark = res.HighWatermark
			sp.LastStableOffset = res.LastStableOffset
			if readCommitted && err == nil {
				sp.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(res.Aborted))
				for _, a := range res.Aborted {
					at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
					sp.AbortedTransactions = append(sp.AbortedTransactions, at)
				}
			}
			sp.LogStartOffset = res.LogStartOffset
			if res.Records != nil {
				sp.RecordBatches = res.Records
			}
			n := len(res.Records)
			if spanned > 0 {
				n = spanned
			}
			total += n
			if n > 0 {
				b.metrics.fetched(ts.meta.Name, n)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total, hasErr
}

// maxFetchArena bounds the read buffers kept in fetchArenaPool.
const maxFetchArena = 16 << 20

// fetchArenaPool holds *[]byte buffers that fetches read records into, so
// a fetch neither allocates nor zeroes what it reads (one copy, from the
// file; the writer's encoding is the second).
var fetchArenaPool sync.Pool

// fetchArena is one fetch's read buffer: each partition's records take
// the next part of buf (Partition.ReadInto). It is released when the
// response has been encoded, after which the records must not be used.
type fetchArena struct {
	buf  []byte
	want int // record bytes read, to size the next arena
}

func getFetchArena() *fetchArena {
	a := &fetchArena{}
	if bp, ok := fetchArenaPool.Get().(*[]byte); ok {
		a.buf = (*bp)[:0]
	}
	return a
}

func (a *fetchArena) reset() { a.buf, a.want = a.buf[:0], 0 }

// took accounts for records just read with ReadInto(a.buf, ...).
func (a *fetchArena) took(recs []byte) {
	if len(recs) == 0 {
		return
	}
	a.want += len(recs)
	if free := a.buf[len(a.buf):cap(a.buf)]; len(free) > 0 && &free[0] == &recs[0] {
		a.buf = a.buf[:len(a.buf)+len(recs)]
	}
}

func (a *fetchArena) release() {
	buf := a.buf
	a.buf = nil
	if a.want > cap(buf) && a.want <= maxFetchArena {
		buf = make([]byte, 0, min(a.want+a.want/4, maxFetchArena)) // the next fetch of this size fits
	}
	if cap(buf) == 0 || cap(buf) > maxFetchArena {
		return
	}
	buf = buf[:0]
	fetchArenaPool.Put(&buf)
}

// fetchSizeHint estimates the encoded size of resp carrying n record bytes,
// for the writer to size its buffer once (conn.writeLoop).
func fetchSizeHint(resp *kmsg.FetchResponse, n int) int {
	h := n + 64
	for i := range resp.Topics {
		h += 64 + len(resp.Topics[i].Topic) + 96*len(resp.Topics[i].Partitions)
	}
	return h
}

// maxSelectWait bounds the channels waitAny selects on directly
// (reflect.Select takes at most 65536 cases).
const maxSelectWait = 4096

// waitAny blocks until one of chans is closed (true), or timeout or done
// fires (false).
func waitAny(chans []<-chan struct{}, timeout <-chan time.Time, done <-chan struct{}) bool {
	if len(chans) == 1 {
		select {
		case <-chans[0]:
			return true
		case <-timeout:
		case <-done:
		}
		return false
	}
	if len(chans) <= maxSelectWait {
		// One select over all of them: no goroutine per partition.
		cases := make([]reflect.SelectCase, 0, len(chans)+2)
		for _, ch := range chans {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timeout)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(done)})
		i, _, _ := reflect.Select(cases)
		return i < len(chans)
	}
	woke := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, ch := range chans {
		go func(ch <-chan struct{}) {
			select {
			case <-ch:
				select {
				case woke <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}(ch)
	}
	select {
	case <-woke:
		return true
	case <-timeout:
	case <-done:
	}
	return false
}

// noAborted is the aborted-transaction list of a partition refused before
// any read (unknown topic or partition, leader epoch): empty, not null, as
// Kafka sends it (v4+). A read error such as OFFSET_OUT_OF_RANGE keeps it
// null, as Kafka does (tests/diff).
func noAborted(version int16) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	if version < 4 {
		return nil
	}
	return []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
}
