// RollEditor (musewidgets/widgets/editor.py): a piano roll drawn as SVG from the `notes` and `grid` traits.
// Select mode: drag a rectangle to select whole bars and the voices it covers; click a voice in the legend to add or
// remove it. Edit mode: click an empty place to add a note, click a note to select it, Delete/Backspace removes it,
// drag it to move it, drag its right edge to lengthen it. Every edit is drawn here at once and sent to Python, which
// checks it and answers with the notes as they are (an edit it refuses is undone here, `message` says why).
// The roll fits the width of its box. With a `link` it draws the playhead of the linked player (window event
// "musewidgets:playhead") and a click on a bar number moves that player there ("musewidgets:seek").

const SVG = "http://www.w3.org/2000/svg";
const ROW = 8; // px per semitone
const TOP = 16; // px above the rows, for the bar numbers
const GUTTER = 34; // px left of the rows, for the pitch names
const EDGE = 5; // px at a note's right end that lengthen it instead of moving it
const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const BLACK = new Set([1, 3, 6, 8, 10]);

const clamp = (x, low, high) => Math.min(Math.max(x, low), high);

function capture(node, event, on) {
  try {
    if (on) node.setPointerCapture(event.pointerId);
    else node.releasePointerCapture(event.pointerId);
  } catch (e) {
    // a synthetic or finished pointer: nothing to capture
  }
}

function make(tag, attrs, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "mw-editor";
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab: our keys are ours while focused
  root.innerHTML = `
    <div class="mw-editor-bar">
      <span class="mw-editor-legend"></span>
      <span class="mw-editor-tools">
        <button class="mw-editor-undo" title="undo (Ctrl+Z)">↶ Undo</button>
        <button class="mw-editor-redo" title="redo (Ctrl+Shift+Z)">↷ Redo</button>
        <button class="mw-editor-delete" title="delete the selected note (Delete)">✕ Delete note</button>
      </span>
    </div>
    <div class="mw-editor-scroll"></div>
    <div class="mw-editor-info"><span class="mw-editor-selected"></span> <span class="mw-editor-message"></span></div>`;
  el.appendChild(root);
  const legend = root.querySelector(".mw-editor-legend");
  const scroll = root.querySelector(".mw-editor-scroll");
  const undoButton = root.querySelector(".mw-editor-undo");
  const redoButton = root.querySelector(".mw-editor-redo");
  const deleteButton = root.querySelector(".mw-editor-delete");
  const selectedText = root.querySelector(".mw-editor-selected");
  const messageText = root.querySelector(".mw-editor-message");
  const svg = make("svg", { class: "mw-editor-svg" }, scroll);
  const back = make("g", { class: "mw-editor-back" }, svg);
  const shade = make("g", { class: "mw-editor-shade" }, svg);
  const layer = make("g", { class: "mw-editor-notes" }, svg);
  const rings = make("g", { class: "mw-editor-marks" }, svg);
  const head = make("line", { class: "mw-editor-playhead", visibility: "hidden" }, svg);
  const band = make("rect", { class: "mw-editor-band", visibility: "hidden" }, svg);

  let notes = []; // [voice, pitch, start, duration], this page's copy
  let rects = new Map(); // note array -> its <rect>
  let chosen = null; // the selected note (edit mode)
  let drag = null;
  let seq = 0; // edits sent
  let g = {}; // the grid
  let gridShown; // the grid trait drawn (a new value: everything is drawn again)
  let stepW = 10;
  let headStep = null; // the linked player's step, while its playhead shows
  let headSeconds = 0; // ... and its time
  let localMessage = "";

  // ---- geometry
  const x = (step) => GUTTER + step * stepW;
  const y = (pitch) => TOP + (g.high - pitch) * ROW;
  const stepAt = (px) => Math.floor((px - GUTTER) / stepW);
  const pitchAt = (py) => g.high - Math.floor((py - TOP) / ROW);
  const barOf = (step) => (step < g.pickup ? -1 : Math.floor((step - g.pickup) / g.steps_per_bar));
  const barStart = (bar) => (bar < 0 ? 0 : g.pickup + bar * g.steps_per_bar);
  const nBars = () => Math.max(0, Math.ceil((g.steps - g.pickup) / g.steps_per_bar));

  function point(event) {
    const box = svg.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  // ---- drawing
  function fitStep() {
    // the whole piece in the width on show (no sideways scrolling: a long take gets narrower bars), at most 24 px
    const room = Math.max(100, (scroll.clientWidth || 900) - GUTTER - 4);
    return Math.min(24, room / Math.max(1, g.steps || 1));
  }

  function drawBack() {
    back.replaceChildren();
    if (!g.steps) {
      svg.setAttribute("width", 0);
      svg.setAttribute("height", 0);
      return;
    }
    stepW = fitStep();
    const width = Math.floor(x(g.steps) + 2);
    const height = y(g.low - 1) + 2;
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    for (let p = g.low; p <= g.high; p++) {
      make("rect", { x: GUTTER, y: y(p), width: g.steps * stepW, height: ROW, class: BLACK.has(p % 12) ? "mw-row-black" : "mw-row" }, back);
      if (p % 12 === 0) {
        const label = make("text", { x: GUTTER - 3, y: y(p) + ROW - 1, class: "mw-pitch-label" }, back);
        label.textContent = `${NAMES[p % 12]}${Math.floor(p / 12) - 1}`;
      }
    }
    for (let s = g.pickup % g.beat; s <= g.steps; s += g.beat) {
      make("line", { x1: x(s), x2: x(s), y1: TOP, y2: y(g.low - 1), class: "mw-beat-line" }, back);
    }
    const ruler = make("rect", { x: GUTTER, y: 0, width: g.steps * stepW, height: TOP, class: "mw-editor-ruler" }, back);
    if (model.get("link")) make("title", {}, ruler).textContent = "click a bar number to move the sound there";
    const every = Math.ceil(24 / (g.steps_per_bar * stepW)); // a bar number every bar, or every few bars if narrow
    for (let b = g.pickup ? -1 : 0; b <= nBars(); b++) {
      const s = b < 0 ? 0 : barStart(b);
      if (b >= 0) make("line", { x1: x(s), x2: x(s), y1: TOP, y2: y(g.low - 1), class: "mw-bar-line" }, back);
      if (b < nBars() && (b < 0 ? g.pickup * stepW >= 40 : b % every === 0)) {
        const label = make("text", { x: x(s) + 2, y: TOP - 4, class: "mw-bar-label" }, back);
        label.textContent = b < 0 ? "pickup" : String(b + 1);
      }
    }
    head.setAttribute("y1", 0);
    head.setAttribute("y2", y(g.low - 1));
  }

  function drawHead() {
    const on = headStep !== null && g.steps > 0;
    head.setAttribute("visibility", on ? "visible" : "hidden");
    if (!on) return;
    const px = x(clamp(headStep, 0, g.steps));
    head.setAttribute("x1", px);
    head.setAttribute("x2", px);
    head.dataset.step = headStep.toFixed(3);
    head.dataset.seconds = headSeconds.toFixed(3);
  }

  function drawMarks() {
    rings.replaceChildren();
    if (!g.steps) return;
    for (const [step, pitch] of model.get("marks") || []) {
      const note = notes.find((n) => n[2] === step && n[1] === pitch);
      const w = note ? Math.max(2, note[3] * stepW) : stepW;
      make("ellipse", { cx: x(step) + w / 2, cy: y(pitch) + ROW / 2, rx: w / 2 + 3, ry: ROW, class: "mw-mark" }, rings);
    }
  }

  function colour(voice) {
    const v = (g.voices || [])[voice];
    return v ? v.color : "#555";
  }

  function place(rect, note) {
    rect.setAttribute("x", x(note[2]) + 0.5);
    rect.setAttribute("y", y(note[1]) + 0.5);
    rect.setAttribute("width", Math.max(2, note[3] * stepW - 1));
    rect.setAttribute("height", ROW - 1);
  }

  function addRect(note) {
    const rect = make("rect", { class: "mw-note", fill: colour(note[0]), "data-voice": note[0] }, layer);
    place(rect, note);
    rects.set(note, rect);
    return rect;
  }

  function drawNotes() {
    layer.replaceChildren();
    rects = new Map();
    if (g.steps) for (const note of notes) addRect(note); // (no grid, no rows to place a note on)
    if (chosen) {
      chosen = notes.find((n) => n[0] === chosen[0] && n[2] === chosen[2] && n[1] === chosen[1]) || null;
    }
    markChosen();
    drawSelection();
    drawMarks();
    drawHead();
  }

  function markChosen() {
    for (const [note, rect] of rects) rect.classList.toggle("mw-note-chosen", note === chosen);
    deleteButton.disabled = !chosen || model.get("mode") !== "edit";
  }

  function drawSelection() {
    shade.replaceChildren();
    const sel = model.get("selection") || {};
    const bars = model.get("mode") === "edit" ? null : sel.bars; // Edit mode: no selection (Python clears it too)
    const voices = new Set(sel.voices || []);
    let words = "";
    if (bars && g.steps) {
      const s0 = barStart(bars[0]);
      const s1 = Math.min(g.steps, barStart(bars[1]));
      make("rect", { x: x(s0), y: TOP, width: (s1 - s0) * stepW, height: y(g.low - 1) - TOP, class: "mw-selection" }, shade);
      for (const [note, rect] of rects) {
        const inside = voices.has(note[0]) && note[2] < s1 && note[2] + note[3] > s0;
        rect.classList.toggle("mw-note-selected", inside);
      }
      const names = [...voices].sort().map((v) => (g.voices[v] || {}).name);
      const first = bars[0] < 0 ? "pickup" : bars[0] + 1;
      const last = bars[1] - 1 < 0 ? "pickup" : bars[1];
      words = `Selected: ${first === last ? `bar ${first}` : `bars ${first}-${last}`} · ${names.join(", ")}`;
    } else {
      for (const rect of rects.values()) rect.classList.remove("mw-note-selected");
      words = model.get("mode") === "select" && g.steps ? "Drag over the roll to select bars and voices." : "";
    }
    selectedText.textContent = words;
    drawLegend();
  }

  function drawLegend() {
    legend.replaceChildren();
    const mode = model.get("mode");
    const sel = model.get("selection") || {};
    const voices = new Set(sel.voices || []);
    (g.voices || []).forEach((v, i) => {
      const chip = document.createElement("button");
      chip.className = "mw-voice";
      chip.dataset.voice = i;
      chip.style.setProperty("--mw-voice", v.color);
      chip.textContent = v.name;
      const on = mode === "edit" ? model.get("voice") === i : voices.has(i);
      chip.classList.toggle("mw-voice-on", on);
      chip.title = mode === "edit" ? `add notes to the ${v.name}` : `add or remove the ${v.name} from the selection`;
      chip.addEventListener("click", () => toggleVoice(i));
      legend.appendChild(chip);
    });
  }

  function drawMessage() {
    const text = localMessage || model.get("message") || (model.get("pending") ? "The take is being made…" : "");
    messageText.textContent = text;
    messageText.classList.toggle("mw-editor-warning", text.startsWith("⚠"));
  }

  function drawTools() {
    const edit = model.get("mode") === "edit";
    root.classList.toggle("mw-mode-edit", edit);
    root.classList.toggle("mw-mode-select", !edit);
    root.classList.toggle("mw-pending", !!model.get("pending"));
    undoButton.disabled = !(model.get("can_undo") || seq > model.get("ack"));
    redoButton.disabled = !model.get("can_redo");
    markChosen();
  }

  const key = (n) => n.join(",");

  function fromModel() {
    const incoming = model.get("notes") || [];
    if (incoming.length === notes.length && rects.size === notes.length) {
      const here = new Set(notes.map(key));
      if (incoming.every((n) => here.has(key(n)))) return; // what is drawn already (an edit Python accepted)
    }
    notes = incoming.map((n) => n.slice());
    drawNotes();
  }

  function drawAll() {
    gridShown = model.get("grid");
    g = gridShown || {};
    drawBack();
    notes = [];
    fromModel();
    drawTools();
    drawMessage();
  }

  // ---- talking to Python
  function send(content) {
    if (content.type !== "edit") say(""); // Undo and Redo take the page's own warning away with the edit
    seq += 1;
    model.send({ ...content, seq });
    drawTools();
  }

  function say(text) {
    localMessage = text;
    drawMessage();
  }

  function clash(voice, start, duration, except) {
    return notes.find((n) => n !== except && n[0] === voice && n[2] < start + duration && start < n[2] + n[3]);
  }

  function commit(old, note) {
    say("");
    send({ type: "edit", old, new: note ? note.slice() : null });
  }

  // ---- edit mode
  function addAt(step, pitch) {
    const voice = model.get("voice");
    if (step < 0 || step >= g.steps || pitch < g.low || pitch > g.high) return;
    if (clash(voice, step, 1)) {
      say(`⚠ the ${(g.voices[voice] || {}).name} already sings there: one note at a time in a voice`);
      return;
    }
    const next = notes.filter((n) => n[0] === voice && n[2] > step).reduce((m, n) => Math.min(m, n[2]), g.steps);
    const note = [voice, pitch, step, Math.max(1, Math.min(g.length, next - step))];
    notes.push(note);
    addRect(note);
    chosen = note;
    markChosen();
    commit(null, note);
  }

  function removeChosen() {
    if (!chosen) return;
    const note = chosen;
    notes = notes.filter((n) => n !== note);
    rects.get(note)?.remove();
    rects.delete(note);
    chosen = null;
    markChosen();
    commit(note.slice(), null);
  }

  function onDown(event) {
    if (!g.steps || event.button !== 0) return;
    root.focus({ preventScroll: true });
    const [px, py] = point(event);
    if (py < TOP) {
      seekTo(barStart(barOf(clamp(stepAt(px), 0, g.steps - 1))));
      event.preventDefault();
      return;
    }
    if (model.get("pending")) return; // the take is being made: nothing to select or edit yet
    if (model.get("mode") === "edit") {
      const target = event.target.classList && event.target.classList.contains("mw-note") ? event.target : null;
      const note = target && [...rects].find(([, r]) => r === target)?.[0];
      if (note) {
        chosen = note;
        markChosen();
        const right = x(note[2] + note[3]);
        const edge = Math.min(EDGE, (note[3] * stepW) / 3);
        drag = { kind: right - px <= edge ? "resize" : "move", note, orig: note.slice(), px, py, moved: false };
        capture(svg, event, true);
      } else {
        chosen = null;
        addAt(stepAt(px), pitchAt(py));
      }
      event.preventDefault();
      return;
    }
    drag = { kind: "band", px, py, moved: false };
    capture(svg, event, true);
    event.preventDefault();
  }

  function onMove(event) {
    if (!drag) return;
    const [px, py] = point(event);
    if (Math.abs(px - drag.px) + Math.abs(py - drag.py) > 3) drag.moved = true;
    if (drag.kind === "band") {
      band.setAttribute("visibility", "visible");
      band.setAttribute("x", Math.min(px, drag.px));
      band.setAttribute("y", Math.min(py, drag.py));
      band.setAttribute("width", Math.abs(px - drag.px));
      band.setAttribute("height", Math.abs(py - drag.py));
      return;
    }
    const note = drag.note;
    const o = drag.orig;
    const dStep = Math.round((px - drag.px) / stepW);
    const dPitch = -Math.round((py - drag.py) / ROW);
    if (drag.kind === "move") {
      note[2] = clamp(o[2] + dStep, 0, g.steps - o[3]);
      note[1] = clamp(o[1] + dPitch, g.low, g.high);
    } else {
      note[3] = clamp(o[3] + dStep, 1, g.steps - o[2]);
    }
    place(rects.get(note), note);
  }

  function onUp(event) {
    if (!drag) return;
    const d = drag;
    drag = null;
    capture(svg, event, false);
    if (d.kind === "band") {
      band.setAttribute("visibility", "hidden");
      const [px, py] = point(event);
      selectBand(d.px, d.py, px, py, d.moved);
      return;
    }
    const note = d.note;
    const same = note[1] === d.orig[1] && note[2] === d.orig[2] && note[3] === d.orig[3];
    if (same) return;
    if (clash(note[0], note[2], note[3], note)) {
      note.splice(0, 4, ...d.orig);
      place(rects.get(note), note);
      say(`⚠ the ${(g.voices[note[0]] || {}).name} already sings there: one note at a time in a voice`);
      return;
    }
    commit(d.orig, note);
  }

  // ---- select mode
  function selectBand(x0, y0, x1, y1, moved) {
    const s0 = clamp(stepAt(Math.min(x0, x1)), 0, g.steps - 1);
    const s1 = clamp(stepAt(Math.max(x0, x1)), 0, g.steps - 1);
    const b0 = barOf(s0);
    const b1 = barOf(s1);
    let voices;
    if (moved) {
      const hi = pitchAt(Math.min(y0, y1));
      const lo = pitchAt(Math.max(y0, y1));
      const t0 = barStart(b0);
      const t1 = barStart(b1 + 1);
      voices = [...new Set(notes.filter((n) => n[1] >= lo && n[1] <= hi && n[2] < t1 && n[2] + n[3] > t0).map((n) => n[0]))];
    } else {
      const hit = notes.find((n) => n[2] <= s0 && s0 < n[2] + n[3] && n[1] === pitchAt(y0));
      voices = hit ? [hit[0]] : [];
    }
    if (!voices.length) voices = (g.voices || []).map((_, i) => i);
    setSelection({ bars: [b0, b1 + 1], voices: voices.sort() });
  }

  function setSelection(sel) {
    model.set("selection", sel);
    model.save_changes();
    drawSelection();
  }

  function toggleVoice(i) {
    if (model.get("mode") === "edit") {
      model.set("voice", i);
      model.save_changes();
      drawLegend();
      return;
    }
    const sel = model.get("selection") || {};
    if (!sel.bars) {
      setSelection({ bars: [g.pickup ? -1 : 0, nBars()], voices: [i] });
      return;
    }
    const voices = new Set(sel.voices || []);
    if (voices.has(i)) voices.delete(i);
    else voices.add(i);
    if (!voices.size) setSelection({});
    else setSelection({ bars: sel.bars, voices: [...voices].sort() });
  }

  // ---- the linked player
  function seekTo(step) {
    const link = model.get("link");
    if (link) window.dispatchEvent(new CustomEvent("musewidgets:seek", { detail: { link, step } }));
  }

  function onPlayhead(event) {
    const d = event.detail || {};
    if (!d.link || d.link !== model.get("link")) return;
    headStep = d.shown && Number.isFinite(d.step) ? d.step : null;
    headSeconds = d.seconds || 0;
    drawHead();
  }

  // ---- keys and buttons
  function onKey(event) {
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    let handled = true;
    if (mod && (key === "z" || key === "Z")) send({ type: event.shiftKey ? "redo" : "undo" });
    else if (mod && (key === "y" || key === "Y")) send({ type: "redo" });
    else if ((key === "Delete" || key === "Backspace") && model.get("mode") === "edit" && chosen) removeChosen();
    else if (key === "Escape") {
      chosen = null;
      markChosen();
    } else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  svg.addEventListener("pointerdown", onDown);
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerup", onUp);
  svg.addEventListener("pointercancel", onUp);
  root.addEventListener("keydown", onKey);
  undoButton.addEventListener("click", () => send({ type: "undo" }));
  redoButton.addEventListener("click", () => send({ type: "redo" }));
  deleteButton.addEventListener("click", removeChosen);

  // ---- from Python
  function newGrid() {
    // a new piece: the grid and the notes may come in either order, and a note is placed on the grid it belongs to
    if (model.get("grid") === gridShown) return false;
    chosen = null;
    localMessage = "";
    drawAll();
    return true;
  }
  const onNotes = () => {
    if (newGrid()) return;
    if (model.get("ack") >= seq) fromModel(); // every edit sent has its answer: draw Python's notes
    drawTools();
  };
  const onGrid = newGrid;
  const onMode = () => {
    chosen = null;
    drawTools();
    drawSelection();
  };
  const onAck = () => {
    if (model.get("ack") >= seq) fromModel();
    drawTools();
  };
  const onMessage = () => {
    localMessage = "";
    drawMessage();
  };
  const handlers = {
    "change:notes": onNotes,
    "change:grid": onGrid,
    "change:mode": onMode,
    "change:selection": drawSelection,
    "change:voice": drawLegend,
    "change:ack": onAck,
    "change:message": onMessage,
    "change:can_undo": drawTools,
    "change:can_redo": drawTools,
    "change:marks": drawMarks,
    "change:pending": () => {
      drawTools();
      drawMessage();
    },
  };
  for (const [name, fn] of Object.entries(handlers)) model.on(name, fn);
  window.addEventListener("musewidgets:playhead", onPlayhead);
  drawAll();
  // a wider or narrower page: steps fit the width again
  const resized = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => {
    if (g.steps && fitStep() !== stepW && !drag) {
      drawBack();
      drawNotes();
    }
  });
  resized?.observe(scroll);
  return () => {
    resized?.disconnect();
    window.removeEventListener("musewidgets:playhead", onPlayhead);
    for (const [name, fn] of Object.entries(handlers)) model.off(name, fn);
  };
}

export default { render };
