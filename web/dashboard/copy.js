// Copy buttons: `<button data-copy-target="#id" hidden>` copies the value of the field it
// names (a key, a snippet, tool definitions) and says so on the button for a moment. Without
// script the buttons stay hidden; the fields are read-only and can be selected by hand.
// Buttons in parts htmx loads later (the voice setup's tool definitions) are wired when they
// arrive.
(() => {
  "use strict";
  const wire = (button) => {
    if (button.dataset.wired) return;
    const field = document.querySelector(button.dataset.copyTarget);
    if (!field) return;
    button.dataset.wired = "true";
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const text = "value" in field ? field.value : field.textContent;
      let copied = false;
      try {
        await navigator.clipboard.writeText(text);
        copied = true;
      } catch {
        // No clipboard permission (or an insecure origin): select it for Ctrl+C instead.
        field.focus();
        if (field.select) field.select();
      }
      button.dataset.copied = String(copied);
      button.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
      setTimeout(() => {
        button.textContent = label;
      }, 2500);
    });
  };
  const wireIn = (root) => {
    if (root.matches?.("button[data-copy-target]")) wire(root);
    for (const button of root.querySelectorAll("button[data-copy-target]")) wire(button);
  };
  wireIn(document);
  document.addEventListener("htmx:load", (event) => wireIn(event.target));
})();
