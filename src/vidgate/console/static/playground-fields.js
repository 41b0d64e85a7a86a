// The fields of one model, built from what GET v1/models says the model takes: each parameter's
// JSON type, default, description, allowed `values` (or, for an array of URLs, the allowed
// `counts` of items) and what a value `requires`. Nothing here knows a model by name.
//
// buildFields(model, container) returns {collect(), showError(param, message), clear()}:
// collect() gives the body's fields (or throws FieldError naming a field), showError() puts a
// refusal's message next to the field that `error.param` names.

import { el } from "./api.js";
import { imageList, imageSlot } from "./playground-images.js";
import { shotEditor, elementEditor, withMultiShot } from "./playground-shots.js";

// The field the page has for every model, outside the model's own fields.
const OWN = new Set(["prompt"]);
// Readable labels for the API's names; anything else is its name as words ("aspect_ratio": "Aspect ratio").
// "negative_prompt" is not labelled "...prompt": the page's one field named Prompt is the prompt.
const LABELS = {
  negative_prompt: "Avoid (negative)",
  image_urls: "Images",
  image_url: "Character image",
  video_url: "Reference video URL",
  multi_prompt: "Shots",
  element_list: "Elements",
  watermark_info: "Watermark (watermark_info)",
};

export class FieldError extends Error {
  constructor(param, message) {
    super(message);
    this.param = param;
  }
}

export function labelOf(name) {
  const words = name.replace(/_/g, " ").replace(/\burls?\b/g, (word) => word.toUpperCase().replace("URLS", "URLs"));
  return LABELS[name] || words.charAt(0).toUpperCase() + words.slice(1);
}

// A field's frame: its label, control, hint and the place for its error message.
export function frame(name, control, { hint, label, group = false } = {}) {
  const id = control.id || `f-${name}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const error = el("p", { id: errorId, class: "error field-error", role: "alert" });
  const hintNode = hint ? el("p", { id: hintId, class: "hint", text: hint }) : null;
  let head;
  if (group) {
    head = el("legend", { text: label || labelOf(name) });
  } else {
    control.id = id;
    control.setAttribute("aria-describedby", [hint ? hintId : null, errorId].filter(Boolean).join(" "));
    head = el("label", { for: id, text: label || labelOf(name) });
  }
  const wrapper = group
    ? el("fieldset", { class: "field", "data-param": name }, head, control, hintNode, error)
    : el("div", { class: "field", "data-param": name }, head, control, hintNode, error);
  return { wrapper, error, control };
}

function hintFor(spec) {
  const parts = [];
  if (spec.description) parts.push(spec.description);
  if (spec.requires) {
    const { when, ...needs } = spec.requires;
    const needed = Object.entries(needs).map(([field, values]) => `${field} ${[].concat(values).join(" or ")}`);
    const what = when === true ? "on" : spec.type === "array" ? `${when} items` : JSON.stringify(when);
    parts.push(`${what}: needs ${needed.join(", ")}`);
  }
  if (spec.required) parts.push("required");
  return parts.join("; ");
}

function choice(name, spec) {
  const select = el("select", { id: `f-${name}`, name });
  if (!spec.required && spec.default === undefined) select.append(el("option", { value: "", text: "(default)" }));
  for (const value of spec.values) {
    select.append(el("option", { value: String(value), text: String(value), selected: value === spec.default }));
  }
  return {
    node: select,
    value() {
      if (select.value === "") return undefined;
      return spec.type === "integer" ? Number(select.value) : select.value;
    },
  };
}

function checkbox(name, spec) {
  const box = el("input", { id: `f-${name}`, name, type: "checkbox", checked: spec.default === true });
  return { node: box, value: () => box.checked, inline: true };
}

function text(name, spec) {
  const url = name.endsWith("_url");
  const input = url
    ? el("input", { id: `f-${name}`, name, type: "url", placeholder: "https://...", spellcheck: "false" })
    : el("input", { id: `f-${name}`, name, type: spec.type === "integer" ? "number" : "text" });
  if (spec.default !== undefined) input.value = String(spec.default);
  return {
    node: input,
    value() {
      const v = input.value.trim();
      if (!v) return undefined;
      return spec.type === "integer" ? Number(v) : v;
    },
  };
}

function json(name) {
  const input = el("input", { id: `f-${name}`, name, type: "text", placeholder: "JSON, e.g. {\"enabled\": true}" });
  return {
    node: input,
    value() {
      const v = input.value.trim();
      if (!v) return undefined;
      try {
        return JSON.parse(v);
      } catch {
        throw new FieldError(name, `${name} is not valid JSON`);
      }
    },
  };
}

// One control per parameter, by what the server says of it.
function control(name, spec, model, context) {
  if (name === "multi_prompt") return shotEditor(spec, model.rules.multi_shot || {}, context);
  if (name === "element_list") return elementEditor(spec, model.rules.multi_shot || {});
  if (name === "shot_type" && model.rules.multi_shot) return withMultiShot(choice(name, { ...spec, required: true }), context);
  if (spec.type === "array") return imageList(name, spec);
  if (spec.type === "boolean") return checkbox(name, spec);
  if (spec.values) return choice(name, spec);
  if (spec.type === "object") return json(name);
  if (name.startsWith("image")) return imageSlot(name, labelOf(name));
  return text(name, spec);
}

// Required fields first, then choices, switches and lists; what goes with multi_shot after it.
function ordered(parameters) {
  const rank = ([, spec]) => {
    if (spec.required) return 0;
    if (spec.type === "boolean") return 2;
    if (spec.values) return 1;
    return spec.type === "array" ? 3 : 4;
  };
  const entries = Object.entries(parameters).sort((a, b) => rank(a) - rank(b));
  const following = entries.filter(([name]) => name === "shot_type" || name === "multi_prompt");
  const rest = entries.filter((entry) => !following.includes(entry));
  const at = rest.findIndex(([name]) => name === "multi_shot");
  if (at >= 0) rest.splice(at + 1, 0, ...following);
  else rest.push(...following);
  return rest;
}

function advanced(name, spec) {
  return !spec.required && !spec.values && !spec.counts && ["string", "object"].includes(spec.type) && !name.startsWith("image");
}

export function buildFields(model, container) {
  container.replaceChildren();
  const fields = new Map(); // parameter name -> {frame, control}
  const context = { value: (name) => fields.get(name)?.control.value(), on: (name, fn) => listen(name, fn) };
  const listeners = new Map();
  function listen(name, fn) {
    if (!listeners.has(name)) listeners.set(name, []);
    listeners.get(name).push(fn);
  }

  // optional free-form fields (negative prompt, callback URL, ...) go under "More options"
  const more = el("div", { class: "more-fields" });
  const details = el("details", { class: "more" }, el("summary", { text: "More options" }), more);
  for (const [name, spec] of ordered(model.parameters)) {
    if (OWN.has(name)) continue;
    if (/^alias of /.test(spec.description || "")) continue; // `size`: the same as aspect_ratio
    const made = control(name, spec, model, context);
    const group = made.group === true;
    const framed = frame(name, made.node, { hint: made.hint ?? hintFor(spec), group });
    if (made.inline) framed.wrapper.classList.add("inline");
    (advanced(name, spec) ? more : container).append(framed.wrapper);
    fields.set(name, { frame: framed, control: made });
    made.node.addEventListener("change", () => (listeners.get(name) || []).forEach((fn) => fn()));
  }
  if (more.children.length) container.append(details);
  for (const { control: made } of fields.values()) made.init?.();

  function place(param) {
    // "image_urls[1]" -> the image list; "multi_prompt[0].duration" -> the shot editor
    const name = String(param).split(/[[.]/)[0];
    return fields.get(name);
  }

  return {
    collect() {
      const body = {};
      for (const [name, { control: made }] of fields) {
        if (made.hidden?.()) continue;
        const value = made.value();
        if (value !== undefined) body[name] = value;
      }
      return body;
    },
    // true if a field shows it, else false (the caller shows it at the form's top)
    showError(param, message) {
      const field = param ? place(param) : null;
      if (!field) return false;
      field.frame.wrapper.closest("details")?.setAttribute("open", ""); // under "More options"
      field.frame.wrapper.scrollIntoView({ block: "nearest" });
      if (field.control.showError?.(param, message)) return true;
      field.frame.error.textContent = message;
      field.frame.wrapper.classList.add("invalid");
      field.control.node.setAttribute("aria-invalid", "true");
      return true;
    },
    clear() {
      for (const { frame: framed, control: made } of fields.values()) {
        framed.error.textContent = "";
        framed.wrapper.classList.remove("invalid");
        made.node.removeAttribute("aria-invalid");
        made.clear?.();
      }
    },
  };
}
