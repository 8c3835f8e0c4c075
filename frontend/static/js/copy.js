// Copy buttons: <button data-copy="id"> puts the text of the element with that id (a code
// snippet) on the clipboard and says so on the button for a moment.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select the text to copy";  // no clipboard (plain http, old browser)
  }
  setTimeout(() => { button.textContent = label; }, 1500);
});
