"""Sign in and out of the browser UI for every active user, not only staff (the admin's
login page admits staff only), and the account page where a user sees and revokes their
API token."""

from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from automl.accounts import throttle


class SignInRefusal:
    """An authentication form that says why a throttled sign-in was refused (Django's own
    message would claim the password was wrong)."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if wait := throttle.refused_wait(self.request):
                raise ValidationError(throttle.refusal(wait), code="throttled") from None
            raise


class SignInForm(SignInRefusal, AuthenticationForm):
    pass


class AdminSignInForm(SignInRefusal, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True
    next_page = reverse_lazy("job-pages")


class LogoutView(auth_views.LogoutView):
    # Django's LogoutView takes POST only, so a link or a prefetch cannot sign anyone out.
    next_page = reverse_lazy("login")


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    token = Token.objects.filter(user=request.user).first()
    return render(request, "accounts/account.html", {"token": token})


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    token, created = Token.objects.get_or_create(user=request.user)
    if created:
        messages.success(request, "New API token created.")
    return redirect("account-page")


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    if Token.objects.filter(user=request.user).delete()[0]:
        messages.success(request, "API token revoked: programs using it are refused from now.")
    return redirect("account-page")


page_urls = [
    path("", account, name="account-page"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("token/", token_create, name="account-token-page"),
    path("token/revoke/", token_revoke, name="account-token-revoke-page"),
]
