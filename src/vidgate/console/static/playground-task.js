// Following one task live and showing it: GET v1/tasks/{id}/events read with fetch() (an
// EventSource cannot send the Authorization header, and the key never goes in a URL), its
// server-sent events parsed here; if the stream cannot be read, GET v1/tasks/{id} is polled.
// Then the video in a player, with its duration, cost and a download link, or the failure's message.

import { api, el, money } from "./api.js";

const ENDED = new Set(["completed", "failed", "cancelled"]);
const POLL_MS = 1000;

const $ = (id) => document.getElementById(id);

// Calls onTask(task) at each change until the task ends; resolves with the last task object.
export async function follow(taskId, token, onTask, signal) {
  let last = null;
  try {
    last = await stream(taskId, token, onTask, signal);
  } catch (error) {
    if (signal?.aborted) return last;
  }
  while (!signal?.aborted && !(last && ENDED.has(last.status))) {
    const { data } = await api(`v1/tasks/${encodeURIComponent(taskId)}`, { token });
    last = data;
    onTask(data);
    if (!ENDED.has(data.status)) await sleep(POLL_MS, signal);
  }
  return last;
}

async function stream(taskId, token, onTask, signal) {
  const response = await fetch(`v1/tasks/${encodeURIComponent(taskId)}/events`, {
    headers: { Accept: "text/event-stream", Authorization: `Bearer ${token}` },
    signal,
  });
  if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return last;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const task = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (task) {
        last = task;
        onTask(task);
      }
    }
  }
}

// One event block of text/event-stream: "event: task" and its "data:" lines (comments start with ":").
function parseEvent(block) {
  let type = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  return type === "task" && data.length ? JSON.parse(data.join("\n")) : null;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}

// The result card: what it shows of one task.
export function showTask(task) {
  const status = $("task-status");
  const progress = $("task-progress");
  const error = $("task-error");
  const result = $("task-result");
  const video = $("task-video");
  const ended = ENDED.has(task.status);
  status.textContent = ended ? `Task ${task.id}: ${task.status}.` : `Task ${task.id}: ${task.status}, ${task.progress}%`;
  status.dataset.status = task.status;
  status.dataset.task = task.id;
  progress.value = task.progress;
  progress.classList.toggle("hidden", ended);
  error.textContent = task.error && task.status !== "completed" ? task.error.message : "";
  const url = task.result?.videos?.[0]?.url?.[0];
  if (task.status === "completed" && url) {
    $("task-cost").textContent = money(task.cost);
    const expires = new Date(task.result.videos[0].expires_at * 1000);
    $("task-expires").replaceChildren(el("time", { datetime: expires.toISOString(), text: expires.toLocaleString() }));
    $("task-duration").textContent = "…";
    const link = $("task-download");
    link.href = url;
    link.setAttribute("download", `${task.id}.mp4`);
    if (video.getAttribute("src") !== url) {
      video.src = url;
      video.load();
    }
    result.classList.remove("hidden");
  } else {
    clearResult();
  }
}

export function clearResult() {
  const video = $("task-video");
  $("task-result").classList.add("hidden");
  if (video.getAttribute("src")) {
    video.pause();
    video.removeAttribute("src");
    video.load();
  }
}

export function watchDuration() {
  const video = $("task-video");
  video.addEventListener("loadedmetadata", () => {
    $("task-duration").textContent = Number.isFinite(video.duration) ? `${video.duration.toFixed(1)} s` : "";
  });
}
