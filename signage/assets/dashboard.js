// Store dashboard: renders /api/v1/dashboard and polls it (every refresh_s
// seconds, or ?refresh=seconds). The chart is drawn here as SVG: nothing is
// loaded from anywhere but the gateway. Times and hour labels come from the
// gateway in the store's time zone, whatever the browser's.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg"; // a namespace name, never fetched
  const num = new Intl.NumberFormat("en");
  const pct1 = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });
  const pct0 = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 0 });
  const dash = "—";
  let doc = null;

  function n(v) { return typeof v === "number" ? num.format(v) : dash; }
  function pct(v) { return typeof v === "number" ? pct1.format(v) : dash; }

  function money(v, currency) {
    if (typeof v !== "number") return dash;
    try {
      if (currency) return new Intl.NumberFormat("en", { style: "currency", currency }).format(v);
    } catch (err) {
      // An unknown currency code: the amount alone.
    }
    return new Intl.NumberFormat("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
  }

  // change is today against last week, as "▲ 6%" or "▼ 4%"; "" when last
  // week gives nothing to compare with.
  function change(now, then) {
    if (typeof now !== "number" || typeof then !== "number" || then === 0) return null;
    const d = (now - then) / Math.abs(then);
    if (Math.abs(d) < 0.005) return { text: "= same", cls: "flat" };
    return { text: (d > 0 ? "▲ " : "▼ ") + pct0.format(Math.abs(d)), cls: d > 0 ? "up" : "down" };
  }

  // points is a rate today against last week, in percentage points.
  function points(now, then) {
    if (typeof now !== "number" || typeof then !== "number") return null;
    const d = (now - then) * 100;
    if (Math.abs(d) < 0.05) return { text: "= same", cls: "flat" };
    return { text: (d > 0 ? "▲ " : "▼ ") + Math.abs(d).toFixed(1) + " pts", cls: d > 0 ? "up" : "down" };
  }

  // compare fills a tile's comparison: an optional change badge and what
  // last week had, then a line of context.
  function compare(id, badge, vs, context) {
    const p = $(id);
    p.replaceChildren();
    if (badge) {
      const b = document.createElement("span");
      b.className = "delta " + badge.cls;
      b.textContent = badge.text;
      p.append(b, " ");
    }
    if (vs) {
      const v = document.createElement("span");
      v.className = "vs";
      v.textContent = vs;
      p.append(v);
    }
    if (context) {
      const c = document.createElement("span");
      c.className = "ctx";
      c.textContent = context;
      p.append(c);
    }
  }

  function render(d) {
    doc = d;
    const today = d.today.so_far, lw = d.last_week, ls = lw.so_far;
    const has = lw.has_data;
    const cur = d.currency;
    const none = "No data for " + lw.label;
    const vs = (s) => has ? "vs " + s : ""; // the visitors tile says when there is nothing to compare

    $("clock").textContent = d.clock;
    $("tz").textContent = d.timezone;
    $("basis").textContent = has ? "today so far against " + lw.label + " up to " + d.time :
      "today so far · no data for " + lw.label;
    $("legend-today").textContent = "Today, " + d.today.label;
    $("legend-last").textContent = has ? lw.label : lw.label + " (no data)";
    document.querySelector(".legend .last").classList.toggle("missing", !has);

    $("visitors").textContent = n(today.visitors);
    compare("visitors-cmp", has && change(today.visitors, ls.visitors), has ? vs(n(ls.visitors) + " by " + d.time + " " + lw.label) : none);

    $("occupancy").textContent = n(today.occupancy);
    compare("occupancy-cmp", null, vs(n(ls.occupancy) + " at " + d.time), "Peak today " + n(today.peak));

    $("conversion").textContent = pct(today.conversion);
    compare("conversion-cmp", has && points(today.conversion, ls.conversion), vs(pct(ls.conversion)),
      today.baskets === 0 ? "No baskets yet" : n(today.baskets) + (today.baskets === 1 ? " basket" : " baskets"));

    $("spend").textContent = money(today.spend_per_visitor, cur);
    compare("spend-cmp", has && change(today.spend_per_visitor, ls.spend_per_visitor), vs(money(ls.spend_per_visitor, cur)),
      today.baskets === 0 ? "Nothing taken yet" : money(today.spend, cur) + " taken");

    const offers = $("offers");
    offers.replaceChildren(n(today.offers_redeemed));
    const of = document.createElement("small");
    of.textContent = " of " + n(today.offers_shown);
    offers.append(of);
    compare("offers-cmp", has && change(today.offers_redeemed, ls.offers_redeemed),
      vs(n(ls.offers_redeemed) + " of " + n(ls.offers_shown)),
      typeof today.redemption_rate === "number" ? pct(today.redemption_rate) + " of offers shown" : "No offers shown yet");

    $("members").textContent = pct(today.member_share);
    compare("members-cmp", has && points(today.member_share, ls.member_share), vs(pct(ls.member_share)),
      "of baskets" + (typeof today.member_spend_share === "number" ? " · " + pct(today.member_spend_share) + " of spend" : ""));

    const whole = lw.whole_day;
    $("lastweek").textContent = !has ? none + ": the chart shows today only." :
      lw.label + ", whole day: " + [
        n(whole.visitors) + " visitors",
        pct(whole.conversion) + " conversion",
        money(whole.spend_per_visitor, cur) + " per visitor",
        money(whole.spend, cur) + " taken",
        "peak " + n(whole.peak) + " inside",
      ].join(" · ");

    const notice = $("notice");
    notice.hidden = !d.history_error;
    notice.textContent = d.history_error ? "Last week's figures cannot be read: " + d.history_error : "";

    devices(d.devices || []);
    chart();
  }

  function devices(list) {
    const ul = $("devices");
    ul.replaceChildren();
    const down = list.filter((x) => x.state !== "up").length;
    const sum = $("devices-summary");
    sum.textContent = list.length === 0 ? "" : down === 0 ? "all " + list.length + " up" :
      down + " of " + list.length + " need attention";
    sum.className = "summary " + (list.length === 0 ? "" : down === 0 ? "ok" : "bad");
    if (list.length === 0) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "No devices reported yet";
      ul.append(li);
      return;
    }
    // Devices that need attention first, then by name.
    const order = { down: 0, degraded: 1, up: 2 };
    list = list.slice().sort((a, b) => (order[a.state] ?? 0) - (order[b.state] ?? 0) || a.device.localeCompare(b.device));
    for (const x of list) {
      const li = document.createElement("li");
      li.dataset.state = x.state;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = x.device;
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = x.kind || "";
      const pill = document.createElement("span");
      pill.className = "pill " + x.state;
      pill.textContent = x.state || "unknown";
      li.append(name, kind, pill);
      if (x.detail) {
        const det = document.createElement("span");
        det.className = "detail";
        det.textContent = x.detail;
        li.append(det);
      }
      ul.append(li);
    }
  }

  function el(name, attrs, parent, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.append(e);
    return e;
  }

  // scale returns a round top value and step for an axis up to max.
  function scale(max, ticks) {
    const raw = Math.max(max, 1) / ticks;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw && Number.isInteger(s)) || Math.ceil(raw);
    return { step, top: Math.ceil(Math.max(max, 1) / step) * step };
  }

  function chart() {
    const box = $("chart");
    if (!doc) return;
    const hours = doc.hours || [];
    box.replaceChildren();
    box.classList.toggle("empty", hours.length === 0);
    if (hours.length === 0) {
      const p = document.createElement("p");
      p.className = "chart-empty";
      p.textContent = "No visitors counted yet today. The chart fills in as the door counters report, every 15 minutes.";
      box.append(p);
      return;
    }
    const W = Math.max(300, box.clientWidth), H = Math.max(200, box.clientHeight);
    const m = { l: 46, r: 10, t: 22, b: 30 };
    const pw = W - m.l - m.r, ph = H - m.t - m.b;
    const max = Math.max(...hours.map((h) => Math.max(h.today ?? 0, h.last_week ?? 0)));
    const { step, top } = scale(max, 4);
    const y = (v) => m.t + ph - (v / top) * ph;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "plot" });

    const grid = el("g", { class: "grid" }, svg);
    for (let v = 0; v <= top; v += step) {
      el("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: v === 0 ? "base" : "" }, grid);
      el("text", { x: m.l - 8, y: y(v) + 4, "text-anchor": "end", class: "ylab" }, grid, num.format(v));
    }

    const gw = pw / hours.length;
    const bw = Math.max(3, Math.min(28, gw * 0.36));
    const every = Math.ceil(48 / gw); // label every hour when there is room
    const showValues = gw >= 44;
    const bars = el("g", { class: "bars" }, svg);
    const labels = el("g", { class: "labels" }, svg);
    const lwLabel = doc.last_week.label;
    hours.forEach((h, i) => {
      const cx = m.l + gw * (i + 0.5);
      const g = el("g", { class: "hour" + (h.now ? " now" : ""), "data-hour": h.label }, bars);
      el("title", {}, g, h.label + (h.now ? " (so far)" : "") + ": today " + (h.today ?? dash) + ", " + lwLabel + " " + (h.last_week ?? dash));
      if (typeof h.last_week === "number") {
        el("rect", { x: cx - bw - 1.5, y: y(h.last_week), width: bw, height: Math.max(0, y(0) - y(h.last_week)), rx: 2,
          class: "bar last" }, g);
      }
      if (typeof h.today === "number") {
        el("rect", { x: cx + 1.5, y: y(h.today), width: bw, height: Math.max(0, y(0) - y(h.today)), rx: 2,
          class: "bar today" + (h.now ? " now" : "") }, g);
        // Values go above the bars, over everything drawn; the running
        // hour's above both of its bars.
        if (h.now) {
          const top = y(Math.max(h.today, h.last_week ?? 0));
          el("text", { x: cx, y: top - 20, "text-anchor": "middle", class: "val now" }, labels, n(h.today));
          el("text", { x: cx, y: top - 7, "text-anchor": "middle", class: "val now small" }, labels, "so far");
        } else if (showValues) {
          el("text", { x: cx + 1.5 + bw / 2, y: y(h.today) - 6, "text-anchor": "middle", class: "val" }, labels, n(h.today));
        }
      }
      if (i % every === 0 || h.now) {
        el("text", { x: cx, y: H - 9, "text-anchor": "middle", class: "xlab" + (h.now ? " now" : "") }, g, h.label);
      }
    });
    box.append(svg);
  }

  function link(ok) {
    const e = $("link");
    e.textContent = ok ? "live" : "gateway not responding";
    e.className = "link " + (ok ? "on" : "off");
  }

  function every() {
    const q = Number(new URLSearchParams(location.search).get("refresh"));
    const s = q > 0 ? q : (doc && doc.refresh_s) || 15;
    return Math.min(300, Math.max(1, s)) * 1000;
  }

  async function poll() {
    try {
      const r = await fetch("/api/v1/dashboard", { cache: "no-store", signal: AbortSignal.timeout(10000) });
      if (!r.ok) throw new Error("HTTP " + r.status);
      render(await r.json());
      link(true);
    } catch (err) {
      link(false);
    } finally {
      setTimeout(poll, every());
    }
  }

  let frame = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(chart);
  }).observe($("chart"));

  const initial = readJSON("initial");
  if (initial) {
    render(initial);
    link(true);
  }
  setTimeout(poll, every());
})();
