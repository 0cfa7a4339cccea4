// Mount Stripe's card Element and confirm with Stripe.js (which handles
// 3-D Secure): a PaymentIntent on a payment form (checkout, subscribing), a
// SetupIntent on a card form (a subscription's new card). The return page
// reads the outcome back from Stripe, so nothing here is trusted by the
// server; everything else in the shop works without JavaScript.
(function () {
  "use strict";
  if (typeof window.Stripe !== "function") { return; }
  var kinds = [
    { form: "payment-form", button: "pay-button", confirm: "confirmCardPayment",
      failed: "The payment failed." },
    { form: "card-setup-form", button: "card-button", confirm: "confirmCardSetup",
      failed: "The card was not accepted." }
  ];
  kinds.forEach(function (kind) {
    var form = document.getElementById(kind.form);
    if (!form) { return; }
    var stripe = window.Stripe(form.dataset.publishableKey);
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    var errors = document.getElementById("card-errors");
    var button = document.getElementById(kind.button);
    // The change handler may be called without an event (fake Stripe.js).
    card.on("change", function (event) {
      errors.textContent = event && event.error ? event.error.message : "";
    });
    form.addEventListener("submit", function (submit) {
      submit.preventDefault();
      button.disabled = true;
      errors.textContent = "";
      stripe[kind.confirm](form.dataset.clientSecret, {
        payment_method: { card: card, billing_details: { email: form.dataset.email } }
      }).then(function (result) {
        if (result.error) {
          errors.textContent = result.error.message || kind.failed;
          button.disabled = false;
          return;
        }
        window.location.assign(form.dataset.returnUrl);
      });
    });
  });
})();
