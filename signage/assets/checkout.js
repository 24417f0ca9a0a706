// Checkout terminal: shows the member recognised at this lane, or that the
// card is unknown, and the offers that apply.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  function show(id) {
    for (const p of ["idle", "unknown", "member"]) $(p).hidden = p !== id;
  }

  function when(v) {
    const t = formatTime(v.at);
    const via = v.via ? " by " + v.via : "";
    return t ? "Read at " + t + via : "";
  }

  function member(v) {
    if (!v.known || !v.member) {
      $("unknown-meta").textContent = when(v);
      show("unknown");
      return;
    }
    const m = v.member;
    $("m-name").textContent = m.first_name || "Member";
    $("m-id").textContent = m.id || "";
    const tier = $("m-tier");
    tier.textContent = m.tier || "";
    tier.hidden = !m.tier;
    tier.className = "badge tier " + (m.tier || "").toLowerCase().replace(/[^a-z0-9-]/g, "");
    const stage = $("m-stage");
    stage.textContent = m.stage || "";
    stage.hidden = !m.stage;
    stage.className = "badge stage " + (m.stage || "").toLowerCase().replace(/[^a-z0-9-]/g, "");

    const list = $("m-offers");
    list.replaceChildren();
    for (const o of v.offers || []) {
      const li = document.createElement("li");
      const pct = document.createElement("div");
      pct.className = "pct";
      pct.textContent = o.discount_pct > 0 ? formatPct(o.discount_pct) : "";
      const text = document.createElement("div");
      const title = document.createElement("b");
      title.textContent = o.title || "";
      const detail = document.createElement("span");
      detail.textContent = o.body || "";
      text.append(title, detail);
      li.append(pct, text);
      list.append(li);
    }
    if (!list.children.length) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = "No offers apply right now.";
      list.append(li);
    }
    $("member-meta").textContent = when(v);
    show("member");
  }

  function state(online) {
    const link = $("link");
    link.textContent = online ? "connected" : "reconnecting…";
    link.className = "link " + (online ? "on" : "off");
    $("offline").hidden = online;
  }

  openStream(document.body.dataset.events, { member }, state);
})();
