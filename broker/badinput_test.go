package broker_test

// Bad input over raw TCP (invariant 7: a broken request or client affects its
// own connection only). Every case runs while another client produces and
// fetches on its own connections; each case checks that this client kept
// making progress and that a fresh connection is still served.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

// Kafka error codes the cases expect.
const (
	codeCorruptMessage     = 2
	codeUnsupportedVersion = 35
	codeInvalidRecord      = 87
)

// ---- framing -------------------------------------------------------------

// frame builds a request frame: [int32 size][int16 key][int16 version]
// [int32 correlation][int16 client id length][client id], a tagged-field
// byte when the header is flexible (v2), then body.
func frame(key, version int16, corr int32, clientID string, flexibleHdr bool, body []byte) []byte {
	b := make([]byte, 4, 4+10+len(clientID)+1+len(body))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if flexibleHdr {
		b = append(b, 0)
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// encodeReq frames a kmsg request at the version it is set to.
func encodeReq(req kmsg.Request, corr int32) []byte {
	return frame(req.Key(), req.GetVersion(), corr, "badinput", req.IsFlexible(), req.AppendTo(nil))
}

// rawConn is a client connection that speaks the protocol by hand.
type rawConn struct {
	t  testing.TB
	nc net.Conn
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

// send writes b; write errors are returned (the broker may have closed the
// connection already when b is garbage).
func (c *rawConn) send(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

func (c *rawConn) mustSend(b []byte) {
	c.t.Helper()
	if err := c.send(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// closeWrite half-closes our side, so a broker waiting for the rest of a
// frame sees EOF.
func (c *rawConn) closeWrite() {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// readFrame reads one response frame: its correlation id and what follows.
func (c *rawConn) readFrame(timeout time.Duration) (int32, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	var hdr [8]byte
	if _, err := io.ReadFull(c.nc, hdr[:4]); err != nil {
		return 0, nil, err
	}
	size := int32(binary.BigEndian.Uint32(hdr[:4]))
	if size < 4 || size > 64<<20 {
		return 0, nil, fmt.Errorf("response frame size %d", size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(c.nc, buf); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(buf)), buf[4:], nil
}

// decodeResp decodes the body of req's response (skipping the response
// header's tagged fields where the header is flexible; never for
// ApiVersions).
func decodeResp(req kmsg.Request, body []byte) (kmsg.Response, error) {
	resp := req.ResponseKind()
	if req.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		if len(body) == 0 || body[0] != 0 {
			return nil, fmt.Errorf("response header tagged fields: %x", body[:min(len(body), 8)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decoding %s v%d response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}

// roundTrip sends req with correlation id corr and reads its response.
func (c *rawConn) roundTrip(req kmsg.Request, corr int32) kmsg.Response {
	c.t.Helper()
	c.mustSend(encodeReq(req, corr))
	return c.read(req, corr)
}

// read reads the response to req, which was sent with correlation id corr.
func (c *rawConn) read(req kmsg.Request, corr int32) kmsg.Response {
	c.t.Helper()
	got, body, err := c.readFrame(10 * time.Second)
	if err != nil {
		c.t.Fatalf("reading the %s response (correlation %d): %v", kmsg.NameForKey(req.Key()), corr, err)
	}
	if got != corr {
		c.t.Fatalf("response correlation id %d, want %d (%s)", got, corr, kmsg.NameForKey(req.Key()))
	}
	resp, err := decodeResp(req, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// expectClosed waits for the broker to close the connection. With
// allowResponses, whole response frames before the close are fine (the
// garbage may have parsed as a request); otherwise any byte is an error.
func (c *rawConn) expectClosed(within time.Duration, allowResponses bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	buf := make([]byte, 4096)
	for {
		c.nc.SetReadDeadline(deadline)
		n, err := c.nc.Read(buf)
		if n > 0 && !allowResponses {
			c.t.Fatalf("expected the connection to be closed, read %d bytes: %x", n, buf[:min(n, 32)])
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("the broker did not close the connection within %v", within)
		}
		return // EOF or reset
	}
}

// ---- record batches --------------------------------------------------------

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(v)))
	return append(b, v...)
}

// appendRecord appends one magic-2 record.
func appendRecord(dst []byte, offsetDelta int, key, value []byte) []byte {
	var body []byte
	body = append(body, 0)                               // attributes
	body = binary.AppendVarint(body, 0)                  // timestamp delta
	body = binary.AppendVarint(body, int64(offsetDelta)) // offset delta
	body = appendVarBytes(body, key)
	body = appendVarBytes(body, value)
	body = binary.AppendVarint(body, 0) // headers
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

// makeBatch builds a magic-2 batch around already encoded records, with a
// correct length and CRC-32C; the caller chooses the count fields so they
// can disagree with the records.
func makeBatch(attrs int16, count, lastOffsetDelta int32, recs []byte) []byte {
	b := make([]byte, 61, 61+len(recs))
	binary.BigEndian.PutUint32(b[8:], uint32(61-12+len(recs)))
	binary.BigEndian.PutUint32(b[12:], 0xffffffff) // partition leader epoch -1
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], uint16(attrs))
	binary.BigEndian.PutUint32(b[23:], uint32(lastOffsetDelta))
	ts := time.Now().UnixMilli()
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], 0xffffffffffffffff) // producer id -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)             // producer epoch -1
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)         // base sequence -1
	binary.BigEndian.PutUint32(b[57:], uint32(count))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// recordsOf encodes values as consecutive records.
func recordsOf(values ...string) []byte {
	var recs []byte
	for i, v := range values {
		recs = appendRecord(recs, i, nil, []byte(v))
	}
	return recs
}

// validBatch is a well-formed uncompressed batch of values.
func validBatch(values ...string) []byte {
	return makeBatch(0, int32(len(values)), int32(len(values)-1), recordsOf(values...))
}

// legacyMessage builds a magic 0 or 1 message (a one-message message set).
func legacyMessage(magic int8, key, value []byte) []byte {
	var body []byte
	body = append(body, byte(magic), 0)
	if magic == 1 {
		body = binary.BigEndian.AppendUint64(body, uint64(time.Now().UnixMilli()))
	}
	for _, v := range [][]byte{key, value} {
		if v == nil {
			body = binary.BigEndian.AppendUint32(body, 0xffffffff)
			continue
		}
		body = binary.BigEndian.AppendUint32(body, uint32(len(v)))
		body = append(body, v...)
	}
	b := make([]byte, 8, 16+len(body))
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(body)))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(body))
	return append(b, body...)
}

func produceReq(version, acks int16, topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks = acks
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// producePartition returns the single partition of a produce response.
func producePartition(t testing.TB, resp kmsg.Response) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	pr := resp.(*kmsg.ProduceResponse)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response has %d topics, want 1 with 1 partition: %+v", len(pr.Topics), pr.Topics)
	}
	return pr.Topics[0].Partitions[0]
}

func apiVersionsReq(version int16) *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(version)
	req.ClientSoftwareName = "chronik-badinput"
	req.ClientSoftwareVersion = "1.0"
	return req
}

// checkServes makes a fresh connection and checks it is answered.
func checkServes(t testing.TB, addr string) {
	t.Helper()
	c := dialRaw(t, addr)
	resp := c.roundTrip(apiVersionsReq(3), 4242).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions on a fresh connection: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	c.nc.Close()
}

// ---- background traffic ----------------------------------------------------

// traffic is a franz-go client producing and fetching one record at a time
// on its own connections for as long as the test runs.
type traffic struct {
	rounds atomic.Int64
	errMu  sync.Mutex
	errs   []error
	stop   chan struct{}
	done   chan struct{}
}

func startTraffic(t *testing.T, addr string) *traffic {
	t.Helper()
	const topic = "traffic"
	createTopic(t, addr, topic, 1, nil)
	prod := newFranz(t, addr, kgo.RequiredAcks(kgo.AllISRAcks()))
	cons := newFranz(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(200*time.Millisecond))
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{})}
	// round produces record i and fetches up to it.
	fetched := int64(0)
	round := func(i int64) error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		r := &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "t%d", i)}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			return fmt.Errorf("traffic: producing record %d: %w", i, err)
		}
		if r.Offset != i {
			return fmt.Errorf("traffic: record %d acknowledged at offset %d", i, r.Offset)
		}
		for fetched <= i {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				return fmt.Errorf("traffic: fetching record %d: %w", fetched, ctx.Err())
			}
			var ferr error
			fs.EachError(func(_ string, _ int32, err error) { ferr = err })
			if ferr != nil {
				return fmt.Errorf("traffic: fetching record %d: %w", fetched, ferr)
			}
			for _, rec := range fs.Records() {
				if rec.Offset != fetched || string(rec.Value) != fmt.Sprintf("t%d", fetched) {
					return fmt.Errorf("traffic: fetched %q at offset %d, want t%d at %d", rec.Value, rec.Offset, fetched, fetched)
				}
				fetched++
			}
		}
		return nil
	}
	go func() {
		defer close(tr.done)
		for i := int64(0); ; i++ {
			select {
			case <-tr.stop:
				return
			default:
			}
			if err := round(i); err != nil {
				tr.errMu.Lock()
				tr.errs = append(tr.errs, err)
				tr.errMu.Unlock()
				return
			}
			tr.rounds.Add(1)
		}
	}()
	t.Cleanup(func() {
		close(tr.stop)
		<-tr.done
	})
	tr.waitMore(t, 1) // before
	return tr
}

// waitMore waits until the traffic completes n more produce+fetch rounds.
func (tr *traffic) waitMore(t testing.TB, n int64) {
	t.Helper()
	want := tr.rounds.Load() + n
	deadline := time.Now().Add(15 * time.Second)
	for tr.rounds.Load() < want {
		tr.errMu.Lock()
		errs := tr.errs
		tr.errMu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("the other client failed: %v", errors.Join(errs...))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other client made no progress for 15s (%d rounds so far)", tr.rounds.Load())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- tests -----------------------------------------------------------------

// badCase is one bad input: run gets a fresh connection and checks what
// happens to it.
type badCase struct {
	name string
	run  func(t *testing.T, c *rawConn)
}

func runBadCases(t *testing.T, addr string, tr *traffic, cases []badCase) {
	t.Helper()
	for _, bc := range cases {
		t.Run(bc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			bc.run(t, c)
			tr.waitMore(t, 3) // after
			checkServes(t, addr)
		})
	}
}

func TestBadInputFraming(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	tr := startTraffic(t, addr)

	var cases []badCase
	for seed := uint64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
		junk := make([]byte, 1+rng.IntN(8192))
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		// Pure garbage: most likely an absurd frame size.
		cases = append(cases, badCase{fmt.Sprintf("garbage/seed%d", seed), func(t *testing.T, c *rawConn) {
			c.send(junk)
			c.closeWrite()
			c.expectClosed(5*time.Second, true)
		}})
		// A correct frame size around garbage: the header parser sees it.
		cases = append(cases, badCase{fmt.Sprintf("framed-garbage/seed%d", seed), func(t *testing.T, c *rawConn) {
			b := binary.BigEndian.AppendUint32(nil, uint32(len(junk)))
			c.send(append(b, junk...))
			c.closeWrite()
			c.expectClosed(5*time.Second, true)
		}})
		// A valid header for a registered API, then a garbage body: the
		// body decoder sees it.
		keys := []int16{0, 1, 2, 3, 18, 19, 22, 32, 60}
		key := keys[rng.IntN(len(keys))]
		req := kmsg.RequestForKey(key)
		version := int16(rng.IntN(int(req.MaxVersion()) + 1))
		req.SetVersion(version)
		body := junk[:min(len(junk), 1+rng.IntN(256))]
		cases = append(cases, badCase{fmt.Sprintf("garbage-body/seed%d/%s-v%d", seed, kmsg.NameForKey(key), version), func(t *testing.T, c *rawConn) {
			c.send(frame(key, version, 1, "badinput", req.IsFlexible(), body))
			c.closeWrite()
			c.expectClosed(5*time.Second, true)
		}})
	}
	// A valid request, then garbage: the first is answered, then closed.
	cases = append(cases, badCase{"valid-then-garbage", func(t *testing.T, c *rawConn) {
		c.mustSend(encodeReq(apiVersionsReq(3), 11))
		c.send([]byte{0, 0, 0, 12, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0})
		c.read(apiVersionsReq(3), 11)
		c.closeWrite()
		c.expectClosed(5*time.Second, false)
	}})

	// Frame sizes the broker must refuse before reading (or allocating)
	// the frame: we never send the body.
	for _, size := range []uint32{0x7fffffff, 100<<20 + 1, 0x80000000, 0xffffffff, 0, 1, 7} {
		cases = append(cases, badCase{fmt.Sprintf("frame-size-%d", int32(size)), func(t *testing.T, c *rawConn) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b := binary.BigEndian.AppendUint32(nil, size)
			if int32(size) >= 8 {
				b = append(b, 0, 18, 0, 3, 0, 0, 0, 1) // the start of an ApiVersions header
			} else if int32(size) > 0 {
				b = append(b, make([]byte, size)...)
			}
			c.mustSend(b)
			c.expectClosed(2*time.Second, false)
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; int32(size) > 0 && grew > 1<<30 {
				t.Errorf("the process allocated %d MiB while refusing a %d-byte frame", grew>>20, size)
			}
		}})
	}

	cases = append(cases,
		badCase{"unknown-api-key-9999", func(t *testing.T, c *rawConn) {
			c.mustSend(frame(9999, 0, 1, "badinput", false, nil))
			c.expectClosed(5*time.Second, false)
		}},
		badCase{"negative-api-key", func(t *testing.T, c *rawConn) {
			c.mustSend(frame(-1, 0, 1, "badinput", false, nil))
			c.expectClosed(5*time.Second, false)
		}},
		badCase{"client-id-overruns-frame", func(t *testing.T, c *rawConn) {
			b := frame(18, 0, 1, "", false, nil)
			binary.BigEndian.PutUint16(b[12:], 500) // client id length 500 in a 10-byte header
			c.mustSend(b)
			c.expectClosed(5*time.Second, false)
		}},
		badCase{"api-versions-v99", func(t *testing.T, c *rawConn) {
			// As a newer client would send it: header v2, a v3-style body.
			c.mustSend(frame(18, 99, 7, "badinput", true, apiVersionsReq(3).AppendTo(nil)))
			corr, body, err := c.readFrame(5 * time.Second)
			if err != nil {
				t.Fatalf("ApiVersions v99 was not answered: %v", err)
			}
			if corr != 7 {
				t.Fatalf("correlation id %d, want 7", corr)
			}
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.SetVersion(0)
			if err := resp.ReadFrom(body); err != nil {
				t.Fatalf("the answer does not decode as ApiVersions v0: %v (%x)", err, body)
			}
			if resp.ErrorCode != codeUnsupportedVersion {
				t.Errorf("error code %d, want %d (UNSUPPORTED_VERSION)", resp.ErrorCode, codeUnsupportedVersion)
			}
			var av *kmsg.ApiVersionsResponseApiKey
			for i := range resp.ApiKeys {
				if resp.ApiKeys[i].ApiKey == 18 {
					av = &resp.ApiKeys[i]
				}
			}
			if len(resp.ApiKeys) == 0 || av == nil || av.MaxVersion < 3 {
				t.Fatalf("the v0 answer lists %d keys (ApiVersions: %+v); want the full list", len(resp.ApiKeys), av)
			}
			// The client retries with a version we listed, on the same
			// connection.
			ok := c.roundTrip(apiVersionsReq(av.MaxVersion), 8).(*kmsg.ApiVersionsResponse)
			if ok.ErrorCode != 0 || len(ok.ApiKeys) != len(resp.ApiKeys) {
				t.Fatalf("ApiVersions v%d after the downgrade: error %d, %d keys", av.MaxVersion, ok.ErrorCode, len(ok.ApiKeys))
			}
		}},
		badCase{"produce-v99", func(t *testing.T, c *rawConn) {
			c.mustSend(frame(0, 99, 1, "badinput", true, produceReq(9, -1, "traffic", 0, validBatch("x")).AppendTo(nil)))
			c.expectClosed(5*time.Second, false)
		}},
		badCase{"fetch-v99", func(t *testing.T, c *rawConn) {
			c.mustSend(frame(1, 99, 1, "badinput", true, []byte{0, 0, 0}))
			c.expectClosed(5*time.Second, false)
		}},
	)

	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(13)
	for _, name := range []string{"traffic", "some-other-topic"} {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		md.Topics = append(md.Topics, mt)
	}
	mdBody := md.AppendTo(nil)
	for _, cut := range []int{1, 2, len(mdBody) / 2, len(mdBody) - 1} {
		cases = append(cases, badCase{fmt.Sprintf("metadata-v13-truncated-by-%d", cut), func(t *testing.T, c *rawConn) {
			c.mustSend(frame(3, 13, 1, "badinput", true, mdBody[:len(mdBody)-cut]))
			c.expectClosed(5*time.Second, false)
		}})
	}
	cases = append(cases, badCase{"metadata-v13-whole", func(t *testing.T, c *rawConn) {
		// The control for the truncation cases: the whole body is answered.
		resp := c.roundTrip(md, 5).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 2 {
			t.Fatalf("metadata answered %d topics, want 2", len(resp.Topics))
		}
	}})

	runBadCases(t, addr, tr, cases)
}

// TestBadInputRecords sends produce requests whose records are bad: each
// gets a per-partition error and the connection stays usable.
func TestBadInputRecords(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	tr := startTraffic(t, addr)
	const topic = "bad-records"
	createTopic(t, addr, topic, 1, nil)

	// next is the offset the next good batch must get: bad batches must not
	// move it.
	next := int64(0)
	good := func(t *testing.T, c *rawConn, version int16) {
		t.Helper()
		p := producePartition(t, c.roundTrip(produceReq(version, -1, topic, 0, validBatch("ok1", "ok2")), 99))
		if p.ErrorCode != 0 || p.BaseOffset != next {
			t.Fatalf("a good batch after the bad one: error %d, base offset %d, want 0 and %d", p.ErrorCode, p.BaseOffset, next)
		}
		next += 2
	}

	twoRecs := recordsOf("a", "b")
	threeRecs := recordsOf("a", "b", "c")
	corruptCRC := validBatch("a", "b", "c")
	corruptCRC[len(corruptCRC)-2] ^= 0xff
	badLength := validBatch("a", "b")
	binary.BigEndian.PutUint32(badLength[8:], uint32(len(badLength)))                // 12 bytes more than sent
	controlRec := appendRecord(nil, 0, []byte{0, 0, 0, 1}, []byte{0, 0, 0, 0, 0, 0}) // commit marker
	cases := []struct {
		name    string
		records []byte
		codes   []int16 // acceptable per-partition error codes
	}{
		{"bad-crc", corruptCRC, []int16{codeCorruptMessage}},
		{"count-above-records", makeBatch(0, 3, 2, twoRecs), []int16{codeInvalidRecord, codeCorruptMessage}},
		{"count-below-records", makeBatch(0, 2, 1, threeRecs), []int16{codeInvalidRecord, codeCorruptMessage}},
		{"count-disagrees-with-last-offset-delta", makeBatch(0, 3, 1, threeRecs), []int16{codeInvalidRecord, codeCorruptMessage}},
		{"zero-records", makeBatch(0, 0, -1, nil), []int16{codeInvalidRecord, codeCorruptMessage}},
		{"record-length-overruns", makeBatch(0, 1, 0, append(binary.AppendVarint(nil, 1000), 0, 0)), []int16{codeInvalidRecord, codeCorruptMessage}},
		{"batch-length-beyond-data", badLength, []int16{codeInvalidRecord, codeCorruptMessage}},
		{"two-batches", append(validBatch("a"), validBatch("b")...), []int16{codeInvalidRecord}},
		{"truncated-header", validBatch("a")[:40], []int16{codeInvalidRecord, codeCorruptMessage}},
		{"magic-1", legacyMessage(1, []byte("k"), bytes.Repeat([]byte("v"), 100)), []int16{codeInvalidRecord}},
		{"magic-1-short", legacyMessage(1, nil, nil), []int16{codeInvalidRecord}},
		{"magic-0", legacyMessage(0, []byte("k"), bytes.Repeat([]byte("v"), 100)), []int16{codeInvalidRecord}},
		{"control-batch", makeBatch(0x20, 1, 0, controlRec), []int16{codeInvalidRecord}},
		{"unknown-codec", makeBatch(7, 3, 2, threeRecs), []int16{codeCorruptMessage, codeInvalidRecord}},
	}
	for _, version := range []int16{3, 7, 9, 12} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/v%d", tc.name, version), func(t *testing.T) {
				c := dialRaw(t, addr)
				p := producePartition(t, c.roundTrip(produceReq(version, -1, topic, 0, tc.records), 1))
				acceptable := false
				for _, code := range tc.codes {
					acceptable = acceptable || p.ErrorCode == code
				}
				if !acceptable {
					t.Errorf("error code %d, want one of %v (message %s)", p.ErrorCode, tc.codes, deref(p.ErrorMessage))
				}
				if p.BaseOffset != -1 && p.ErrorCode != 0 {
					t.Errorf("a refused batch reports base offset %d, want -1", p.BaseOffset)
				}
				// The same connection keeps working.
				good(t, c, version)
				tr.waitMore(t, 2)
			})
		}
	}
	checkServes(t, addr)

	// Requests that address nothing or ask for the impossible: a Kafka error
	// per partition, and the connection stays usable.
	fetchReq := func(topic string, partition int32, offset int64) *kmsg.FetchRequest {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(12)
		req.ReplicaID = -1
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 1, 1<<20
		req.SessionEpoch = -1
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = partition, offset, 1<<20
		fp.CurrentLeaderEpoch, fp.LogStartOffset, fp.LastFetchedEpoch = -1, -1, -1
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		return req
	}
	fetchCode := func(t *testing.T, resp kmsg.Response) int16 {
		t.Helper()
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 {
			return fr.ErrorCode
		}
		if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			t.Fatalf("fetch response has %d topics, want 1 with 1 partition", len(fr.Topics))
		}
		return fr.Topics[0].Partitions[0].ErrorCode
	}
	const (
		codeOffsetOutOfRange   = 1
		codeUnknownTopicOrPart = 3
		codeInvalidRequiredAck = 21
		codeUnknownTopicID     = 100
	)
	unknownID := produceReq(13, -1, "", 0, validBatch("x"))
	unknownID.Topics[0].TopicID = [16]byte{0xde, 0xad, 0xbe, 0xef}
	addressing := []struct {
		name  string
		req   kmsg.Request
		code  func(*testing.T, kmsg.Response) int16
		codes []int16
	}{
		{"produce-unknown-topic", produceReq(9, -1, "no-such-topic", 0, validBatch("x")), func(t *testing.T, r kmsg.Response) int16 { return producePartition(t, r).ErrorCode }, []int16{codeUnknownTopicOrPart}},
		{"produce-partition-99", produceReq(9, -1, topic, 99, validBatch("x")), func(t *testing.T, r kmsg.Response) int16 { return producePartition(t, r).ErrorCode }, []int16{codeUnknownTopicOrPart}},
		{"produce-partition-negative", produceReq(9, -1, topic, -1, validBatch("x")), func(t *testing.T, r kmsg.Response) int16 { return producePartition(t, r).ErrorCode }, []int16{codeUnknownTopicOrPart}},
		{"produce-acks-2", produceReq(9, 2, topic, 0, validBatch("x")), func(t *testing.T, r kmsg.Response) int16 { return producePartition(t, r).ErrorCode }, []int16{codeInvalidRequiredAck}},
		{"produce-null-records", produceReq(9, -1, topic, 0, nil), func(t *testing.T, r kmsg.Response) int16 { return producePartition(t, r).ErrorCode }, []int16{codeInvalidRecord, codeCorruptMessage}},
		{"produce-v13-unknown-topic-id", unknownID, func(t *testing.T, r kmsg.Response) int16 { return producePartition(t, r).ErrorCode }, []int16{codeUnknownTopicID}},
		{"fetch-offset-beyond-end", fetchReq(topic, 0, 1<<40), fetchCode, []int16{codeOffsetOutOfRange}},
		{"fetch-offset-negative", fetchReq(topic, 0, -5), fetchCode, []int16{codeOffsetOutOfRange}},
		{"fetch-partition-99", fetchReq(topic, 99, 0), fetchCode, []int16{codeUnknownTopicOrPart}},
		{"fetch-unknown-topic", fetchReq("no-such-topic", 0, 0), fetchCode, []int16{codeUnknownTopicOrPart}},
	}
	for _, tc := range addressing {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			code := tc.code(t, c.roundTrip(tc.req, 1))
			acceptable := false
			for _, want := range tc.codes {
				acceptable = acceptable || code == want
			}
			if !acceptable {
				t.Errorf("error code %d, want one of %v", code, tc.codes)
			}
			good(t, c, 9)
			tr.waitMore(t, 2)
		})
	}

	// acks=0 with a bad batch: no response can carry the error, so the
	// connection is closed and the client notices.
	t.Run("acks0-bad-crc-closes", func(t *testing.T) {
		c := dialRaw(t, addr)
		b := encodeReq(produceReq(9, 0, topic, 0, corruptCRC), 1)
		c.mustSend(append(b, encodeReq(apiVersionsReq(3), 2)...))
		c.expectClosed(5*time.Second, false)
		tr.waitMore(t, 2)
	})

	// Only the good batches are in the log.
	t.Run("log-holds-only-good-batches", func(t *testing.T) {
		got := consumeFranz(t, addr, topic, 0, int(next))
		for i, r := range got {
			if want := fmt.Sprintf("ok%d", i%2+1); string(r.Value) != want {
				t.Fatalf("offset %d holds %q, want %q", r.Offset, r.Value, want)
			}
		}
		c := dialRaw(t, addr)
		lo := kmsg.NewPtrListOffsetsRequest()
		lo.SetVersion(7)
		lo.ReplicaID = -1
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = topic
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = 0, -1, -1
		lt.Partitions = append(lt.Partitions, lp)
		lo.Topics = append(lo.Topics, lt)
		resp := c.roundTrip(lo, 3).(*kmsg.ListOffsetsResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != next {
			t.Fatalf("high watermark %d (error %d), want %d", p.Offset, p.ErrorCode, next)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestBadInputLowMaxRequestBytes lowers socket.request.max.bytes: a frame
// of exactly the limit is served, one byte more closes the connection.
func TestBadInputLowMaxRequestBytes(t *testing.T) {
	t.Parallel()
	const limit = 4096
	_, addr := startBroker(t, func(c *broker.Config) { c.MaxRequestBytes = limit })
	tr := startTraffic(t, addr)
	// ApiVersions v0 has an empty body, so the client id pads the frame.
	atLimit := frame(18, 0, 1, string(bytes.Repeat([]byte("c"), limit-10)), false, nil)
	if got := len(atLimit) - 4; got != limit {
		t.Fatalf("frame of %d bytes, want %d", got, limit)
	}
	overLimit := frame(18, 0, 2, string(bytes.Repeat([]byte("c"), limit-9)), false, nil)
	runBadCases(t, addr, tr, []badCase{
		{"at-limit", func(t *testing.T, c *rawConn) {
			c.mustSend(atLimit)
			c.read(apiVersionsReq(0), 1)
		}},
		{"over-limit", func(t *testing.T, c *rawConn) {
			c.mustSend(overLimit[:20]) // the size alone must be enough
			c.expectClosed(2*time.Second, false)
		}},
		{"big-produce", func(t *testing.T, c *rawConn) {
			c.send(encodeReq(produceReq(9, -1, "traffic", 0, validBatch(string(bytes.Repeat([]byte("x"), 2*limit)))), 3))
			c.expectClosed(5*time.Second, false)
		}},
	})
}

// TestPipelining sends 20 requests back to back on one connection without
// reading, then reads: the responses come in request order.
func TestPipelining(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	tr := startTraffic(t, addr)
	const topic = "pipelined"
	createTopic(t, addr, topic, 1, nil)

	c0 := dialRaw(t, addr)
	c := c0
	var reqs []kmsg.Request
	var out []byte
	for i := range 20 {
		var req kmsg.Request
		switch i % 3 {
		case 0:
			md := kmsg.NewPtrMetadataRequest()
			md.SetVersion(int16(4 + i%9)) // v4-v12: flexible and not
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(topic)
			md.Topics = append(md.Topics, mt)
			req = md
		case 1:
			req = apiVersionsReq(int16(i % 5))
		case 2:
			req = produceReq(int16(3+i%10), 1, topic, 0, validBatch(fmt.Sprintf("r%d", i)))
		}
		reqs = append(reqs, req)
		out = append(out, encodeReq(req, int32(1000+i))...)
	}
	c.mustSend(out)
	nextOffset := int64(0)
	for i, req := range reqs {
		resp := c.read(req, int32(1000+i))
		switch r := resp.(type) {
		case *kmsg.ProduceResponse:
			p := producePartition(t, r)
			if p.ErrorCode != 0 || p.BaseOffset != nextOffset {
				t.Errorf("request %d (produce v%d): error %d, base offset %d, want 0 and %d", i, req.GetVersion(), p.ErrorCode, p.BaseOffset, nextOffset)
			}
			nextOffset++
		case *kmsg.MetadataResponse:
			if len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 {
				t.Errorf("request %d (metadata v%d): %+v", i, req.GetVersion(), r.Topics)
			}
		case *kmsg.ApiVersionsResponse:
			if r.ErrorCode != 0 || len(r.ApiKeys) == 0 {
				t.Errorf("request %d (api versions v%d): error %d, %d keys", i, req.GetVersion(), r.ErrorCode, len(r.ApiKeys))
			}
		}
	}
	tr.waitMore(t, 2)

	// acks=0 is never answered: the first response after it belongs to the
	// request that followed it.
	t.Run("acks0", func(t *testing.T) {
		c := &rawConn{t: t, nc: c0.nc}
		b := encodeReq(produceReq(9, 0, topic, 0, validBatch("quiet1", "quiet2")), 1)
		b = append(b, encodeReq(apiVersionsReq(3), 2)...)
		c.mustSend(b)
		corr, _, err := c.readFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if corr != 2 {
			t.Fatalf("first response after an acks=0 produce has correlation id %d, want 2 (ApiVersions)", corr)
		}
		// The acks=0 records were appended, before anything later on the
		// connection.
		p := producePartition(t, c.roundTrip(produceReq(9, -1, topic, 0, validBatch("loud")), 3))
		if p.ErrorCode != 0 || p.BaseOffset != nextOffset+2 {
			t.Fatalf("produce after acks=0: error %d, base offset %d, want %d", p.ErrorCode, p.BaseOffset, nextOffset+2)
		}
		got := consumeFranz(t, addr, topic, 0, int(nextOffset)+3)
		if string(got[nextOffset].Value) != "quiet1" || string(got[nextOffset+1].Value) != "quiet2" || string(got[nextOffset+2].Value) != "loud" {
			t.Fatalf("log tail: %q %q %q", got[nextOffset].Value, got[nextOffset+1].Value, got[nextOffset+2].Value)
		}
		tr.waitMore(t, 2)
	})
}
