"""Property-company evaluation (信用评价, 红黑榜, DESIGN §4.5).

`score` is the pure function over plain records (db.evaluation.scoring); the policy file is read by
db.evaluation.policy; db.evaluation.records, .survey and .gather hold the rules over the database.
"""

from db.evaluation.policy import EvaluationPolicy, default_policy, half_of, load_policy
from db.evaluation.scoring import (
    Evaluation,
    Line,
    RecordEntry,
    Records,
    SurveyResponse,
    TicketCounts,
    TicketRecord,
    score,
)

__all__ = [
    "Evaluation",
    "EvaluationPolicy",
    "Line",
    "RecordEntry",
    "Records",
    "SurveyResponse",
    "TicketCounts",
    "TicketRecord",
    "default_policy",
    "half_of",
    "load_policy",
    "score",
]
