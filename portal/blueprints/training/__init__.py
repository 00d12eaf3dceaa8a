"""Training (セキュトレ): one home for the subject, four blueprints with the same files each.

- ``courses/``: course authoring, the operator's global courses and an organization's own (``/courses``);
- ``deliveries/``: deliveries (配信) and their results for administrators and managers (``/org/training``);
- ``quizzes/``: the learner's side, lessons, tests, results and certificates (``/me/training``);
- ``links/``: the public pages, a personal link's landing page and certificate verification.

Each blueprint keeps its name (``courses``, ``training``, ``quizzes``, ``training_links``), so its
endpoints and templates are named as before; ``create_app`` registers them with their URL prefixes.
"""

from portal.blueprints.training.courses import bp as courses_bp
from portal.blueprints.training.deliveries import bp as training_bp
from portal.blueprints.training.links import bp as training_links_bp
from portal.blueprints.training.quizzes import bp as quizzes_bp

__all__ = ["courses_bp", "quizzes_bp", "training_bp", "training_links_bp"]
