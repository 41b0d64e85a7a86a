// The console's one way to call vidgate: relative URLs (the page's <base> carries any path
// prefix), the key or token in the Authorization header only, errors as ApiError with the
// server's own message, code and param (the error envelope: {"code", "error": {...}}).

export class ApiError extends Error {
  constructor(status, body, text) {
    const error = (body && body.error) || {};
    super(error.message || text || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.param = error.param || null;
    this.body = body;
  }
}

export async function api(path, { token, method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path.replace(/^\//, ""), init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data, text);
  return data;
}

// A value kept in the browser's local storage under "vidgate.<name>", bound to an input field.
export function remembered(input, name, onChange) {
  const storageKey = `vidgate.${name}`;
  input.value = localStorage.getItem(storageKey) || "";
  input.addEventListener("change", () => {
    const value = input.value.trim();
    if (value) localStorage.setItem(storageKey, value);
    else localStorage.removeItem(storageKey);
    onChange(value);
  });
  return () => input.value.trim();
}

// Build an element: el("p", {class: "muted", text: "..."}, child, ...). Text only, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

// Money as the API gives it (a decimal number of the account's currency units).
export function money(value) {
  return typeof value === "number" ? value.toFixed(2) : String(value ?? "");
}
