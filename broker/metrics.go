package broker

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metrics are the broker's Prometheus metrics, in a registry of its own so
// several brokers can run in one process (tests).
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	errors      *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	bytesIn     *prometheus.CounterVec
	recordsIn   *prometheus.CounterVec
	bytesOut    *prometheus.CounterVec
	sendfile    prometheus.Counter
	produceErrs *prometheus.CounterVec
	conns       prometheus.Gauge
	fsyncs      prometheus.Histogram
	fsyncBytes  prometheus.Histogram
	b           *Broker
	// addr is the bound address of the metrics endpoint, set by Start.
	addr string
}

func newMetrics(b *Broker) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), b: b}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chronik_requests_total", Help: "Requests answered, by API."}, []string{"api"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chronik_request_errors_total", Help: "Requests that closed their connection (undecodable, unsupported, failed), by API."}, []string{"api"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "chronik_request_duration_seconds", Help: "Time from reading a request to writing its response, by API.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"api"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chronik_topic_bytes_in_total", Help: "Record batch bytes appended, by topic."}, []string{"topic"})
	m.recordsIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chronik_topic_records_in_total", Help: "Records appended, by topic."}, []string{"topic"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chronik_topic_bytes_out_total", Help: "Record batch bytes returned by fetches, by topic."}, []string{"topic"})
	m.sendfile = prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_fetch_sendfile_bytes_total", Help: "Record bytes fetch responses sent from the segment files with sendfile (not copied through the broker)."})
	m.produceErrs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chronik_topic_produce_errors_total", Help: "Partition appends refused, by topic."}, []string{"topic"})
	m.conns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "chronik_connections", Help: "Open client connections."})
	m.fsyncs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "chronik_fsync_duration_seconds", Help: "Duration of group-commit fsyncs of partition segments (the count is the number of fsyncs).", Buckets: prometheus.ExponentialBuckets(0.00005, 3, 10)})
	m.fsyncBytes = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "chronik_fsync_batch_bytes", Help: "Bytes made durable by one group-commit fsync.", Buckets: prometheus.ExponentialBuckets(512, 4, 10)})
	m.reg.MustRegister(m.requests, m.errors, m.latency, m.bytesIn, m.recordsIn, m.bytesOut, m.sendfile, m.produceErrs, m.conns, m.fsyncs, m.fsyncBytes,
		stateCollector{b}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func apiName(key int16) string {
	if n := kmsg.NameForKey(key); n != "" {
		return n
	}
	return "Unknown" + strconv.Itoa(int(key))
}

func (m *metrics) requestDone(key int16, start time.Time) {
	n := apiName(key)
	m.requests.WithLabelValues(n).Inc()
	m.latency.WithLabelValues(n).Observe(time.Since(start).Seconds())
}

func (m *metrics) requestError(key int16) { m.errors.WithLabelValues(apiName(key)).Inc() }

func (m *metrics) produced(topic string, bytes int, records int64) {
	m.bytesIn.WithLabelValues(topic).Add(float64(bytes))
	m.recordsIn.WithLabelValues(topic).Add(float64(records))
}

func (m *metrics) produceError(topic string) { m.produceErrs.WithLabelValues(topic).Inc() }

func (m *metrics) fetched(topic string, bytes int) {
	m.bytesOut.WithLabelValues(topic).Add(float64(bytes))
}

func (m *metrics) sentFromFile(bytes int) { m.sendfile.Add(float64(bytes)) }

func (m *metrics) synced(d time.Duration, bytes int64) {
	m.fsyncs.Observe(d.Seconds())
	m.fsyncBytes.Observe(float64(bytes))
}

// MetricsAddr is the bound address of the /metrics endpoint (valid after
// Start; empty when MetricsListen is empty).
func (b *Broker) MetricsAddr() string { return b.metrics.addr }

// Registry is the broker's Prometheus registry (for embedding and tests).
func (b *Broker) Registry() *prometheus.Registry { return b.metrics.reg }

func (m *metrics) connOpened() { m.conns.Inc() }
func (m *metrics) connClosed() { m.conns.Dec() }

// handler serves /metrics, /healthz (the process is alive) and /readyz
// (recovered and listening).
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.b.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}
