// Okienko web chat: plain JavaScript, no dependencies.
//
// Renders the conversation's replies with DOM methods only (textContent, never innerHTML), so
// nothing the bank or a customer writes can become markup. Speaks the JSON protocol on /ws:
// hello (with the stored session token and last seen seq), message, quick_reply.
(function () {
  "use strict";

  var STRINGS = {
    pl: {
      title: "Okienko — czat z bankiem",
      placeholder: "Napisz wiadomość…",
      inputLabel: "Twoja wiadomość",
      send: "Wyślij",
      connecting: "Łączenie…",
      online: "Połączono",
      offline: "Brak połączenia — ponawiam…",
      more: "Więcej",
      total: "Razem",
      booked: "Saldo księgowe",
      pending: "oczekująca",
      typing: "Bank pisze…",
      hint: "Zapytaj na przykład: „ile mam na koncie?”",
      conversation: "Rozmowa",
      linkBlocked: "(link zablokowany)",
      shown: "Pozycje {from}–{to} z {total}"
    },
    en: {
      title: "Okienko — chat with your bank",
      placeholder: "Type a message…",
      inputLabel: "Your message",
      send: "Send",
      connecting: "Connecting…",
      online: "Connected",
      offline: "Offline — reconnecting…",
      more: "More",
      total: "Total",
      booked: "Booked",
      pending: "pending",
      typing: "The bank is typing…",
      hint: "Try asking: “what's my balance?”",
      conversation: "Conversation",
      linkBlocked: "(link blocked)",
      shown: "Items {from}–{to} of {total}"
    }
  };

  var KEY_TOKEN = "okienko.session";
  var KEY_SEEN = "okienko.last_seen";
  var KEY_LANG = "okienko.lang";

  var store = {
    get: function (k) {
      try { return window.localStorage.getItem(k); } catch (e) { return null; }
    },
    set: function (k, v) {
      try { window.localStorage.setItem(k, v); } catch (e) { /* private mode: session lasts the tab */ }
    }
  };

  function normLang(s) {
    if (!s) return null;
    s = String(s).toLowerCase();
    if (s.indexOf("pl") === 0) return "pl";
    if (s.indexOf("en") === 0) return "en";
    return null;
  }

  // The language the customer chose (link parameter or toggle) is remembered, so coming back
  // from the bank's page keeps it; otherwise the browser's language decides.
  function initialLang() {
    var q = normLang(new URLSearchParams(window.location.search).get("lang"));
    if (q) { store.set(KEY_LANG, q); return q; }
    var kept = normLang(store.get(KEY_LANG));
    if (kept) return kept;
    return normLang(navigator.language) === "pl" ? "pl" : "en";
  }

  var lang = initialLang();
  var token = store.get(KEY_TOKEN);
  var lastSeen = parseInt(store.get(KEY_SEEN) || "0", 10) || 0;
  var ws = null;
  var welcomed = false;
  var attempt = 0;
  var reconnectTimer = null;
  var typingTimer = null;
  var pending = [];

  var $ = function (id) { return document.getElementById(id); };
  var messages, input, form, connState, typing;

  function t(key) { return STRINGS[lang][key] || STRINGS.en[key] || key; }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- UI language -------------------------------------------------------------------------

  function applyLang() {
    document.documentElement.lang = lang;
    document.title = t("title");
    document.querySelectorAll("[data-i18n]").forEach(function (n) {
      n.textContent = t(n.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (n) {
      n.setAttribute("placeholder", t(n.getAttribute("data-i18n-placeholder")));
    });
    document.querySelectorAll("[data-i18n-aria]").forEach(function (n) {
      n.setAttribute("aria-label", t(n.getAttribute("data-i18n-aria")));
    });
    document.querySelectorAll(".lang-btn").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-lang") === lang ? "true" : "false");
    });
    document.querySelectorAll(".more-button").forEach(function (b) { b.textContent = t("more"); });
    setState(connState.getAttribute("data-state"));
  }

  function setLang(next) {
    if (next === lang || !STRINGS[next]) return;
    lang = next;
    store.set(KEY_LANG, lang);
    var url = new URL(window.location.href);
    url.searchParams.set("lang", lang);
    window.history.replaceState(null, "", url.toString());
    applyLang();
    // The language travels in hello: reconnect so the conversation hears it.
    if (ws) { attempt = 0; ws.close(); }
  }

  function setState(state) {
    connState.setAttribute("data-state", state);
    connState.textContent = t(state);
  }

  // ---- the message list ----------------------------------------------------------------------

  function append(node) {
    var hint = $("empty-hint");
    if (hint) hint.remove();
    messages.appendChild(node);
    messages.scrollTop = messages.scrollHeight;
  }

  function showMine(text) {
    append(el("div", "msg me", text));
  }

  function showSystem(text) {
    append(el("div", "msg system", text));
  }

  function showTyping(on) {
    typing.hidden = !on;
    if (typingTimer) { clearTimeout(typingTimer); typingTimer = null; }
    if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, 20000);
  }

  function safeHref(url) {
    try {
      var u = new URL(String(url), window.location.href);
      return (u.protocol === "https:" || u.protocol === "http:") ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function renderText(part) {
    return el("p", "part-text", part.text);
  }

  function renderLink(part) {
    var href = safeHref(part.url);
    if (!href) {
      var span = el("p", "part-text");
      span.appendChild(el("span", null, part.label + " "));
      span.appendChild(el("span", "blocked", t("linkBlocked")));
      return span;
    }
    var p = el("p", "part-link");
    var a = el("a", "bank-link", part.label || href);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    p.appendChild(a);
    return p;
  }

  function renderBalanceCard(part) {
    var wrap = el("section", "balance-group");
    if (part.title) wrap.appendChild(el("h3", "part-title", part.title));
    (part.accounts || []).forEach(function (acc) {
      var card = el("div", "balance-card");
      var head = el("div", "balance-head");
      head.appendChild(el("span", "balance-name", acc.name));
      head.appendChild(el("span", "balance-iban", acc.iban_masked));
      card.appendChild(head);
      card.appendChild(el("div", "balance-amount", acc.available));
      var meta = el("div", "balance-meta");
      if (acc.booked) meta.appendChild(el("span", "balance-booked", t("booked") + ": " + acc.booked));
      if (acc.as_of) meta.appendChild(el("span", "balance-asof", acc.as_of));
      card.appendChild(meta);
      wrap.appendChild(card);
    });
    return wrap;
  }

  // Charts the gateway drew: PNG only, from base64 only; the alt text is the chart in words.
  function renderImage(part) {
    if (part.mime !== "image/png" || !/^[A-Za-z0-9+\/=]+$/.test(part.data_base64 || "")) return null;
    var fig = el("figure", "chart");
    var img = el("img", "chart-image");
    img.src = "data:image/png;base64," + part.data_base64;
    img.alt = part.alt || "";
    img.width = part.width;
    img.height = part.height;
    fig.appendChild(img);
    return fig;
  }

  function renderAccountList(part) {
    var wrap = el("section", "account-group");
    if (part.title) wrap.appendChild(el("h3", "part-title", part.title));
    var ul = el("ul", "account-list");
    (part.accounts || []).forEach(function (acc) {
      var li = el("li", "account-item");
      li.appendChild(el("span", "account-name", acc.name));
      li.appendChild(el("span", "account-iban", acc.iban_masked));
      li.appendChild(el("span", "account-currency", acc.currency));
      ul.appendChild(li);
    });
    wrap.appendChild(ul);
    return wrap;
  }

  function renderTable(tbl) {
    var wrap = el("section", "tx-wrap");
    var table = el("table", "tx-table");
    if (tbl.title) table.appendChild(el("caption", null, tbl.title));
    var cols = (tbl.columns && tbl.columns.length) ? tbl.columns : ["", "", ""];
    var thead = el("thead");
    var hr = el("tr");
    cols.forEach(function (c, i) {
      var th = el("th", i === 2 ? "amount" : null, c);
      th.scope = "col";
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);

    var tbody = el("tbody");
    (tbl.rows || []).forEach(function (r) {
      var tr = el("tr", r.status === "pending" ? "pending" : "booked");
      tr.appendChild(el("td", "date", r.date));
      var desc = el("td", "desc", r.description);
      if (r.status === "pending") desc.appendChild(el("span", "status-tag", " (" + t("pending") + ")"));
      tr.appendChild(desc);
      var neg = String(r.raw_amount || r.amount || "").trim().charAt(0) === "-";
      tr.appendChild(el("td", "amount" + (neg ? " negative" : " positive"), r.amount));
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);

    if (tbl.totals && tbl.totals.length) {
      var tfoot = el("tfoot");
      var ft = el("tr", "totals");
      var label = el("th", null, t("total"));
      label.scope = "row";
      label.colSpan = Math.max(1, cols.length - 1);
      ft.appendChild(label);
      var sum = el("td", "amount");
      tbl.totals.forEach(function (s, i) {
        if (i > 0) sum.appendChild(el("br"));
        sum.appendChild(document.createTextNode(s));
      });
      ft.appendChild(sum);
      tfoot.appendChild(ft);
      table.appendChild(tfoot);
    }
    var scroller = el("div", "tx-scroll");
    scroller.appendChild(table);
    wrap.appendChild(scroller);

    var rows = (tbl.rows || []).length;
    if (rows && tbl.total) {
      var from = (tbl.page || 0) * (tbl.page_size || rows) + 1;
      var to = from + rows - 1;
      wrap.appendChild(el("p", "tx-range",
        t("shown").replace("{from}", from).replace("{to}", to).replace("{total}", tbl.total)));
    }
    if (tbl.next_page) {
      var more = el("button", "more-button", t("more"));
      more.type = "button";
      more.addEventListener("click", function () {
        more.disabled = true;
        sendQuickReply(tbl.next_page, t("more"));
      });
      wrap.appendChild(more);
    }
    return wrap;
  }

  function renderPart(part) {
    switch (part && part.kind) {
      case "text": return renderText(part);
      case "link": return renderLink(part);
      case "balance_card": return renderBalanceCard(part);
      case "account_list": return renderAccountList(part);
      case "transactions_table": return renderTable(part);
      case "image": return renderImage(part);
      default: return null;
    }
  }

  function renderReply(reply) {
    var bubble = el("div", "msg bot");
    (reply.parts || []).forEach(function (p) {
      var node = renderPart(p);
      if (node) bubble.appendChild(node);
    });
    append(bubble);
    var qrs = reply.quick_replies || [];
    if (qrs.length) {
      var row = el("div", "quick-replies");
      qrs.forEach(function (qr) {
        var b = el("button", "quick-reply", qr.label);
        b.type = "button";
        b.addEventListener("click", function () { sendQuickReply(qr.payload, qr.label); });
        row.appendChild(b);
      });
      append(row);
    }
  }

  // ---- the socket ----------------------------------------------------------------------------

  function send(frame) {
    if (ws && welcomed && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(frame));
    } else {
      pending.push(frame);
    }
  }

  // The customer is typing: at most one typing frame every 2 s, and only while connected
  // (a typing notice that waited for a reconnect would be stale).
  // Keystrokes inside the 2 s are not dropped: one frame follows when the 2 s are up, unless the
  // message was sent meanwhile. (Dropping them lost the notice whenever a new message was typed
  // within 2 s of the previous frame.)
  var lastTypingSent = 0;
  var typingLater = null;
  function sendTyping() {
    var wait = 2000 - (Date.now() - lastTypingSent);
    if (wait > 0) {
      if (!typingLater) typingLater = setTimeout(function () { typingLater = null; sendTyping(); }, wait);
      return;
    }
    if (!(ws && welcomed && ws.readyState === WebSocket.OPEN)) return;
    if (!input.value.trim()) return;
    lastTypingSent = Date.now();
    ws.send(JSON.stringify({ type: "typing" }));
  }

  function sendText(text) {
    // The message ends this bout of typing: the next keystroke starts a new one at once.
    if (typingLater) { clearTimeout(typingLater); typingLater = null; }
    lastTypingSent = 0;
    showMine(text);
    send({ type: "message", text: text });
  }

  function sendQuickReply(payload, label) {
    showMine(label);
    send({ type: "quick_reply", payload: payload });
  }

  function onFrame(f) {
    switch (f.type) {
      case "welcome":
        welcomed = true;
        attempt = 0;
        token = f.session;
        store.set(KEY_TOKEN, token);
        if (!f.resumed) { lastSeen = 0; store.set(KEY_SEEN, "0"); }
        setState("online");
        document.body.dataset.ready = "1";
        while (pending.length) ws.send(JSON.stringify(pending.shift()));
        break;
      case "reply":
        if (typeof f.seq === "number" && f.seq <= lastSeen) return; // already shown
        if (typeof f.seq === "number") { lastSeen = f.seq; store.set(KEY_SEEN, String(lastSeen)); }
        showTyping(false);
        renderReply(f.reply || {});
        break;
      case "typing":
        showTyping(true);
        break;
      case "error":
        showTyping(false);
        showSystem(f.message || f.code || "error");
        // No session yet (the instance could not open or resume one): try again, with backoff,
        // wherever the page's origin sends us next.
        if (!welcomed && f.code === "unavailable" && ws) ws.close();
        break;
      default:
        break;
    }
  }

  function connect() {
    if (reconnectTimer) { clearTimeout(reconnectTimer); reconnectTimer = null; }
    welcomed = false;
    setState("connecting");
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var sock = new WebSocket(proto + "//" + window.location.host + "/ws");
    ws = sock;
    sock.onopen = function () {
      sock.send(JSON.stringify({ type: "hello", session: token || null, lang: lang, last_seen: lastSeen }));
    };
    sock.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === "object") onFrame(f);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      welcomed = false;
      showTyping(false);
      setState(attempt === 0 ? "connecting" : "offline");
      // Exponential backoff with jitter, capped at 30 s; the first retry is immediate-ish.
      var delay = Math.min(30000, 300 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      reconnectTimer = setTimeout(connect, delay);
    };
  }

  // ---- start ---------------------------------------------------------------------------------

  function start() {
    messages = $("messages");
    input = $("chat-input");
    form = $("chat-form");
    connState = $("conn-state");
    typing = $("typing");

    applyLang();
    document.querySelectorAll(".lang-btn").forEach(function (b) {
      b.addEventListener("click", function () { setLang(b.getAttribute("data-lang")); });
    });
    input.addEventListener("input", function () { if (input.value.trim()) sendTyping(); });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      input.value = "";
      sendText(text);
      input.focus();
    });
    connect();
    input.focus();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
