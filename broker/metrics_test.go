package broker_test

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/broker"
)

// scrape GETs /metrics and returns every sample by its series, labels
// sorted by name as the text format prints them: `name{a="1",b="2"}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// series names a sample: series("m", "topic", "t", "partition", "0").
func series(name string, kv ...string) string {
	var pairs []string
	for i := 0; i < len(kv); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
	}
	slices.Sort(pairs)
	if len(pairs) == 0 {
		return name
	}
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// TestMetricsScrape produces, consumes and commits, then checks the
// request counters, the per-topic traffic and the scrape-time partition
// and group gauges as Prometheus sees them over HTTP.
func TestMetricsScrape(t *testing.T) {
	b, addr := startGroupBroker(t, func(c *broker.Config) { c.MetricsListen = "127.0.0.1:0" })
	if b.MetricsAddr() == "" {
		t.Fatal("MetricsAddr is empty after Start")
	}
	const topic = "metrics-t"
	createTopic(t, addr, topic, 2, nil)

	// 5 records to partition 0, 3 to partition 1.
	cl := newFranz(t, addr)
	var rs []*kgo.Record
	for i := range 8 {
		p := int32(0)
		if i >= 5 {
			p = 1
		}
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("value-" + strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	consumeFranz(t, addr, topic, 0, 5)

	// Group g committed 3 on partition 0 only.
	adm := kadm.NewClient(cl)
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(testCtx(t), "g", os)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatal(err)
	}

	m := scrape(t, b.MetricsAddr())
	want := map[string]float64{
		series("chronik_partition_log_end_offset", "topic", topic, "partition", "0"):   5,
		series("chronik_partition_high_watermark", "topic", topic, "partition", "0"):   5,
		series("chronik_partition_log_start_offset", "topic", topic, "partition", "0"): 0,
		series("chronik_partition_log_end_offset", "topic", topic, "partition", "1"):   3,
		series("chronik_partition_high_watermark", "topic", topic, "partition", "1"):   3,
		series("chronik_group_lag", "group", "g", "topic", topic, "partition", "0"):    2,
		series("chronik_group_members", "group", "g"):                                  0,
		series("chronik_topic_records_in_total", "topic", topic):                       8,
		series("chronik_requests_total", "api", "OffsetCommit"):                        1,
	}
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("%s missing from /metrics", k)
		} else if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if _, ok := m[series("chronik_group_lag", "group", "g", "topic", topic, "partition", "1")]; ok {
		t.Errorf("lag reported for a partition the group never committed")
	}
	positive := []string{
		series("chronik_partition_size_bytes", "topic", topic, "partition", "0"),
		series("chronik_partition_size_bytes", "topic", topic, "partition", "1"),
		series("chronik_topic_bytes_in_total", "topic", topic),
		series("chronik_topic_bytes_out_total", "topic", topic),
		series("chronik_requests_total", "api", "Produce"),
		series("chronik_requests_total", "api", "Fetch"),
		series("chronik_request_duration_seconds_count", "api", "Produce"),
		"chronik_fsync_duration_seconds_count",
		"chronik_connections",
	}
	for _, k := range positive {
		if m[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, m[k])
		}
	}

	// The same collector through the registry, for embedders.
	mfs, err := b.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "chronik_group_lag"
	}
	if !found {
		t.Error("Registry().Gather() has no chronik_group_lag")
	}
}
