// cfworker.mjs is the JavaScript half of the Go package
// github.com/computemw/kit/transports/cfworker: a Worker's module imports
// serve and calls it from its fetch handler with the Go program (built
// with GOOS=js GOARCH=wasm, imported as a WebAssembly module). Go's glue,
// wasm_exec.js from $(go env GOROOT)/lib/wasm, must be a module beside it.
//
//   import { serve } from "./cfworker.mjs";
//   import program from "./app.wasm";
//   export default { fetch: (request, env, ctx) => serve(program, request, env, ctx) };
//
// Each request runs a Go instance of its own: the program's environment
// (os.Getenv) is the Worker's env bindings that are strings (vars and
// secrets), and its cfworker.Serve answers the request. The instance
// lives on (ctx.waitUntil) until the program exits.
import "./wasm_exec.js";

// Requests waiting for their Go instance, by the id each instance is
// given as os.Args[1]; cfworker.Serve takes its own out.
const slots = new Map();
globalThis.__computemwWorker = slots;
let next = 0;

export async function serve(program, request, env, ctx) {
  const id = String(++next);
  const go = new Go();
  go.argv = ["worker", id];
  go.env = {};
  for (const [name, value] of Object.entries(env || {})) {
    if (typeof value === "string") {
      go.env[name] = value;
    }
  }
  const answered = new Promise((resolve) => slots.set(id, { request, resolve }));
  try {
    const instance = await WebAssembly.instantiate(program, go.importObject);
    const exited = go.run(instance).then(() => null);
    ctx.waitUntil(exited.finally(() => slots.delete(id)));
    const answer = await Promise.race([answered, exited]);
    if (answer === null) {
      return failure("the Worker's Go program exited without answering (see the Worker's log)");
    }
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  } catch (err) {
    slots.delete(id);
    console.error("cfworker:", err);
    return failure("the Worker's Go program failed (see the Worker's log)");
  }
}

function failure(message) {
  return new Response(JSON.stringify({ error: message, code: "UNAVAILABLE" }) + "\n", {
    status: 503,
    headers: { "Content-Type": "application/json" },
  });
}
