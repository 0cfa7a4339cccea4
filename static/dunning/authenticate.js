// Complete the bank's 3-D Secure step for an invoice's waiting PaymentIntent
// (its card is already set), then post the form so the shop reads the result.
(function () {
  "use strict";
  var form = document.getElementById("authenticate-form");
  if (!form || typeof window.Stripe !== "function") { return; }
  var stripe = window.Stripe(form.dataset.publishableKey);
  var errors = document.getElementById("authenticate-errors");
  var button = document.getElementById("authenticate-button");
  var confirmed = false;
  form.addEventListener("submit", function (submit) {
    if (confirmed) { return; }
    submit.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    stripe.confirmCardPayment(form.dataset.clientSecret).then(function (result) {
      if (result.error) {
        errors.textContent = result.error.message || "The bank did not confirm.";
        button.disabled = false;
        return;
      }
      confirmed = true;
      form.submit();
    });
  });
})();
