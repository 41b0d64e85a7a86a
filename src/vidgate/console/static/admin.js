// The operators' dashboard: the admin token (kept in this browser's local storage, sent only to
// this server in the Authorization header), then accounts, keys, the ledger, usage, prices and
// channels, all through the admin API (/admin/v1), as curl would call it.

import { api, remembered } from "./api.js";
import { setupAccounts } from "./admin-accounts.js";
import { setupUsage } from "./admin-usage.js";
import { setupPrices } from "./admin-prices.js";
import { setupChannels } from "./admin-channels.js";

const tokenInput = document.getElementById("admin-token");
const status = document.getElementById("admin-status");
const panels = document.getElementById("console");
const token = remembered(tokenInput, "adminToken", () => refresh());

// Every call of the dashboard: the admin API, relative to the page's base, with the token.
function call(path, options = {}) {
  return api(`admin/v1/${path}`, { token: token(), ...options });
}

const usage = setupUsage(call);
const accounts = setupAccounts(call, {
  changed: (list) => usage.accountsChanged(list),
  opened: (account) => usage.follow(account.id),
});
const prices = setupPrices(call);
const channels = setupChannels(call);

async function refresh() {
  if (!token()) {
    panels.classList.add("hidden");
    status.textContent = "Enter the admin token (VIDGATE_ADMIN_TOKEN).";
    return;
  }
  try {
    const count = await accounts.load();
    status.textContent = `Signed in: ${count} account${count === 1 ? "" : "s"}.`;
    status.className = "muted";
    panels.classList.remove("hidden");
  } catch (error) {
    panels.classList.add("hidden");
    status.textContent = error.message;
    status.className = "error";
    return;
  }
  await Promise.all([usage.load(), prices.load(), channels.load()]);
}

// Sign out: the token leaves this browser's storage (remembered() hears the change).
document.getElementById("forget-token").addEventListener("click", () => {
  tokenInput.value = "";
  tokenInput.dispatchEvent(new Event("change"));
});

refresh();
