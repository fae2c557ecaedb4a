package broker

import (
	"testing"
	"time"
)

// waitAny wakes on any closed channel, and otherwise on the timeout or done,
// with one channel, several (one select) and more than maxSelectWait
// (goroutines).
func TestWaitAny(t *testing.T) {
	for _, n := range []int{1, 3, maxSelectWait + 1} {
		chans := make([]chan struct{}, n)
		ro := make([]<-chan struct{}, n)
		for i := range chans {
			chans[i] = make(chan struct{})
			ro[i] = chans[i]
		}
		close(chans[n-1])
		if !waitAny(ro, time.After(10*time.Second), nil) {
			t.Fatalf("%d channels: a closed one did not wake the wait", n)
		}
		ro[n-1] = make(chan struct{})
		if waitAny(ro, time.After(10*time.Millisecond), nil) {
			t.Fatalf("%d channels: woke without a closed channel", n)
		}
		done := make(chan struct{})
		close(done)
		if waitAny(ro, nil, done) {
			t.Fatalf("%d channels: done did not end the wait with false", n)
		}
	}
}
