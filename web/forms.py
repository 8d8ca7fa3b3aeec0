"""Forms of the web centre. They check shape and bounds in the user's language; services decide
everything else, and their `DomainError.fields` are attached back to these fields."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from cases import roles
from cases.errors import DomainError
from cases.models import Case, Order, Outcome, Reason, Remedy
from partners.models import Partner
from web.labels import domain_error_message, service_message

DECISION_OUTCOMES = [Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND, Outcome.REPLACEMENT,
                     Outcome.SELLER_FAVOUR]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (photos and a video of the item)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={
            "accept": "image/*,video/*,application/pdf", "multiple": True}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            files = [single(d, initial) for d in data if d]
        else:
            files = [single(data, initial)] if data else []
        limit = settings.ODR_EVIDENCE_MAX_BYTES
        for upload in files:
            if upload.size > limit:
                raise forms.ValidationError(
                    _("“%(name)s” is too large; at most %(max)d MB per file.")
                    % {"name": upload.name, "max": limit // (1024 * 1024)})
        if len(files) > 10:
            raise forms.ValidationError(_("At most 10 files at a time."))
        return files


class DomainErrorFormMixin:
    """Attach a service's field messages to the form's fields, translated."""

    def add_domain_error(self, error: DomainError) -> None:
        placed = False
        for field, messages in (error.fields or {}).items():
            target = {"evidence_ids": "files", "remedy": "remedy"}.get(field, field)
            if target not in self.fields:
                target = None
            for message in messages:
                self.add_error(target, service_message(message))
                placed = True
        if not placed:
            self.add_error(None, domain_error_message(error.code, error.message))


class BaseForm(DomainErrorFormMixin, forms.Form):
    pass


class FileComplaintForm(BaseForm):
    """The buyer's complaint: which order, what went wrong, what they want, how much, proof."""

    order = forms.ModelChoiceField(queryset=Order.objects.none(), label=_("Order"),
                                   widget=forms.RadioSelect, empty_label=None,
                                   error_messages={"required": _("Choose the order.")})
    reason = forms.ChoiceField(choices=Reason.choices, label=_("What went wrong?"),
                               widget=forms.RadioSelect)
    desired_outcome = forms.ChoiceField(choices=Remedy.choices, label=_("What would you like?"),
                                        widget=forms.RadioSelect)
    claimed_amount = forms.IntegerField(
        label=_("Amount you claim (₫)"), min_value=1, max_value=10**13,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 1}),
        error_messages={"min_value": _("The amount must be greater than 0."),
                        "invalid": _("Enter the amount in đồng, digits only.")})
    description = forms.CharField(
        label=_("Describe the problem"), max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What you received, when, and what is wrong. Be specific: it helps the seller "
                    "and the mediator."))
    files = MultipleFileField(label=_("Photos, video or documents"),
                              help_text=_("JPEG, PNG, WebP, GIF, PDF, MP4, MOV or WebM; up to 20 MB "
                                          "each."))

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["order"].queryset = (
            Order.objects.filter(buyer__user=user).select_related("marketplace", "seller")
            .prefetch_related("payments", "lines").order_by("-placed_at"))
        self.fields["order"].label_from_instance = lambda o: f"{o.external_id} · {o.seller.name}"
        for name in ("claimed_amount",):
            self.fields[name].widget.attrs["autocomplete"] = "off"

    def clean(self) -> dict:
        data = super().clean()
        order, amount = data.get("order"), data.get("claimed_amount")
        if order is not None and amount:
            paid = next(iter(order.payments.all()), None)
            ceiling = (paid.amount - paid.refunded_amount) if paid else order.total
            if amount > ceiling:
                self.add_error("claimed_amount", _("At most what you paid: %(n)s ₫.")
                               % {"n": f"{ceiling:,}".replace(",", ".")})
        if data.get("description") is not None and not data["description"].strip():
            self.add_error("description", _("Please describe the problem."))
        return data


class ReasonForm(BaseForm):
    reason = forms.CharField(label=_("Comment (optional)"), max_length=5000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class RequiredReasonForm(BaseForm):
    reason = forms.CharField(label=_("Why?"), max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": _("Please give a reason.")})


class OfferForm(BaseForm):
    remedy = forms.ChoiceField(choices=Remedy.choices, label=_("Proposal"))
    amount = forms.IntegerField(label=_("Amount (₫)"), min_value=0, required=False,
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    note = forms.CharField(label=_("Message"), max_length=5000, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, case: Case, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.case = case
        self.fields["amount"].widget.attrs["max"] = case.claimed_amount

    def clean(self) -> dict:
        data = super().clean()
        remedy, amount = data.get("remedy"), data.get("amount")
        bad = not amount or amount > self.case.claimed_amount
        if remedy and remedy != Remedy.REPLACEMENT and bad:
            self.add_error("amount", _("Enter an amount from 1 to %(n)s ₫ (the disputed amount).")
                           % {"n": f"{self.case.claimed_amount:,}".replace(",", ".")})
        data["amount"] = data.get("amount") or 0
        return data


class ContestForm(BaseForm):
    reason = forms.CharField(label=_("Why do you reject the claim?"), max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": _("Please give a reason.")})
    files = MultipleFileField(label=_("Your evidence (photos of the packed item, delivery proof…)"))
    evidence_ids = forms.MultipleChoiceField(label=_("Evidence already uploaded"), required=False,
                                             widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, case: Case, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        mine = [e for e in case.evidence.all() if e.uploaded_by_id == user.pk]
        self.fields["evidence_ids"].choices = [(str(e.uid), e.original_name) for e in mine]
        if not mine:
            del self.fields["evidence_ids"]

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("files") and not data.get("evidence_ids"):
            self.add_error("files", _("Contesting needs at least one piece of your own evidence."))
        return data


class ReturnShipForm(BaseForm):
    carrier = forms.ModelChoiceField(queryset=Partner.objects.none(), to_field_name="code",
                                     label=_("Carrier"))
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=64,
                                      error_messages={"required": _("Enter the tracking number.")})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["carrier"].queryset = Partner.objects.filter(kind=Partner.Kind.CARRIER,
                                                                 is_active=True)


class AssignForm(BaseForm):
    mediator = forms.ModelChoiceField(queryset=get_user_model().objects.none(), label=_("Mediator"))
    reason = forms.CharField(label=_("Note (optional)"), max_length=2000, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mediator"].queryset = (
            get_user_model().objects.filter(groups__name=roles.MEDIATORS, is_active=True)
            .order_by("first_name", "username").distinct())
        load = _workloads()
        self.fields["mediator"].label_from_instance = lambda u: _mediator_label(u, load.get(u.pk))


def _workloads() -> dict[int, dict]:
    """Each mediator's load from the mediators app, if it is there (else names only)."""
    try:
        from mediators.selectors import mediator_workload
    except ImportError:
        return {}
    return {row["id"]: row for row in mediator_workload()}


def _mediator_label(user, load: dict | None) -> str:
    name = user.get_full_name() or user.username
    if not load:
        return name
    label = _("%(name)s — %(active)s active of %(capacity)s") % {
        "name": name, "active": load["active_cases"], "capacity": load["capacity"] or "—"}
    return label if load["available"] else f"{label} · {_('away')}"


class DecideForm(BaseForm):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[(o.value, o.label) for o in
                                                             DECISION_OUTCOMES])
    refund_amount = forms.IntegerField(label=_("Refund to the buyer (₫), for a partial refund"),
                                       min_value=0, required=False)
    reasons = forms.CharField(label=_("Reasons"), max_length=10000,
                              widget=forms.Textarea(attrs={"rows": 4}),
                              error_messages={"required": _("A decision must give its reasons.")})

    def __init__(self, *args, case: Case, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.case = case

    def clean(self) -> dict:
        data = super().clean()
        if data.get("outcome") == Outcome.PARTIAL_REFUND:
            amount = data.get("refund_amount")
            if not amount or amount > self.case.claimed_amount:
                self.add_error("refund_amount", _("Enter an amount from 1 to %(n)s ₫ (the disputed "
                                                  "amount).")
                               % {"n": f"{self.case.claimed_amount:,}".replace(",", ".")})
        data["refund_amount"] = data.get("refund_amount") or 0
        return data


class AppealForm(BaseForm):
    grounds = forms.CharField(label=_("Grounds of appeal"), max_length=10000,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              error_messages={"required": _("Please state your grounds.")})


class ReviewForm(BaseForm):
    reasons = forms.CharField(label=_("Reasons"), max_length=10000,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              error_messages={"required": _("Please give a reason.")})


class EvidenceForm(BaseForm):
    files = MultipleFileField(label=_("Files"))
    caption = forms.CharField(label=_("What does it show? (optional)"), max_length=500,
                              required=False)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("files") and "files" not in self.errors:
            self.add_error("files", _("Choose at least one file."))
        return data


class EmptyForm(BaseForm):
    pass


class ExtensionRequestForm(BaseForm):
    days = forms.IntegerField(label=_("Extra working days"), min_value=1, max_value=7, initial=2)
    reason = forms.CharField(label=_("Why do you need more time?"), max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("Please give a reason.")})


class ExtensionDecideForm(BaseForm):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect,
                                 choices=[("grant", _("Grant more time")),
                                          ("refuse", _("Refuse"))])
    reason = forms.CharField(label=_("Comment (optional)"), max_length=5000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class EvidenceRequestForm(BaseForm):
    party = forms.ChoiceField(label=_("From whom"), widget=forms.RadioSelect,
                              choices=[("buyer", _("Buyer")), ("seller", _("Seller"))])
    message = forms.CharField(label=_("What evidence is needed?"), max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 2}),
                              error_messages={"required": _("Please say what is needed.")})
    days = forms.IntegerField(label=_("Working days to answer"), min_value=1, max_value=10,
                              initial=3)


class CaseFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False,
                        widget=forms.TextInput(attrs={"placeholder": "ODR-2026-000123 / DH100001",
                                                      "type": "search"}))
    state = forms.ChoiceField(label=_("State"), required=False)
    reason = forms.ChoiceField(label=_("Reason"), required=False)
    marketplace = forms.ChoiceField(label=_("Marketplace"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from cases.models import State

        any_ = [("", _("All"))]
        self.fields["state"].choices = any_ + list(State.choices)
        self.fields["reason"].choices = any_ + list(Reason.choices)
        self.fields["marketplace"].choices = any_ + list(
            Partner.objects.filter(kind=Partner.Kind.MARKETPLACE).values_list("code", "name"))


class StatsFilterForm(forms.Form):
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To date"), widget=forms.DateInput(attrs={"type": "date"}))
    marketplace = forms.ChoiceField(label=_("Marketplace"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["marketplace"].choices = [("", _("All"))] + list(
            Partner.objects.filter(kind=Partner.Kind.MARKETPLACE).values_list("code", "name"))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


# action name (as case_actions_for lists it) → form class
ACTION_FORMS: dict[str, type[BaseForm]] = {
    "accept_claim": ReasonForm,
    "make_offer": OfferForm,
    "contest": ContestForm,
    "accept_offer": ReasonForm,
    "counter_offer": OfferForm,
    "escalate": RequiredReasonForm,
    "withdraw": ReasonForm,
    "return_ship": ReturnShipForm,
    "confirm_return": ReasonForm,
    "dispute_return": RequiredReasonForm,
    "take": EmptyForm,
    "assign": AssignForm,
    "propose_settlement": OfferForm,
    "accept_settlement": EmptyForm,
    "decide": DecideForm,
    "appeal": AppealForm,
    "uphold": ReviewForm,
    "overturn": DecideForm,
    "add_evidence": EvidenceForm,
    "extension_request": ExtensionRequestForm,
    "extension_decide": ExtensionDecideForm,
    "evidence_request": EvidenceRequestForm,
}


def action_form(action: str, case: Case, user, data=None, files=None, prefix: str | None = None):
    """The form of one action, bound or not, with what it needs about the case."""
    cls = ACTION_FORMS[action]
    kwargs = {"data": data, "files": files, "prefix": prefix or action}
    if cls in (OfferForm, DecideForm):
        kwargs["case"] = case
    if cls is ContestForm:
        kwargs.update(case=case, user=user)
    return cls(**kwargs)
