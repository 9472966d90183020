// The creator's studio pages: the portfolio's live preview and the review link's Copy button.
// Both are enhancements: without this file the preview shows what is saved and the link's
// input can be selected and copied by hand. User text is only ever set as textContent.
"use strict";

function previewPortfolio(form) {
  const value = (name) => {
    const input = form.elements.namedItem(name);
    return input && "value" in input ? input.value.trim() : "";
  };
  const update = () => {
    for (const element of document.querySelectorAll("[data-preview]")) {
      element.textContent = value(element.dataset.preview) || element.dataset.empty || "";
    }
    for (const list of document.querySelectorAll("[data-preview-list]")) {
      const items = value(list.dataset.previewList)
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean)
        .map((text) => {
          const item = document.createElement("li");
          item.textContent = text;
          return item;
        });
      list.replaceChildren(...items);
    }
    const budget = document.querySelector("[data-preview-budget]");
    if (budget) {
      const low = value("budget_min");
      const high = value("budget_max");
      const currency = value("budget_currency").toUpperCase();
      let text = "not stated";
      if (low && high) text = `${currency} ${low} – ${high}`;
      else if (low) text = `${currency} from ${low}`;
      else if (high) text = `${currency} up to ${high}`;
      budget.textContent = text;
    }
  };
  form.addEventListener("input", update);
}

function copyButtons() {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const input = document.getElementById(button.dataset.copy);
    const status = document.getElementById(`${button.dataset.copy}-status`);
    if (!input) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(input.value);
        if (status) status.textContent = "Copied.";
      } catch {
        input.select();
        if (status) status.textContent = "Press Ctrl+C (or ⌘C) to copy the selected link.";
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-preview-form]");
  if (form) previewPortfolio(form);
  copyButtons();
});
