// Job pages: live status by polling (no library), and tables sorted by a heading's button.
"use strict";

const POLL_MS = 2000;

// The job list: while a job on the page is unfinished, fetch the rows again.
function pollRows(tbody) {
  const url = tbody.dataset.poll;
  const tick = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      if (response.ok) {
        tbody.innerHTML = await response.text();
      }
    } catch (err) {
      // The server may be restarting; try again on the next tick.
    }
    if (tbody.querySelector('tr[data-finished="0"]')) {
      setTimeout(tick, POLL_MS);
    }
  };
  setTimeout(tick, POLL_MS);
}

// The detail page: live without reloading. The status JSON is polled; when something
// changed, the summary, the trials table (with the user's own sort, filters and page) and
// the charts (Plotly.react with a fixed uirevision, so zoom and pan survive) are fetched
// again and swapped in place.
const CHARTS_MIN_MS = 5000; // charts are redrawn at most this often while trials pour in

async function fetchText(url) {
  const response = await fetch(url, { headers: { Accept: "text/html" } });
  return response.ok || response.status === 400 ? response.text() : null;
}

function fragmentUrl(search, name) {
  const params = new URLSearchParams(search);
  params.set("fragment", name);
  return `${window.location.pathname}?${params}`;
}

async function refreshSummary() {
  const html = await fetchText(fragmentUrl("", "summary"));
  if (html !== null) document.getElementById("job-summary").innerHTML = html;
}

// Swap in the trials table for `search`, keeping its horizontal scroll and the open trial.
async function loadTrials(search) {
  const holder = document.getElementById("job-trials-table");
  const scroller = document.getElementById("trials-scroll");
  const left = scroller ? scroller.scrollLeft : 0;
  const html = await fetchText(fragmentUrl(search, "trials"));
  if (html === null) return;
  holder.innerHTML = html;
  const again = document.getElementById("trials-scroll");
  if (again) again.scrollLeft = left;
  markSelected();
}

function chartLayout(layout) {
  // A constant uirevision tells plotly.react to keep what the user did (zoom, pan, legend).
  return Object.assign({}, layout || {}, { uirevision: "keep" });
}

async function refreshCharts(url) {
  let answer = null;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (response.ok) answer = await response.json();
  } catch (err) {
    return;
  }
  if (!answer) return;
  const grid = document.getElementById("job-charts");
  const note = document.getElementById("chart-note");
  note.textContent = answer.note;
  note.hidden = !answer.note;
  for (const [key, figure] of Object.entries(answer.figures)) {
    if (figure === null) continue;
    let holder = grid.querySelector(`.chart[data-key="${key}"]`);
    let div = holder && holder.querySelector("div.plotly-graph-div");
    if (!div) {
      holder = document.createElement("div");
      holder.className = "chart";
      holder.dataset.key = key;
      div = document.createElement("div");
      div.className = "plotly-graph-div";
      holder.appendChild(div);
      const after = Array.from(grid.children).find((c) => Number(c.dataset.key) > Number(key));
      grid.insertBefore(holder, after || null);
    }
    div.dataset.drawn = "1";
    await Plotly.react(div, figure.data, chartLayout(figure.layout), { displaylogo: false, responsive: true });
  }
  const empty = document.getElementById("charts-empty");
  empty.textContent = "Charts appear once trials finish.";
  empty.hidden = grid.children.length > 0;
  grid.removeAttribute("aria-busy");
  highlight(selected);
  document.dispatchEvent(new Event("job:charts")); // search_charts.js redraws its chart
}

function pollJob(box) {
  const url = box.dataset.statusUrl;
  let last = null;
  let chartsAt = Date.now();
  const tick = async () => {
    let job = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) job = await response.json();
    } catch (err) {
      // The server may be restarting; try again on the next tick.
    }
    if (job) {
      const seen = JSON.stringify([job.status, job.progress, job.trials, job.failures, job.cancel_requested]);
      const moreTrials = !last || last.trials.total !== job.trials.total || last.status !== job.status;
      if (last && seen !== last.seen) {
        await refreshSummary();
      } else {
        const time = document.getElementById("job-time");
        if (time && job.elapsed) {
          time.textContent = `${job.elapsed} so far` + (job.left ? `; ${job.left} left (from ${job.left_from})` : "");
        }
      }
      if (last && moreTrials) {
        await loadTrials(window.location.search);
        if (job.finished || Date.now() - chartsAt > CHARTS_MIN_MS) {
          chartsAt = Date.now();
          await refreshCharts(box.dataset.chartsUrl);
        }
      }
      last = Object.assign(job, { seen });
      if (job.finished) return;
    }
    setTimeout(tick, POLL_MS);
  };
  tick();
}

// Sorting, filtering and paging fetch the table alone; the address follows (back works).
function wireTrials(holder) {
  const go = async (search) => {
    await loadTrials(search);
    window.history.pushState({ trials: search }, "", `${window.location.pathname}${search}`);
  };
  holder.addEventListener("click", (event) => {
    const link = event.target.closest("a");
    if (!link || !holder.contains(link) || event.ctrlKey || event.metaKey) return;
    if (link.classList.contains("trial-link")) {
      event.preventDefault();
      openTrial(Number(link.closest("tr").dataset.number));
    } else if (link.matches("a.sort, nav.pages a, .chips a")) {
      event.preventDefault();
      go(new URL(link.href).search);
    }
  });
  holder.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const params = new URLSearchParams(new FormData(form));
    // The form's range row becomes min./max./is. keys on the server (a redirect).
    const response = await fetch(`${window.location.pathname}?${params}`, { headers: { Accept: "text/html" } });
    go(new URL(response.url).search.replace(/[?&]fragment=[^&]*/, ""));
  });
  window.addEventListener("popstate", () => loadTrials(window.location.search));
}

// The trial drawer: a side panel over the page; its trial is highlighted in the charts.
let selected = null;

async function openTrial(number) {
  const table = document.getElementById("trials-table");
  const url = table.dataset.drawerUrl.replace(/\/0\/drawer\/$/, `/${number}/drawer/`);
  const html = await fetchText(url);
  if (html === null) return;
  const drawer = document.getElementById("trial-drawer");
  document.getElementById("drawer-body").innerHTML = html;
  if (!drawer.open) drawer.show();
  drawFigures(drawer);
  const body = drawer.querySelector(".drawer");
  selected = { number, value: body.dataset.value !== undefined ? Number(body.dataset.value) : null, curve: curveOf(drawer) };
  markSelected();
  highlight(selected);
  drawer.querySelector("[data-close]").focus();
}

function curveOf(drawer) {
  const div = drawer.querySelector("div[data-figure]");
  if (!div) return null;
  return JSON.parse(div.dataset.figure).data.filter((t) => t.x && t.x.length);
}

function closeTrial() {
  document.getElementById("trial-drawer").close();
  selected = null;
  markSelected();
  highlight(null);
}

function markSelected() {
  for (const row of document.querySelectorAll("#trials-table tr[data-number]")) {
    row.classList.toggle("selected", selected !== null && Number(row.dataset.number) === selected.number);
  }
}

// Adds (or removes) one "selected" trace per chart: a star on the history chart at the
// trial's value, its learning curve drawn thick on the intermediate values chart.
function highlight(trial) {
  for (const div of document.querySelectorAll("#job-charts div.plotly-graph-div")) {
    if (!div.data) continue;
    const old = div.data.findIndex((t) => t.meta === "selected");
    if (old >= 0) Plotly.deleteTraces(div, old);
    if (!trial) continue;
    const axis = ((div.layout.xaxis || {}).title || {}).text || "";
    let trace = null;
    if (axis.startsWith("trial") && trial.value !== null) {
      trace = { x: [trial.number], y: [trial.value], mode: "markers", marker: { size: 16, symbol: "star", color: "#cc79a7", line: { width: 1, color: "#000" } } };
    } else if (axis.startsWith("step") && trial.curve && trial.curve.length) {
      trace = { x: trial.curve[0].x, y: trial.curve[0].y, mode: "lines+markers", line: { width: 4, color: "#cc79a7" } };
    }
    if (trace) Plotly.addTraces(div, Object.assign(trace, { name: `trial ${trial.number}`, meta: "selected" }));
  }
}

function sortValue(cell) {
  const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
  const number = Number(raw);
  return raw !== "" && !Number.isNaN(number) ? number : raw.toLowerCase();
}

// Each heading becomes a button (keyboard reachable); aria-sort tells the order.
function makeSortable(table) {
  const headings = Array.from(table.tHead.rows[0].cells);
  headings.forEach((th, column) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      headings.forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows).filter((row) => row.cells.length > column);
      rows.sort((a, b) => {
        const x = sortValue(a.cells[column]);
        const y = sortValue(b.cells[column]);
        // Empty cells (no value) go last either way.
        if (x === "" || y === "") return (x === "") - (y === "");
        const order = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? order : -order;
      });
      rows.forEach((row) => body.appendChild(row));
    });
  });
}

document.querySelectorAll("table.sortable").forEach(makeSortable);
const rows = document.getElementById("job-rows");
if (rows && rows.dataset.poll) pollRows(rows);
const box = document.getElementById("job-summary");
if (box) {
  const trials = document.getElementById("job-trials-table");
  wireTrials(trials);
  document.getElementById("trial-drawer").addEventListener("click", (event) => {
    if (event.target.closest("[data-close]")) closeTrial();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && selected !== null) closeTrial();
  });
  refreshCharts(box.dataset.chartsUrl);
  if (!["succeeded", "failed", "cancelled", "paused"].includes(box.dataset.status)) pollJob(box);
}
