// API keys, for the admin: list them (scope, knowledge bases, created, revoked), create one
// for chosen knowledge bases (the key is shown once, to copy), revoke one. The server
// keeps only a key's hash, so a lost key is revoked and replaced, never shown again.

import * as api from "./api.js";
import { el, byId, clear } from "./dom.js";
import { t } from "./i18n.js";
import { notify, notifyError } from "./notice.js";

export class Keys {
  constructor(kbNames) {
    this.kbNames = kbNames; // the knowledge bases a new key may cover
    this.dialog = byId("keys-view");
    this.keys = [];
    byId("keys-open").addEventListener("click", () => this.open());
    byId("keys-close").addEventListener("click", () => {
      this.forgetNewKey();
      this.dialog.close();
    });
    byId("key-create").addEventListener("submit", (event) => this.create(event));
    byId("key-copy").addEventListener("click", () => this.copy());
    this.dialog.addEventListener("close", () => this.forgetNewKey());
  }

  async open() {
    this.forgetNewKey();
    this.renderChoices();
    if (!this.dialog.open) this.dialog.showModal();
    await this.load();
  }

  async load() {
    try {
      this.keys = (await api.getJson("keys")).keys;
    } catch (error) {
      notifyError(error);
      this.keys = [];
    }
    this.renderList();
  }

  rerender() {
    if (!this.dialog.open) return;
    this.renderChoices();
    this.renderList();
  }

  renderChoices() {
    const box = clear(byId("key-kbs"));
    const names = this.kbNames();
    byId("key-kbs-empty").hidden = names.length > 0;
    byId("key-submit").disabled = names.length === 0;
    for (const name of names) {
      const id = `key-kb-${name}`;
      box.append(el("label", { className: "check", for: id },
        el("input", { type: "checkbox", id, value: name, name: "kb" }),
        el("span", { text: name })));
    }
  }

  renderList() {
    const body = clear(byId("keys-body"));
    byId("keys-empty").hidden = this.keys.length > 0;
    const live = [...this.keys].sort((a, b) => Number(a.revoked) - Number(b.revoked)
                                              || b.created_at.localeCompare(a.created_at));
    for (const key of live) {
      body.append(el("tr", { className: key.revoked ? "revoked" : "", dataset: { key: key.id } },
        el("td", { className: "mono", text: key.id }),
        el("td", { text: t(`scopeShort_${key.scope}`) }),
        el("td", { text: key.kbs.join(", ") }),
        el("td", { text: shortDate(key.created_at) }),
        el("td", { text: key.revoked ? t("keyRevokedAt", { date: shortDate(key.revoked_at) })
                                     : t("keyActive") }),
        el("td", {}, key.revoked ? null : el("button", {
          type: "button", className: "danger small", text: t("revoke"),
          "aria-label": t("revokeKey", { id: key.id }), onclick: () => this.revoke(key) }))));
    }
  }

  async create(event) {
    event.preventDefault();
    const kbs = [...byId("key-kbs").querySelectorAll("input:checked")].map((box) => box.value);
    if (kbs.length === 0) {
      notify(t("keyNeedsKb"), "error");
      return;
    }
    const scope = byId("key-scope").value;
    try {
      const made = await api.postJson("keys", { kbs, scope });
      this.showNewKey(made.key);
      notify(t("keyCreated", { id: made.id }));
      for (const box of byId("key-kbs").querySelectorAll("input")) box.checked = false;
      await this.load();
    } catch (error) {
      notifyError(error);
    }
  }

  async revoke(key) {
    if (!window.confirm(t("confirmRevoke", { id: key.id }))) return;
    try {
      await api.remove(`keys/${encodeURIComponent(key.id)}`);
      notify(t("keyRevoked", { id: key.id }));
      await this.load();
    } catch (error) {
      notifyError(error);
    }
  }

  showNewKey(key) {
    byId("key-new").hidden = false;
    const field = byId("key-new-value");
    field.value = key;
    field.focus();
    field.select();
  }

  async copy() {
    const field = byId("key-new-value");
    try {
      await navigator.clipboard.writeText(field.value);
      notify(t("keyCopied"));
    } catch {
      field.select(); // no clipboard access (plain http): selected, for Ctrl+C
      notify(t("keyCopyByHand"));
    }
  }

  forgetNewKey() {
    byId("key-new-value").value = "";
    byId("key-new").hidden = true;
  }
}

function shortDate(iso) {
  return iso ? iso.replace("T", " ").slice(0, 16) : "";
}
