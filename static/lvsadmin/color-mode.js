// Bootstrap 5.3's colour modes follow the system's light or dark preference
// (prefers-color-scheme), set as data-bs-theme on <html>. Loaded in <head> without defer, so the
// first paint already has the right colours; a file of its own: the Content-Security-Policy
// allows no inline script.
(() => {
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const apply = () => {
    document.documentElement.dataset.bsTheme = dark.matches ? "dark" : "light";
  };
  apply();
  dark.addEventListener("change", apply);
})();
