// The chat page: send messages (idempotent client ids), poll for the agent's reply.
// Every piece of text is inserted with textContent, never as HTML.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  if (!chat) { return; }
  var csrf = chat.dataset.csrf;
  var last = parseInt(chat.dataset.last || "0", 10);
  var list = document.getElementById("messages");
  var form = document.getElementById("composer");
  var text = document.getElementById("text");
  var send = document.getElementById("send");
  var statusLine = document.getElementById("status");
  var retry = document.getElementById("retry");
  var stopForm = document.getElementById("stop-form");
  var polling = null;

  function newId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function setBusy(busy, message) {
    text.disabled = busy;
    send.disabled = busy;
    statusLine.textContent = message || "";
  }

  function append(m) {
    if (m.seq <= last) { return; }
    var item = document.createElement("li");
    item.className = "msg " + (m.role === "user" ? "user" : "assistant");
    item.dataset.seq = String(m.seq);
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = m.role === "user" ? "You" : "Agent";
    var body = document.createElement("div");
    body.className = "text";
    body.textContent = m.text;
    item.appendChild(who);
    item.appendChild(body);
    list.appendChild(item);
    last = m.seq;
    item.scrollIntoView({block: "end"});
  }

  function post(url, fields) {
    var body = new URLSearchParams(fields);
    body.set("csrf", csrf);
    return fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf},
      body: body.toString(),
      credentials: "same-origin"
    });
  }

  function poll() {
    fetch("/chat/messages?after=" + last, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        (data.messages || []).forEach(append);
        if (data.redirect) { window.location.assign(data.redirect); return; }
        if (data.agent_status === "pending") {
          setBusy(true, "The agent is typing…");
          retry.hidden = true;
          schedule(800);
        } else if (data.agent_status === "error") {
          setBusy(false, "The agent could not answer. Please try again.");
          retry.hidden = false;
        } else {
          setBusy(false, "");
          retry.hidden = true;
          text.focus();
        }
      })
      .catch(function () { schedule(2000); });
  }

  function schedule(ms) {
    if (polling) { window.clearTimeout(polling); }
    polling = window.setTimeout(poll, ms);
  }

  function submit(value, clientId, attempt) {
    return post("/chat/message", {text: value, client_id: clientId})
      .then(function (r) { return r.json().then(function (d) { return {status: r.status, data: d}; }); })
      .then(function (res) {
        if (res.data.redirect) { window.location.assign(res.data.redirect); return; }
        if (res.status !== 200) {
          setBusy(false, res.data.error || "Please try again.");
          text.value = value;
          return;
        }
        schedule(0);
      })
      .catch(function () {
        if (attempt < 3) {  // same client id: the server stores the message once
          window.setTimeout(function () { submit(value, clientId, attempt + 1); }, 1000 * attempt);
        } else {
          setBusy(false, "Connection problem. Please try again.");
          text.value = value;
        }
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = text.value.trim();
    if (!value) { return; }
    text.value = "";
    setBusy(true, "Sending…");
    submit(value, newId(), 1);
  });

  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  retry.addEventListener("click", function () {
    retry.hidden = true;
    post("/chat/retry", {}).then(function () { schedule(0); });
  });

  stopForm.addEventListener("submit", function () {
    document.getElementById("stop-client-id").value = newId();
  });

  if (chat.dataset.status !== "idle") { schedule(0); } else { setBusy(false, ""); }
})();
