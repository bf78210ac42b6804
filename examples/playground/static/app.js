// The playground page: it speaks only the kit's public contract —
// GET /api/languages, the session routes /api/sandboxes..., and the
// WebSocket protocol of /api/ws, attached to the page's session sandbox so
// that programs, the terminal and the file explorer share one workspace.
"use strict";

const API = "/api";
const $ = (id) => document.getElementById(id);

const samples = {
  python: 'import time\n\nfor i in range(5):\n    print("tick", i, flush=True)\n    time.sleep(0.5)\nname = input("your name? ")\nprint("hello,", name)\n',
  node: 'let i = 0;\nconst t = setInterval(() => {\n    console.log("tick", i++);\n    if (i === 5) clearInterval(t);\n}, 500);\n',
  bash: 'for i in 1 2 3 4 5; do\n    echo "tick $i"\n    sleep 0.5\ndone\n',
  sh: 'for i in 1 2 3 4 5; do\n    echo "tick $i"\n    sleep 0.5\ndone\n',
  ruby: '5.times do |i|\n    puts "tick #{i}"\n    $stdout.flush\n    sleep 0.5\nend\n',
  perl: '$| = 1;\nfor my $i (0..4) {\n    print "tick $i\\n";\n    sleep 1;\n}\n',
  php: '<?php\nfor ($i = 0; $i < 5; $i++) {\n    echo "tick $i\\n";\n    flush();\n    usleep(500000);\n}\n',
};

// The token lives in this tab's sessionStorage only: it is gone when the
// tab closes, and other tabs and later visits never see it. Earlier
// versions kept it in localStorage: drop what they left there.
localStorage.removeItem("playground-token");

const state = {
  token: sessionStorage.getItem("playground-token") || "",
  runtimes: [],
  sandboxId: "",
  ws: null,
  ready: false,
  running: false,
  term: null,
  fit: null,
  cwd: ".",
  openPath: "",
  codeTouched: false,
  stopped: "", // the error code that ended the last run, if any
  context: null, // the code context of "Keep state": {id, language}
  pendingRun: "", // code waiting for its context to be ready
  keepalive: 0,
};

// ---- HTTP -------------------------------------------------------------

function authHeaders() {
  if (!state.token) return {};
  // A JWT (three dot-separated parts) is a bearer token, anything else an API key.
  return state.token.split(".").length === 3
    ? { Authorization: "Bearer " + state.token }
    : { "X-API-Key": state.token };
}

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || "HTTP " + status);
    this.status = status;
    this.code = (body && body.code) || "";
    this.details = body && body.details;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: authHeaders() };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(API + path, opts);
  if (resp.status === 204) return null;
  const ctype = resp.headers.get("Content-Type") || "";
  if (!resp.ok) {
    const err = new APIError(resp.status, ctype.includes("json") ? await resp.json() : null);
    if (resp.status === 401) needToken(err.message);
    throw err;
  }
  return ctype.includes("json") ? resp.json() : resp;
}

function files(body) {
  return api("POST", "/sandboxes/" + encodeURIComponent(state.sandboxId) + "/files", body);
}

// ---- status and errors -----------------------------------------------

function setStatus(text) { $("status").textContent = text; }

function banner(text, isError) {
  const b = $("banner");
  b.textContent = text;
  b.className = "banner" + (isError ? " error" : "");
  b.hidden = !text;
}

function needToken(message) {
  banner("This server requires a token: paste it in the Token field above and press Use. (" + message + ")", true);
  $("token").focus();
}

// describe turns an error code into what a person expects to read.
function describe(code, message) {
  switch (code) {
  case "TIMEOUT": return ["Time limit exceeded", "The program ran longer than the server allows and was stopped. Output so far is below."];
  case "RESOURCE_ERROR": return ["Out of memory or another resource limit", message + ". The program used more memory, processes, disk or output than allowed and was stopped. Output so far is below."];
  case "BAD_REQUEST": return ["Bad request", message];
  case "EXECUTION_ERROR":
    // The compiler's report follows the first line, one error a line.
    if (message.startsWith("compilation failed")) {
      const nl = message.indexOf("\n");
      return ["Compilation failed", nl < 0 ? message : message.slice(nl + 1)];
    }
    return ["Could not run the program", message];
  case "UNAUTHORIZED": return ["Not signed in", message + ": paste a token in the Token field."];
  case "FORBIDDEN": return ["Not allowed", message];
  case "RATE_LIMITED": return ["Too many requests", message + ". Wait a moment and try again."];
  case "QUOTA_EXCEEDED": return ["Quota used up", message];
  case "UNAVAILABLE": return ["Server busy", message + ". Try again shortly."];
  default: return ["Error (" + (code || "unknown") + ")", message];
  }
}

function showRunError(code, message) {
  const [title, text] = describe(code, message);
  const el = $("run-error");
  el.dataset.code = code || "";
  el.innerHTML = "";
  const strong = document.createElement("strong");
  strong.textContent = title;
  // A <pre>, so that a compiler's report keeps its lines.
  const pre = document.createElement("pre");
  pre.textContent = text;
  el.append(strong, pre);
  el.hidden = false;
}

function append(text, cls) {
  const out = $("output");
  const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
  const span = document.createElement("span");
  if (cls) span.className = cls;
  span.textContent = text;
  out.appendChild(span);
  if (atEnd) out.scrollTop = out.scrollHeight;
}

// ---- languages --------------------------------------------------------

async function loadLanguages() {
  const body = await api("GET", "/languages");
  const prov = body.providers.find((p) => p.provider === body.defaultProvider) || body.providers[0];
  state.runtimes = prov ? prov.runtimes : [];
  const sel = $("language");
  sel.innerHTML = "";
  for (const rt of state.runtimes) {
    const opt = document.createElement("option");
    opt.value = rt.name;
    opt.textContent = rt.name + (rt.version ? " — " + rt.version : "");
    opt.title = [rt.name, ...rt.aliases].join(", ") + (rt.extension ? " (" + rt.extension + ")" : "");
    sel.appendChild(opt);
  }
  const saved = localStorage.getItem("playground-language");
  const pick = [saved, "python", "node", "bash"].find((n) => n && state.runtimes.some((r) => r.name === n));
  if (pick) sel.value = pick;
  sel.disabled = state.runtimes.length === 0;
  if (prov && prov.error) banner("The server could not list versions: " + prov.error, false);
  languageChanged();
}

function languageChanged() {
  const lang = $("language").value;
  localStorage.setItem("playground-language", lang);
  if (!state.codeTouched && samples[lang]) $("code").value = samples[lang];
}

// ---- session and WebSocket ----------------------------------------------

async function startSession() {
  const info = await api("POST", "/sandboxes", { language: $("language").value || undefined, metadata: { from: "playground" } });
  state.sandboxId = info.sandboxId;
  clearInterval(state.keepalive);
  state.keepalive = setInterval(() => {
    api("POST", "/sandboxes/" + state.sandboxId + "/keepalive").catch(sessionLost);
  }, 60000);
}

function sessionLost(err) {
  if (err && err.status === 404) {
    setStatus("the sandbox expired: reload the page for a new one");
    setReady(false);
  }
}

function connect() {
  if (state.ws) state.ws.close();
  const url = new URL(API + "/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  // Never in the URL, which proxies and servers log: the token travels as
  // a WebSocket subprotocol, which the server takes out before it answers.
  const ws = new WebSocket(url, wsProtocols());
  state.ws = ws;
  ws.onopen = () => send({ type: "create-sandbox", sandboxId: state.sandboxId });
  ws.onclose = () => {
    if (state.ws !== ws) return;
    setReady(false);
    runEnded();
    setStatus("disconnected — reload the page to reconnect");
  };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
}

// wsProtocols are the subprotocols the page offers: "computemw", and the
// token (if any) as "computemw.token." and its UTF-8 in unpadded base64url,
// which only has the characters a subprotocol may hold.
function wsProtocols() {
  if (!state.token) return ["computemw"];
  let bin = "";
  for (const b of new TextEncoder().encode(state.token)) bin += String.fromCharCode(b);
  const enc = btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return ["computemw", "computemw.token." + enc];
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function onMessage(m) {
  switch (m.type) {
  case "sandbox-ready":
    setReady(true);
    setStatus("sandbox " + m.sandboxId + " on " + m.provider + " ready");
    break;
  case "output":
    append(m.data, m.stream === "stderr" ? "stderr" : "");
    break;
  case "execution-complete":
    if (state.stopped) {
      // The error said why it ended; the exit code is only the kill's.
      append("\n[stopped: " + describe(state.stopped, "")[0].toLowerCase() + "]\n", "meta");
    } else {
      append("\n[exited with code " + m.exitCode + "]\n", "meta");
      $("run-state").textContent = "exit code " + m.exitCode;
    }
    runEnded();
    refreshFiles();
    break;
  case "context-ready":
    if (!m.language) break; // a restart: same context, fresh state
    state.context = { id: m.contextId, language: m.language };
    if (state.pendingRun !== "") {
      const code = state.pendingRun;
      state.pendingRun = "";
      send({ type: "context-execute", contextId: m.contextId, code });
    }
    break;
  case "context-result":
    showResults(m);
    runEnded();
    refreshFiles();
    break;
  case "terminal-output":
    if (state.term) state.term.write(m.data);
    break;
  case "error":
    if (state.running) {
      showRunError(m.code, m.message);
      $("run-state").textContent = m.code;
      state.stopped = m.code;
      runEnded();
    } else {
      banner(describe(m.code, m.message).join(": "), true);
    }
    break;
  }
}

function setReady(ready) {
  state.ready = ready;
  $("run").disabled = !ready || state.running;
  $("term-open").disabled = !ready || !!state.term || !window.Terminal;
}

// ---- running programs ---------------------------------------------------

function run() {
  if (!state.ready || state.running) return;
  state.running = true;
  state.stopped = "";
  $("run").disabled = true;
  $("run-error").hidden = true;
  $("output").textContent = "";
  $("run-state").textContent = "running…";
  if ($("keep-state").checked) {
    runInContext($("language").value, $("code").value);
    return;
  }
  $("stdin-line").hidden = false;
  send({ type: "execute", language: $("language").value, code: $("code").value });
  const stdin = $("stdin").value;
  if (stdin) send({ type: "stdin", data: stdin.endsWith("\n") ? stdin : stdin + "\n" });
  $("stdin-input").focus();
}

function runEnded() {
  state.running = false;
  $("stdin-line").hidden = true;
  $("run").disabled = !state.ready;
  $("interrupt").hidden = true;
  state.pendingRun = "";
}

// ---- code contexts ("Keep state") ------------------------------------------

// runInContext runs code in the page's code context of language, made
// first (or again, for another language).
function runInContext(language, code) {
  $("interrupt").hidden = false;
  $("restart").hidden = false;
  if (state.context && state.context.language === language) {
    send({ type: "context-execute", contextId: state.context.id, code });
    return;
  }
  if (state.context) send({ type: "context-delete", contextId: state.context.id });
  state.context = null;
  state.pendingRun = code;
  send({ type: "context-create", language });
}

// showResults renders an execution's rich results: an image as an image,
// HTML in a sandboxed frame (its scripts never run in this page), JSON
// and text as text; then the exception with its traceback.
function showResults(m) {
  for (const r of m.results || []) {
    const d = r.data || {};
    const box = document.createElement("span");
    box.className = "rich" + (r.isMainResult ? " main" : "");
    if (d["image/png"]) {
      const img = document.createElement("img");
      img.src = "data:image/png;base64," + d["image/png"];
      img.alt = d["text/plain"] || "image";
      box.appendChild(img);
    } else if (d["text/html"]) {
      const frame = document.createElement("iframe");
      frame.setAttribute("sandbox", "");
      frame.srcdoc = d["text/html"];
      box.appendChild(frame);
    } else {
      const pre = document.createElement("pre");
      pre.textContent = d["application/json"] || d["text/plain"] || "";
      box.appendChild(pre);
    }
    $("output").appendChild(box);
  }
  if (m.executionError) {
    append(m.executionError.traceback || m.executionError.name + ": " + m.executionError.value, "stderr");
    $("run-state").textContent = m.executionError.name;
  } else {
    $("run-state").textContent = "done";
  }
}

// ---- terminal -----------------------------------------------------------

function openTerminal() {
  if (!window.Terminal || state.term) return;
  const term = new window.Terminal({ cursorBlink: true, fontSize: 13, convertEol: false });
  const Fit = window.FitAddon && (window.FitAddon.FitAddon || window.FitAddon);
  if (Fit) {
    state.fit = new Fit();
    term.loadAddon(state.fit);
  }
  term.open($("terminal"));
  if (state.fit) state.fit.fit();
  state.term = term;
  term.onData((data) => send({ type: "terminal-input", data }));
  term.onResize(({ cols, rows }) => send({ type: "terminal-resize", cols, rows }));
  send({ type: "terminal-start", cols: term.cols, rows: term.rows });
  $("term-open").disabled = true;
  term.focus();
}

window.addEventListener("resize", () => { if (state.fit) state.fit.fit(); });

// ---- file explorer ------------------------------------------------------

function join(dir, name) { return dir === "." ? name : dir + "/" + name; }

function parent(dir) {
  const i = dir.lastIndexOf("/");
  return i < 0 ? "." : dir.slice(0, i);
}

function humanSize(n) {
  if (n < 1024) return n + " B";
  if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB";
  return (n / (1 << 20)).toFixed(1) + " MiB";
}

async function refreshFiles() {
  if (!state.sandboxId) return;
  let body;
  try {
    body = await files({ action: "list", path: state.cwd });
  } catch (err) {
    if (err.status === 404 && state.cwd !== ".") {
      state.cwd = ".";
      return refreshFiles();
    }
    banner("Listing files: " + err.message, true);
    return;
  }
  $("cwd").textContent = state.cwd;
  const ul = $("files");
  ul.innerHTML = "";
  const entries = body.files.slice().sort((a, b) => (a.type === "directory") === (b.type === "directory")
    ? a.name.localeCompare(b.name) : a.type === "directory" ? -1 : 1);
  if (state.cwd !== ".") entries.unshift({ name: "..", type: "directory", up: true });
  for (const f of entries) {
    const li = document.createElement("li");
    li.className = f.type === "directory" ? "dir" : "file";
    li.dataset.name = f.name;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = f.name;
    li.appendChild(name);
    if (f.type === "file") {
      const size = document.createElement("span");
      size.className = "size";
      size.textContent = humanSize(f.size);
      li.appendChild(size);
    }
    li.onclick = () => {
      if (f.up) { state.cwd = parent(state.cwd); refreshFiles(); }
      else if (f.type === "directory") { state.cwd = join(state.cwd, f.name); refreshFiles(); }
      else openFile(join(state.cwd, f.name));
    };
    ul.appendChild(li);
  }
}

async function openFile(path) {
  try {
    const body = await files({ action: "read", path });
    state.openPath = path;
    $("file-name").textContent = path;
    const ta = $("file-text");
    if (body.encoding === "base64") {
      ta.value = "(binary file: use Download)";
      ta.readOnly = true;
    } else {
      ta.value = body.content;
      ta.readOnly = false;
    }
    $("file-pane").hidden = false;
  } catch (err) {
    banner(describe(err.code, err.message).join(": "), true);
  }
}

async function saveFile() {
  if (!state.openPath || $("file-text").readOnly) return;
  try {
    await files({ action: "write", path: state.openPath, content: $("file-text").value });
    setStatus("saved " + state.openPath);
    refreshFiles();
  } catch (err) {
    banner(describe(err.code, err.message).join(": "), true);
  }
}

async function downloadFile() {
  if (!state.openPath) return;
  try {
    const resp = await api("POST", "/sandboxes/" + encodeURIComponent(state.sandboxId) + "/files", { action: "download", path: state.openPath });
    const blob = await resp.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = state.openPath.split("/").pop();
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) {
    banner(describe(err.code, err.message).join(": "), true);
  }
}

async function deleteFile() {
  if (!state.openPath) return;
  try {
    await files({ action: "delete", path: state.openPath });
    closeFile();
    refreshFiles();
  } catch (err) {
    banner(describe(err.code, err.message).join(": "), true);
  }
}

function closeFile() {
  state.openPath = "";
  $("file-pane").hidden = true;
}

async function createEntry(ev) {
  ev.preventDefault();
  const name = $("new-name").value.trim();
  if (!name) return;
  const path = join(state.cwd, name.replace(/\/+$/, ""));
  try {
    if (name.endsWith("/")) {
      await files({ action: "mkdir", path });
    } else {
      await files({ action: "write", path, content: "" });
    }
    $("new-name").value = "";
    await refreshFiles();
    if (!name.endsWith("/")) openFile(path);
  } catch (err) {
    banner(describe(err.code, err.message).join(": "), true);
  }
}

function toBase64(buf) {
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

async function upload() {
  for (const file of $("upload").files) {
    try {
      await files({ action: "write", path: join(state.cwd, file.name), content: toBase64(await file.arrayBuffer()), encoding: "base64" });
    } catch (err) {
      banner("Uploading " + file.name + ": " + describe(err.code, err.message).join(": "), true);
    }
  }
  $("upload").value = "";
  refreshFiles();
}

// ---- the editor ---------------------------------------------------------

// editorKeys gives the textarea an editor's keys: Tab indents (the
// selected lines, or at the cursor), Shift+Tab dedents, Enter keeps the
// line's indentation, Ctrl/Cmd+Enter runs.
function editorKeys(ev) {
  const ta = ev.target;
  const indent = "    ";
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
    ev.preventDefault();
    run();
    return;
  }
  const { selectionStart: s, selectionEnd: e, value: v } = ta;
  if (ev.key === "Tab") {
    ev.preventDefault();
    const lineStart = v.lastIndexOf("\n", s - 1) + 1;
    if (s === e && !ev.shiftKey) {
      ta.setRangeText(indent, s, e, "end");
    } else {
      const block = v.slice(lineStart, e);
      const changed = ev.shiftKey
        ? block.replace(/^( {1,4}|\t)/gm, "")
        : block.replace(/^/gm, indent);
      ta.setRangeText(changed, lineStart, e, "select");
    }
    state.codeTouched = true;
  } else if (ev.key === "Enter" && !ev.shiftKey) {
    const lineStart = v.lastIndexOf("\n", s - 1) + 1;
    let lead = v.slice(lineStart, s).match(/^[ \t]*/)[0];
    if (/[:{[(]\s*$/.test(v.slice(lineStart, s))) lead += indent;
    ev.preventDefault();
    ta.setRangeText("\n" + lead, s, e, "end");
    state.codeTouched = true;
  }
}

// ---- start --------------------------------------------------------------

async function start() {
  $("token").value = state.token;
  if (!window.Terminal) $("term-missing").hidden = false;
  try {
    setStatus("loading languages…");
    await loadLanguages();
    setStatus("creating a sandbox…");
    await startSession();
    await refreshFiles();
    setStatus("connecting…");
    banner("");
    connect();
  } catch (err) {
    if (err.status !== 401) banner(describe(err.code, err.message).join(": "), true);
    setStatus("not connected");
  }
}

$("token-form").onsubmit = (ev) => {
  ev.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("playground-token", state.token);
  if (state.sandboxId) api("DELETE", "/sandboxes/" + state.sandboxId).catch(() => {});
  state.sandboxId = "";
  start();
};
$("language").onchange = languageChanged;
$("interrupt").addEventListener("click", () => {
  if (state.context) send({ type: "context-interrupt", contextId: state.context.id });
});
$("restart").addEventListener("click", () => {
  if (state.context) send({ type: "context-restart", contextId: state.context.id });
  $("output").textContent = "";
  $("run-state").textContent = "restarted";
});
$("code").addEventListener("keydown", editorKeys);
$("code").addEventListener("input", () => { state.codeTouched = true; });
$("run").onclick = run;
$("clear").onclick = () => { $("output").textContent = ""; $("run-error").hidden = true; $("run-state").textContent = ""; };
$("stdin-line").onsubmit = (ev) => {
  ev.preventDefault();
  send({ type: "stdin", data: $("stdin-input").value + "\n" });
  append($("stdin-input").value + "\n", "meta");
  $("stdin-input").value = "";
};
// Ending the input (the button, or Ctrl+D as in a terminal) lets a program
// that reads to the end of its input finish.
function endInput() {
  if (!state.running) return;
  const line = $("stdin-input").value;
  if (line) send({ type: "stdin", data: line });
  send({ type: "stdin-end" });
  append((line ? line : "") + "[end of input]\n", "meta");
  $("stdin-input").value = "";
  $("stdin-line").hidden = true;
}
$("stdin-end").onclick = endInput;
$("stdin-input").addEventListener("keydown", (ev) => {
  if (ev.key === "d" && ev.ctrlKey) { ev.preventDefault(); endInput(); }
});
$("term-open").onclick = openTerminal;
$("refresh").onclick = refreshFiles;
$("new-file").onsubmit = createEntry;
$("upload").onchange = upload;
$("file-save").onclick = saveFile;
$("file-download").onclick = downloadFile;
$("file-delete").onclick = deleteFile;
$("file-close").onclick = closeFile;
$("file-text").addEventListener("keydown", (ev) => {
  if (ev.key === "s" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); saveFile(); }
});
// The session sandbox goes with the page.
window.addEventListener("pagehide", () => {
  if (state.sandboxId) {
    fetch(API + "/sandboxes/" + state.sandboxId, { method: "DELETE", headers: authHeaders(), keepalive: true }).catch(() => {});
  }
});
start();
