package broker

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxInFlight bounds the requests of one connection that are parsed but not
// yet answered; the reader stops reading the socket past it (back-pressure).
const maxInFlight = 32

// conn serves one client connection. A read goroutine parses and handles
// requests in arrival order; a write goroutine writes responses in the same
// order, waiting for each one's durability condition first. Appends thus
// happen in order while fsyncs of earlier requests are still in flight.
type conn struct {
	b   *Broker
	nc  net.Conn
	log *slog.Logger

	resps chan *pending
	once  sync.Once

	clientID string

	// sendfile: fetch responses may send records from the files (a
	// plaintext TCP connection, Config.FetchCopy unset).
	sendfile bool

	ln   *listener  // the listener it came in on (security.go)
	auth connAuth   // SASL state and principal (sasl.go)
	lim  connLimits // limits and buffers (limits.go)
}

// pending is one request's answer in the writer's queue.
type pending struct {
	corr    int32
	resp    kmsg.Response
	flexHdr bool // response header v1 (tag buffer) rather than v0
	wait    func()
	close   bool // close the connection after this (and write nothing)
	start   time.Time
	key     int16
	// raw is a bare SASL token (after SaslHandshake v0), written with
	// only its size.
	raw []byte
	// bytes are the request bytes held until this is written (limits.go).
	bytes int64
	// sizeHint, when set, is about the encoded response's size (fetch:
	// the record bytes it carries), so the writer sizes its buffer once.
	sizeHint int
	// release is request.release.
	release func()
	// splice is request.splice.
	splice *fetchSplice
}

// request is what a handler sees.
type request struct {
	c        *conn
	key      int16
	version  int16
	clientID *string
	kreq     kmsg.Request
	// wait, when a handler sets it, runs on the writer before the response
	// is encoded (produce waits for its fsync there).
	wait func()
	// noResponse: produce with acks=0 is not answered.
	noResponse bool
	// closeAfter closes the connection once the response is written
	// (failed SASL authentication).
	closeAfter bool
	// sizeHint is passed on to pending.sizeHint.
	sizeHint int
	// release, when set, runs on the writer once the response has been
	// encoded (or dropped): fetch returns its read buffer.
	release func()
	// splice, when set, holds the spans a fetch response sends from the
	// segment files (fetch_splice.go).
	splice *fetchSplice
}

func newConn(b *Broker, nc net.Conn) *conn {
	_, tcp := nc.(*net.TCPConn)
	return &conn{
		b:        b,
		nc:       nc,
		log:      b.log.With("remote", nc.RemoteAddr().String()),
		resps:    make(chan *pending, maxInFlight),
		sendfile: tcp && !b.cfg.FetchCopy,
	}
}

// closeRead stops the reader (shutdown): in-flight responses still go out.
func (c *conn) closeRead() {
	c.stop()
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.CloseRead()
		return
	}
	c.nc.SetReadDeadline(time.Now())
}

func (c *conn) serve() {
	c.b.metrics.connOpened()
	defer c.b.metrics.connClosed()
	if err := c.tlsHandshake(); err != nil {
		c.log.Info("TLS handshake failed; closing", "err", err)
		c.nc.Close()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.resps)
	<-done
	c.nc.Close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.log.Info("connection closed", "reason", err)
	} else {
		c.log.Debug("connection closed")
	}
}

var errConnClose = errors.New("closing connection")

func (c *conn) readLoop() (err error) {
	defer c.putReader()
	var sizeBuf [4]byte
	for {
		if err := c.readFrameSize(sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		raw := c.auth.raw // a bare SASL token has no header
		if size < 0 || size < 8 && !raw {
			return fmt.Errorf("request frame of %d bytes is too small to hold a header", size)
		}
		// Checked before allocating anything.
		if limit, preAuth := c.frameLimit(); size > limit {
			if preAuth {
				return fmt.Errorf("frame of %d bytes before SASL authentication exceeds sasl.server.max.receive.size (%d)", size, limit)
			}
			return fmt.Errorf("request frame of %d bytes exceeds socket.request.max.bytes (%d)", size, limit)
		}
		// Back-pressure: readBody takes the frame's bytes from the
		// budgets as they arrive; while none are free we read nothing.
		p, held, err := c.readRequest(size, raw)
		if err != nil || p == nil {
			c.releaseBytes(held)
			if err != nil {
				return err
			}
			continue
		}
		p.bytes = held
		c.lim.queued.Add(1)
		c.resps <- p
		if p.close {
			return errConnClose
		}
	}
}

// readRequest reads one frame's body and handles it. held is what the
// body took from the request byte budgets, to release once the response
// is written (or at once when p is nil or err is set).
func (c *conn) readRequest(size int32, raw bool) (p *pending, held int64, err error) {
	c.bodyDeadline()
	br := c.reader()
	// Produce frames come from a pool and go back to it once handled:
	// the records are appended to the log (or converted into new
	// buffers) inside the handler, and nothing of a Produce request is
	// kept after it returns — kmsg copies strings, and the response,
	// its wait and its ACL post hook hold none of the frame's bytes.
	// Frames of other requests are never reused: their decoded []byte
	// fields alias the frame and may be kept (group metadata, ...).
	var buf []byte
	pooled := false
	if !raw && size <= maxPooledFrame {
		if k, err := br.Peek(2); err == nil && int16(binary.BigEndian.Uint16(k)) == kmsg.Produce.Int16() {
			buf, pooled = reusedFrame(int(size))
		}
	}
	buf, held, err = c.readBody(br, int(size), buf)
	if err != nil {
		return nil, held, fmt.Errorf("reading a %d-byte request: %w", size, err)
	}
	if raw {
		p, err = c.handleRawSASL(buf)
		return p, held, err
	}
	p, err = c.handleFrame(buf)
	if pooled && err == nil {
		putFrame(buf)
	}
	return p, held, err
}

// bodyStep is the first step of readBody.
const bodyStep = 64 << 10

// readBody reads a frame body of size bytes into buf (a pooled buffer of
// that capacity, or nil). It takes bytes from the request byte budgets
// (queued.max.request.bytes and the connection's) only ahead of what has
// arrived: each step is at most as large as what the client has sent of
// the frame so far (at least bodyStep), and the buffer grows with the
// steps. So a client that declares a large frame and trickles it
// (slowloris) holds about as many bytes of the budget, and of memory, as it
// has sent, and cannot stall other connections. held is what was taken,
// also on error (the caller releases it).
func (c *conn) readBody(br *bufio.Reader, size int, buf []byte) (_ []byte, held int64, err error) {
	buf = buf[:0]
	for len(buf) < size {
		k := min(size-len(buf), max(bodyStep, len(buf)))
		if err := c.acquireBytes(int64(k)); err != nil {
			return nil, held, err
		}
		held += int64(k)
		if cap(buf)-len(buf) < k {
			grown := make([]byte, len(buf), min(size, max(len(buf)+k, 2*cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		if _, err := io.ReadFull(br, buf[len(buf):len(buf)+k]); err != nil {
			return nil, held, err
		}
		buf = buf[:len(buf)+k]
	}
	return buf, held, nil
}

// maxPooledFrame bounds the Produce frames kept for reuse.
const maxPooledFrame = 8 << 20

// framePool holds *[]byte Produce frame buffers (readRequest).
var framePool sync.Pool

// reusedFrame returns a pooled buffer with room for n bytes, if the pool
// has one (its contents are garbage: readBody overwrites them). It never
// allocates: a frame that is still arriving allocates as it arrives.
func reusedFrame(n int) ([]byte, bool) {
	if bp, ok := framePool.Get().(*[]byte); ok {
		if cap(*bp) >= n {
			return (*bp)[:0], true
		}
		framePool.Put(bp)
	}
	return nil, true
}

func putFrame(b []byte) {
	b = b[:0]
	framePool.Put(&b)
}

// maxKeptResponseBuf bounds the response buffer a connection's writer
// keeps between responses (and puts in respBufPool when idle).
const maxKeptResponseBuf = 16 << 20

// respBufPool holds *[]byte response buffers of idle writers.
var respBufPool sync.Pool

// handleFrame parses one request and runs its handler. A returned error
// closes the connection.
func (c *conn) handleFrame(buf []byte) (p *pending, err error) {
	start := time.Now()
	hdr, err := parseRequestHeader(buf)
	if err != nil {
		return nil, err
	}
	key, version, corr, clientID, rest := hdr.key, hdr.version, hdr.corr, hdr.clientID, hdr.body
	if clientID != nil && c.clientID != *clientID {
		c.clientID = *clientID
		c.log = c.b.log.With("remote", c.nc.RemoteAddr().String(), "client_id", c.clientID)
		if c.auth.principal != principalAnonymous && c.auth.principal != "" {
			c.log = c.log.With("principal", c.auth.principal)
		}
	}
	if err := c.gate(key); err != nil {
		c.b.metrics.requestError(key)
		return nil, err
	}

	h, known := handlers[key]
	if !known {
		c.b.metrics.requestError(key)
		return nil, fmt.Errorf("unknown API key %d (correlation %d)", key, corr)
	}
	if version < h.min || version > h.max {
		c.b.metrics.requestError(key)
		if key == kmsg.ApiVersions.Int16() {
			// KIP-511: answer in v0 with UNSUPPORTED_VERSION and our list.
			resp := apiVersionsResponse(0)
			resp.ErrorCode = errUnsupportedVersion
			return &pending{corr: corr, resp: resp, start: start, key: key}, nil
		}
		return c.unsupportedVersion(key, version, corr, h, start)
	}

	kreq, err := decodeRequestBody(key, version, rest)
	if err != nil {
		c.b.metrics.requestError(key)
		return nil, fmt.Errorf("%s v%d request (correlation %d) does not decode: %w", kmsg.NameForKey(key), version, corr, err)
	}
	r := &request{c: c, key: key, version: version, clientID: clientID, kreq: kreq}
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("handler panicked; closing the connection", "api", kmsg.NameForKey(key), "version", version, "panic", v, "stack", string(debug.Stack()))
			p, err = nil, fmt.Errorf("internal error handling %s", kmsg.NameForKey(key))
		}
	}()
	resp, err := r.handle(h.fn) // ACL checks (acl_hooks.go), then the handler
	if err != nil {
		c.b.metrics.requestError(key)
		return nil, err
	}
	if r.noResponse {
		c.b.metrics.requestDone(key, start)
		if r.wait != nil {
			// Keep ordering: nothing is written, but later responses
			// must not overtake the work this one waits for.
			return &pending{corr: corr, wait: r.wait, start: start, key: key, resp: nil}, nil
		}
		return nil, nil
	}
	// ApiVersions answers with response header v0 even when flexible.
	flexHdr := resp.IsFlexible() && key != kmsg.ApiVersions.Int16()
	return &pending{corr: corr, resp: resp, flexHdr: flexHdr, wait: r.wait, start: start, key: key, close: r.closeAfter, sizeHint: r.sizeHint, release: r.release, splice: r.splice}, nil
}

// requestHeader is a parsed request header (v1, or v2 whose tagged fields
// decodeRequestBody skips).
type requestHeader struct {
	key, version int16
	corr         int32
	clientID     *string
	body         []byte // after the client id
}

// parseRequestHeader parses a frame's request header. It is pure: the
// decode path of every request, and the fuzz target's.
func parseRequestHeader(buf []byte) (requestHeader, error) {
	if len(buf) < 8 {
		return requestHeader{}, fmt.Errorf("request frame of %d bytes is too small to hold a header", len(buf))
	}
	h := requestHeader{
		key:     int16(binary.BigEndian.Uint16(buf[0:])),
		version: int16(binary.BigEndian.Uint16(buf[2:])),
		corr:    int32(binary.BigEndian.Uint32(buf[4:])),
	}
	rest := buf[8:]
	// Request header v1+: a nullable client id.
	if len(rest) < 2 {
		return h, fmt.Errorf("request header (key %d, correlation %d) is truncated", h.key, h.corr)
	}
	if l := int16(binary.BigEndian.Uint16(rest)); l >= 0 {
		if int(l) > len(rest)-2 {
			return h, fmt.Errorf("request header (key %d, correlation %d): client id overruns the frame", h.key, h.corr)
		}
		s := string(rest[2 : 2+l])
		h.clientID = &s
		rest = rest[2+l:]
	} else {
		rest = rest[2:]
	}
	h.body = rest
	return h, nil
}

// decodeRequestBody decodes the body of a request of a registered key at
// a version kmsg knows, skipping a flexible header's tagged fields first.
func decodeRequestBody(key, version int16, body []byte) (kmsg.Request, error) {
	kreq := kmsg.RequestForKey(key)
	if kreq == nil {
		return nil, fmt.Errorf("unknown API key %d", key)
	}
	kreq.SetVersion(version)
	if kreq.IsFlexible() {
		// Request header v2: tagged fields, which we skip.
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, fmt.Errorf("request header: %w", err)
		}
	}
	if err := kreq.ReadFrom(body); err != nil {
		return nil, err
	}
	return kreq, nil
}

func (c *conn) writeLoop() {
	// The write buffer comes from a pool while there is something to
	// write: an idle connection holds none.
	var bw *bufio.Writer
	var buf []byte
	failed := false
	for p := range c.resps {
		if p.wait != nil {
			p.wait()
		}
		if !failed && (p.resp != nil || p.raw != nil) {
			if bw == nil {
				bw = writerPool.Get().(*bufio.Writer)
				bw.Reset(c.nc)
			}
			if buf == nil {
				if bp, ok := respBufPool.Get().(*[]byte); ok {
					buf = *bp
				}
			}
			// Size the buffer once for a large response rather than
			// growing it (copying) while encoding.
			if need := p.sizeHint + 64; cap(buf) < need {
				buf = make([]byte, 0, need)
			}
			buf = p.frame(buf)
			c.writeDeadline()
			var err error
			if p.splice != nil && len(p.splice.spans) > 0 {
				resp := p.resp.(*kmsg.FetchResponse)
				err = c.writeSpliced(bw, buf, resp.IsFlexible(), p.splice)
				if errors.Is(err, errNoSplice) {
					c.log.Warn("fetch response sent without sendfile", "err", err)
					if err = p.splice.inline(resp); err == nil {
						buf = p.frame(buf)
						_, err = bw.Write(buf)
					}
				}
			} else {
				_, err = bw.Write(buf)
			}
			if err != nil {
				failed = true
				c.nc.Close()
			} else {
				c.b.metrics.requestDone(p.key, p.start)
			}
			if cap(buf) > maxKeptResponseBuf {
				buf = nil // don't pin a huge fetch buffer
			}
		}
		if p.release != nil {
			p.release() // after the encoding above: resp is done with
		}
		c.releaseBytes(p.bytes)
		c.lim.queued.Add(-1)
		if bw != nil && len(c.resps) == 0 {
			if !failed {
				c.writeDeadline()
				if err := bw.Flush(); err != nil {
					failed = true
					c.nc.Close()
				}
			}
			bw.Reset(nil)
			writerPool.Put(bw)
			bw = nil
			if buf != nil {
				// An idle connection holds no response buffer either.
				b := buf[:0]
				respBufPool.Put(&b)
				buf = nil
			}
		}
	}
	if bw != nil {
		if !failed {
			bw.Flush()
		}
		bw.Reset(nil)
		writerPool.Put(bw)
	}
}

// frame encodes p's response into buf (reused) with its size, correlation
// id and response header.
func (p *pending) frame(buf []byte) []byte {
	buf = append(buf[:0], 0, 0, 0, 0)
	if p.raw != nil {
		buf = append(buf, p.raw...)
	} else {
		buf = binary.BigEndian.AppendUint32(buf, uint32(p.corr))
		if p.flexHdr {
			buf = append(buf, 0)
		}
		buf = p.resp.AppendTo(buf)
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

// skipTags skips a tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, errors.New("bad tagged field count")
	}
	b = b[w:]
	for i := uint64(0); i < n; i++ {
		if _, w = binary.Uvarint(b); w <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[w:]
		l, w := binary.Uvarint(b)
		if w <= 0 || l > uint64(len(b)-w) {
			return nil, errors.New("bad tagged field length")
		}
		b = b[w+int(l):]
	}
	return b, nil
}
