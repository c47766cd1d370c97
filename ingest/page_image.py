"""A page drawn for display, as PNG: the parser worker's answer to a "render" request.

The server never draws a page itself: `ingest.parser_pool.ParserPool.render` sends

    {"type": "render", "path": "...", "page": 3, "scale": 1.5, "min_scale": 0.25,
     "max_pixels": 40000000, "max_image_bytes": 300000000}

to a worker process (memory limit, time limit), which answers

    {"type": "image", "png": "<base64>", "scale": 1.5, "width": 595.3, "height": 841.9}
    {"type": "refused", "reason": "...", "over_limit": true}

The page is drawn in RGB within the same limits as OCR's drawing (`ingest.render`): a page
larger than `max_pixels` at `scale` is drawn at a lower scale (never under `min_scale`),
and `scale` in the answer is the one used. Pixel (x, y) is the point (x / scale, y / scale)
of the page as displayed, top-left origin: the coordinates of the page's boxes.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from ingest.render import PdfPages, RenderOverLimit, RenderRefused

__all__ = ["render_request"]


def render_request(request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one "render" request (never raises for a page it cannot draw)."""
    try:
        return _image(request)
    except RenderRefused as exc:
        return refusal(str(exc), over_limit=isinstance(exc, RenderOverLimit))
    except MemoryError:
        return refusal("drawing it needs more memory than the parser may use", over_limit=True)
    except OSError as exc:  # the stored file went away (the document was deleted meanwhile)
        return refusal(f"the stored file cannot be read ({exc.strerror})", over_limit=False)


def refusal(reason: str, over_limit: bool) -> dict[str, Any]:
    return {"type": "refused", "reason": reason, "over_limit": over_limit}


def _image(request: dict[str, Any]) -> dict[str, Any]:
    from ingest.parse import find_pdf_header

    with open(request["path"], "rb") as handle:
        data = handle.read()
    with PdfPages(data[max(0, find_pdf_header(data)):]) as pages:
        image = pages.draw(int(request["page"]), float(request["scale"]) * 72.0,
                           int(request["max_pixels"]), int(request["max_image_bytes"]),
                           grayscale=False, min_dpi=float(request["min_scale"]) * 72.0)
    return {"type": "image", "png": base64.b64encode(_png(image.pixels)).decode("ascii"),
            "scale": image.scale, "width": image.width_pt, "height": image.height_pt}


def _png(pixels: Any) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=6)
    return out.getvalue()
