import { api, remembered } from "./api.js";

const tokenInput = document.getElementById("admin-token");
const status = document.getElementById("admin-status");
const token = remembered(tokenInput, "adminToken", () => refresh());

async function refresh() {
  if (!token()) {
    status.textContent = "Enter the admin token (VIDGATE_ADMIN_TOKEN).";
    return;
  }
  try {
    const { data } = await api("admin/accounts", { token: token() });
    status.textContent = `${data.length} accounts`;
  } catch (error) {
    status.textContent = error.message;
  }
}

refresh();
