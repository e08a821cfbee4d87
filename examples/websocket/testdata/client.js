// Drives the websocket echo example with Node's ws library (Debian's
// node-ws: run with NODE_PATH=/usr/share/nodejs). Run by the Go tests
// (tools_test.go):
//
//   node client.js URL PMD
//
// PMD is the permessage-deflate offer as JSON: false (none), true (ws's
// default offer) or an object of ws's perMessageDeflate options
// ({"serverNoContextTakeover": true, ...}). An "expect:deflate" field in
// it is not a ws option but what the test expects of the server: true
// (it must accept the offer), false (it must not), or "either".
//
// Each check prints "ok <name>"; a failed check prints the reason to
// stderr and exits 1.
'use strict';
const WebSocket = require('ws');
const crypto = require('crypto');

const [url, pmdJSON] = process.argv.slice(2);
const pmdArg = JSON.parse(pmdJSON);
let pmd = pmdArg;
let expectDeflate = pmdArg !== false; // or "either"
if (pmdArg && typeof pmdArg === 'object') {
  pmd = {};
  for (const [k, v] of Object.entries(pmdArg)) {
    if (k === 'expect:deflate') expectDeflate = v;
    else pmd[k] = v;
  }
}

function fail(why) {
  console.error('FAIL: ' + why);
  process.exit(1);
}
function ok(name) { console.log('ok ' + name); }
setTimeout(() => fail('timed out'), 20000).unref();

const ws = new WebSocket(url, {
  perMessageDeflate: pmd,
  maxPayload: 32 << 20,
  rejectUnauthorized: false,
});
// Messages arrive in order: each check awaits the next one.
const waiting = [];
const arrived = [];
ws.on('message', (data, isBinary) => {
  const m = { data, isBinary };
  if (waiting.length) waiting.shift()(m); else arrived.push(m);
});
ws.on('error', (err) => fail('error: ' + err.message));
function next() {
  if (arrived.length) return Promise.resolve(arrived.shift());
  return new Promise((resolve) => waiting.push(resolve));
}
function send(data, opts) {
  return new Promise((resolve, reject) => ws.send(data, opts || {}, (err) => (err ? reject(err) : resolve())));
}

// checkResponse holds the server's Sec-WebSocket-Extensions answer to
// what RFC 7692 §7.1 requires given our offer.
function checkResponse(header) {
  const params = {};
  const parts = header.split(';').map((x) => x.trim());
  if (parts[0] !== 'permessage-deflate') fail('response names ' + parts[0]);
  for (const p of parts.slice(1)) {
    const [k, v] = p.split('=').map((x) => x.trim());
    if (k in params) fail('parameter ' + k + ' twice in ' + header);
    params[k] = v === undefined ? true : v.replace(/^"|"$/g, '');
  }
  const o = pmd && typeof pmd === 'object' ? pmd : {};
  for (const k of Object.keys(params)) {
    if (!['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'].includes(k)) fail('unknown parameter ' + k);
  }
  if (o.serverNoContextTakeover && !params.server_no_context_takeover) fail('offer had server_no_context_takeover; the response must too (§7.1.1.1): ' + header);
  if (typeof o.serverMaxWindowBits === 'number') {
    const n = Number(params.server_max_window_bits);
    if (!(n >= 8 && n <= o.serverMaxWindowBits)) fail('offer had server_max_window_bits=' + o.serverMaxWindowBits + '; the response must have one no larger (§7.1.2.1): ' + header);
  }
  if (params.server_max_window_bits !== undefined) {
    const n = Number(params.server_max_window_bits);
    if (!(n >= 8 && n <= 15)) fail('bad server_max_window_bits in ' + header);
  }
  if (params.client_max_window_bits !== undefined) {
    if (o.clientMaxWindowBits === false) fail('client_max_window_bits not offered (§7.1.2.2): ' + header);
    const n = Number(params.client_max_window_bits);
    if (!(n >= 8 && n <= (typeof o.clientMaxWindowBits === 'number' ? o.clientMaxWindowBits : 15))) fail('bad client_max_window_bits in ' + header);
  }
}

let closing = false;
ws.on('close', (code, reason) => { if (!closing) fail('closed early: ' + code + ' ' + reason); });

let upgradeHeader;
ws.on('upgrade', (res) => { upgradeHeader = res.headers['sec-websocket-extensions']; });

ws.on('open', async () => {
  try {
    const deflated = ws.extensions.startsWith('permessage-deflate');
    if (expectDeflate === true && !deflated) fail('permessage-deflate not negotiated: response: ' + upgradeHeader);
    if (expectDeflate === false && (ws.extensions !== '' || upgradeHeader !== undefined)) fail('an extension negotiated: ' + upgradeHeader);
    if (deflated) {
      checkResponse(upgradeHeader);
      ok('deflate negotiated: ' + upgradeHeader);
    } else {
      ok('no extension');
    }

    await send('héllo, wörld ✓');
    let m = await next();
    if (m.isBinary || m.data.toString() !== 'héllo, wörld ✓') fail('text echo: ' + m.data);
    ok('text');

    const bin = Buffer.alloc(1024);
    for (let i = 0; i < bin.length; i++) bin[i] = i & 0xff;
    await send(bin, { binary: true });
    m = await next();
    if (!m.isBinary || !m.data.equals(bin)) fail('binary echo');
    ok('binary');

    // 1 MiB of random bytes, and 1 MiB of text that compresses well,
    // sent compressed (when negotiated) and not.
    const rnd = crypto.randomBytes(1 << 20);
    await send(rnd, { binary: true });
    m = await next();
    if (!m.isBinary || !m.data.equals(rnd)) fail('1 MiB binary echo');
    ok('1 MiB binary');
    let text = '';
    for (let i = 0; text.length < (1 << 20); i++) text += 'line ' + i + ' of a long message\n';
    text = text.slice(0, 1 << 20);
    const before = ws._socket.bytesRead;
    await send(text, { compress: true });
    m = await next();
    if (m.isBinary || m.data.toString() !== text) fail('1 MiB text echo');
    ok('1 MiB text');
    if (deflated) {
      // The echo came compressed: far fewer bytes than the message.
      const wire = ws._socket.bytesRead - before;
      if (wire > (1 << 20) / 4) fail('1 MiB of text came back in ' + wire + ' bytes: not compressed');
      ok('1 MiB text came back compressed (' + wire + ' bytes)');
    }
    await send(text, { compress: false });
    m = await next();
    if (m.data.toString() !== text) fail('1 MiB text echo, sent uncompressed');
    ok('1 MiB text sent uncompressed');

    // Many similar messages in flight: with context takeover, each
    // compressed message refers back to the ones before it.
    const msgs = [];
    for (let i = 0; i < 100; i++) msgs.push('{"seq":' + i + ',"payload":"' + 'abcdefgh'.repeat(40) + '"}');
    for (const s of msgs) await send(s);
    for (const s of msgs) {
      m = await next();
      if (m.data.toString() !== s) fail('in flight: got ' + m.data.toString().slice(0, 40) + ' want ' + s.slice(0, 40));
    }
    ok('100 in flight');

    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping('are you there');
    const p = await pong;
    if (p.toString() !== 'are you there') fail('pong payload ' + p);
    ok('ping');

    closing = true;
    ws.on('close', (code) => {
      if (code !== 4001) fail('close code ' + code);
      ok('close 4001 echoed');
      process.exit(0);
    });
    ws.close(4001, 'done here');
  } catch (e) {
    fail(e.stack || String(e));
  }
});
