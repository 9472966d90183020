// creatorhub's own few lines of script; every page works without them (progressive
// enhancement). Served from the app: the pages' CSP allows scripts from here only.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // After a failed form, the first field at fault takes the focus.
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
  // On a phone the navigation is one row that scrolls sideways: show where we are in it.
  // (The row scrolls, never the page: a focused field keeps its place.)
  const current = document.querySelector(".main-nav [aria-current=page]");
  const row = current && current.closest("ul");
  if (row && row.scrollWidth > row.clientWidth) {
    row.scrollLeft = Math.max(0, current.offsetLeft - row.offsetLeft - 16);
  }
});
