// Command kgotool supports scripts/kgo.sh, which runs franz-go's own pkg/kgo
// integration tests against Chronik.
//
//	kgotool list [-expected FILE] DIR
//	    prints the top-level Test functions of the _test.go files in DIR that
//	    need a broker: those that reach (directly or through helpers) one of
//	    the helpers that dial KGO_SEEDS (newTestClient, adm, tmpTopic, ...);
//	    without the expected failures whose reason says "[not run]" (tests
//	    that hang rather than fail against Chronik).
//	kgotool report -expected FILE -json FILE [-broker-log FILE]
//	    reads `go test -json` output, prints PASS/FAIL/SKIP per top-level test,
//	    compares with the expected failures (one test name per line, then
//	    "# reason"), prints "kgo: N passed, M failed, K expected-failures" and
//	    "N passed, N failed", and exits 1 only on unexpected failures.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// brokerHelpers are the functions of pkg/kgo/helpers_test.go that connect to
// the broker named by KGO_SEEDS.
var brokerHelpers = []string{
	"newTestClient", "testClientOpts", "getSeedBrokers", "adm",
	"tmpTopic", "tmpTopicPartitions", "tmpNamedTopicPartitions", "waitForTopic",
	"tmpGroup", "tmpShareGroup", "internalTopic",
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kgotool list DIR | kgotool report -expected FILE -json FILE")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "list":
		fs := flag.NewFlagSet("list", flag.ExitOnError)
		expectedPath := fs.String("expected", "", "expected failures file: skip its [not run] entries")
		_ = fs.Parse(os.Args[2:])
		if fs.NArg() != 1 {
			fmt.Fprintln(os.Stderr, "usage: kgotool list [-expected FILE] DIR")
			os.Exit(2)
		}
		names, err := list(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		expected, _, err := readExpected(*expectedPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, n := range names {
			if notRun(expected[n]) {
				continue
			}
			fmt.Println(n)
		}
	case "report":
		fs := flag.NewFlagSet("report", flag.ExitOnError)
		expected := fs.String("expected", "", "expected failures file")
		jsonFile := fs.String("json", "", "go test -json output")
		tail := fs.Int("tail", 25, "output lines shown per unexpected failure")
		_ = fs.Parse(os.Args[2:])
		os.Exit(report(*expected, *jsonFile, *tail))
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

// list finds the integration tests: a call graph over the package's test
// files, from each Test function to the broker helpers.
func list(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	calls := map[string]map[string]bool{} // func (or method) name → names it calls
	var tests []string
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			name := fd.Name.Name
			if calls[name] == nil {
				calls[name] = map[string]bool{}
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CallExpr:
					switch fn := x.Fun.(type) {
					case *ast.Ident:
						calls[name][fn.Name] = true
					case *ast.SelectorExpr:
						calls[name][fn.Sel.Name] = true
					}
				case *ast.Ident: // a helper passed as a value
					calls[name][x.Name] = true
				}
				return true
			})
			if fd.Recv == nil && strings.HasPrefix(name, "Test") && name != "TestMain" {
				tests = append(tests, name)
			}
		}
	}
	uses := map[string]bool{}
	for _, h := range brokerHelpers {
		uses[h] = true
	}
	for changed := true; changed; {
		changed = false
		for fn, callees := range calls {
			if uses[fn] {
				continue
			}
			for c := range callees {
				if uses[c] && c != fn {
					uses[fn] = true
					changed = true
					break
				}
			}
		}
	}
	var out []string
	for _, t := range tests {
		if uses[t] {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out, nil
}

type event struct {
	Action  string
	Test    string
	Output  string
	Elapsed float64
}

func readExpected(path string) (map[string]string, []string, error) {
	exp := map[string]string{}
	var order []string
	if path == "" {
		return exp, nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, _ := strings.Cut(line, "#")
		name = strings.TrimSpace(name)
		exp[name] = strings.TrimSpace(reason)
		order = append(order, name)
	}
	return exp, order, sc.Err()
}

func report(expectedPath, jsonPath string, tail int) int {
	expected, order, err := readExpected(expectedPath)
	if err != nil {
		fmt.Println("kgo: reading expected failures:", err)
		fmt.Println("0 passed, 1 failed")
		return 1
	}
	f, err := os.Open(jsonPath)
	if err != nil {
		fmt.Println("kgo:", err)
		fmt.Println("0 passed, 1 failed")
		return 1
	}
	defer f.Close()
	result := map[string]string{}
	elapsed := map[string]float64{}
	output := map[string][]string{}
	var runOrder []string
	var pkgOutput []string
	pkgFailed := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			pkgOutput = append(pkgOutput, sc.Text())
			continue
		}
		top, _, _ := strings.Cut(e.Test, "/")
		if e.Test == "" {
			if e.Action == "output" {
				pkgOutput = append(pkgOutput, strings.TrimRight(e.Output, "\n"))
			}
			if e.Action == "fail" {
				pkgFailed = true
			}
			continue
		}
		switch e.Action {
		case "run":
			if e.Test == top {
				if _, seen := result[top]; !seen {
					runOrder = append(runOrder, top)
				}
				result[top] = "RUN"
			}
		case "output":
			output[top] = append(output[top], strings.TrimRight(e.Output, "\n"))
		case "pass", "fail", "skip":
			if e.Test == top {
				result[top] = strings.ToUpper(e.Action)
				elapsed[top] = e.Elapsed
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Println("kgo: reading test output:", err)
	}

	passed, failed, xfailed, skipped := 0, 0, 0, 0
	var unexpected, nowPassing []string
	for _, t := range runOrder {
		r := result[t]
		reason, isExpected := expected[t]
		switch r {
		case "PASS":
			passed++
			if isExpected {
				nowPassing = append(nowPassing, t)
				fmt.Printf("PASS  %s (%.1fs) -- now passing: remove it from tests/kgo/expected-failures.txt\n", t, elapsed[t])
			} else {
				fmt.Printf("PASS  %s (%.1fs)\n", t, elapsed[t])
			}
		case "SKIP":
			skipped++
			fmt.Printf("SKIP  %s: %s\n", t, skipReason(output[t]))
		default: // FAIL, or RUN: never finished (timeout, panic)
			note := ""
			if r == "RUN" {
				note = " (did not finish: timeout or crash)"
			}
			if isExpected {
				xfailed++
				fmt.Printf("XFAIL %s%s (%.1fs): %s\n", t, note, elapsed[t], reason)
			} else {
				failed++
				unexpected = append(unexpected, t)
				fmt.Printf("FAIL  %s%s (%.1fs)\n", t, note, elapsed[t])
			}
		}
	}
	for _, t := range order {
		if _, ran := result[t]; ran {
			continue
		}
		if notRun(expected[t]) {
			xfailed++
			fmt.Printf("XFAIL %s (not run): %s\n", t, expected[t])
			continue
		}
		fmt.Printf("note: expected failure %s did not run (renamed, removed, or filtered out)\n", t)
	}
	if len(unexpected) > 0 {
		fmt.Println()
		fmt.Println("=== unexpected failures (last output lines) ===")
		for _, t := range unexpected {
			fmt.Printf("--- %s\n", t)
			lines := interesting(output[t])
			if len(lines) > tail {
				lines = lines[len(lines)-tail:]
			}
			for _, l := range lines {
				fmt.Println("    " + l)
			}
		}
	}
	if pkgFailed && len(runOrder) == 0 {
		fmt.Println("kgo: the test binary failed before running any test:")
		for _, l := range lastN(pkgOutput, 40) {
			fmt.Println("    " + l)
		}
		failed++
	}
	if len(nowPassing) > 0 {
		fmt.Printf("kgo: %d expected failures now pass (remove them from the list): %s\n", len(nowPassing), strings.Join(nowPassing, " "))
	}
	fmt.Printf("kgo: %d passed, %d failed, %d expected-failures, %d skipped\n", passed, failed, xfailed, skipped)
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// notRun reports whether an expected failure's reason marks a test that is
// not run at all (it hangs until the suite's timeout instead of failing).
func notRun(reason string) bool { return strings.Contains(reason, "[not run]") }

func skipReason(lines []string) string {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.Contains(l, ".go:") && !strings.HasPrefix(l, "---") && !strings.HasPrefix(l, "===") {
			return l
		}
	}
	return "skipped"
}

// interesting drops the client's INFO/DEBUG log lines from a test's output.
func interesting(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, "][INFO]") || strings.Contains(l, "][DEBUG]") ||
			strings.HasPrefix(l, "=== ") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
