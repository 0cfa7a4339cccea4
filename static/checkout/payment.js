// Mount Stripe's card Element and confirm with confirmCardPayment (handles
// 3-D Secure). Everything else on the checkout works without JavaScript.
(function () {
  "use strict";
  var form = document.getElementById("payment-form");
  if (!form || typeof window.Stripe !== "function") { return; }
  var stripe = window.Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-button");
  // The change handler may be called without an event (fake Stripe.js).
  card.on("change", function (event) {
    errors.textContent = event && event.error ? event.error.message : "";
  });
  form.addEventListener("submit", function (submit) {
    submit.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    stripe.confirmCardPayment(form.dataset.clientSecret, {
      payment_method: { card: card, billing_details: { email: form.dataset.email } }
    }).then(function (result) {
      if (result.error) {
        errors.textContent = result.error.message || "The payment failed.";
        button.disabled = false;
        return;
      }
      window.location.assign(form.dataset.returnUrl);
    });
  });
})();
