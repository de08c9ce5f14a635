// A bare HTTP/1.1 client (node:http, keep-alive, no cookie jar, no redirects followed, no
// header clean-up) and a raw-socket sender for requests no client library would write.
const http = require('node:http');
const net = require('node:net');

const quiet = new WeakSet();

class Client {
  constructor(base, { maxSockets = 8, timeoutMs = 30_000 } = {}) {
    const url = new URL(base);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.timeoutMs = timeoutMs;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /**
   * Sends one request. Resolves { status, headers, body (first 2 KB), error } — error is a
   * string when no answer came (timeout, connection closed, reset).
   */
  async send(request) {
    const first = await this.sendOnce(request, this.agent);
    // No answer: most often a kept-alive connection that the server closed just as this
    // request went out on it (Node's documented race). Sent again once, on a fresh
    // connection; a request that the server itself breaks off fails the same way again.
    if (first.status === 0 && !first.clientError && /ECONNRESET|EPIPE|socket hang up/.test(first.error)) {
      const again = await this.sendOnce(request, false);
      again.retried = first.error;
      return again;
    }
    return first;
  }

  sendOnce({ method, path, headers = {}, body, full = false }, agent) {
    return new Promise((resolve) => {
      let done = false;
      const finish = (r) => { if (!done) { done = true; resolve(r); } };
      let req;
      try {
        req = http.request({
          host: this.host, port: this.port, method, path, agent,
          headers: { ...headers, ...(body && body.length ? { 'Content-Length': body.length } : {}) },
          insecureHTTPParser: true, maxHeaderSize: 1 << 20,
        });
      } catch (e) {
        finish({ status: 0, error: `client refused to send: ${e.code || e.message}`, clientError: true });
        return;
      }
      // A write that fails after the answer came (the server answered early and closed)
      // errors on the socket once the request has let go of it: the answer is what counts.
      req.on('socket', (sock) => {
        if (!quiet.has(sock)) { quiet.add(sock); sock.on('error', () => {}); }
      });
      const timer = setTimeout(() => {
        req.destroy(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      req.on('response', (res) => {
        const chunks = [];
        let size = 0;
        const keep = full ? Infinity : 2048;
        res.on('data', (c) => { if (size < keep) chunks.push(c); size += c.length; });
        res.on('end', () => {
          clearTimeout(timer);
          finish({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).subarray(0, keep).toString('utf8'), size });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          // The status line arrived; the body broke off.
          finish({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), error: `body broke off: ${e.message}` });
        });
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        finish({ status: 0, error: `${e.code ? `${e.code} ` : ''}${e.message || String(e)}`, reusedSocket: req.reusedSocket });
      });
      if (body && body.length) req.end(body); else req.end();
    });
  }

  /**
   * Writes `bytes` to a fresh connection. With `complete`, waits for the answer; without,
   * the request is cut short on purpose: the connection is dropped after a moment.
   */
  sendRaw(bytes, { complete }) {
    return new Promise((resolve) => {
      const socket = net.connect(this.port, this.host);
      const chunks = [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        const text = Buffer.concat(chunks).toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
        resolve(m ? { status: Number(m[1]), body: text.slice(0, 2048) }
          : { status: 0, error: text ? `not HTTP: ${JSON.stringify(text.slice(0, 80))}` : complete ? `no answer within ${this.timeoutMs} ms or connection closed` : 'cut short (no answer expected)' });
      };
      // A complete request waits for its status line; a cut-short one is dropped soon.
      const timer = setTimeout(finish, complete ? this.timeoutMs : 300);
      socket.on('data', (c) => {
        chunks.push(c);
        if (/^HTTP\/1\.[01] \d{3}/.test(Buffer.concat(chunks).toString('latin1'))) finish();
      });
      socket.on('end', finish);
      socket.on('close', finish);
      socket.on('error', finish);
      socket.write(bytes);
    });
  }

  close() {
    this.agent.destroy();
  }
}

module.exports = { Client };
