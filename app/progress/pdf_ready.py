"""Loaded by the worker processes' fork server (app.compute.offload.PRELOADED), never by the service itself: lays a
line out in the report's font once, so every worker forks with WeasyPrint's fonts and subsetter loaded, and the
first report a worker makes does not pay for them (about 2 s on this machine, bench/NOTES.md)."""

from app.progress.report_pdf import STYLE, pdf

pdf(
    f"<html><head><style>{STYLE}</style></head><body><h1>驿站月报 Yizhan 0123456789 %</h1>"
    "<table><tr><th>指标</th><td>1</td></tr></table>"
    "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><path d='M0,0L5,5L0,5Z'/></svg></body></html>"
)
