// Channels (/admin/v1/channels): upstreams and local engines, the list with health, bench state
// and tasks in flight; add, edit, enable and disable, delete. Credentials go in and are never
// shown again; a local engine has none, but its pipeline settings.

import { el } from "./api.js";
import { busy, confirming, fill, integer, onSubmit, optional, status, text, when } from "./admin-forms.js";
import { badge } from "./admin-accounts.js";

const REFRESH = 10_000;
const CREDENTIALS = [["api_key", "channel-api-key"], ["access_key", "channel-access-key"], ["secret_key", "channel-secret-key"]];
// a local engine's settings block: [its field, the input's id]
const LOCAL = [["family", "channel-family"], ["folder", "channel-folder"], ["device", "channel-device"], ["dtype", "channel-dtype"], ["steps", "channel-steps"], ["guidance", "channel-guidance"]];

function number(value) {
  return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

// "local: wan on cuda:0" for a local engine, the provider for an upstream
function providerText(channel) {
  return channel.provider === "local" && channel.local ? `local: ${channel.local.family} on ${channel.local.device}` : channel.provider;
}

export function setupChannels(call) {
  const table = document.querySelector("#channels-table tbody");
  const form = document.getElementById("channel");
  const formHeading = document.getElementById("channel-form-heading");
  const save = document.getElementById("channel-save");
  const cancel = document.getElementById("channel-cancel");
  const checked = document.getElementById("channels-checked");
  let editing = null;
  let timer = null; // the channel being edited; null: adding one

  async function load() {
    try {
      const { data } = await call("channels");
      fill(table, data.map(channelRow), "No channels: every model is made by the embedded preview renderer.");
      // health, bench state and tasks in flight change on their own: look again now and then
      timer ??= setInterval(() => document.visibilityState === "visible" && !table.querySelector(".armed") && load(), REFRESH);
      checked.textContent = `As of ${new Date().toISOString().slice(11, 19)} UTC; refreshed every ${REFRESH / 1000} s.`;
    } catch (error) {
      checked.textContent = error.message;
    }
  }

  document.getElementById("channels-refresh").addEventListener("click", load);

  function health(channel) {
    const now = Date.now() / 1000;
    if (channel.benched_until && channel.benched_until > now) {
      return el("span", { class: "error", text: `benched until ${when(channel.benched_until)} UTC${channel.bench_reason ? ` (${channel.bench_reason})` : ""}` });
    }
    if (channel.credentials === "missing") return el("span", { class: "error", text: "credentials missing" });
    if (channel.failures > 0) return el("span", { class: "warn", text: `${channel.failures} failure${channel.failures === 1 ? "" : "s"} in a row` });
    return el("span", { class: "ok", text: "healthy" });
  }

  function channelRow(channel) {
    const toggle = el("button", {
      type: "button", class: "secondary", text: channel.enabled ? "Disable" : "Enable",
      onclick: () => busy(form, async () => {
        await call(`channels/${channel.id}`, { method: "PATCH", body: { enabled: !channel.enabled } });
        status(form, `${channel.name} ${channel.enabled ? "disabled" : "enabled"}.`, "ok");
        await load();
      }),
    });
    const remove = confirming("Delete", "Really delete?", () =>
      busy(form, async () => {
        await call(`channels/${channel.id}`, { method: "DELETE" });
        status(form, `${channel.name} deleted.`, "ok");
        if (editing && editing.id === channel.id) stopEditing();
        await load();
      }),
    );
    return el(
      "tr",
      { "data-channel": channel.id },
      el("td", { text: channel.name }),
      el("td", { text: providerText(channel) }),
      el("td", { text: channel.models.join(", ") }),
      el("td", { class: "num", text: `${channel.priority} / ${channel.weight}` }),
      el("td", { class: "num", text: `${channel.in_flight} / ${channel.max_concurrent}` }),
      el("td", {}, health(channel)),
      el("td", {}, badge(channel.enabled ? "enabled" : "disabled")),
      el(
        "td",
        { class: "actions" },
        el("button", { type: "button", class: "secondary", text: "Edit", "aria-label": `Edit ${channel.name}`, onclick: () => startEditing(channel) }),
        toggle,
        remove,
      ),
    );
  }

  function startEditing(channel) {
    editing = channel;
    status(form, "");
    formHeading.textContent = `Edit channel ${channel.name}`;
    save.textContent = "Save channel";
    cancel.classList.remove("hidden");
    const values = {
      "channel-name": channel.name, "channel-provider": channel.provider, "channel-base-url": channel.base_url,
      "channel-models": channel.models.join(", "), "channel-priority": channel.priority,
      "channel-weight": channel.weight, "channel-max": channel.max_concurrent,
    };
    for (const [id, value] of Object.entries(values)) document.getElementById(id).value = value;
    document.getElementById("channel-enabled").checked = channel.enabled;
    for (const [, id] of CREDENTIALS) document.getElementById(id).value = "";
    for (const [name, id] of LOCAL) document.getElementById(id).value = channel.local?.[name] ?? "";
    document.getElementById("channel-offload").checked = Boolean(channel.local?.cpu_offload);
    document.getElementById("channel-name").focus();
  }

  function stopEditing() {
    editing = null;
    form.reset();
    formHeading.textContent = "Add a channel";
    save.textContent = "Add channel";
    cancel.classList.add("hidden");
  }

  cancel.addEventListener("click", () => {
    stopEditing();
    status(form, "");
  });

  onSubmit(form, async () => {
    const body = {
      name: text("channel-name"),
      provider: text("channel-provider"),
      models: text("channel-models").split(/[\s,]+/).filter(Boolean),
      enabled: document.getElementById("channel-enabled").checked,
    };
    optional(body, "base_url", "channel-base-url");
    optional(body, "priority", "channel-priority", integer);
    optional(body, "weight", "channel-weight", integer);
    optional(body, "max_concurrent", "channel-max", integer);
    if (body.provider === "local") {
      const local = { cpu_offload: document.getElementById("channel-offload").checked };
      for (const [name, id] of LOCAL) optional(local, name, id, number);
      body.local = local;
      delete body.base_url;
    } else {
      for (const [name, id] of CREDENTIALS) optional(body, name, id); // left empty: kept as they are
    }
    if (editing && body.enabled === editing.enabled) delete body.enabled; // unchanged: keeps the bench state
    const { data } = editing
      ? await call(`channels/${editing.id}`, { method: "PATCH", body })
      : await call("channels", { method: "POST", body });
    stopEditing();
    status(form, `Channel ${data.name} saved.`, "ok");
    await load();
  });

  return { load };
}
