// creatorhub's own few lines of script; every page works without them (progressive
// enhancement). Served from the app: the pages' CSP allows scripts from here only.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // After a failed form, the first field at fault takes the focus.
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
});
