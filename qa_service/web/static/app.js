// The page's entry point: sign in, find what the key may do, list knowledge bases and
// switch between asking and the documents of the selected one.

import * as api from "./api.js";
import { el, byId, clear } from "./dom.js";
import { loadTables, applyStatic, setLanguage, language, onLanguageChange, t } from "./i18n.js";
import { notify, notifyError, clearNotice, onUnauthorized, keepNoticeVisible } from "./notice.js";
import { Documents } from "./documents.js";
import { Chat } from "./chat.js";
import { PageView } from "./pageview.js";
import { Keys } from "./keys.js";

const state = { admin: false, kbs: [], kb: null, readOnly: new Set(), link: null };
const pageView = new PageView(() => state.kb);
const keys = new Keys(() => state.kbs.map((kb) => kb.name));
const chat = new Chat(() => state.kb, (citation) => pageView.open(citation));
const documents = new Documents(() => state.kb, {
  onChange: () => refreshKbs(),
  onReadOnly: (kb) => markReadOnly(kb),
});

async function start() {
  await loadTables("web/i18n.json");
  applyStatic(document);
  const select = byId("lang");
  select.value = language();
  select.addEventListener("change", () => setLanguage(select.value));
  onLanguageChange(() => rerender());
  byId("signin-form").addEventListener("submit", onSignIn);
  byId("sign-out").addEventListener("click", () => {
    signOut();
    clearNotice();
  });
  onUnauthorized(signOut);
  keepNoticeVisible();
  byId("notice-close").addEventListener("click", clearNotice);
  byId("kb-create").addEventListener("submit", onCreateKb);
  byId("kb-delete").addEventListener("click", onDeleteKb);
  byId("tab-ask").addEventListener("click", () => showTab("ask"));
  byId("tab-docs").addEventListener("click", () => showTab("docs"));
  document.querySelector(".tabs").addEventListener("keydown", onTabKey);
  showTab("ask");
  state.link = citationLink(window.location.hash);
  window.addEventListener("hashchange", onHashChange);
  if (api.savedKey()) await enter();
  else if (state.link) notify(t("linkSignIn"));
}

// A citation link (the chat endpoint's `url_citation`): `#kb=..&document=..&page=..&start=..
// &end=..`; null when the fragment is not one.
function citationLink(hash) {
  const fields = new URLSearchParams(hash.replace(/^#/, ""));
  const number = (name) => Number.parseInt(fields.get(name) ?? "", 10);
  const link = { kb: fields.get("kb"), document: fields.get("document"), page: number("page"),
                 start: number("start"), end: number("end") };
  if (!link.kb || !link.document || !(link.page >= 1)) return null;
  if (!(link.start >= 0) || !(link.end >= link.start)) Object.assign(link, { start: 0, end: 0 });
  return link;
}

function onHashChange() {
  state.link = citationLink(window.location.hash);
  if (state.link && !byId("workspace").hidden) openLink();
}

// Open the pending citation link once signed in, then drop it from the address bar so a
// reload does not open it again.
async function openLink() {
  const link = state.link;
  state.link = null;
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  if (!state.kbs.some((kb) => kb.name === link.kb)) {
    notify(t("linkKbUnknown", { name: link.kb }), "error");
    return;
  }
  selectKb(link.kb);
  showTab("ask");
  await pageView.openLink(link);
}

async function onSignIn(event) {
  event.preventDefault();
  const input = byId("key");
  api.saveKey(input.value.trim());
  input.value = "";
  notify(t("signingIn"));
  await enter();
}

// Check the key (GET /kbs works for any valid key), then what it may do (GET /keys/me:
// the admin, or a read or write key of some knowledge bases).
async function enter() {
  try {
    state.kbs = (await api.getJson("kbs")).knowledge_bases;
  } catch (error) {
    if (error.status === 401) api.forgetKey();
    notifyError(error);
    showSignedIn(false);
    return;
  }
  try {
    const who = await api.getJson("keys/me");
    state.admin = who.admin;
    state.readOnly = new Set(who.scope === "read" ? who.kbs : []);
  } catch {
    state.admin = false;
  }
  clearNotice();
  showSignedIn(true);
  rerender();
  if (state.link) await openLink();
}

function signOut() {
  api.forgetKey();
  Object.assign(state, { admin: false, kbs: [], kb: null, readOnly: new Set(), link: null });
  chat.reset();
  documents.reset();
  for (const id of ["page-view", "keys-view"]) if (byId(id).open) byId(id).close();
  showSignedIn(false);
  byId("key").focus();
}

function showSignedIn(signedIn) {
  byId("signin").hidden = signedIn;
  byId("workspace").hidden = !signedIn;
  byId("sign-out").hidden = !signedIn;
  byId("who").hidden = !signedIn;
  for (const node of document.querySelectorAll(".admin-only")) node.hidden = !(signedIn && state.admin);
}

function rerender() {
  byId("who").textContent = state.admin ? t("admin") : t("scopedKey", { n: state.kbs.length });
  renderKbs();
  renderKbPanes();
  chat.rerender();
  documents.rerender();
  keys.rerender();
}

async function refreshKbs() {
  try {
    state.kbs = (await api.getJson("kbs")).knowledge_bases;
  } catch (error) {
    notifyError(error);
  }
  if (state.kb && !state.kbs.some((kb) => kb.name === state.kb)) selectKb(null);
  renderKbs();
  keys.rerender();
}

function renderKbs() {
  const list = clear(byId("kb-list"));
  byId("kb-empty").hidden = state.kbs.length > 0;
  for (const kb of state.kbs) {
    const selected = kb.name === state.kb;
    list.append(el("li", {},
      el("button", { type: "button", className: selected ? "kb selected" : "kb",
                     "aria-pressed": selected ? "true" : "false",
                     onclick: () => selectKb(kb.name) },
        el("span", { className: "kb-name", text: kb.name }),
        el("span", { className: "kb-meta", text: t("kbDocs", { n: kb.documents }) }),
        kb.rebuild_needed ? el("span", { className: "badge", text: t("kbRebuild") }) : null)));
  }
}

function selectKb(name) {
  if (name === state.kb) return;
  state.kb = name;
  chat.reset();
  documents.reset();
  renderKbs();
  renderKbPanes();
  if (name) documents.load();
}

function renderKbPanes() {
  byId("pick-kb").hidden = Boolean(state.kb);
  byId("kb-panes").hidden = !state.kb;
  byId("kb-delete").hidden = !(state.kb && state.admin);
  const writable = state.kb && !state.readOnly.has(state.kb);
  for (const node of document.querySelectorAll(".writer-only")) node.hidden = !writable;
  documents.setWritable(Boolean(writable));
}

function markReadOnly(kb) {
  state.readOnly.add(kb);
  renderKbPanes();
  notify(t("readOnly"), "error");
}

function showTab(which) {
  const ask = which === "ask";
  byId("tab-ask").setAttribute("aria-selected", String(ask));
  byId("tab-docs").setAttribute("aria-selected", String(!ask));
  byId("tab-ask").tabIndex = ask ? 0 : -1;
  byId("tab-docs").tabIndex = ask ? -1 : 0;
  byId("pane-ask").hidden = !ask;
  byId("pane-docs").hidden = ask;
  if (!ask) documents.load();
}

function onTabKey(event) {
  if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
  if (event.target.getAttribute("role") !== "tab") return;
  const next = event.target.id === "tab-ask" ? "docs" : "ask";
  showTab(next);
  byId(`tab-${next}`).focus();
}

async function onCreateKb(event) {
  event.preventDefault();
  const input = byId("kb-name");
  const name = input.value.trim();
  try {
    await api.postJson("kbs", { name });
    input.value = "";
    notify(t("kbCreated", { name }));
    await refreshKbs();
    selectKb(name);
  } catch (error) {
    notifyError(error);
  }
}

async function onDeleteKb() {
  const name = state.kb;
  if (!name || !window.confirm(t("confirmDeleteKb", { name }))) return;
  try {
    await api.remove(api.kbPath(name));
    notify(t("kbDeleted", { name }));
    selectKb(null);
    await refreshKbs();
  } catch (error) {
    notifyError(error);
  }
}

start().catch((error) => notify(String(error), "error"));
