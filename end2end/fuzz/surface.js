// The attack surface of Enclave, read from the source so that it cannot go stale: every
// server function (#[server(endpoint = "…")] in app/src, with its arguments and their Rust
// types), the structs those arguments use, the Leptos page routes (app/src/lib.rs), the
// query keys the pages read (use_query_map), and the axum routes (`.route("…", get|post(…))`
// in app/src and server/src).
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

function rustFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...rustFiles(p));
    else if (entry.name.endsWith('.rs')) out.push(p);
  }
  return out.sort();
}

/** Drops // comments (not inside strings) so that commented-out code is not fuzzed. */
function stripLineComments(text) {
  return text
    .split('\n')
    .map((line) => {
      let inStr = false;
      for (let i = 0; i < line.length - 1; i++) {
        const c = line[i];
        if (c === '\\' && inStr) { i++; continue; }
        if (c === '"') inStr = !inStr;
        if (!inStr && c === '/' && line[i + 1] === '/') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

/** The text between the bracket at `open` and its partner (exclusive), nesting-aware. */
function balanced(text, open) {
  const pairs = { '(': ')', '[': ']', '{': '}', '<': '>' };
  const start = text[open];
  const end = pairs[start];
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === start) depth++;
    else if (text[i] === end && !(end === '>' && text[i - 1] === '-')) {
      depth--;
      if (depth === 0) return { inner: text.slice(open + 1, i), close: i };
    }
  }
  throw new Error(`unbalanced ${start} at ${open}`);
}

/** Splits on commas that are not nested in (), <>, [] or {}. */
function splitTopLevel(s) {
  const parts = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if ('(<[{'.includes(c)) depth++;
    else if (')]}'.includes(c) || (c === '>' && s[i - 1] !== '-')) depth--;
    if (c === ',' && depth === 0) { parts.push(cur); cur = ''; } else cur += c;
  }
  if (cur.trim()) parts.push(cur);
  return parts.map((p) => p.trim()).filter(Boolean);
}

function parseArgs(inner) {
  return splitTopLevel(inner).map((raw) => {
    let text = raw;
    const attrs = [];
    while (text.startsWith('#[')) {
      const { inner: attr, close } = balanced(text, 1);
      attrs.push(attr);
      text = text.slice(close + 1).trim();
    }
    const m = /^(?:mut\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([\s\S]+)$/.exec(text);
    if (!m) throw new Error(`cannot read server function argument: ${raw}`);
    return {
      name: m[1],
      type: m[2].replace(/\s+/g, ''),
      optional: attrs.some((a) => /server\s*\(\s*default\s*\)/.test(a)),
    };
  });
}

/** `#[server(...)]` functions: endpoint, method, input encoding, arguments, body. */
function serverFunctions(appSrc = path.join(ROOT, 'app', 'src')) {
  const fns = [];
  for (const file of rustFiles(appSrc)) {
    const text = stripLineComments(fs.readFileSync(file, 'utf8'));
    const re = /#\[server(?:\s*\(|\s*\])/g;
    let m;
    while ((m = re.exec(text))) {
      let attr = '';
      let after = m.index + m[0].length;
      if (m[0].endsWith('(')) {
        const b = balanced(text, after - 1);
        attr = b.inner;
        after = b.close + 2; // past ")]"
      }
      // Skip attributes on arguments (`#[server(default)] x: T`): those are inside a fn.
      const fnMatch = /^\s*(?:(?:#\[[^\]]*\]|\/\/\/[^\n]*)\s*)*pub\s+async\s+fn\s+([A-Za-z0-9_]+)\s*/.exec(text.slice(after));
      if (!fnMatch) continue;
      const open = after + fnMatch[0].length;
      if (text[open] === '<') throw new Error(`generic server function in ${file}`);
      const { inner, close } = balanced(text, open);
      const bodyOpen = text.indexOf('{', close);
      const body = balanced(text, bodyOpen).inner;
      const endpoint = /endpoint\s*=\s*"([^"]+)"/.exec(attr)?.[1];
      const prefix = /prefix\s*=\s*"([^"]+)"/.exec(attr)?.[1] ?? '/api';
      const input = /input\s*=\s*([A-Za-z]+)/.exec(attr)?.[1] ?? 'PostUrl';
      fns.push({
        fn: fnMatch[1],
        endpoint,
        path: endpoint ? `${prefix}/${endpoint}` : null,
        method: /^Get/.test(input) ? 'GET' : 'POST',
        input,
        args: parseArgs(inner),
        body,
        file: path.relative(ROOT, file),
      });
    }
  }
  return fns;
}

/** `pub struct Name { pub field: Type, … }` of app/src: how nested arguments are shaped. */
function structs(appSrc = path.join(ROOT, 'app', 'src')) {
  const out = {};
  for (const file of rustFiles(appSrc)) {
    const text = stripLineComments(fs.readFileSync(file, 'utf8'));
    const re = /pub\s+struct\s+([A-Za-z0-9_]+)\s*\{/g;
    let m;
    while ((m = re.exec(text))) {
      const { inner } = balanced(text, m.index + m[0].length - 1);
      const fields = [];
      for (const part of splitTopLevel(inner.replace(/#\[[^\]]*\]/g, '').replace(/\/\/\/[^\n]*/g, ''))) {
        const f = /^(?:pub(?:\([^)]*\))?\s+)?([a-z_][a-z0-9_]*)\s*:\s*([\s\S]+)$/.exec(part.trim());
        if (f) fields.push({ name: f[1], type: f[2].replace(/\s+/g, '') });
      }
      out[m[1]] = fields;
    }
  }
  return out;
}

/** One route `path=` expression: Leptos segments or `path!("/a/:b")`. */
function routeSegments(expr) {
  const macro = /path!\s*\(\s*"([^"]*)"\s*\)/.exec(expr);
  if (macro) {
    return macro[1].split('/').filter(Boolean).map((s) =>
      s.startsWith(':') ? { param: s.slice(1) } : s.startsWith('*') ? { wildcard: s.slice(1) } : { fixed: s });
  }
  const segs = [];
  const re = /(StaticSegment|ParamSegment|WildcardSegment|OptionalParamSegment)\s*\(\s*"([^"]*)"\s*\)/g;
  let m;
  while ((m = re.exec(expr))) {
    if (m[1] === 'StaticSegment') { if (m[2]) segs.push({ fixed: m[2].replace(/^\/+|\/+$/g, '') }); }
    else if (m[1] === 'WildcardSegment') segs.push({ wildcard: m[2] });
    else segs.push({ param: m[2], optional: m[1] === 'OptionalParamSegment' });
  }
  return segs;
}

/** The router's page routes in app/src/lib.rs (flat; a ParentRoute's own path is kept). */
function pageRoutes(libRs = path.join(ROOT, 'app', 'src', 'lib.rs')) {
  const text = stripLineComments(fs.readFileSync(libRs, 'utf8'));
  const routes = [];
  const re = /<(Route|ParentRoute)\b[^>]*?\bpath\s*=\s*/g;
  let m;
  while ((m = re.exec(text))) {
    let i = m.index + m[0].length;
    let expr;
    if (text[i] === '(' || text[i] === '{') expr = balanced(text, i).inner;
    else {
      const stop = text.slice(i).search(/\s(view|ssr)\s*=|\/?>/);
      expr = text.slice(i, i + stop);
      if (/^[A-Za-z]+Segment\s*$/.test(expr.trim()) || /path!\s*$/.test(expr)) {
        const p = text.indexOf('(', i);
        expr = text.slice(i, balanced(text, p).close + 1);
      }
    }
    const segments = routeSegments(expr);
    routes.push({
      pattern: '/' + segments.map((s) => (s.fixed ?? `{${s.param ?? '*' + s.wildcard}}`)).join('/'),
      segments,
    });
  }
  return routes;
}

/** Query keys the pages read (`.get("…")` in files that use use_query_map), minus params. */
function queryKeys(appSrc = path.join(ROOT, 'app', 'src'), params = []) {
  const keys = new Set();
  for (const file of rustFiles(appSrc)) {
    const text = stripLineComments(fs.readFileSync(file, 'utf8'));
    if (!text.includes('use_query_map')) continue;
    for (const m of text.matchAll(/\.get\(\s*"([a-z_][a-z0-9_]*)"\s*\)/g)) keys.add(m[1]);
  }
  for (const p of params) keys.delete(p);
  return [...keys].sort();
}

/** axum routes: `.route("/path", get(h))`, `post(h)`, `get(h).post(h)`, in app/src and server/src. */
function axumRoutes(dirs = [path.join(ROOT, 'app', 'src'), path.join(ROOT, 'server', 'src')]) {
  const routes = [];
  for (const dir of dirs) {
    for (const file of rustFiles(dir)) {
      const text = stripLineComments(fs.readFileSync(file, 'utf8'));
      // Unit tests build routers of their own.
      const cut = text.search(/#\[cfg\(test\)\]/);
      const live = cut >= 0 ? text.slice(0, cut) : text;
      for (const m of live.matchAll(/\.route\(\s*"([^"]+)"\s*,\s*([\s\S]*?)\)\s*(?=\.|;|\n\s*\})/g)) {
        const methods = [...m[2].matchAll(/\b(get|post|put|patch|delete|any)\s*\(/g)].map((x) => x[1].toUpperCase());
        routes.push({ path: m[1], methods: [...new Set(methods)], file: path.relative(ROOT, file) });
      }
    }
  }
  return routes;
}

/**
 * Server functions that change who the session is or which organization it is in: fuzzed
 * last, because they end the fuzzer's own signed-in sessions. Read from each function's body.
 */
const SESSION_CHANGING = /\b(sign_out|sign_out_everywhere|forget_organization|enter_organization|session::begin|cycle_id)\s*\(/;
function changesSession(fn) {
  return SESSION_CHANGING.test(fn.body);
}

function surface() {
  const fns = serverFunctions();
  const pages = pageRoutes();
  const params = [...new Set(pages.flatMap((r) => r.segments.filter((s) => s.param).map((s) => s.param)))];
  return {
    serverFns: fns,
    structs: structs(),
    pages,
    queryKeys: queryKeys(undefined, params),
    axum: axumRoutes(),
  };
}

module.exports = { surface, serverFunctions, structs, pageRoutes, queryKeys, axumRoutes, changesSession, ROOT };

if (require.main === module) {
  const s = surface();
  for (const f of s.serverFns) {
    console.log(`${f.method} ${f.path}  ${changesSession(f) ? '[session] ' : ''}${f.args.map((a) => `${a.name}:${a.type}${a.optional ? '?' : ''}`).join(', ')}`);
  }
  console.log(s.pages.map((p) => p.pattern).join('\n'));
  console.log('query keys:', s.queryKeys.join(' '));
  console.log(s.axum);
}
