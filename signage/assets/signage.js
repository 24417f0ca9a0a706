// Signage player: plays the zone's content loop and lets personal offers
// interrupt it, one after the other. It never reloads itself: when the
// gateway is away the loop keeps playing from memory, and the stream and the
// loop are picked up again when it is back. Slides follow their daypart
// (days and hours in the store's time zone, by the player's own clock).
// Each personal offer played is reported to the gateway (proof of play:
// which offer, this screen's id, when, how long); reports wait in local
// storage while the gateway is away.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const loopScreen = $("loop");
  const offerScreen = $("offer");
  const maxQueue = 5; // later offers push out the oldest waiting ones
  const defaultSlideMS = 8000;
  const defaultOfferMS = 10000;

  let loop = readJSON("initial") || { slides: [] };
  let index = -1;
  let shownAt = 0;
  let current = null;
  let slideTimer = 0;
  let showing = false;
  const queue = [];

  // now returns the store-local weekday (0 = Sunday) and minutes after
  // midnight.
  function localNow() {
    const days = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
    let parts;
    try {
      parts = new Intl.DateTimeFormat("en-US", {
        timeZone: loop.timezone || "UTC", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      }).formatToParts(new Date());
    } catch (err) {
      parts = new Intl.DateTimeFormat("en-US", { weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
        .formatToParts(new Date());
    }
    const get = (t) => (parts.find((p) => p.type === t) || {}).value;
    return { day: days[get("weekday")] || 0, minute: Number(get("hour")) * 60 + Number(get("minute")) };
  }

  function inDaypart(s, t) {
    if (Array.isArray(s.days) && s.days.length === 7 && !s.days[t.day]) return false;
    const from = s.from || 0;
    const until = s.until || 24 * 60;
    return t.minute >= from && t.minute < until;
  }

  function nextSlide() {
    clearTimeout(slideTimer);
    const slides = loop.slides || [];
    let s = { title: loop.store || "", body: loop.name || "", show_for_ms: 60000 };
    const t = localNow();
    for (let n = 0; n < slides.length; n++) {
      index = (index + 1) % slides.length;
      if (inDaypart(slides[index], t)) {
        s = slides[index];
        break;
      }
    }
    const img = $("slide-image");
    const withImage = (on) => {
      img.hidden = !on;
      loopScreen.classList.toggle("has-image", on);
    };
    if (s.image) {
      img.onerror = () => withImage(false); // e.g. the gateway is away
      img.src = s.image;
      withImage(true);
    } else {
      img.removeAttribute("src");
      withImage(false);
    }
    $("slide-title").textContent = s.title || "";
    $("slide-body").textContent = s.body || "";
    restart(loopScreen.querySelector(".slide-text"));
    slideTimer = setTimeout(nextSlide, s.show_for_ms > 0 ? s.show_for_ms : defaultSlideMS);
  }

  function offer(v) {
    queue.push(v);
    while (queue.length > maxQueue) queue.shift();
    if (!showing) nextOffer();
  }

  function nextOffer() {
    if (current) played(current, Date.now() - shownAt);
    current = null;
    const v = queue.shift();
    if (!v) {
      showing = false;
      offerScreen.classList.remove("show");
      loopScreen.classList.add("show");
      nextSlide();
      return;
    }
    showing = true;
    current = v;
    shownAt = Date.now();
    clearTimeout(slideTimer);
    const o = v.offer || {};
    $("offer-greeting").textContent = v.greeting || "";
    $("offer-title").textContent = o.title || "";
    $("offer-body").textContent = o.body || "";
    const pct = $("offer-discount");
    pct.hidden = !(o.discount_pct > 0);
    pct.textContent = o.discount_pct > 0 ? formatPct(o.discount_pct) : "";
    pct.classList.toggle("long", pct.textContent.length > 4);
    const until = new Date(o.valid_to);
    $("offer-valid").textContent = isNaN(until) || until.getFullYear() < 2000 ? "" :
      "Valid until " + until.toLocaleDateString(undefined, { day: "numeric", month: "long" });
    loopScreen.classList.remove("show");
    offerScreen.classList.add("show");
    restart(offerScreen.querySelector(".offer-card"));
    setTimeout(nextOffer, v.show_for_ms > 0 ? v.show_for_ms : defaultOfferMS);
  }

  function restart(el) {
    el.classList.remove("enter");
    void el.offsetWidth; // restart the CSS animation
    el.classList.add("enter");
  }

  // refreshLoop picks up loop changes; on failure the current loop plays on.
  async function refreshLoop() {
    try {
      const r = await fetch(body.dataset.loop, { cache: "no-store" });
      if (!r.ok) return;
      const l = await r.json();
      if (l && Array.isArray(l.slides)) loop = l;
    } catch (err) {
      // offline: keep playing what we have
    }
  }

  let offlineTimer = 0;
  function state(online) {
    clearTimeout(offlineTimer);
    if (online) {
      $("link").classList.remove("off");
      refreshLoop();
      flushPlays();
    } else {
      // Only a lasting outage dims the dot; a reconnect is routine.
      offlineTimer = setTimeout(() => $("link").classList.add("off"), 10000);
    }
  }

  // ---- Proof of play ----
  const playsKey = "redcarpet-plays:" + (body.dataset.plays || "");
  const maxPending = 500;

  function screenID() {
    let id = localStorage.getItem("redcarpet-screen");
    if (!id) {
      const b = new Uint8Array(8);
      crypto.getRandomValues(b);
      id = "scr-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
      localStorage.setItem("redcarpet-screen", id);
    }
    return id;
  }

  function pendingPlays() {
    try { return JSON.parse(localStorage.getItem(playsKey)) || []; } catch (err) { return []; }
  }

  function keepPlays(list) {
    try { localStorage.setItem(playsKey, JSON.stringify(list.slice(-maxPending))); } catch (err) { /* full */ }
  }

  function played(v, ms) {
    const o = v.offer || {};
    if (!o.id || !v.at) return;
    const list = pendingPlays();
    // "at" names the frame: it goes back exactly as the gateway sent it.
    list.push({ offer_id: o.id, at: v.at, started: new Date(Date.now() - ms).toISOString(), duration_ms: Math.max(1, Math.round(ms)) });
    keepPlays(list);
    flushPlays();
  }

  let flushing = false;
  async function flushPlays() {
    if (flushing || !body.dataset.plays) return;
    const list = pendingPlays();
    if (!list.length) return;
    flushing = true;
    const batch = list.slice(0, 100);
    try {
      const r = await fetch(body.dataset.plays, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ screen: screenID(), plays: batch }),
      });
      // Recorded, duplicate or refused for good (4xx): done with them. A
      // 5xx or a network error keeps them for the next try.
      if (r.ok || (r.status >= 400 && r.status < 500)) {
        keepPlays(pendingPlays().slice(batch.length));
      }
    } catch (err) {
      // offline: retry later
    } finally {
      flushing = false;
    }
  }

  nextSlide();
  flushPlays();
  setInterval(flushPlays, 30 * 1000);
  setInterval(refreshLoop, 10 * 60 * 1000);
  openStream(body.dataset.events, { offer }, state);
})();
