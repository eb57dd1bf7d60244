// MONITORING SCRIPTS: only the sections of the chosen check are shown (each names the checks it
// serves in data-lvs-kinds). A file of its own: the Content-Security-Policy allows no inline
// script. Without JavaScript every section stays on the page, and the server ignores the
// fields of the checks not chosen.
(() => {
  const kind = document.getElementById("id_kind");
  if (!kind) return;
  const sections = document.querySelectorAll("[data-lvs-kinds]");
  const show = () => {
    for (const section of sections) {
      section.hidden = !section.dataset.lvsKinds.split(" ").includes(kind.value);
    }
  };
  kind.addEventListener("change", show);
  show();
})();
