"""A Jupyter server and Chromium for the browser tests (tests/test_browser.py): start and stop the server, open a
notebook in JupyterLab 4, Notebook 7 or Voila and run it, and tell the front end's own console errors from ours.

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests are skipped, except on CI (``CI=true``), which
installs Chromium, so there a missing browser is a failure. Timeouts are generous limits for a loaded machine, never
measurements.
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
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_quickstart.ipynb"
EMPTY = "empty.ipynb"  # the front end without the Workbench: the console errors it shows are its own
CHROMIUM = Path("/usr/bin/chromium")
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

# True once JupyterLab or Notebook 7 shows a document.
APP_READY_JS = "() => !!(window.jupyterapp && window.jupyterapp.shell.currentWidget)"

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


def require_browser():
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


def screenshot_dir() -> Path:
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


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def take_number(text: str) -> int | None:
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


@contextmanager
def serve(tmp: Path):
    """A Jupyter server over a copy of ``notebooks/`` (and an empty notebook) in ``tmp``, its state and the kernels'
    takes kept there too, and Chromium: yields ``(browser, base URL, token)``; the server's log is printed on a
    failure."""
    sync_playwright = require_browser()
    root = tmp / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / EMPTY).write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
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
                    yield browser, f"http://127.0.0.1:{port}", token
                finally:
                    browser.close()
        except BaseException:
            log.flush()
            _print_log_tail(log_path)
            raise
        finally:
            _stop_server(server)


def record_errors(page) -> list[str]:
    """Every console error and uncaught exception of ``page`` from now on (issue 33: 141 of them, one per note)."""
    errors = []

    def console(message) -> None:
        if message.type != "error":
            return
        url = re.sub(r"[?#].*", "", (message.location or {}).get("url") or "")
        failed = message.text.startswith("Failed to load resource")  # which one: the message does not say
        errors.append(f"console: {message.text}" + (f" ({url})" if failed and url else ""))

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(f"exception: {e}"))
    return errors


# jupyter_server keeps one cache of static files by name for all its front ends: once JupyterLab has loaded one of
# its fonts, Notebook 7's font of the same hashed name is refused ("... is not in root static directory", 403).
STATIC_FONT_REFUSED = re.compile(r"status of 403 \(Forbidden\) \(http://[^/]+/static/notebook/[0-9a-f]+\.woff2?\)$")


def ours(errors: list[str], front_end: set[str]) -> list[str]:
    """The console errors that are not the front end's own: not in ``front_end`` (:func:`front_end_errors`), nor
    Notebook 7's font refused by the server (:data:`STATIC_FONT_REFUSED`)."""
    return [e for e in errors if e not in front_end and not STATIC_FONT_REFUSED.search(e)]


def front_end_errors(browser, ui: str, base: str, token: str) -> set[str]:
    """The console errors ``ui`` shows with an empty notebook, where no Workbench runs: the front end's own (Notebook
    7 reads a plugin's settings it has not loaded; Voila's page links FontAwesome and MathJax on CDNs, unreachable
    here, and loads JupyterLab extensions it cannot run). They are not the Workbench's, and the test can only allow
    them (see :func:`ours`); it allows nothing else."""
    page = browser.new_page()
    errors = record_errors(page)
    try:
        reset = "&reset" if ui == "lab" else ""  # (JupyterLab would open the tabs of its last visit too)
        url = f"{base}{URLS[ui].format(nb=EMPTY)}?token={token}{reset}"
        page.goto(url, wait_until="networkidle", timeout=90_000)
        if ui != "voila":
            page.wait_for_function(APP_READY_JS, timeout=90_000)
            _wait_for_kernel(page)
        page.wait_for_load_state("networkidle")
    finally:
        page.close()
    return set(errors)


def _wait_for_kernel(page) -> None:
    """Wait until the open notebook's kernel is idle (choosing the default kernel if JupyterLab asks)."""

    def kernel_ready():
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count() and accept.first.is_visible():  # "Select Kernel": take the default (Python 3)
            accept.first.click()
        return page.evaluate(KERNEL_IDLE_JS)

    wait_until(kernel_ready, KERNEL_IDLE_S, "the notebook's kernel to be idle", interval=0.5)


def open_and_run(page, ui: str, base: str, token: str):
    """Open the quickstart in ``ui``, run it, and return the Workbench's root element (a locator)."""
    page.goto(f"{base}{URLS[ui].format(nb=NOTEBOOK)}?token={token}", wait_until="domcontentloaded", timeout=90_000)
    if ui != "voila":
        page.wait_for_selector(".jp-Notebook", state="visible", timeout=90_000)
        page.wait_for_function(APP_READY_JS, timeout=60_000)

        _wait_for_kernel(page)
        if ui == "lab":  # room for the Workbench: fold away the file browser and the property inspector
            page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
        # Run all cells; not awaited, the command's promise only settles once every cell has run.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    workbench = page.locator(".mw-workbench")
    workbench.first.wait_for(state="visible", timeout=WIDGET_S * 1000)
    workbench = workbench.first
    status = workbench.locator(".mw-status")
    # the notebook's own wb.generate() has made take 1 (Voila runs the notebook itself, before showing it)
    wait_until(lambda: take_number(status.inner_text()), WIDGET_S, "the notebook's own take")
    if ui != "voila":
        page.wait_for_function(ALL_CELLS_DONE_JS, timeout=WIDGET_S * 1000, polling=500)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        texts = [t for t in errors.all_inner_texts() if re.search(r"Traceback|^\w+(Error|Exception)\b", t, re.M)]
        assert not texts, "a notebook cell failed:\n" + "\n\n".join(texts)
    return workbench
