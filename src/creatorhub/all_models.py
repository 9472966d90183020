"""Every models module of the platform, imported so that `Base.metadata` knows every table.

Alembic's env.py and the models-match-migrations check (`creatorhub.migrate.pending_diff`) read
`Base.metadata` after importing this module. A table whose module is missing here is invisible
to both: autogenerate would propose dropping it and the check would not notice it drifting.

**When you add a module with a `models.py`, add its import below.**
"""

from __future__ import annotations

from creatorhub.audit import models as audit_models
from creatorhub.campaigns import models as campaigns_models
from creatorhub.campaigns.billing import models as campaign_billing_models
from creatorhub.campaigns.sales import models as campaign_sales_models
from creatorhub.campaigns.work import models as campaign_work_models
from creatorhub.db import Base
from creatorhub.giveaways import models as giveaways_models
from creatorhub.identity import models as identity_models
from creatorhub.kit import idempotency as idempotency_models
from creatorhub.ledger import models as ledger_models
from creatorhub.mail import models as mail_models
from creatorhub.marketplace import models as marketplace_models
from creatorhub.payments import models as payments_models
from creatorhub.social import models as social_models
from creatorhub.workspace import models as workspace_models

MODEL_MODULES = (
    identity_models,
    audit_models,
    mail_models,
    ledger_models,
    idempotency_models,
    payments_models,
    marketplace_models,
    social_models,
    workspace_models,
    campaigns_models,
    campaign_work_models,
    campaign_sales_models,
    campaign_billing_models,
    giveaways_models,
)

metadata = Base.metadata

__all__ = ["MODEL_MODULES", "metadata"]
