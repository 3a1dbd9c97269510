// The Go peer of taskmem's idle-connection bench: a server on 127.0.0.1 holding every
// connection a client opens, idle. KIND http1: net/http's server (keep-alive, no idle
// timeout), answering `ok` to each request; KIND tcp: one goroutine per accepted connection,
// blocked in a read into a 1 KiB buffer (the Rust raw-TCP case's shape).
//
// It prints `listening PORT` once it listens, then `idle N` once N connections are accepted
// (tcp) or N requests answered (http1). It exits when its stdin closes, so nothing is left
// listening after the case.
//
// Usage: conn KIND N
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
)

func fail(msg string) {
	fmt.Fprintf(os.Stderr, "go/conn: %s (usage: conn tcp|http1 N)\n", msg)
	os.Exit(2)
}

func main() {
	if len(os.Args) != 3 {
		fail(fmt.Sprintf("expected 2 arguments, got %d", len(os.Args)-1))
	}
	kind := os.Args[1]
	n, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil || n < 1 {
		fail(fmt.Sprintf("N '%s' is not a positive integer", os.Args[2]))
	}
	if kind != "tcp" && kind != "http1" {
		fail(fmt.Sprintf("unknown KIND '%s'", kind))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "go/conn: listen: %v\n", err)
		os.Exit(1)
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	var count int64
	arrive := func() {
		if atomic.AddInt64(&count, 1) == n {
			fmt.Printf("idle %d\n", n)
		}
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	if kind == "http1" {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok"))
			arrive()
		})}
		srv.Serve(ln)
		return
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go/conn: accept: %v\n", err)
			os.Exit(1)
		}
		arrive()
		go func(c net.Conn) {
			buf := make([]byte, 1024)
			c.Read(buf)
			c.Close()
		}(conn)
	}
}
