// Request bodies from [key, value] pairs: url-encoded, JSON, multipart; and their breakage.

function toBytes(v) {
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

const SAFE = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') SAFE[c.charCodeAt(0)] = 1;
const HEX = Buffer.from('0123456789ABCDEF');

/** Percent-encodes every byte outside the unreserved set (keepBrackets: `[` `]` stay). */
function pct(v, { keepBrackets = false, plusSpace = false } = {}) {
  const b = toBytes(v);
  const out = Buffer.allocUnsafe(b.length * 3);
  let j = 0;
  for (let k = 0; k < b.length; k++) {
    const byte = b[k];
    if (SAFE[byte] || (keepBrackets && (byte === 0x5b || byte === 0x5d))) out[j++] = byte;
    else if (plusSpace && byte === 0x20) out[j++] = 0x2b;
    else { out[j++] = 0x25; out[j++] = HEX[byte >> 4]; out[j++] = HEX[byte & 15]; }
  }
  return out.toString('latin1', 0, j);
}

function urlencoded(pairs, rng) {
  const keepBrackets = rng.chance(0.5);
  const plusSpace = rng.chance(0.3);
  return Buffer.from(
    pairs.map(([k, v]) => (v === undefined ? pct(k, { keepBrackets }) : `${pct(k, { keepBrackets })}=${pct(v, { plusSpace })}`)).join('&'),
    'latin1',
  );
}

/** JSON of the pairs as an object; values sometimes as numbers, arrays, objects or null. */
function json(pairs, rng) {
  const obj = {};
  for (const [k, v] of pairs) {
    let val = Buffer.isBuffer(v) ? v.toString('latin1') : v;
    if (rng.chance(0.15)) {
      val = rng.pick([null, 0, -1, 1e308, 9007199254740993, true, [], [val], { value: val }, [[[]]], -0, 'x']);
    } else if (typeof val === 'string' && /^-?\d+(\.\d+)?$/.test(val) && rng.chance(0.5)) {
      val = Number(val);
    }
    const m = /^([^[]+)\[([^\]]*)\]$/.exec(k);
    if (m && rng.chance(0.7)) {
      const [, outer, inner] = m;
      if (/^\d*$/.test(inner)) (obj[outer] = Array.isArray(obj[outer]) ? obj[outer] : []).push(val);
      else (obj[outer] = obj[outer] && typeof obj[outer] === 'object' ? obj[outer] : {})[inner] = val;
    } else obj[k] = val;
  }
  let text = JSON.stringify(obj);
  if (rng.chance(0.25)) {
    text = rng.pick([
      () => text.slice(0, rng.int(0, Math.max(0, text.length - 1))),
      () => `[${text}]`,
      () => `${text}${text}`,
      () => text.replace(/:/g, '='),
      () => '{"a":'.repeat(5000),
      () => '['.repeat(100000),
      () => `{"client": ${'1'.repeat(5000)}}`,
      () => 'null',
      () => '"\\ud800"',
      () => `{"${'k'.repeat(100000)}": 1}`,
    ])();
  }
  return Buffer.from(text, 'utf8');
}

function boundaryFor(rng) {
  return rng.weighted([
    [6, `----fuzz${rng.int(0, 1e9)}`],
    [1, 'b'.repeat(rng.pick([70, 71, 200, 5000]))],
    [1, 'x'],
    [1, 'a b"c'],
  ]);
}

/** A multipart body; `file` parts get a filename. Returns { body, boundary }. */
function multipart(parts, rng, boundary = boundaryFor(rng)) {
  const chunks = [];
  for (const p of parts) {
    const name = p.name === undefined ? '' : `; name="${Buffer.isBuffer(p.name) ? p.name.toString('latin1') : p.name}"`;
    const fname = p.filename === undefined ? '' : `; filename="${p.filename}"`;
    let head = `--${boundary}\r\nContent-Disposition: form-data${name}${fname}\r\n`;
    if (p.contentType) head += `Content-Type: ${p.contentType}\r\n`;
    if (p.extraHeaders) head += p.extraHeaders;
    chunks.push(Buffer.from(head + '\r\n', 'utf8'), toBytes(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), boundary };
}

/** Ways to break a multipart body after it is built. */
function breakMultipart(body, boundary, rng) {
  const kind = rng.pick(['truncate', 'truncate', 'no-close', 'other-boundary', 'lf-only', 'garbage-prefix', 'nul-inside', 'header-bomb']);
  let b = body;
  switch (kind) {
    case 'truncate': b = body.subarray(0, rng.int(0, Math.max(0, body.length - 1))); break;
    case 'no-close': b = body.subarray(0, Math.max(0, body.length - boundary.length - 6)); break;
    case 'other-boundary': b = Buffer.from(body.toString('latin1').split(boundary).join('zz' + boundary.slice(2)), 'latin1'); break;
    case 'lf-only': b = Buffer.from(body.toString('latin1').replace(/\r\n/g, '\n'), 'latin1'); break;
    case 'garbage-prefix': b = Buffer.concat([rng.bytes(rng.int(1, 4000)), body]); break;
    case 'nul-inside': b = Buffer.from(body.toString('latin1').replace(/Content-Disposition/g, 'Content-\u0000Disposition'), 'latin1'); break;
    case 'header-bomb': b = Buffer.from(body.toString('latin1').replace('\r\n\r\n', `\r\n${'X-Pad: y\r\n'.repeat(rng.int(100, 20000))}\r\n`), 'latin1'); break;
  }
  return { body: b, how: kind };
}

module.exports = { pct, urlencoded, json, multipart, breakMultipart, boundaryFor, toBytes };
