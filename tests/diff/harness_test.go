// Package diff runs scripted Kafka request sequences against Apache Kafka and
// against Chronik and compares the responses field by field.
//
// It needs two running brokers (scripts/diff.sh starts both):
//
//	CHRONIK_DIFF_KAFKA=127.0.0.1:P CHRONIK_DIFF_CHRONIK=127.0.0.1:Q go test ./tests/diff/ -count=1
//
// Without those variables every test is skipped. A case is a slice of steps
// (cases_test.go); each step builds one kmsg request, sent on a direct
// connection to each broker at the same version (the highest both support,
// or a pinned one), and the two responses are normalised (normalise.go) and
// compared. Differences that are known and accepted are listed, with the
// reason, in accepted_test.go; any other difference fails the case.
//
// Env: CHRONIK_DIFF_CASES=regexp runs only the matching cases;
// CHRONIK_DIFF_VERBOSE=1 prints every step's normalised responses.
package diff

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Case is one scripted request sequence, run against both brokers.
type Case struct {
	Name  string
	Steps []Step
}

// Step is one request of a case.
type Step struct {
	// Name identifies the step in reports and in accepted differences.
	Name string
	// Req builds the request; it is called once per broker, with that
	// broker's context (topic names are the same on both; topic ids and
	// variables captured by Then are the broker's own).
	Req func(c *Ctx) kmsg.Request
	// Version pins the request version (nil: the highest version both
	// brokers support).
	Version *int16
	// Until, if set, re-sends the request (every 100 ms, up to WaitMax,
	// default 20 s) until it returns true: for waiting on a state, e.g. a
	// created topic having a leader. The last response is the step's response.
	Until   func(r kmsg.Response) bool
	WaitMax time.Duration
	// NoCompare marks set-up steps whose responses are not compared.
	NoCompare bool
	// Then runs after the response arrived, e.g. to capture a producer id.
	Then func(c *Ctx, r kmsg.Response)
	// Ignore lists extra path patterns (see Accepted.Path) this step does not
	// compare because they legitimately differ.
	Ignore []string
	// Sleep waits before sending.
	Sleep time.Duration
}

// v pins a request version in a Step.
func v(n int16) *int16 { return &n }

// Ctx is a case's state on one broker.
type Ctx struct {
	b      *target
	prefix string // topic name prefix, the same on both brokers
	Vars   map[string]any
	ctx    context.Context
}

// T is the topic name for a case-local name: unique per run and case, the
// same on both brokers, and shown as {name} in reports.
func (c *Ctx) T(name string) string { return c.prefix + name }

// TopicID is the broker's topic id of a case-local topic (zero if unknown).
func (c *Ctx) TopicID(name string) [16]byte {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(c.T(name))
	req.Topics = append(req.Topics, t)
	resp, err := c.b.send(c.ctx, req, nil)
	if err != nil {
		return [16]byte{}
	}
	for _, t := range resp.(*kmsg.MetadataResponse).Topics {
		if t.Topic != nil && *t.Topic == c.T(name) {
			c.b.noteTopicID(t.TopicID, name)
			return t.TopicID
		}
	}
	return [16]byte{}
}

// I64 is a captured int64 variable (0 if unset).
func (c *Ctx) I64(name string) int64 { x, _ := c.Vars[name].(int64); return x }

// I16 is a captured int16 variable (0 if unset).
func (c *Ctx) I16(name string) int16 { x, _ := c.Vars[name].(int16); return x }

// target is one broker under test.
type target struct {
	name    string
	addr    string
	max     map[int16]int16 // its ApiVersions maxima
	min     map[int16]int16
	common  *kversion.Versions
	mu      sync.Mutex
	clients map[string]*kgo.Client
	ids     map[[16]byte]string // topic id → case-local name ("prefix" stripped)
}

func (b *target) noteTopicID(id [16]byte, name string) {
	if id == ([16]byte{}) {
		return
	}
	b.mu.Lock()
	b.ids[id] = name
	b.mu.Unlock()
}

func (b *target) topicName(id [16]byte) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.ids[id]
	return n, ok
}

// client returns a client whose max versions are the common ones, with the
// key pinned to pin if set.
func (b *target) client(key int16, pin *int16) (*kgo.Client, error) {
	id := "common"
	if pin != nil {
		id = fmt.Sprintf("%d:%d", key, *pin)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cl := b.clients[id]; cl != nil {
		return cl, nil
	}
	var vs *kversion.Versions // nil (no limit) until the common versions are known
	if b.common != nil {
		vs = new(kversion.Versions)
		b.common.EachMaxKeyVersion(func(k, v int16) { vs.SetMaxKeyVersion(k, v) })
	}
	if pin != nil && vs != nil {
		vs.SetMaxKeyVersion(key, *pin)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(b.addr),
		kgo.DisableClientMetrics(),
		kgo.ClientID("chronik-diff"),
		kgo.RequestTimeoutOverhead(10 * time.Second),
	}
	if vs != nil {
		opts = append(opts, kgo.MaxVersions(vs))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	b.clients[id] = cl
	return cl, nil
}

// send issues req on a direct connection to the broker (no sharding, no
// client-side retries or request rewriting).
func (b *target) send(ctx context.Context, req kmsg.Request, pin *int16) (kmsg.Response, error) {
	cl, err := b.client(req.Key(), pin)
	if err != nil {
		return nil, err
	}
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, fmt.Errorf("no seed broker")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return seeds[0].Request(ctx, req)
}

func (b *target) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, cl := range b.clients {
		cl.Close()
	}
}

// apiVersions asks the broker (retrying until it answers, up to 90 s: the
// JVM may still be starting) for its versions.
func (b *target) apiVersions(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName = "chronik-diff"
		req.ClientSoftwareVersion = "1.0.0"
		resp, err := b.send(ctx, req, nil)
		if err == nil {
			r := resp.(*kmsg.ApiVersionsResponse)
			if r.ErrorCode == 0 {
				for _, k := range r.ApiKeys {
					b.max[k.ApiKey] = k.MaxVersion
					b.min[k.ApiKey] = k.MinVersion
				}
				return nil
			}
			err = fmt.Errorf("ApiVersions error code %d", r.ErrorCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s at %s: %w", b.name, b.addr, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitReady waits until the broker answers Metadata with at least one broker
// (Kafka's KRaft broker registers shortly after it accepts connections) and
// hands out producer ids (Kafka answers COORDINATOR_LOAD_IN_PROGRESS at
// first).
func (b *target) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := b.send(ctx, kmsg.NewPtrMetadataRequest(), nil)
		if err == nil && len(resp.(*kmsg.MetadataResponse).Brokers) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s at %s not ready: %v", b.name, b.addr, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := b.send(ctx, req, nil)
		if err == nil && resp.(*kmsg.InitProducerIDResponse).ErrorCode == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s at %s does not hand out producer ids: %v", b.name, b.addr, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// --- running cases -----------------------------------------------------------

// stepResult is one step's outcome on one broker.
type stepResult struct {
	norm any    // normalised response
	raw  string // JSON of the raw response, for verbose output
}

// Diff is one differing field.
type Diff struct {
	Step, Path     string
	Kafka, Chronik string
	Accepted       string // the reason, if accepted
}

func (d Diff) String() string {
	s := fmt.Sprintf("[%s] %s: kafka=%s chronik=%s", d.Step, d.Path, d.Kafka, d.Chronik)
	if d.Accepted != "" {
		s += "  (accepted: " + d.Accepted + ")"
	}
	return s
}

// runOn runs a case's steps on one broker.
func runOn(ctx context.Context, b *target, cs Case, prefix string) []stepResult {
	c := &Ctx{b: b, prefix: prefix, Vars: map[string]any{}, ctx: ctx}
	out := make([]stepResult, len(cs.Steps))
	for i, st := range cs.Steps {
		if st.Sleep > 0 {
			time.Sleep(st.Sleep)
		}
		var resp kmsg.Response
		var err error
		wait := st.WaitMax
		if wait == 0 {
			wait = 20 * time.Second
		}
		deadline := time.Now().Add(wait)
		for {
			req := st.Req(c)
			resp, err = b.send(ctx, req, st.Version)
			if st.Until == nil || (err == nil && st.Until(resp)) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			out[i] = stepResult{norm: map[string]any{"RequestError": err.Error()}, raw: "error: " + err.Error()}
			continue
		}
		if st.Then != nil {
			st.Then(c, resp)
		}
		raw, _ := json.Marshal(resp)
		out[i] = stepResult{norm: normalise(b, prefix, resp), raw: string(raw)}
	}
	return out
}

// caseResult is a case's outcome.
type caseResult struct {
	name    string
	diffs   []Diff // all differences, accepted or not
	stale   []Accepted
	verbose []string
}

func (r caseResult) failed() bool {
	for _, d := range r.diffs {
		if d.Accepted == "" {
			return true
		}
	}
	return false
}

var runID = func() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

func runCase(ctx context.Context, kafka, chronik *target, idx int, cs Case, verbose bool) caseResult {
	prefix := fmt.Sprintf("diff-%s-%02d-", runID, idx)
	var kres, cres []stepResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); kres = runOn(ctx, kafka, cs, prefix) }()
	go func() { defer wg.Done(); cres = runOn(ctx, chronik, cs, prefix) }()
	wg.Wait()

	res := caseResult{name: cs.Name}
	for i, st := range cs.Steps {
		if verbose {
			res.verbose = append(res.verbose,
				fmt.Sprintf("  step %q\n    kafka:   %s\n    chronik: %s\n    kafka raw:   %s\n    chronik raw: %s",
					st.Name, jsonString(kres[i].norm), jsonString(cres[i].norm), kres[i].raw, cres[i].raw))
		}
		if st.NoCompare {
			continue
		}
	diffs:
		for _, d := range compare(st.Name, "", kres[i].norm, cres[i].norm) {
			for _, ig := range st.Ignore {
				if globMatch(ig, d.Path) {
					continue diffs
				}
			}
			d.Accepted = acceptedReason(cs.Name, d)
			res.diffs = append(res.diffs, d)
		}
	}
	// Accepted differences of this case that no longer occur.
	for _, a := range accepted {
		if !globMatch(a.Case, cs.Name) {
			continue
		}
		seen := false
		for _, d := range res.diffs {
			if a.matches(cs.Name, d) {
				seen = true
				break
			}
		}
		if !seen && !strings.Contains(a.Case, "*") && a.WhileMissing == "" {
			res.stale = append(res.stale, a)
		}
	}
	return res
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func TestDiff(t *testing.T) {
	kaddr, caddr := os.Getenv("CHRONIK_DIFF_KAFKA"), os.Getenv("CHRONIK_DIFF_CHRONIK")
	if kaddr == "" || caddr == "" {
		t.Skip("CHRONIK_DIFF_KAFKA and CHRONIK_DIFF_CHRONIK not set (scripts/diff.sh sets them)")
	}
	ctx := context.Background()
	kafka := &target{name: "kafka", addr: kaddr, max: map[int16]int16{}, min: map[int16]int16{}, clients: map[string]*kgo.Client{}, ids: map[[16]byte]string{}}
	chronik := &target{name: "chronik", addr: caddr, max: map[int16]int16{}, min: map[int16]int16{}, clients: map[string]*kgo.Client{}, ids: map[[16]byte]string{}}
	defer kafka.close()
	defer chronik.close()
	for _, b := range []*target{kafka, chronik} {
		if err := b.apiVersions(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Both brokers get the same version of every request: the highest both
	// support. A key only Kafka supports keeps Kafka's maximum (Chronik then
	// fails the request client-side: "broker too old", shown as a difference).
	common := new(kversion.Versions)
	for k, kmax := range kafka.max {
		m := kmax
		if cmax, ok := chronik.max[k]; ok && cmax < m {
			m = cmax
		}
		common.SetMaxKeyVersion(k, m)
	}
	common.SetMaxKeyVersion(18, min(kafka.max[18], chronik.max[18]))
	for k := range chronik.max {
		chronikAPIs[kmsg.NameForKey(k)] = true
	}
	for _, b := range []*target{kafka, chronik} {
		b.common = common
		for id, cl := range b.clients { // drop the bootstrap client
			cl.Close()
			delete(b.clients, id)
		}
		if err := b.waitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reportVersions(t, kafka, chronik)

	var only *regexp.Regexp
	if s := os.Getenv("CHRONIK_DIFF_CASES"); s != "" {
		only = regexp.MustCompile(s)
	}
	verbose := os.Getenv("CHRONIK_DIFF_VERBOSE") != ""

	var selected []int
	for i, cs := range cases {
		if only == nil || only.MatchString(cs.Name) {
			selected = append(selected, i)
		}
	}
	results := make([]caseResult, len(cases))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, i := range selected {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = runCase(ctx, kafka, chronik, i, cases[i], verbose)
		}(i)
	}
	wg.Wait()

	match, passed, failed := 0, 0, 0
	var staleAll []string
	reasonNum := map[string]int{}
	var reasons []string
	for _, i := range selected {
		r := results[i]
		t.Run(r.name, func(t *testing.T) {
			switch {
			case len(r.diffs) == 0:
				fmt.Printf("MATCH %s\n", r.name)
			case !r.failed():
				fmt.Printf("MATCH %s (%d accepted differences)\n", r.name, len(r.diffs))
			default:
				fmt.Printf("DIFF  %s\n", r.name)
			}
			for _, d := range r.diffs {
				if d.Accepted == "" {
					fmt.Printf("    ! [%s] %s: kafka=%s chronik=%s\n", d.Step, d.Path, d.Kafka, d.Chronik)
					continue
				}
				n, ok := reasonNum[d.Accepted]
				if !ok {
					reasons = append(reasons, d.Accepted)
					n = len(reasons)
					reasonNum[d.Accepted] = n
				}
				fmt.Printf("    ~ [%s] %s: kafka=%s chronik=%s (accepted A%d)\n", d.Step, d.Path, d.Kafka, d.Chronik, n)
			}
			for _, l := range r.verbose {
				fmt.Println(l)
			}
			if r.failed() {
				t.Errorf("%s: Chronik's responses differ from Kafka's (the lines marked '!' above)", r.name)
			}
		})
		if len(r.diffs) == 0 {
			match++
		}
		if r.failed() {
			failed++
		} else {
			passed++
		}
		for _, a := range r.stale {
			staleAll = append(staleAll, fmt.Sprintf("%s [%s] %s", r.name, a.Step, a.Path))
		}
	}
	if len(reasons) > 0 {
		fmt.Println("accepted differences seen (tests/diff/accepted_test.go):")
		for i, r := range reasons {
			fmt.Printf("  A%d: %s\n", i+1, r)
		}
	}
	if len(staleAll) > 0 {
		sort.Strings(staleAll)
		fmt.Println("accepted differences that no longer occur (remove them from accepted_test.go):")
		for _, s := range staleAll {
			fmt.Println("  " + s)
		}
	}
	fmt.Printf("diff: %d cases, %d match, %d match with accepted differences, %d differ\n", len(selected), match, passed-match, failed)
	fmt.Printf("diff: %d passed, %d failed\n", passed, failed)
}

// reportVersions prints the request versions the run uses, and the keys one
// broker supports and the other does not.
func reportVersions(t *testing.T, kafka, chronik *target) {
	var used, kafkaOnly []string
	keys := make([]int, 0, len(kafka.max))
	for k := range kafka.max {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	for _, k := range keys {
		name := kmsg.NameForKey(int16(k))
		if c, ok := chronik.max[int16(k)]; ok {
			used = append(used, fmt.Sprintf("%s v%d", name, min(c, kafka.max[int16(k)])))
		} else {
			kafkaOnly = append(kafkaOnly, name)
		}
	}
	fmt.Printf("diff: versions compared: %s\n", strings.Join(used, ", "))
	fmt.Printf("diff: keys Kafka serves and Chronik does not (%d): %s\n", len(kafkaOnly), strings.Join(kafkaOnly, ", "))
}
