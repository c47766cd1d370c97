// Asking: the conversation with the selected knowledge base. Earlier turns go with each
// question as `messages`, so a follow-up is understood; answers stream in, then the
// `result` event replaces the streamed text (it is authoritative).

import * as api from "./api.js";
import { el, byId, clear } from "./dom.js";
import { t } from "./i18n.js";
import { errorText, notifyError } from "./notice.js";

export class Chat {
  constructor(currentKb, openCitation) {
    this.currentKb = currentKb;
    this.openCitation = openCitation;
    this.turns = []; // {question, streamed, result, error}
    this.busy = false;
    byId("ask-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.ask();
    });
    byId("question").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.ask();
      }
    });
    byId("chat-clear").addEventListener("click", () => this.reset());
  }

  reset() {
    this.turns = [];
    this.rerender();
  }

  history() {
    const messages = [];
    for (const turn of this.turns) {
      if (!turn.result) continue;
      messages.push({ role: "user", content: turn.question });
      messages.push({ role: "assistant", content: turn.result.answer });
    }
    return messages;
  }

  async ask() {
    const input = byId("question");
    const question = input.value.trim();
    const kb = this.currentKb();
    if (!question || !kb || this.busy) return;
    const messages = [...this.history(), { role: "user", content: question }];
    const turn = { question, streamed: "", result: null, error: null };
    this.turns.push(turn);
    input.value = "";
    this.setBusy(true);
    this.rerender();
    try {
      turn.result = await api.askStream(kb, { messages }, (text) => {
        turn.streamed += text;
        this.rerenderLast();
      });
    } catch (error) {
      turn.error = error;
      if (error.status === 401) notifyError(error); // the key was revoked: signs out
    }
    this.setBusy(false);
    if (this.turns.includes(turn)) this.rerenderLast();
    input.focus();
  }

  setBusy(busy) {
    this.busy = busy;
    byId("ask-send").disabled = busy;
  }

  rerender() {
    const list = clear(byId("chat"));
    for (const turn of this.turns) list.append(this.renderTurn(turn));
  }

  rerenderLast() {
    const list = byId("chat");
    const turn = this.turns[this.turns.length - 1];
    if (!turn || !list.lastElementChild) return this.rerender();
    list.lastElementChild.replaceWith(this.renderTurn(turn));
    list.lastElementChild.scrollIntoView({ block: "nearest" });
  }

  renderTurn(turn) {
    return el("li", { className: "turn" },
      el("div", { className: "msg user" },
        el("span", { className: "who-said", text: t("you") }),
        el("p", { text: turn.question })),
      el("div", { className: "msg bot" },
        el("span", { className: "who-said", text: t("assistant") }),
        this.renderReply(turn)));
  }

  renderReply(turn) {
    if (turn.error) return el("p", { className: "error", text: errorText(turn.error) });
    if (turn.result) return renderAnswer(turn.result, this.openCitation);
    if (turn.streamed) return el("p", { className: "answer streaming", text: turn.streamed });
    return el("p", { className: "muted", text: t("thinking") });
  }
}

export function renderAnswer(result, openCitation) {
  const box = el("div", { className: "answer-block" });
  const asked = (result.question || "").trim();
  const standalone = (result.standalone_question || "").trim();
  if (standalone && standalone !== asked) {
    box.append(el("p", { className: "small-text muted", text: t("asUnderstood", { q: standalone }) }));
  }
  if (result.abstained) {
    box.append(el("p", { className: "abstained", text: t("abstained") }));
    if (result.answer) box.append(el("p", { className: "answer", text: result.answer }));
    box.append(renderPassages(result.passages || [], openCitation));
  } else {
    if (result.short_answer) {
      box.append(el("p", { className: "short-answer" },
        el("span", { className: "label", text: t("shortAnswer") }),
        el("strong", { text: result.short_answer.text })));
    }
    box.append(answerWithMarkers(result, openCitation));
    box.append(renderEvidence(result.citations || [], openCitation));
  }
  box.append(renderNotes(result));
  return box;
}

// The answer's text with its citations as buttons: the LLM's "[n]" marks where present,
// else a mark at the end of the part each citation supports (answer_end).
function answerWithMarkers(result, openCitation) {
  const text = result.answer || "";
  const byNumber = new Map((result.citations || []).map((c) => [c.number, c]));
  const node = el("p", { className: "answer" });
  const marks = [...text.matchAll(/\[(\d+)\]/g)].filter((m) => byNumber.has(Number(m[1])));
  let at = leadLength(text, result.short_answer);
  if (marks.length) {
    for (const mark of marks) {
      node.append(text.slice(at, mark.index), marker(byNumber.get(Number(mark[1])), openCitation));
      at = mark.index + mark[0].length;
    }
  } else {
    const ends = [...byNumber.values()].sort((a, b) => a.answer_end - b.answer_end);
    for (const citation of ends) {
      const end = Math.min(Math.max(citation.answer_end, at), text.length);
      node.append(text.slice(at, end), marker(citation, openCitation));
      at = end;
    }
  }
  node.append(text.slice(at));
  return node;
}

// An extractive answer opens with its short answer on a line of its own: shown above it
// already, so the text starts after it.
function leadLength(text, short) {
  const lead = short && short.text ? short.text : "";
  const match = lead && text.startsWith(lead) ? /^\s*\n\s*/.exec(text.slice(lead.length)) : null;
  return match ? lead.length + match[0].length : 0;
}

function marker(citation, openCitation) {
  return el("button", { type: "button", className: "cite",
                        "aria-label": t("openPage", { page: citation.page, file: citation.filename }),
                        onclick: () => openCitation(citation) }, `[${citation.number}]`);
}

function renderEvidence(citations, openCitation) {
  if (!citations.length) return null;
  return el("details", { className: "evidence", open: true },
    el("summary", { text: t("evidence") }),
    el("ol", { className: "evidence-list" }, citations.map((c) => el("li", {},
      el("button", { type: "button", className: "link", onclick: () => openCitation(c) },
        `[${c.number}] `, t("pageRef", { file: c.filename, page: c.page })),
      el("blockquote", { text: c.quote })))));
}

function renderPassages(passages, openCitation) {
  if (!passages.length) return null;
  return el("div", { className: "passages" },
    el("p", { className: "muted", text: t("closestPassages") }),
    el("ol", { className: "evidence-list" }, passages.map((p) => el("li", {},
      el("button", { type: "button", className: "link",
                     onclick: () => openCitation({ ...p, quote: p.text }) },
        t("pageRef", { file: p.filename, page: p.page })),
      el("blockquote", { text: p.text })))));
}

function renderNotes(result) {
  const notes = el("p", { className: "notes small-text muted" }, t("modeNote", { mode: result.mode }));
  if (result.fallback_reason) notes.append(" · ", t("fallbackNote", { reason: result.fallback_reason }));
  return notes;
}
