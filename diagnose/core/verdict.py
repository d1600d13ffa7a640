"""The verdict schema shared by `diagnose check`, `diagnose logs`, Monitor and the dashboard.

    {"subject": "...", "verdict": "<code>", "confidence": 0.0-1.0,
     "flags": [{"code", "severity", "summary", "evidence", "steps", "advice"}],
     "metrics": {"<name>": {"value": x, "features": "<extractor>", "n": samples}}, ...}

Codes are a fixed vocabulary (add new ones, never rename). ``verdict`` is the code of the most
severe flag (ties broken by the order of CODES, then by confidence), or ``healthy``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from diagnose.core.atomic import sanitize_json

#: Every verdict code, with one line of meaning. Order = priority when severities tie.
CODES: dict[str, str] = {
    "diverged": "NaN/inf or explosive growth in losses or outputs",
    "range_mismatch": "real data and generator outputs on different scales",
    "inconsistent_losses": "both players report near-zero loss at once",
    "mode_collapse": "few distinct outputs",
    "memorization": "copies of training data",
    "not_converged": "outputs unlike the data",
    "partial_collapse": "modes missing",
    "d_overpowering": "D wins: D(x)->1, D(G(z))->0, G gradients vanish",
    "d_not_learning": "D stuck at chance: D(x) ~ D(G(z)) ~ 0.5",
    "d_fooled": "D(G(z)) > D(x) for long",
    "batch_stat_leak": "D judges whole batches by BatchNorm statistics: its output changes with batch composition",
    "oscillation": "sustained large periodic swings with no trend",
    "healthy": "nothing wrong found",
}
SEVERITIES = ("info", "warn", "fail")
_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_CODE_RANK = {c: i for i, c in enumerate(CODES)}


@dataclass
class Flag:
    """One finding: a code, how bad, one sentence, the numbers behind it, where, what to do."""

    code: str
    severity: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    steps: list[int] | None = None
    advice: list[str] = field(default_factory=list)
    confidence: float = 0.8

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown verdict code {self.code!r}")
        if self.severity not in _SEV_RANK:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("confidence")
        return sanitize_json(d)


def metric_entry(value: Any, features: str | None, n: int | None, **extra: Any) -> dict:
    """One entry of the verdict's ``metrics`` map: every value carries its feature extractor."""
    return sanitize_json({"value": value, "features": features, "n": n, **extra})


def _rank(f: Flag) -> tuple:
    return (-_SEV_RANK[f.severity], _CODE_RANK.get(f.code, 99), -f.confidence)


def make_verdict(subject: str, flags: Iterable[Flag], metrics: dict | None = None,
                 **extra: Any) -> dict:
    """Build the verdict JSON from flags. Only warn/fail flags decide the verdict; info flags inform."""
    flags = sorted(flags, key=_rank)
    deciding = [f for f in flags if f.severity in ("warn", "fail") and f.code != "healthy"]
    if deciding:
        top = deciding[0]
        code, confidence = top.code, top.confidence
    else:
        code = "healthy"
        confidence = 0.7 if not flags else max(0.5, 1.0 - max(f.confidence for f in flags) / 2)
    out = {
        "subject": subject,
        "verdict": code,
        "confidence": round(float(confidence), 3),
        "flags": [f.to_dict() for f in flags],
        "metrics": metrics or {},
    }
    out.update(extra)
    return sanitize_json(out)


def merge_verdicts(subject: str, *verdicts: dict | None, **extra: Any) -> dict:
    """Combine verdict dicts (e.g. sample flags from `check` and dynamics flags from `logs`)."""
    flags: list[Flag] = []
    metrics: dict = {}
    for v in verdicts:
        if not v:
            continue
        conf = float(v.get("confidence", 0.8))
        for fd in v.get("flags", []):
            flags.append(Flag(code=fd["code"], severity=fd["severity"], summary=fd["summary"],
                              evidence=fd.get("evidence", {}), steps=fd.get("steps"),
                              advice=fd.get("advice", []),
                              confidence=conf if fd.get("code") == v.get("verdict") else 0.6))
        metrics.update(v.get("metrics", {}))
    return make_verdict(subject, flags, metrics, **extra)


class Verdict:
    """A verdict as a Python object (what ``diagnose.check``, ``diagnose.judge_logs`` and
    ``diagnose.verdict_for_run`` return). The dict on disk and in ``--json`` is unchanged:
    ``.to_dict()`` is that dict, ``.to_json()`` its text; ``v["flags"]`` reads it too.

    code:       the verdict code (``healthy``, ``mode_collapse``, ...)
    confidence: 0-1
    flags:      list of flag dicts (code, severity, summary, evidence, steps, advice)
    metrics:    {name: {"value", "features", "n", "reference", ...}}
    """

    def __init__(self, data: dict):
        self._data = dict(data)

    code = property(lambda self: self._data.get("verdict"), doc="the verdict code")
    confidence = property(lambda self: self._data.get("confidence"), doc="confidence, 0-1")
    flags = property(lambda self: list(self._data.get("flags", [])), doc="every flag, worst first")
    metrics = property(lambda self: dict(self._data.get("metrics") or {}), doc="metrics map")
    subject = property(lambda self: self._data.get("subject"), doc="what was judged")

    @property
    def healthy(self) -> bool:
        """True when no warn/fail flag was raised."""
        return self.code == "healthy"

    def to_dict(self) -> dict:
        """The verdict dict (the schema of diagnose.core.verdict), as written to verdict.json."""
        return self._data

    def to_json(self, indent: int | None = 2) -> str:
        """The verdict as strict JSON text (NaN/inf as null)."""
        import json

        return json.dumps(sanitize_json(self._data), indent=indent)

    def __getitem__(self, key: str):
        return self._data[key]

    def get(self, key: str, default=None):
        """dict.get on the verdict dict."""
        return self._data.get(key, default)

    def __eq__(self, other) -> bool:
        return isinstance(other, Verdict) and other._data == self._data

    def __repr__(self) -> str:
        flags = ", ".join(f"{f['code']}[{f['severity']}]" for f in self.flags
                          if f.get("severity") != "info") or "no flags"
        conf = self.confidence
        conf = f" ({conf:.2f})" if isinstance(conf, (int, float)) else ""
        return f"<Verdict {self.code}{conf} for {self.subject!r}: {flags}>"

    def __str__(self) -> str:
        lines = [f"verdict: {self.code}" + (f" (confidence {self.confidence:.2f})"
                                             if isinstance(self.confidence, (int, float)) else "")
                 + f"  {self.subject}"]
        for f in self.flags:
            lines.append(f"  [{f['severity']}] {f['code']}: {f['summary']}")
        for name, m in self.metrics.items():
            if isinstance(m, dict) and "value" in m:
                ref = m.get("reference")
                lines.append(f"  {name}: {m['value']!r}" + (f" (real data: {ref!r})" if ref is not None else "")
                             + (f" [{m.get('features')}]" if m.get("features") else ""))
        return "\n".join(lines)
