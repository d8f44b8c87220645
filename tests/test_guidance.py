"""Guidance: one strength per prior, each prior turned off and on through a Guidance value (no monkeypatching)."""

from __future__ import annotations

import warnings

import pytest

from musewidgets.sampling import Guidance, harmonize, load_sampler
from musewidgets.sampling.guidance import PRIORS, Prior, Priors

from .test_pinned_takes import MELODY, _read_abc


@pytest.fixture(scope="module")
def lstm():
    return load_sampler("lstm")


@pytest.fixture(scope="module")
def gan():
    return load_sampler("gan")


def test_a_guidance_reads_and_writes_the_cli_s_form():
    assert Guidance.parse("cadence=0, key=2") == Guidance(cadence=0, key=2)
    assert str(Guidance(cadence=0, key=2)) == "key=2,cadence=0"
    assert Guidance.parse(str(Guidance(cadence=0, key=2))) == Guidance(cadence=0, key=2)
    assert str(Guidance()) == "on" and Guidance.parse("on") == Guidance() == Guidance.parse("")
    assert str(Guidance.off()) == "off" and Guidance.parse("off") == Guidance.off() and Guidance.off().is_off
    assert Guidance.parse("off,parallels=1") == Guidance.off().__class__(**{**Guidance.off().to_dict(), "parallels": 1})
    assert set(Guidance().to_dict()) == set(PRIORS) and all(v == 1.0 for v in Guidance().to_dict().values())


@pytest.mark.parametrize(
    "value, words",
    [
        ("cadense=0", "cadense=0"),
        ("cadence", "expected name=strength"),
        ("cadence=loud", "'loud' is not a number"),
        ("cadence=-1", "`cadence` must be a number from 0 (off) to 100"),
        ("key=1e9", "`key` must be a number from 0 (off) to 100"),
        ({"tempo": 1}, "unknown guidance 'tempo'"),
        ({"key": float("nan")}, "`key` must be a number"),
    ],
)
def test_a_bad_strength_or_name_is_refused_naming_it(value, words):
    with pytest.raises(ValueError) as caught:
        Guidance.of(value)
    assert words in str(caught.value)


def test_guide_takes_a_bool_a_text_a_dict_or_a_guidance():
    assert Guidance.of(True) == Guidance.of(None) == Guidance()
    assert Guidance.of(False) == Guidance.off()
    assert Guidance.of({"cadence": 0}) == Guidance.of("cadence=0") == Guidance(cadence=0)
    with pytest.raises(TypeError, match="`guide` must be"):
        Guidance.of(3)


def test_priors_apply_in_order_and_pass_every_hook_on():
    seen = []

    class Add(Prior):
        def __init__(self, x):
            self.x = x

        def start(self, run):
            seen.append(("start", self.x))

        def __call__(self, logits, run, step, voice):
            return logits * 10 + self.x

        def end_step(self, run, step):
            seen.append(("end", self.x))

    priors = Priors([Add(1), Add(2)])
    priors.start(None)
    assert priors(0, None, 0, 0) == 12  # (0 * 10 + 1) * 10 + 2: the first, then the second
    priors.drawn(None, 0, 0, 5)  # a hook a prior does not need does nothing
    priors.end_step(None, 0)
    assert seen == [("start", 1), ("start", 2), ("end", 1), ("end", 2)]


def _notes(pieces):
    return [part.notes for piece in pieces for part in piece.parts]


# Each prior where it applies: the default takes differ from those with that one prior off, and the model alone
# differs from the model with that one prior on; where it does not apply, turning it off changes nothing.
CASES = {
    "key": dict(style="folk", key="D minor"),
    "cadence": dict(style="folk", n=4),
    "held_final": dict(style="renaissance", n=4),
    "repeats": dict(style="irish"),
    "style": dict(style="irish"),
    "pitch": dict(style="renaissance"),
    "parallels": dict(style="chorale", n=4),
}


@pytest.mark.parametrize("prior", sorted(CASES))
def test_each_prior_of_the_sequence_models_turns_off_and_on_alone(lstm, prior):
    settings = {"bars": 4, "seed": 3, "temperature": 1.0, **CASES[prior]}
    default = lstm.generate(**settings)
    without = lstm.generate(**settings, guide={prior: 0})
    alone = lstm.generate(**settings, guide=False)
    only = lstm.generate(**settings, guide=Guidance(**{**Guidance.off().to_dict(), prior: 1}))
    assert _notes(default) != _notes(without)
    assert _notes(alone) != _notes(only)
    assert _notes(lstm.generate(**settings, guide=Guidance())) == _notes(default)  # the default is every prior at 1


@pytest.mark.parametrize(
    "prior, settings", [("style", dict(style="folk")), ("pitch", dict(style="irish")), ("pitch", dict(style="chorale"))]
)
def test_a_prior_that_does_not_apply_changes_nothing_when_off(lstm, prior, settings):
    settings = {"bars": 4, "seed": 3, **settings}
    assert _notes(lstm.generate(**settings)) == _notes(lstm.generate(**settings, guide={prior: 0}))


@pytest.mark.parametrize("prior", ["grid", "parallels", "repeats", "cadence"])
def test_each_prior_of_the_gan_turns_off_alone(gan, prior):
    settings = {"bars": 4, "seed": 2, "n": 2, "style": "renaissance" if prior != "repeats" else "irish"}
    assert _notes(gan.generate(**settings)) != _notes(gan.generate(**settings, guide={prior: 0}))
    assert _notes(gan.generate(**settings, guide={"grid": 0} if prior != "grid" else {})) != _notes(
        gan.generate(**settings, guide=False)
    )


@pytest.mark.parametrize("prior", ["parallels", "cadence"])
def test_harmonize_turns_its_priors_off_one_at_a_time(prior):
    melody = _read_abc(MELODY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = harmonize(melody, style="chorale", seed=2, iterations=8)
        without = harmonize(melody, style="chorale", seed=2, iterations=8, guide={prior: 0})
        alone = harmonize(melody, style="chorale", seed=2, iterations=8, guide=False)
    assert default.parts != without.parts and without.parts != alone.parts


def test_the_cli_takes_guide_and_writes_what_the_code_writes(lstm, tmp_path, capsys):
    from musewidgets import export
    from musewidgets.cli import main

    for guide, same in (("cadence=0", "cadence=0"), ("off", False), ("on", True)):
        out = tmp_path / f"{guide}.mid"
        args = ["generate", "--model", "lstm", "--style", "folk", "--bars", "3", "--seed", "4", "--guide", guide]
        assert main([*args, "-o", str(out)]) == 0
        [take] = lstm.generate(style="folk", bars=3, seed=4, guide=same)
        assert out.read_bytes() == export.to_bytes(take, ".mid"), guide
    with pytest.raises(SystemExit) as caught:
        main(["generate", "--style", "folk", "--guide", "cadence=loud", "-o", str(tmp_path / "x.mid")])
    assert caught.value.code == 2 and "argument --guide: guidance 'cadence=loud'" in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()


def test_the_workbench_s_guidance_section_makes_the_take_keeps_it_and_copy_settings_replays_it(lstm):
    import musewidgets

    wb = musewidgets.Workbench(model="lstm", style="folk", session=False)
    assert wb.controls.guidance.selected_index is None  # closed until opened
    assert list(wb.controls.guide) == list(PRIORS) and wb.controls.guide_text() == "on"
    wb.controls.bars.value = 3
    wb.controls.guide["cadence"].value = 0
    take = wb.generate()
    assert take.settings["guide"] == "cadence=0"
    seed, metre = take.settings["seed"], take.settings["metre"]
    [same] = lstm.generate(style="folk", bars=3, seed=seed, metre=metre, guide="cadence=0")
    assert [p.notes for p in take.piece.parts] == [p.notes for p in same.parts]
    wb.controls.guidance.children[0].children[-1].children[1].click()  # "model alone"
    assert wb.controls.guide_text() == "off"
    wb.copy_settings(take)
    assert wb.controls.guide_text() == "cadence=0" and wb.controls.guide["cadence"].value == 0
    again = wb.generate()
    assert [p.notes for p in again.piece.parts] == [p.notes for p in take.piece.parts]
    wb.controls.apply({**take.settings, "guide": "on"})
    assert wb.controls.guide_text() == "on"
    old = {k: v for k, v in take.settings.items() if k != "guide"}  # a take saved before guidance strengths
    wb.controls.set_guide("off")
    wb.controls.apply(old)
    assert wb.controls.guide_text() == "on"


def test_a_take_asked_for_no_key_is_told_one_the_style_uses(lstm):
    from musewidgets.evaluation.judge import remote_share
    from musewidgets.sampling.guidance import key_shares, plan_keys

    shares = key_shares()["renaissance"]
    keys = plan_keys("renaissance", 2000, seed=0)
    assert set(keys) <= set(shares) and abs(keys.count("G major") / 2000 - shares["G major"]) < 0.03
    assert keys == plan_keys("renaissance", 2000, seed=0)  # seeded
    assert plan_keys("renaissance", 3, 0, greedy=True) == [next(iter(shares))] * 3  # the commonest
    assert plan_keys("my-own-style", 3, 0) is None
    told = lstm.generate(style="renaissance", bars=4, n=16, seed=1)
    free = lstm.generate(style="renaissance", bars=4, n=16, seed=1, guide="key=0")  # the model's own choice
    assert remote_share(told) < remote_share(free)  # four or more sharps or flats: Palestrina wrote in none


def test_a_take_starts_with_an_upbeat_as_often_as_the_style_s_pieces_do(lstm):
    from musewidgets.sampling.guidance import pickup_shares, plan_pickup

    shares = pickup_shares()["folk"]["6/8"]
    drawn = [plan_pickup("folk", (6, 8), seed) for seed in range(2000)]
    assert set(drawn) <= {int(k) for k in shares}
    assert abs(drawn.count(2) / 2000 - shares["2"]) < 0.03  # most jigs start with an eighth before the bar line
    assert drawn == [plan_pickup("folk", (6, 8), seed) for seed in range(2000)]  # seeded
    assert plan_pickup("folk", (6, 8), 5, greedy=True) == 2  # the commonest
    assert plan_pickup("renaissance", (4, 2), 5) == 0 and plan_pickup("my-own-style", (4, 4), 5) == 0
    [take] = lstm.generate(style="folk", bars=4, seed=3, metre="6/8")
    assert take.pickup == plan_pickup("folk", (6, 8), 3)  # the take's own seed draws it


def test_a_take_with_an_upbeat_ends_with_a_bar_as_much_shorter(lstm):
    [take] = lstm.generate(style="chorale", bars=4, seed=0, pickup=4)
    spb = take.steps_per_bar
    assert take.pickup == 4 and take.n_bars == 4 and take.length == 4 + 4 * spb  # to the last bar line
    assert min(n.start for p in take.parts for n in p.notes) == 0  # the upbeat sounds
    assert take.notes_end == 4 * spb  # ... and the last bar is a beat short, as Bach's are after an upbeat
    [kept] = lstm.generate(style="chorale", bars=4, seed=0, pickup=4, ending=False)  # "keep going": no end
    assert kept.length == 4 + 4 * spb and kept.notes_end > 4 * spb
    [downbeat] = lstm.generate(style="chorale", bars=4, seed=0, pickup=0)
    assert downbeat.pickup == 0 and downbeat.length == 4 * spb
    [primed] = lstm.generate(style="chorale", bars=1, seed=0, primer=take, pickup=8)  # a primer brings its own
    assert primed.pickup == 4 and primed.length == 4 + 5 * spb


@pytest.mark.parametrize("pickup", [-1, 16, 2.0, True, "2"])
def test_an_upbeat_outside_the_bar_is_refused_naming_it(lstm, pickup):
    with pytest.raises(ValueError, match="`pickup` must be a whole number of steps from 0 to 15 in 4/4"):
        lstm.generate(style="chorale", bars=2, pickup=pickup)


def test_the_gan_writes_whole_bars_from_the_downbeat(gan):
    [take] = gan.generate(style="chorale", bars=2, seed=0)
    assert take.pickup == 0
    with pytest.raises(ValueError, match="the gan writes whole bars"):
        gan.generate(style="chorale", bars=2, pickup=4)
