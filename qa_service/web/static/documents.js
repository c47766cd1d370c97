// The selected knowledge base's documents: upload PDFs (drag and drop or the file picker)
// with a progress bar, follow the ingestion job until it ends, list, open and delete.

import * as api from "./api.js";
import { el, byId, clear, formatBytes } from "./dom.js";
import { t } from "./i18n.js";
import { notify, notifyError } from "./notice.js";

const POLL_MS = 1000;
const STATUSES = ["queued", "indexed", "unchanged", "no_text", "encrypted", "invalid",
                  "too_large", "failed"];

// A file's status in words; the server's reason when it says more than the status.
export function statusText(status, reason) {
  const words = STATUSES.includes(status) ? t(`status_${status}`) : status;
  const friendly = ["encrypted", "unchanged", "queued", "indexed"].includes(status);
  return reason && !friendly ? `${words} (${reason})` : words;
}

export class Documents {
  constructor(currentKb, { onChange, onReadOnly }) {
    this.currentKb = currentKb;
    this.onChange = onChange;
    this.onReadOnly = onReadOnly;
    this.docs = [];
    this.job = null; // the last upload's job, as the server last said it
    this.uploadFraction = null;
    this.uploadCount = 0;
    this.writable = true;
    this.generation = 0; // bumped on reset: a poll for another knowledge base stops
    this.bindDrop();
    byId("docs-refresh").addEventListener("click", () => this.load());
  }

  bindDrop() {
    const drop = byId("drop");
    const picker = byId("files");
    picker.addEventListener("change", () => {
      this.upload([...picker.files]);
      picker.value = "";
    });
    for (const name of ["dragenter", "dragover"]) {
      drop.addEventListener(name, (event) => {
        event.preventDefault();
        drop.classList.add("over");
      });
    }
    for (const name of ["dragleave", "drop"]) {
      drop.addEventListener(name, () => drop.classList.remove("over"));
    }
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      this.upload([...event.dataTransfer.files]);
    });
  }

  reset() {
    this.generation += 1;
    this.docs = [];
    this.job = null;
    this.uploadFraction = null;
    this.rerender();
  }

  setWritable(writable) {
    this.writable = writable;
    this.renderList();
  }

  async load() {
    const kb = this.currentKb();
    if (!kb) return;
    const generation = this.generation;
    try {
      const body = await api.getJson(api.kbPath(kb, "documents"));
      if (generation !== this.generation) return;
      this.docs = body.documents;
      this.renderList();
    } catch (error) {
      notifyError(error);
    }
  }

  async upload(files) {
    const kb = this.currentKb();
    const pdfs = files.filter((f) => f.type === "application/pdf" || /\.pdf$/i.test(f.name));
    if (!kb || pdfs.length === 0) {
      if (files.length) notify(t("noPdf"), "error");
      return;
    }
    const generation = this.generation;
    this.job = null;
    this.uploadCount = pdfs.length;
    this.uploadFraction = 0;
    this.renderProgress();
    try {
      const accepted = await api.uploadFiles(kb, pdfs, (fraction) => {
        this.uploadFraction = fraction;
        this.renderProgress();
      });
      this.uploadFraction = null;
      this.job = { state: accepted.state, files: [], error: "",
                   progress: { files_done: 0, files_total: accepted.files_total } };
      this.renderProgress();
      await this.follow(kb, accepted.job_id, generation);
    } catch (error) {
      this.uploadFraction = null;
      byId("upload-status").hidden = true;
      if (error.status === 403) this.onReadOnly(kb);
      else notifyError(error);
    }
  }

  async follow(kb, jobId, generation) {
    while (generation === this.generation) {
      const job = await api.getJson(api.kbPath(kb, "jobs", jobId));
      if (generation !== this.generation) return;
      this.job = job;
      this.renderProgress();
      if (job.state === "done" || job.state === "failed") break;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    await this.load();
    this.onChange();
  }

  rerender() {
    this.renderProgress();
    this.renderList();
  }

  renderProgress() {
    const box = byId("upload-status");
    const label = byId("upload-label");
    const bar = byId("upload-bar");
    const list = clear(byId("upload-files"));
    if (this.uploadFraction !== null) {
      const pct = Math.round(this.uploadFraction * 100);
      label.textContent = t("uploading", { n: this.uploadCount, pct });
      bar.value = pct;
      box.hidden = false;
      return;
    }
    if (!this.job) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const { progress } = this.job;
    const total = Math.max(progress.files_total, 1);
    bar.value = Math.round((progress.files_done / total) * 100);
    label.textContent = jobLine(this.job);
    for (const file of this.job.files || []) {
      if (file.status === "queued") continue;
      list.append(el("li", { className: `outcome status-${file.status}` },
        el("span", { className: "file-name", text: file.filename }), " — ",
        el("span", { text: statusText(file.status, file.reason) })));
    }
  }

  renderList() {
    const body = clear(byId("docs-body"));
    byId("docs-empty").hidden = this.docs.length > 0;
    byId("docs-table").hidden = this.docs.length === 0;
    for (const doc of this.docs) body.append(this.row(doc));
  }

  row(doc) {
    const open = doc.status === "indexed"
      ? el("button", { type: "button", className: "ghost small", text: t("openPdf"),
                       onclick: () => this.openPdf(doc) })
      : null;
    const remove = this.writable
      ? el("button", { type: "button", className: "ghost small danger", text: t("delete"),
                       onclick: () => this.remove(doc) })
      : null;
    return el("tr", {},
      el("td", { className: "file-name", text: doc.filename }),
      el("td", { className: `status-${doc.status}`, text: statusText(doc.status, doc.reason) }),
      el("td", { className: "num", text: doc.ocr_pages
        ? `${doc.pages} ${t("ocrShort", { n: doc.ocr_pages })}` : doc.pages }),
      el("td", { className: "num", text: formatBytes(doc.size_bytes) }),
      el("td", { className: "actions" }, open, remove));
  }

  // The original PDF needs the key: fetched as a blob, opened from an object URL.
  async openPdf(doc) {
    const kb = this.currentKb();
    const tab = window.open("", "_blank");
    try {
      const { blob } = await api.getBlob(api.kbPath(kb, "documents", doc.document_id, "file"));
      const url = URL.createObjectURL(new Blob([blob], { type: "application/pdf" }));
      if (tab) tab.location.href = url;
      else window.location.assign(url);
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      if (tab) tab.close();
      notifyError(error);
    }
  }

  async remove(doc) {
    const kb = this.currentKb();
    if (!window.confirm(t("confirmDeleteDoc", { name: doc.filename }))) return;
    try {
      await api.remove(api.kbPath(kb, "documents", doc.document_id));
      notify(t("docDeleted", { name: doc.filename }));
      await this.load();
      this.onChange();
    } catch (error) {
      if (error.status === 403) this.onReadOnly(kb);
      else notifyError(error);
    }
  }
}

function jobLine(job) {
  const p = job.progress;
  if (job.state === "failed") return t("jobFailed", { reason: job.error || "" });
  let line;
  if (job.state === "done") line = t("jobDone", { done: p.files_done, total: p.files_total });
  else if (job.state === "queued") line = t("queued");
  else line = t("processing", { done: p.files_done, total: p.files_total,
                                pages: p.pages_parsed ?? 0, chunks: p.chunks_embedded ?? 0 });
  return p.ocr_pages ? `${line} ${t("ocrPages", { n: p.ocr_pages })}` : line;
}
