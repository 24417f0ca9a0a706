// Signage player: plays the zone's content loop and lets personal offers
// interrupt it, one after the other. It never reloads itself: when the
// gateway is away the loop keeps playing from memory, and the stream and the
// loop are picked up again when it is back.
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
  let slideTimer = 0;
  let showing = false;
  const queue = [];

  function nextSlide() {
    clearTimeout(slideTimer);
    const slides = loop.slides || [];
    let s = { title: loop.store || "", body: loop.name || "", show_for_ms: 60000 };
    if (slides.length > 0) {
      index = (index + 1) % slides.length;
      s = slides[index];
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
    const v = queue.shift();
    if (!v) {
      showing = false;
      offerScreen.classList.remove("show");
      loopScreen.classList.add("show");
      nextSlide();
      return;
    }
    showing = true;
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
    } else {
      // Only a lasting outage dims the dot; a reconnect is routine.
      offlineTimer = setTimeout(() => $("link").classList.add("off"), 10000);
    }
  }

  nextSlide();
  setInterval(refreshLoop, 10 * 60 * 1000);
  openStream(body.dataset.events, { offer }, state);
})();
