// Member and cluster IDs are made exactly as etcd 3.4.23 makes them. The vectors were read
// from a real etcd 3.4.23 (`etcdctl member list -w json` and `member add -w json`); the
// e2e test etcd-member-ids.test.ts checks the same against a freshly started etcd cluster.
import test from "ava";
import { nodeId } from "../../../pkg/common/index.js";
import {
  computeClusterId, computeMemberId, peerAddress,
} from "../../../pkg/etcdserver/index.js";

test("a bootstrap member's ID and the cluster ID match etcd's", (t) => {
  const id = computeMemberId(["http://127.0.0.1:23801"], "etcd-cluster");
  t.is(BigInt(id), 0xbdae9bbc11dd390dn);
  t.is(computeClusterId([id]), 0xd1cfaf999eb97a2an);
});

test("an added member's ID hashes its peer URLs, no token, and the Unix seconds", (t) => {
  // etcd 3.4.23 answered MemberAdd for this peer URL with 0x2e8a82a1900fff1.
  const found = [];
  for (let seconds = 1_795_991_000; seconds < 1_795_991_400; seconds += 1) {
    if (computeMemberId(["http://127.0.0.1:23999"], "", seconds) === 0x2e8a82a1900fff1n) {
      found.push(seconds);
    }
  }
  t.is(found.length, 1);
});

test("peer URLs are sorted before hashing and the cluster ID sorts member IDs", (t) => {
  const a = computeMemberId(["http://b:2380", "http://a:2380"], "tok");
  const b = computeMemberId(["http://a:2380", "http://b:2380"], "tok");
  t.is(a, b);
  t.not(computeMemberId(["http://a:2380"], "tok"), computeMemberId(["http://a:2380"], "tok2"));
  const ids = [nodeId(3n), nodeId(1n), nodeId(2n)];
  t.is(computeClusterId(ids), computeClusterId([...ids].reverse()));
});

test("peer addresses drop the scheme and keep the port", (t) => {
  t.is(peerAddress("http://127.0.0.1:2380"), "127.0.0.1:2380");
  t.is(peerAddress("https://localhost:12380"), "localhost:12380");
  t.is(peerAddress("http://example.com"), "example.com:80");
});
