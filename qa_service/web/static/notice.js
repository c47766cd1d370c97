// One line of news at the top of the page: errors in words, confirmations.

import { byId } from "./dom.js";
import { t } from "./i18n.js";

const ERROR_KEYS = { 401: "err401", 403: "err403", 404: "err404", 413: "err413", 429: "err429" };
let unauthorized = () => {};

// What to do when the key is refused (revoked meanwhile): the page signs out.
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function errorText(error) {
  if (error && error.status === 0 && error.code === "network") return t("errNetwork");
  const message = error?.message || String(error);
  const key = ERROR_KEYS[error?.status] || "errGeneric";
  return t(key, { message });
}

// A modal dialog hides the rest of the page: while one is open the notice is shown at its
// top, and goes back under the page's header when the dialog closes.
let home = null;

export function keepNoticeVisible() {
  const box = byId("notice");
  home = box.previousElementSibling;
  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.addEventListener("close", () => {
      if (box.parentElement === dialog) home.after(box);
    });
  }
}

function place(box) {
  const modal = document.querySelector("dialog[open]");
  if (modal && box.parentElement !== modal) modal.prepend(box);
  else if (!modal && home && box.previousElementSibling !== home) home.after(box);
}

export function notify(text, kind = "info") {
  const box = byId("notice");
  place(box);
  byId("notice-text").textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
}

export function notifyError(error) {
  if (error?.status === 401) unauthorized();
  notify(errorText(error), "error");
}

export function clearNotice() {
  byId("notice").hidden = true;
}
