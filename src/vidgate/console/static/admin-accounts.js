// Accounts: the list, a new account, and one account's money (top up, adjust), status
// (suspend, activate), limits, keys (the secret shown once) and ledger (paged by entry id).

import { el, money } from "./api.js";
import {
  amount, busy, clearErrors, confirming, fill, limit, onSubmit, optional, status, text, when,
} from "./admin-forms.js";

const LEDGER_PAGE = 20;

export function setupAccounts(call, { changed, opened }) {
  const table = document.querySelector("#accounts-table tbody");
  const listStatus = document.getElementById("accounts-status");
  const card = document.getElementById("account-card");
  const heading = document.getElementById("account-heading");
  const summary = document.getElementById("account-summary");
  const limitsForm = document.getElementById("limits");
  const secretBox = document.getElementById("new-secret");
  const secretValue = document.getElementById("new-secret-value");
  const copyStatus = document.getElementById("copy-status");
  let current = null; // the account shown in the card
  let pages = [0]; // the ledger's `after` of every page seen so far; the last is the one shown

  async function load() {
    const { data } = await call("accounts");
    fill(table, data.map(accountRow), "No accounts yet: create one below.");
    changed(data);
    return data.length;
  }

  function accountRow(account) {
    const own = account.effective_limits;
    return el(
      "tr",
      { "data-account": account.id, class: current && current.id === account.id ? "selected" : null },
      el("td", { text: account.name }),
      el("td", {}, el("code", { text: account.id })),
      el("td", {}, badge(account.status)),
      el("td", { class: "num", text: money(account.balance) }),
      el("td", { text: `${own.rate_limit_per_minute} / ${own.max_active_tasks}` }),
      el("td", {}, el("button", { type: "button", class: "secondary", text: "Open", "aria-label": `Open ${account.name}`, onclick: () => openRow(account.id) })),
    );
  }

  async function openRow(accountId) {
    try {
      await open(accountId);
      listStatus.textContent = "";
    } catch (error) {
      listStatus.textContent = error.message;
    }
  }

  async function open(accountId) {
    const { data } = await call(`accounts/${accountId}`);
    const other = !current || current.id !== data.id;
    if (other) {
      secretBox.classList.add("hidden");
      secretValue.value = "";
      pages = [0];
      for (const form of card.querySelectorAll("form")) {
        clearErrors(form);
        form.reset();
      }
    }
    show(data);
    card.classList.remove("hidden");
    await Promise.all([loadKeys(), loadLedger(), load(), other ? opened(data) : null]);
    heading.scrollIntoView({ block: "start" });
  }

  function show(account) {
    current = account;
    heading.textContent = `Account: ${account.name}`;
    const own = account.limits;
    const effective = account.effective_limits;
    const fallback = (mine) => (mine === null ? " (server default)" : "");
    summary.replaceChildren(
      el("code", { text: account.id }), " · ", badge(account.status), " · ",
      el("span", { id: "account-balance", text: `Balance: ${money(account.balance)}` }), " · ",
      `Rate limit: ${effective.rate_limit_per_minute}/min${fallback(own.rate_limit_per_minute)} · `,
      `Active tasks: at most ${effective.max_active_tasks}${fallback(own.max_active_tasks)}`,
    );
    document.getElementById("limits-rate").value = own.rate_limit_per_minute ?? "";
    document.getElementById("limits-active").value = own.max_active_tasks ?? "";
    document.getElementById("suspend").classList.toggle("hidden", account.status !== "active");
    document.getElementById("activate").classList.toggle("hidden", account.status === "active");
  }

  async function changedAccount(data) {
    show(data);
    await Promise.all([load(), loadLedger()]);
  }

  // --- a new account -----------------------------------------------------------------------
  onSubmit(document.getElementById("new-account"), async (form) => {
    const body = { name: text("new-account-name") };
    optional(body, "balance", "new-account-balance");
    const { data } = await call("accounts", { method: "POST", body });
    form.reset();
    status(form, `Created ${data.name} (${data.id}).`, "ok");
    await open(data.id);
  });

  // --- money ---------------------------------------------------------------------------------
  onSubmit(document.getElementById("money"), async (form, submitter) => {
    const path = submitter && submitter.value === "adjust" ? "adjust" : "topup";
    const body = { amount: text("money-amount"), reason: text("money-reason") };
    const { data: entry } = await call(`accounts/${current.id}/${path}`, { method: "POST", body });
    form.reset();
    const what = entry.kind === "topup" ? "Top-up" : "Adjustment";
    status(form, `${what} of ${amount(entry.amount)}: the balance is now ${money(entry.balance_after)}.`, "ok");
    const { data } = await call(`accounts/${current.id}`);
    await changedAccount(data);
  });

  // --- status and limits -------------------------------------------------------------------
  onSubmit(limitsForm, async (form) => {
    const body = { rate_limit_per_minute: limit("limits-rate"), max_active_tasks: limit("limits-active") };
    const { data } = await call(`accounts/${current.id}/limits`, { method: "PUT", body });
    await changedAccount(data);
    status(form, "Limits saved.", "ok");
  });
  for (const action of ["suspend", "activate"]) {
    document.getElementById(action).addEventListener("click", () =>
      busy(limitsForm, async () => {
        const { data } = await call(`accounts/${current.id}/${action}`, { method: "POST" });
        await changedAccount(data);
        status(limitsForm, data.status === "active" ? "The account is active." : "The account is suspended: its keys get 401.", "ok");
      }),
    );
  }

  // --- keys ----------------------------------------------------------------------------------
  const keysTable = document.querySelector("#keys-table tbody");
  const keyForm = document.getElementById("new-key");

  async function loadKeys() {
    const { data } = await call(`accounts/${current.id}/keys`);
    fill(keysTable, data.map(keyRow), "No keys.");
  }

  function keyRow(key) {
    const revoke = confirming("Revoke", "Really revoke?", () =>
      busy(keyForm, async () => {
        await call(`accounts/${current.id}/keys/${key.id}/revoke`, { method: "POST" });
        status(keyForm, `Key ${key.name} revoked: it gets 401 from its next request.`, "ok");
        await loadKeys();
      }),
    );
    return el(
      "tr",
      { "data-key": key.id },
      el("td", { text: key.name }),
      el("td", {}, el("code", { text: `${key.prefix}…` })),
      el("td", {}, badge(key.status)),
      el("td", { text: when(key.created) }),
      el("td", { text: when(key.last_used) || "never" }),
      el("td", {}, key.status === "active" ? revoke : null),
    );
  }

  onSubmit(keyForm, async (form) => {
    const body = {};
    optional(body, "name", "new-key-name");
    const { data } = await call(`accounts/${current.id}/keys`, { method: "POST", body });
    form.reset();
    secretValue.value = data.secret;
    copyStatus.textContent = "";
    secretBox.classList.remove("hidden");
    status(form, `Key ${data.name} created.`, "ok");
    await loadKeys();
  });

  document.getElementById("copy-secret").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secretValue.value);
      copyStatus.textContent = "Copied to the clipboard.";
    } catch {
      secretValue.select();
      copyStatus.textContent = "The browser did not allow copying: the secret is selected, copy it by hand.";
    }
  });

  // --- the ledger ----------------------------------------------------------------------------
  const ledgerTable = document.querySelector("#ledger-table tbody");
  const ledgerPage = document.getElementById("ledger-page");
  const next = document.getElementById("ledger-next");
  const previous = document.getElementById("ledger-previous");
  const first = document.getElementById("ledger-first");

  async function loadLedger() {
    const after = pages[pages.length - 1];
    // one entry more than shown: whether there is a next page
    const { data } = await call(`accounts/${current.id}/ledger?after=${after}&limit=${LEDGER_PAGE + 1}`);
    const shown = data.slice(0, LEDGER_PAGE);
    fill(ledgerTable, shown.map(entryRow), "No entries.");
    next.disabled = data.length <= LEDGER_PAGE;
    next.dataset.after = shown.length ? shown[shown.length - 1].id : after;
    previous.disabled = first.disabled = pages.length === 1;
    ledgerPage.textContent = shown.length ? `Page ${pages.length}: entries ${shown[0].id}–${shown[shown.length - 1].id}` : "";
  }

  function entryRow(entry) {
    return el(
      "tr",
      {},
      el("td", { text: String(entry.id) }),
      el("td", { text: when(entry.created) }),
      el("td", { text: entry.kind }),
      el("td", { class: `num ${entry.amount < 0 ? "error" : ""}`.trim(), text: amount(entry.amount) }),
      el("td", { class: "num", text: amount(entry.balance_after) }),
      el("td", {}, entry.task_id ? el("code", { text: entry.task_id }) : null),
      el("td", { text: entry.note || "" }),
    );
  }

  const page = (change) => async () => {
    change();
    try {
      await loadLedger();
    } catch (error) {
      ledgerPage.textContent = error.message;
    }
  };
  next.addEventListener("click", page(() => pages.push(Number(next.dataset.after))));
  previous.addEventListener("click", page(() => pages.length > 1 && pages.pop()));
  first.addEventListener("click", page(() => (pages = [0])));

  return { load };
}

export function badge(word) {
  return el("span", { class: `badge badge-${word}`, text: word });
}
