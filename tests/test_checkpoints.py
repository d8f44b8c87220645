"""Checkpoints: exact round trips, atomic writes, and refusal of anything damaged, foreign or carrying code."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from musewidgets import checkpoints, models
from musewidgets.checkpoints import FORMAT, VERSION, load_checkpoint, partial_path, resolve, save_checkpoint
from musewidgets.codecs import RollCodec, TokenCodec
from musewidgets.errors import CheckpointError

STYLES = {
    "chorale": {
        "parts": [["Soprano", 52, [57, 81]], ["Alto", 52, [53, 74]], ["Tenor", 52, [48, 69]], ["Bass", 52, [36, 64]]],
        "time_signature": [4, 4],
        "tempo": 80.0,
    },
    "folk": {"parts": [["Melody", 73, [48, 85]]], "time_signature": [2, 4], "tempo": 100.0},
}
META = {"steps": 7, "best_valid_nll": 1.25, "train_config": {"styles": ["chorale", "folk"], "seq_len": 64}, "note": "x"}


def _lstm():
    torch.manual_seed(0)
    return models.build("lstm", {"hidden": 32, "layers": 1, "d_embed": 32})


@pytest.fixture
def saved(tmp_path):
    model = _lstm()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = {
        "inputs": torch.randint(0, 132, (2, 8)),
        "targets": torch.randint(1, 132, (2, 8)),
        "voice": torch.zeros(2, 8, dtype=torch.long),
        "bar_pos": torch.zeros(2, 8, dtype=torch.long),
        "metre": torch.zeros(2, dtype=torch.long),
        "style": torch.zeros(2, dtype=torch.long),
    }
    model(batch)[1].backward()
    opt.step()
    codec = TokenCodec(styles=("chorale", "folk"))
    path = save_checkpoint(tmp_path / "sub" / "lstm.pt", model, codec, STYLES, META, optimizer=opt.state_dict())
    return path, model, codec, opt


def test_half_stores_float16_and_loads_into_float32_weights(saved, tmp_path):
    path, model, codec, _ = saved
    half = save_checkpoint(tmp_path / "half.pt", model, codec, STYLES, META, half=True)
    assert half.stat().st_size < 0.6 * path.stat().st_size
    ck = load_checkpoint(half)
    for name, value in ck.model.state_dict().items():
        original = model.state_dict()[name]
        assert value.dtype == original.dtype  # float32 again in the model
        assert torch.equal(value, original.half().to(original.dtype) if original.is_floating_point() else original)


class _RunsCode:
    """Pickles as a call to ``os.system``: loading it unsafely would run a shell command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


# ----------------------------------------------------------------------------- round trips


def test_save_load_round_trip(saved):
    path, model, codec, opt = saved
    assert path.exists() and path.parent.name == "sub"
    ck = load_checkpoint(path)
    assert ck.family == "lstm" and ck.path == path
    assert ck.codec == codec and type(ck.codec) is TokenCodec
    assert ck.styles == STYLES and ck.meta == META
    assert models.config_to_dict(ck.model) == models.config_to_dict(model)
    assert not ck.model.training
    want, got = model.state_dict(), ck.model.state_dict()
    assert list(got) == list(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert ck.optimizer is not None
    for k, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(ck.optimizer["state"][k][name]), torch.as_tensor(value))


def test_gan_round_trip_with_roll_codec(tmp_path):
    torch.manual_seed(0)
    gan = models.build("gan", {"width": 32, "z_dim": 8})
    path = save_checkpoint(tmp_path / "gan.pt", gan, RollCodec(), STYLES, {"steps": 1})
    ck = load_checkpoint(path)
    assert ck.family == "gan" and ck.codec == RollCodec() and ck.optimizer is None
    assert ck.model.config == gan.config
    for key, value in gan.state_dict().items():
        assert torch.equal(ck.model.state_dict()[key], value), key


def test_save_is_atomic(saved, tmp_path, monkeypatch):
    path, model, codec, _ = saved
    before = path.read_bytes()
    real_save = torch.save

    def broken_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as fh:  # half the bytes made it to disk, then the power went
            fh.truncate(os.path.getsize(f) // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, codec, {}, {"steps": 99})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path).meta == META
    assert sorted(os.listdir(path.parent)) == ["lstm.pt"]


def test_a_failed_rename_leaves_the_previous_checkpoint(saved, monkeypatch):
    path, model, codec, _ = saved
    before = path.read_bytes()

    def no_room(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints.os, "replace", no_room)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, model, codec, {}, {"steps": 99})
    monkeypatch.undo()
    assert path.read_bytes() == before and load_checkpoint(path).meta == META
    assert not partial_path(path).exists()


def test_a_partial_file_left_by_a_killed_save_is_never_read(saved):
    path = saved[0]
    partial_path(path).write_bytes(path.read_bytes()[:100])  # what a SIGKILL in the middle of torch.save leaves
    assert partial_path(path).name == ".lstm.pt.tmp"
    assert load_checkpoint(path).meta == META


def test_train_state_round_trip(tmp_path):
    model, path = _tiny_checkpoint(tmp_path)
    assert load_checkpoint(path).train_state is None
    state = {"bad": 2, "best": 1.5, "numpy_rng": '{"state": 1}', "torch_rng": {"cpu": torch.get_rng_state()}}
    save_checkpoint(path, model, TokenCodec(), load_checkpoint(path).styles, {}, train_state=state)
    got = load_checkpoint(path).train_state
    assert got["bad"] == 2 and got["best"] == 1.5 and got["numpy_rng"] == '{"state": 1}'
    assert torch.equal(got["torch_rng"]["cpu"], state["torch_rng"]["cpu"])


# ----------------------------------------------------------------------------- refusals


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "version": 1, "payload": _RunsCode(f"touch {marker}")}, path)
    with pytest.raises(CheckpointError, match="evil.pt") as info:
        load_checkpoint(path)
    assert "code" in str(info.value)
    assert not marker.exists()

    # control: the same kind of file really does run its command when loaded unsafely
    control = tmp_path / "control"
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"payload": _RunsCode(f"touch {control}")}, unsafe)
    with open(unsafe, "rb") as fh:
        torch.load(fh, weights_only=False)
    assert control.exists()


def test_plain_pickle_with_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps({"format": FORMAT, "x": _RunsCode(f"touch {marker}")}, protocol=2))
    with pytest.raises(CheckpointError, match="plain.pt"):
        load_checkpoint(path)
    assert not marker.exists()


def _truncated(path, saved_path):
    data = saved_path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("truncated.pt", _truncated),
        ("random.pt", lambda p, _: p.write_bytes(bytes(range(256)) * 40)),
        ("empty.pt", lambda p, _: p.write_bytes(b"")),
        ("text.pt", lambda p, _: p.write_text("not a checkpoint at all\n")),
        ("list.pt", lambda p, _: torch.save([1, 2, 3], p)),
        ("tensor.pt", lambda p, _: torch.save(torch.zeros(3), p)),
        ("other.pt", lambda p, _: torch.save({"format": "someone.else", "version": 1, "state_dict": {}}, p)),
        ("noformat.pt", lambda p, _: torch.save({"state_dict": {"w": torch.zeros(2)}}, p)),
    ],
)
def test_damaged_or_foreign_files_raise_checkpoint_error_naming_the_file(tmp_path, saved, name, make):
    path = tmp_path / name
    make(path, saved[0])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert name in str(info.value)


def _rewrite(saved_path, target, **changes):
    data = torch.load(saved_path, weights_only=True)
    data.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]
    torch.save(data, target)
    return target


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": VERSION + 1}, f"made by a newer musewidgets \\(checkpoint format {VERSION + 1}"),
        ({"family": "gru"}, "unknown model family 'gru'"),
        ({"config": {"hidden": 64, "layers": 1, "d_embed": 32}}, "does not fit"),
        ({"config": {"hiden": 32}}, "does not fit"),
        ({"codec": {"kind": "wav"}}, "does not fit"),
        ({"state_dict": None}, "its 'state_dict' entry is not a dict"),
    ],
)
def test_checkpoints_that_do_not_fit_their_model(tmp_path, saved, changes, message):
    path = _rewrite(saved[0], tmp_path / "changed.pt", **changes)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert "changed.pt" in str(info.value)


@pytest.mark.parametrize(
    ("version", "says"),
    [
        (VERSION + 1, [f"newer musewidgets (checkpoint format {VERSION + 1}", f"reads format {VERSION}", "upgrade"]),
        (VERSION + 7, [f"format {VERSION + 7}", "upgrade musewidgets"]),
        (VERSION - 1, [f"older checkpoint format ({VERSION - 1}", f"reads format {VERSION}", "`musewidgets train`"]),
        (None, ["no valid checkpoint format version (None", "`musewidgets train`"]),
        (str(VERSION), [f"no valid checkpoint format version ('{VERSION}'", "`musewidgets train`"]),
    ],
)
def test_another_format_version_says_what_to_do(tmp_path, saved, version, says):
    path = _rewrite(saved[0], tmp_path / "other.pt", version=version)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith("other.pt: ")
    for words in says:
        assert words in message, (words, message)


def test_checkpoint_without_styles_raises_checkpoint_error(tmp_path, saved):
    path = _rewrite(saved[0], tmp_path / "nostyles.pt", styles=None)
    with pytest.raises(CheckpointError, match="nostyles.pt"):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path)  # a folder is not a checkpoint file


def test_resolve(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="unknown model 'nope'"):
        resolve("nope")
    assert resolve("somewhere/else.pt") == checkpoints.Path("somewhere/else.pt")  # a .pt path, checked on load
    (tmp_path / "weights").write_bytes(b"")
    assert resolve("weights") == checkpoints.Path("weights")


# ----- files that are not checkpoints, and checkpoints that cannot work: each named for what it is
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"MThd\x00\x00\x00\x06\x00\x01", "MIDI file"),
        (b'<?xml version="1.0"?><score-partwise/>', "XML"),
        (bytes(range(256)) * 4, "not a PyTorch checkpoint"),
        (b"", "not a PyTorch checkpoint"),
    ],
)
def test_other_files_given_as_checkpoints_are_named(tmp_path, content, message):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert "code" not in str(info.value)


def test_a_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)


def _tiny_checkpoint(tmp_path, styles=None):
    from musewidgets.codecs import TokenCodec
    from musewidgets.models import build

    model = build("lstm", {"hidden": 8, "layers": 1, "d_embed": 8})
    info = {"folk": {"parts": [["Melody", 73, [60, 80]]], "time_signature": [2, 4], "tempo": 100.0}}
    return model, save_checkpoint(tmp_path / "tiny.pt", model, TokenCodec(), styles or info, {})


def test_nan_weights_are_refused_at_load(tmp_path):
    model, path = _tiny_checkpoint(tmp_path)
    with torch.no_grad():
        model.out.bias[3] = float("nan")
    save_checkpoint(path, model, load_checkpoint(path).codec, load_checkpoint(path).styles, {})
    with pytest.raises(CheckpointError, match="'out.bias' holds NaN"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "entry",
    [
        {"parts": "Melody", "time_signature": [2, 4], "tempo": 100.0},
        {"parts": [["Melody", 300, [60, 80]]], "time_signature": [2, 4], "tempo": 100.0},
        {"parts": [["Melody", 73, [80, 60]]], "time_signature": [2, 4], "tempo": 100.0},
        {"parts": [["Melody", 73, [60, 80]]], "time_signature": [2, 3], "tempo": 100.0},
        {"parts": [["Melody", 73, [60, 80]]], "time_signature": [2, 4], "tempo": 0},
        {"parts": [["Melody", 73, [60, 80]]], "tempo": 100.0},
        {
            "parts": [["Melody", 73, [60, 80]]],
            "time_signature": [2, 4],
            "tempo": float("inf"),
        },  # loaded, then overflowed
    ],
)
def test_malformed_style_entries_are_refused_at_load(tmp_path, entry):
    _, path = _tiny_checkpoint(tmp_path, styles={"folk": entry})
    with pytest.raises(CheckpointError, match="style 'folk' is malformed"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d.update(codec="tokens"), "its 'codec' entry is not a dict"),
        (lambda d: d.update(codec=None), "its 'codec' entry is not a dict"),
        (lambda d: d.update(meta=[1, 2]), "its 'meta' entry is not a dict"),
        (lambda d: d.update(config="big"), "its 'config' entry is not a dict"),
    ],
)
def test_damaged_metadata_is_refused_by_name_at_load(tmp_path, damage, message):
    """Each of these once passed the load and failed later with AttributeError or StopIteration (issue 32)."""
    _, path = _tiny_checkpoint(tmp_path)
    data = torch.load(path, weights_only=True)
    damage(data)
    torch.save(data, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_generator_that_names_no_style_is_refused_by_the_sampler(tmp_path):
    from musewidgets.sampling import load_sampler

    _, path = _tiny_checkpoint(tmp_path)
    data = torch.load(path, weights_only=True)
    data["styles"] = {}
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="it names no style, so there is nothing it can generate"):
        load_sampler(path)  # the Workbench once met a StopIteration
