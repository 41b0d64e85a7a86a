import { api, remembered, money } from "./api.js";

const keyInput = document.getElementById("api-key");
const account = document.getElementById("account");
const key = remembered(keyInput, "apiKey", () => refreshAccount());

async function refreshAccount() {
  if (!key()) {
    account.textContent = "Enter an API key to start.";
    return;
  }
  try {
    const { data } = await api("v1/account", { token: key() });
    account.textContent = `Balance: ${money(data.balance)}`;
  } catch (error) {
    account.textContent = error.message;
  }
}

refreshAccount();
