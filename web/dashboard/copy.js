// Copy buttons: `<button data-copy-target="#id" hidden>` copies the value of the field it
// names (a key, a snippet, tool definitions) and says so on the button for a moment. Without
// script the buttons stay hidden; the fields are read-only and can be selected by hand.
(() => {
  "use strict";
  for (const button of document.querySelectorAll("button[data-copy-target]")) {
    const field = document.querySelector(button.dataset.copyTarget);
    if (!field) continue;
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
  }
})();
