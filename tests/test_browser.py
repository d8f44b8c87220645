"""The Workbench in a real browser: JupyterLab + Debian's Chromium, driven by playwright.

Starts JupyterLab on a loopback port over a copy of ``notebooks/``, opens the quickstart notebook in headless
Chromium, runs all cells, presses **Generate** and checks that the new take is drawn (piano-roll image), engraved
(verovio SVG) and playable (an ``<audio>`` with a WAV behind it). Saves a screenshot to ``docs/workbench.png``
(the README shows it).

Without ``/usr/bin/chromium`` or the ``playwright`` package the test is skipped, except on CI (``CI=true``),
which installs Chromium, so there a missing browser is a failure.
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
SCREENSHOT = REPO / "docs" / "workbench.png"

SERVER_START_S = 60  # JupyterLab answering /api/status
KERNEL_IDLE_S = 60  # the notebook open with an idle kernel
WIDGET_S = 90  # run all cells until the Workbench shows (and the notebook's own wb.generate() is done)
TAKE_S = 60  # Generate pressed until the take is drawn, engraved and playable

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # loopback only
]

# Sliders the Workbench always shows (primer bars only appear with a primer).
ALWAYS_SHOWN_SLIDERS = (
    "temperature",
    "top-k (0 off)",
    "top-p (1 off)",
    "bars",
    "tempo (qpm)",
    "candidates",
    "continue by",
)

# True once the open notebook's kernel is connected and idle.
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_lab_settings(settings_dir: Path) -> None:
    """No news/update toast (it would cover the screenshot, and it asks to go online)."""
    path = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _start_lab(root: Path, home: Path, port: int, token: str, log) -> subprocess.Popen:
    env = dict(os.environ)
    # The kernel imports this checkout's musewidgets; Jupyter's own state stays in tmp_path.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["JUPYTER_CONFIG_DIR"] = str(home / "config")
    env["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "workspaces")
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
            raise RuntimeError(f"JupyterLab exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout:.0f} s")


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


def _drive_workbench(page, base: str, token: str, tmp_path: Path) -> None:
    page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", state="visible", timeout=60_000)
    page.wait_for_function("() => !!(window.jupyterapp && window.jupyterapp.shell.currentWidget)", timeout=30_000)

    def kernel_ready():
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count() and accept.first.is_visible():  # "Select Kernel": take the default (Python 3)
            accept.first.click()
        return page.evaluate(KERNEL_IDLE_JS)

    _wait_until(kernel_ready, KERNEL_IDLE_S, "the notebook's kernel to be idle", interval=0.5)
    # Room for the Workbench: fold away the file browser and the property inspector.
    page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")

    # Run all cells; not awaited, the command's promise only settles once every cell has run.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    output = page.locator(".jp-OutputArea-output").filter(has=page.locator("button.widget-button", has_text="Generate"))
    generate = output.locator("button.widget-button", has_text="Generate")
    generate.first.wait_for(state="visible", timeout=WIDGET_S * 1000)
    output = output.first
    generate = generate.first

    # Let the notebook finish (its last cell calls wb.generate()), so the click below makes a new take.
    page.wait_for_function(ALL_CELLS_DONE_JS, timeout=WIDGET_S * 1000, polling=500)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    error_texts = [t for t in errors.all_inner_texts() if re.search(r"Traceback|^\w+(Error|Exception)\b", t, re.M)]
    assert not error_texts, "a notebook cell failed:\n" + "\n\n".join(error_texts)

    # The controls a user needs are on screen (not just in the DOM).
    hidden = [
        label
        for label in ALWAYS_SHOWN_SLIDERS
        if not output.locator(".widget-slider", has=page.locator(f"label:text-is('{label}')")).first.is_visible()
    ]
    assert not hidden, f"Workbench controls are not displayed: {', '.join(hidden)}"

    status = output.locator(".widget-html-content").filter(has_text=re.compile(r"Take #\d+:|Pick a style|⚠"))
    before = _take_number(status.first.inner_text()) if status.count() else None

    generate.scroll_into_view_if_needed()
    generate.click()

    def new_take():
        texts = status.all_inner_texts()
        text = texts[0] if texts else ""
        assert "⚠" not in text, f"the Workbench reported an error: {text}"
        number = _take_number(text)
        return text if number is not None and (before is None or number > before) else None

    status_text = _wait_until(new_take, TAKE_S, "the status line to announce a new take")
    assert "Take #" in status_text

    audio = output.locator("audio")
    score_svg = output.locator(".musewidgets-score svg")
    roll = output.locator("img")

    def views_ready():
        if not (audio.count() and score_svg.count() and roll.count()):
            return False
        return bool(
            audio.first.get_attribute("src")
            and roll.first.get_attribute("src")
            and score_svg.first.locator(".note").count() > 0
            and roll.first.evaluate("(img) => img.complete && img.naturalWidth > 0")
        )

    _wait_until(views_ready, TAKE_S, "the player, the engraved score and the piano roll")

    audio_src = audio.first.get_attribute("src")
    assert audio_src, "the <audio> element has no src"
    audio_bytes = page.evaluate(URL_SIZE_JS, audio_src)
    assert audio_bytes > 44, f"the player's WAV is empty ({audio_bytes} bytes behind {audio_src[:40]})"

    notes = score_svg.first.locator(".note").count()
    assert notes > 0, "the engraved score has no notes"

    roll_src = roll.first.get_attribute("src")
    assert roll_src, "the piano-roll <img> has no src"
    width, height = roll.first.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert width > 100 and height > 50, f"the piano roll is {width}x{height} px"

    assert "Take #" in status.first.inner_text()
    print(
        f"\nWorkbench in Chromium: {status.first.inner_text().strip()!r}; WAV {audio_bytes} bytes, "
        f"{notes} engraved notes, piano roll {width}x{height} px"
    )

    # The screenshot for the README: the whole Workbench, so give the page room to show it unscrolled.
    box = output.bounding_box()
    if box:
        page.set_viewport_size({"width": 1400, "height": min(3000, max(1000, int(box["height"]) + 250))})
    page.wait_for_timeout(300)
    output.scroll_into_view_if_needed()
    png = output.screenshot(animations="disabled")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(png)
    (tmp_path / "workbench.png").write_bytes(png)


def test_workbench_in_jupyterlab_with_chromium(tmp_path):
    sync_playwright = _require_browser()

    root = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = tmp_path / "jupyter"
    for sub in ("config", "runtime", "settings", "workspaces"):
        (home / sub).mkdir(parents=True)
    _write_lab_settings(home / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    log_path = tmp_path / "jupyterlab.log"

    t0 = time.monotonic()
    passed = False
    with open(log_path, "wb") as log:
        server = _start_lab(root, home, port, token, log)
        try:
            _wait_for_server(server, port, token, SERVER_START_S)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.set_default_timeout(30_000)
                    try:
                        _drive_workbench(page, f"http://127.0.0.1:{port}", token, tmp_path)
                    except BaseException:
                        try:
                            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                            print(f"\nscreenshot of the failure: {tmp_path / 'failure.png'}", file=sys.stderr)
                        except Exception:
                            pass
                        raise
                finally:
                    browser.close()
            passed = True
        finally:
            _stop_server(server)
            if not passed:
                log.flush()
                _print_log_tail(log_path)
    print(f"browser test took {time.monotonic() - t0:.1f} s; screenshot: {SCREENSHOT}")
