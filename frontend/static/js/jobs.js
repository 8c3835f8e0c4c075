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

// The detail page: update status and progress in place; reload when the status or the
// number of trials changes, so the table and charts are drawn from the new trials.
function pollJob(section) {
  const url = section.dataset.statusUrl;
  let lastReload = Date.now();
  const tick = async () => {
    let job = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        job = await response.json();
      }
    } catch (err) {
      // Try again on the next tick.
    }
    if (job) {
      const badge = document.getElementById("job-status");
      badge.textContent = job.status;
      badge.className = `badge status-${job.status}`;
      document.getElementById("job-progress").value = job.progress;
      document.getElementById("job-percent").textContent = Math.round(job.progress * 100);
      const t = job.trials;
      document.getElementById("job-trials").textContent =
        `${t.total} (${t.complete} complete, ${t.pruned} pruned, ${t.failed} failed, ` +
        `${t.running} running)`;
      const moreTrials = String(t.total) !== section.dataset.total;
      // Not more than every 10 s for new trials alone: charts take a moment to draw.
      if (job.status !== section.dataset.status || (moreTrials && Date.now() - lastReload > 10000)) {
        window.location.reload();
        return;
      }
      if (job.finished) {
        return;
      }
    }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
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
const live = document.getElementById("job-live");
if (live && live.dataset.status && !["succeeded", "failed", "cancelled", "paused"].includes(live.dataset.status)) {
  pollJob(live);
}
