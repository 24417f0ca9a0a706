// Store overview: renders /api/overview and polls it every 2 s.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const num = new Intl.NumberFormat();
  const everyMS = 2000;

  function n(v) { return typeof v === "number" ? num.format(v) : "–"; }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.append(td);
    return td;
  }

  function rows(tbody, items, empty, cols, fill) {
    tbody.replaceChildren();
    if (!items || items.length === 0) {
      const tr = document.createElement("tr");
      const td = cell(tr, empty, "empty");
      td.colSpan = cols;
      tbody.append(tr);
      return;
    }
    for (const it of items) {
      const tr = document.createElement("tr");
      fill(tr, it);
      tbody.append(tr);
    }
  }

  function label(key) {
    const s = key.replace(/[_.]+/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function value(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "number") return num.format(v);
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "string") return v;
    return JSON.stringify(v);
  }

  function render(ov) {
    const st = ov.stats || {};
    const at = new Date(st.at);
    $("clock").textContent = isNaN(at) || at.getFullYear() < 2000 ? "–" :
      at.toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    $("interval").textContent = formatTime(st.interval_start) || "–";
    $("occupancy").textContent = n(st.occupancy);
    $("recognised").textContent = n(st.members_recognised);
    $("unknown").textContent = n(st.unknown_cards);
    $("offers").textContent = n(st.offers_shown);
    $("committed").textContent = n(st.events_committed);

    rows($("doors"), st.doors, "No door counts yet", 5, (tr, d) => {
      cell(tr, d.door);
      cell(tr, n(d.in), "num");
      cell(tr, n(d.out), "num");
      cell(tr, n(d.in_today), "num");
      cell(tr, n(d.out_today), "num");
    });
    rows($("devices"), st.devices, "No devices reported yet", 4, (tr, d) => {
      cell(tr, d.device);
      cell(tr, d.kind || "");
      const pill = document.createElement("span");
      pill.className = "pill " + d.state;
      pill.textContent = d.state || "unknown";
      cell(tr, "").append(pill);
      cell(tr, d.detail || "", "detail");
    });

    const screens = ov.screens || {};
    for (const [attr, hubs] of [["data-zone", screens.zones], ["data-lane", screens.lanes]]) {
      for (const [id, h] of Object.entries(hubs || {})) {
        const tr = document.querySelector("tr[" + attr + '="' + CSS.escape(id) + '"]');
        if (!tr) continue;
        const tds = tr.querySelectorAll("td");
        tds[1].textContent = n(h.clients);
        tds[2].textContent = n(h.sent);
        tds[3].textContent = n(h.dropped);
        tds[3].classList.toggle("warn", h.dropped > 0);
      }
    }

    // Every other engine counter, so new ones show up without a page change,
    // then whatever the daemon adds through Status.
    const shown = ["at", "interval_start", "doors", "devices", "occupancy",
      "members_recognised", "unknown_cards", "offers_shown", "events_committed"];
    const status = {};
    for (const [k, v] of Object.entries(st)) {
      if (!shown.includes(k) && typeof v !== "object") status[k] = v;
    }
    Object.assign(status, ov.status || {});
    const dl = $("status");
    dl.replaceChildren();
    for (const key of Object.keys(status).sort()) {
      const dt = document.createElement("dt");
      dt.textContent = label(key);
      const dd = document.createElement("dd");
      dd.textContent = value(status[key]);
      dl.append(dt, dd);
    }
  }

  function link(ok) {
    const el = $("link");
    el.textContent = ok ? "live" : "gateway not responding";
    el.className = "link " + (ok ? "on" : "off");
  }

  async function poll() {
    try {
      const r = await fetch("/api/overview", { cache: "no-store", signal: AbortSignal.timeout(5000) });
      if (!r.ok) throw new Error("HTTP " + r.status);
      render(await r.json());
      link(true);
    } catch (err) {
      link(false);
    } finally {
      setTimeout(poll, everyMS);
    }
  }

  const initial = readJSON("initial");
  if (initial) render(initial);
  setTimeout(poll, everyMS);
})();
