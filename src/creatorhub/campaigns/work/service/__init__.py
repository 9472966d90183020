"""Consultant and seller workflows (issue 15): `applications` (apply, negotiate, select) and
`deliverables` (propose, agree and hold, submit, approve and pay, dispute, cancel), with the
reads of both in `reads`."""
