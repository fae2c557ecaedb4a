// Package durability runs the chronik binary as a separate process and checks
// invariants 1, 5 and 6 of docs/architecture.md end to end: it kills the
// broker with SIGKILL while a producer is writing, restarts it on the same
// port and data directory, and verifies that everything the producer saw
// acknowledged is in the log, once, at the offset it was acknowledged with.
//
// SIGKILL loses the process, not the page cache: bytes written but never
// fsynced survive it. Power loss (losing unsynced bytes) is simulated by
// internal/log's tests on vfs.MemFS; these tests cover what only a real
// process shows (recovery of real files, producer state across restarts,
// the CLI's signal handling).
//
// The binary is built once per test run (with -race when the tests run with
// -race, and any race report in its stderr fails the test). Knobs:
//
//	CHRONIK_TEST_SEED=n     repeat a kill schedule (each test logs its seed)
//	CHRONIK_TEST_SHOWLOG=1  show the broker's stderr even when a test passes
//	CHRONIK_TEST_DEBUG=1    broker --log-level debug and franz-go debug logs
//
// The package holds only tests; this file exists so that "go build ./..."
// and "go vet ./..." see a package here.
package durability
