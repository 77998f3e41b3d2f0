"""Behavioural tests (after CheckList): what a model must do, beyond one held-out accuracy.

A suite is a YAML file the team writes and keeps beside its settings (``RETRAIN_BEHAVIOUR_SUITE``).
Each test has a ``name``, a ``kind`` and texts, given as ``cases`` or generated from ``templates``
filled with every combination of the ``fill`` lists:

- ``mft`` (minimum functionality): each text must be classified as ``label``;
- ``inv`` (invariance): the prediction must not change under the ``perturb`` edits generated for
  each text: ``typo`` (two letters swapped), ``name`` (a person's name replaced), ``number``,
  ``url`` (one added or replaced), ``casing`` (upper and lower case);
- ``dir`` (directional): appending each of ``append`` to a text must move the probability of
  ``label`` ``up`` (or ``down``, ``direction``).

A case passes when every one of its texts does; its margin says by how much (below). The gate refuses a
challenger that fails more of the cases the champion passes firmly (by at least ``RETRAIN_BEHAVIOUR_MARGIN``)
than a tolerance (``RETRAIN_MAX_BEHAVIOUR_REGRESSIONS``). A case the champion passes by a hair is a coin
toss for any retrained model; counting it would refuse challengers for noise.

>>> suite = parse_suite({"tests": [{"name": "praise", "kind": "mft", "label": "pos",
...                                 "templates": ["{w} film"], "fill": {"w": ["good", "great"]}}]})
>>> [case.texts for case in suite.cases]
[('good film',), ('great film',)]
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

Kind = Literal["mft", "inv", "dir"]
KINDS = ("mft", "inv", "dir")
NAMES = ("John", "Mary", "James", "Sarah", "Ahmed", "Mei", "Carlos", "Olga", "Kwame", "Priya")
PERTURBATIONS = ("typo", "name", "number", "url", "casing")
MAX_TEMPLATE_CASES = 200  # per test: a template's combinations beyond this are sampled


@dataclass(frozen=True)
class Case:
    """One behavioural case: texts[0] is the original, the rest its perturbations or edits."""

    test: str
    kind: Kind
    texts: tuple[str, ...]
    label: str | None = None  # mft: the expected label; dir: the label whose probability must move
    direction: Literal["up", "down"] = "up"


@dataclass(frozen=True)
class Suite:
    """A behaviour suite, expanded into cases."""

    cases: tuple[Case, ...]
    source: str = ""

    @property
    def tests(self) -> list[str]:
        return list(dict.fromkeys(case.test for case in self.cases))


@dataclass(frozen=True)
class BehaviourTest:
    name: str
    kind: Kind
    cases: int
    passed: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else 1.0


@dataclass(frozen=True)
class BehaviourResult:
    """One model on one suite: pass rates per test, and which cases passed (in suite order).

    ``margins`` (in probability, suite order) say how far each case is from the other side: for
    ``mft`` the expected label's probability over the strongest other label's; for ``inv`` the
    original's predicted label over the strongest other label, at the weakest of its texts; for
    ``dir`` the smallest move in the asked direction. A passed case's margin is at least 0.
    """

    tests: list[BehaviourTest]
    passed: list[bool] = field(repr=False)
    margins: list[float] = field(repr=False)

    def firmly_passed(self, margin: float) -> list[bool]:
        """Which cases passed by at least ``margin``."""
        return [ok and m >= margin for ok, m in zip(self.passed, self.margins, strict=True)]

    def to_dict(self) -> dict:
        return {"tests": [{"name": t.name, "kind": t.kind, "cases": t.cases, "passed": t.passed}
                          for t in self.tests],
                "cases": len(self.passed), "passed": sum(self.passed)}


@dataclass(frozen=True)
class BehaviourComparison:
    """Challenger against champion on the same suite."""

    challenger: BehaviourResult
    champion: BehaviourResult | None
    regressions: list[int]  # cases the champion passes firmly (by the margin) and the challenger fails
    margin: float = 0.0
    near_misses: list[int] = field(default_factory=list)  # the champion passed by less; the challenger fails
    fixes: list[int] = field(default_factory=list)  # the champion fails; the challenger passes by the margin

    def summary(self) -> str:
        """How many cases the challenger loses, in words (report, gate, history)."""
        return lost_cases(len(self.regressions), self.margin, len(self.near_misses), len(self.fixes))

    @property
    def champion_firm(self) -> int:
        """How many cases the champion passes by at least the margin: what the tolerance is a share of."""
        return sum(self.champion.firmly_passed(self.margin)) if self.champion else 0

    def to_dict(self) -> dict:
        return {"challenger": self.challenger.to_dict(),
                "champion": self.champion.to_dict() if self.champion else None,
                "regressions": len(self.regressions), "margin": self.margin,
                "champion_firm": self.champion_firm, "near_misses": len(self.near_misses), "fixes": len(self.fixes)}


# --- perturbations ---------------------------------------------------------------------------------
_URL = re.compile(r"https?://\S+")
_NUMBER = re.compile(r"\d+")


def _typo(text: str, rng: random.Random) -> list[str]:
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not words:
        return []
    word = rng.choice(words)
    i = rng.randrange(word.start(), word.end() - 1)
    return [text[:i] + text[i + 1] + text[i] + text[i + 2:]]


def _name(text: str, rng: random.Random) -> list[str]:
    present = [name for name in NAMES if re.search(rf"\b{name}\b", text)]
    if not present:
        return []
    others = [name for name in NAMES if name not in present]
    return [re.sub(rf"\b{present[0]}\b", other, text) for other in rng.sample(others, 2)]


def _number(text: str, rng: random.Random) -> list[str]:
    if not _NUMBER.search(text):
        return []
    return [_NUMBER.sub(lambda m: str(int(m.group()) + rng.randint(1, 9)), text)]


def _url(text: str, rng: random.Random) -> list[str]:
    url = f"https://t.co/{''.join(rng.choices('abcdefghijkmnpqrstuvwxyz0123456789', k=10))}"
    return [_URL.sub(url, text) if _URL.search(text) else f"{text} {url}"]


def _casing(text: str, rng: random.Random) -> list[str]:
    return [variant for variant in (text.upper(), text.lower()) if variant != text]


PERTURB: dict[str, Callable[[str, random.Random], list[str]]] = {
    "typo": _typo, "name": _name, "number": _number, "url": _url, "casing": _casing,
}


def perturbations(text: str, kinds: Sequence[str], seed: int = 0) -> list[str]:
    """The perturbed variants of ``text`` (none for a kind that does not apply, e.g. no number in it).

    >>> perturbations("Mary paid 20 dollars", ["name", "number", "casing"], seed=1)[-2:]
    ['MARY PAID 20 DOLLARS', 'mary paid 20 dollars']
    """
    rng = random.Random(f"{seed}:{text}")
    return [variant for kind in kinds for variant in PERTURB[kind](text, rng)]


# --- reading a suite -------------------------------------------------------------------------------
def _texts_of(test: dict, where: str, seed: int) -> list[str]:
    texts = [str(t) for t in test.get("cases") or []]
    fill = test.get("fill") or {}
    for template in test.get("templates") or []:
        keys = sorted(set(re.findall(r"{(\w+)}", template)))
        missing = [key for key in keys if key not in fill]
        if missing:
            raise ValueError(f"{where}: template {template!r} uses {missing}, which 'fill' does not list")
        combos = list(itertools.product(*(fill[key] for key in keys)))
        if len(combos) > MAX_TEMPLATE_CASES:
            combos = random.Random(seed).sample(combos, MAX_TEMPLATE_CASES)
        texts += [template.format(**dict(zip(keys, combo, strict=True))) for combo in combos]
    if not texts:
        raise ValueError(f"{where}: no texts (give 'cases' or 'templates')")
    return list(dict.fromkeys(texts))


def parse_suite(data: dict, labels: Sequence[str] | None = None, seed: int = 0, source: str = "") -> Suite:
    """Expand a suite's parsed YAML into cases; a bad test raises an error that names it."""
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, list) or not tests:
        raise ValueError(f"behaviour suite {source or ''}: needs a non-empty 'tests' list")
    cases: list[Case] = []
    for number, test in enumerate(tests, start=1):
        name = str(test.get("name") or f"test {number}")
        where = f"behaviour suite {source}, test {name!r}".replace("suite , ", "suite: ")
        kind = test.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{where}: kind must be one of {list(KINDS)}, got {kind!r}")
        label = test.get("label")
        if kind in ("mft", "dir") and (label is None or (labels is not None and label not in labels)):
            raise ValueError(f"{where}: label {label!r} is not one of the model's labels {list(labels or [])}")
        texts = _texts_of(test, where, seed)
        if kind == "mft":
            cases += [Case(name, "mft", (text,), str(label)) for text in texts]
        elif kind == "inv":
            kinds = test.get("perturb") or list(PERTURBATIONS)
            unknown = [k for k in kinds if k not in PERTURB]
            if unknown:
                raise ValueError(f"{where}: unknown perturbation(s) {unknown}; known: {list(PERTURBATIONS)}")
            for text in texts:
                variants = perturbations(text, kinds, seed)
                if variants:
                    cases.append(Case(name, "inv", (text, *variants)))
        else:
            direction = test.get("direction", "up")
            if direction not in ("up", "down"):
                raise ValueError(f"{where}: direction must be 'up' or 'down', got {direction!r}")
            edits = [str(e) for e in test.get("append") or []]
            if not edits:
                raise ValueError(f"{where}: a dir test needs 'append' edits")
            cases += [Case(name, "dir", (text, *(text + edit for edit in edits)), str(label), direction)
                      for text in texts]
    return Suite(tuple(cases), source)


def load_suite(path: Path, labels: Sequence[str] | None = None, seed: int = 0) -> Suite:
    """Read a YAML suite file (see the module docstring for its form)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"behaviour suite {path} does not exist (RETRAIN_BEHAVIOUR_SUITE)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"behaviour suite {path} is not valid YAML: {error}") from error
    return parse_suite(data, labels, seed, source=str(path))


# --- running it ------------------------------------------------------------------------------------
def run_suite(suite: Suite, predict_proba: Callable[[list[str]], np.ndarray], labels: Sequence[str]) -> BehaviourResult:
    """Run every case through ``predict_proba`` (texts -> probabilities in ``labels`` order) once."""
    unique = list(dict.fromkeys(text for case in suite.cases for text in case.texts))
    probabilities = predict_proba(unique) if unique else np.zeros((0, len(labels)))
    row = {text: i for i, text in enumerate(unique)}
    label_list = list(labels)
    passed: list[bool] = []
    margins: list[float] = []
    for case in suite.cases:
        p = probabilities[[row[text] for text in case.texts]]
        predicted = p.argmax(axis=1)
        if case.kind == "mft":
            ok = label_list[predicted[0]] == case.label
            margin = _lead(p, label_list.index(case.label)).min()
        elif case.kind == "inv":
            ok = bool(np.all(predicted == predicted[0]))
            margin = _lead(p, predicted[0]).min()
        else:
            moved = p[1:, label_list.index(case.label)] - p[0, label_list.index(case.label)]
            ok = bool(np.all(moved > 0) if case.direction == "up" else np.all(moved < 0))
            margin = (moved if case.direction == "up" else -moved).min()
        passed.append(bool(ok))
        margins.append(max(float(margin), 0.0) if ok else min(float(margin), 0.0))
    tests = []
    for name in suite.tests:
        mine = [ok for case, ok in zip(suite.cases, passed, strict=True) if case.test == name]
        kind = next(case.kind for case in suite.cases if case.test == name)
        tests.append(BehaviourTest(name, kind, len(mine), sum(mine)))
    return BehaviourResult(tests, passed, margins)


def _lead(p: np.ndarray, label: int) -> np.ndarray:
    """Each row's probability of ``label`` minus its strongest other label's."""
    others = np.delete(p, label, axis=1)
    return p[:, label] - (others.max(axis=1) if others.size else 0.0)


def compare(challenger: BehaviourResult, champion: BehaviourResult | None, margin: float = 0.0) -> BehaviourComparison:
    """Which cases the champion passes by at least ``margin`` and the challenger fails (regressions), which
    it passes by less (near misses, reported only), and which it fails and the challenger passes by ``margin``.

    >>> firm = BehaviourResult([], [True, True, False], [0.30, 0.02, -0.1])
    >>> new = BehaviourResult([], [False, False, True], [-0.2, -0.01, 0.2])
    >>> c = compare(new, firm, margin=0.1)
    >>> c.regressions, c.near_misses, c.fixes, c.champion_firm
    ([0], [1], [2], 1)
    """
    if champion is None:
        return BehaviourComparison(challenger, None, [], margin)
    firm, firm_now = champion.firmly_passed(margin), challenger.firmly_passed(margin)
    pairs = list(enumerate(zip(challenger.passed, champion.passed, strict=True)))
    lost = [i for i, (new, old) in pairs if old and not new]
    fixes = [i for i, (new, old) in pairs if new and not old and firm_now[i]]
    return BehaviourComparison(challenger, champion, [i for i in lost if firm[i]], margin,
                               [i for i in lost if not firm[i]], fixes)


def behaviour_regressions(comparison: BehaviourComparison, tolerance: float, net_of_fixes: bool = False) -> list[str]:
    """Why the gate refuses the challenger, if it fails more than ``tolerance`` (a share) of the
    cases the champion passes by the comparison's margin; empty when it does not. ``net_of_fixes``
    counts those losses less the challenger's fixes (``RETRAIN_BEHAVIOUR_NET_OF_FIXES``)."""
    firm, lost, fixed = comparison.champion_firm, len(comparison.regressions), len(comparison.fixes)
    allowed, counted = tolerance * firm, lost - fixed if net_of_fixes else lost
    if comparison.champion is None or counted <= allowed:
        return []
    net = f" and fixes {fixed}: {counted} net" if net_of_fixes else ""
    return [f"behaviour: the challenger fails {lost} of the {firm} suite cases the champion passes"
            f"{_by(comparison.margin)}{net} (tolerance {tolerance:g} = {allowed:.1f} cases)"]


def _by(margin: float) -> str:
    return f" by a margin of {margin:g} or more" if margin > 0 else ""


def lost_cases(regressions: int, margin: float = 0.0, near_misses: int = 0, fixes: int = 0) -> str:
    """The regressions in words, with the near misses the margin let through and the challenger's fixes.

    >>> lost_cases(2, near_misses=5, fixes=3)
    '2 the champion passes and the challenger fails (5 more it passed by less), 3 it newly passes'
    """
    more = f" ({near_misses} more it passed by less)" if near_misses else ""
    more += f", {fixes} it newly passes" if fixes else ""
    return f"{regressions} the champion passes{_by(margin)} and the challenger fails{more}"


def format_results(results: dict[str, BehaviourResult | None]) -> list[str]:
    """Markdown table rows: one per test, each model's pass rate."""
    present = {name: r for name, r in results.items() if r is not None}
    first = next(iter(present.values()), None)
    if first is None:
        return []
    lines = []
    for i, test in enumerate(first.tests):
        cells = " | ".join(f"{r.tests[i].passed}/{r.tests[i].cases} ({r.tests[i].pass_rate:.0%})"
                           for r in present.values())
        lines.append(f"| {test.name} ({test.kind}) | {cells} |")
    return lines
