package broker_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/broker"
)

// testWriter sends broker logs to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// testLogger logs through t.Log at Warn (or Debug with CHRONIK_TEST_DEBUG).
func testLogger(t testing.TB) *slog.Logger {
	lv := slog.LevelWarn
	if os.Getenv("CHRONIK_TEST_DEBUG") != "" {
		lv = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: lv}))
}

// startBroker runs a broker on a free loopback port with its own data
// directory; mod may adjust the config first.
func startBroker(t testing.TB, mod ...func(*broker.Config)) (*broker.Broker, string) {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Logger = testLogger(t)
	for _, m := range mod {
		m(&cfg)
	}
	return startWith(t, cfg)
}

func startWith(t testing.TB, cfg broker.Config) (*broker.Broker, string) {
	t.Helper()
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, b.Addr()
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
