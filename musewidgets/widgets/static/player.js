// TakeView (musewidgets/widgets/player.py): piano roll, <audio controls> and engraved score of one take, with a
// playhead that follows the audio. All state comes from the model's traits; this module only draws it, reads
// audio.currentTime on every animation frame while playing, and reports the position on pause, end and seek.
// With a `link` (the Workbench's view, whose roll is the roll editor's), it tells that roll where the sound is
// (window event "musewidgets:playhead", in steps) and moves the sound where the roll asks ("musewidgets:seek").

const SVG = "http://www.w3.org/2000/svg";

const TEMPLATE = `
  <div class="mw-roll" hidden>
    <img class="mw-roll-img" alt="piano roll">
    <div class="mw-playhead"></div>
  </div>
  <audio class="mw-audio" controls preload="auto"></audio>
  <div class="mw-score"></div>
  <div class="mw-caption"></div>`;

const clamp = (x, low, high) => Math.min(Math.max(x, low), high);

const inside = (r, x, y) => x >= r.left && x <= r.right && y >= r.top && y <= r.bottom;

/** A blob: URL for binary trait bytes (a DataView), or null when there are none. */
function blobUrl(bytes, type) {
  return bytes && bytes.byteLength ? URL.createObjectURL(new Blob([bytes], { type })) : null;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "mw-takeview";
  root.innerHTML = TEMPLATE;
  el.appendChild(root);
  const roll = root.querySelector(".mw-roll");
  const img = root.querySelector(".mw-roll-img");
  const head = root.querySelector(".mw-playhead");
  const audio = root.querySelector(".mw-audio");
  const score = root.querySelector(".mw-score");
  const caption = root.querySelector(".mw-caption");
  const bg = document.createElementNS(SVG, "rect"); // the current measure's background
  bg.setAttribute("class", "mw-measure-bg");
  let rollUrl = null;
  let audioUrl = null;
  let frame = 0; // requestAnimationFrame id while playing, else 0
  let measures = []; // the score's <g class="measure"> elements, in score order
  let current = -1; // index of the highlighted measure

  const ready = () => audioUrl !== null;

  // ---- time <-> place
  function xAt(seconds) {
    const { seconds_per_step: sps, steps, x0, x1 } = model.get("timing");
    return x0 + (x1 - x0) * clamp(seconds / sps / steps, 0, 1);
  }

  function secondsAt(fraction) {
    const { seconds_per_step: sps, steps, x0, x1 } = model.get("timing");
    return clamp((fraction - x0) / (x1 - x0), 0, 1) * steps * sps;
  }

  function measureAt(seconds) {
    const times = model.get("measure_times");
    let i = -1;
    while (i + 1 < times.length && times[i + 1] <= seconds + 1e-6) i += 1;
    return i;
  }

  // ---- drawing
  function highlight(i) {
    if (i === current) return;
    measures[current]?.classList.remove("mw-current");
    bg.remove();
    current = i;
    const g = measures[i];
    if (!g) return;
    g.classList.add("mw-current");
    let box;
    try {
      box = g.getBBox(); // in the group's own units, which the rect shares
    } catch {
      return; // not rendered (a hidden tab, say): the coloured notes suffice
    }
    const pad = 0.03 * box.height;
    bg.setAttribute("x", box.x);
    bg.setAttribute("y", box.y - pad);
    bg.setAttribute("width", box.width);
    bg.setAttribute("height", box.height + 2 * pad);
    g.insertBefore(bg, g.firstChild);
    if (!audio.paused) keepInView(g);
  }

  function keepInView(g) {
    // the score grows with its systems: the page (or the notebook) scrolls to the measure playing, when it must
    const r = g.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) g.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  function place() {
    const t = audio.currentTime;
    if (rollUrl && model.get("timing").steps) head.style.left = `${(100 * xAt(t)).toFixed(3)}%`;
    head.dataset.seconds = t.toFixed(3);
    const started = ready() && !audio.ended && (t > 0 || !audio.paused);
    highlight(started ? measureAt(t) : -1);
    tell(t, started);
  }

  // ---- the linked roll editor
  function tell(seconds, started) {
    const link = model.get("link");
    const sps = model.get("timing").seconds_per_step;
    if (!link || !sps) return;
    const detail = { link, seconds, step: seconds / sps, shown: started, playing: !audio.paused };
    window.dispatchEvent(new CustomEvent("musewidgets:playhead", { detail }));
  }

  function onSeekAsked(event) {
    const { link, step } = event.detail || {};
    const sps = model.get("timing").seconds_per_step;
    if (link && link === model.get("link") && sps) seek(step * sps);
  }

  function tick() {
    place();
    frame = audio.paused || audio.ended ? 0 : requestAnimationFrame(tick);
  }

  function play() {
    root.classList.add("mw-playing");
    if (!frame) frame = requestAnimationFrame(tick);
  }

  function stop() {
    cancelAnimationFrame(frame);
    frame = 0;
    root.classList.remove("mw-playing");
    place();
  }

  function report() {
    if (!ready()) return;
    model.set("position", audio.currentTime);
    model.save_changes();
  }

  function seek(seconds) {
    if (!ready() || !Number.isFinite(seconds)) return;
    audio.currentTime = Number.isFinite(audio.duration) ? clamp(seconds, 0, audio.duration) : Math.max(seconds, 0);
    place();
  }

  function updateState() {
    const state = ready() ? "ready" : model.get("pending") ? "pending" : rollUrl ? "roll" : "empty";
    root.dataset.state = state;
    audio.hidden = state === "empty" || state === "roll";
    const label = model.get("label");
    caption.textContent = state === "pending" ? `${label} · sampling; sound and score follow` : label;
    img.alt = label ? `piano roll of ${label}` : "piano roll";
    audio.setAttribute("aria-label", label ? `sound of ${label}` : "sound");
  }

  // ---- traits -> DOM
  function onRoll() {
    if (rollUrl) URL.revokeObjectURL(rollUrl);
    rollUrl = blobUrl(model.get("roll_png"), "image/png");
    if (rollUrl) img.src = rollUrl;
    else img.removeAttribute("src");
    roll.hidden = !rollUrl;
    onTiming();
    updateState();
  }

  function onTiming() {
    const { y0 = 0, y1 = 1 } = model.get("timing");
    head.style.top = `${100 * y0}%`;
    head.style.height = `${100 * (y1 - y0)}%`;
    place();
  }

  function onAudio() {
    stop();
    if (audioUrl) URL.revokeObjectURL(audioUrl);
    audioUrl = blobUrl(model.get("audio_wav"), "audio/wav");
    if (audioUrl) {
      audio.src = audioUrl; // loads it: back to 0, paused
    } else {
      audio.removeAttribute("src");
      audio.load();
    }
    updateState();
    place();
  }

  function onScore() {
    bg.remove();
    score.innerHTML = model.get("score_svg");
    for (const page of score.querySelectorAll(":scope > svg")) {
      // a viewBox lets a page shrink to a narrow column (Notebook 7, a phone) instead of being cut at its edge
      const w = parseFloat(page.getAttribute("width"));
      const h = parseFloat(page.getAttribute("height"));
      if (w > 0 && h > 0 && !page.hasAttribute("viewBox")) page.setAttribute("viewBox", `0 0 ${w} ${h}`);
    }
    measures = Array.from(score.querySelectorAll("g.measure"));
    current = -1;
    score.hidden = measures.length === 0;
    place();
  }

  // ---- events
  img.addEventListener("click", (e) => {
    const r = img.getBoundingClientRect();
    seek(secondsAt((e.clientX - r.left) / r.width));
  });
  score.addEventListener("click", (e) => {
    const i = measures.findIndex((g) => inside(g.getBoundingClientRect(), e.clientX, e.clientY));
    const times = model.get("measure_times");
    if (i >= 0 && i < times.length) seek(times[i]);
  });
  const halt = () => {
    stop();
    report();
  };
  audio.addEventListener("play", play);
  audio.addEventListener("pause", halt);
  audio.addEventListener("ended", halt);
  audio.addEventListener("seeked", () => {
    place();
    report();
  });
  audio.addEventListener("loadedmetadata", place);

  const onMessage = (msg) => msg?.type === "seek" && seek(msg.seconds);
  const handlers = {
    "change:roll_png": onRoll,
    "change:timing": onTiming,
    "change:audio_wav": onAudio,
    "change:score_svg": onScore,
    "change:label": updateState,
    "change:pending": updateState,
    "change:link": place,
    "msg:custom": onMessage,
  };
  for (const [name, fn] of Object.entries(handlers)) model.on(name, fn);
  window.addEventListener("musewidgets:seek", onSeekAsked);

  onRoll();
  onAudio();
  onScore();
  if (ready() && model.get("position") > 0) audio.currentTime = model.get("position"); // a second view of a take

  return () => {
    for (const [name, fn] of Object.entries(handlers)) model.off(name, fn);
    window.removeEventListener("musewidgets:seek", onSeekAsked);
    cancelAnimationFrame(frame);
    audio.pause();
    for (const url of [rollUrl, audioUrl]) if (url) URL.revokeObjectURL(url);
    root.remove();
  };
}

export default { render };
