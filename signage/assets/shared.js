// Shared by the gateway pages: a self-healing event stream and formatting.
//
// openStream: EventSource reconnects by itself after a network error, but gives up for
// good after an HTTP error (a proxy's 502, a 503 while the gateway shuts
// down). It also cannot tell a half-open connection (the gateway lost power)
// from a quiet one. The server sends a "ping" event every 15 s: after 45 s
// without any event the connection is treated as dead and reopened, with
// jittered backoff up to 30 s.
"use strict";

function openStream(url, handlers, onState) {
  const quietMS = 45000;
  let es = null;
  let lastSeen = 0;
  let backoff = 1000;
  let timer = 0;

  function seen() { lastSeen = Date.now(); }

  function open() {
    es = new EventSource(url);
    es.addEventListener("open", () => { backoff = 1000; seen(); onState(true); });
    es.addEventListener("ping", seen);
    for (const [name, fn] of Object.entries(handlers)) {
      es.addEventListener(name, (e) => {
        seen();
        let data;
        try {
          data = JSON.parse(e.data);
        } catch (err) {
          console.warn("ignoring malformed event", name, err);
          return;
        }
        fn(data);
      });
    }
    es.addEventListener("error", () => {
      onState(false);
      if (es.readyState === EventSource.CLOSED) reopen();
    });
  }

  function reopen() {
    if (es) es.close();
    es = null;
    clearTimeout(timer);
    timer = setTimeout(open, backoff / 2 + Math.random() * backoff);
    backoff = Math.min(backoff * 2, 30000);
  }

  setInterval(() => {
    if (es && es.readyState === EventSource.OPEN && Date.now() - lastSeen > quietMS) {
      onState(false);
      reopen();
    }
  }, 5000);
  open();
}

function readJSON(id) {
  try {
    return JSON.parse(document.getElementById(id).textContent);
  } catch (err) {
    return null;
  }
}

function formatPct(p) {
  return "−" + new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(p) + "%";
}

function formatTime(s) {
  const d = new Date(s);
  return isNaN(d) || d.getFullYear() < 2000 ? "" : d.toLocaleTimeString();
}
