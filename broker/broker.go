// Package broker is Chronik's embeddable Kafka-compatible server.
//
//	cfg := broker.DefaultConfig()
//	b, err := broker.New(cfg)   // opens and recovers the data directory
//	err = b.Start()             // listens; b.Addr() is the bound address
//	defer b.Close()             // stops accepting, finishes requests, syncs
//
// One file per Kafka API holds its handler (00_produce.go, 01_fetch.go, …),
// numbered by API key like franz-go's kfake. Handlers decode with kmsg, call
// the owners of state (internal/log, internal/meta) and set per-partition
// error codes; they never touch files.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/meta"
	"github.com/chronik-stream/chronik/internal/txn"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// Broker is a single-node Kafka-compatible broker.
type Broker struct {
	cfg Config
	log *slog.Logger

	meta *meta.Store
	logs *klog.Manager
	txns *txn.Coordinator // opened by New, after the topics

	// topicMu serializes changes to the set of topics and partitions
	// (create, delete, add partitions), so that a topic's metadata, its
	// partition logs and its published state change in the same order.
	// Lock order: topicMu before topicsMu.
	topicMu sync.Mutex
	// topicsMu guards topics and byID. Lock order: topicsMu before any
	// partition's own lock (taken inside internal/log).
	topicsMu sync.RWMutex
	topics   map[string]*topicState
	byID     map[[16]byte]*topicState

	ln      net.Listener // the first listener's (Addr)
	metrics *metrics
	httpSrv *http.Server

	// advHost and advPort are the first listener's advertised address;
	// a connection answers with its own listener's (security.go).
	advHost string
	advPort int32

	listeners []*listener  // bound by Start (security.go)
	sec       *security    // credentials, ACLs, authorizer
	connLimit *connLimiter // max.connections(.per.ip) (limits.go)
	reqBytes  *byteSem     // queued.max.request.bytes

	ctx    context.Context // cancelled by Close once requests had their chance to finish
	cancel context.CancelFunc
	// stopping is closed when Close begins: fetch long-polls answer with
	// what they have at once instead of holding shutdown up for max_wait.
	stopping chan struct{}

	connsMu sync.Mutex
	conns   map[*conn]struct{}
	connWG  sync.WaitGroup

	closed  atomic.Bool
	started atomic.Bool
	ready   atomic.Bool
}

// topicState is one topic's metadata and its partition logs. It is never
// changed once published: a change publishes a new one (refreshTopic).
type topicState struct {
	meta  meta.Topic
	parts []*klog.Partition
	conv  conversion // how produce and fetch convert batches (topics.go)
}

// New opens the data directory (running recovery for every partition) and
// returns a broker that is not yet listening.
func New(cfg Config) (*Broker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := meta.ValidateBrokerConfigs(cfg.BrokerConfigs); err != nil {
		return nil, fmt.Errorf("broker: configuration: %w", err)
	}
	b := &Broker{
		cfg:    cfg,
		log:    cfg.Logger,
		topics: make(map[string]*topicState),
		byID:   make(map[[16]byte]*topicState),
		conns:  make(map[*conn]struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.stopping = make(chan struct{})
	b.metrics = newMetrics(b)
	if err := mkdirDurable(cfg.FS, cfg.DataDir); err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	start := time.Now()
	ms, err := meta.Open(cfg.FS, filepath.Join(cfg.DataDir, "__meta"))
	if err != nil {
		return nil, fmt.Errorf("broker: metadata: %w", err)
	}
	b.meta = ms
	if err := b.initSecurity(); err != nil {
		return nil, err
	}
	brokerCfgs := b.brokerConfigs()
	logs, err := klog.OpenManager(cfg.DataDir, func(topic string) (klog.Config, bool) {
		t, ok := ms.Topic(topic)
		if !ok {
			return klog.Config{}, false
		}
		return b.logConfig(t, brokerCfgs), true
	}, b.logOptions())
	if err != nil {
		return nil, fmt.Errorf("broker: opening logs: %w", err)
	}
	b.logs = logs
	// Every topic in the metadata gets all its partitions; a crash between
	// persisting a topic and creating its directories is finished here.
	for _, t := range ms.Topics() {
		if err := b.openTopic(t); err != nil {
			logs.Close()
			return nil, err
		}
	}
	if err := b.openTxns(); err != nil {
		logs.Close()
		return nil, fmt.Errorf("broker: transaction coordinator: %w", err)
	}
	b.log.Info("data directory opened", "dir", cfg.DataDir, "topics", len(b.topics), "elapsed", time.Since(start).Round(time.Millisecond))
	return b, nil
}

// Start binds the listeners and serves in the background.
func (b *Broker) Start() error {
	if !b.started.CompareAndSwap(false, true) {
		return errors.New("broker: already started")
	}
	if err := b.listen(); err != nil {
		return err
	}
	if b.cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", b.cfg.MetricsListen)
		if err != nil {
			b.closeListeners()
			return fmt.Errorf("broker: metrics listen: %w", err)
		}
		b.metrics.addr = mln.Addr().String()
		b.httpSrv = &http.Server{Handler: b.metrics.handler(), ReadHeaderTimeout: 10 * time.Second}
		go b.httpSrv.Serve(mln)
	}
	b.ready.Store(true)
	for _, l := range b.listeners {
		b.log.Info("listening", "listener", l.name, "protocol", l.proto, "addr", l.ln.Addr().String(), "advertised", net.JoinHostPort(l.advHost, strconv.Itoa(int(l.advPort))))
		b.connWG.Add(1)
		go b.acceptLoop(l)
	}
	return nil
}

// Addr is the bound Kafka listener address (valid after Start).
func (b *Broker) Addr() string {
	if b.ln == nil {
		return ""
	}
	return b.ln.Addr().String()
}

// Close stops accepting connections, lets in-flight requests finish, syncs
// and closes every partition.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	b.ready.Store(false)
	close(b.stopping)
	b.closeListeners()
	b.connsMu.Lock()
	for c := range b.conns {
		c.closeRead()
	}
	b.connsMu.Unlock()
	// Parked joins and syncs are answered now, so connections drain.
	if err := b.closeGroups(); err != nil {
		b.log.Error("closing the group coordinator", "err", err)
	}
	// Let in-flight requests finish before cancelling waits.
	done := make(chan struct{})
	go func() { b.connWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		b.log.Warn("connections did not finish within 10s; closing them")
	}
	b.cancel()
	b.connsMu.Lock()
	for c := range b.conns {
		c.nc.Close()
	}
	b.connsMu.Unlock()
	<-done
	if b.httpSrv != nil {
		b.httpSrv.Close()
	}
	err := b.txns.Close()
	if err != nil {
		b.log.Error("closing the transaction coordinator", "err", err)
	}
	err = errors.Join(err, b.logs.Close())
	b.log.Info("broker stopped")
	return err
}

func (b *Broker) acceptLoop(l *listener) {
	defer b.connWG.Done()
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if b.closed.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				b.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			b.log.Error("accept failed; listener stopped", "err", err)
			return
		}
		backoff = 0
		ip := remoteIP(nc.RemoteAddr())
		if err := b.connLimit.admit(ip); err != nil {
			if ok, n := b.connLimit.logRejection(); ok {
				b.log.Info("connection rejected", "listener", l.name, "remote", nc.RemoteAddr().String(), "reason", err, "rejected_unlogged", n)
			}
			nc.Close()
			continue
		}
		if l.tls != nil {
			nc = tls.Server(nc, l.tls.server)
		}
		c := newConn(b, nc)
		b.initConn(c, l, ip)
		b.connsMu.Lock()
		if b.closed.Load() {
			b.connsMu.Unlock()
			b.connLimit.release(ip)
			nc.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.connWG.Add(1)
		b.connsMu.Unlock()
		go func() {
			defer b.connWG.Done()
			c.serve()
			b.connLimit.release(ip)
			b.connsMu.Lock()
			delete(b.conns, c)
			b.connsMu.Unlock()
		}()
	}
}

func isTemporary(err error) bool {
	type temp interface{ Temporary() bool }
	var t temp
	return errors.As(err, &t) && t.Temporary()
}

// mkdirDurable creates dir if needed and makes its entry durable: without
// the parent's fsync a power cut could lose a fresh data directory with
// acknowledged data in it. Every directory MkdirAll may have created has its
// parent synced, from the deepest up to the first that already existed.
func mkdirDurable(fs vfs.FS, dir string) error {
	dir = filepath.Clean(dir)
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, _, err := fs.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range created {
		if err := fs.SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}
