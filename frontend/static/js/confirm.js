// Destructive actions ask first: a form with data-confirm="question" submits only once the
// user agrees. Listening on the document covers forms a page redraws in place (the job
// page's summary). Without JavaScript the form submits as before.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
