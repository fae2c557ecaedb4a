package broker

import (
	"bufio"
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
}

func newConn(b *Broker, nc net.Conn) *conn {
	return &conn{
		b:     b,
		nc:    nc,
		log:   b.log.With("remote", nc.RemoteAddr().String()),
		resps: make(chan *pending, maxInFlight),
	}
}

// closeRead stops the reader (shutdown): in-flight responses still go out.
func (c *conn) closeRead() {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.CloseRead()
		return
	}
	c.nc.SetReadDeadline(time.Now())
}

func (c *conn) serve() {
	c.b.metrics.connOpened()
	defer c.b.metrics.connClosed()
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
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 {
			return fmt.Errorf("request frame of %d bytes is too small to hold a header", size)
		}
		if size > c.b.cfg.MaxRequestBytes {
			// Checked before allocating anything.
			return fmt.Errorf("request frame of %d bytes exceeds socket.request.max.bytes (%d)", size, c.b.cfg.MaxRequestBytes)
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("reading a %d-byte request: %w", size, err)
		}
		p, err := c.handleFrame(buf)
		if err != nil {
			return err
		}
		if p != nil {
			c.resps <- p
			if p.close {
				return errConnClose
			}
		}
	}
}

// handleFrame parses one request and runs its handler. A returned error
// closes the connection.
func (c *conn) handleFrame(buf []byte) (p *pending, err error) {
	start := time.Now()
	key := int16(binary.BigEndian.Uint16(buf[0:]))
	version := int16(binary.BigEndian.Uint16(buf[2:]))
	corr := int32(binary.BigEndian.Uint32(buf[4:]))
	rest := buf[8:]
	// Request header v1+: a nullable client id.
	if len(rest) < 2 {
		return nil, fmt.Errorf("request header (key %d, correlation %d) is truncated", key, corr)
	}
	var clientID *string
	if l := int16(binary.BigEndian.Uint16(rest)); l >= 0 {
		if int(l) > len(rest)-2 {
			return nil, fmt.Errorf("request header (key %d, correlation %d): client id overruns the frame", key, corr)
		}
		s := string(rest[2 : 2+l])
		clientID = &s
		rest = rest[2+l:]
	} else {
		rest = rest[2:]
	}
	if clientID != nil && c.clientID != *clientID {
		c.clientID = *clientID
		c.log = c.b.log.With("remote", c.nc.RemoteAddr().String(), "client_id", c.clientID)
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

	kreq := kmsg.RequestForKey(key)
	kreq.SetVersion(version)
	flexible := kreq.IsFlexible()
	if flexible {
		// Request header v2: tagged fields, which we skip.
		var err error
		if rest, err = skipTags(rest); err != nil {
			return nil, fmt.Errorf("request header (key %d, correlation %d): %w", key, corr, err)
		}
	}
	if err := kreq.ReadFrom(rest); err != nil {
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
	resp, err := h.fn(r)
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
	return &pending{corr: corr, resp: resp, flexHdr: flexHdr, wait: r.wait, start: start, key: key}, nil
}

func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	buf := make([]byte, 0, 4096)
	failed := false
	for p := range c.resps {
		if p.wait != nil {
			p.wait()
		}
		if failed || p.resp == nil {
			continue
		}
		buf = append(buf[:0], 0, 0, 0, 0)
		buf = binary.BigEndian.AppendUint32(buf, uint32(p.corr))
		if p.flexHdr {
			buf = append(buf, 0)
		}
		buf = p.resp.AppendTo(buf)
		binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
		if _, err := bw.Write(buf); err != nil {
			failed = true
			c.nc.Close()
			continue
		}
		c.b.metrics.requestDone(p.key, p.start)
		if len(c.resps) == 0 {
			if err := bw.Flush(); err != nil {
				failed = true
				c.nc.Close()
			}
		}
		if cap(buf) > 1<<20 {
			buf = make([]byte, 0, 4096) // don't pin a large fetch buffer
		}
	}
	if !failed {
		bw.Flush()
	}
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
