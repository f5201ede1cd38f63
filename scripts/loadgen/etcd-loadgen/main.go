// Command etcd-loadgen drives an etcd v3 API cluster (etcd itself or pfsd) with one workload
// and prints one JSON line on stdout: ops/s, latency p50/p99/max, errors, and the generator's
// own CPU time (getrusage), so a report can show the generator is not the bottleneck.
//
// It is built on etcd 3.4.23's clientv3 from Debian's golang-etcd-server-dev sources, in
// GOPATH mode, by scripts/bench-etcd.ts; it has no go.mod on purpose.
//
// Workloads (closed loop: each client issues its next request when the previous one answers):
//
//	put               Put of a random key (of -keys) with a -value-bytes value
//	get-linearizable  Get of a random preloaded key (ReadIndex on the server)
//	get-serializable  Get of a random preloaded key with WithSerializable (local state)
//	txn               compare-and-put: If(ModRevision(own key) == last seen) Then(Put) Else(Get)
//	watch             -clients watchers on one prefix, one writer putting under the prefix;
//	                  events delivered/s and put-sent-to-event-received latency
//	write-gap         puts until SIGTERM/SIGINT (or -seconds); prints every stretch longer
//	                  than -gap-ms-min without a successful write (for leader kills)
//
// -clients clients share -connections clientv3 clients. For the throughput workloads,
// connection i talks only to endpoint i mod len(endpoints) (spread evenly, no failover);
// for write-gap every connection gets every endpoint so clientv3's balancer fails over.
//
// -serve-null ADDR instead serves a KV service that answers at once without storing
// anything: the same generator pointed at it shows its own ceiling on this machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Bounds and defaults; every one is a named constant.
const (
	clientsDefault       = 256
	connectionsDefault   = 16
	valueBytesDefault    = 256
	secondsDefault       = 10
	warmupSecondsDefault = 1
	keysDefault          = 10000
	seedDefault          = 1
	gapMsMinDefault      = 50
	dialTimeout          = 5 * time.Second
	requestTimeout       = 10 * time.Second // a throughput request slower than this is an error
	writeGapTimeout      = 1 * time.Second  // write-gap puts give up sooner, then retry
	errorBackoff         = 10 * time.Millisecond
	progressEvery        = 2 * time.Second
	watchDrainMax        = 10 * time.Second // how long watchers may lag behind the last put
	watchCreateTimeout   = 30 * time.Second
	errorSamplesMax      = 5   // distinct error messages kept
	preloadTxnOps        = 100 // puts per preload txn (etcd allows 128 ops per txn)
	setupAttemptsMax     = 5
	setupBackoff         = 500 * time.Millisecond
	keyPrefix            = "bench/"
	maxCallMessageBytes  = 4 << 20
	opsLimitNone         = 0
)

// Options are the parsed command line, frozen before any work starts.
type Options struct {
	Endpoints     []string
	Workload      string
	Clients       int
	Connections   int
	ValueBytes    int
	Seconds       float64
	WarmupSeconds float64
	Ops           int64
	Keys          int
	Seed          int64
	GapMsMin      float64
	ServeNull     string
}

// Result is the JSON line printed per run. Latencies are in milliseconds.
type Result struct {
	Workload           string     `json:"workload"`
	Clients            int        `json:"clients"`
	Connections        int        `json:"connections"`
	ValueBytes         int        `json:"valueBytes"`
	Seconds            float64    `json:"seconds"`
	Ops                int64      `json:"ops"`
	OpsPerSecond       float64    `json:"opsPerSecond"`
	P50Ms              float64    `json:"p50Ms"`
	P99Ms              float64    `json:"p99Ms"`
	MaxMs              float64    `json:"maxMs"`
	Errors             int64      `json:"errors"`
	ErrorSamples       []string   `json:"errorSamples"`
	CasMisses          int64      `json:"casMisses,omitempty"`
	Writes             int64      `json:"writes,omitempty"`
	WatchEventsMissing int64      `json:"watchEventsMissing,omitempty"`
	GapsMs             [][2]int64 `json:"gapsUnixMs,omitempty"`
	CPUSeconds         float64    `json:"cpuSeconds"`
	CPUSecondsTotal    float64    `json:"cpuSecondsTotal"`
	WallSecondsTotal   float64    `json:"wallSecondsTotal"`
}

func parseOptions() (Options, error) {
	var o Options
	var endpoints string
	flag.StringVar(&endpoints, "endpoints", "127.0.0.1:2379", "comma-separated host:port list")
	flag.StringVar(&o.Workload, "workload", "put",
		"put|get-linearizable|get-serializable|txn|watch|write-gap")
	flag.IntVar(&o.Clients, "clients", clientsDefault, "concurrent clients (watchers for watch)")
	flag.IntVar(&o.Connections, "connections", connectionsDefault, "clientv3 clients (gRPC conns)")
	flag.IntVar(&o.ValueBytes, "value-bytes", valueBytesDefault, "bytes per value")
	flag.Float64Var(&o.Seconds, "seconds", secondsDefault, "measured duration")
	flag.Float64Var(&o.WarmupSeconds, "warmup-seconds", warmupSecondsDefault, "unmeasured lead-in")
	flag.Int64Var(&o.Ops, "ops", opsLimitNone, "stop after this many measured ops (0: by time)")
	flag.IntVar(&o.Keys, "keys", keysDefault, "key space of put and get")
	flag.Int64Var(&o.Seed, "seed", seedDefault, "PRNG seed (client i uses seed+i)")
	flag.Float64Var(&o.GapMsMin, "gap-ms-min", gapMsMinDefault, "write-gap: report gaps above")
	flag.StringVar(&o.ServeNull, "serve-null", "", "serve a null KV service on host:port")
	flag.Parse()
	o.Endpoints = strings.Split(endpoints, ",")
	switch {
	case o.Clients < 1 || o.Connections < 1 || o.Connections > o.Clients:
		return o, fmt.Errorf("need 1 <= -connections (%d) <= -clients (%d)", o.Connections, o.Clients)
	case o.ValueBytes < 8:
		return o, fmt.Errorf("-value-bytes %d < 8 (the watch timestamp)", o.ValueBytes)
	case o.Seconds <= 0 || o.WarmupSeconds < 0 || o.Keys < 1:
		return o, fmt.Errorf("bad -seconds %v, -warmup-seconds %v or -keys %d",
			o.Seconds, o.WarmupSeconds, o.Keys)
	}
	return o, nil
}

func main() {
	options, err := parseOptions()
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd-loadgen: %v\n", err)
		os.Exit(2)
	}
	if options.ServeNull != "" {
		if err := serveNull(options.ServeNull); err != nil {
			fmt.Fprintf(os.Stderr, "etcd-loadgen: %v\n", err)
			os.Exit(1)
		}
		return
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	started := time.Now()
	result, err := run(ctx, options)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd-loadgen: %s: %v\n", options.Workload, err)
		os.Exit(1)
	}
	result.CPUSecondsTotal = cpuSeconds()
	result.WallSecondsTotal = time.Since(started).Seconds()
	line, err := json.Marshal(result)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd-loadgen: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(string(line))
}

func run(ctx context.Context, o Options) (Result, error) {
	pool, err := dial(o, o.Workload == "write-gap")
	if err != nil {
		return Result{}, err
	}
	defer pool.close()
	switch o.Workload {
	case "put", "get-linearizable", "get-serializable", "txn", "write-gap":
		return runClosedLoop(ctx, o, pool)
	case "watch":
		return runWatch(ctx, o, pool)
	default:
		return Result{}, fmt.Errorf("unknown workload %q", o.Workload)
	}
}

// cpuSeconds is this process's user+system CPU time so far (getrusage RUSAGE_SELF).
func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return -1
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}
