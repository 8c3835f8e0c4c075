// The model page's tabs: one panel shows at a time. The address's #hash names the panel
// (or anything inside it, so a link to #evaluation opens its tab) and switching updates
// it, so reload and back keep the tab. Without JavaScript every panel shows.
"use strict";

(() => {
  const list = document.querySelector('[role="tablist"]');
  if (!list) return;
  const tabs = [...list.querySelectorAll('[role="tab"]')];
  const panelOf = (tab) => document.getElementById(tab.getAttribute("aria-controls"));

  function show(tab) {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
      panelOf(t).hidden = !selected;
    }
    // Charts drawn while their panel was hidden have no width yet: Plotly measures again.
    window.dispatchEvent(new Event("resize"));
  }

  function fromHash() {
    const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    return tabs.find((t) => target && panelOf(t).contains(target)) || tabs[0];
  }

  list.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (!tab) return;
    show(tab);
    history.replaceState(null, "", `#${panelOf(tab).id}`);
  });
  list.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(tabs.indexOf(document.activeElement) + step + tabs.length) % tabs.length];
    next.focus();
    next.click();
  });
  window.addEventListener("hashchange", () => show(fromHash()));
  list.hidden = false;
  show(fromHash());
})();
