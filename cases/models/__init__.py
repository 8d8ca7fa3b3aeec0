from cases.models.activity import Appeal, Decision, Evidence, Offer, PendingEvent, TimelineEntry
from cases.models.case import OPEN_STATES, Case, Outcome, Reason, Remedy, State
from cases.models.deadlines import DeadlineExtension, Reminder
from cases.models.records import Buyer, Order, OrderLine, Payment, Seller, Shipment, ShipmentEvent

__all__ = [
    "OPEN_STATES", "Appeal", "Buyer", "Case", "DeadlineExtension", "Decision", "Evidence", "Offer",
    "Order", "OrderLine", "Outcome", "Payment", "PendingEvent", "Reason", "Remedy", "Reminder",
    "Seller", "Shipment", "ShipmentEvent", "State", "TimelineEntry",
]
