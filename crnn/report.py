"""The figures of a scored split, from its predictions alone: shared by checkpoints and ONNX models."""

from __future__ import annotations

from crnn.metrics import confusions, pair_rates, sequence_metrics
from crnn.stats import wilson


def sequence_report(preds: list[str], labels: list[str], beam_width: int) -> dict:
    """Metrics (see ``crnn.metrics``), the 95% interval of exact, the top confusions and a few mistakes."""
    report = sequence_metrics(preds, labels)
    report["beam_width"] = beam_width
    report["wrong"] = sum(p != t for p, t in zip(preds, labels, strict=True))
    report["exact_ci"] = list(wilson(report["count"] - report["wrong"], report["count"]))  # 95%
    report["confusions"] = confusions(preds, labels, top=10)
    report["pair_rates"] = pair_rates(preds, labels)
    report["mistakes"] = [(t, p) for p, t in zip(preds, labels, strict=True) if p != t][:8]
    return report


def format_report(r: dict, where: str, beam_width: int) -> str:
    lines = [
        f"{where}: {r['count']} samples, beam width {beam_width}",
        f"  exact accuracy        {r['exact_acc']:.2%} [{r['exact_ci'][0]:.2%}, {r['exact_ci'][1]:.2%}], {r['wrong']} wrong",
        f"  character accuracy    {r['char_acc']:.2%}",
        f"  avg edit distance     {r['edit_distance']:.3f}",
        f"  CER                   {r['cer']:.2%}",
        f"  exact, ignoring case  {r['exact_acc_nocase']:.2%}",
        f"  char, ignoring case   {r['char_acc_nocase']:.2%}",
    ]
    if r["confusions"]:
        pairs = ", ".join(f"{q['true']}->{q['pred']} {q['count']} ({q['rate']:.1%})" for q in r["pair_rates"][:10])
        lines.append(f"  most confused (true->predicted, share of that character): {pairs}")
    if r["mistakes"]:
        lines.append("  some mistakes (true -> predicted): " + ", ".join(f"{t}->{p or '(empty)'}" for t, p in r["mistakes"]))
    return "\n".join(lines)
