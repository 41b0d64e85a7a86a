// Image inputs: each one a URL, or a file of this computer sent as a data URI (read with
// FileReader; the API takes data:image/...;base64,... wherever it takes an image URL).

import { el } from "./api.js";

let counter = 0;

// One image: a URL field and a file field. value(): the URL typed, else the chosen file's data
// URI, else "" (nothing).
export function imageSlot(name, label) {
  const id = `img-${++counter}`;
  const url = el("input", { id: `${id}-url`, type: "url", placeholder: "https://... or choose a file", spellcheck: "false" });
  const file = el("input", { id: `${id}-file`, type: "file", accept: "image/*" });
  const preview = el("img", { class: "thumb hidden", alt: "" });
  const note = el("span", { class: "hint" });
  const error = el("p", { id: `${id}-error`, class: "error field-error", role: "alert" });
  url.setAttribute("aria-describedby", error.id);
  file.setAttribute("aria-describedby", error.id);
  let dataUri = "";

  url.addEventListener("input", () => {
    if (url.value.trim() && dataUri) forget();
  });
  file.addEventListener("change", () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return forget();
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      dataUri = String(reader.result);
      url.value = "";
      preview.src = dataUri;
      preview.classList.remove("hidden");
      note.textContent = `${chosen.name} (${Math.ceil(chosen.size / 1024)} KB, sent as a data URI)`;
    });
    reader.readAsDataURL(chosen);
  });

  function forget() {
    dataUri = "";
    file.value = "";
    preview.removeAttribute("src");
    preview.classList.add("hidden");
    note.textContent = "";
  }

  const node = el(
    "div",
    { class: "image-slot", "data-param": name },
    el("label", { for: url.id, text: `${label} URL` }),
    url,
    el("label", { for: file.id, text: `${label} file` }),
    file,
    el("div", { class: "preview" }, preview, note),
    error,
  );
  return {
    node,
    group: true,
    value: () => url.value.trim() || dataUri || undefined,
    showError(param, message) {
      error.textContent = message;
      url.setAttribute("aria-invalid", "true");
      return true;
    },
    clear() {
      error.textContent = "";
      url.removeAttribute("aria-invalid");
    },
  };
}

// An array of images: as many slots as the largest count the model takes; empty slots at the
// end are not sent (the server says if the count is not one it takes).
export function imageList(name, spec) {
  const counts = spec.counts || [0, 1];
  const slots = [];
  const most = Math.max(...counts);
  const node = el("div", { class: "image-list" });
  for (let i = 0; i < most; i++) {
    const slot = imageSlot(`${name}[${i}]`, `Image ${i + 1}`);
    slots.push(slot);
    node.append(slot.node);
  }
  const allowed = counts.join(", ");
  return {
    node,
    group: true,
    hint: `${spec.description ? `${spec.description}; ` : ""}${allowed} images`,
    value() {
      const values = slots.map((slot) => slot.value() || "");
      while (values.length && !values[values.length - 1]) values.pop();
      return values.length ? values : undefined;
    },
    showError(param, message) {
      const match = /\[(\d+)\]/.exec(param);
      const slot = match ? slots[Number(match[1])] : null;
      return slot ? slot.showError(param, message) : false;
    },
    clear() {
      slots.forEach((slot) => slot.clear());
    },
  };
}
