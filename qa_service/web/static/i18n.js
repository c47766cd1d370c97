// Interface text in English and Korean: the tables are in i18n.json (same keys in both).
// The language follows the browser's until the user picks one, which is remembered.

const STORAGE_KEY = "qa.lang";
const LANGUAGES = ["en", "ko"];
let tables = { en: {}, ko: {} };
let current = "en";
const listeners = [];

export async function loadTables(url) {
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`interface text: HTTP ${response.status}`);
  tables = await response.json();
  current = initialLanguage();
}

function initialLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  const preferred = (navigator.languages || [navigator.language || "en"])[0] || "en";
  return preferred.toLowerCase().startsWith("ko") ? "ko" : "en";
}

export function language() {
  return current;
}

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) return;
  current = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  applyStatic(document);
  for (const listener of listeners) listener(lang);
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

// t("kbDocs", {n: 3}): the text for the key, with {name} placeholders filled in.
export function t(key, vars = {}) {
  const table = tables[current] || {};
  const text = table[key] ?? tables.en?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// Elements marked data-i18n (text), data-i18n-placeholder, data-i18n-label (aria-label).
export function applyStatic(root) {
  document.documentElement.lang = current;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  document.title = t("title");
}
