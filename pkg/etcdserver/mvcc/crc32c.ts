/**
 * CRC-32C (Castagnoli), the checksum etcd uses for HashKV and its WAL: table-driven, pure.
 */
const polynomialReversed = 0x82f63b78;

const table: Uint32Array = (() => {
  const entries = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let bit = 0; bit < 8; bit += 1) c = c & 1 ? (c >>> 1) ^ polynomialReversed : c >>> 1;
    entries[n] = c >>> 0;
  }
  return entries;
})();

/** Extends a running CRC-32C (start from 0) with `bytes`; returns the new uint32. */
export function crc32c(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  for (const byte of bytes) c = ((table[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8)) >>> 0;
  return ~c >>> 0;
}
