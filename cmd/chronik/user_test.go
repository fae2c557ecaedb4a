package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-stream/chronik/broker"
)

func runUser(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := userMain(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestUserCommands adds, lists and deletes users against an in-process
// broker, then authenticates as the added user on its SASL listener.
func TestUserCommands(t *testing.T) {
	clearEnv(t)
	cfg := broker.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Listeners = []broker.Listener{{Protocol: broker.ProtocolPlaintext, Addr: "127.0.0.1:0"}, {Protocol: broker.ProtocolSASLPlaintext, Addr: "127.0.0.1:0"}}
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	boot := b.ListenerAddr("PLAINTEXT")

	if code, out, errs := runUser(t, "s3cret\n", "add", "alice", "--bootstrap", boot, "--password-stdin"); code != 0 || !strings.Contains(out, "SCRAM-SHA-512 set") {
		t.Fatalf("add: %d %q %q", code, out, errs)
	}
	if code, _, errs := runUser(t, "", "add", "bob", "--bootstrap", boot, "--password", "pw", "--mechanism", "SCRAM-SHA-256", "--iterations", "4096"); code != 0 {
		t.Fatalf("add bob: %d %q", code, errs)
	}
	code, out, _ := runUser(t, "", "list", "--bootstrap", boot)
	for _, want := range []string{"alice  SCRAM-SHA-256  8192", "alice  SCRAM-SHA-512  8192", "bob    SCRAM-SHA-256  4096"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("list: %d, want %q in\n%s", code, want, out)
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.ListenerAddr("SASL_PLAINTEXT")), kgo.SASL(scram.Auth{User: "alice", Pass: "s3cret"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("authenticating as the added user: %v", err)
	}
	cl.Close()

	// The tool itself over SASL.
	if code, out, errs := runUser(t, "", "delete", "bob", "--bootstrap", b.ListenerAddr("SASL_PLAINTEXT"),
		"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "alice", "--sasl-password", "s3cret"); code != 0 || !strings.Contains(out, "bob: SCRAM-SHA-256 deleted") {
		t.Fatalf("delete over SASL: %d %q %q", code, out, errs)
	}
	if code, _, errs := runUser(t, "", "list", "bob", "--bootstrap", boot); code != 1 || !strings.Contains(errs, "RESOURCE_NOT_FOUND") {
		t.Fatalf("list deleted: %d %q", code, errs)
	}

	// Usage errors.
	for _, args := range [][]string{{"add"}, {"add", "x", "--bootstrap", boot}, {"add", "x", "--password", "p", "--mechanism", "MD5"}, {"frob"}} {
		if code, _, _ := runUser(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestParseSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("# PLAIN users\nalice:pw:with:colons\n\nbob:x\n"), 0o600)
	_, cfg, err := parse(t, map[string]string{"CHRONIK_LISTENERS": "PLAINTEXT://:9092,SASL_SSL://0.0.0.0:9094"},
		"--advertised-listener", "SASL_SSL://kafka.example.com:443", "--tls-cert", "c.pem", "--tls-key", "k.pem",
		"--tls-client-ca", "ca.pem", "--sasl-plain-users", users, "--connections-max-reauth", "1h", "--max-connections-per-ip", "50",
		"--authorizer", "--super-users", "User:admin;User:CN=ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 || cfg.Listeners[1].Protocol != broker.ProtocolSASLSSL || cfg.Listeners[1].AdvertisedHost != "kafka.example.com" || cfg.Listeners[1].AdvertisedPort != 443 {
		t.Fatalf("listeners %+v", cfg.Listeners)
	}
	if cfg.TLS.ClientAuth != broker.ClientAuthRequired || cfg.SASLPlainUsers["alice"] != "pw:with:colons" || cfg.SASLPlainUsers["bob"] != "x" {
		t.Fatalf("tls %+v users %v", cfg.TLS, cfg.SASLPlainUsers)
	}
	if cfg.ConnectionsMaxReauth != time.Hour || cfg.MaxConnectionsPerIP != 50 || !cfg.Authorizer || len(cfg.SuperUsers) != 2 {
		t.Fatalf("cfg %+v", cfg)
	}
	// --listener replaces the environment's list.
	_, cfg, err = parse(t, map[string]string{"CHRONIK_LISTENERS": "PLAINTEXT://:9092"}, "--listener", "SSL://:9093", "--listener", "INTERNAL://:9095",
		"--listener-security-protocol-map", "INTERNAL:SASL_PLAINTEXT")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 || cfg.Listeners[0].Protocol != broker.ProtocolSSL || cfg.Listeners[1].Name != "INTERNAL" || cfg.Listeners[1].Protocol != broker.ProtocolSASLPlaintext {
		t.Fatalf("listeners %+v", cfg.Listeners)
	}
	for _, args := range [][]string{{"--listener", "BOGUS://:1"}, {"--listener", "SSL:9093"}, {"--advertised-listener", "SSL://h:1"}, {"--connections-max-idle", "soon"}} {
		if _, _, err := parse(t, nil, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
