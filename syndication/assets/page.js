// The service's HTML pages, enhanced: a filter box over the index page's tags, and copy
// buttons for a feed's addresses. Without this script the pages work as plain lists and
// read-only address fields. Served as a file: the pages' Content-Security-Policy allows no
// inline script.
"use strict";

// How names are compared: case-insensitively, ё as е (as the page sorts them).
function fold(text) {
  return text.toLocaleLowerCase("ru").replace(/ё/g, "е").trim();
}

function setUpFilter() {
  const box = document.querySelector("[data-filter-box]");
  const input = document.getElementById("tag-filter");
  const status = document.getElementById("filter-status");
  if (!box || !input) {
    return;
  }
  const groups = Array.from(document.querySelectorAll("[data-filter-group]"));
  const total = document.querySelectorAll("[data-filter-group] li[data-name]").length;
  function apply() {
    const query = fold(input.value);
    let shown = 0;
    for (const group of groups) {
      let inGroup = 0;
      for (const item of group.querySelectorAll("li[data-name]")) {
        const match = query === "" || item.dataset.name.includes(query);
        item.hidden = !match;
        if (match) {
          inGroup += 1;
        }
      }
      group.hidden = inGroup === 0;
      const count = group.querySelector("[data-filter-count]");
      if (count) {
        count.textContent = String(inGroup);
      }
      shown += inGroup;
    }
    if (status) {
      status.textContent = query === "" ? "" : `Найдено: ${shown} из ${total}`;
    }
  }
  input.addEventListener("input", apply);
  box.hidden = false;
  apply();
}

async function copy(button) {
  const text = button.dataset.copy;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (an insecure origin): select the field, as a person would.
    const field = document.getElementById(button.dataset.field);
    if (field) {
      field.focus();
      field.select();
    }
    button.textContent = "Выделено: нажмите Ctrl+C";
    return;
  }
  button.textContent = "Скопировано";
}

function setUpCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => copy(button));
    button.hidden = false;
  }
}

setUpFilter();
setUpCopyButtons();
