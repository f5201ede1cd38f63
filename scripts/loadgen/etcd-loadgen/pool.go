package main

import (
	"go.etcd.io/etcd/clientv3"
	"go.uber.org/zap"
)

// pool holds the -connections clientv3 clients; client i of -clients uses pool.clients[i % n].
type pool struct {
	clients []*clientv3.Client
}

// dial opens the connections. With failover false, connection i knows only endpoint
// i mod len(endpoints), so load spreads evenly and deterministically over the members; with
// failover true every connection knows every endpoint.
func dial(o Options, failover bool) (*pool, error) {
	logConfig := zap.NewProductionConfig()
	logConfig.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	logConfig.OutputPaths = []string{"stderr"}
	p := &pool{}
	for i := 0; i < o.Connections; i++ {
		endpoints := o.Endpoints
		if !failover {
			endpoints = []string{o.Endpoints[i%len(o.Endpoints)]}
		}
		client, err := clientv3.New(clientv3.Config{
			Endpoints:          endpoints,
			DialTimeout:        dialTimeout,
			MaxCallSendMsgSize: maxCallMessageBytes,
			MaxCallRecvMsgSize: maxCallMessageBytes,
			LogConfig:          &logConfig,
		})
		if err != nil {
			p.close()
			return nil, err
		}
		p.clients = append(p.clients, client)
	}
	return p, nil
}

func (p *pool) of(client int) *clientv3.Client {
	return p.clients[client%len(p.clients)]
}

func (p *pool) close() {
	for _, client := range p.clients {
		_ = client.Close()
	}
}
