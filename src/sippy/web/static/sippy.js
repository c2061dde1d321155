// Sippy AI pages: progressive enhancement only. Every page reads without this file.
// Text from the server is only ever set with textContent, never parsed as HTML.
"use strict";

const TOKEN_KEY = "sippy-write-token";

function writeToken() {
  const field = document.querySelector("[data-token]");
  const value = field ? field.value.trim() : "";
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  return value || sessionStorage.getItem(TOKEN_KEY) || "";
}

function authHeaders(extra) {
  const headers = Object.assign({}, extra || {});
  const token = writeToken();
  if (token) headers.Authorization = "Bearer " + token;
  return headers;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.message) return body.message;
  } catch (_) { /* not our JSON error shape */ }
  return response.statusText || "request failed";
}

// --- the streamed AI summary (server-sent events over fetch, so errors keep their status) --

function sourceLabel(meta) {
  if (meta.model === "builtin") return "built-in summarizer";
  return meta.cached ? "cached answer from " + meta.model : meta.model;
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { name, data: data.length ? JSON.parse(data.join("\n")) : null };
}

async function streamSummary(box, refresh) {
  const text = box.querySelector("[data-summary-text]");
  const badge = box.querySelector("[data-summary-badge]");
  const status = box.querySelector("[data-summary-status]");
  const button = box.querySelector("[data-regenerate]");
  const ask = box.querySelector("[data-ask-form]");
  const url = "/api/ai/job_run?stream=true&prow_job_run_id=" +
    encodeURIComponent(box.dataset.runId) + (refresh ? "&refresh=true" : "");
  box.dataset.state = "streaming";
  box.setAttribute("aria-busy", "true");
  status.textContent = refresh ? "Asking the model again…" : "Asking the model…";
  if (button) button.disabled = true;
  if (ask) ask.hidden = true;
  const fail = (message) => {
    box.dataset.state = "error";
    status.textContent = message;
  };
  try {
    const response = await fetch(url, {
      headers: refresh ? authHeaders({ Accept: "text/event-stream" }) : { Accept: "text/event-stream" },
    });
    if (!response.ok) {
      fail("The summary could not be written (" + response.status + "): " + await errorMessage(response));
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let started = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (event.name === "meta") {
          badge.textContent = sourceLabel(event.data);
          badge.classList.toggle("cached", !!event.data.cached);
          badge.classList.toggle("builtin", event.data.model === "builtin");
        } else if (event.name === "delta") {
          if (!started) { text.textContent = ""; started = true; }
          text.textContent += event.data.text;
          status.textContent = "Writing…";
        } else if (event.name === "done") {
          text.textContent = event.data.summary;
          badge.textContent = sourceLabel(event.data);
          status.textContent = "";
          box.dataset.state = "done";
        } else if (event.name === "error") {
          fail("The model stopped (" + event.data.code + "): " + event.data.message);
        }
      }
    }
    if (box.dataset.state === "streaming") fail("The stream ended before the summary was complete.");
  } catch (err) {
    fail("The summary could not be fetched: " + err);
  } finally {
    box.removeAttribute("aria-busy");
    if (button) button.disabled = false;
  }
}

function setUpSummary() {
  const box = document.querySelector("[data-ai-summary]");
  if (!box) return;
  const button = box.querySelector("[data-regenerate]");
  if (button) button.addEventListener("click", () => streamSummary(box, true));
  const ask = box.querySelector("[data-ask-form]");
  if (ask) ask.addEventListener("submit", (event) => { event.preventDefault(); streamSummary(box, false); });
  if (box.dataset.known !== "true" && ask) streamSummary(box, false);  // a model is set up, not asked yet
}

// --- the paste box: open a loaded run, or load a new source through POST /api/runs -------

async function openSource(form, event) {
  event.preventDefault();
  const source = form.elements.source.value.trim();
  const status = form.querySelector("[data-paste-status]");
  if (!source) return;
  const say = (message) => { status.textContent = message; };
  form.dataset.busy = "true";
  say("Looking for the run…");
  try {
    const found = await fetch("/api/runs/resolve?source=" + encodeURIComponent(source),
      { headers: { Accept: "application/json" } });
    if (found.ok) {
      const run = await found.json();  // its id may exceed 2^53: follow the url, not the id
      say("Opening the run…");
      window.location.assign(run.url);
      return;
    }
    if (found.status !== 404) { say("Could not look it up: " + await errorMessage(found)); return; }
    if (form.dataset.writes !== "true") {
      window.location.assign("/open?source=" + encodeURIComponent(source));  // the page says why
      return;
    }
    const began = Date.now();
    const tick = () => say("Loading " + source + " … " + Math.round((Date.now() - began) / 1000) + " s");
    tick();
    const timer = setInterval(tick, 1000);
    let response;
    try {
      response = await fetch("/api/runs", {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
        body: JSON.stringify(isJobHistory(source) ? { source, latest: 1 } : { source }),
      });
    } finally {
      clearInterval(timer);
    }
    if (!response.ok) { say("Loading failed (" + response.status + "): " + await errorMessage(response)); return; }
    const raw = await response.text();
    const report = JSON.parse(raw);
    const ids = runIdsOf(raw);
    if (!ids.length) { say("Nothing was loaded from " + source + ". " + loadProblems(report)); return; }
    say("Loaded; opening run " + ids[0] + "…");
    window.location.assign("/runs/" + encodeURIComponent(ids[0]));
  } catch (err) {
    say("Something went wrong: " + err);
  } finally {
    delete form.dataset.busy;
  }
}

// A Prow job-history URL names a whole job: load and open its newest run, as `sippy summarize`.
function isJobHistory(source) {
  return /\/job-history\//.test(source);
}

// Build ids exceed 2^53, so JSON.parse would round them: read them from the raw text.
function runIdsOf(raw) {
  const match = raw.match(/"runIds"\s*:\s*\[([^\]]*)\]/);
  return match ? match[1].split(",").map((id) => id.trim()).filter((id) => /^\d+$/.test(id)) : [];
}

function loadProblems(report) {
  const problems = [].concat(report.sourceErrors || [], (report.runs || []).map((r) => r.why).filter(Boolean));
  return problems.join("; ");
}

// --- copy buttons -------------------------------------------------------------------------

async function copyText(button) {
  const target = document.querySelector(button.dataset.copy);
  const status = button.parentElement.querySelector("[data-copy-status]");
  if (!target) return;
  const text = target.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    const area = document.createElement("textarea");  // older browsers, insecure origins
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) { if (status) status.textContent = "Copy failed: select the text instead"; return; }
  }
  if (status) status.textContent = "Copied " + text.length + " characters";
}

document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("[data-js-only]")) el.hidden = false;
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) for (const field of document.querySelectorAll("[data-token]")) field.value = token;
  for (const form of document.querySelectorAll("[data-paste]")) {
    form.addEventListener("submit", (event) => openSource(form, event));
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copyText(button));
  }
  setUpSummary();
});
