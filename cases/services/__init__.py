"""Every write to cases and their records goes through these functions."""

from cases.services.deadlines import (
    deadline_extension_decide,
    deadline_extension_request,
    deadline_reminders_send,
    deadlines_sweep,
)
from cases.services.filing import case_file, evidence_add, timeline_record
from cases.services.records import (
    LineData,
    buyer_upsert,
    order_upsert,
    payment_upsert,
    seller_upsert,
    shipment_event_record,
)
from cases.services.workflow import (
    case_accept_claim,
    case_accept_offer,
    case_accept_settlement,
    case_appeal,
    case_assign,
    case_close_if_settled,
    case_confirm_return,
    case_contest,
    case_counter_offer,
    case_deadline_pass,
    case_decide,
    case_dispute_return,
    case_escalate,
    case_offer,
    case_overturn,
    case_propose_settlement,
    case_return_delivered,
    case_return_ship,
    case_uphold,
    case_withdraw,
)

__all__ = [
    "LineData", "buyer_upsert", "case_accept_claim", "case_accept_offer", "case_accept_settlement",
    "case_appeal", "case_assign", "case_close_if_settled", "case_confirm_return", "case_contest",
    "case_counter_offer", "case_deadline_pass", "case_decide", "case_dispute_return",
    "case_escalate", "case_file", "case_offer", "case_overturn", "case_propose_settlement",
    "case_return_delivered", "case_return_ship", "case_uphold", "case_withdraw",
    "deadline_extension_decide", "deadline_extension_request", "deadline_reminders_send",
    "deadlines_sweep", "evidence_add", "order_upsert", "payment_upsert", "seller_upsert",
    "shipment_event_record", "timeline_record",
]
