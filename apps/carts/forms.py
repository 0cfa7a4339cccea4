from django import forms


class AddToCartForm(forms.Form):
    sku = forms.CharField(max_length=64)
    quantity = forms.IntegerField(min_value=1, initial=1)


class LineQuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, help_text="0 removes the item.")


class CouponForm(forms.Form):
    code = forms.CharField(max_length=64, label="Coupon code")
    # Set by the view when a service refuses the code (the template's data-code).
    error_code: str

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().upper()
