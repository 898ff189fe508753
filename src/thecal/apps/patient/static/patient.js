// A press form sends once: after the first submit the button is disabled and says so (the server refuses a second
// use of the same press id anyway; this only spares the patient a confusing second tap).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.hasAttribute("data-once")) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  const button = form.querySelector("button[type=submit]");
  if (button) {
    setTimeout(() => { button.disabled = true; button.textContent = "Sending… keep the device over the pump"; }, 0);
  }
});
