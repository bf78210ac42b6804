// The Worker's entry module: every request is served by the Go program
// build/app.wasm (this directory's Go main, built with GOOS=js GOARCH=wasm)
// through cfworker.mjs, from transports/cfworker, and Go's wasm_exec.js,
// from $(go env GOROOT)/lib/wasm, copied beside them into build/.
import { serve } from "./build/cfworker.mjs";
import program from "./build/app.wasm";

export default {
  fetch(request, env, ctx) {
    return serve(program, request, env, ctx);
  },
};
