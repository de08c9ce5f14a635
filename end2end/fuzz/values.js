// Hostile and plausible values. A value is a JS string or a Buffer (bytes sent as they
// are, e.g. invalid UTF-8); encoders percent-encode both.

const ABSURD_NUMBERS = [
  '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809',
  '18446744073709551616', '2147483647', '2147483648', '-2147483648', '-2147483649', '4294967296',
  '-1', '0', '-0', '1e309', '-1e309', '1e-400', '1.5', '0.0000001', 'NaN', 'nan', 'Infinity',
  '-Infinity', 'inf', '0x10', '0b1', '1_000', '1,5', '+1', ' 1', '1 ', '١٢٣', '１２', '1e3',
  '99999999999999999999999999999999999999999999999999', '00000000000000000000000001', '.',
  '-', 'e', '',
];

const ODD_UNICODE = [
  '\u0000', 'a\u0000b', '\u0000'.repeat(64), '\u202e\u0645\u0631\u062d\u0628\u0627 evil.exe',
  '\u200f\u200e\u200b\u2060\ufeff', '\ufeff', '\u2028\u2029', '\r\n\r\n', '\t\v\f', '\u0085',
  '\u{1f469}\u200d\u{1f469}\u200d\u{1f467}\u200d\u{1f466}', '\u{1f1fa}\u{1f1f8}\u{1f3f4}\u200d\u2620\ufe0f', '\u{1f4a9}'.repeat(100),
  'e\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308', 'Z\u0336\u0337\u0338'.repeat(50) + '\u0336'.repeat(300),
  '\uffff\ufffe\ufffd', '\u{10ffff}\u{e0001}\u{e007f}', '𝕳𝖊𝖑𝖑𝖔', 'ﷺ', '\u1100\u1161\u11a8', 'İıſK',
  'ß'.repeat(33), 'Ⅻ', '\u0130'.repeat(100), '\u{1d11e}', '\ud83d', '\ude00', 'a\udfffb',
  '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'; DROP TABLE personas; --",
  "' OR '1'='1", '$1', '\\', '\\x00', '%00', '%', '%zz', '%%', '+', '&', '=', '&=&=', '[]', '{}',
  '../../../../etc/passwd', '..\\..\\windows', '{{7*7}}', '${jndi:ldap://x}', '%s%n%x%d', '{0}{1}',
  'null', 'undefined', 'true', 'None', '()', 'NaN', '0', '-1', ' ', '   ', '\n', '=cmd|/C calc!A0',
  '@SUM(1+1)', 'a'.repeat(101), 'x'.repeat(1025), 'javascript:alert(1)', 'data:text/html,hi',
];

/** Bytes that are not valid UTF-8 (or are UTF-8 of things Rust strings cannot hold). */
const BAD_BYTES = [
  [0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc3], [0xe2, 0x82], [0x80],
  [0x61, 0x00, 0x62], [0xef, 0xbb, 0xbf], [0xff, 0xfe, 0x61, 0x00],
].map((b) => Buffer.from(b));

const UUID_LIKE = [
  '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'not-a-uuid',
  '123', '{00000000-0000-0000-0000-000000000000}', 'urn:uuid:00000000-0000-0000-0000-000000000000',
  '00000000000000000000000000000000', '00000000-0000-0000-0000-00000000000', '00000000-0000-0000-0000-0000000000000',
  'g0000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000000\u0000',
  ' 00000000-0000-0000-0000-000000000000', '00000000_0000_0000_0000_000000000000', '0', '-1', '',
];

const BOOLS = ['true', 'false', 'TRUE', 'False', '1', '0', 'yes', 'on', 'off', '', 'maybe', 'null', '2'];

function unicodeChunk(rng, n) {
  const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x3ff], [0x590, 0x6ff], [0x300, 0x36f],
    [0x4e00, 0x4fff], [0xac00, 0xad00], [0x1f300, 0x1f64f], [0x10000, 0x1007f], [0xe000, 0xe0ff], [0, 0x1f]];
  const out = [];
  for (let len = 0; len < n;) {
    const [lo, hi] = rng.pick(ranges);
    const c = String.fromCodePoint(rng.int(lo, hi));
    out.push(c);
    len += c.length;
  }
  return out.join('');
}

/** A huge string: up to ~1 MB (in UTF-8) of one character, a pattern or random Unicode. */
function huge(rng) {
  const size = rng.weighted([[5, 2_000], [4, 20_000], [3, 100_000], [2, 400_000], [1, 1_000_000]]);
  return rng.weighted([
    [3, () => rng.pick(['a', 'é', '\u0000', '💥', '\u202e', '%', '&', '=']).repeat(Math.ceil(size / 4))],
    [2, () => 'Fuzz '.repeat(Math.ceil(size / 5))],
    [1, () => unicodeChunk(rng, Math.min(size, 50_000))],
    [1, () => rng.bytes(Math.min(size, 300_000))],
  ])();
}

function hostile(rng) {
  return rng.weighted([
    [4, () => rng.pick(ABSURD_NUMBERS)],
    [6, () => rng.pick(ODD_UNICODE)],
    [2, () => Buffer.concat([Buffer.from('x'), rng.pick(BAD_BYTES), Buffer.from('y')])],
    [2, () => rng.bytes(rng.int(1, 64))],
    [2, () => rng.pick(UUID_LIKE)],
    [1, () => rng.pick(BOOLS)],
    [2, () => unicodeChunk(rng, rng.int(1, 300))],
    [1, () => huge(rng)],
  ])();
}

const SAFE_WORDS = ['Spring', 'launch', 'coffee', 'Brand', 'persona', 'newsletter', 'Q3', 'retail', 'Ärger', 'café', '東京', 'ok'];
function words(rng, n = rng.int(1, 4)) {
  return Array.from({ length: n }, () => rng.pick(SAFE_WORDS)).join(' ');
}

/** A plausible value for a field, by its name (so that checks further in are reached). */
function plausibleString(rng, name) {
  switch (name) {
    case 'status': return rng.pick(['draft', 'active', 'paused', 'done', 'approved', 'review', 'archived']);
    case 'role': return rng.pick(['member', 'admin', 'owner']);
    case 'kind': return rng.pick(['sme', 'agency']);
    case 'sort': return rng.pick(['name', 'updated', 'starts_on', 'budget', '-name', 'status']);
    case 'email': case 'any_email': return `fuzz-${rng.int(0, 1e9)}@example.test`;
    case 'starts_on': case 'ends_on': return `20${rng.int(20, 30)}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`;
    case 'budget': return `${rng.int(0, 99999)}.${String(rng.int(0, 99)).padStart(2, '0')}`;
    case 'channels': case 'channel': return rng.pick(['email', 'email, social', 'print', 'LinkedIn, search, events']);
    case 'palette': return '#112233, #abcdef';
    case 'token': return rng.bytes(32).toString('base64url');
    default: return `${words(rng)} ${rng.int(0, 9999)}`;
  }
}

module.exports = { ABSURD_NUMBERS, ODD_UNICODE, BAD_BYTES, UUID_LIKE, BOOLS, huge, hostile, unicodeChunk, plausibleString, words };
