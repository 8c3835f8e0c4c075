// The search-space editor: one row per parameter (type, low, high, log, choices), written
// into the search_space box as the same JSON the API takes. The box stays the truth: the
// rows are read from it on load and whenever it is edited by hand, and a space the rows
// cannot show (conditions nested inside a family) is left to the box alone.
"use strict";

const TYPES = ["float", "int", "categorical", "fixed"];
const COLUMNS = ["family", "name", "type", "low", "high", "log", "choices"];

// "rbf, linear" -> ["rbf", "linear"]; "1, 2.5, true" -> [1, 2.5, true]
function scalar(text) {
  const trimmed = text.trim();
  try {
    const value = JSON.parse(trimmed);
    if (value === null || ["number", "boolean", "string"].includes(typeof value)) {
      return value;
    }
  } catch (err) {
    // not JSON: the text itself
  }
  return trimmed;
}

function number(text) {
  const value = Number(text);
  return text.trim() !== "" && Number.isFinite(value) ? value : text; // the server names it
}

function specOf(row) {
  const type = row.type;
  if (type === "float" || type === "int") {
    return { type, low: number(row.low), high: number(row.high), log: row.log };
  }
  if (type === "fixed") {
    return { type, value: scalar(row.choices) };
  }
  return { type, choices: row.choices.split(",").filter((c) => c.trim() !== "").map(scalar) };
}

function rowOf(name, spec, family) {
  const list = spec.type === "fixed" ? [spec.value] : spec.choices || [];
  return {
    family: family || "",
    name,
    type: spec.type,
    low: spec.low === undefined ? "" : String(spec.low),
    high: spec.high === undefined ? "" : String(spec.high),
    log: Boolean(spec.log),
    choices: list.map((c) => (typeof c === "string" ? c : JSON.stringify(c))).join(", "),
  };
}

// The rows a space stands for, or null when rows cannot show it.
function rowsOf(space, auto) {
  const flat = (sub, family) => {
    const rows = [];
    for (const [name, spec] of Object.entries(sub || {})) {
      const nested = spec && spec.conditional && Object.keys(spec.conditional).length;
      if (!spec || !TYPES.includes(spec.type) || nested || spec.step) {
        return null;
      }
      rows.push(rowOf(name, spec, family));
    }
    return rows;
  };
  if (!auto) {
    return flat(space, "");
  }
  const keys = Object.keys(space);
  if (keys.length === 0) {
    return [];
  }
  if (keys.length !== 1 || keys[0] !== "model") {
    return null;
  }
  const rows = [];
  for (const [family, sub] of Object.entries(space.model.conditional || {})) {
    const some = flat(sub, family);
    if (some === null) {
      return null;
    }
    rows.push(...some);
  }
  return rows;
}

function spaceOf(rows, auto, families) {
  const space = {};
  const named = rows.filter((row) => row.name.trim() !== "");
  if (!auto) {
    for (const row of named) {
      space[row.name.trim()] = specOf(row);
    }
    return space;
  }
  if (named.length === 0) {
    return space;
  }
  const conditional = {};
  for (const row of named) {
    const family = row.family || families[0];
    conditional[family] = conditional[family] || {};
    conditional[family][row.name.trim()] = specOf(row);
  }
  // Every family of the task stays in the search; those without rows search their default.
  return { model: { type: "categorical", choices: families, conditional } };
}

function cell(tag, attrs) {
  const element = document.createElement(tag);
  Object.assign(element, attrs);
  return element;
}

function setUp(box) {
  const form = box.form;
  const model = form.querySelector('select[name="model"]');
  const defaults = JSON.parse(document.getElementById("space-defaults").textContent);
  const editor = cell("div", { className: "space-editor" });
  const table = cell("table", { className: "space-rows" });
  const note = cell("div", { className: "hint", hidden: true });
  note.setAttribute("aria-live", "polite");
  const add = cell("button", { type: "button", textContent: "Add a parameter" });
  const fill = cell("button", { type: "button", textContent: "Fill in the model's defaults" });
  const caption = cell("caption", { textContent: "Search space, one row per parameter" });
  table.append(caption, cell("thead"), cell("tbody"));
  const head = table.tHead.insertRow();
  for (const column of [...COLUMNS, ""]) {
    const th = cell("th", { textContent: column, scope: "col" });
    th.dataset.column = column;
    head.append(th);
  }
  const buttons = cell("div", { className: "actions" });
  buttons.append(add, fill);
  editor.append(table, buttons, note);
  box.before(editor);

  const isAuto = () => model.value === "auto";
  const families = () =>
    Array.from(model.options)
      .filter((o) => o.value !== "auto" && !o.disabled)
      .map((o) => o.value);
  const task = () => {
    const dataset = form.querySelector('select[name="dataset"]').selectedOptions[0];
    const chosen = form.querySelector('select[name="task"]');
    return (chosen && chosen.value) || (dataset ? dataset.dataset.task : "");
  };

  const readRows = () =>
    Array.from(table.tBodies[0].rows).map((tr) => {
      const row = {};
      for (const column of COLUMNS) {
        const input = tr.querySelector(`:is(input, select)[data-column="${column}"]`);
        row[column] = input.type === "checkbox" ? input.checked : input.value;
      }
      return row;
    });

  const write = () => {
    const space = spaceOf(readRows(), isAuto(), families());
    box.value = Object.keys(space).length ? JSON.stringify(space, null, 2) : "";
  };

  const addRow = (row) => {
    const tr = table.tBodies[0].insertRow();
    const n = table.tBodies[0].rows.length;
    for (const column of COLUMNS) {
      let input;
      if (column === "type" || column === "family") {
        input = cell("select");
        const options = column === "type" ? TYPES : families();
        for (const value of options) {
          input.append(cell("option", { value, textContent: value }));
        }
      } else if (column === "log") {
        input = cell("input", { type: "checkbox" });
      } else {
        input = cell("input", { type: "text", size: column === "choices" ? 16 : 8 });
      }
      input.dataset.column = column;
      input.setAttribute("aria-label", `Parameter ${n}: ${column}`);
      if (column === "log") {
        input.checked = Boolean(row.log);
      } else {
        input.value = row[column] || (column === "type" ? "float" : "");
      }
      input.addEventListener("input", write);
      input.addEventListener("change", write);
      const td = tr.insertCell();
      td.dataset.column = column;
      td.append(input);
    }
    const remove = cell("button", { type: "button", textContent: "Remove" });
    remove.setAttribute("aria-label", `Remove parameter ${n}`);
    remove.addEventListener("click", () => {
      tr.remove();
      write();
    });
    tr.insertCell().append(remove);
  };

  const show = (rows) => {
    table.tBodies[0].replaceChildren();
    for (const row of rows) {
      addRow(row);
    }
    editor.classList.toggle("auto", isAuto());
  };

  const read = () => {
    let space = {};
    try {
      space = box.value.trim() ? JSON.parse(box.value) : {};
    } catch (err) {
      space = null;
    }
    const rows = space && typeof space === "object" ? rowsOf(space, isAuto()) : null;
    table.hidden = rows === null;
    add.disabled = fill.disabled = rows === null;
    note.hidden = rows !== null;
    note.textContent = "This space is more than rows can show (nested conditions, steps or " +
      "JSON to fix): edit it in the box below.";
    if (rows !== null) {
      show(rows);
    }
  };

  add.addEventListener("click", () => addRow({ family: families()[0] }));
  fill.addEventListener("click", () => {
    const spaces = defaults[task()] || {};
    const names = isAuto() ? families() : [model.value];
    const rows = [];
    for (const family of names) {
      const some = rowsOf(spaces[family] || {}, false) || [];
      rows.push(...some.map((row) => ({ ...row, family })));
    }
    show(rows);
    write();
  });
  box.addEventListener("change", read);
  model.addEventListener("change", () => {
    // A family's parameters do not carry over to another: start the rows again.
    if (box.value.trim()) {
      box.value = "";
    }
    read();
  });
  read();
}

const box = document.querySelector("textarea[name='search_space']");
if (box && document.getElementById("space-defaults")) {
  setUp(box);
}
