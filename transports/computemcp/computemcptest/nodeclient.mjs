// An MCP client written against the official TypeScript SDK
// (@modelcontextprotocol/sdk), driving an endpoint of computemw the way an
// agent framework does. Its argument is a JSON job {url, token}; it prints
// one JSON summary line on stdout, and exits non-zero with summary.error
// set when anything goes wrong.
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const sdk = process.env.MCP_SDK;
const load = (p) => import(pathToFileURL(path.join(sdk, 'dist', 'esm', p)).href);
const { Client } = await load('client/index.js');
const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');

const job = JSON.parse(process.argv[2]);
const summary = {unauthorized: null, challenge: '', tools: [], output: '', streamed: '', progressTokens: 0,
  kept: '', badArgCode: '', tooLargeCode: '', error: ''};
let phase = 'unauthorized';
const timer = setTimeout(() => { summary.error = phase + ': timed out'; finish(); }, job.timeoutMs);
function finish() {
  clearTimeout(timer);
  if (summary.error) process.exitCode = 1;
  process.stdout.write(JSON.stringify(summary) + '\n');
}

try {
  if (job.token) {
    // Without the token: the 401 and its challenge, as an MCP client
    // sees them before it looks for an authorization server.
    const resp = await fetch(job.url, {method: 'POST',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json, text/event-stream'},
      body: JSON.stringify({jsonrpc: '2.0', id: 1, method: 'initialize', params: {protocolVersion: '2025-06-18',
        capabilities: {}, clientInfo: {name: 'node', version: '1'}}})});
    summary.unauthorized = resp.status;
    summary.challenge = resp.headers.get('www-authenticate') || '';
    await resp.text();
  }
  phase = 'initialize';
  const headers = job.token ? {Authorization: 'Bearer ' + job.token} : {};
  const transport = new StreamableHTTPClientTransport(new URL(job.url), {requestInit: {headers}});
  const client = new Client({name: 'computemw-node-test', version: '1.0.0'});
  await client.connect(transport);

  phase = 'tools/list';
  summary.tools = (await client.listTools()).tools.map((t) => t.name).sort();

  phase = 'run_code';
  const res = await client.callTool({name: 'run_code', arguments: {language: 'python', code: 'print(6*7)'}}, undefined,
    {onprogress: (p) => { summary.progressTokens++; summary.streamed += p.message || ''; }});
  if (res.isError) throw new Error('run_code: ' + JSON.stringify(res.structuredContent));
  summary.output = res.structuredContent.stdout;

  phase = 'sandbox';
  const open = await client.callTool({name: 'open_sandbox', arguments: {}});
  if (open.isError) throw new Error('open_sandbox: ' + JSON.stringify(open.structuredContent));
  await client.callTool({name: 'write_file', arguments: {path: 'from-node.txt', content: 'node was here'}});
  const read = await client.callTool({name: 'run_code', arguments: {language: 'python', code: "print(open('from-node.txt').read())"}});
  summary.kept = read.structuredContent.stdout;
  await client.callTool({name: 'close_sandbox', arguments: {}});

  phase = 'bad input';
  const bad = await client.callTool({name: 'run_command', arguments: {command: 'true', shell: 'zsh'}});
  summary.badArgCode = bad.isError ? bad.structuredContent.code : '';
  const big = await client.callTool({name: 'run_code', arguments: {language: 'python', code: '#' + 'x'.repeat(300 * 1024)}});
  summary.tooLargeCode = big.isError ? big.structuredContent.code : '';

  phase = 'close';
  await transport.terminateSession();
  await client.close();
} catch (e) {
  summary.error = phase + ': ' + (e && e.stack ? e.stack : String(e));
}
finish();
