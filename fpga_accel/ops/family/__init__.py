"""What op files share: the base classes of op families and the attribute rules; no op lives here."""
