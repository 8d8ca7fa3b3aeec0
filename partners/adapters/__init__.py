"""Native partner formats mapped onto odr's partner messages (partners.inbound): one small
module per partner format. See README.md, "Escrow and partners", "Native formats"."""
