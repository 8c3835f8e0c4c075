// Upload forms (form[data-progress]): send the file with XMLHttpRequest so the page can show
// how much has gone up. Without JavaScript the form posts as usual; with it the server's
// answer is the same: a redirect to the new object's page, or the form again with errors.
"use strict";

function showProgress(form, fraction) {
  const bar = form.querySelector("progress.upload-progress");
  const label = form.querySelector(".upload-percent");
  bar.hidden = false;
  bar.value = fraction;
  label.textContent = `${Math.round(fraction * 100)} % sent`;
}

function keepFiles(chosen) {
  for (const old of chosen) {
    const input = document.querySelector(`form[data-progress] input[name="${old.name}"]`);
    if (input && old.files.length) {
      input.files = old.files;
      const note = document.createElement("small");
      note.className = "kept-file";
      note.textContent = `Still chosen: ${old.files[0].name}`;
      input.after(note);
    }
  }
}

function sendWithProgress(form) {
  const button = form.querySelector('button[type="submit"]');
  const request = new XMLHttpRequest();
  request.open("POST", form.action || window.location.href);
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) {
      showProgress(form, event.loaded / event.total);
    }
  });
  request.addEventListener("load", () => {
    const asked = new URL(form.action || window.location.href, window.location.href);
    if (request.status < 400 && new URL(request.responseURL).pathname !== asked.pathname) {
      window.location.assign(request.responseURL); // the redirect to the new object
      return;
    }
    // The form again, with the server's errors: show its page in place of this one,
    // keeping the files already chosen (a page cannot pre-fill a file input itself).
    const chosen = Array.from(form.querySelectorAll('input[type="file"]'));
    const page = new DOMParser().parseFromString(request.responseText, "text/html");
    document.getElementById("content").replaceWith(page.getElementById("content"));
    keepFiles(chosen);
    init();
    const summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
  });
  request.addEventListener("error", () => {
    button.disabled = false;
    form.querySelector(".upload-percent").textContent =
      "The upload failed: the connection was lost. Try again.";
  });
  button.disabled = true;
  showProgress(form, 0);
  request.send(new FormData(form));
}

function init() {
  for (const form of document.querySelectorAll("form[data-progress]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sendWithProgress(form);
    });
  }
}

init();
