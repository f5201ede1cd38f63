// A run of consecutive free loopback ports, for tests that start servers on a base port plus
// offsets (`pfs deploy local --base-port B --pfs-base-port P`). Probed by binding each port;
// the OS may still hand one to somebody else before the server binds it, so the search starts
// at a different place in every test process (and at `salt`).
import { createServer } from "node:net";

const searchFrom = 20_000;
const searchSpan = 30_000;
const attemptsMax = 200;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => { resolve(false); });
    server.listen(port, "127.0.0.1", () => { server.close(() => { resolve(true); }); });
  });
}

/** A base port with `count` free ports from it. */
export async function freePortRange(count: number, salt = 0): Promise<number> {
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const base = searchFrom + ((process.pid * 7919 + attempt * 104_729 + salt) % searchSpan);
    const checks = await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)));
    if (checks.every(Boolean)) return base;
  }
  throw new Error(`no ${count} free consecutive ports`);
}
