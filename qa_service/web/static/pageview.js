// The cited page: its image (fetched with the key), the quote's boxes drawn over it as
// highlights, previous and next page (those without highlights), and the page's text when
// the image cannot be had.
//
// Boxes are PDF points from the page's top-left corner; the image was drawn at
// `X-Page-Scale` pixels per point, so a box is at x * scale pixels of the image. Each
// highlight is placed in percent of the image's size, so it follows the displayed size.

import * as api from "./api.js";
import { el, byId, clear } from "./dom.js";
import { t } from "./i18n.js";
import { errorText, notifyError } from "./notice.js";

const SCALE_HEADER = "X-Page-Scale";

// Pixels per point to ask for: 1.5 (108 dpi) on an ordinary screen, more on a dense one.
function wantedScale() {
  const dense = 1.5 * (window.devicePixelRatio || 1);
  return Math.min(3, Math.max(1.5, Math.round(dense * 4) / 4));
}

export class PageView {
  constructor(currentKb) {
    this.currentKb = currentKb;
    this.dialog = byId("page-view");
    this.citation = null;
    this.page = 1;
    this.pages = null; // the document's page count, when known
    this.objectUrl = null;
    this.request = 0; // the latest page asked for: an older answer is dropped
    byId("page-close").addEventListener("click", () => this.dialog.close());
    byId("page-prev").addEventListener("click", () => this.go(this.page - 1));
    byId("page-next").addEventListener("click", () => this.go(this.page + 1));
    this.dialog.addEventListener("close", () => this.release());
  }

  async open(citation) {
    this.citation = citation;
    this.pages = null;
    byId("page-quote").textContent = citation.quote || "";
    if (!this.dialog.open) this.dialog.showModal();
    this.go(citation.page);
    this.loadPageCount(citation.document_id);
  }

  // A citation link (`url_citation` of the chat endpoint): its document, page and range of
  // the page text; the file name and the quote are read from the server.
  async openLink(link) {
    const kb = this.currentKb();
    const doc = api.kbPath(kb, "documents", link.document);
    try {
      const [info, page] = await Promise.all([
        api.getJson(doc), api.getJson(`${doc}/pages/${link.page}`)]);
      const end = Math.min(link.end, page.text.length);
      const start = Math.min(link.start, end);
      await this.open({ document_id: link.document, filename: info.filename, page: link.page,
                        char_start: start, char_end: end, quote: page.text.slice(start, end) });
    } catch (error) {
      notifyError(error);
    }
  }

  async loadPageCount(documentId) {
    try {
      const doc = await api.getJson(api.kbPath(this.currentKb(), "documents", documentId));
      if (this.citation?.document_id === documentId) {
        this.pages = doc.pages;
        this.renderNav();
      }
    } catch {
      // the count only bounds the buttons
    }
  }

  async go(page) {
    if (page < 1 || (this.pages && page > this.pages)) return;
    this.page = page;
    const request = ++this.request;
    this.renderNav();
    const c = this.citation;
    byId("page-title").textContent = t("pageTitle", { file: c.filename, page });
    byId("page-note").textContent = t("loading");
    clear(byId("page-boxes"));
    byId("page-text").hidden = true;
    const base = api.kbPath(this.currentKb(), "documents", c.document_id, "pages", String(page));
    const cited = page === c.page && c.char_end > c.char_start;
    const [image, boxes] = await Promise.all([
      fetchImage(base),
      cited ? fetchBoxes(base, c.char_start, c.char_end) : Promise.resolve(null),
    ]);
    if (request !== this.request) {
      if (image.url) URL.revokeObjectURL(image.url);
      return;
    }
    if (image.url) this.showImage(image, boxes);
    else await this.showText(base, image.error);
  }

  showImage(image, boxes) {
    this.release();
    this.objectUrl = image.url;
    const img = byId("page-image");
    byId("page-frame").hidden = false;
    img.alt = byId("page-title").textContent;
    img.onload = () => drawBoxes(img, image.scale, boxes);
    img.src = image.url;
    byId("page-note").textContent = boxNote(boxes);
  }

  async showText(base, imageError) {
    byId("page-frame").hidden = true;
    const note = t("imageFailed") + (imageError ? ` (${errorText(imageError)})` : "");
    byId("page-note").textContent = note;
    const pre = byId("page-text");
    try {
      pre.textContent = (await api.getJson(base)).text;
    } catch (error) {
      pre.textContent = errorText(error);
    }
    pre.hidden = false;
  }

  renderNav() {
    byId("page-prev").disabled = this.page <= 1;
    byId("page-next").disabled = Boolean(this.pages) && this.page >= this.pages;
    byId("page-number").textContent = this.pages
      ? t("pageOf", { page: this.page, pages: this.pages })
      : String(this.page);
  }

  release() {
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
  }
}

async function fetchImage(base) {
  try {
    const { blob, headers } = await api.getBlob(`${base}/image?scale=${wantedScale()}`);
    const scale = Number.parseFloat(headers.get(SCALE_HEADER) || "");
    return { url: URL.createObjectURL(blob), scale: Number.isFinite(scale) ? scale : null };
  } catch (error) {
    return { url: null, error };
  }
}

async function fetchBoxes(base, start, end) {
  try {
    return await api.getJson(`${base}/boxes?start=${start}&end=${end}`);
  } catch {
    return null; // shown without highlights
  }
}

function boxNote(boxes) {
  if (!boxes) return "";
  if (!boxes.positions || boxes.boxes.length === 0) return t("noPositions");
  return boxes.coverage !== null && boxes.coverage < 0.95 ? t("partialBoxes") : "";
}

// Highlights in percent of the image's natural size: scale from the header, else the
// image's width over the page's width in points.
function drawBoxes(img, headerScale, boxes) {
  const layer = clear(byId("page-boxes"));
  if (!boxes || !boxes.positions || !img.naturalWidth) return;
  const scale = headerScale || img.naturalWidth / boxes.width;
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  let first = null;
  for (const box of boxes.boxes) {
    const mark = el("div", { className: "highlight" });
    mark.style.left = `${(box.x0 * scale * 100) / w}%`;
    mark.style.top = `${(box.y0 * scale * 100) / h}%`;
    mark.style.width = `${((box.x1 - box.x0) * scale * 100) / w}%`;
    mark.style.height = `${((box.y1 - box.y0) * scale * 100) / h}%`;
    layer.append(mark);
    first ??= mark;
  }
  first?.scrollIntoView({ block: "center" });
}
