"""The Workbench in a real browser: JupyterLab 4, Notebook 7 and Voila, in Debian's Chromium, driven by playwright.

One Jupyter server (with the Notebook 7 and Voila server extensions) serves a copy of ``notebooks/``. For each front
end the test opens the quickstart notebook, runs it, presses **Generate** and checks what a user sees: every control
shown in full (the key menu shows "any", a 10-digit seed every digit, no button's words cut off); the take drawn once,
on the roll editor, which fits its box without sideways scrolling, engraved (verovio SVG) with every system in view
and the tenor's octave treble clef, and playable (an ``<audio>`` element with a WAV behind it); the playhead
(``.mw-editor-playhead``) moving over the roll while the audio plays, standing still when paused, and a click on a bar
number moving the sound there; the progress line ("bar k of N") during a long take; after selecting an older take,
every view showing that take; and in JupyterLab, **Continue** and **Harmonize** (the tenor's clef again),
**Analyse** opening the analysis panel and **Like** acknowledged (♥), and on the roll editor a selection of bars,
**Regenerate** making a new take, Edit mode clearing the selection, and hand edits (Delete, a click, Ctrl+Z) making
one, a refused edit's warning gone with its Undo. Not one console error of ours, from opening the page to the end
(the front end's own, which it shows with an empty notebook too, are told apart: ``jupyter_page.ours``). The server
and the browser come from ``tests/jupyter_page.py``. Screenshots go to ``out/screenshots/``
(``MUSEWIDGETS_SCREENSHOT_DIR`` to change it); ``make screenshot`` writes them to ``docs/`` for the README. Nothing
tracked is written by a plain test run.

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests are skipped, except on CI (``CI=true``),
which installs Chromium, so there a missing browser is a failure. Timeouts are generous limits for a loaded machine,
never measurements: nothing here asserts how fast anything is.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from .jupyter_page import (
    TAKE_S,
    front_end_errors,
    open_and_run,
    ours,
    record_errors,
    screenshot_dir,
    serve,
    take_number,
    wait_until,
)

SCREENSHOTS = {"lab": "workbench.png", "notebook7": "workbench-notebook7.png", "voila": "workbench-voila.png"}

SEED = 1416484900  # a seed of ten digits: every digit shows (issue 33: eight did)
TREBLE_8VB = "E052"  # SMuFL's octave treble clef (verovio: E050 treble, E062 bass)

# Labels the Workbench always shows in full (primer bars only appear with a primer).
ALWAYS_SHOWN_LABELS = (
    "temperature",
    "top-k (0 off)",
    "top-p (1 off)",
    "bars",
    "tempo (qpm)",
    "candidates",
    "continue by",
)

# The size in bytes of what a blob:/data: URL holds (0 when it cannot be read).
URL_SIZE_JS = """async (url) => {
    try { return (await (await fetch(url)).blob()).size; } catch (e) { return 0; }
}"""

# Everything the progress line says from now on (it changes many times during one take).
WATCH_PROGRESS_JS = """(root) => {
    window.__mwProgress = [];
    const progress = root.querySelector('.mw-progress');
    const record = () => window.__mwProgress.push(progress.innerText);
    new MutationObserver(record).observe(progress, {subtree: true, childList: true, characterData: true,
                                                     attributes: true});
}"""


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """One Jupyter server and Chromium for the three front ends: (browser, base URL, token, temporary folder)."""
    tmp = tmp_path_factory.mktemp("browser")
    with serve(tmp) as (browser, base, token):
        yield browser, base, token, tmp


# ----------------------------------------------------------------------------- opening the notebook


def _generate(page, workbench, *, what: str = "a new take") -> int:
    """Press Generate and wait until the status line announces a new take and every view shows it; its number."""
    status = workbench.locator(".mw-status")
    before = take_number(status.inner_text()) or 0
    button = workbench.locator("button.widget-button", has_text="Generate").first
    button.scroll_into_view_if_needed()
    button.click()

    def new_take():
        text = status.inner_text()
        assert "⚠" not in text, f"the Workbench reported an error: {text}"
        number = take_number(text)
        return number if number is not None and number > before else None

    number = wait_until(new_take, TAKE_S, what)
    wait_until(lambda: _views_show(workbench, number), TAKE_S, f"every view to show take #{number}")
    return number


def _views_show(workbench, number: int) -> bool:
    """The take view is ready (sound, score), its caption names take ``number``, and the roll editor (the one roll)
    shows a finished take's notes."""
    view = workbench.locator(".mw-takeview").first
    if not view.count() or view.get_attribute("data-state") != "ready":
        return False
    caption = view.locator(".mw-caption").inner_text()
    editor = workbench.locator(".mw-editor").first
    return (
        take_number(caption.replace("#", "Take #", 1)) == number
        and view.locator(".mw-score svg .note").count() > 0
        and editor.locator(".mw-note").count() > 0
        and "mw-pending" not in (editor.get_attribute("class") or "")
        and bool(view.locator("audio").get_attribute("src"))
    )


# ----------------------------------------------------------------------------- what the user sees


# The words of every visible button and label that do not fit it (cut off, "Find similar pi...").
CUT_WORDS_JS = """(root) => [...root.querySelectorAll('button, label.widget-label')]
    .filter((b) => b.offsetParent && b.scrollWidth > b.clientWidth + 1).map((b) => b.innerText)"""


# The menus (one-line selects) that show nothing chosen (issue 33: the key menu, selectedIndex -1).
BLANK_MENUS_JS = """(root) => [...root.querySelectorAll('select')]
    .filter((s) => s.offsetParent && s.size <= 1 && s.options.length && s.selectedIndex < 0)
    .map((s) => s.closest('.widget-inline-hbox')?.innerText || s.outerHTML.slice(0, 80))"""


def _control(workbench, label: str, what: str):
    """The ``what`` element (select, input) of the control whose description is ``label``."""
    row = workbench.locator(".widget-inline-hbox", has=workbench.page.locator(f"label:text-is('{label}')")).first
    return row.locator(what).first


def _check_controls_visible(workbench) -> None:
    def slider(label):
        return workbench.locator(".widget-slider", has=workbench.page.locator(f"label:text-is('{label}')")).first

    hidden = [label for label in ALWAYS_SHOWN_LABELS if not slider(label).is_visible()]
    assert not hidden, f"Workbench controls are not displayed: {', '.join(hidden)}"
    cut = workbench.evaluate(CUT_WORDS_JS)
    assert not cut, f"labels or buttons cut off: {cut}"
    blank = workbench.evaluate(BLANK_MENUS_JS)
    assert not blank, f"menus that show no choice: {blank}"
    # the key menu shows its choice, "any", not a blank (issue 33: selectedIndex -1)
    index, text = _control(workbench, "key", "select").evaluate("(s) => [s.selectedIndex, s.selectedOptions[0]?.text]")
    assert index >= 0 and text and text.replace("\xa0", " ").startswith("any"), (index, text)
    # a seed of ten digits shows every digit (issue 33: 80 px showed eight)
    seed = _control(workbench, "seed", "input")
    seed.fill(str(SEED))
    seed.press("Enter")
    fit = seed.evaluate("(i) => [i.value, i.scrollWidth, i.clientWidth]")
    assert fit[0] == str(SEED) and fit[1] <= fit[2], f"the seed's box cuts it: (value, scrollWidth, clientWidth) {fit}"


# The score's box against its systems: every system inside the box, nothing to scroll down to.
SCORE_BOX_JS = """(s) => { const box = s.getBoundingClientRect();
    const systems = [...s.querySelectorAll('g.system')].map((g) => g.getBoundingClientRect());
    return {systems: systems.length, scrollHeight: s.scrollHeight, clientHeight: s.clientHeight,
            below: systems.filter((r) => r.bottom > box.bottom + 1 || r.top < box.top - 1).length,
            sideways: s.scrollWidth > s.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(s).overflowX)};
}"""

# The roll editor against its box: the whole take fits, nothing to scroll sideways to.
ROLL_BOX_JS = """(e) => { const box = e.querySelector('.mw-editor-scroll'), svg = e.querySelector('svg.mw-editor-svg');
    const lines = [...e.querySelectorAll('.mw-bar-line')].map((l) => parseFloat(l.getAttribute('x1')));
    return {scrollWidth: box.scrollWidth, clientWidth: box.clientWidth, svgWidth: svg.getBoundingClientRect().width,
            lastBarLine: Math.max(...lines), bars: lines.length, notes: e.querySelectorAll('.mw-note').length,
            nan: [...e.querySelectorAll('rect')].filter((r) => /NaN/.test(r.getAttribute('y') || '')).length};
}"""

# The clefs of every system of the score, top to bottom (SMuFL glyph names).
CLEFS_JS = """(s) => [...s.querySelectorAll('g.system')].map((g) =>
    [...g.querySelectorAll('g.clef use')].map((u) => (u.getAttribute('xlink:href') || u.getAttribute('href') || '')
        .replace('#', '').split('-')[0]))"""


def _check_take(page, workbench) -> dict:
    """The selected take is heard (a WAV), engraved with every system in view and the tenor's clef, and drawn once,
    on the roll editor, which fits its box."""
    view = workbench.locator(".mw-takeview").first
    audio = view.locator("audio")
    size = page.evaluate(URL_SIZE_JS, audio.get_attribute("src"))
    assert size > 44, f"the player's WAV is empty ({size} bytes)"
    notes = view.locator(".mw-score svg .note").count()
    rests = view.locator(".mw-score svg .rest").count()
    assert notes > 0
    score = view.locator(".mw-score").evaluate(SCORE_BOX_JS)
    assert score["systems"] >= 1 and not score["sideways"], f"the engraved score is clipped: {score}"
    assert score["scrollHeight"] <= score["clientHeight"] + 1 and not score["below"], f"systems hidden: {score}"
    _check_tenor_clefs(view)
    # one roll: the editor's (the view draws none), the whole take in the width of its box
    assert not view.locator(".mw-roll").is_visible(), "two piano rolls: the view draws one above the editor"
    roll = workbench.locator(".mw-editor").first.evaluate(ROLL_BOX_JS)
    assert roll["notes"] > 0 and not roll["nan"], roll
    assert roll["scrollWidth"] <= roll["clientWidth"] and roll["lastBarLine"] <= roll["clientWidth"], roll
    return {"wav_bytes": size, "notes": notes, "rests": rests, "systems": score["systems"], "roll": roll}


def _check_tenor_clefs(view) -> None:
    """Every tenor staff (the third of four) has the octave treble clef, in every system (issue 33: a Continue of a
    take with it had a plain treble clef, and so had harmonized takes)."""
    systems = view.locator(".mw-score").evaluate(CLEFS_JS)
    assert systems and all(len(clefs) == 4 for clefs in systems), f"not four staves in every system: {systems}"
    assert all(clefs[2] == TREBLE_8VB for clefs in systems), f"a tenor staff without its octave treble clef: {systems}"


def _playhead(workbench) -> dict:
    """Where the sound is, and where the roll editor's playhead stands."""
    return workbench.evaluate(
        """(r) => { const v = r.querySelector('.mw-takeview'), a = v.querySelector('audio');
                   const h = r.querySelector('.mw-editor-playhead');
                   return {t: a.currentTime, shown: parseFloat(h.dataset.seconds || '0'), paused: a.paused,
                           x: parseFloat(h.getAttribute('x1') || '0'), visible: h.getAttribute('visibility'),
                           measure: v.querySelectorAll('g.measure.mw-current').length}; }"""
    )


def _check_playhead(page, workbench) -> dict:
    """Play: the roll's playhead moves, in step with the audio, and a measure is lit; pause: it stands; a click on a
    bar number moves the sound to that bar."""
    view = workbench.locator(".mw-takeview").first
    audio = view.locator("audio")
    audio.evaluate("(a) => { a.currentTime = 0; return a.play(); }")
    wait_until(lambda: _playhead(workbench)["t"] > 0.4, 30, "the audio to play")
    first = _playhead(workbench)
    page.wait_for_timeout(400)
    second = _playhead(workbench)
    assert not second["paused"], "the audio stopped by itself"
    assert second["visible"] == "visible", f"no playhead on the roll while playing: {second}"
    assert second["x"] > first["x"], f"the playhead did not move while playing: {first} -> {second}"
    assert abs(second["t"] - second["shown"]) <= 0.05, f"the playhead lags the audio by more than 50 ms: {second}"
    assert second["measure"] >= 1, "no measure of the score is highlighted while playing"
    audio.evaluate("(a) => a.pause()")
    paused = _playhead(workbench)
    page.wait_for_timeout(500)
    still = _playhead(workbench)
    assert still["x"] == paused["x"] and still["t"] == paused["t"], "the playhead moved while paused"
    # a click on the number of bar 5 moves the sound to its bar line
    editor = workbench.locator(".mw-editor").first
    label = editor.locator(".mw-bar-label", has_text=re.compile(r"^5$")).first
    label.scroll_into_view_if_needed()
    box = label.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_until(lambda: abs(_playhead(workbench)["t"] - still["t"]) > 0.5, 10, "a click on bar 5 to move the sound")
    seeked = _playhead(workbench)
    line = editor.locator(".mw-bar-line").evaluate_all("(ls) => ls.map((l) => parseFloat(l.getAttribute('x1')))")
    bar5 = sorted(line)[4]  # the bar lines of bars 1, 2, 3, 4, 5 ...
    assert seeked["paused"] and abs(seeked["x"] - bar5) <= 2, f"bar 5 is at x={bar5}: {seeked}"
    return {"moved_px": round(second["x"] - first["x"], 1), "seeked_to_s": round(seeked["t"], 2)}


def _set_slider(workbench, label: str, value: int) -> None:
    """Type a value into a slider's readout, as a user can."""
    slider = workbench.locator(".widget-slider", has=workbench.page.locator(f"label:text-is('{label}')")).first
    readout = slider.locator(".widget-readout")
    readout.click()
    readout.press("Control+a")
    readout.type(str(value))
    readout.press("Enter")


def _check_progress(page, workbench, bars: int = 64) -> list[str]:
    """A long take shows 'bar k of N' while it is sampled."""
    _set_slider(workbench, "bars", bars)
    workbench.evaluate(WATCH_PROGRESS_JS)
    number = _generate(page, workbench, what=f"a take of {bars} bars")
    seen = page.evaluate("() => window.__mwProgress")
    counts = [int(m.group(1)) for text in seen for m in [re.search(rf"bar (\d+) of {bars}\b", text)] if m]
    assert counts and min(counts) < bars, f"no 'bar k of {bars}' progress seen for take #{number}: {seen[:5]}"
    roll = workbench.locator(".mw-editor").first.evaluate(ROLL_BOX_JS)  # a long take fits the width too
    assert roll["scrollWidth"] <= roll["clientWidth"] and roll["lastBarLine"] <= roll["clientWidth"], roll
    _set_slider(workbench, "bars", 8)
    return seen


def _select_take(workbench, number: int) -> None:
    """Select take ``number`` in the takes list, as a user does, and wait until every view shows it."""
    select = workbench.locator(".mw-takes select").first
    option = select.locator("option", has_text=re.compile(rf"^[^#]*#{number}\b"))  # its own number, not a parent's
    select.select_option(value=option.first.get_attribute("value"))
    wait_until(lambda: _views_show(workbench, number), TAKE_S, f"the views to show the selected take #{number}")


def _check_selection_drives_the_views(page, workbench, older: int, newer: int) -> None:
    """Select the older take, star it, compare: every view shows the selected take."""
    _select_take(workbench, older)
    workbench.locator("button.widget-button", has_text="Star").first.click()
    page.wait_for_timeout(300)
    assert _views_show(workbench, older), "starring a take changed what the views show"
    _select_take(workbench, newer)


def _check_continue_and_harmonize(page, workbench) -> dict:
    """Continue, then Harmonize a melody: each a new take whose tenor has the tenor's clef (issue 33)."""
    status = workbench.locator(".mw-status").first
    made = {}
    for what, button in (("continued", "Continue"), ("harmonized", "Harmonize")):
        before = take_number(status.inner_text()) or 0
        if button == "Harmonize":
            workbench.locator("textarea").first.fill("F G A F | B A G2 | A B c A | G F F2 |]")
        workbench.locator("button.widget-button", has_text=button).first.click()

        def done(before=before):
            text = status.inner_text()
            assert "⚠" not in text, f"the Workbench reported an error: {text}"
            number = take_number(text)
            return number if number is not None and number > before else None

        number = wait_until(done, TAKE_S, f"{button} to make a take")
        wait_until(lambda n=number: _views_show(workbench, n), TAKE_S, f"every view to show take #{number}")
        _check_take(page, workbench)  # the tenor's clef, every system in view, the roll fitting its box
        made[what] = number
    return made


def _check_analysis(page, workbench) -> None:
    """Analyse opens the panel (style, a mood that says it is an estimate, faults, "Find similar pieces" in full);
    Like marks the take with a heart every font has."""
    workbench.locator("button.widget-toggle-button", has_text="Analyse").first.click()
    panel = workbench.locator(".mw-analysis").first

    def shown():
        text = panel.inner_text() if panel.is_visible() else ""
        return "Style" in text and "rule-based estimate" in text and "Voice-leading faults" in text

    wait_until(shown, TAKE_S, "the analysis panel to show style, mood and faults")
    cut = workbench.evaluate(CUT_WORDS_JS)
    assert not cut, f"labels or buttons cut off: {cut}"
    workbench.locator("button.widget-button", has_text="Like").first.click()
    status = workbench.locator(".mw-status").first
    wait_until(lambda: "liked" in status.inner_text(), TAKE_S, "Like to be acknowledged in the status line")
    options = _take_options(workbench)
    assert any(o.startswith("♥ ") for o in options), f"the liked take shows no heart: {options}"
    assert not re.search("[\U0001f000-\U0001ffff]", "".join(options)), f"an emoji in the takes list: {options}"
    workbench.locator("button.widget-toggle-button", has_text="Analyse").first.click()
    wait_until(lambda: not panel.is_visible(), TAKE_S, "the analysis panel to close")


def _notes_on_roll(workbench) -> int:
    return workbench.locator(".mw-editor .mw-note").count()


# The index of a soprano note on show whose left end no other note covers (voices cross and share notes).
FREE_SOPRANO_NOTE_JS = """(root) => {
    const rects = [...root.querySelectorAll(".mw-note[data-voice='0']")];
    for (let i = 1; i < rects.length; i++) {
        const b = rects[i].getBoundingClientRect();
        if (b.width >= 8 && document.elementFromPoint(b.left + 2, b.top + b.height / 2) === rects[i]) return i;
    }
    return -1;
}"""


# A place on the roll, in page pixels, where no note is drawn but the soprano sings (four rows above or below one
# of its notes): a click there is refused.
CLASH_SPOT_JS = """(root) => {
    for (const r of root.querySelectorAll(".mw-note[data-voice='0']")) {
        const b = r.getBoundingClientRect();
        if (b.width < 6) continue;
        for (const dy of [-32, 32, -40, 40, -48, 48]) {
            const x = b.left + b.width / 2, y = b.top + b.height / 2 + dy;
            const hit = document.elementFromPoint(x, y);
            if (hit && !hit.classList.contains('mw-note') && hit.closest('.mw-editor-svg') && y > b.height * 3)
                return {x, y};
        }
    }
    return null;
}"""


def _take_options(workbench) -> list[str]:
    """The labels in the take list, newest first."""
    options = workbench.locator(".mw-takes select").first.locator("option").all_inner_texts()
    return [o.replace("\xa0", " ") for o in options]


def _check_compose(page, workbench) -> dict:
    """Select bars on the roll editor, press Regenerate: a new take; then in Edit mode delete a note (Delete key) and
    add one (a click): the roll changes at once, the edit is a new take that names its parent, and the views follow."""
    status = workbench.locator(".mw-status").first
    editor = workbench.locator(".mw-editor").first
    editor.scroll_into_view_if_needed()
    wait_until(lambda: _notes_on_roll(workbench) > 0, TAKE_S, "the roll editor to draw the take")
    parent = take_number(status.inner_text())
    # select: drag across the second bar, over every pitch
    svg = editor.locator("svg.mw-editor-svg")
    box = svg.bounding_box()
    lines = editor.locator(".mw-bar-line").evaluate_all("(ls) => ls.map((l) => parseFloat(l.getAttribute('x1')))")
    assert len(lines) >= 3, f"bar lines missing on the roll: {lines}"
    x0, x1 = box["x"] + lines[1] + 3, box["x"] + lines[2] - 3
    page.mouse.move(x0, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(x1, box["y"] + box["height"] - 4, steps=6)
    page.mouse.up()
    selected = editor.locator(".mw-editor-selected")
    wait_until(lambda: "Selected: bar 2" in selected.inner_text(), 30, "the selection to show under the roll")
    wait_until(lambda: editor.locator(".mw-note-selected").count() > 0, 30, "the selected notes to be marked")
    workbench.locator("button.widget-button", has_text="Regenerate").first.click()

    def regenerated():
        text = status.inner_text()
        assert "⚠" not in text, f"the Workbench reported an error: {text}"
        number = take_number(text)
        return number if number is not None and number > (parent or 0) and "regenerated" in text else None

    made = wait_until(regenerated, TAKE_S, "Regenerate to make a new take")
    options = _take_options(workbench)
    assert any(re.search(rf"#{made} regenerate bar 2 .* of #{parent}\b", o) for o in options), options
    wait_until(lambda: _views_show(workbench, made), TAKE_S, f"the views to show take #{made}")
    # edit: pick a soprano note, delete it with the Delete key, add it back with a click where it was
    workbench.locator("button.widget-toggle-button", has_text="Edit").first.click()
    wait_until(lambda: "mw-mode-edit" in (editor.get_attribute("class") or ""), 30, "the editor to be in Edit mode")
    wait_until(  # Edit mode: no selection highlighted (issue 33: it stayed)
        lambda: not editor.locator(".mw-selection, .mw-note-selected").count() and not selected.inner_text().strip(),
        30,
        "the selection to clear in Edit mode",
    )
    before = _notes_on_roll(workbench)
    index = editor.evaluate(FREE_SOPRANO_NOTE_JS)
    assert index >= 0, "no soprano note on the roll that another voice does not cover"
    note = editor.locator(".mw-note[data-voice='0']").nth(index)
    where = note.evaluate("(r) => ({x: +r.getAttribute('x'), y: +r.getAttribute('y'), h: +r.getAttribute('height')})")
    note.click(position={"x": 2, "y": where["h"] / 2})
    page.keyboard.press("Delete")
    wait_until(lambda: _notes_on_roll(workbench) == before - 1, 30, "the deleted note to leave the roll")

    def edited():
        number = take_number(status.inner_text())
        return number if number is not None and number > made and "your edits" in status.inner_text() else None

    draft = wait_until(edited, TAKE_S, "the edit to become a new take")
    box = svg.bounding_box()  # the page may have scrolled
    page.mouse.click(box["x"] + where["x"] + 2, box["y"] + where["y"] + where["h"] / 2)
    wait_until(lambda: _notes_on_roll(workbench) == before, 30, "the added note to show on the roll")
    message = editor.locator(".mw-editor-message").inner_text()
    assert "⚠" not in message, f"the edit was refused: {message}"
    page.wait_for_timeout(500)
    assert _notes_on_roll(workbench) == before, "the added note did not stay on the roll"
    options = _take_options(workbench)
    assert sum(f"edit of #{made}" in o for o in options) == 1, f"one take for both edits: {options}"
    wait_until(lambda: _views_show(workbench, draft), TAKE_S, f"the sound and score to follow the edit #{draft}")
    # a click where the soprano already sings is refused with a warning, which goes with the next Undo (issue 33)
    spot = editor.evaluate(CLASH_SPOT_JS)
    assert spot, "no empty place on the roll where the soprano sings"
    page.mouse.click(spot["x"], spot["y"])
    warning = editor.locator(".mw-editor-message")
    wait_until(lambda: "already sings" in warning.inner_text(), 30, "a refused edit to say why")
    page.keyboard.press("Control+z")  # undo the added note
    wait_until(lambda: _notes_on_roll(workbench) == before - 1, 30, "Ctrl+Z to undo the added note")
    wait_until(lambda: not warning.inner_text().strip(), 30, "the warning to go with the Undo")
    workbench.locator("button.widget-toggle-button", has_text="Select").first.click()
    return {"regenerated": made, "edited": draft}


@pytest.mark.parametrize("ui", ["lab", "notebook7", "voila"])
def test_workbench_in_the_browser(jupyter, ui):
    browser, base, token, tmp = jupyter
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    errors = record_errors(page)
    t0 = time.monotonic()
    try:
        workbench = open_and_run(page, ui, base, token)
        _check_controls_visible(workbench)
        older = _generate(page, workbench)
        facts = _check_take(page, workbench)
        facts |= _check_playhead(page, workbench)
        newer = _generate(page, workbench)
        _check_selection_drives_the_views(page, workbench, older, newer)
        if ui != "voila":  # one front end suffices for the long take; it only differs in timing
            seen = _check_progress(page, workbench)
            facts["progress_updates"] = len(seen)
            newer = _generate(page, workbench)  # back to an 8-bar take for the picture
        if ui == "lab":
            facts |= _check_continue_and_harmonize(page, workbench)
            _check_analysis(page, workbench)
            facts |= _check_compose(page, workbench)
            _select_take(workbench, newer)  # the picture shows a whole take of eight bars, as generated
        _check_take(page, workbench)
        assert not workbench.evaluate(BLANK_MENUS_JS), "a menu shows no choice"
        _screenshot(page, workbench, ui, tmp)
        assert any((tmp / "jupyter" / "sessions").glob("*/take-*.json"))  # saved in the test's own folder
        mine = ours(errors, front_end_errors(browser, ui, base, token))
        assert not mine, f"{len(mine)} console errors in {ui} (of {len(errors)}), the first: {mine[:3]}"
        facts["front_end_errors"] = len(errors)
    except BaseException:
        try:
            page.screenshot(path=str(tmp / f"failure-{ui}.png"), full_page=True)
            print(f"\nscreenshot of the failure: {tmp / f'failure-{ui}.png'}", file=sys.stderr)
        except Exception:
            pass
        raise
    finally:
        page.close()
    print(f"\n{ui}: {facts}; {time.monotonic() - t0:.1f} s")


def _screenshot(page, workbench, ui: str, tmp: Path) -> None:
    """The whole Workbench, unscrolled, for the README (only ``make screenshot`` writes into docs/)."""
    box = workbench.bounding_box()
    if box:
        page.set_viewport_size({"width": 1400, "height": min(3000, max(1000, int(box["height"]) + 250))})
    page.wait_for_timeout(300)
    workbench.scroll_into_view_if_needed()
    png = workbench.screenshot(animations="disabled")
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SCREENSHOTS[ui]).write_bytes(png)
    (tmp / SCREENSHOTS[ui]).write_bytes(png)
