// The working hours form: "Copy <day> to weekdays" fills Monday to Friday with that day's
// ranges (an empty day closes them all). Nothing is saved until the form is sent. Without
// script the buttons stay hidden and every day is typed in by hand.
(() => {
  "use strict";
  const weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"];
  const form = document.getElementById("hours");
  if (!form) return;
  const status = document.createElement("p");
  status.className = "notice";
  status.setAttribute("role", "status");
  status.hidden = true;
  form.prepend(status);
  for (const button of form.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => {
      const from = button.dataset.copy;
      const fields = [...form.querySelectorAll(`input[name^="${from}_"]`)];
      for (const day of weekdays.filter((d) => d !== from)) {
        for (const field of fields) {
          const target = form.elements.namedItem(field.name.replace(`${from}_`, `${day}_`));
          if (target) target.value = field.value;
        }
      }
      const name = from.charAt(0).toUpperCase() + from.slice(1);
      status.textContent = `${name}'s hours are copied to every weekday. Press "Save working hours" to keep them.`;
      status.hidden = false;
    });
  }
})();
