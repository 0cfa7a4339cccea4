"""Invoice and packing slip as PDF, drawn with fpdf2 (pure Python).

Built from the order's snapshot (lines, prices, addresses copied when it was
placed), never from today's catalogue. The built-in PDF fonts cover Latin-1
only, so text is folded to it; the euro sign is spelled out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.core.money import Money

if TYPE_CHECKING:
    from fpdf import FPDF

    from apps.checkout.models import Order

_FOLD = str.maketrans({"€": "EUR ", "—": "-", "–": "-", "−": "-", "×": "x"})
_SHOP = "Shop"


def _text(value: object) -> str:
    folded = str(value).translate(_FOLD)
    return folded.encode("latin-1", "replace").decode("latin-1")


def _money(order: Order, amount_minor: int) -> str:
    return _text(Money(int(amount_minor), order.currency).format())


def _address_lines(address: dict | None) -> list[str]:
    if not address:
        return ["-"]
    parts = [
        address.get("name"),
        address.get("line1"),
        address.get("line2"),
        " ".join(p for p in (address.get("city"), address.get("region")) if p),
        " ".join(p for p in (address.get("postal_code"), address.get("country")) if p),
    ]
    return [_text(p) for p in parts if p]


def _document(title: str, order: Order) -> FPDF:
    # Imported here: the admin imports this module at every start (each test
    # process, worker and server), and fpdf costs a third of a CPU-second.
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(_text(f"{title} {order.number}"))
    pdf.set_creator(_SHOP)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(
        0, 10, _text(f"{title} - order {order.number}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("Helvetica", size=10)
    placed = order.paid_at or order.created_at
    pdf.cell(0, 6, _text(f"Date: {placed:%Y-%m-%d}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, _text(f"Customer: {order.email}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    return pdf


def _addresses(pdf: FPDF, blocks: list[tuple[str, dict | None]]) -> None:
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(blocks)
    top = pdf.get_y()
    bottom = top
    for index, (heading, address) in enumerate(blocks):
        pdf.set_xy(pdf.l_margin + index * width, top)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(width, 6, heading)
        pdf.set_font("Helvetica", size=10)
        for line in _address_lines(address):
            pdf.set_xy(pdf.l_margin + index * width, pdf.get_y() + 5)
            pdf.cell(width, 5, line)
        bottom = max(bottom, pdf.get_y() + 5)
    pdf.set_xy(pdf.l_margin, bottom + 4)


def invoice_pdf(*, order: Order) -> bytes:
    """Return the order's invoice: lines, discounts, shipping, tax, total, refunds."""
    pdf = _document("Invoice", order)
    _addresses(
        pdf,
        [
            ("Bill to", order.billing_address or order.shipping_address),
            ("Ship to", order.shipping_address),
        ],
    )
    with pdf.table(
        col_widths=(30, 70, 15, 30, 30),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
    ) as table:
        table.row(["SKU", "Item", "Qty", "Unit price", "Total"])
        for line in order.lines.all():
            table.row(
                [
                    _text(line.sku),
                    _text(line.title),
                    str(line.quantity),
                    _money(order, line.unit_price_minor),
                    _money(order, line.total_minor),
                ]
            )
    pdf.ln(4)
    totals = [
        ("Subtotal", order.subtotal_minor),
        ("Discount", -order.discount_minor),
        ("Shipping", order.shipping_minor - order.shipping_discount_minor),
        ("Tax" + (" (included)" if order.prices_include_tax else ""), order.tax_minor),
        ("Total", order.total_minor),
    ]
    if order.refunded_minor:
        totals.append(("Refunded", -order.refunded_minor))
    for label, amount in totals:
        if label == "Discount" and not amount:
            continue
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 10)
        sign = "-" if amount < 0 else ""
        pdf.cell(145, 6, label, align="R")
        pdf.cell(
            30,
            6,
            sign + _money(order, abs(amount)),
            align="R",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())


def packing_slip_pdf(*, order: Order) -> bytes:
    """Return the packing slip: where to, and the units to pack (no prices)."""
    pdf = _document("Packing slip", order)
    _addresses(pdf, [("Ship to", order.shipping_address)])
    if order.shipping_method_name:
        pdf.cell(
            0,
            6,
            _text(f"Delivery: {order.shipping_method_name}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.ln(2)
    with pdf.table(
        col_widths=(40, 110, 25), text_align=("LEFT", "LEFT", "RIGHT")
    ) as table:
        table.row(["SKU", "Item", "Qty"])
        for line in order.lines.all():
            units = line.quantity - line.refunded_quantity
            if units > 0:
                table.row([_text(line.sku), _text(line.title), str(units)])
    return bytes(pdf.output())
