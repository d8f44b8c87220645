"""The Workbench in a real browser: JupyterLab 4, Notebook 7 and Voila, in Debian's Chromium, driven by playwright.

One Jupyter server (with the Notebook 7 and Voila server extensions) serves a copy of ``notebooks/``. For each front
end the test opens the quickstart notebook, runs it, presses **Generate** and checks what a user sees: the take drawn
(piano roll), engraved (verovio SVG) and playable (an ``<audio>`` element with a WAV behind it); the playhead
(``.mw-playhead``) moving while the audio plays, standing still when paused, and a click on the roll seeking there;
the progress line ("bar k of N") during a long take; after selecting an older take, every view showing that take;
and in JupyterLab, **Analyse** opening the analysis panel and **Like** acknowledged, and on the roll editor a
selection of bars, **Regenerate** making a new take, and hand edits (Delete, a click, Ctrl+Z) making one.
Screenshots go to ``out/screenshots/`` (``MUSEWIDGETS_SCREENSHOT_DIR`` to change it); ``make screenshot`` writes
them to ``docs/`` for the README. Nothing tracked is written by a plain test run.

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests are skipped, except on CI (``CI=true``),
which installs Chromium, so there a missing browser is a failure. Timeouts are generous limits for a loaded machine,
never measurements: nothing here asserts how fast anything is.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_quickstart.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = {"lab": "workbench.png", "notebook7": "workbench-notebook7.png", "voila": "workbench-voila.png"}
URLS = {"lab": "/lab/tree/{nb}", "notebook7": "/notebooks/{nb}", "voila": "/voila/render/{nb}"}

SERVER_START_S = 90  # the Jupyter server answering /api/status
KERNEL_IDLE_S = 90  # the notebook open with an idle kernel
WIDGET_S = 150  # run all cells until the Workbench shows (and the notebook's own wb.generate() is done)
TAKE_S = 120  # Generate pressed until the take is drawn, engraved and playable

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--autoplay-policy=no-user-gesture-required",  # the test starts playback from script
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # loopback only
]

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

# True once the open notebook's kernel is connected and idle (JupyterLab and Notebook 7 share the application API).
KERNEL_IDLE_JS = """() => {
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    const ctx = panel && panel.sessionContext;
    const kernel = ctx && ctx.session && ctx.session.kernel;
    return !!(ctx && ctx.isReady && kernel && kernel.status === 'idle');
}"""

# True once no cell is queued or running ("[*]") and the kernel is idle.
ALL_CELLS_DONE_JS = (
    """() => {
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')];
    if (prompts.some((p) => p.textContent.includes('*'))) return false;
    return ("""
    + KERNEL_IDLE_JS
    + """)();
}"""
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


def _require_browser():
    """Return playwright's ``sync_playwright``, or skip (fail on CI) when the browser or playwright is missing."""
    on_ci = os.environ.get("CI", "").lower() == "true"
    problems = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        problems.append("the Python package playwright is missing (pip install playwright)")
    if problems:
        reason = "real-browser test needs Chromium and playwright: " + "; ".join(problems)
        if on_ci:
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return sync_playwright


def _screenshot_dir() -> Path:
    return Path(os.environ.get("MUSEWIDGETS_SCREENSHOT_DIR") or REPO / "out" / "screenshots")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_lab_settings(settings_dir: Path) -> None:
    """No news/update toast (it would cover the screenshot, and it asks to go online)."""
    path = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _start_server(root: Path, home: Path, port: int, token: str, log) -> subprocess.Popen:
    env = dict(os.environ)
    # The kernel imports this checkout's musewidgets; Jupyter's own state stays in tmp_path.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["JUPYTER_CONFIG_DIR"] = str(home / "config")
    env["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "workspaces")
    # the kernels' takes too (issue 33: they were saved among the user's own sessions, and shown as earlier ones)
    env["MUSEWIDGETS_SESSION_DIR"] = str(home / "sessions")
    env.pop("JUPYTER_TOKEN", None)
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",  # (ServerApp.token is deprecated since jupyter_server 2)
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI runners often run as root
        cmd.append("--allow-root")
    return subprocess.Popen(
        cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_for_server(proc: subprocess.Popen, port: int, token: str, timeout: float) -> None:
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Jupyter server exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the Jupyter server did not answer {url} within {timeout:.0f} s")


def _stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (server and kernels), SIGKILL it after 10 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:  # the kernels may outlive the server itself
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)


def _wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _take_number(text: str) -> int | None:
    match = re.search(r"Take #(\d+)", text or "")
    return int(match.group(1)) if match else None


def _print_log_tail(log_path: Path, lines: int = 80) -> None:
    try:
        tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    print(f"\n----- last {len(tail)} lines of {log_path} -----", file=sys.stderr)
    print("\n".join(tail), file=sys.stderr)
    print("----- end of server log -----", file=sys.stderr)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """One Jupyter server for the three front ends: (base URL, token, log path)."""
    sync_playwright = _require_browser()
    tmp = tmp_path_factory.mktemp("browser")
    root = tmp / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = tmp / "jupyter"
    for sub in ("config", "runtime", "settings", "workspaces"):
        (home / sub).mkdir(parents=True)
    _write_lab_settings(home / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    log_path = tmp / "jupyter.log"
    with open(log_path, "wb") as log:
        server = _start_server(root, home, port, token, log)
        try:
            _wait_for_server(server, port, token, SERVER_START_S)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                try:
                    yield browser, f"http://127.0.0.1:{port}", token, tmp
                finally:
                    browser.close()
        except BaseException:
            log.flush()
            _print_log_tail(log_path)
            raise
        finally:
            _stop_server(server)


# ----------------------------------------------------------------------------- opening the notebook


def _open_and_run(page, ui: str, base: str, token: str):
    """Open the quickstart in ``ui``, run it, and return the Workbench's root element (a locator)."""
    page.goto(f"{base}{URLS[ui].format(nb=NOTEBOOK)}?token={token}", wait_until="domcontentloaded", timeout=90_000)
    if ui != "voila":
        page.wait_for_selector(".jp-Notebook", state="visible", timeout=90_000)
        page.wait_for_function("() => !!(window.jupyterapp && window.jupyterapp.shell.currentWidget)", timeout=60_000)

        def kernel_ready():
            accept = page.locator(".jp-Dialog .jp-mod-accept")
            if accept.count() and accept.first.is_visible():  # "Select Kernel": take the default (Python 3)
                accept.first.click()
            return page.evaluate(KERNEL_IDLE_JS)

        _wait_until(kernel_ready, KERNEL_IDLE_S, "the notebook's kernel to be idle", interval=0.5)
        if ui == "lab":  # room for the Workbench: fold away the file browser and the property inspector
            page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
        # Run all cells; not awaited, the command's promise only settles once every cell has run.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    workbench = page.locator(".mw-workbench")
    workbench.first.wait_for(state="visible", timeout=WIDGET_S * 1000)
    workbench = workbench.first
    status = workbench.locator(".mw-status")
    # the notebook's own wb.generate() has made take 1 (Voila runs the notebook itself, before showing it)
    _wait_until(lambda: _take_number(status.inner_text()), WIDGET_S, "the notebook's own take")
    if ui != "voila":
        page.wait_for_function(ALL_CELLS_DONE_JS, timeout=WIDGET_S * 1000, polling=500)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        texts = [t for t in errors.all_inner_texts() if re.search(r"Traceback|^\w+(Error|Exception)\b", t, re.M)]
        assert not texts, "a notebook cell failed:\n" + "\n\n".join(texts)
    return workbench


def _generate(page, workbench, *, what: str = "a new take") -> int:
    """Press Generate and wait until the status line announces a new take and every view shows it; its number."""
    status = workbench.locator(".mw-status")
    before = _take_number(status.inner_text()) or 0
    button = workbench.locator("button.widget-button", has_text="Generate").first
    button.scroll_into_view_if_needed()
    button.click()

    def new_take():
        text = status.inner_text()
        assert "⚠" not in text, f"the Workbench reported an error: {text}"
        number = _take_number(text)
        return number if number is not None and number > before else None

    number = _wait_until(new_take, TAKE_S, what)
    _wait_until(lambda: _views_show(workbench, number), TAKE_S, f"every view to show take #{number}")
    return number


def _views_show(workbench, number: int) -> bool:
    """The take view is ready (roll, sound, score) and its caption names take ``number``."""
    view = workbench.locator(".mw-takeview").first
    if not view.count() or view.get_attribute("data-state") != "ready":
        return False
    caption = view.locator(".mw-caption").inner_text()
    return (
        _take_number(caption.replace("#", "Take #", 1)) == number
        and view.locator(".mw-score svg .note").count() > 0
        and view.locator(".mw-roll-img").evaluate("(img) => img.complete && img.naturalWidth > 0")
        and bool(view.locator("audio").get_attribute("src"))
    )


# ----------------------------------------------------------------------------- what the user sees


def _check_controls_visible(workbench) -> None:
    def slider(label):
        return workbench.locator(".widget-slider", has=workbench.page.locator(f"label:text-is('{label}')")).first

    hidden = [label for label in ALWAYS_SHOWN_LABELS if not slider(label).is_visible()]
    assert not hidden, f"Workbench controls are not displayed: {', '.join(hidden)}"
    cut = workbench.locator("label.widget-label").evaluate_all(
        "(labels) => labels.filter((l) => l.offsetParent && l.scrollWidth > l.clientWidth + 1).map((l) => l.innerText)"
    )
    assert not cut, f"labels cut off: {cut}"


def _check_take(page, workbench) -> dict:
    view = workbench.locator(".mw-takeview").first
    audio = view.locator("audio")
    size = page.evaluate(URL_SIZE_JS, audio.get_attribute("src"))
    assert size > 44, f"the player's WAV is empty ({size} bytes)"
    notes = view.locator(".mw-score svg .note").count()
    rests = view.locator(".mw-score svg .rest").count()
    width, height = view.locator(".mw-roll-img").evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert notes > 0 and width > 100 and height > 50
    # the score is not clipped: its pages fit the view's width or the view scrolls to them
    clipped = view.locator(".mw-score").evaluate(
        """(s) => { const st = getComputedStyle(s);
                    return s.scrollWidth > s.clientWidth + 1 && !['auto', 'scroll'].includes(st.overflowX); }"""
    )
    assert not clipped, "the engraved score is clipped"
    return {"wav_bytes": size, "notes": notes, "rests": rests, "roll": (width, height)}


def _playhead(view) -> dict:
    return view.evaluate(
        """(v) => { const a = v.querySelector('audio'), h = v.querySelector('.mw-playhead');
                   return {t: a.currentTime, shown: parseFloat(h.dataset.seconds || '0'),
                           left: parseFloat(h.style.left || '0'), paused: a.paused,
                           measure: v.querySelectorAll('g.measure.mw-current').length}; }"""
    )


def _check_playhead(page, workbench) -> dict:
    """Play: the playhead moves, in step with the audio, and a measure is lit; pause: it stands; click: it seeks."""
    view = workbench.locator(".mw-takeview").first
    audio = view.locator("audio")
    audio.evaluate("(a) => { a.currentTime = 0; return a.play(); }")
    _wait_until(lambda: _playhead(view)["t"] > 0.4, 30, "the audio to play")
    first = _playhead(view)
    page.wait_for_timeout(400)
    second = _playhead(view)
    assert not second["paused"], "the audio stopped by itself"
    assert second["left"] > first["left"], f"the playhead did not move while playing: {first} -> {second}"
    assert abs(second["t"] - second["shown"]) <= 0.05, f"the playhead lags the audio by more than 50 ms: {second}"
    assert second["measure"] >= 1, "no measure of the score is highlighted while playing"
    audio.evaluate("(a) => a.pause()")
    paused = _playhead(view)
    page.wait_for_timeout(500)
    still = _playhead(view)
    assert still["left"] == paused["left"] and still["t"] == paused["t"], "the playhead moved while paused"
    # clicking three quarters along the roll's data area seeks there
    img = view.locator(".mw-roll-img")
    box = img.bounding_box()
    img.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    _wait_until(lambda: abs(_playhead(view)["t"] - still["t"]) > 0.5, 10, "a click on the roll to seek")
    seeked = _playhead(view)
    assert seeked["left"] > still["left"] and seeked["paused"]
    return {"moved_px_percent": round(second["left"] - first["left"], 2), "seeked_to_s": round(seeked["t"], 2)}


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
    _set_slider(workbench, "bars", 8)
    return seen


def _check_selection_drives_the_views(page, workbench, older: int, newer: int) -> None:
    """Select the older take, star it, compare: every view shows the selected take."""
    select = workbench.locator(".mw-takes select").first
    option = select.locator("option", has_text=re.compile(rf"#{older}\b"))
    select.select_option(value=option.first.get_attribute("value"))
    _wait_until(lambda: _views_show(workbench, older), TAKE_S, f"the views to show the selected take #{older}")
    workbench.locator("button.widget-button", has_text="Star").first.click()
    page.wait_for_timeout(300)
    assert _views_show(workbench, older), "starring a take changed what the views show"
    option = select.locator("option", has_text=re.compile(rf"#{newer}\b"))
    select.select_option(value=option.first.get_attribute("value"))
    _wait_until(lambda: _views_show(workbench, newer), TAKE_S, f"the views to show the selected take #{newer}")


def _check_analysis(page, workbench) -> None:
    """Analyse opens the panel (style, a mood that says it is an estimate, faults); Like marks the take."""
    workbench.locator("button.widget-toggle-button", has_text="Analyse").first.click()
    panel = workbench.locator(".mw-analysis").first

    def shown():
        text = panel.inner_text() if panel.is_visible() else ""
        return "Style" in text and "rule-based estimate" in text and "Voice-leading faults" in text

    _wait_until(shown, TAKE_S, "the analysis panel to show style, mood and faults")
    workbench.locator("button.widget-button", has_text="Like").first.click()
    status = workbench.locator(".mw-status").first
    _wait_until(lambda: "liked" in status.inner_text(), TAKE_S, "Like to be acknowledged in the status line")
    workbench.locator("button.widget-toggle-button", has_text="Analyse").first.click()
    _wait_until(lambda: not panel.is_visible(), TAKE_S, "the analysis panel to close")


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
    _wait_until(lambda: _notes_on_roll(workbench) > 0, TAKE_S, "the roll editor to draw the take")
    parent = _take_number(status.inner_text())
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
    _wait_until(lambda: "Selected: bar 2" in selected.inner_text(), 30, "the selection to show under the roll")
    _wait_until(lambda: editor.locator(".mw-note-selected").count() > 0, 30, "the selected notes to be marked")
    workbench.locator("button.widget-button", has_text="Regenerate").first.click()

    def regenerated():
        text = status.inner_text()
        assert "⚠" not in text, f"the Workbench reported an error: {text}"
        number = _take_number(text)
        return number if number is not None and number > (parent or 0) and "regenerated" in text else None

    made = _wait_until(regenerated, TAKE_S, "Regenerate to make a new take")
    options = _take_options(workbench)
    assert any(re.search(rf"#{made} regenerate bar 2 .* of #{parent}\b", o) for o in options), options
    _wait_until(lambda: _views_show(workbench, made), TAKE_S, f"the views to show take #{made}")
    # edit: pick a soprano note, delete it with the Delete key, add it back with a click where it was
    workbench.locator("button.widget-toggle-button", has_text="Edit").first.click()
    _wait_until(lambda: "mw-mode-edit" in (editor.get_attribute("class") or ""), 30, "the editor to be in Edit mode")
    before = _notes_on_roll(workbench)
    index = editor.evaluate(FREE_SOPRANO_NOTE_JS)
    assert index >= 0, "no soprano note on the roll that another voice does not cover"
    note = editor.locator(".mw-note[data-voice='0']").nth(index)
    where = note.evaluate("(r) => ({x: +r.getAttribute('x'), y: +r.getAttribute('y'), h: +r.getAttribute('height')})")
    note.click(position={"x": 2, "y": where["h"] / 2})
    page.keyboard.press("Delete")
    _wait_until(lambda: _notes_on_roll(workbench) == before - 1, 30, "the deleted note to leave the roll")

    def edited():
        number = _take_number(status.inner_text())
        return number if number is not None and number > made and "your edits" in status.inner_text() else None

    draft = _wait_until(edited, TAKE_S, "the edit to become a new take")
    box = svg.bounding_box()  # the page may have scrolled
    page.mouse.click(box["x"] + where["x"] + 2, box["y"] + where["y"] + where["h"] / 2)
    _wait_until(lambda: _notes_on_roll(workbench) == before, 30, "the added note to show on the roll")
    message = editor.locator(".mw-editor-message").inner_text()
    assert "⚠" not in message, f"the edit was refused: {message}"
    page.wait_for_timeout(500)
    assert _notes_on_roll(workbench) == before, "the added note did not stay on the roll"
    options = _take_options(workbench)
    assert sum(f"edit of #{made}" in o for o in options) == 1, f"one take for both edits: {options}"
    _wait_until(lambda: _views_show(workbench, draft), TAKE_S, f"the sound and score to follow the edit #{draft}")
    page.keyboard.press("Control+z")  # undo the added note
    _wait_until(lambda: _notes_on_roll(workbench) == before - 1, 30, "Ctrl+Z to undo the added note")
    workbench.locator("button.widget-toggle-button", has_text="Select").first.click()
    return {"regenerated": made, "edited": draft}


@pytest.mark.parametrize("ui", ["lab", "notebook7", "voila"])
def test_workbench_in_the_browser(jupyter, ui):
    browser, base, token, tmp = jupyter
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    t0 = time.monotonic()
    try:
        workbench = _open_and_run(page, ui, base, token)
        _check_controls_visible(workbench)
        older = _generate(page, workbench)
        facts = _check_take(page, workbench)
        facts |= _check_playhead(page, workbench)
        newer = _generate(page, workbench)
        _check_selection_drives_the_views(page, workbench, older, newer)
        if ui != "voila":  # one front end suffices for the long take; it only differs in timing
            seen = _check_progress(page, workbench)
            facts["progress_updates"] = len(seen)
            _generate(page, workbench)  # back to an 8-bar take for the picture
        if ui == "lab":
            _check_analysis(page, workbench)
            facts |= _check_compose(page, workbench)
        _screenshot(page, workbench, ui, tmp)
        assert any((tmp / "jupyter" / "sessions").glob("*/take-*.json"))  # saved in the test's own folder
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
    folder = _screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SCREENSHOTS[ui]).write_bytes(png)
    (tmp / SCREENSHOTS[ui]).write_bytes(png)
