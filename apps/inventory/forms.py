from typing import cast

from django import forms


class ProductSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    category = forms.SlugField(required=False, max_length=140)


class BackInStockForm(forms.Form):
    email = forms.EmailField(label="Email")
    sku = forms.ChoiceField(label="Option")

    def __init__(self, *args, variants=(), **kwargs):
        super().__init__(*args, **kwargs)
        sku = cast(forms.ChoiceField, self.fields["sku"])
        sku.choices = [(v.sku, v.display_title or v.sku) for v in variants]
        if len(sku.choices) == 1:
            sku.initial = sku.choices[0][0]
