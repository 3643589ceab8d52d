// windlass read-only page: the little it does needs no data from the server, and it
// never writes HTML (textContent only).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.filter");
  if (form) {
    // A filter applies as soon as it is picked.
    for (const select of form.querySelectorAll("select")) {
      select.addEventListener("change", () => form.submit());
    }
  }
  const expand = document.getElementById("expand");
  if (expand) {
    expand.addEventListener("click", () => {
      const records = document.querySelectorAll("details.record");
      const open = !Array.from(records).every((d) => d.open);
      for (const d of records) d.open = open;
      expand.textContent = open ? "Collapse all" : "Expand all";
    });
  }
  // #seq-N in the address opens that record.
  const m = /^#seq-(\d+)$/.exec(location.hash);
  if (m) {
    const d = document.querySelector(`details.record[data-seq="${m[1]}"]`);
    if (d) { d.open = true; d.scrollIntoView(); }
  }
});
