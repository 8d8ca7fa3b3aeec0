from cases.models.activity import Appeal, Decision, Evidence, Offer, TimelineEntry
from cases.models.case import OPEN_STATES, Case, Outcome, Reason, Remedy, State
from cases.models.records import Buyer, Order, OrderLine, Payment, Seller, Shipment, ShipmentEvent

__all__ = [
    "OPEN_STATES", "Appeal", "Buyer", "Case", "Decision", "Evidence", "Offer", "Order",
    "OrderLine", "Outcome", "Payment", "Reason", "Remedy", "Seller", "Shipment", "ShipmentEvent",
    "State", "TimelineEntry",
]
