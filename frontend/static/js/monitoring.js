// The staff dashboard: redraw the charts and counters from data.json every 10 seconds.
"use strict";

(function () {
  const url = document.getElementById("dashboard-script").dataset.url;
  async function refresh() {
    try {
      const response = await fetch(url, {credentials: "same-origin"});
      if (!response.ok) return;
      const body = await response.json();
      for (const [id, fig] of [["jobs-chart", body.figures.jobs], ["durations-chart", body.figures.durations], ["queues-chart", body.figures.queues]]) {
        const div = document.querySelector("#" + id + " .plotly-graph-div");
        if (div) Plotly.react(div, fig.data, fig.layout);
      }
      const jobs = body.data.jobs;
      document.getElementById("running-trials").textContent = jobs.running_trials;
      document.getElementById("trials-per-minute").textContent = jobs.trials_per_minute.toFixed(1);
      for (const el of document.querySelectorAll("[data-status]")) el.textContent = jobs.jobs_by_status[el.dataset.status];
    } catch (e) { /* the next tick tries again */ }
  }
  setInterval(refresh, 10000);
})();
