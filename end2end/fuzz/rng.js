// A small seeded PRNG (mulberry32) and the helpers the generators draw with. The same
// seed gives the same sequence of requests (ids that the server hands out differ per run).
const crypto = require('node:crypto');

function parseSeed(text) {
  if (text === undefined || text === null || String(text).trim() === '') {
    return crypto.randomBytes(4).readUInt32BE(0);
  }
  const s = String(text).trim();
  const n = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s.slice(2), 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 0xffffffff) {
    throw new Error(`ENCLAVE_FUZZ_SEED must be a 32-bit number, decimal or 0x-hex (got ${s})`);
  }
  return n >>> 0;
}

const hex = (seed) => `0x${(seed >>> 0).toString(16).padStart(8, '0')}`;

class Rng {
  constructor(seed) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next() {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo, hi) {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p) {
    return this.next() < p;
  }
  pick(list) {
    if (!list.length) throw new Error('pick from an empty list');
    return list[Math.floor(this.next() * list.length)];
  }
  /** Picks from [[weight, value], …]. */
  weighted(entries) {
    const total = entries.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of entries) {
      if ((r -= w) < 0) return v;
    }
    return entries[entries.length - 1][1];
  }
  bytes(n) {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = (this.next() * 4294967296) >>> 0;
      b[i] = v & 0xff;
      if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) b[i + 3] = (v >>> 24) & 0xff;
    }
    return b;
  }
  uuid() {
    const b = this.bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  /** A fresh generator whose sequence depends only on this one's next draw. */
  fork() {
    return new Rng((this.next() * 4294967296) >>> 0);
  }
}

module.exports = { Rng, parseSeed, hex };
