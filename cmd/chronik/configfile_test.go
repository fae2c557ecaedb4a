package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chronik.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseConfigFile(t *testing.T) {
	in := `# a comment
kafka-port = 19092        # trailing comment
log.dirs = "/var/lib/chronik"
log-level = 'debug'
"quoted.key" = "a \"b\" \\ \u00e9 # not a comment"
num.partitions = 1_000
ratio = 0.5
auto.create.topics.enable = false
listeners = ["PLAINTEXT://:9092", "SSL://:9093"]   # joined with commas
empty = []

[log]
retention.hours = 24
[ "group" ]
max.size = 10
`
	got, err := parseConfigFile(strings.NewReader(in), "c.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"kafka-port":                "19092",
		"log.dirs":                  "/var/lib/chronik",
		"log-level":                 "debug",
		"quoted.key":                `a "b" \ é # not a comment`,
		"num.partitions":            "1000",
		"ratio":                     "0.5",
		"auto.create.topics.enable": "false",
		"listeners":                 "PLAINTEXT://:9092,SSL://:9093",
		"empty":                     "",
		"log.retention.hours":       "24",
		"group.max.size":            "10",
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k].value != v {
			t.Errorf("%s = %q, want %q", k, got[k].value, v)
		}
	}
	if got["log.retention.hours"].line != 13 {
		t.Errorf("log.retention.hours on line %d, want 13", got["log.retention.hours"].line)
	}
}

func TestParseConfigFileRejects(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a = 1\na = 2", "c.toml:2: a set twice (first on line 1)"},
		{"a = bare", "c.toml:1: a: \"bare\" is not a string"},
		{"a = \"open", "unterminated string"},
		{"a = '''x'''", "multi-line"},
		{"a = {b = 1}", "inline tables"},
		{"a = [1,\n2]", "one line"},
		{"a = [[1]]", "nested"},
		{"a", "want key = value"},
		{"= 1", "want a key"},
		{"a = 1 2", "unexpected"},
		{"[[t]]", "arrays of tables"},
		{"[t", "unterminated section"},
		{"a = \"\\q\"", "escape"},
		{"a = 1__0", "not a string"},
		{"a = 0x10", "not a string"},
		{"a = nan", "not a string"},
		{"a =", "missing value"},
	}
	for _, tc := range tests {
		_, err := parseConfigFile(strings.NewReader(tc.in), "c.toml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse %q: error %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

// TestConfigFilePrecedence: flag > environment > file > default, Kafka keys
// that are not flags reach BrokerConfigs, and CHRONIK_CONFIG names the file.
func TestConfigFilePrecedence(t *testing.T) {
	path := writeConfig(t, `
kafka-port = 1111
node.id = 5
num.partitions = 3
fsync = "50ms"
log.retention.hours = 24
log.segment.bytes = 2097152
group.initial.rebalance.delay.ms = 0
socket.request.max.bytes = 2000000
connections.max.idle.ms = 60000
listeners = ["PLAINTEXT://127.0.0.1:1234"]
`)
	for _, viaEnv := range []bool{false, true} {
		env := map[string]string{"CHRONIK_NODE_ID": "6", "CHRONIK_FSYNC": ""}
		args := []string{"--num-partitions", "4"}
		if viaEnv {
			env["CHRONIK_CONFIG"] = path
		} else {
			args = append(args, "--config", path)
		}
		o, cfg, err := parse(t, env, args...)
		if err != nil {
			t.Fatal(err)
		}
		if o.kafkaPort != 1111 || o.nodeID != 6 || o.numPartitions != 4 || o.fsync != "50ms" || o.dataDir != "./data" {
			t.Errorf("options %+v", o)
		}
		if cfg.NodeID != 6 || cfg.NumPartitions != 4 || cfg.MaxRequestBytes != 2000000 || cfg.ConnectionsMaxIdle.Seconds() != 60 ||
			len(cfg.Listeners) != 1 || cfg.Listeners[0].Addr != "127.0.0.1:1234" {
			t.Errorf("config %+v", cfg)
		}
		for k, v := range map[string]string{"log.retention.hours": "24", "log.segment.bytes": "2097152", "group.initial.rebalance.delay.ms": "0"} {
			if cfg.BrokerConfigs[k] != v {
				t.Errorf("BrokerConfigs[%s] = %q, want %q", k, cfg.BrokerConfigs[k], v)
			}
		}
		if _, ok := cfg.BrokerConfigs["node.id"]; ok {
			t.Error("a flag's key leaked into BrokerConfigs")
		}
	}
}

func TestConfigFileRejects(t *testing.T) {
	tests := []struct{ text, want string }{
		{"no.such.key = 1", "chronik.toml:1: no.such.key: unknown key"},
		{"num.partitions = \"many\"", "num.partitions: invalid value"},
		{"num.partitions = 0", "num.partitions"},
		{"log.segment.bytes = 10", "log.segment.bytes"},
		{"log.retention.hours = \"a week\"", "log.retention.hours"},
		{"kafka-port = \"x\"", "kafka-port"},
		{"data-dir = \"/x\"", "use the Kafka name log.dirs"},
		{"broker.id = 3", "set node.id instead"},
		{"log.dirs = \"/a,/b\"", "one data directory"},
		{"connections.max.idle.ms = \"10m\"", "connections.max.idle.ms"},
		{"socket.request.max.bytes = -1", "socket.request.max.bytes"},
		{"fsync = \"sometimes\"", "fsync"},
		{"kafka-port = 99999", "kafka-port"},
	}
	for _, tc := range tests {
		path := writeConfig(t, tc.text)
		_, _, err := parse(t, nil, "--config", path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.text, err, tc.want)
		}
	}
	if _, _, err := parse(t, nil, "--config", filepath.Join(t.TempDir(), "missing.toml")); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("missing file: error %v", err)
	}
	// start refuses before doing anything, exit code 2.
	var stderr bytes.Buffer
	path := writeConfig(t, "log.retention.hourz = 1\n")
	if code := run([]string{"start", "--config", path}, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "log.retention.hourz") {
		t.Errorf("start: exit %d, stderr %q", code, stderr.String())
	}
}

func TestConfigShow(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, "kafka-port = 1111\nnode.id = 5\nlog.retention.hours = 24\nlog-level = \"debug\"\n")
	t.Setenv("CHRONIK_NODE_ID", "6")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"config", "show", "--config", path, "--log-level", "warn"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, line := range []string{
		"kafka-port = 1111  # file\n",
		"node.id = 6  # env\n",
		"log-level = \"warn\"  # flag\n",
		"log.retention.hours = 24  # file\n",
		"num.partitions = 1  # default\n",
		"log.dirs = \"./data\"  # default\n",
		"connections.max.idle.ms = \"\"  # default\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("config show lacks %q:\n%s", line, out)
		}
	}

	// The output is a config file that gives the same settings.
	os.Unsetenv("CHRONIK_NODE_ID")
	again := writeConfig(t, out)
	stdout.Reset()
	if code := run([]string{"config", "show", "--config", again}, &stdout, &stderr); code != 0 {
		t.Fatalf("round trip: exit %d: %s", code, stderr.String())
	}
	strip := func(s string) []string {
		var vals []string
		for _, l := range strings.Split(s, "\n")[1:] {
			v, _, _ := strings.Cut(l, "  #")
			vals = append(vals, v)
		}
		return vals
	}
	if a, b := strip(out), strip(stdout.String()); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("round trip changed the settings:\n%s\nthen\n%s", out, stdout.String())
	}

	stderr.Reset()
	if code := run([]string{"config", "show", "--kafka-port", "70000"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "kafka-port") {
		t.Errorf("bad flag: exit %d, stderr %q", code, stderr.String())
	}
	if code := run([]string{"config"}, &stdout, &stderr); code != 2 {
		t.Errorf("config without show: exit %d", code)
	}
}

// TestConfigFileReachesBroker starts a broker from a config file and reads
// the file's Kafka keys back with DescribeConfigs.
func TestConfigFileReachesBroker(t *testing.T) {
	path := writeConfig(t, fmt.Sprintf(`
log.dirs = %q
kafka-port = 0
metrics-port = 0
bind-addr = "127.0.0.1"
num.partitions = 3
log.retention.hours = 72
socket.request.max.bytes = 2000000
`, t.TempDir()))
	_, cfg, err := parse(t, nil, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger, _ = newLogger("error", "text", io.Discard)
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rcs, err := kadm.NewClient(cl).DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]kadm.Config{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			got[c.Key] = c
		}
	}
	for k, v := range map[string]string{"log.retention.hours": "72", "num.partitions": "3", "socket.request.max.bytes": "2000000"} {
		c := got[k]
		if c.Value == nil || *c.Value != v || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
			t.Errorf("%s: %v from %v, want %s static", k, c.MaybeValue(), c.Source, v)
		}
	}
}
