package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chronik-stream/chronik/internal/cli"
)

// runTool runs an operator tool (bench, topic, produce, consume, group,
// log); args[0] is its name. The first SIGINT or SIGTERM cancels it, so a
// run reports what it did so far; the logic lives in internal/cli.
func runTool(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Main(ctx, cli.Env{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}, args)
}
