// Usage per UTC day and model (GET /admin/v1/usage): a stacked bar chart of the amount charged
// or of the tasks, for every account or one, and the same figures as a table.

import { el } from "./api.js";
import { amount, fill, onSubmit, optional, status } from "./admin-forms.js";
import { daysBetween, stackedBars } from "./admin-chart.js";

export function setupUsage(call) {
  const form = document.getElementById("usage");
  const accountSelect = document.getElementById("usage-account");
  const measure = document.getElementById("usage-measure");
  const figure = document.getElementById("usage-chart");
  const caption = document.getElementById("usage-caption");
  const table = document.querySelector("#usage-table tbody");
  const names = new Map();
  let last = null; // the last answer, redrawn when the measure changes

  function accountsChanged(accounts) {
    const chosen = accountSelect.value;
    names.clear();
    for (const account of accounts) names.set(account.id, account.name);
    accountSelect.replaceChildren(
      el("option", { value: "", text: "All accounts" }),
      ...accounts.map((a) => el("option", { value: a.id, text: `${a.name} (${a.id})`, selected: a.id === chosen })),
    );
  }

  async function fetchUsage() {
    const query = new URLSearchParams(optional(optional(optional({}, "account_id", "usage-account"), "from", "usage-from"), "to", "usage-to"));
    const { data } = await call(`usage?${query}`);
    document.getElementById("usage-from").value = data.from;
    document.getElementById("usage-to").value = data.to;
    last = data;
    draw();
  }

  function draw() {
    const { usage } = last;
    const charged = measure.value === "charged";
    const cells = new Map(); // "day model" -> {tasks, charged}
    for (const row of usage) {
      const key = `${row.date} ${row.model}`;
      const cell = cells.get(key) || { tasks: 0, charged: 0 };
      cell.tasks += row.total;
      cell.charged += row.charged;
      cells.set(key, cell);
    }
    const series = [...new Set(usage.map((row) => row.model))].sort();
    const value = (day, model) => (cells.get(`${day} ${model}`) || { tasks: 0, charged: 0 })[charged ? "charged" : "tasks"];
    const label = (day, model) => {
      const cell = cells.get(`${day} ${model}`);
      return `${day} · ${model}: ${amount(cell.charged)} charged, ${cell.tasks} task${cell.tasks === 1 ? "" : "s"}`;
    };
    const who = accountSelect.value ? names.get(accountSelect.value) || accountSelect.value : "all accounts";
    const title = `${charged ? "Charges" : "Tasks"} per day and model, ${who}, ${last.from} to ${last.to}`;
    const [chart, legend] = stackedBars({
      days: daysBetween(last.from, last.to), series, value, label, title,
      format: charged ? (v) => amount(v) : (v) => String(Math.round(v)),
    });
    const total = usage.reduce((sum, row) => sum + row.charged, 0);
    const tasks = usage.reduce((sum, row) => sum + row.total, 0);
    caption.textContent = usage.length
      ? `${title}: ${tasks} task${tasks === 1 ? "" : "s"}, ${amount(total)} charged.`
      : `No tasks for ${who} from ${last.from} to ${last.to}.`;
    figure.replaceChildren(...(usage.length ? [chart, legend] : []), caption);
    fill(table, usage.map(usageRow), "No tasks in this range.");
  }

  function usageRow(row) {
    const byStatus = Object.entries(row.tasks).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(", ");
    return el(
      "tr",
      {},
      el("td", { text: row.date }),
      el("td", { text: names.get(row.account_id) || row.account_id }),
      el("td", { text: row.model }),
      el("td", { class: "num", text: String(row.total) }),
      el("td", { text: byStatus }),
      el("td", { class: "num", text: amount(row.charged) }),
    );
  }

  onSubmit(form, fetchUsage);
  measure.addEventListener("change", () => last && draw());
  accountSelect.addEventListener("change", () => form.requestSubmit());

  async function load() {
    try {
      await fetchUsage();
    } catch (error) {
      status(form, error.message, "error");
    }
  }

  // The open account's usage, when an account is opened.
  async function follow(accountId) {
    accountSelect.value = accountId;
    await load();
  }

  return { load, accountsChanged, follow };
}
