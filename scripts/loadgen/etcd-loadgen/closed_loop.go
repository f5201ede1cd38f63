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

// prepare preloads every key for the get workloads and creates each client's own key for txn.
func prepare(ctx context.Context, o Options, p *pool, states []*clientState) error {
	var group sync.WaitGroup
	var failed atomic.Value
	for _, s := range states {
		group.Add(1)
		go func(s *clientState) {
			defer group.Done()
			if err := prepareClient(ctx, o, p, s, len(states)); err != nil {
				failed.Store(err)
			}
		}(s)
	}
	group.Wait()
	if err, ok := failed.Load().(error); ok {
		return fmt.Errorf("preparing: %w", err)
	}
	return nil
}

func prepareClient(ctx context.Context, o Options, p *pool, s *clientState, clients int) error {
	cli := p.of(s.index)
	requestCtx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	switch o.Workload {
	case "get-linearizable", "get-serializable":
		var batch []clientv3.Op
		for n := s.index; n < o.Keys; n += clients {
			batch = append(batch, clientv3.OpPut(keyOf(n), s.value))
			if len(batch) == preloadTxnOps || n+clients >= o.Keys {
				if _, err := cli.Txn(requestCtx).Then(batch...).Commit(); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
	case "txn":
		response, err := cli.Put(requestCtx, s.ownKey, s.value)
		if err != nil {
			return err
		}
		s.lastRev = response.Header.Revision
	}
	return nil
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
