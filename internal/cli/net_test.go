package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicCommands(t *testing.T) {
	t.Parallel()
	b, _ := startBroker(t)
	addr := b.Addr()

	r := mustRun(t, "", on(addr, "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000", "--config", "cleanup.policy=delete")...)
	if !strings.Contains(r.stdout, "created topic orders with 3 partitions") {
		t.Errorf("create: %q", r.stdout)
	}
	mustRun(t, "", on(addr, "topic", "create", "--partitions", "1", "audit")...)
	if r := run(t, "", on(addr, "topic", "create", "orders")...); r.code != ExitFail || !strings.Contains(r.stderr, "TOPIC_ALREADY_EXISTS") {
		t.Errorf("duplicate create: exit %d, %q", r.code, r.stderr)
	}
	mustRun(t, "", on(addr, "topic", "create", "orders", "--if-not-exists")...)
	if r := run(t, "", on(addr, "topic", "create", "bad", "--config", "retention.ms=soon")...); r.code != ExitFail {
		t.Errorf("bad config: exit %d", r.code)
	}

	r = mustRun(t, "", on(addr, "topic", "list")...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "audit ") || !strings.HasPrefix(lines[2], "orders ") || !strings.Contains(lines[2], " 3 ") {
		t.Errorf("list:\n%s", r.stdout)
	}

	mustRun(t, "a\nb\nc\n", on(addr, "produce", "orders", "--partition", "1")...)
	r = mustRun(t, "", on(addr, "topic", "describe", "orders")...)
	for _, want := range []string{"Topic: orders", "Partitions: 3", "retention.ms=3600000", "cleanup.policy=delete"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe lacks %q:\n%s", want, r.stdout)
		}
	}
	rows := partitionRows(r.stdout)
	if len(rows) != 3 || rows[1][5] != "0" || rows[1][6] != "3" || rows[0][6] != "0" {
		t.Errorf("describe partitions: %q\n%s", rows, r.stdout)
	}
	r = mustRun(t, "", on(addr, "topic", "describe")...)
	if !strings.Contains(r.stdout, "Topic: audit") || !strings.Contains(r.stdout, "Configs: (none set: all defaults)") {
		t.Errorf("describe all:\n%s", r.stdout)
	}
	if r := run(t, "", on(addr, "topic", "describe", "nope")...); r.code != ExitFail || !strings.Contains(r.stderr, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("describe missing topic: exit %d, %q", r.code, r.stderr)
	}

	// alter: configs with IncrementalAlterConfigs, partitions with
	// CreatePartitions; either may not be implemented yet.
	r = run(t, "", on(addr, "topic", "alter", "orders", "--config", "retention.ms=7200000", "--delete-config", "cleanup.policy")...)
	if supports(t, addr, kmsg.IncrementalAlterConfigs) {
		if r.code != 0 {
			t.Fatalf("alter configs: exit %d: %s", r.code, r.stderr)
		}
		d := mustRun(t, "", on(addr, "topic", "describe", "orders")...)
		if !strings.Contains(d.stdout, "retention.ms=7200000") || strings.Contains(d.stdout, "cleanup.policy") {
			t.Errorf("after alter:\n%s", d.stdout)
		}
	} else if r.code != ExitFail || !strings.Contains(r.stderr, "does not implement IncrementalAlterConfigs (API key 44)") {
		t.Errorf("alter configs on a broker without it: exit %d, %q", r.code, r.stderr)
	}
	r = run(t, "", on(addr, "topic", "alter", "orders", "--partitions", "5")...)
	if supports(t, addr, kmsg.CreatePartitions) {
		if r.code != 0 {
			t.Fatalf("alter partitions: exit %d: %s", r.code, r.stderr)
		}
		d := mustRun(t, "", on(addr, "topic", "describe", "orders")...)
		if len(partitionRows(d.stdout)) != 5 {
			t.Errorf("after adding partitions:\n%s", d.stdout)
		}
	} else if r.code != ExitFail || !strings.Contains(r.stderr, "does not implement CreatePartitions (API key 37)") {
		t.Errorf("alter partitions on a broker without it: exit %d, %q", r.code, r.stderr)
	}

	r = mustRun(t, "", on(addr, "topic", "delete", "orders", "audit")...)
	if !strings.Contains(r.stdout, "deleted topic orders") || !strings.Contains(r.stdout, "deleted topic audit") {
		t.Errorf("delete: %q", r.stdout)
	}
	if r := run(t, "", on(addr, "topic", "delete", "orders")...); r.code != ExitFail {
		t.Errorf("deleting a missing topic: exit %d", r.code)
	}
	mustRun(t, "", on(addr, "topic", "delete", "orders", "--if-exists")...)
}

// partitionRows returns the cells of describe's partition table rows.
func partitionRows(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 7 && strings.HasPrefix(l, "  ") && f[0] != "PARTITION" {
			rows = append(rows, f)
		}
	}
	return rows
}

// supports asks the broker whether it implements key.
func supports(t *testing.T, addr string, key kmsg.Key) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(key) {
			return true
		}
	}
	return false
}

func TestProduceConsume(t *testing.T) {
	t.Parallel()
	b, _ := startBroker(t)
	addr := b.Addr()
	mustRun(t, "", on(addr, "topic", "create", "events", "--partitions", "2")...)

	in := "k1:v1\nk2:v2\nno key here\r\n\nk3:v:3\n"
	r := mustRun(t, in, on(addr, "produce", "events", "-K", ":", "--headers", "src=test", "-H", "n=1", "--partition", "1")...)
	if !strings.Contains(r.stderr, "produced 5 records to events") {
		t.Errorf("produce: %q", r.stderr)
	}
	r = mustRun(t, "", on(addr, "consume", "events", "-e", "--format", `%p %o [%k] [%v] %K %S %h\n`)...)
	want := "1 0 [k1] [v1] 2 2 src=test,n=1\n" +
		"1 1 [k2] [v2] 2 2 src=test,n=1\n" +
		"1 2 [] [no key here] -1 11 src=test,n=1\n" +
		"1 3 [] [] -1 0 src=test,n=1\n" +
		"1 4 [k3] [v:3] 2 3 src=test,n=1\n"
	if r.stdout != want {
		t.Errorf("consume -e:\n%s\nwant:\n%s", r.stdout, want)
	}

	// Keyless lines without --partition spread over partitions.
	mustRun(t, strings.Repeat("x\n", 50), on(addr, "produce", "--topic", "events", "--acks", "1")...)
	r = mustRun(t, "", on(addr, "consume", "events", "-e", "-f", `%p\n`)...)
	if n := strings.Count(r.stdout, "\n"); n != 55 {
		t.Errorf("consumed %d records, want 55", n)
	}

	// --from and --partition.
	r = mustRun(t, "", on(addr, "consume", "events", "-p", "1", "--from", "3", "-e", "-f", `%o\n`)...)
	if !strings.HasPrefix(r.stdout, "3\n4\n") {
		t.Errorf("--from 3: %q", r.stdout)
	}
	r = mustRun(t, "", on(addr, "consume", "events", "-p", "1", "--from", "-2", "-e", "-f", `%o `)...)
	end := partitionEnd(t, addr, "events", 1)
	if r.stdout != fmt.Sprintf("%d %d ", end-2, end-1) {
		t.Errorf("--from -2 with end %d: %q", end, r.stdout)
	}
	r = mustRun(t, "", on(addr, "consume", "events", "--from", "latest", "-e")...)
	if r.stdout != "" {
		t.Errorf("--from latest -e printed %q", r.stdout)
	}
	r = mustRun(t, "", on(addr, "consume", "events", "-c", "3", "-p", "1", "-f", `%v,`)...)
	if r.stdout != "v1,v2,no key here," {
		t.Errorf("--max-messages 3: %q", r.stdout)
	}

	// Without -e, consume follows the topic until --max-messages.
	done := make(chan result, 1)
	go func() { done <- run(t, "", on(addr, "consume", "events", "-p", "0", "--from", "latest", "-c", "2")...) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mustRun(t, "late\n", on(addr, "produce", "events", "-p", "0")...)
		select {
		case r = <-done:
		case <-time.After(200 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatal("consume did not see new records")
		}
		break
	}
	if r.code != 0 || r.stdout != "late\nlate\n" {
		t.Errorf("follow: exit %d, %q", r.code, r.stdout)
	}

	if r := run(t, "", on(addr, "consume", "missing", "-e")...); r.code != ExitFail || !strings.Contains(r.stderr, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("consume of a missing topic: exit %d, %q", r.code, r.stderr)
	}
	if r := run(t, "", on(addr, "consume", "events", "-p", "9", "-e")...); r.code != ExitFail || !strings.Contains(r.stderr, "no partition 9") {
		t.Errorf("consume of a missing partition: exit %d, %q", r.code, r.stderr)
	}
}

func partitionEnd(t *testing.T, addr, topic string, p int32) int64 {
	t.Helper()
	cf := &clientFlags{bootstrap: addr, timeout: 10 * time.Second}
	adm, err := cf.admin()
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	_, ends, err := listOffsets(t.Context(), cf, adm, topic)
	if err != nil {
		t.Fatal(err)
	}
	return ends[topic][p]
}

func TestBench(t *testing.T) {
	t.Parallel()
	b, _ := startBroker(t)
	addr := b.Addr()

	r := mustRun(t, "", on(addr, "bench", "produce", "--topic", "load", "--partitions", "3", "--records", "3000", "--record-size", "100", "--json", "--quiet")...)
	var pr ProduceBenchResult
	if err := json.Unmarshal([]byte(r.stdout), &pr); err != nil {
		t.Fatalf("produce --json: %v\n%s", err, r.stdout)
	}
	if pr.Sent != 3000 || pr.Acked != 3000 || pr.Failed != 0 || pr.Bytes != 300000 || pr.RecordsPerSec <= 0 ||
		pr.Latency.P50 <= 0 || pr.Latency.P50 > pr.Latency.P99 || pr.Latency.P99 > pr.Latency.P999 || pr.Latency.P999 > pr.Latency.Max {
		t.Errorf("produce report: %+v", pr)
	}
	if end := partitionEnd(t, addr, "load", 0) + partitionEnd(t, addr, "load", 1) + partitionEnd(t, addr, "load", 2); end != 3000 {
		t.Errorf("topic holds %d records, want 3000", end)
	}

	r = mustRun(t, "", on(addr, "bench", "consume", "--topic", "load", "--json")...)
	var cr ConsumeBenchResult
	if err := json.Unmarshal([]byte(r.stdout), &cr); err != nil {
		t.Fatalf("consume --json: %v\n%s", err, r.stdout)
	}
	if cr.Records != 3000 || cr.Bytes != 300000 || !cr.Complete || cr.Partitions != 3 {
		t.Errorf("consume report: %+v", cr)
	}
	r = mustRun(t, "", on(addr, "bench", "consume", "--topic", "load", "--records", "10")...)
	if !strings.Contains(r.stdout, "records/s") || !strings.Contains(r.stdout, ": 10 records, ") {
		t.Errorf("consume text report: %q", r.stdout)
	}

	// --rate paces; --duration stops; the text report and progress lines.
	start := time.Now()
	r = mustRun(t, "", on(addr, "bench", "produce", "--topic", "paced", "--rate", "500", "--duration", "1500ms", "--linger", "0", "--acks", "1")...)
	took := time.Since(start)
	if took < 1400*time.Millisecond {
		t.Errorf("--duration 1500ms took %v", took)
	}
	var sent int
	if _, err := fmt.Sscanf(r.stdout[strings.Index(r.stdout, "records: "):], "records: %d sent", &sent); err != nil || sent < 600 || sent > 800 {
		t.Errorf("--rate 500 for 1.5 s sent %d records (%v):\n%s", sent, err, r.stdout)
	}
	if !strings.Contains(r.stderr, "records/s") || !strings.Contains(r.stdout, "latency ms: p50") || !strings.Contains(r.stdout, "idempotent=false") {
		t.Errorf("report:\n%s\nprogress:\n%s", r.stdout, r.stderr)
	}

	// Compressed, non-idempotent with several requests in flight.
	r = mustRun(t, "", on(addr, "bench", "produce", "--topic", "zs", "--records", "2000", "--compression", "zstd", "--idempotent=false", "--max-inflight", "3", "--json", "--quiet")...)
	if err := json.Unmarshal([]byte(r.stdout), &pr); err != nil || pr.Acked != 2000 || pr.Compression != "zstd" {
		t.Errorf("zstd run: %v %+v", err, pr)
	}
}

func TestGroupCommands(t *testing.T) {
	t.Parallel()
	b, _ := startBroker(t)
	addr := b.Addr()
	mustRun(t, "", on(addr, "topic", "create", "jobs", "--partitions", "2")...)
	mustRun(t, "a\nb\nc\nd\n", on(addr, "produce", "jobs", "-p", "0")...)
	mustRun(t, "e\nf\n", on(addr, "produce", "jobs", "-p", "1")...)

	if !supports(t, addr, kmsg.JoinGroup) {
		r := run(t, "", on(addr, "consume", "jobs", "--group", "workers", "-e")...)
		if r.code != ExitFail || !strings.Contains(r.stderr, "lacks consumer groups") {
			t.Errorf("--group on a broker without groups: exit %d, %q", r.code, r.stderr)
		}
		r = run(t, "", on(addr, "group", "list")...)
		if r.code != ExitFail || !strings.Contains(r.stderr, "does not implement ListGroups") {
			t.Errorf("group list on a broker without groups: exit %d, %q", r.code, r.stderr)
		}
		t.Skip("the broker does not implement consumer groups yet")
	}

	r := mustRun(t, "", on(addr, "consume", "jobs", "--group", "workers", "-e", "-f", `%v`)...)
	got := []byte(r.stdout)
	slices.Sort(got)
	if string(got) != "abcdef" {
		t.Errorf("group consume: %q", r.stdout)
	}
	r = mustRun(t, "", on(addr, "group", "list")...)
	if !strings.Contains(r.stdout, "workers") {
		t.Errorf("group list:\n%s", r.stdout)
	}
	r = mustRun(t, "", on(addr, "group", "describe", "workers")...)
	if !strings.Contains(r.stdout, "Group: workers") || !strings.Contains(r.stdout, "total lag: 0") ||
		!regexpRow(r.stdout, "jobs", "0", "4", "4", "0") || !regexpRow(r.stdout, "jobs", "1", "2", "2", "0") {
		t.Errorf("group describe:\n%s", r.stdout)
	}

	// Lag after more records; the group resumes from its commit.
	mustRun(t, "g\nh\n", on(addr, "produce", "jobs", "-p", "0")...)
	r = mustRun(t, "", on(addr, "group", "describe")...)
	if !strings.Contains(r.stdout, "total lag: 2") {
		t.Errorf("lag 2 expected:\n%s", r.stdout)
	}
	r = mustRun(t, "", on(addr, "consume", "jobs", "--group", "workers", "-e", "-f", `%v`)...)
	if r.stdout != "gh" {
		t.Errorf("resume from commit: %q", r.stdout)
	}

	// --max-messages commits only what it printed: one of two new records.
	mustRun(t, "i\nj\n", on(addr, "produce", "jobs", "-p", "1")...)
	r = mustRun(t, "", on(addr, "consume", "jobs", "--group", "workers", "-c", "1", "-f", `%v`)...)
	if r.stdout != "i" {
		t.Errorf("consume -c 1: %q", r.stdout)
	}
	r = mustRun(t, "", on(addr, "group", "describe", "workers")...)
	if !strings.Contains(r.stdout, "total lag: 1") {
		t.Errorf("consume -c 1 committed more than it printed:\n%s", r.stdout)
	}
	r = mustRun(t, "", on(addr, "consume", "jobs", "--group", "workers", "-e", "-f", `%v`)...)
	if r.stdout != "j" {
		t.Errorf("resume after -c 1: %q", r.stdout)
	}

	// reset-offsets: dry run, then execute.
	r = mustRun(t, "", on(addr, "group", "reset-offsets", "workers", "--topic", "jobs", "--to", "earliest")...)
	if !strings.Contains(r.stdout, "dry run") || !regexpRow(r.stdout, "jobs", "0", "6", "0") {
		t.Errorf("reset dry run:\n%s", r.stdout)
	}
	r = mustRun(t, "", on(addr, "group", "describe", "workers")...)
	if !strings.Contains(r.stdout, "total lag: 0") {
		t.Errorf("dry run changed offsets:\n%s", r.stdout)
	}
	mustRun(t, "", on(addr, "group", "reset-offsets", "workers", "--all-topics", "--shift-by", "-1", "--execute")...)
	r = mustRun(t, "", on(addr, "group", "describe", "workers")...)
	if !strings.Contains(r.stdout, "total lag: 2") || !regexpRow(r.stdout, "jobs", "0", "5", "6", "1") {
		t.Errorf("after shift-by -1:\n%s", r.stdout)
	}
	mustRun(t, "", on(addr, "group", "reset-offsets", "workers", "--topic", "jobs", "--partition", "1", "--to", "0", "--execute")...)
	r = mustRun(t, "", on(addr, "consume", "jobs", "--group", "workers", "-e", "-f", `%v`)...)
	got = []byte(r.stdout)
	slices.Sort(got)
	if string(got) != "efhij" { // partition 1 from 0 (e, f, i, j), partition 0's last (h)
		t.Errorf("after resets: %q", r.stdout)
	}

	// A group with a live member cannot be reset.
	done := make(chan result, 1)
	go func() { done <- run(t, "", on(addr, "consume", "jobs", "--group", "workers", "-c", "1")...) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = mustRun(t, "", on(addr, "group", "describe", "workers")...)
		if strings.Contains(r.stdout, "Members: 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer never joined:\n%s", r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r = run(t, "", on(addr, "group", "reset-offsets", "workers", "--topic", "jobs", "--to", "latest", "--execute")...)
	if r.code != ExitFail || !strings.Contains(r.stderr, "stop its consumers first") {
		t.Errorf("reset of an active group: exit %d, %q", r.code, r.stderr)
	}
	mustRun(t, "z\n", on(addr, "produce", "jobs", "-p", "0")...)
	if r := <-done; r.code != 0 || r.stdout != "z\n" {
		t.Errorf("live consumer: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	if supports(t, addr, kmsg.DeleteGroups) {
		mustRun(t, "", on(addr, "group", "delete", "workers")...)
		r = mustRun(t, "", on(addr, "group", "list")...)
		if strings.Contains(r.stdout, "workers") {
			t.Errorf("group still listed after delete:\n%s", r.stdout)
		}
	}
}

// regexpRow reports whether a line of out has these cells in order at its
// start.
func regexpRow(out string, cells ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= len(cells) && slices.Equal(f[:len(cells)], cells) {
			return true
		}
	}
	return false
}
