// The job page's "Explore the search": a chart, a model family and its parameters picked
// without a reload. The server (automl/jobs/search_charts.py) fills in the defaults and
// answers the family's parameters to choose from, so a new family starts from its most
// important few. Redrawn in place (Plotly.react keeps the zoom) when the page's live
// charts are, while the job runs.
"use strict";

function option(value, text, selected) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  element.selected = selected;
  return element;
}

function fillPicker(form, answer) {
  const kind = form.querySelector("#search-chart-kind");
  kind.replaceChildren(...Object.entries(answer.charts).map(([key, label]) => option(key, label, key === answer.chart)));
  const family = form.querySelector("#search-chart-family");
  form.querySelector("#search-family-label").hidden = answer.families.length === 0;
  family.replaceChildren(
    ...answer.families.map((name) => option(name, name, name === answer.family)),
    option("all", "all families (their shared parameters)", answer.family === "all"),
  );
  const fieldset = form.querySelector("#search-chart-params");
  for (const old of fieldset.querySelectorAll("label")) old.remove();
  for (const name of answer.available) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "param";
    box.value = name;
    box.checked = answer.params.includes(name);
    label.append(box, ` ${name}`);
    fieldset.appendChild(label);
  }
}

async function drawSearchChart(form, search) {
  const note = document.getElementById("search-chart-note");
  let response;
  try {
    response = await fetch(`${form.dataset.url}?${search}`, { headers: { Accept: "application/json" } });
  } catch (err) {
    return; // the server may be restarting; the next redraw tries again
  }
  const answer = await response.json();
  if (!response.ok) {
    note.textContent = answer.detail;
    return;
  }
  form.dataset.search = search;
  fillPicker(form, answer);
  const div = document.querySelector("#search-chart div.plotly-graph-div");
  note.textContent = answer.note;
  if (answer.figure === null) {
    Plotly.purge(div);
    return;
  }
  const layout = Object.assign({}, answer.figure.layout, { uirevision: `${answer.chart}:${answer.family}` });
  await Plotly.react(div, answer.figure.data, layout, { displaylogo: false, responsive: true });
}

const searchForm = document.getElementById("search-charts");
if (searchForm) {
  searchForm.addEventListener("change", (event) => {
    const asked = new URLSearchParams(new FormData(searchForm));
    // A new family has other parameters: let the server pick its most important few.
    if (event.target.name === "family") asked.delete("param");
    drawSearchChart(searchForm, asked.toString());
  });
  searchForm.addEventListener("submit", (event) => event.preventDefault());
  document.addEventListener("job:charts", () => {
    if ("search" in searchForm.dataset) drawSearchChart(searchForm, searchForm.dataset.search);
  });
  drawSearchChart(searchForm, "");
}
