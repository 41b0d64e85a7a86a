// The dashboard's forms: read fields, send, and show the server's refusal next to the field its
// error.param names (the field carrying data-param="<name>"), or under the form when it names none.

import { el } from "./api.js";

let errorCount = 0;

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  }
  status(form, "");
}

// The field an error is about: "models" for models, models.kling-v3 or models[0]; none: null.
export function fieldFor(form, param) {
  if (!param) return null;
  const root = String(param).split(/[.[]/)[0];
  for (const name of [param, root]) {
    const field = form.querySelector(`[data-param="${CSS.escape(name)}"]`);
    if (field) return field;
  }
  return null;
}

export function showError(form, error) {
  const message = error instanceof Error ? error.message : String(error);
  const field = fieldFor(form, error.param);
  if (!field) {
    status(form, message, "error");
    return;
  }
  errorCount += 1;
  const note = el("p", { class: "error field-error", id: `field-error-${errorCount}`, text: message });
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", note.id);
  (field.closest(".check") || field).after(note);
  status(form, "Not saved: see the message at the field.", "error");
}

export function status(form, text, kind = "") {
  const line = form.querySelector(".form-status");
  if (!line) return;
  line.textContent = text;
  line.className = `form-status ${kind}`.trim();
}

// Run `action(form, submitter)` on submit: errors shown where they belong, buttons off meanwhile.
export function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(form, () => action(form, event.submitter));
  });
}

export async function busy(form, action) {
  clearErrors(form);
  const buttons = [...form.querySelectorAll("button")];
  for (const button of buttons) button.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(form, error);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

// A refusal found in the browser before sending, shown like the server's.
export class LocalError extends Error {
  constructor(param, message) {
    super(message);
    this.param = param;
  }
}

export function text(id) {
  return document.getElementById(id).value.trim();
}

// An optional field: left out of the body when empty.
export function optional(body, name, id, convert = (v) => v) {
  const value = text(id);
  if (value !== "") body[name] = convert(value);
  return body;
}

// Whole numbers as numbers; anything else as typed, for the server to refuse with its message.
export function integer(value) {
  return /^-?\d+$/.test(value) ? Number(value) : value;
}

// A limit: empty means the server's default (null).
export function limit(id) {
  const value = text(id);
  return value === "" ? null : integer(value);
}

// A destructive button that asks once more on its first click ("Really revoke?").
export function confirming(label, question, action) {
  let armed = false;
  const button = el("button", { type: "button", class: "secondary", text: label });
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = question;
      button.classList.add("armed");
      setTimeout(() => {
        armed = false;
        button.textContent = label;
        button.classList.remove("armed");
      }, 5000);
      return;
    }
    button.disabled = true;
    await action(button);
  });
  return button;
}

export function when(seconds) {
  if (seconds === null || seconds === undefined) return "";
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
}

// Money to the cent, or to the micro when it has more decimals.
export function amount(value) {
  if (typeof value !== "number") return String(value ?? "");
  return Number.isInteger(Math.round(value * 1e6) / 1e4) ? value.toFixed(2) : String(value);
}

export function fill(tbody, rows, empty) {
  tbody.replaceChildren(...rows);
  if (!rows.length) {
    const columns = tbody.closest("table").querySelectorAll("thead th").length;
    tbody.append(el("tr", {}, el("td", { colspan: columns, class: "muted", text: empty })));
  }
}
