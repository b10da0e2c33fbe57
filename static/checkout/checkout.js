/* PaymentHub hosted checkout. No framework, no third-party code.
 * The card fields have no name: this script sends them straight to the vault's
 * POST /v1/tokens with the merchant's publishable key and submits only the token. */
(function () {
  "use strict";

  // Mirrors apps/tokenization/brands.py (the server checks again).
  var BRANDS = [
    ["visa", 4, 4, [13, 16, 19], 3],
    ["mastercard", 51, 55, [16], 3],
    ["mastercard", 2221, 2720, [16], 3],
    ["amex", 34, 34, [15], 4],
    ["amex", 37, 37, [15], 4],
    ["discover", 6011, 6011, [16, 17, 18, 19], 3],
    ["discover", 644, 649, [16, 17, 18, 19], 3],
    ["discover", 65, 65, [16, 17, 18, 19], 3],
    ["jcb", 3528, 3589, [16, 17, 18, 19], 3],
    ["diners", 300, 305, [14, 15, 16, 17, 18, 19], 3],
    ["diners", 36, 36, [14, 15, 16, 17, 18, 19], 3],
    ["diners", 38, 39, [14, 15, 16, 17, 18, 19], 3],
    ["unionpay", 62, 62, [16, 17, 18, 19], 3],
    ["maestro", 50, 50, [13, 14, 15, 16, 17, 18, 19], 3],
    ["maestro", 56, 58, [13, 14, 15, 16, 17, 18, 19], 3],
    ["maestro", 67, 67, [13, 14, 15, 16, 17, 18, 19], 3]
  ].sort(function (a, b) { return String(b[1]).length - String(a[1]).length; });

  function digitsOf(value) { return value.replace(/\D/g, ""); }

  function detectBrand(digits) {
    for (var i = 0; i < BRANDS.length; i++) {
      var rule = BRANDS[i], width = String(rule[1]).length;
      if (digits.length >= width) {
        var prefix = parseInt(digits.slice(0, width), 10);
        if (prefix >= rule[1] && prefix <= rule[2]) {
          return { name: rule[0], lengths: rule[3], cvc: rule[4] };
        }
      }
    }
    return { name: "", lengths: [13, 14, 15, 16, 17, 18, 19], cvc: 0 };
  }

  function passesLuhn(digits) {
    var sum = 0, double = false;
    for (var i = digits.length - 1; i >= 0; i--) {
      var d = digits.charCodeAt(i) - 48;
      if (double) { d *= 2; if (d > 9) { d -= 9; } }
      sum += d; double = !double;
    }
    return digits.length > 0 && sum % 10 === 0;
  }

  function formatNumber(digits, brand) {
    var groups = brand === "amex" ? [4, 6, 5] : [4, 4, 4, 4, 3];
    var out = [], at = 0;
    for (var i = 0; i < groups.length && at < digits.length; i++) {
      out.push(digits.slice(at, at + groups[i])); at += groups[i];
    }
    return out.join(" ");
  }

  function parseExpiry(value, today) {
    var d = digitsOf(value);
    if (d.length !== 4 && d.length !== 6) { return { error: "expiry" }; }
    var month = parseInt(d.slice(0, 2), 10);
    var year = parseInt(d.slice(2), 10);
    if (year < 100) { year += 2000; }
    if (month < 1 || month > 12 || year > today.getFullYear() + 50) { return { error: "expiry" }; }
    if (year < today.getFullYear() ||
        (year === today.getFullYear() && month < today.getMonth() + 1)) {
      return { error: "expired" };
    }
    return { month: month, year: year };
  }

  function setError(form, input, message) {
    var target = document.getElementById(input.id + "-error");
    target.textContent = message || "";
    input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function autoRedirect() {
    var link = document.querySelector("[data-auto-redirect]");
    if (link) {
      window.setTimeout(function () { window.location.assign(link.href); },
        parseInt(link.getAttribute("data-auto-redirect"), 10));
    }
  }

  function singleSubmitForms() {
    var forms = document.querySelectorAll("form[data-single-submit]");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-submitted")) { event.preventDefault(); return; }
        form.setAttribute("data-submitted", "1");
        // the pressed button's value is already in this submission; stop further clicks
        window.setTimeout(function () {
          Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) {
            b.disabled = true;
          });
        }, 0);
      });
    });
  }

  function cardForm() {
    var form = document.getElementById("card-form");
    if (!form) { return; }
    var number = document.getElementById("card-number");
    var expiry = document.getElementById("card-expiry");
    var cvc = document.getElementById("card-cvc");
    var name = document.getElementById("card-name");
    var brandLabel = document.getElementById("card-brand");
    var button = document.getElementById("pay-button");
    var formError = document.getElementById("form-error");
    var msg = function (key) { return form.getAttribute("data-msg-" + key); };
    var busy = false;

    number.addEventListener("input", function () {
      var digits = digitsOf(number.value).slice(0, 19);
      var brand = detectBrand(digits);
      number.value = formatNumber(digits, brand.name);
      brandLabel.textContent = brand.name;
    });
    expiry.addEventListener("input", function () {
      var d = digitsOf(expiry.value).slice(0, 4);
      expiry.value = d.length > 2 ? d.slice(0, 2) + " / " + d.slice(2) : d;
    });
    cvc.addEventListener("input", function () { cvc.value = digitsOf(cvc.value).slice(0, 4); });

    function validate() {
      var ok = true, first = null;
      var digits = digitsOf(number.value);
      var brand = detectBrand(digits);
      var numberOk = brand.lengths.indexOf(digits.length) >= 0 && passesLuhn(digits);
      setError(form, number, numberOk ? "" : msg("number"));
      if (!numberOk) { ok = false; first = first || number; }
      var exp = parseExpiry(expiry.value, new Date());
      setError(form, expiry, exp.error ? msg(exp.error) : "");
      if (exp.error) { ok = false; first = first || expiry; }
      var cvcLengths = brand.cvc ? [brand.cvc] : [3, 4];
      var cvcOk = cvcLengths.indexOf(cvc.value.length) >= 0;
      setError(form, cvc, cvcOk ? "" : msg("cvc"));
      if (!cvcOk) { ok = false; first = first || cvc; }
      var nameOk = !/\d/.test(name.value);
      setError(form, name, nameOk ? "" : msg("name"));
      if (!nameOk) { ok = false; first = first || name; }
      if (first) { first.focus(); }
      return ok ? { digits: digits, exp: exp } : null;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      formError.textContent = "";
      var card = validate();
      if (!card) { return; }
      busy = true;
      button.disabled = true;
      var label = button.textContent;
      button.textContent = msg("processing");
      var body = { card: { number: card.digits, exp_month: String(card.exp.month),
        exp_year: String(card.exp.year), cvc: cvc.value } };
      if (name.value.trim()) { body.card.name = name.value.trim(); }
      fetch(form.getAttribute("data-tokens-url"), {
        method: "POST",
        credentials: "omit",
        headers: {
          "Authorization": "Bearer " + form.getAttribute("data-publishable-key"),
          "Content-Type": "application/json"
        },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (json) { return { ok: response.ok, json: json }; });
      }).then(function (result) {
        if (!result.ok || !result.json.id) {
          var error = (result.json && result.json.error) || {};
          var field = { number: number, exp_month: expiry, exp_year: expiry, cvc: cvc, name: name }[error.param];
          if (field) { setError(form, field, error.message || msg("number")); field.focus(); }
          else { formError.textContent = error.message || msg("network"); }
          busy = false; button.disabled = false; button.textContent = label;
          return;
        }
        // the card fields are cleared: only the token leaves for this server
        number.value = ""; cvc.value = "";
        form.elements.token.value = result.json.id;
        HTMLFormElement.prototype.submit.call(form);
      }).catch(function () {
        formError.textContent = msg("network");
        busy = false; button.disabled = false; button.textContent = label;
      });
    });
  }

  autoRedirect();
  singleSubmitForms();
  cardForm();
})();
