// The account's tasks, newest first, a page at a time (GET v1/tasks?limit=&after=): each one
// opens again in the result card; pending and processing ones can be cancelled
// (POST v1/tasks/{id}/cancel).

import { api, el, money } from "./api.js";

const PAGE = 10;
const CANCELLABLE = new Set(["pending", "processing"]);

const stage = (status) => (status === "pending" ? 0 : status === "processing" ? 1 : 2);

export function history({ token, onOpen, onChange }) {
  const table = document.getElementById("history");
  const body = table.querySelector("tbody");
  const status = document.getElementById("history-status");
  const more = document.getElementById("history-more");
  let after = null;
  let generation = 0; // a page asked for before the latest reload is dropped when it comes
  const live = new Map(); // task id -> the task as its live events last showed it

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    if (!token()) {
      body.replaceChildren();
      table.classList.add("hidden");
      more.classList.add("hidden");
      status.textContent = "";
      return;
    }
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (!reset && after) query.set("after", after);
    try {
      const page = await api(`v1/tasks?${query}`, { token: token() });
      if (mine !== generation) return;
      if (reset) body.replaceChildren();
      body.append(...page.data.map(row));
      after = page.last_id;
      more.classList.toggle("hidden", !page.has_more);
      table.classList.toggle("hidden", body.children.length === 0);
      status.textContent = body.children.length ? "" : "No tasks yet.";
    } catch (error) {
      status.textContent = error.message;
    }
  }

  function row(listed) {
    const seen = live.get(listed.id);
    const task = seen && stage(seen.status) >= stage(listed.status) ? { ...listed, ...seen } : listed;
    const created = new Date(task.created * 1000);
    const cells = [
      el("td", {}, el("time", { datetime: created.toISOString(), text: created.toLocaleString() })),
      el("td", { text: task.model }),
      el("td", { class: `status-${task.status}`, text: task.progress < 100 ? `${task.status} ${task.progress}%` : task.status }),
      el("td", { text: money(task.cost) }),
      el("td", {}, el("button", { type: "button", class: "link", text: task.id, "aria-label": `Open ${task.id}`, onclick: () => onOpen(task.id) })),
      el("td", {}),
    ];
    if (CANCELLABLE.has(task.status)) {
      cells[5].append(el("button", { type: "button", class: "secondary", text: "Cancel", "aria-label": `Cancel ${task.id}`, onclick: (event) => cancel(task.id, event.currentTarget) }));
    }
    return el("tr", { "data-task": task.id }, ...cells);
  }

  async function cancel(id, button) {
    button.disabled = true;
    try {
      const { data } = await api(`v1/tasks/${encodeURIComponent(id)}/cancel`, { token: token(), method: "POST" });
      live.set(id, data);
      body.querySelector(`tr[data-task="${CSS.escape(id)}"]`)?.replaceWith(row({ ...data, model: rowModel(id) }));
      status.textContent = `Task ${id}: ${data.status}.`;
      onChange(data);
    } catch (error) {
      button.disabled = false;
      status.textContent = error.message;
    }
  }

  function rowModel(id) {
    return body.querySelector(`tr[data-task="${CSS.escape(id)}"] td:nth-child(2)`)?.textContent || "";
  }

  // a task seen elsewhere (followed live): its row follows, wherever the paging is
  function update(task) {
    live.set(task.id, task);
    const current = body.querySelector(`tr[data-task="${CSS.escape(task.id)}"]`);
    if (current) current.replaceWith(row({ ...task, model: task.model || rowModel(task.id) }));
    else load(true);
  }

  more.addEventListener("click", () => load(false));
  document.getElementById("history-refresh").addEventListener("click", () => load(true));
  return { reload: () => load(true), update };
}
