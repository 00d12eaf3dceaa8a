from flask_wtf import FlaskForm

from portal.forms import NewPasswordMixin


class AcceptInvitationForm(NewPasswordMixin, FlaskForm):
    pass
