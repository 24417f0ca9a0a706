// Checkout terminal: the member recognised at this lane (or that the card
// is unknown), their offers priced on the basket, and the basket itself.
// Everything works from the keyboard, as cashiers use scanners and keys:
// 1-9 apply or remove an offer, R redeems the applied offers, M types a
// member number. The page authenticates with the lane's token in a cookie
// (set once by opening /checkout/<lane>?token=...).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const api = document.body.dataset.api;
  let view = null;        // the last panel shown
  let redeemKey = null;   // kept until the redeem succeeded: a retry reuses it

  function show(...ids) {
    for (const p of ["idle", "unknown", "member", "closed", "basket"]) $(p).hidden = !ids.includes(p);
  }

  function say(text, bad) {
    const s = $("status");
    s.textContent = text;
    s.className = "status" + (bad ? " bad" : "");
    s.hidden = !text;
  }

  function money(v) {
    return new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v || 0);
  }

  function when(v) {
    const t = formatTime(v.at);
    const via = v.via ? " by " + v.via : "";
    return t ? "Read at " + t + via : "";
  }

  function badge(el, text, kind) {
    el.textContent = text || "";
    el.hidden = !text;
    el.className = "badge " + kind + " " + (text || "").toLowerCase().replace(/[^a-z0-9-]/g, "");
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }

  function basket(b) {
    if (!b) return false;
    $("b-id").textContent = b.basket_id || "";
    const body = $("b-lines");
    body.replaceChildren();
    for (const l of b.lines || []) {
      const tr = document.createElement("tr");
      cell(tr, l.sku);
      cell(tr, l.category || "");
      cell(tr, String(l.qty), "num");
      cell(tr, money(l.unit_price), "num");
      cell(tr, money(l.qty * l.unit_price), "num");
      body.append(tr);
    }
    if (!body.children.length) {
      const tr = document.createElement("tr");
      cell(tr, "No items yet.", "empty");
      tr.firstChild.colSpan = 5;
      body.append(tr);
    }
    $("b-subtotal").textContent = money(b.subtotal);
    $("b-discount").textContent = b.discount ? "−" + money(b.discount) : money(0);
    $("b-total").textContent = money(b.total);
    return true;
  }

  function offers(v) {
    const list = $("m-offers");
    list.replaceChildren();
    (v.offers || []).forEach((o, i) => {
      const li = document.createElement("li");
      li.dataset.offer = o.id;
      li.className = o.redeemed ? "redeemed" : o.applied ? "applied" : o.applies_to > 0 ? "" : "waiting";
      const key = document.createElement("kbd");
      key.textContent = String(i + 1);
      const pct = document.createElement("div");
      pct.className = "pct";
      pct.textContent = o.discount_pct > 0 ? formatPct(o.discount_pct) : "";
      const text = document.createElement("div");
      const title = document.createElement("b");
      title.textContent = o.title || "";
      const detail = document.createElement("span");
      detail.textContent = o.body || "";
      text.append(title, detail);
      const state = document.createElement("div");
      state.className = "offer-state";
      state.textContent = o.redeemed ? "Redeemed ✓ −" + money(o.discount)
        : o.applied ? (o.auto ? "Shopping list · " : "") + "Applied −" + money(o.discount)
        : o.applies_to > 0 ? "Press " + (i + 1) + " to apply −" + money(o.discount)
        : "Not in the basket yet";
      li.append(key, pct, text, state);
      list.append(li);
    });
    if (!list.children.length) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = "No offers apply right now.";
      list.append(li);
    }
  }

  function render(v) {
    // A new customer or basket: the last message was about the previous one.
    const before = view && (view.basket ? view.basket.basket_id : "") + "/" + (view.member ? view.member.id : "");
    const now = (v.basket ? v.basket.basket_id : "") + "/" + (v.member ? v.member.id : "");
    if (before !== now) say("");
    view = v;
    if (v.basket && v.basket.closed) {
      $("closed-total").textContent = "Total " + money(v.basket.paid || v.basket.total);
      $("closed-detail").textContent = v.basket.discount ? "Offers saved the customer " + money(v.basket.discount) + "." : "";
      show("closed");
      return;
    }
    if (!v.known || !v.member) {
      if (v.basket) {
        basket(v.basket);
        $("unknown-meta").textContent = when(v);
        show(v.via ? "unknown" : "idle", "basket");
        return;
      }
      $("unknown-meta").textContent = when(v);
      show(v.via ? "unknown" : "idle");
      return;
    }
    const m = v.member;
    $("m-name").textContent = m.first_name || "Member";
    $("m-id").textContent = m.id || "";
    badge($("m-tier"), m.tier, "tier");
    badge($("m-stage"), m.stage, "stage");
    $("m-warning").textContent = m.warning || "";
    $("m-warning").hidden = !m.warning;
    offers(v);
    $("member-meta").textContent = when(v);
    show("member", ...(basket(v.basket) ? ["basket"] : []));
  }

  function randomKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  async function call(method, path, body, key) {
    const headers = { "Content-Type": "application/json" };
    if (key) headers["Idempotency-Key"] = key;
    const res = await fetch(api + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) throw new Error((data && data.error) || res.status + " " + res.statusText);
    return data;
  }

  async function toggle(i) {
    if (!view || !view.offers || !view.offers[i] || !view.basket) return;
    const o = view.offers[i];
    if (o.redeemed) { say(o.title + " is already redeemed."); return; }
    try {
      render(await call("POST", "/offers/" + encodeURIComponent(o.id), { basket_id: view.basket.basket_id, applied: !o.applied }));
      say((o.applied ? "Removed: " : "Applied: ") + o.title);
    } catch (e) {
      say(e.message, true);
    }
  }

  async function redeem() {
    if (!view || !view.basket) return;
    redeemKey = redeemKey || randomKey();
    try {
      const r = await call("POST", "/redeem", { basket_id: view.basket.basket_id }, redeemKey);
      redeemKey = null;
      const n = r.redemptions.length;
      say(n ? "Redeemed " + n + " offer" + (n > 1 ? "s" : "") + ": −" + money(r.discount) : "Nothing to redeem: apply an offer first.");
      render(await call("GET", ""));
    } catch (e) {
      say(e.message + " — press R again to retry.", true);
    }
  }

  function askNumber() {
    $("number-form").hidden = false;
    $("number").value = "";
    $("number").focus();
  }

  $("number-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const n = $("number").value.trim();
    if (!n) return;
    $("number-form").hidden = true;
    try {
      render(await call("POST", "", { member_number: n }));
      say("");
    } catch (err) {
      say(err.message, true);
    }
  });

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.key === "Escape") {
      $("number-form").hidden = true;
      say("");
      return;
    }
    if (e.target === $("number")) return;
    if (e.key >= "1" && e.key <= "9") { e.preventDefault(); toggle(Number(e.key) - 1); }
    else if (e.key === "r" || e.key === "R") { e.preventDefault(); redeem(); }
    else if (e.key === "m" || e.key === "M" || e.key === "/") { e.preventDefault(); askNumber(); }
  });

  function state(online) {
    const link = $("link");
    link.textContent = online ? "connected" : "reconnecting…";
    link.className = "link " + (online ? "on" : "off");
    $("offline").hidden = online;
    if (online) {
      // After a restart or a reload: the lane's open basket, if any; none
      // (closed or expired meanwhile) means the panel is stale.
      call("GET", "").then(render, (e) => {
        if (/no open basket/.test(e.message)) render({ known: false, offers: [] });
      });
    }
  }

  openStream(document.body.dataset.events, { member: render }, state);
})();
