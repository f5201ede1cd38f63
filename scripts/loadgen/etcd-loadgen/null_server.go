package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"google.golang.org/grpc"
)

// nullKV answers every KV request at once with an empty response: the cheapest possible
// server, so a run against it measures the generator alone.
type nullKV struct{}

func header() *pb.ResponseHeader { return &pb.ResponseHeader{Revision: 1} }

func (nullKV) Range(context.Context, *pb.RangeRequest) (*pb.RangeResponse, error) {
	return &pb.RangeResponse{Header: header()}, nil
}

func (nullKV) Put(context.Context, *pb.PutRequest) (*pb.PutResponse, error) {
	return &pb.PutResponse{Header: header()}, nil
}

func (nullKV) DeleteRange(context.Context, *pb.DeleteRangeRequest) (
	*pb.DeleteRangeResponse, error) {
	return &pb.DeleteRangeResponse{Header: header()}, nil
}

// Txn always succeeds with one empty put response, like a compare-and-put that matched.
func (nullKV) Txn(context.Context, *pb.TxnRequest) (*pb.TxnResponse, error) {
	return &pb.TxnResponse{Header: header(), Succeeded: true, Responses: []*pb.ResponseOp{
		{Response: &pb.ResponseOp_ResponsePut{ResponsePut: &pb.PutResponse{Header: header()}}},
	}}, nil
}

func (nullKV) Compact(context.Context, *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	return &pb.CompactionResponse{Header: header()}, nil
}

// serveNull serves nullKV on address until SIGINT or SIGTERM.
func serveNull(address string) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	server := grpc.NewServer()
	pb.RegisterKVServer(server, nullKV{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		server.Stop()
	}()
	fmt.Fprintf(os.Stderr, "etcd-loadgen: null KV serving on %s\n", listener.Addr())
	return server.Serve(listener)
}
