// kling-v3's multi-shot editor (multi_prompt: add, remove, reorder shots whose seconds add up
// to the duration) and its elements (element_list: named reference subjects of 2-4 images).
// Their limits come from the model's `rules.multi_shot` in GET v1/models.

import { el } from "./api.js";
import { imageSlot } from "./playground-images.js";
import { FieldError } from "./playground-fields.js";

// multi_prompt: shown with multi_shot on and shot_type "customize" (context reads those fields).
export function shotEditor(spec, rules, context) {
  const min = rules.shots?.min ?? 1;
  const max = rules.shots?.max ?? 6;
  const minSeconds = rules.shot_min_duration ?? 1;
  const maxLength = rules.shot_prompt_max_length;
  const shots = []; // {prompt, seconds} in order
  const list = el("ol", { class: "shots" });
  const sum = el("p", { class: "hint", "aria-live": "polite" });
  const error = el("p", { class: "error field-error", role: "alert" });
  const add = el("button", { type: "button", class: "secondary", text: "Add shot", onclick: () => addShot() });
  const node = el("div", { class: "shot-editor" }, list, sum, add, error);

  const duration = () => Number(context.value("duration")) || 0;
  const total = () => shots.reduce((acc, shot) => acc + (Number(shot.seconds) || 0), 0);

  function addShot() {
    if (shots.length >= max) return;
    const left = duration() - total();
    shots.push({ prompt: "", seconds: Math.max(minSeconds, left) });
    render(shots.length - 1);
  }

  function move(from, to) {
    const [shot] = shots.splice(from, 1);
    shots.splice(to, 0, shot);
    render(to);
  }

  function render(focus) {
    list.replaceChildren();
    shots.forEach((shot, i) => {
      const n = i + 1;
      const prompt = el("textarea", { id: `shot-${n}-text`, rows: 2, maxlength: maxLength });
      prompt.value = shot.prompt;
      prompt.addEventListener("input", () => (shot.prompt = prompt.value));
      const seconds = el("input", { id: `shot-${n}-seconds`, type: "number", min: minSeconds, step: 1 });
      seconds.value = String(shot.seconds);
      seconds.addEventListener("input", () => {
        shot.seconds = seconds.value;
        showSum();
      });
      const up = el("button", { type: "button", class: "secondary", text: "Up", "aria-label": `Up: move shot ${n} earlier`, disabled: i === 0, onclick: () => move(i, i - 1) });
      const down = el("button", { type: "button", class: "secondary", text: "Down", "aria-label": `Down: move shot ${n} later`, disabled: i === shots.length - 1, onclick: () => move(i, i + 1) });
      const remove = el("button", { type: "button", class: "secondary", text: "Remove", "aria-label": `Remove shot ${n}`, disabled: shots.length <= min, onclick: () => { shots.splice(i, 1); render(Math.min(i, shots.length - 1)); } });
      list.append(
        el(
          "li",
          { class: "shot", "data-shot": n },
          el("label", { for: prompt.id, text: `Shot ${n} text` }),
          prompt,
          el("label", { for: seconds.id, text: `Shot ${n} seconds` }),
          seconds,
          el("div", { class: "actions" }, up, down, remove),
        ),
      );
      if (i === focus) queueMicrotask(() => prompt.focus());
    });
    add.disabled = shots.length >= max;
    showSum();
  }

  function showSum() {
    const want = duration();
    const have = total();
    sum.textContent = `${shots.length} of ${min}-${max} shots; their seconds add up to ${have} of the duration's ${want}.`;
    sum.classList.toggle("error", have !== want);
  }

  const hidden = () => context.value("multi_shot") !== true || context.value("shot_type") !== "customize";
  function sync() {
    node.closest(".field")?.classList.toggle("hidden", hidden());
    if (!hidden() && shots.length === 0) addShot();
    showSum();
  }

  return {
    node,
    group: true,
    hidden,
    init() {
      for (const name of ["multi_shot", "shot_type", "duration"]) context.on(name, sync);
      sync();
    },
    value() {
      const want = duration();
      const have = total();
      if (have !== want) {
        throw new FieldError("multi_prompt", `the shots add up to ${have} s but the duration is ${want} s; make them equal`);
      }
      return shots.map((shot, i) => ({ index: i + 1, prompt: shot.prompt, duration: Number(shot.seconds) }));
    },
    showError(param, message) {
      error.textContent = message;
      const match = /^multi_prompt\[(\d+)\]/.exec(param);
      const item = match ? list.children[Number(match[1])] : null;
      item?.querySelector("textarea")?.setAttribute("aria-invalid", "true");
      return true;
    },
    clear() {
      error.textContent = "";
      list.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
    },
  };
}

// The fields that go with multi_shot on (shot_type): hidden while it is off.
export function withMultiShot(made, context) {
  const hidden = () => context.value("multi_shot") !== true;
  return {
    ...made,
    hidden,
    init() {
      made.init?.();
      const sync = () => made.node.closest(".field")?.classList.toggle("hidden", hidden());
      context.on("multi_shot", sync);
      sync();
    },
  };
}

// element_list: up to max_elements subjects, each a name, a description and 2-4 images.
export function elementEditor(spec, rules) {
  const max = rules.max_elements ?? 3;
  const counts = rules.element_images ?? [2, 3, 4];
  const most = Math.max(...counts);
  const elements = [];
  const list = el("ol", { class: "elements" });
  const error = el("p", { class: "error field-error", role: "alert" });
  const add = el("button", { type: "button", class: "secondary", text: "Add element", onclick: () => addElement() });
  const node = el("div", { class: "element-editor" }, list, add, error);
  let serial = 0;

  function addElement() {
    if (elements.length >= max) return;
    const id = ++serial;
    const name = el("input", { id: `element-${id}-name`, type: "text", spellcheck: "false", placeholder: "letters, digits and _" });
    const description = el("input", { id: `element-${id}-description`, type: "text" });
    const images = Array.from({ length: most }, (_, i) => imageSlot(`element_input_urls[${i}]`, `Element image ${i + 1}`));
    const item = { name, description, images, node: null };
    const remove = el("button", { type: "button", class: "secondary", text: "Remove", onclick: () => {
      elements.splice(elements.indexOf(item), 1);
      item.node.remove();
      relabel();
    } });
    item.node = el(
      "li",
      { class: "element" },
      el("label", { for: name.id, class: "element-name", text: "Element name" }),
      name,
      el("label", { for: description.id, class: "element-description", text: "Element description" }),
      description,
      el("p", { class: "hint", text: `${counts.join(", ")} images; the first is the frontal view. Refer to it as @name in the prompt.` }),
      ...images.map((slot) => slot.node),
      el("div", { class: "actions" }, remove),
    );
    item.remove = remove;
    elements.push(item);
    list.append(item.node);
    relabel();
    name.focus();
  }

  // labels carry the element's number: "Element 2 name", "Element 2 image 1 URL"
  function relabel() {
    elements.forEach((item, i) => {
      const n = i + 1;
      item.node.querySelector(".element-name").textContent = `Element ${n} name`;
      item.node.querySelector(".element-description").textContent = `Element ${n} description`;
      item.remove.setAttribute("aria-label", `Remove element ${n}`);
      item.images.forEach((slot, j) => {
        const [urlLabel, fileLabel] = slot.node.querySelectorAll("label");
        urlLabel.textContent = `Element ${n} image ${j + 1} URL`;
        fileLabel.textContent = `Element ${n} image ${j + 1} file`;
      });
    });
    add.disabled = elements.length >= max;
  }

  return {
    node,
    group: true,
    hint: `${spec.description || ""}`,
    value() {
      if (!elements.length) return undefined;
      return elements.map((item) => {
        const urls = item.images.map((slot) => slot.value() || "");
        while (urls.length && !urls[urls.length - 1]) urls.pop();
        return { name: item.name.value.trim(), description: item.description.value.trim(), element_input_urls: urls };
      });
    },
    showError(param, message) {
      const match = /^element_list\[(\d+)\](?:\.element_input_urls\[(\d+)\])?/.exec(param);
      const item = match ? elements[Number(match[1])] : null;
      if (item && match[2] !== undefined && item.images[Number(match[2])]) return item.images[Number(match[2])].showError(param, message);
      error.textContent = message;
      return true;
    },
    clear() {
      error.textContent = "";
      elements.forEach((item) => item.images.forEach((slot) => slot.clear()));
    },
  };
}
