# workerd config of the starter: after the build (see main.go), run
#   workerd serve examples/cfworker/config.capnp
# and call http://127.0.0.1:8787/api/execute. Replace the placeholder
# secrets first (never commit real ones).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "build/cfworker.mjs", esModule = embed "build/cfworker.mjs"),
    (name = "build/wasm_exec.js", esModule = embed "build/wasm_exec.js"),
    (name = "build/app.wasm", wasm = embed "build/app.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  bindings = [
    (name = "E2B_API_KEY", text = "e2b_replace_me"),
    (name = "COMPUTEMW_JWT_SECRET", text = "replace-me-with-at-least-32-random-bytes"),
  ],
);
