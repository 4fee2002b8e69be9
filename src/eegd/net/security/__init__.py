"""Security: who may connect and change what: tokens, sign-in sessions, roles, Host and Origin
rules, rate and change limits, the audit trail."""
