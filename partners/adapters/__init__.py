"""Native partner formats mapped onto odr's partner messages (partners.inbound): one small
module per partner format. See docs/escrow.md, "Native formats"."""
