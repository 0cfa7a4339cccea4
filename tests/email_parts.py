"""Read both parts of a sent email, for the tests of every transactional email."""

from django.core import mail


def email_parts(message) -> tuple[str, str]:
    """The text body and the HTML alternative of one sent email."""
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    return message.body, html


def assert_base(text: str, html: str) -> None:
    """Both parts come from the shared base: a full document and a footer."""
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "/pages/contact/" in html
    assert "/pages/contact/" in text
    assert "<" not in text.replace("<!", "")  # no markup leaks into the text part
    assert "&amp;" not in text  # nor HTML escaping


def sent_to(recipient: str, subject_part: str):
    """The one sent email to ``recipient`` whose subject contains ``subject_part``."""
    (message,) = [
        m for m in mail.outbox if m.to == [recipient] and subject_part in m.subject
    ]
    assert "&amp;" not in message.subject  # a header is plain text
    return message


def both_parts(recipient: str, subject_part: str) -> tuple[str, str]:
    """Both parts of the one email sent, checked against the shared base."""
    text, html = email_parts(sent_to(recipient, subject_part))
    assert_base(text, html)
    return text, html
