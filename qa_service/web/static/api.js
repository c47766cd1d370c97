// Calls to the service's API. Every call carries the key the user signed in with; the key
// is kept in sessionStorage only (gone when the browser session ends). Paths are relative
// to the page, so the page also works when the service is served under a prefix.

const KEY_STORAGE = "qa.key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status; // 0: no answer (network)
    this.code = code;
  }
}

export function savedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function saveKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

function authHeaders(extra = {}) {
  const key = savedKey();
  return key ? { Authorization: `Bearer ${key}`, ...extra } : { ...extra };
}

export function kbPath(kb, ...rest) {
  return ["kbs", kb, ...rest].map(encodeURIComponent).join("/");
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

async function send(method, path, body) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "network", String(error));
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

export async function getJson(path) {
  return (await send("GET", path)).json();
}

export async function postJson(path, body) {
  return (await send("POST", path, body)).json();
}

export async function remove(path) {
  await send("DELETE", path);
}

// The response as a Blob, with its headers: page images and original PDFs.
export async function getBlob(path) {
  const response = await send("GET", path);
  return { blob: await response.blob(), headers: response.headers };
}

// Upload PDFs as multipart field "files"; onProgress(fraction) while the body is sent.
export function uploadFiles(kb, files, onProgress) {
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", kbPath(kb, "documents"));
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "upload failed"));
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body?.error?.code || `http_${xhr.status}`,
                               body?.error?.message || xhr.statusText));
    };
    xhr.send(form);
  });
}

// POST /kbs/{kb}/ask with stream: true. Server-Sent Events, read from the fetch body
// (EventSource can neither POST nor send a header): onToken(text) per piece; resolves with
// the authoritative result, rejects with an ApiError on an `error` event.
export async function askStream(kb, body, onToken) {
  const response = await send("POST", kbPath(kb, "ask"), { ...body, stream: true });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += value.replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const outcome = handleEvent(parseEvent(buffer.slice(0, cut)), onToken);
      buffer = buffer.slice(cut + 2);
      if (outcome) return outcome;
    }
    if (done) break;
  }
  const last = buffer.trim() ? handleEvent(parseEvent(buffer), onToken) : null;
  if (last) return last;
  throw new ApiError(0, "stream_ended", "the answer stream ended without a result");
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue; // a comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return { name, data: data.join("\n") };
}

function handleEvent(event, onToken) {
  if (!event.data) return null;
  const payload = JSON.parse(event.data);
  if (event.name === "token") {
    onToken(payload.text || "");
    return null;
  }
  if (event.name === "result") return payload;
  if (event.name === "error") {
    throw new ApiError(500, payload.error?.code || "error", payload.error?.message || "");
  }
  return null;
}
