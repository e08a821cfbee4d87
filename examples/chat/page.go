package main

// page is the chat's HTML page, served at GET /. Its script joins the
// room at /ws?name=NAME on the same host and port, sends what is typed,
// and lists what arrives (as text: nothing a peer sends becomes markup).
//
// For tests and demos, /?auto=NAME&say=TEXT joins as NAME at once and
// says TEXT as soon as the connection is open. The page marks its state
// on <body data-state="...">: "connecting", "open", "closed".
var page = []byte(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mill chat</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
#log { list-style: none; padding: 0; border: 1px solid #ccc; height: 24rem; overflow-y: auto; }
#log li { padding: .2rem .5rem; }
#log li.event { color: #777; font-style: italic; }
#log .name { font-weight: 600; margin-right: .4rem; }
form { display: flex; gap: .5rem; margin: .5rem 0; }
form input[type=text] { flex: 1; }
#status { color: #777; }
</style>
</head>
<body data-state="idle">
<h1>mill chat</h1>
<form id="join">
  <input id="name" type="text" placeholder="your name" maxlength="32" autocomplete="nickname" required>
  <button>Join</button>
</form>
<ul id="log"></ul>
<form id="say">
  <input id="text" type="text" placeholder="say something" maxlength="4096" autocomplete="off" disabled>
  <button id="send" disabled>Send</button>
</form>
<p id="status">not connected</p>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const log = $("log");
let ws = null;

function show(m) {
  const li = document.createElement("li");
  const who = document.createElement("span");
  who.className = "name";
  who.textContent = m.name;
  li.append(who);
  if (m.event) {
    li.className = "event";
    li.append(m.event === "join" ? "joined" : "left");
  } else {
    li.className = "message";
    li.append(m.text);
  }
  li.dataset.name = m.name;
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

function state(s, text) {
  document.body.dataset.state = s;
  $("status").textContent = text;
  const open = s === "open";
  $("text").disabled = !open;
  $("send").disabled = !open;
}

function join(name, say) {
  if (ws) ws.close(1000);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  ws = new WebSocket(scheme + location.host + "/ws?name=" + encodeURIComponent(name));
  state("connecting", "connecting…");
  ws.onopen = () => {
    state("open", "connected as " + name);
    if (say) send(say);
  };
  ws.onmessage = (e) => {
    try { show(JSON.parse(e.data)); } catch (err) { console.log("bad message", e.data); }
  };
  ws.onclose = (e) => {
    state("closed", "disconnected (" + e.code + (e.reason ? ": " + e.reason : "") + ")");
    ws = null;
  };
}

function send(text) {
  if (ws && ws.readyState === WebSocket.OPEN && text.trim() !== "") {
    ws.send(JSON.stringify({ text: text }));
  }
}

$("join").onsubmit = (e) => {
  e.preventDefault();
  join($("name").value.trim());
  $("text").focus();
};
$("say").onsubmit = (e) => {
  e.preventDefault();
  send($("text").value);
  $("text").value = "";
};

const q = new URLSearchParams(location.search);
if (q.has("auto")) {
  $("name").value = q.get("auto");
  join(q.get("auto"), q.get("say"));
}
</script>
</body>
</html>
`)
