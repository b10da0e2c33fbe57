// Live preview of the checkout branding form: copies the name, logo and accent colour into
// the preview as they are typed (the server renders the same preview without JavaScript).
(function () {
  "use strict";
  var form = document.getElementById("branding-form");
  var preview = document.getElementById("branding-preview");
  if (!form || !preview) { return; }
  var name = document.getElementById("preview-name");
  var logo = document.getElementById("preview-logo");
  var button = document.getElementById("preview-button");
  var hex = /^#[0-9A-Fa-f]{6}$/;

  function textColor(background) {
    // WCAG 2 relative luminance, as apps/backoffice/portal/settings.py and the checkout do.
    var channels = [1, 3, 5].map(function (i) {
      var c = parseInt(background.slice(i, i + 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? "#FFFFFF" : "#000000";
  }

  function update() {
    var fields = form.querySelectorAll("[data-preview]");
    fields.forEach(function (field) {
      var value = field.value.trim();
      if (field.dataset.preview === "name") {
        name.textContent = value;
      } else if (field.dataset.preview === "logo") {
        var usable = value.indexOf("https://") === 0;
        logo.hidden = !usable;
        if (usable) { logo.src = value; } else { logo.removeAttribute("src"); }
      } else if (field.dataset.preview === "accent" && hex.test(value)) {
        preview.style.borderTopColor = value;
        button.style.background = value;
        button.style.color = textColor(value);
      }
    });
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
})();
