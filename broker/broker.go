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
)

// Broker is a single-node Kafka-compatible broker.
type Broker struct {
	cfg Config
	log *slog.Logger

	meta *meta.Store
	logs *klog.Manager

	// topicsMu guards topics and byID. Lock order: topicsMu before any
	// partition's own lock (taken inside internal/log).
	topicsMu sync.RWMutex
	topics   map[string]*topicState
	byID     map[[16]byte]*topicState

	ln      net.Listener
	metrics *metrics
	httpSrv *http.Server

	advHost string
	advPort int32

	ctx    context.Context // cancelled by Close: wakes long polls and waits
	cancel context.CancelFunc

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
	b.metrics = newMetrics(b)
	if err := cfg.FS.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	start := time.Now()
	ms, err := meta.Open(cfg.FS, filepath.Join(cfg.DataDir, "__meta"))
	if err != nil {
		return nil, fmt.Errorf("broker: metadata: %w", err)
	}
	b.meta = ms
	brokerCfgs := b.brokerConfigs()
	logs, err := klog.OpenManager(cfg.DataDir, func(topic string) (klog.Config, bool) {
		t, ok := ms.Topic(topic)
		if !ok {
			return klog.Config{}, false
		}
		return b.logConfig(t, brokerCfgs), true
	}, klog.Options{FS: cfg.FS, Logger: b.log, OnSync: b.metrics.synced})
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
	b.log.Info("data directory opened", "dir", cfg.DataDir, "topics", len(b.topics), "elapsed", time.Since(start).Round(time.Millisecond))
	return b, nil
}

// Start binds the listeners and serves in the background.
func (b *Broker) Start() error {
	if !b.started.CompareAndSwap(false, true) {
		return errors.New("broker: already started")
	}
	ln, err := net.Listen("tcp", b.cfg.Listen)
	if err != nil {
		return fmt.Errorf("broker: listen: %w", err)
	}
	b.ln = ln
	b.advHost, b.advPort = b.advertised()
	if b.cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", b.cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("broker: metrics listen: %w", err)
		}
		b.httpSrv = &http.Server{Handler: b.metrics.handler(), ReadHeaderTimeout: 10 * time.Second}
		go b.httpSrv.Serve(mln)
	}
	b.ready.Store(true)
	b.log.Info("listening", "addr", ln.Addr().String(), "advertised", net.JoinHostPort(b.advHost, strconv.Itoa(int(b.advPort))))
	b.connWG.Add(1)
	go b.acceptLoop()
	return nil
}

func (b *Broker) advertised() (string, int32) {
	host, portStr, _ := net.SplitHostPort(b.ln.Addr().String())
	port, _ := strconv.Atoi(portStr)
	advHost, advPort := b.cfg.AdvertisedHost, b.cfg.AdvertisedPort
	if advPort == 0 {
		advPort = int32(port)
	}
	if advHost == "" {
		ip := net.ParseIP(host)
		if ip == nil || ip.IsUnspecified() {
			advHost = "127.0.0.1"
			b.log.Warn("binding all interfaces without an advertised address: advertising 127.0.0.1, which only local clients can reach; set --advertised-addr")
		} else {
			advHost = host
		}
	}
	return advHost, advPort
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
	if b.ln != nil {
		b.ln.Close()
	}
	b.connsMu.Lock()
	for c := range b.conns {
		c.closeRead()
	}
	b.connsMu.Unlock()
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
	err := b.logs.Close()
	b.log.Info("broker stopped")
	return err
}

func (b *Broker) acceptLoop() {
	defer b.connWG.Done()
	var backoff time.Duration
	for {
		nc, err := b.ln.Accept()
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
		c := newConn(b, nc)
		b.connsMu.Lock()
		if b.closed.Load() {
			b.connsMu.Unlock()
			nc.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.connWG.Add(1)
		b.connsMu.Unlock()
		go func() {
			defer b.connWG.Done()
			c.serve()
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
