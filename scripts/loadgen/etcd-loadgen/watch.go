package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

const (
	watchKeys      = 16 // the writer cycles over this many keys under the prefix
	watchDrainPoll = 10 * time.Millisecond
	watchTimeBytes = 8 // big-endian nanoseconds since the run's epoch, at the value's start
)

// watchRun is the shared state of a watch fan-out run. Times are nanoseconds since epoch.
type watchRun struct {
	epoch        time.Time
	window       window
	prefix       string
	received     atomic.Int64 // events whose put was sent inside the window
	lastReceived atomic.Int64
	t            *tally
}

func (r *watchRun) now() int64 { return int64(time.Since(r.epoch)) }

func (r *watchRun) inWindow(sent int64) bool {
	at := r.epoch.Add(time.Duration(sent))
	return !at.Before(r.window.start) && at.Before(r.window.end)
}

// openWatch opens one watcher and waits until the server confirms it is created.
func openWatch(ctx context.Context, r *watchRun, cli *clientv3.Client) (clientv3.WatchChan, error) {
	channel := cli.Watch(clientv3.WithRequireLeader(ctx), r.prefix, clientv3.WithPrefix(),
		clientv3.WithCreatedNotify())
	select {
	case response, ok := <-channel:
		if !ok {
			return nil, fmt.Errorf("watch closed before created")
		}
		if err := response.Err(); err != nil {
			return nil, err
		}
		return channel, nil
	case <-time.After(watchCreateTimeout):
		return nil, fmt.Errorf("watch not created within %v", watchCreateTimeout)
	}
}

// consume records the delivery latency of every event of a put sent inside the window.
func consume(r *watchRun, channel clientv3.WatchChan) {
	var latencies []time.Duration
	for response := range channel {
		if err := response.Err(); err != nil {
			r.t.addError(err)
			continue
		}
		for _, event := range response.Events {
			at := r.now()
			if len(event.Kv.Value) < watchTimeBytes {
				continue
			}
			sent := int64(binary.BigEndian.Uint64(event.Kv.Value[:watchTimeBytes]))
			if !r.inWindow(sent) {
				continue
			}
			latencies = append(latencies, time.Duration(at-sent))
			r.received.Add(1)
			for last := r.lastReceived.Load(); at > last; last = r.lastReceived.Load() {
				if r.lastReceived.CompareAndSwap(last, at) {
					break
				}
			}
		}
	}
	r.t.merge(latencies, 0)
}

// write is the single writer: closed-loop puts until the window ends; returns the number
// of acknowledged puts sent inside the window.
func write(ctx context.Context, o Options, r *watchRun, cli *clientv3.Client) int64 {
	state := newClientState(o, 0)
	value := []byte(state.value)
	var writes int64
	for n := 0; ctx.Err() == nil && time.Now().Before(r.window.end); n++ {
		sent := r.now()
		binary.BigEndian.PutUint64(value[:watchTimeBytes], uint64(sent))
		requestCtx, cancel := context.WithTimeout(ctx, requestTimeout)
		_, err := cli.Put(requestCtx, fmt.Sprintf("%s%02d", r.prefix, n%watchKeys), string(value))
		cancel()
		if err != nil {
			r.t.addError(err)
			time.Sleep(errorBackoff)
			continue
		}
		if r.inWindow(sent) {
			writes++
			r.t.measuredOps.Add(1)
		}
	}
	return writes
}

func runWatch(ctx context.Context, o Options, p *pool) (Result, error) {
	r := &watchRun{epoch: time.Now(), prefix: keyPrefix + "watch/",
		t: &tally{errorSamples: []string{}}}
	watchCtx, cancelWatches := context.WithCancel(ctx)
	defer cancelWatches()
	var consumers sync.WaitGroup
	for i := 0; i < o.Clients; i++ {
		channel, err := openWatch(watchCtx, r, p.of(i))
		if err != nil {
			return Result{}, fmt.Errorf("watcher %d: %w", i, err)
		}
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			consume(r, channel)
		}()
	}
	r.window.start = time.Now().Add(seconds(o.WarmupSeconds))
	r.window.end = r.window.start.Add(seconds(o.Seconds))
	cpu := cpuAt(ctx, r.window)
	stopProgress := progress(o.Workload+" (writes)", r.window, &r.t.measuredOps, &r.t.errors)
	writes := write(ctx, o, r, p.of(0))
	stopProgress()
	expected := writes * int64(o.Clients)
	for deadline := time.Now().Add(watchDrainMax); r.received.Load() < expected &&
		time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(watchDrainPoll)
	}
	cpuSpent := cpu()
	cancelWatches()
	consumers.Wait()
	measured := time.Duration(r.lastReceived.Load()) - r.window.start.Sub(r.epoch)
	result := summarize(o, r.t.latencies, measured)
	result.Errors, result.ErrorSamples = r.t.errors, r.t.errorSamples
	result.Writes = writes
	if missing := expected - int64(len(r.t.latencies)); missing > 0 {
		result.WatchEventsMissing = missing
	}
	result.CPUSeconds = cpuSpent
	return result, nil
}
