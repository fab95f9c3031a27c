// Tables that read on a phone: every cell of a table with a header row gets its column's name as data-label, and
// the table the class "stack"; below 40rem the stylesheet then shows each row as a card of labelled cells.
// Rows that arrive later (htmx swaps, live pushes) are labelled as they come.
(function () {
  "use strict";

  function headers(table) {
    const row = table.tHead && table.tHead.rows[0];
    if (!row) return null;
    const names = [];
    for (const cell of row.cells) {
      for (let i = 0; i < (cell.colSpan || 1); i++) names.push(cell.textContent.trim());
    }
    return names;
  }

  function label(table) {
    const names = headers(table);
    if (!names) return;
    table.classList.add("stack");
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let column = 0;
        for (const cell of row.cells) {
          const name = names[column];
          if (name && cell.colSpan === 1 && cell.dataset.label !== name) cell.dataset.label = name;
          column += cell.colSpan || 1;
        }
      }
    }
  }

  function labelWithin(root) {
    if (root.nodeType !== Node.ELEMENT_NODE) return;
    const table = root.closest("table");
    if (table) label(table);
    root.querySelectorAll("table").forEach(label);
  }

  let pending = new Set();
  let scheduled = false;
  const observer = new MutationObserver((mutations) => {
    for (const mutation of mutations) mutation.addedNodes.forEach((node) => pending.add(node));
    if (!scheduled && pending.size) {
      scheduled = true;
      requestAnimationFrame(() => {  // once per frame, however many rows a swap brought
        const nodes = pending;
        pending = new Set();
        scheduled = false;
        nodes.forEach(labelWithin);
      });
    }
  });

  function start() {
    labelWithin(document.body);
    observer.observe(document.body, {childList: true, subtree: true});
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
