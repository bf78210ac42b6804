// The code context driver for JavaScript (Node.js): it keeps one V8
// context alive and runs the code it is sent in it, one execution at a
// time. Same protocol as python.py: a JSON object per line on the socket
// that is its standard input; display, error and done answers; the marker
// (its first argument) written to standard output and standard error
// before done; SIGINT stops the running code and is ignored otherwise.
'use strict';
const fs = require('fs');
const net = require('net');
const readline = require('readline');
const util = require('util');
const vm = require('vm');

const marker = process.argv[process.argv.length - 1];
const ctl = new net.Socket({ fd: 0, readable: true, writable: true });
const send = (obj) => ctl.write(JSON.stringify(obj) + '\n');
process.on('SIGINT', () => {});

function bundle(value) {
  const data = { 'text/plain': util.inspect(value) };
  if (value !== null && typeof value === 'object') {
    try {
      data['application/json'] = JSON.stringify(value);
    } catch (e) {}
  }
  return data;
}

const sandbox = {
  console, process, Buffer, URL, URLSearchParams, TextEncoder, TextDecoder,
  setTimeout, setInterval, setImmediate, clearTimeout, clearInterval, clearImmediate,
  require, module, exports: module.exports, __filename: 'main.js', __dirname: process.cwd(),
  display: (...values) => { for (const v of values) send({ type: 'display', data: bundle(v), main: false }); },
};
sandbox.globalThis = sandbox;
const context = vm.createContext(sandbox);

async function run(code, n) {
  try {
    let value = new vm.Script(code, { filename: `<cell-${n}>` }).runInContext(context, { breakOnSigint: true, displayErrors: false });
    if (value && typeof value.then === 'function') value = await value;
    if (value !== undefined) send({ type: 'display', data: bundle(value), main: true });
  } catch (e) {
    // An error of the context's realm is no instance of this one's Error.
    const err = e !== null && typeof e === 'object' && 'stack' in e ? e : new Error(String(e));
    let name = err.name;
    if (err.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') name = 'Interrupted';
    // The stack as far as the cell's code goes, without the driver's frames.
    const stack = String(err.stack || err).split('\n').filter((l) => !/\[eval\]|node:internal|\(vm\.js|node:vm/.test(l)).join('\n');
    send({ type: 'error', name, value: err.message, traceback: stack });
  } finally {
    for (const fd of [1, 2]) {
      try { fs.writeSync(fd, marker); } catch (e) {}
    }
    send({ type: 'done' });
  }
}

let n = 0;
let queue = Promise.resolve();
readline.createInterface({ input: ctl }).on('line', (line) => {
  let req;
  try { req = JSON.parse(line); } catch (e) { return; }
  n += 1;
  const k = n;
  queue = queue.then(() => run(String(req.code || ''), k));
});
ctl.on('end', () => process.exit(0));
send({ type: 'ready' });
