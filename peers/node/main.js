// The Node.js peer of taskmem: N promises, each resolved by setTimeout after SLEEP_MS, awaited
// with Promise.all, as in the published "1 million concurrent tasks" program. At the end it
// prints `done N spawn_ms=MS`: how long creating the N promises took.
//
// Usage: node main.js N SLEEP_MS
'use strict';
const util = require('util');

const delay = util.promisify(setTimeout);

function fail(msg) {
  process.stderr.write(`node/promises: ${msg} (usage: node main.js N SLEEP_MS)\n`);
  process.exit(2);
}

function count(name, text) {
  if (text === undefined || !/^[0-9]+$/.test(text)) {
    fail(`${name} '${text ?? ''}' is not a non-negative integer`);
  }
  return Number(text);
}

async function runTasks(numTasks, ms) {
  const start = process.hrtime.bigint();
  const tasks = [];
  for (let i = 0; i < numTasks; i++) {
    tasks.push(delay(ms));
  }
  const spawnMs = (process.hrtime.bigint() - start) / 1000000n;
  await Promise.all(tasks);
  return spawnMs;
}

const args = process.argv.slice(2);
if (args.length !== 2) fail(`expected 2 arguments, got ${args.length}`);
const n = count('N', args[0]);
const ms = count('SLEEP_MS', args[1]);
runTasks(n, ms).then((spawnMs) => console.log(`done ${n} spawn_ms=${spawnMs}`));
