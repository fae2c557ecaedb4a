package broker

// Resource limits: what one client, or all of them together, can make the
// broker hold.
//
//   - max.connections and max.connections.per.ip (with
//     max.connections.per.ip.overrides): a connection over a limit is closed
//     right after accept, with a log line. (Kafka blocks accepting at
//     max.connections instead; closing keeps one misbehaving client from
//     stalling everyone else's connects.)
//   - connections.max.idle.ms: a connection that sends nothing for that long
//     while no response of its is pending is closed, and so is one that
//     takes that long to send one frame (slowloris) or to read a response.
//   - Request bytes in flight: a frame's bytes are acquired from the
//     connection's budget and then the broker's (queued.max.request.bytes)
//     before its buffer is allocated, and released once its response is
//     written. When a budget is spent the reader stops reading its socket:
//     back-pressure instead of allocation. A frame larger than a budget
//     takes the whole budget, so any frame up to socket.request.max.bytes
//     still gets through, alone.
//   - sasl.server.max.receive.size: before authentication on a SASL
//     listener a frame may only be this large.
//   - Idle connections hold no read or write buffer (pooled below), so
//     thousands of them cost little more than their goroutines.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the limits (see Config).
const (
	defaultConnectionsMaxIdle        = 10 * time.Minute
	defaultQueuedMaxRequestBytes     = 512 << 20
	defaultSASLMaxReceiveSize        = 8 << 10
	defaultFailedAuthenticationDelay = 100 * time.Millisecond
)

// applyBrokerConfigs fills the Config fields still at their zero value from
// the Kafka-named entries of BrokerConfigs, then the defaults.
func (c *Config) applyLimitConfigs() error {
	bc := c.BrokerConfigs
	var errs []error
	num := func(name string) (int64, bool) {
		s, ok := bc[name]
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("broker: %s=%q: not a number", name, s))
			return 0, false
		}
		return v, true
	}
	ms := func(name string, field *time.Duration) {
		if v, ok := num(name); ok && *field == 0 {
			*field = time.Duration(v) * time.Millisecond
			if v <= 0 {
				*field = -1
			}
		}
	}
	if v, ok := num("max.connections"); ok && c.MaxConnections == 0 {
		c.MaxConnections = int(v)
	}
	if v, ok := num("max.connections.per.ip"); ok && c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = int(v)
	}
	if s, ok := bc["max.connections.per.ip.overrides"]; ok && c.MaxConnectionsPerIPOverrides == nil {
		m, err := ParseConnectionOverrides(s)
		if err != nil {
			errs = append(errs, err)
		}
		c.MaxConnectionsPerIPOverrides = m
	}
	ms("connections.max.idle.ms", &c.ConnectionsMaxIdle)
	ms("connections.max.reauth.ms", &c.ConnectionsMaxReauth)
	ms("connection.failed.authentication.delay.ms", &c.FailedAuthenticationDelay)
	if v, ok := num("queued.max.request.bytes"); ok && c.QueuedMaxRequestBytes == 0 {
		c.QueuedMaxRequestBytes = v
	}
	if v, ok := num("sasl.server.max.receive.size"); ok && c.SASLMaxReceiveSize == 0 {
		c.SASLMaxReceiveSize = int32(min(max(v, 1), 1<<30))
	}
	if s, ok := bc["sasl.enabled.mechanisms"]; ok && len(c.SASLMechanisms) == 0 {
		c.SASLMechanisms = splitTrim(s, ",")
	}
	if s, ok := bc["super.users"]; ok && len(c.SuperUsers) == 0 {
		c.SuperUsers = splitTrim(s, ";")
	}
	if s, ok := bc["allow.everyone.if.no.acl.found"]; ok && !c.AllowEveryoneIfNoACLFound {
		c.AllowEveryoneIfNoACLFound = strings.EqualFold(strings.TrimSpace(s), "true")
	}
	if s, ok := bc["authorizer.class.name"]; ok && strings.TrimSpace(s) != "" {
		c.Authorizer = true
	}
	if s, ok := bc["ssl.client.auth"]; ok && c.TLS.ClientAuth == "" {
		c.TLS.ClientAuth = ClientAuth(strings.ToLower(strings.TrimSpace(s)))
	}

	// Defaults. Zero means "default"; a negative value means "no limit".
	if c.ConnectionsMaxIdle == 0 {
		c.ConnectionsMaxIdle = defaultConnectionsMaxIdle
	}
	if c.QueuedMaxRequestBytes == 0 {
		c.QueuedMaxRequestBytes = defaultQueuedMaxRequestBytes
	}
	if c.MaxConnRequestBytesInFlight == 0 {
		c.MaxConnRequestBytesInFlight = int64(c.MaxRequestBytes)
	}
	if c.SASLMaxReceiveSize <= 0 {
		c.SASLMaxReceiveSize = defaultSASLMaxReceiveSize
	}
	if c.FailedAuthenticationDelay == 0 {
		c.FailedAuthenticationDelay = defaultFailedAuthenticationDelay
	}
	if c.ConnectionsMaxReauth < 0 {
		c.ConnectionsMaxReauth = 0
	}
	return errors.Join(errs...)
}

// limitConfigs reports the effective limits by their Kafka names
// (DescribeConfigs).
func (c *Config) limitConfigs(m map[string]string) {
	unlimited := func(v int) string {
		if v <= 0 {
			return "2147483647"
		}
		return strconv.Itoa(v)
	}
	msStr := func(d time.Duration) string {
		if d < 0 {
			return "-1"
		}
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	m["max.connections"] = unlimited(c.MaxConnections)
	m["max.connections.per.ip"] = unlimited(c.MaxConnectionsPerIP)
	if len(c.MaxConnectionsPerIPOverrides) > 0 {
		var parts []string
		for h, n := range c.MaxConnectionsPerIPOverrides {
			parts = append(parts, h+":"+strconv.Itoa(n))
		}
		sort.Strings(parts)
		m["max.connections.per.ip.overrides"] = strings.Join(parts, ",")
	}
	m["connections.max.idle.ms"] = msStr(c.ConnectionsMaxIdle)
	m["connections.max.reauth.ms"] = msStr(c.ConnectionsMaxReauth)
	m["connection.failed.authentication.delay.ms"] = msStr(c.FailedAuthenticationDelay)
	m["queued.max.request.bytes"] = strconv.FormatInt(max(c.QueuedMaxRequestBytes, -1), 10)
	m["sasl.server.max.receive.size"] = strconv.Itoa(int(c.SASLMaxReceiveSize))
	if len(c.SASLMechanisms) > 0 {
		m["sasl.enabled.mechanisms"] = strings.Join(c.SASLMechanisms, ",")
	}
	if len(c.SuperUsers) > 0 {
		m["super.users"] = strings.Join(c.SuperUsers, ";")
	}
	m["allow.everyone.if.no.acl.found"] = strconv.FormatBool(c.AllowEveryoneIfNoACLFound)
	if c.Authorizer {
		m["authorizer.class.name"] = "chronik"
	}
	if c.boundListeners != "" {
		m["listeners"], m["advertised.listeners"] = c.boundListeners, c.boundAdvertised
	}
	var protos []string
	for _, l := range c.listeners() {
		protos = append(protos, l.Name+":"+string(l.Protocol))
	}
	m["listener.security.protocol.map"] = strings.Join(protos, ",")
}

// ParseConnectionOverrides parses max.connections.per.ip.overrides
// ("127.0.0.1:200,10.0.0.5:50").
func ParseConnectionOverrides(s string) (map[string]int, error) {
	m := map[string]int{}
	for _, kv := range splitTrim(s, ",") {
		i := strings.LastIndexByte(kv, ':')
		if i <= 0 {
			return nil, fmt.Errorf("broker: max.connections.per.ip.overrides entry %q: want host:count", kv)
		}
		n, err := strconv.Atoi(kv[i+1:])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("broker: max.connections.per.ip.overrides entry %q: bad count", kv)
		}
		m[strings.Trim(kv[:i], "[]")] = n
	}
	return m, nil
}

func splitTrim(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ---- connection counts ----

// connLimiter counts open connections, in total and per client IP.
type connLimiter struct {
	max, maxPerIP int
	overrides     map[string]int

	mu    sync.Mutex
	total int
	perIP map[string]int

	// Rejections are logged at most once a second, with the count of
	// those not logged: a flood of connects must not flood the log.
	lastLog    atomic.Int64 // unix nanoseconds
	suppressed atomic.Int64
}

// logRejection reports whether to log a rejection now, and how many went
// unlogged before it.
func (l *connLimiter) logRejection() (log bool, suppressed int64) {
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(time.Second) || !l.lastLog.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}

func newConnLimiter(c *Config) *connLimiter {
	return &connLimiter{max: c.MaxConnections, maxPerIP: c.MaxConnectionsPerIP, overrides: c.MaxConnectionsPerIPOverrides, perIP: map[string]int{}}
}

// admit counts a new connection from ip, or says why it is refused.
func (l *connLimiter) admit(ip string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	perIP, ok := l.overrides[ip]
	if !ok {
		perIP = l.maxPerIP
	}
	if perIP > 0 && l.perIP[ip] >= perIP || ok && perIP == 0 {
		return fmt.Errorf("address already has the configured maximum of %d connections (max.connections.per.ip)", perIP)
	}
	if l.max > 0 && l.total >= l.max {
		return fmt.Errorf("the broker already has the configured maximum of %d connections (max.connections)", l.max)
	}
	l.total++
	l.perIP[ip]++
	return nil
}

func (l *connLimiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// ---- bytes in flight ----

// byteSem is a semaphore of bytes with FIFO waiters. A nil or unbounded
// (size <= 0) semaphore never blocks.
type byteSem struct {
	size int64

	mu      sync.Mutex
	used    int64
	waiters []*semWaiter
}

type semWaiter struct {
	n     int64
	ready chan struct{}
}

func newByteSem(size int64) *byteSem {
	if size <= 0 {
		return nil
	}
	return &byteSem{size: size}
}

// acquire takes n bytes (at most the whole budget), waiting for them until
// cancel is closed.
func (s *byteSem) acquire(n int64, cancel <-chan struct{}) error {
	if s == nil {
		return nil
	}
	n = min(n, s.size)
	s.mu.Lock()
	if len(s.waiters) == 0 && s.used+n <= s.size {
		s.used += n
		s.mu.Unlock()
		return nil
	}
	w := &semWaiter{n: n, ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-cancel:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-w.ready: // granted while we were giving up
		s.used -= n
	default:
		for i, o := range s.waiters {
			if o == w {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				break
			}
		}
	}
	s.wakeLocked()
	return net.ErrClosed
}

func (s *byteSem) release(n int64) {
	if s == nil || n <= 0 {
		return
	}
	n = min(n, s.size)
	s.mu.Lock()
	s.used -= n
	s.wakeLocked()
	s.mu.Unlock()
}

func (s *byteSem) wakeLocked() {
	for len(s.waiters) > 0 && s.used+s.waiters[0].n <= s.size {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		s.used += w.n
		close(w.ready)
	}
}

// connLimits is a connection's share of the limits.
type connLimits struct {
	ip       string
	reqBytes *byteSem     // this connection's request bytes in flight
	queued   atomic.Int32 // requests handed to the writer, not yet written
	quit     chan struct{}
	quitOnce sync.Once
	br       *bufio.Reader // nil while idle (pooled)
}

// initConn attaches a new connection to its listener and limits.
func (b *Broker) initConn(c *conn, l *listener, ip string) {
	c.ln = l
	c.lim.ip = ip
	c.lim.reqBytes = newByteSem(b.cfg.MaxConnRequestBytesInFlight)
	c.lim.quit = make(chan struct{})
	c.auth.principal = principalAnonymous
	c.auth.host = ip
	if l != nil && l.sasl() {
		c.auth.stage = stageHandshake
	}
}

// stop tells a reader waiting for bytes in flight to give up (shutdown).
func (c *conn) stop() {
	c.lim.quitOnce.Do(func() {
		if c.lim.quit != nil {
			close(c.lim.quit)
		}
	})
}

func (c *conn) stopping() bool {
	select {
	case <-c.lim.quit:
		return true
	default:
		return false
	}
}

// acquireBytes takes a frame's bytes from the connection's budget, then the
// broker's: until they are free, we read nothing more from this socket.
func (c *conn) acquireBytes(n int64) error {
	if err := c.lim.reqBytes.acquire(n, c.lim.quit); err != nil {
		return err
	}
	if err := c.b.reqBytes.acquire(n, c.lim.quit); err != nil {
		c.lim.reqBytes.release(n)
		return err
	}
	return nil
}

func (c *conn) releaseBytes(n int64) {
	c.b.reqBytes.release(n)
	c.lim.reqBytes.release(n)
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

// reader is the connection's buffered reader, taken from the pool when the
// connection has none.
func (c *conn) reader() *bufio.Reader {
	if c.lim.br == nil {
		c.lim.br = readerPool.Get().(*bufio.Reader)
		c.lim.br.Reset(c.nc)
	}
	return c.lim.br
}

// idleReader returns the reader to the pool if it buffers nothing, and
// reports what to read the next frame header from.
func (c *conn) idleReader() io.Reader {
	if c.lim.br != nil && c.lim.br.Buffered() == 0 {
		c.putReader()
	}
	if c.lim.br != nil {
		return c.lim.br
	}
	return c.nc
}

func (c *conn) putReader() {
	if c.lim.br != nil {
		c.lim.br.Reset(nil)
		readerPool.Put(c.lim.br)
		c.lim.br = nil
	}
}

var errIdle = errors.New("idle for longer than connections.max.idle.ms")

// readFrameSize reads the next frame's 4-byte size. Waiting for it is
// idleness unless a response of ours is still pending; a size that arrives
// in pieces must complete within the idle timeout.
func (c *conn) readFrameSize(b []byte) error {
	idle := c.b.cfg.ConnectionsMaxIdle
	for {
		r := c.idleReader()
		if idle > 0 {
			c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		// Shutdown sets a past deadline; ours must not undo it.
		if c.stopping() {
			return net.ErrClosed
		}
		n, err := io.ReadFull(r, b)
		if err == nil {
			return nil
		}
		if !isTimeout(err) || c.stopping() {
			return err
		}
		if n == 0 && c.lim.queued.Load() > 0 {
			continue // not idle: we owe the client a response
		}
		if n > 0 {
			return fmt.Errorf("frame size incomplete after %v: %w", idle, errIdle)
		}
		return errIdle
	}
}

// bodyDeadline bounds the time to receive one frame's body.
func (c *conn) bodyDeadline() {
	if idle := c.b.cfg.ConnectionsMaxIdle; idle > 0 {
		c.nc.SetReadDeadline(time.Now().Add(idle))
	}
}

// writeDeadline bounds the time to write one response: a client that stops
// reading is idle too.
func (c *conn) writeDeadline() {
	if idle := c.b.cfg.ConnectionsMaxIdle; idle > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(idle))
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// frameLimit is the largest frame we read next: sasl.server.max.receive.size
// until a SASL listener's client has authenticated.
func (c *conn) frameLimit() (limit int32, preAuth bool) {
	if c.auth.stage != stageOpen {
		return min(c.b.cfg.SASLMaxReceiveSize, c.b.cfg.MaxRequestBytes), true
	}
	return c.b.cfg.MaxRequestBytes, false
}
