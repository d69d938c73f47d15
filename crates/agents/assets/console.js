// The agent console: sign-in, then one WebSocket that carries the queue, the conversations and
// every action. No framework, no inline script (the page's CSP allows only this file).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var ws = null, me = null, current = null, currentLang = "pl", canned = [], resolutions = [], colleagues = [];
  var lastTyping = 0, typingTimer = null, retry = 0, seen = {};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function mins(secs) { return secs < 60 ? secs + " s" : Math.floor(secs / 60) + " min " + (secs % 60) + " s"; }

  function showLogin() {
    $("login-view").hidden = false; $("console-view").hidden = true; $("logout").hidden = true;
    $("me").textContent = "";
    document.body.setAttribute("data-ready", "1");
  }

  function showConsole() {
    $("login-view").hidden = true; $("console-view").hidden = false; $("logout").hidden = false;
  }

  function send(frame) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/agent/ws";
    ws = new WebSocket(url);
    ws.onopen = function () { retry = 0; $("conn").className = "conn up"; };
    ws.onclose = function () {
      $("conn").className = "conn down";
      fetch("/agent/me", { credentials: "same-origin" }).then(function (r) {
        if (r.status === 401) { showLogin(); return; }
        retry = Math.min(retry + 1, 5);
        setTimeout(connect, 500 * retry);
      });
    };
    ws.onmessage = function (m) {
      var f; try { f = JSON.parse(m.data); } catch (e) { return; }
      handle(f);
    };
  }

  function handle(f) {
    switch (f.type) {
      case "hello":
        me = f.me; canned = f.canned; resolutions = f.resolutions; colleagues = f.colleagues;
        $("me").textContent = me.display_name + " (" + me.role + ", " + me.team + ")";
        fillSelects();
        showConsole();
        document.body.setAttribute("data-ready", "1");
        break;
      case "state": renderState(f); break;
      case "opened": renderConversation(f); break;
      case "resync":
        // The server dropped events for this page (it fell behind): reload the open conversation.
        if (current) send({ type: "open", conversation: current });
        break;
      case "line":
        if (f.conversation === current) addLine(f.line);
        $("customer-typing").hidden = true;
        break;
      case "customer_typing":
        if (f.conversation === current) {
          $("customer-typing").hidden = false;
          if (typingTimer) clearTimeout(typingTimer);
          typingTimer = setTimeout(function () { $("customer-typing").hidden = true; }, 4000);
        }
        break;
      case "ended":
        if (f.conversation === current) {
          current = null;
          $("conversation").hidden = true;
          var n = $("notice"); n.hidden = false;
          n.textContent = f.by_customer
            ? "Klient wrócił do bota · The customer went back to the bot."
            : "Rozmowa zakończona · Conversation closed.";
          n.setAttribute("data-ended", f.conversation);
        }
        break;
      case "transferred":
        if (f.conversation === current) { current = null; $("conversation").hidden = true; }
        break;
      case "error":
        var note = $("notice"); note.hidden = false;
        note.textContent = "Błąd · Error: " + f.code;
        note.setAttribute("data-error", f.code);
        break;
    }
  }

  function fillSelects() {
    var t = $("transfer-target"); clear(t);
    colleagues.forEach(function (c) {
      var o = el("option", null, "→ " + c.display_name + " (" + c.team + ")");
      o.value = "agent:" + c.username; t.appendChild(o);
    });
    ["general", "cards", "fraud"].forEach(function (team) {
      var o = el("option", null, "→ zespół · team " + team); o.value = "team:" + team; t.appendChild(o);
    });
    var r = $("close-resolution"); clear(r);
    resolutions.forEach(function (code) { var o = el("option", null, code); o.value = code; r.appendChild(o); });
  }

  function item(c, button, action) {
    var li = el("li", c.escalated ? "escalated" : "");
    li.setAttribute("data-id", c.id);
    if (c.id === current) li.className += " current";
    var label = el("span", null, c.customer_ref + " · " + c.reason + " · " + c.lang + " · " + c.team + " · " + mins(c.waiting_secs));
    li.appendChild(label);
    if (c.escalated) li.appendChild(el("span", "sla", "SLA!"));
    var b = el("button", action, button);
    b.type = "button";
    b.addEventListener("click", function () {
      $("notice").hidden = true;
      send({ type: action === "claim" ? "claim" : "open", conversation: c.id });
    });
    li.appendChild(b);
    return li;
  }

  function renderState(f) {
    var q = $("queue"); clear(q);
    f.queue.forEach(function (c) { var li = item(c, "Przejmij · Claim", "claim"); li.className += " queue-item"; q.appendChild(li); });
    $("queue-count").textContent = "(" + f.queue.length + ")";
    var m = $("mine"); clear(m);
    f.mine.forEach(function (c) { var li = item(c, "Otwórz · Open", "open"); li.className += " mine-item"; m.appendChild(li); });
    if (f.supervisor) {
      $("supervisor").hidden = false;
      var body = $("supervisor-body"); clear(body);
      var s = f.supervisor;
      var table = el("table"); table.id = "supervisor-teams";
      var h = el("tr"); ["Zespół · Team", "Czeka · Waiting", "Najdłużej · Longest", "SLA"].forEach(function (x) { h.appendChild(el("th", null, x)); });
      table.appendChild(h);
      s.teams.forEach(function (t) {
        var tr = el("tr", t.escalated ? "escalated" : "");
        [t.team, t.waiting, mins(t.longest_wait_secs), t.escalated].forEach(function (x) { tr.appendChild(el("td", null, String(x))); });
        table.appendChild(tr);
      });
      body.appendChild(table);
      var agents = el("ul", "list");
      s.agents.forEach(function (a) { agents.appendChild(el("li", null, a.display_name + ": " + a.active)); });
      body.appendChild(agents);
      body.appendChild(el("p", null, "Offline: " + s.offline + " · Zamknięte (24 h) · Closed: " + s.closed_today +
        " · CSAT: " + (s.csat_average === null ? "–" : s.csat_average.toFixed(2))));
    }
  }

  function addLine(l) {
    // A line can arrive twice (in the transcript that opens a conversation and live): show it once.
    if (seen[l.seq]) return;
    seen[l.seq] = true;
    var kind = l.note ? "note" : l.sender.kind;
    var li = el("li", "line " + kind);
    var who = l.note ? "notatka · note" : ({ customer: "klient · customer", bot: "bot", system: "system", agent: "konsultant · agent" })[l.sender.kind];
    li.appendChild(el("span", "who", who));
    li.appendChild(document.createTextNode(l.text));
    $("transcript").appendChild(li);
    $("transcript").scrollTop = $("transcript").scrollHeight;
  }

  var FIELDS = { amount: "kwota · amount", recipient: "odbiorca · recipient" };
  function renderSummary(s) {
    var box = $("summary"); clear(box);
    if (!s) return;
    var ul = el("ul");
    var intents = el("li", "summary-intents", "Ostatnie intencje · Recent intents: " + (s.intents.length ? s.intents.join(", ") : "—"));
    ul.appendChild(intents);
    if (s.form) {
      var txt = "Otwarty formularz · Open form: " + (s.form.kind === "transfer" ? "przelew · transfer" : s.form.kind) +
        " — podane · filled: " + (s.form.filled.map(function (x) { return FIELDS[x] || x; }).join(", ") || "—") +
        "; brak · missing: " + (s.form.missing.map(function (x) { return FIELDS[x] || x; }).join(", ") || "—") +
        (s.form.awaiting_confirmation ? " (czeka na potwierdzenie · awaiting confirmation)" : "");
      ul.appendChild(el("li", "summary-form", txt));
    }
    s.cases.forEach(function (c) {
      ul.appendChild(el("li", "summary-case", "Sprawa oszustwa · Fraud case " + c.reference +
        " · otwarta · opened " + new Date(c.opened_at).toLocaleString() +
        " · zablokowane karty · cards blocked: " + c.cards_blocked));
    });
    box.appendChild(ul);
  }

  function renderConversation(f) {
    var c = f.conversation;
    current = c.id; currentLang = c.lang;
    $("conversation").hidden = false; $("conversation").setAttribute("data-id", c.id);
    $("notice").hidden = true;
    $("conv-header").textContent = "Klient · Customer " + c.customer_ref + " · " + c.reason + " · " + c.lang +
      " · czekał · waited " + mins(c.waiting_secs);
    renderSummary(f.summary);
    var d = $("customer-data"); clear(d);
    if (f.customer.accounts === null || f.customer.accounts.length === 0) {
      d.appendChild(el("p", null, "Brak połączonego banku lub zgody · No linked bank or consent"));
    } else {
      var t = el("table");
      f.customer.accounts.forEach(function (a) {
        var tr = el("tr"); [a.name, a.iban_masked, a.balances.join(" / ")].forEach(function (x) { tr.appendChild(el("td", null, x)); });
        t.appendChild(tr);
      });
      d.appendChild(t);
      if (f.customer.transactions) {
        var tt = el("table");
        f.customer.transactions.forEach(function (x) {
          var tr = el("tr"); [x.date, x.description, x.amount].forEach(function (v) { tr.appendChild(el("td", null, v)); });
          tt.appendChild(tr);
        });
        d.appendChild(tt);
      }
    }
    clear($("transcript"));
    seen = {};
    f.transcript.forEach(addLine);
    var cn = $("canned"); clear(cn);
    canned.forEach(function (k) {
      var b = el("button", null, k.id); b.type = "button";
      b.addEventListener("click", function () { $("reply-input").value = currentLang === "en" ? k.en : k.pl; $("reply-input").focus(); });
      cn.appendChild(b);
    });
    document.querySelectorAll(".list li").forEach(function (li) {
      li.classList.toggle("current", li.getAttribute("data-id") === current);
    });
  }

  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("login-error").hidden = true;
    fetch("/agent/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("login-username").value, password: $("login-password").value })
    }).then(function (r) {
      if (r.ok) { $("login-password").value = ""; connect(); }
      else $("login-error").hidden = false;
    });
  });

  $("logout").addEventListener("click", function () {
    fetch("/agent/logout", { method: "POST", credentials: "same-origin" }).then(function () {
      if (ws) { ws.onclose = null; ws.close(); }
      showLogin();
    });
  });

  $("reply-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("reply-input").value.trim();
    if (!text || !current) return;
    send({ type: $("reply-note").checked ? "note" : "reply", conversation: current, text: text });
    $("reply-input").value = "";
  });

  $("reply-input").addEventListener("input", function () {
    var now = Date.now();
    if (current && !$("reply-note").checked && now - lastTyping > 2000) {
      lastTyping = now;
      send({ type: "typing", conversation: current });
    }
  });

  $("transfer-btn").addEventListener("click", function () {
    if (!current) return;
    var v = $("transfer-target").value.split(":");
    send({ type: "transfer", conversation: current, target: { kind: v[0], to: v.slice(1).join(":") } });
  });

  $("close-btn").addEventListener("click", function () {
    if (!current) return;
    send({ type: "close", conversation: current, resolution: $("close-resolution").value });
  });

  fetch("/agent/me", { credentials: "same-origin" }).then(function (r) {
    if (r.ok) connect(); else showLogin();
  });
})();
