// The Go peer of taskmem: N goroutines, each sleeping SLEEP_MS, waited for with a WaitGroup,
// as in the published "1 million concurrent tasks" program. At the end it prints
// `done N spawn_ms=MS`: how long starting the N goroutines took.
//
// Usage: goroutines N SLEEP_MS
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fail("expected 2 arguments, got " + strconv.Itoa(len(os.Args)-1))
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 0 {
		fail("N '" + os.Args[1] + "' is not a non-negative integer")
	}
	ms, err := strconv.Atoi(os.Args[2])
	if err != nil || ms < 0 {
		fail("SLEEP_MS '" + os.Args[2] + "' is not a non-negative integer")
	}

	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}()
	}
	spawned := time.Since(start)
	wg.Wait()
	fmt.Printf("done %d spawn_ms=%d\n", n, spawned.Milliseconds())
}

func fail(msg string) {
	fmt.Fprintf(os.Stderr, "goroutines: %s (usage: goroutines N SLEEP_MS)\n", msg)
	os.Exit(2)
}
