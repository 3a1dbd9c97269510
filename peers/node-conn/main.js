// The Node.js peer of taskmem's idle-connection bench: a server on 127.0.0.1 holding every
// connection a client opens, idle. KIND http1: the `http` module's server in keep-alive (its
// keep-alive, request and headers timeouts off), answering `ok` to each request; KIND tcp: a
// `net` server whose sockets wait for data.
//
// It prints `listening PORT` once it listens, then `idle N` once N connections are accepted
// (tcp) or N requests answered (http1). It exits when its stdin closes, so nothing is left
// listening after the case.
//
// Usage: node main.js KIND N
'use strict';
const http = require('http');
const net = require('net');

function fail(msg) {
  process.stderr.write(`node/conn: ${msg} (usage: node main.js tcp|http1 N)\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length !== 2) fail(`expected 2 arguments, got ${args.length}`);
const [kind, nText] = args;
if (!/^[0-9]+$/.test(nText) || Number(nText) < 1) fail(`N '${nText}' is not a positive integer`);
const n = Number(nText);
if (kind !== 'tcp' && kind !== 'http1') fail(`unknown KIND '${kind}'`);

let count = 0;
function arrive() {
  count += 1;
  if (count === n) process.stdout.write(`idle ${n}\n`);
}

let server;
if (kind === 'http1') {
  server = http.createServer((req, res) => {
    res.end('ok');
    arrive();
  });
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;
} else {
  server = net.createServer((socket) => {
    socket.on('data', () => {});
    socket.on('error', () => {});
    arrive();
  });
}
server.on('error', (e) => {
  process.stderr.write(`node/conn: ${e.message}\n`);
  process.exit(1);
});
server.listen({ host: '127.0.0.1', port: 0, backlog: 65535 }, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
