// The price table (GET / PUT /admin/v1/prices, edited as JSON; the server validates the whole
// table and its refusal is shown at the field) and the ledger check (GET /admin/v1/ledger/verify).

import { el } from "./api.js";
import { LocalError, amount, onSubmit, status, text, when } from "./admin-forms.js";

export function setupPrices(call) {
  const form = document.getElementById("prices");
  const editor = document.getElementById("prices-table");
  const version = document.getElementById("prices-version");

  function show(data) {
    const { version: number, note, updated, ...table } = data;
    editor.value = JSON.stringify(table, null, 2);
    version.textContent = `Version ${number}, in force since ${when(updated)} UTC${note ? `: ${note}` : ""}.`;
  }

  async function load() {
    try {
      const { data } = await call("prices");
      show(data);
    } catch (error) {
      status(form, error.message, "error");
    }
  }

  onSubmit(form, async () => {
    let table;
    try {
      table = JSON.parse(editor.value);
    } catch (error) {
      throw new LocalError("models", `This is not JSON: ${error.message}`);
    }
    if (table === null || typeof table !== "object" || Array.isArray(table)) {
      throw new LocalError("models", 'The table is a JSON object: {"models": {...}}.');
    }
    const note = text("prices-note");
    const body = note ? { ...table, note } : table;
    const { data } = await call("prices", { method: "PUT", body });
    show(data);
    document.getElementById("prices-note").value = "";
    status(form, `Prices replaced: version ${data.version} is in force.`, "ok");
  });
  document.getElementById("prices-reload").addEventListener("click", async () => {
    status(form, "");
    await load();
  });

  setupVerify(call);
  return { load };
}

function setupVerify(call) {
  const button = document.getElementById("verify");
  const result = document.getElementById("verify-result");
  button.addEventListener("click", async () => {
    button.disabled = true;
    result.replaceChildren(el("p", { class: "muted", text: "Checking…" }));
    try {
      const { data } = await call("ledger/verify");
      const at = new Date().toISOString().slice(11, 19);
      if (data.ok) {
        result.replaceChildren(el("p", { class: "ok", text: `The ledger adds up: every balance is the sum of its entries (checked ${at} UTC).` }));
      } else {
        result.replaceChildren(
          el("p", { class: "error", text: `${data.accounts.length} account(s) do not add up (checked ${at} UTC):` }),
          el(
            "ul",
            {},
            ...data.accounts.map((bad) =>
              el("li", {
                text: `${bad.name} (${bad.account_id}): balance ${amount(bad.balance)}, entries sum to ${amount(bad.ledger_sum)}` +
                  (bad.broken_entries.length ? `; entries out of sequence: ${bad.broken_entries.join(", ")}` : ""),
              }),
            ),
          ),
        );
      }
    } catch (error) {
      result.replaceChildren(el("p", { class: "error", text: error.message }));
    } finally {
      button.disabled = false;
    }
  });
}
