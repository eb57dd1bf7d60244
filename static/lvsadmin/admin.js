// lvsadmin: one fix to the Django admin's own script (templates/admin/base_site.html loads this).
// The two-pane picker (users' groups and permissions, groups' permissions) that the admin's
// SelectFilter2.js builds names its search box with a <span aria-label> icon, and a span has no
// role that may carry a name (axe's aria-prohibited-attr, serious): the icon becomes an image
// with that name. SelectFilter2.js builds the picker in its window "load" listener, added while
// the page was parsed; this deferred file adds its own after, so it runs after the picker exists.
window.addEventListener("load", () => {
  for (const icon of document.querySelectorAll(".search-label-icon[aria-label]:not([role])")) {
    icon.setAttribute("role", "img");
  }
});
