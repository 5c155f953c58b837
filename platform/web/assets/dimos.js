// Progressive enhancement only: every flow works without JavaScript.
// Upload forms (class dimos-upload) also take a file dropped on them; the
// plain file input stays the real control.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form.dimos-upload");
  Array.prototype.forEach.call(forms, function (form) {
    var input = form.querySelector('input[type="file"]');
    if (!input || typeof DataTransfer === "undefined") return;
    var zone = document.createElement("p");
    zone.className = "govgr-hint dimos-dropzone";
    zone.setAttribute("aria-live", "polite");
    zone.textContent = form.getAttribute("data-drop-text") || "";
    input.insertAdjacentElement("afterend", zone);
    function on(e) { e.preventDefault(); form.classList.add("dimos-drag"); }
    function off(e) { e.preventDefault(); form.classList.remove("dimos-drag"); }
    form.addEventListener("dragenter", on);
    form.addEventListener("dragover", on);
    form.addEventListener("dragleave", off);
    form.addEventListener("drop", function (e) {
      off(e);
      var files = e.dataTransfer && e.dataTransfer.files;
      if (!files || !files.length) return;
      input.files = files;
      zone.textContent = (form.getAttribute("data-chosen-text") || "") + " " + files[0].name;
      input.focus();
    });
  });
})();

// A form that comes back with errors: focus its summary, as GOV.UK and
// gov.gr do, so screen readers announce it and the person starts there.
(function () {
  "use strict";
  var summary = document.querySelector(".govgr-error-summary");
  if (summary) summary.focus();
})();
