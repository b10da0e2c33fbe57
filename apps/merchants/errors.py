from apps.common.errors import (
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
)


class MerchantNotFoundError(NotFoundError):
    default_message = "No such merchant."


class InvalidMerchantDataError(InvalidRequestError):
    default_code = "invalid_merchant"


class MerchantNotActiveError(StateError):
    """The merchant may not transact in this mode now: suspended or rejected, or not yet
    approved for live mode."""

    default_code = "merchant_not_active"
    default_message = "This account cannot take payments or create keys in this mode now."


class InvalidMerchantTransitionError(StateError):
    default_code = "invalid_merchant_transition"
    default_message = "The merchant's status does not allow this change."


class InvalidDocumentError(InvalidRequestError):
    default_code = "invalid_document"
    default_message = "The document is not an accepted file."


class DocumentNotFoundError(NotFoundError):
    default_message = "No such document."


class NotAMemberError(NotFoundError):
    default_message = "No such team member."


class TeamPermissionError(PermissionDeniedError):
    default_code = "team_permission_denied"
    default_message = "Your role does not allow this."


class LastOwnerError(StateError):
    default_code = "last_owner"
    default_message = "A merchant must keep at least one owner."


class InvitationInvalidError(InvalidRequestError):
    """Unknown, used, revoked or expired: deliberately one error, one message."""

    default_code = "invitation_invalid"
    default_message = "This invitation link is invalid or has expired."


class WebhookEndpointNotFoundError(NotFoundError):
    default_message = "No such webhook endpoint."


class InvalidWebhookEndpointError(InvalidRequestError):
    default_code = "invalid_webhook_endpoint"


class PriceNotConfiguredError(StateError):
    default_code = "price_not_configured"
    default_message = "No price is configured for this currency and payment method."
