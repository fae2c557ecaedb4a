package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

// clearEnv unsets every CHRONIK_* variable for the test (restored after).
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CHRONIK_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// parse runs parseStart and config the way start does.
func parse(t *testing.T, env map[string]string, args ...string) (startOptions, broker.Config, error) {
	t.Helper()
	clearEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	var stderr bytes.Buffer
	o, err := parseStart(args, &stderr)
	if err != nil {
		return o, broker.Config{}, err
	}
	if _, err := newLogger(o.logLevel, o.logFormat, io.Discard); err != nil {
		return o, broker.Config{}, err
	}
	cfg, err := o.config(nil)
	return o, cfg, err
}

func TestParseStartDefaults(t *testing.T) {
	o, cfg, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := startOptions{
		kafkaPort: 9092, bindAddr: "0.0.0.0", dataDir: "./data", metricsPort: 9093,
		logLevel: "info", logFormat: "text", fsync: "always", pageCacheTail: 0, nodeID: 1, autoCreate: true, numPartitions: 1,
	}
	if o != want {
		t.Errorf("options\n got %+v\nwant %+v", o, want)
	}
	def := broker.DefaultConfig()
	checks := []struct {
		name      string
		got, want any
	}{
		{"Listen", cfg.Listen, "0.0.0.0:9092"},
		{"DataDir", cfg.DataDir, "./data"},
		{"MetricsListen", cfg.MetricsListen, "0.0.0.0:9093"},
		{"FsyncInterval", cfg.FsyncInterval, time.Duration(0)},
		{"AdvertisedHost", cfg.AdvertisedHost, ""},
		{"AdvertisedPort", cfg.AdvertisedPort, int32(0)},
		{"NodeID", cfg.NodeID, int32(1)},
		{"AutoCreateTopics", cfg.AutoCreateTopics, true},
		{"NumPartitions", cfg.NumPartitions, int32(1)},
		{"MaxRequestBytes", cfg.MaxRequestBytes, def.MaxRequestBytes},
		{"PageCacheTail", cfg.PageCacheTail, def.PageCacheTail},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseStartSources(t *testing.T) {
	allEnv := map[string]string{
		"CHRONIK_KAFKA_PORT":         "19092",
		"CHRONIK_BIND_ADDR":          "10.1.2.3",
		"CHRONIK_ADVERTISED_ADDR":    "kafka.example",
		"CHRONIK_DATA_DIR":           "/var/lib/chronik",
		"CHRONIK_METRICS_PORT":       "19093",
		"CHRONIK_LOG_LEVEL":          "debug",
		"CHRONIK_LOG_FORMAT":         "json",
		"CHRONIK_FSYNC":              "250ms",
		"CHRONIK_PAGE_CACHE_TAIL":    "4194304",
		"CHRONIK_FETCH_COPY":         "true",
		"CHRONIK_NODE_ID":            "7",
		"CHRONIK_AUTO_CREATE_TOPICS": "false",
		"CHRONIK_NUM_PARTITIONS":     "12",
	}
	allFlags := []string{
		"--kafka-port", "29092", "--bind-addr", "127.0.0.1", "--advertised-addr", "broker-0.internal:29999",
		"--data-dir", "/data", "--metrics-port", "0", "--log-level", "warn", "--log-format", "text",
		"--fsync", "always", "--page-cache-tail", "1048576", "--fetch-copy=false", "--node-id", "3", "--auto-create-topics=true", "--num-partitions", "2",
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, o startOptions, cfg broker.Config)
	}{
		{"env overrides every default", allEnv, nil, func(t *testing.T, o startOptions, cfg broker.Config) {
			want := startOptions{
				kafkaPort: 19092, bindAddr: "10.1.2.3", advertisedAddr: "kafka.example", dataDir: "/var/lib/chronik",
				metricsPort: 19093, logLevel: "debug", logFormat: "json", fsync: "250ms", pageCacheTail: 4 << 20, fetchCopy: true, nodeID: 7,
				autoCreate: false, numPartitions: 12,
			}
			if o != want {
				t.Errorf("options\n got %+v\nwant %+v", o, want)
			}
			if cfg.Listen != "10.1.2.3:19092" || cfg.MetricsListen != "10.1.2.3:19093" || cfg.DataDir != "/var/lib/chronik" ||
				cfg.FsyncInterval != 250*time.Millisecond || cfg.PageCacheTail != 4<<20 || !cfg.FetchCopy || cfg.NodeID != 7 || cfg.AutoCreateTopics || cfg.NumPartitions != 12 ||
				cfg.AdvertisedHost != "kafka.example" || cfg.AdvertisedPort != 0 {
				t.Errorf("config %+v", cfg)
			}
		}},
		{"flags beat env", allEnv, allFlags, func(t *testing.T, o startOptions, cfg broker.Config) {
			want := startOptions{
				kafkaPort: 29092, bindAddr: "127.0.0.1", advertisedAddr: "broker-0.internal:29999", dataDir: "/data",
				metricsPort: 0, logLevel: "warn", logFormat: "text", fsync: "always", pageCacheTail: 1 << 20, nodeID: 3,
				autoCreate: true, numPartitions: 2,
			}
			if o != want {
				t.Errorf("options\n got %+v\nwant %+v", o, want)
			}
			if cfg.Listen != "127.0.0.1:29092" || cfg.MetricsListen != "" || cfg.FsyncInterval != 0 || cfg.PageCacheTail != 1<<20 || cfg.FetchCopy ||
				cfg.AdvertisedHost != "broker-0.internal" || cfg.AdvertisedPort != 29999 {
				t.Errorf("config %+v", cfg)
			}
		}},
		{"an empty env variable is unset", map[string]string{"CHRONIK_KAFKA_PORT": "", "CHRONIK_DATA_DIR": ""}, nil, func(t *testing.T, o startOptions, cfg broker.Config) {
			if o.kafkaPort != 9092 || o.dataDir != "./data" {
				t.Errorf("options %+v", o)
			}
		}},
		{"single-dash flags", nil, []string{"-kafka-port", "1234", "-data-dir=/x"}, func(t *testing.T, o startOptions, cfg broker.Config) {
			if cfg.Listen != "0.0.0.0:1234" || cfg.DataDir != "/x" {
				t.Errorf("config %+v", cfg)
			}
		}},
		{"ipv6 bind address", nil, []string{"--bind-addr", "::1", "--kafka-port", "9000"}, func(t *testing.T, o startOptions, cfg broker.Config) {
			if cfg.Listen != "[::1]:9000" || cfg.MetricsListen != "[::1]:9093" {
				t.Errorf("Listen %q MetricsListen %q", cfg.Listen, cfg.MetricsListen)
			}
		}},
		{"fsync interval", nil, []string{"--fsync", "1s"}, func(t *testing.T, o startOptions, cfg broker.Config) {
			if cfg.FsyncInterval != time.Second {
				t.Errorf("FsyncInterval %v", cfg.FsyncInterval)
			}
		}},
		{"port 0 picks a free port", nil, []string{"--kafka-port", "0", "--metrics-port", "0"}, func(t *testing.T, o startOptions, cfg broker.Config) {
			if cfg.Listen != "0.0.0.0:0" || cfg.MetricsListen != "" {
				t.Errorf("Listen %q MetricsListen %q", cfg.Listen, cfg.MetricsListen)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, cfg, err := parse(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o, cfg)
		})
	}
}

func TestSplitAdvertised(t *testing.T) {
	tests := []struct {
		in     string
		host   string
		port   int32
		hasErr bool
	}{
		{"kafka.example", "kafka.example", 0, false},
		{"kafka.example:19092", "kafka.example", 19092, false},
		{"10.0.0.5", "10.0.0.5", 0, false},
		{"10.0.0.5:9092", "10.0.0.5", 9092, false},
		{"[::1]:9092", "::1", 9092, false},
		{"[fd00::1]", "fd00::1", 0, false},
		{"kafka.example:0", "", 0, true},
		{"kafka.example:65536", "", 0, true},
		{"kafka.example:-1", "", 0, true},
		{"kafka.example:http", "", 0, true},
		{"a:b:c", "", 0, true},
	}
	for _, tc := range tests {
		host, port, err := splitAdvertised(tc.in)
		if tc.hasErr {
			if err == nil {
				t.Errorf("splitAdvertised(%q) = %q, %d; want an error", tc.in, host, port)
			}
			continue
		}
		if err != nil || host != tc.host || port != tc.port {
			t.Errorf("splitAdvertised(%q) = %q, %d, %v; want %q, %d", tc.in, host, port, err, tc.host, tc.port)
		}
	}
}

func TestParseStartRejects(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // a substring of the error
	}{
		{"kafka port too big", nil, []string{"--kafka-port", "65536"}, "kafka-port"},
		{"kafka port negative", nil, []string{"--kafka-port", "-1"}, "kafka-port"},
		{"kafka port not a number", nil, []string{"--kafka-port", "ninety"}, "kafka-port"},
		{"metrics port too big", nil, []string{"--metrics-port", "70000"}, "metrics-port"},
		{"metrics port negative", nil, []string{"--metrics-port", "-5"}, "metrics-port"},
		{"fsync word", nil, []string{"--fsync", "sometimes"}, "fsync"},
		{"fsync zero", nil, []string{"--fsync", "0s"}, "fsync"},
		{"fsync negative", nil, []string{"--fsync", "-10ms"}, "fsync"},
		{"fsync unitless", nil, []string{"--fsync", "100"}, "fsync"},
		{"fsync env", map[string]string{"CHRONIK_FSYNC": "never"}, nil, "fsync"},
		{"log level", nil, []string{"--log-level", "loud"}, "log-level"},
		{"log level env", map[string]string{"CHRONIK_LOG_LEVEL": "trace"}, nil, "log-level"},
		{"log format", nil, []string{"--log-format", "xml"}, "log-format"},
		{"kafka port env not a number", map[string]string{"CHRONIK_KAFKA_PORT": "x"}, nil, "CHRONIK_KAFKA_PORT"},
		{"kafka port env out of range", map[string]string{"CHRONIK_KAFKA_PORT": "99999"}, nil, "kafka-port"},
		{"bool env", map[string]string{"CHRONIK_AUTO_CREATE_TOPICS": "maybe"}, nil, "CHRONIK_AUTO_CREATE_TOPICS"},
		{"advertised bad port", nil, []string{"--advertised-addr", "h:0"}, "advertised-addr"},
		{"advertised env bad port", map[string]string{"CHRONIK_ADVERTISED_ADDR": "h:99999"}, nil, "advertised-addr"},
		{"positional argument", nil, []string{"extra"}, "unexpected"},
		{"unknown flag", nil, []string{"--kafka-prot", "1"}, "kafka-prot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parse(t, tc.env, tc.args...)
			if err == nil {
				t.Fatalf("accepted env %v args %q", tc.env, tc.args)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestRunExitCodes covers the subcommands and start's refusals: bad flags
// exit 2, a config the broker refuses (rather than the CLI) exits 1, both
// before listening and with a message.
func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrIn string
	}{
		{"version", []string{"version"}, 0, "chronik " + version + "\n", ""},
		{"--version", []string{"--version"}, 0, "chronik " + version + "\n", ""},
		{"no command", nil, 2, "", "Usage"},
		{"unknown command", []string{"serve"}, 2, "", `unknown command "serve"`},
		{"help", []string{"help"}, 0, "Usage", ""},
		{"start -h", []string{"start", "-h"}, 0, "", "-kafka-port"},
		{"start bad port", []string{"start", "--kafka-port", "70000"}, 2, "", "kafka-port"},
		{"start bad log level", []string{"start", "--log-level", "loud"}, 2, "", "log-level"},
		{"start bad fsync", []string{"start", "--fsync", "x"}, 2, "", "fsync"},
		{"start advertised 0.0.0.0", []string{"start", "--advertised-addr", "0.0.0.0", "--kafka-port", "0", "--metrics-port", "0", "--data-dir", "DATADIR"}, 1, "", "advertised"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			dir := t.TempDir()
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "DATADIR", filepath.Join(dir, "data"))
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if tc.stdout != "" && !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tc.stdout)
			}
			if tc.stderrIn != "" && !strings.Contains(stderr.String(), tc.stderrIn) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.stderrIn)
			}
		})
	}
}

func TestVersionPrintsAVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"version"}, &stdout, io.Discard); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(stdout.String()), "chronik ")
	if !ok || v == "" || strings.ContainsAny(v, " \n") {
		t.Fatalf("version output %q, want \"chronik <version>\"", stdout.String())
	}
}

// metadataBroker asks the broker at addr for Metadata and returns the one
// broker it advertises.
func metadataBroker(t *testing.T, addr string) kmsg.MetadataResponseBroker {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	out := kmsg.NewRequestFormatter(kmsg.FormatterClientID("main-test")).AppendRequest(nil, req, 1)
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatal(err)
	}
	// correlation id, then the flexible header's empty tag section.
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	if err := resp.ReadFrom(body[5:]); err != nil {
		t.Fatal(err)
	}
	if len(resp.Brokers) != 1 {
		t.Fatalf("metadata lists %d brokers, want 1", len(resp.Brokers))
	}
	return resp.Brokers[0]
}

// TestAdvertisedAddress starts a broker from parsed flags and checks what
// Metadata tells clients.
func TestAdvertisedAddress(t *testing.T) {
	tests := []struct {
		name string
		args []string
		host string
		port int32 // 0: the bound port
	}{
		{"bind all interfaces, nothing advertised", []string{"--bind-addr", "0.0.0.0"}, "127.0.0.1", 0},
		{"bind loopback", []string{"--bind-addr", "127.0.0.1"}, "127.0.0.1", 0},
		{"advertised host only", []string{"--advertised-addr", "kafka.example"}, "kafka.example", 0},
		{"advertised host and port", []string{"--advertised-addr", "kafka.example:19092"}, "kafka.example", 19092},
		{"advertised from env", []string{"--bind-addr", "127.0.0.1"}, "env.example", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.host == "env.example" {
				env["CHRONIK_ADVERTISED_ADDR"] = "env.example"
			}
			args := append([]string{"--kafka-port", "0", "--metrics-port", "0", "--data-dir", t.TempDir()}, tc.args...)
			_, cfg, err := parse(t, env, args...)
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
			_, portStr, _ := net.SplitHostPort(b.Addr())
			bound, _ := strconv.Atoi(portStr)
			mb := metadataBroker(t, net.JoinHostPort("127.0.0.1", portStr))
			wantPort := tc.port
			if wantPort == 0 {
				wantPort = int32(bound)
			}
			if mb.Host != tc.host || mb.Port != wantPort {
				t.Errorf("metadata advertises %s:%d, want %s:%d", mb.Host, mb.Port, tc.host, wantPort)
			}
		})
	}
}
