// The playground: a key, a model and its fields (built from GET v1/models), Generate, the task
// followed live to its video, the account's balance and limits, and its tasks' history.
// Only the public API, with the key in the Authorization header.

import { api, remembered, money, el, ApiError } from "./api.js";
import { buildFields, FieldError } from "./playground-fields.js";
import { follow, showTask, clearResult, watchDuration } from "./playground-task.js";
import { history } from "./playground-history.js";
import { estimate } from "./playground-price.js";

const $ = (id) => document.getElementById(id);
const ACCOUNT_EVERY_MS = 5_000;

const keyInput = $("api-key");
const key = remembered(keyInput, "apiKey", () => start());
let started = null; // the key the page was last set up for
let typing = null;
const modelSelect = $("model");
const prompt = $("prompt");
const form = $("generate-form");
const generate = $("generate");
let models = [];
let fields = null;
let following = null; // the AbortController of the task followed now
const tasks = history({ token: key, onOpen: (id) => open(id), onChange: () => refreshAccount() });

async function refreshAccount() {
  const line = $("account");
  const details = $("account-details");
  if (!key()) {
    line.textContent = "Enter an API key to start.";
    details.classList.add("hidden");
    return;
  }
  try {
    const { data } = await api("v1/account", { token: key() });
    const limits = data.effective_limits || {};
    line.replaceChildren("Balance: ", el("strong", { id: "balance", text: money(data.balance) }));
    $("limit-rate").textContent = String(limits.rate_limit_per_minute ?? "");
    $("limit-active").textContent = String(limits.max_active_tasks ?? "");
    $("account-status").textContent = `${data.name} (${data.status})`;
    details.classList.remove("hidden");
  } catch (error) {
    line.textContent = error.message;
    details.classList.add("hidden");
  }
}

async function loadModels() {
  if (!key()) {
    models = [];
    modelSelect.replaceChildren();
    $("model-fields").replaceChildren();
    fields = null;
    return;
  }
  try {
    const { data } = await api("v1/models", { token: key() });
    models = data;
    $("form-error").textContent = "";
  } catch (error) {
    $("form-error").textContent = error.message;
    return;
  }
  const wanted = localStorage.getItem("vidgate.model");
  modelSelect.replaceChildren(...models.map((m) => new Option(m.id, m.id)));
  if (models.some((m) => m.id === wanted)) modelSelect.value = wanted;
  showModel();
}

function currentModel() {
  return models.find((m) => m.id === modelSelect.value);
}

function showModel() {
  const model = currentModel();
  clearErrors();
  if (!model) return;
  localStorage.setItem("vidgate.model", model.id);
  const spec = model.parameters.prompt || {};
  $("prompt-hint").textContent = [spec.description, spec.required ? "required" : null].filter(Boolean).join("; ");
  prompt.required = Boolean(spec.required);
  const refused = model.unsupported?.length ? `; refused here: ${model.unsupported.map((r) => r.replaceAll("_", " ")).join(", ")}` : "";
  $("model-hint").textContent = `made by ${model.provider}${model.channels.length ? ` (channels: ${model.channels.join(", ")})` : ""}${refused}`;
  fields = buildFields(model, $("model-fields"));
  showPrice();
}

function showPrice() {
  const model = currentModel();
  if (!model || !fields) return;
  let body;
  try {
    body = fields.collect();
  } catch {
    body = {};
  }
  $("price").textContent = estimate(model, body);
}

function clearErrors() {
  $("form-error").textContent = "";
  for (const name of ["model", "prompt"]) {
    $(`${name}-error`).textContent = "";
    $(name).removeAttribute("aria-invalid");
  }
  fields?.clear();
}

// A refusal's message next to the field error.param names; at the form's top if none does.
function showError(param, message) {
  if (param === "model" || param === "prompt") {
    $(`${param}-error`).textContent = message;
    $(param).setAttribute("aria-invalid", "true");
    $(param).focus();
    return;
  }
  if (fields?.showError(param, message)) return;
  $("form-error").textContent = message;
  $("form-error").scrollIntoView({ block: "nearest" });
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const model = currentModel();
  if (!key()) return showError(null, "Enter your API key first.");
  if (!model) return showError(null, "No model to use: check the API key.");
  let body;
  try {
    body = { model: model.id, ...fields.collect() };
  } catch (error) {
    if (error instanceof FieldError) return showError(error.param, error.message);
    throw error;
  }
  if (prompt.value.trim()) body.prompt = prompt.value;
  generate.disabled = true;
  try {
    const answer = await api("v1/videos/generations", { token: key(), method: "POST", body });
    const taskId = answer.data[0].task_id;
    tasks.reload();
    refreshAccount();
    watch(taskId, { id: taskId, status: "pending", progress: 0 });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showError(error.param, error.message);
  } finally {
    generate.disabled = false;
  }
}

// Follow a task (the one just submitted, or one opened from the history) until it ends.
async function watch(taskId, first) {
  following?.abort();
  const controller = new AbortController();
  following = controller;
  clearResult();
  if (first) showTask(first);
  try {
    let seen = first?.status;
    const shown = (task) => {
      if (controller.signal.aborted) return;
      showTask(task);
      if (task.status !== seen) tasks.update(task);
      seen = task.status;
    };
    const last = await follow(taskId, key(), shown, controller.signal);
    if (!controller.signal.aborted && last) refreshAccount();
  } catch (error) {
    if (!controller.signal.aborted) $("task-error").textContent = error.message;
  }
}

async function open(taskId) {
  try {
    const { data } = await api(`v1/tasks/${encodeURIComponent(taskId)}`, { token: key() });
    if (["completed", "failed", "cancelled"].includes(data.status)) {
      following?.abort();
      clearResult();
      showTask(data);
    } else {
      watch(taskId, data);
    }
    $("result-heading").scrollIntoView({ block: "nearest" });
  } catch (error) {
    $("task-error").textContent = error.message;
  }
}

function start() {
  if (started === key()) return;
  started = key();
  following?.abort();
  refreshAccount();
  loadModels();
  tasks.reload();
}

// a key typed or pasted is used once the typing stops, without waiting for the field to lose focus
keyInput.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => keyInput.dispatchEvent(new Event("change")), 400);
});
modelSelect.addEventListener("change", showModel);
form.addEventListener("submit", submit);
form.addEventListener("change", showPrice);
watchDuration();
// the balance changes elsewhere too (an operator's top-up, tasks of other keys): kept fresh
setInterval(() => document.visibilityState === "visible" && key() && refreshAccount(), ACCOUNT_EVERY_MS);
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && refreshAccount());
window.addEventListener("focus", () => key() && refreshAccount());
start();
