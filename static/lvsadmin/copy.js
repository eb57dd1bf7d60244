// Copy buttons: <button data-copy-target="ID"> copies the text of the element with that id.
// A file of its own (no inline script): the Content-Security-Policy allows only 'self'.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source || !navigator.clipboard) {
    button.textContent = button.dataset.copyFailed || "Select the text and copy it";
    return;
  }
  navigator.clipboard.writeText(source.textContent).then(
    () => { button.textContent = button.dataset.copyDone || "Copied"; },
    () => { button.textContent = button.dataset.copyFailed || "Select the text and copy it"; },
  );
});
