// New-job forms: offer only the models and metrics that fit the chosen data set, by its
// task (or the task field, when set), its kind of input and its rows. The options carry
// what they fit as data-* attributes (automl/jobs/forms.py, TaggedSelect); the server checks
// the same rules on submission, so this only spares the user a rejected form.
"use strict";

function fits(option, wanted) {
  const tags = option.dataset;
  if (tags.tasks && wanted.task && !tags.tasks.split(" ").includes(wanted.task)) {
    return false;
  }
  if (tags.inputs && wanted.inputs && tags.inputs !== wanted.inputs) {
    return false;
  }
  return !(tags.maxRows && wanted.rows > Number(tags.maxRows));
}

function filterChoices(form) {
  const dataset = form.querySelector('select[name="dataset"]');
  const chosen = dataset ? dataset.selectedOptions[0] : null;
  if (!chosen || !chosen.dataset.task) {
    return; // no data set chosen (compression: the model's own): offer everything
  }
  const taskField = form.querySelector('select[name="task"]');
  const wanted = {
    task: (taskField && taskField.value) || chosen.dataset.task,
    inputs: chosen.dataset.inputs,
    rows: Number(chosen.dataset.rows || 0),
  };
  for (const name of ["model", "metric"]) {
    const select = form.querySelector(`select[name="${name}"]`);
    if (!select) {
      continue;
    }
    let offered = 0;
    for (const option of select.options) {
      const ok = fits(option, wanted);
      option.hidden = !ok;
      option.disabled = !ok;
      offered += ok && option.dataset.tasks ? 1 : 0;
    }
    if (select.selectedOptions[0] && select.selectedOptions[0].disabled) {
      select.value = select.options[0].value; // "auto" or "default"
    }
    let note = form.querySelector(`#${select.id}_offered`);
    if (!note) {
      note = document.createElement("small");
      note.id = `${select.id}_offered`;
      note.className = "offered";
      note.setAttribute("aria-live", "polite");
      select.after(note);
    }
    note.textContent = `${offered} ${name === "model" ? "model families" : "metrics"} ` +
      `fit this data set (${wanted.task}, ${wanted.inputs}, ${wanted.rows} rows).`;
  }
}

for (const form of document.querySelectorAll("form.job-form")) {
  for (const name of ["dataset", "task"]) {
    const field = form.querySelector(`select[name="${name}"]`);
    if (field) {
      field.addEventListener("change", () => filterChoices(form));
    }
  }
  filterChoices(form);
}
