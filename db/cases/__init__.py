"""Case handling rules (DESIGN §4.1), by job: the state machine (`states`), clocks (`clocks`), where a ticket
lies and who answers for it (`places`), its timeline (`timeline`), dispatch and assignment (`dispatch`),
the handler's work and what staff write on the timeline (`handling`), transfers (`transfers`), a new
category or urgency (`reclassify`), resolution and rating (`resolution`) and the escalation ladder, by the
clock or by hand (`ladder`).

Every rule changes one ticket inside the caller's transaction, writes its timeline event and returns the
domain events it caused (core/events.py); it names no message and builds no button. Who may act is asked
by the use cases (core/tickets.py) of the permission policy, never taken from button data; the caller
publishes the events and commits.
"""
