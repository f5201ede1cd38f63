package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

// clientState is what one closed-loop client keeps between requests.
type clientState struct {
	index   int
	rng     *rand.Rand
	value   string
	ownKey  string // txn: the key only this client writes
	lastRev int64  // txn: the ModRevision this client last saw on ownKey
}

// window is the measured interval [start, end) of a run; requests started before start are
// warm-up and not recorded.
type window struct {
	start time.Time
	end   time.Time
}

// tally collects results from all clients.
type tally struct {
	mu           sync.Mutex
	latencies    []time.Duration
	errors       int64
	errorSamples []string
	casMisses    int64
	measuredOps  atomic.Int64
	gaps         *gapTracker
}

func (t *tally) addError(err error) {
	atomic.AddInt64(&t.errors, 1)
	t.mu.Lock()
	defer t.mu.Unlock()
	message := err.Error()
	for _, sample := range t.errorSamples {
		if sample == message {
			return
		}
	}
	if len(t.errorSamples) < errorSamplesMax {
		t.errorSamples = append(t.errorSamples, message)
	}
}

func (t *tally) merge(latencies []time.Duration, casMisses int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latencies = append(t.latencies, latencies...)
	t.casMisses += casMisses
}

func newValue(rng *rand.Rand, size int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	bytes := make([]byte, size)
	for i := range bytes {
		bytes[i] = alphabet[rng.Intn(len(alphabet))]
	}
	return string(bytes)
}

func keyOf(n int) string {
	return fmt.Sprintf("%sk/%08d", keyPrefix, n)
}

// request issues one request of the workload; casMiss reports a txn whose compare failed.
func request(ctx context.Context, o Options, cli *clientv3.Client, s *clientState) (
	casMiss bool, err error) {
	switch o.Workload {
	case "put", "write-gap":
		_, err = cli.Put(ctx, keyOf(s.rng.Intn(o.Keys)), s.value)
	case "get-linearizable":
		_, err = cli.Get(ctx, keyOf(s.rng.Intn(o.Keys)))
	case "get-serializable":
		_, err = cli.Get(ctx, keyOf(s.rng.Intn(o.Keys)), clientv3.WithSerializable())
	case "txn":
		return compareAndPut(ctx, cli, s)
	default:
		err = fmt.Errorf("unknown workload %q", o.Workload)
	}
	return false, err
}

// compareAndPut writes the client's own key only if nobody wrote it since the client last
// saw it; on a miss it reads the current ModRevision back in the same txn.
func compareAndPut(ctx context.Context, cli *clientv3.Client, s *clientState) (bool, error) {
	response, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.ownKey), "=", s.lastRev)).
		Then(clientv3.OpPut(s.ownKey, s.value)).
		Else(clientv3.OpGet(s.ownKey)).
		Commit()
	if err != nil {
		return false, err
	}
	if response.Succeeded {
		s.lastRev = response.Header.Revision
		return false, nil
	}
	s.lastRev = 0
	if ranges := response.Responses; len(ranges) == 1 {
		if kvs := ranges[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
			s.lastRev = kvs[0].ModRevision
		}
	}
	return true, nil
}

// runClient loops until the window ends, the op limit is reached or ctx is cancelled.
func runClient(ctx context.Context, o Options, p *pool, s *clientState, w window, t *tally) {
	cli := p.of(s.index)
	timeout := requestTimeout
	if o.Workload == "write-gap" {
		timeout = writeGapTimeout
	}
	var latencies []time.Duration
	var casMisses int64
	for ctx.Err() == nil {
		started := time.Now()
		if !started.Before(w.end) || (o.Ops > 0 && t.measuredOps.Load() >= o.Ops) {
			break
		}
		requestCtx, cancel := context.WithTimeout(ctx, timeout)
		casMiss, err := request(requestCtx, o, cli, s)
		cancel()
		finished := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				t.addError(err)
			}
			time.Sleep(errorBackoff)
			continue
		}
		if t.gaps != nil {
			t.gaps.success(finished)
		}
		if started.Before(w.start) {
			continue
		}
		latencies = append(latencies, finished.Sub(started))
		t.measuredOps.Add(1)
		if casMiss {
			casMisses++
		}
	}
	t.merge(latencies, casMisses)
}

func newClientState(o Options, index int) *clientState {
	rng := rand.New(rand.NewSource(o.Seed + int64(index)))
	return &clientState{
		index:  index,
		rng:    rng,
		value:  newValue(rng, o.ValueBytes),
		ownKey: fmt.Sprintf("%stxn/%06d", keyPrefix, index),
	}
}

func runClosedLoop(ctx context.Context, o Options, p *pool) (Result, error) {
	states := make([]*clientState, o.Clients)
	for i := range states {
		states[i] = newClientState(o, i)
	}
	if err := prepare(ctx, o, p, states); err != nil {
		return Result{}, err
	}
	t := &tally{errorSamples: []string{}}
	if o.Workload == "write-gap" {
		t.gaps = newGapTracker(o.GapMsMin)
	}
	now := time.Now()
	w := window{start: now.Add(seconds(o.WarmupSeconds))}
	w.end = w.start.Add(seconds(o.Seconds))
	cpu := cpuAt(ctx, w)
	stopProgress := progress(o.Workload, w, &t.measuredOps, &t.errors)
	var group sync.WaitGroup
	for _, s := range states {
		group.Add(1)
		go func(s *clientState) {
			defer group.Done()
			runClient(ctx, o, p, s, w, t)
		}(s)
	}
	group.Wait()
	stopProgress()
	measured := time.Since(w.start)
	if measured > w.end.Sub(w.start) {
		measured = w.end.Sub(w.start)
	}
	result := summarize(o, t.latencies, measured)
	result.Errors, result.ErrorSamples, result.CasMisses = t.errors, t.errorSamples, t.casMisses
	result.CPUSeconds = cpu()
	if t.gaps != nil {
		result.GapsMs = t.gaps.finish(time.Now())
	}
	return result, nil
}

// prepare preloads every key for the get workloads (one worker per connection, puts
// batched in txns) and creates each client's own key for txn. Setup is not measured, so a
// failed setup request is retried up to setupAttemptsMax times.
func prepare(ctx context.Context, o Options, p *pool, states []*clientState) error {
	workers := len(states)
	if o.Workload == "get-linearizable" || o.Workload == "get-serializable" {
		workers = o.Connections
	}
	var group sync.WaitGroup
	var mu sync.Mutex
	var failed error // the first failure; errors differ in concrete type
	for _, s := range states[:workers] {
		group.Add(1)
		go func(s *clientState) {
			defer group.Done()
			if err := prepareWorker(ctx, o, p, s, workers); err != nil {
				mu.Lock()
				defer mu.Unlock()
				if failed == nil {
					failed = err
				}
			}
		}(s)
	}
	group.Wait()
	if failed != nil {
		return fmt.Errorf("preparing: %w", failed)
	}
	return nil
}

// prepareWorker does worker s.index's share of the setup: keys n with n mod workers equal to
// s.index for the gets, its own key for txn.
func prepareWorker(ctx context.Context, o Options, p *pool, s *clientState, workers int) error {
	cli := p.of(s.index)
	switch o.Workload {
	case "get-linearizable", "get-serializable":
		var batch []clientv3.Op
		for n := s.index; n < o.Keys; n += workers {
			batch = append(batch, clientv3.OpPut(keyOf(n), s.value))
			if len(batch) == preloadTxnOps || n+workers >= o.Keys {
				err := withRetries(ctx, func(requestCtx context.Context) error {
					_, err := cli.Txn(requestCtx).Then(batch...).Commit()
					return err
				})
				if err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
	case "txn":
		return withRetries(ctx, func(requestCtx context.Context) error {
			response, err := cli.Put(requestCtx, s.ownKey, s.value)
			if err == nil {
				s.lastRev = response.Header.Revision
			}
			return err
		})
	}
	return nil
}

// withRetries calls request with a requestTimeout context until it succeeds, ctx ends or
// setupAttemptsMax attempts have failed; every failure is reported on stderr.
func withRetries(ctx context.Context, request func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		requestCtx, cancel := context.WithTimeout(ctx, requestTimeout)
		err := request(requestCtx)
		cancel()
		if err == nil {
			return nil
		}
		fmt.Fprintf(os.Stderr, "etcd-loadgen: setup attempt %d/%d failed: %v\n",
			attempt, setupAttemptsMax, err)
		if attempt == setupAttemptsMax || ctx.Err() != nil {
			return err
		}
		time.Sleep(setupBackoff)
	}
}

func seconds(value float64) time.Duration {
	return time.Duration(value * float64(time.Second))
}

// cpuAt samples this process's CPU time at w.start; the returned function gives the CPU
// seconds spent since then.
func cpuAt(ctx context.Context, w window) func() float64 {
	var atStart atomic.Value
	atStart.Store(cpuSeconds())
	go func() {
		select {
		case <-time.After(time.Until(w.start)):
			atStart.Store(cpuSeconds())
		case <-ctx.Done():
		}
	}()
	return func() float64 { return cpuSeconds() - atStart.Load().(float64) }
}

// progress prints a line on stderr every progressEvery until the returned stop is called.
func progress(workload string, w window, ops *atomic.Int64, errors *int64) func() {
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(progressEvery)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-ticker.C:
				elapsed := now.Sub(w.start).Seconds()
				count := ops.Load()
				rate := 0.0
				if elapsed > 0 {
					rate = float64(count) / elapsed
				}
				fmt.Fprintf(os.Stderr, "etcd-loadgen %s: %.0f s, %d ops, %.0f/s, %d errors\n",
					workload, elapsed, count, rate, atomic.LoadInt64(errors))
			}
		}
	}()
	return func() { close(done) }
}
