// A local stand-in for an OpenAI-compatible chat completions API (POST
// /v1/chat/completions), so end2end can drive Enclave's HTTP text generator offline.
// Answers like the real API: `choices[0].message.content`, and on failure an HTTP error
// with `{ "error": { "message": ... } }`. Tests switch it between answering and failing
// with POST /__mode { "mode": "ok" | "fail" }. Port from LLM_PORT.
import http from 'node:http';

const port = Number(process.env.LLM_PORT || 4012);
let mode = 'ok';

function body(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => resolve(data));
  });
}

function send(res, status, payload) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(payload));
}

http
  .createServer(async (req, res) => {
    const text = await body(req);
    if (req.method === 'POST' && req.url === '/__mode') {
      mode = JSON.parse(text || '{}').mode === 'fail' ? 'fail' : 'ok';
      return send(res, 200, { mode });
    }
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      if (mode === 'fail') {
        return send(res, 503, { error: { message: 'the model is overloaded, try again later', type: 'server_error' } });
      }
      const request = JSON.parse(text || '{}');
      const prompt = request.messages?.at(-1)?.content || '';
      const channel = (prompt.match(/^Write a (.+?) draft/) || [])[1] || 'general';
      const campaign = (prompt.match(/"campaign": "([^"]*)"/) || [])[1] || 'the campaign';
      // A little latency, so progress has something to show.
      await new Promise((r) => setTimeout(r, 1200));
      return send(res, 200, {
        id: 'chatcmpl-local',
        object: 'chat.completion',
        model: request.model,
        choices: [
          {
            index: 0,
            finish_reason: 'stop',
            message: { role: 'assistant', content: `${campaign} on ${channel}\n\nA ${channel} draft written by the local stand-in.` },
          },
        ],
      });
    }
    send(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
  })
  .listen(port, '127.0.0.1', () => console.log(`stand-in chat completions API on http://127.0.0.1:${port}/v1`));
